"""kill -9 of mxstore during a bounded LMTP delivery load, several rounds.

Must hold: after restart every message that got 250 is present byte-exact; a
message without a 250 is either wholly there or wholly absent (never partial,
never twice); the database says it recovered; check and the log chain pass."""

import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from mxstore import Checks, Loader, Store, message_id  # noqa: E402

ROUNDS = int(os.environ.get("MX_CRASH_ROUNDS", "4"))
check = Checks()


def main():
    mxstore = sys.argv[1]
    root = tempfile.mkdtemp(prefix="mxcrash.")
    store = Store(mxstore, os.path.join(root, "store"))
    # Small memtables so flushes and log archiving happen during the load.
    with open(store.config) as f:
        text = f.read()
    text = text.replace('commit_mode = "group"', 'commit_mode = "group"\nwrite_buffer_size = 262144')
    with open(store.config, "w") as f:
        f.write(text)
    store.start()
    store.cli("mailbox", "create", "alice@example.test")
    rng = random.Random(20261123)
    acked, attempted = {}, {}
    for rnd in range(ROUNDS):
        loader = Loader(store, "alice@example.test", threads=4, per_thread=400, seconds=20, prefix="r%d" % rnd)
        loader.start()
        time.sleep(rng.uniform(0.4, 1.5))
        store.kill9()
        check("round %d: clients stop after the kill" % rnd, loader.join(60))
        acked.update(loader.acked)
        attempted.update(loader.attempted)
        print("# round %d: %d acknowledged, %d attempted" % (rnd, len(loader.acked), len(loader.attempted)))
        store.start()
        hdr = store.cli("db", "header", "db01", json_out=True)
        check("round %d: header says the mount recovered a dirty database" % rnd,
              hdr.get("last_mount_recovered") is True, str(hdr))
        export = os.path.join(root, "export%d" % rnd)
        got = store.export("alice@example.test", export).get("INBOX", [])
        seen = {}
        partial = []
        for data in got:
            mid = message_id(data)
            seen[mid] = seen.get(mid, 0) + 1
            if mid not in attempted or attempted[mid] != data:
                partial.append(mid)
        missing = [m for m in acked if m not in seen]
        dups = [m for m, n in seen.items() if n > 1]
        check("round %d: every acknowledged message is present" % rnd, not missing,
              "%d missing, e.g. %s" % (len(missing), missing[:3]))
        check("round %d: every stored message is byte-exact as sent" % rnd, not partial,
              "%d differ, e.g. %s" % (len(partial), partial[:3]))
        check("round %d: no message stored twice" % rnd, not dups, str(dups[:3]))
        unacked_present = len([m for m in seen if m not in acked])
        print("# round %d: %d stored, %d of them without a 250 (wholly present)" % (rnd, len(got), unacked_present))
    r = store.cli("db", "check", "db01", check=False)
    check("db check passes after the crashes", r.returncode == 0, r.stdout + r.stderr)
    logs = store.cli("db", "logs", "db01", json_out=True)
    check("log chain is contiguous", logs.get("gap", "x") == "", str(logs.get("gap")))
    archived = [l for l in logs["logs"] if l["archived"]]
    check("obsolete logs were archived", len(archived) > 0, "no archived logs")
    return check.finish(store, root)


if __name__ == "__main__":
    sys.exit(main())
