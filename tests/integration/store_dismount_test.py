"""Dismount under a bounded LMTP delivery load, through the admin CLI.

Must hold: in-flight deliveries either complete (250) or get 4xx (never 5xx,
never a dropped connection); dismount returns within its bound; mounting again
works and delivery resumes; every acknowledged message is stored exactly once;
the daemon stops cleanly afterwards (no thread left waiting)."""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from mxstore import Checks, Loader, Store, message_id  # noqa: E402

BOUND_MS = 5000
check = Checks()


def main():
    root = tempfile.mkdtemp(prefix="mxdismount.")
    store = Store(sys.argv[1], os.path.join(root, "store"))
    with open(store.config) as f:
        text = f.read().replace("dismount_timeout_ms = 10000", "dismount_timeout_ms = %d" % BOUND_MS)
    with open(store.config, "w") as f:
        f.write(text)
    store.start()
    store.cli("mailbox", "create", "alice@example.test")
    loader = Loader(store, "alice@example.test", threads=6, per_thread=100000, seconds=25, prefix="d")
    loader.start()
    time.sleep(1.0)
    before = len(loader.acked)
    t0 = time.time()
    r = store.cli("db", "dismount", "db01", check=False)
    took = time.time() - t0
    check("dismount under load succeeds", r.returncode == 0, r.stdout + r.stderr)
    check("dismount returns within its bound (%d ms)" % BOUND_MS, took < BOUND_MS / 1000.0 + 1.0, "%.2f s" % took)
    print("# dismount took %.3f s with %d deliveries acknowledged before it" % (took, before))
    hdr = store.cli("db", "header", "db01", json_out=True)
    check("header says dismounted and clean", hdr["state"] == "dismounted" and hdr["clean_shutdown"], str(hdr))
    time.sleep(1.0)
    refused_while_down = len(loader.refusals)
    r = store.cli("db", "mount", "db01", check=False)
    check("mount again works", r.returncode == 0, r.stdout + r.stderr)
    acked_at_mount = len(loader.acked)
    time.sleep(1.5)
    check("delivery resumes after the mount", len(loader.acked) > acked_at_mount,
          "%d then %d" % (acked_at_mount, len(loader.acked)))
    check("clients stop", loader.stop())
    codes = sorted(set(c for c, _ in loader.refusals))
    check("deliveries refused while dismounted got 4xx only", all(400 <= c < 500 for c in codes), str(codes))
    check("some deliveries were refused while dismounted", refused_while_down > 0, "none refused")
    check("no delivery saw a dropped connection or protocol error", not loader.errors, str(loader.errors[:3]))
    got = store.export("alice@example.test", os.path.join(root, "export")).get("INBOX", [])
    ids = [message_id(d) for d in got]
    check("every acknowledged message is stored exactly once",
          sorted(ids) == sorted(loader.acked.keys()),
          "stored %d, acknowledged %d" % (len(ids), len(loader.acked)))
    check("stored messages are byte-exact", all(loader.acked.get(message_id(d)) == d for d in got))
    print("# %d acknowledged, %d refused (codes %s)" % (len(loader.acked), len(loader.refusals), codes))
    return check.finish(store, root)


if __name__ == "__main__":
    sys.exit(main())
