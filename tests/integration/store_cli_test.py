"""mxstore's admin CLI end to end: init, databases, circular logging, the
header and log listing, and `db check` naming a flipped table and log file
(offline, with the daemon stopped) with a non-zero exit."""

import glob
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from mxstore import Checks, Loader, Store  # noqa: E402

check = Checks()


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x20]))


def deliver(store, mailbox, n, prefix):
    loader = Loader(store, mailbox, threads=2, per_thread=n // 2, seconds=60, prefix=prefix)
    loader.start()
    loader.join(120)
    return loader


def main():
    mxstore = sys.argv[1]
    root = tempfile.mkdtemp(prefix="mxcli.")
    sdir = os.path.join(root, "store")
    store = Store(mxstore, sdir)
    check("init writes config, token (0600) and db01",
          os.path.exists(store.config) and oct(os.stat(os.path.join(sdir, "backup.token")).st_mode & 0o777) == "0o600"
          and os.path.exists(os.path.join(sdir, "data/databases/db01/header.json")))
    r = subprocess.run([mxstore, "init", sdir], capture_output=True, text=True)
    check("init refuses an existing store", r.returncode != 0 and "already" in r.stderr, r.stderr)
    r = store.cli("db", "list", check=False)
    check("admin commands without a daemon say so", r.returncode == 6 and "DAEMON_UNREACHABLE" in r.stderr, r.stderr)
    with open(store.config) as f:
        text = f.read().replace('commit_mode = "group"', 'commit_mode = "group"\nwrite_buffer_size = 131072')
    with open(store.config, "w") as f:
        f.write(text)
    store.start()
    sock = os.stat(os.path.join(sdir, "admin.sock"))
    check("admin socket is owner-only", oct(sock.st_mode & 0o777) == "0o600", oct(sock.st_mode))
    store.cli("db", "create", "db02")
    store.cli("mailbox", "create", "alice@example.test")
    store.cli("mailbox", "create", "bob@example.test", "--database", "db02")
    r = store.cli("mailbox", "create", "alice@example.test", check=False)
    check("duplicate mailbox is refused with MAILBOX_EXISTS", r.returncode != 0 and "MAILBOX_EXISTS" in r.stderr, r.stderr)
    r = store.cli("mailbox", "create", "carol@example.test", "--database", "nope", check=False)
    check("unknown database is refused with DATABASE_NOT_FOUND", "DATABASE_NOT_FOUND" in r.stderr, r.stderr)
    dbs = {d["name"]: d for d in store.cli("db", "list", json_out=True)}
    check("db list shows both databases mounted", set(dbs) == {"db01", "db02"} and all(d["mounted"] for d in dbs.values()), dbs)
    mbs = {m["name"]: m["database"] for m in store.cli("mailbox", "list", json_out=True)}
    check("mailbox list shows placement", mbs == {"alice@example.test": "db01", "bob@example.test": "db02"}, mbs)

    # Every listener delivers: IPv4, IPv6 (when the host has ::1) and the Unix socket.
    import smtplib
    for addr in store.listeners["lmtp"]:
        if addr.startswith("unix:"):
            conn = smtplib.LMTP(addr[5:])
        else:
            host, port = addr.rsplit(":", 1)
            conn = smtplib.LMTP(host.strip("[]"), int(port))
        refused = conn.sendmail("x@example.org", ["alice@example.test"], b"Subject: via " + addr.encode() + b"\r\n\r\nhi\r\n")
        conn.quit()
        check("delivery over " + addr, refused == {}, refused)
    loader = deliver(store, "alice@example.test", 300, "c")
    check("300 deliveries acknowledged", len(loader.acked) == 300, len(loader.acked))
    logs = store.cli("db", "logs", "db01", json_out=True)
    archived = [l for l in logs["logs"] if l["archived"]]
    check("circular logging off: obsolete logs are archived", len(archived) >= 2, logs)
    check("the archived logs and the live one form a contiguous chain", logs["gap"] == "", logs["gap"])
    hdr = store.cli("db", "header", "db01", json_out=True)
    live_max = max(l["last_seq"] for l in logs["logs"])
    check("header log range reaches the newest sequence", hdr["log_range"]["newest_seq"] >= live_max, (hdr, live_max))
    r = store.cli("db", "check", "db01", check=False)
    check("db check on the mounted database passes", r.returncode == 0, r.stdout + r.stderr)

    r = store.cli("db", "set", "db02", "--circular-logging", "on", check=False)
    check("db set --circular-logging on", r.returncode == 0, r.stderr)
    hdr2 = store.cli("db", "header", "db02", json_out=True)
    check("header records circular logging and a new chain", hdr2["circular_logging"] is True, hdr2)
    deliver(store, "bob@example.test", 300, "b")
    logs2 = store.cli("db", "logs", "db02", json_out=True)
    check("circular logging on: the archive stays empty",
          not [l for l in logs2["logs"] if l["archived"]], logs2)
    check("circular logging on: obsolete logs disappear", len(logs2["logs"]) <= 2, logs2)

    took = store.stop()
    check("daemon stops within 10 s", took < 10, took)
    r = store.cli("db", "header", "db01", json_out=True)
    check("db header works offline and says dismounted/clean", r["state"] == "dismounted" and r["clean_shutdown"], r)
    r = store.cli("db", "check", "db01", check=False)
    check("offline db check passes on a sound database", r.returncode == 0, r.stdout + r.stderr)

    rdir = os.path.join(sdir, "data/databases/db01/rocksdb")
    ssts = sorted(glob.glob(rdir + "/*.sst"), key=os.path.getsize)
    alogs = sorted(glob.glob(rdir + "/archive/*.log"), key=os.path.getsize)
    check("table files and archived logs exist", ssts and alogs, (ssts, alogs))
    sst, log = ssts[-1], alogs[-1]
    flip(sst, os.path.getsize(sst) // 3)
    flip(log, os.path.getsize(log) // 2)
    r = store.cli("db", "check", "db01", check=False)
    out = r.stdout + r.stderr
    check("db check exits non-zero on damage", r.returncode != 0, out)
    check("db check names the damaged table file", sst in out, out)
    check("db check names the damaged log file", log in out, out)
    check("db check says DATABASE_CORRUPT", "DATABASE_CORRUPT" in out, out)
    import shutil
    if not check.failures:
        shutil.rmtree(root, ignore_errors=True)
    print("%d failed" % len(check.failures))
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
