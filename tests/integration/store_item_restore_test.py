#!/usr/bin/env python3
"""Item restore from a recovery database (issue 7, Must hold 7), end to end
with real processes: mxstore, mxvault and python's imaplib.

Messages with flags, keywords and dates in several zones are appended over
IMAP (INBOX and a nested non-ASCII folder); a full backup is taken; messages
are deleted from the live mailbox (one folder emptied); the backup is
restored, recovered and attached as a recovery database; then
`mxstore mailbox restore`:

- --dry-run shows what would come back and changes nothing;
- brings the deleted messages back byte-exact with flags, keywords and
  internal dates (zone included), skipping what is still there;
- an IMAP session that stayed selected sees them on its next NOOP;
- a second run adds nothing;
- filters (--uid, --subject, --since/--before) and --into/--to place exactly
  the selected messages;
- a wrong database or folder is a named error.

usage: store_item_restore_test.py MXSTORE (mxvault beside it)"""

import imaplib
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from mxstore import Checks, Store  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/bin"
if os.path.isfile(BIN):
    BIN = os.path.dirname(BIN)
MXSTORE = os.path.join(BIN, "mxstore")
MXVAULT = os.path.join(BIN, "mxvault")

check = Checks()
root = tempfile.mkdtemp(prefix="mx-item-restore-")


def password_file(name, secret):
    path = os.path.join(root, name)
    with open(path, "w") as f:
        f.write(secret + "\n")
    os.chmod(path, 0o600)
    return path


store = Store(MXSTORE, os.path.join(root, "store"))
store.start()
for user in ("alice@example.test", "bob@example.test"):
    store.add_user(user, "pw-" + user)
repo = os.path.join(root, "repo")
ENV = dict(os.environ, MXVAULT_REPOSITORY=repo, MXVAULT_PASSWORD_FILE=password_file("repo-pw", "repo-secret"))
subprocess.run([MXVAULT, "init"], env=ENV, check=True, capture_output=True, timeout=60)

FOLDER = "Projects/&ANw-bersicht"  # "Projects/Übersicht" in modified UTF-7
ZONES = ["+0000", "-0700", "+0530", "+0100", "-0300"]


def connect(user="alice@example.test"):
    return store.imap(user, "pw-" + user)


def message(i, folder):
    body = ("From: Sender %d <s%d@example.org>\r\nTo: alice@example.test\r\nSubject: item-%d in %s\r\n"
            "Message-ID: <item%d@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" % (i, i, i, folder, i))
    return body.encode() + ("Grüße %d\r\n" % i).encode() + b"z" * (300 * i) + b"\r\n"


def snapshot(m, folder):
    """{Message-ID: (bytes, flags set, internal date)} of a folder."""
    typ, data = m.select('"%s"' % folder)
    out = {}
    if typ != "OK" or data[0] == b"0":
        return out
    typ, data = m.fetch("1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta, body = item
        mid = re.search(rb"Message-ID: (<[^>]+>)", body).group(1).decode()
        flags = set(re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode().split())
        date = re.search(rb'INTERNALDATE "([^"]+)"', meta).group(1).decode()
        out[mid] = (body, flags, date)
    return out


def restore(*args):
    r = subprocess.run([MXSTORE, "--config", store.config, "--json", "mailbox", "restore"] + list(args),
                       capture_output=True, text=True, timeout=120)
    return r, (json.loads(r.stdout) if r.returncode == 0 else None)


try:
    m = connect()
    m.create(FOLDER)
    n = 0
    for folder, count in (("INBOX", 8), (FOLDER, 4)):
        for k in range(count):
            n += 1
            flags = ["\\Seen", "\\Answered \\Seen", "\\Flagged $Work", "", "\\Draft NonJunk"][n % 5]
            date = '"%02d-Nov-2026 1%d:%02d:07 %s"' % (1 + n, n % 10, n, ZONES[n % len(ZONES)])
            typ, _ = m.append('"%s"' % folder, "(%s)" % flags if flags else None, date, message(n, folder))
            assert typ == "OK"
    before = {"INBOX": snapshot(m, "INBOX"), FOLDER: snapshot(m, FOLDER)}
    check("12 messages appended with flags, keywords and zones", len(before["INBOX"]) == 8 and len(before[FOLDER]) == 4)

    r = subprocess.run([MXVAULT, "--json", "backup", "unix://%s/db01" % store.unix_backup(), "--type", "full",
                        "--token-file", store.token_file], env=ENV, capture_output=True, text=True, timeout=300)
    check("full backup of the live database", r.returncode == 0, r.stderr[-800:])
    snap = json.loads(r.stdout.strip().splitlines()[-1])["snapshot_id"] if r.returncode == 0 else "latest"

    # Losses: three INBOX messages expunged, the nested folder emptied; one
    # surviving message changes its flags afterwards (it must not come back twice).
    m.select("INBOX")
    m.store("2,5,7", "+FLAGS", "(\\Deleted)")
    m.expunge()
    m.store("1", "+FLAGS", "(\\Flagged)")
    m.select('"%s"' % FOLDER)
    m.store("1:*", "+FLAGS", "(\\Deleted)")
    m.expunge()
    m.logout()
    watcher = connect()
    typ, data = watcher.select("INBOX")
    check("live INBOX has 5 left, the folder none", data == [b"5"] and not snapshot(connect(), FOLDER), data)
    watcher.select("INBOX")

    data_dir = os.path.join(store.root, "data")
    target = os.path.join(data_dir, "restored-db01")
    r = subprocess.run([MXVAULT, "restore", snap, "--target", target], env=ENV, capture_output=True, text=True, timeout=300)
    check("restore the full backup beside the live database", r.returncode == 0, r.stderr[-800:])
    r = subprocess.run([MXSTORE, "db", "recover", target], capture_output=True, text=True, timeout=120)
    check("recover it", r.returncode == 0, r.stderr[-800:])
    r = store.cli("db", "attach", target, "--as", "recov", "--recovery", check=False)
    check("attach it as a recovery database", r.returncode == 0 and "recovery database" in r.stdout, r.stdout + r.stderr)
    r = subprocess.run([MXSTORE, "--config", store.config, "mailbox", "list"], capture_output=True, text=True)
    check("the recovery database takes no mailbox routing (alice still lives in db01)",
          "alice@example.test" in r.stdout and "recov" not in r.stdout, r.stdout)

    r, rep = restore("alice@example.test", "--from-database", "recov", "--dry-run")
    check("--dry-run: 7 would come back, 5 are there (%s)" % ((rep["restored"], rep["skipped"]) if rep else None,),
          rep is not None and rep["restored"] == 7 and rep["skipped"] == 5, r.stderr)
    check("--dry-run changed nothing", len(snapshot(connect(), "INBOX")) == 5)

    r, rep = restore("alice@example.test", "--from-database", "recov")
    check("restore: 7 messages back, 5 already there (%s)" % ((rep["restored"], rep["skipped"]) if rep else None,),
          rep is not None and rep["restored"] == 7 and rep["skipped"] == 5, r.stderr)
    typ, _ = watcher.noop()
    exists = watcher.untagged_responses.get("EXISTS", [])
    check("the session that stayed selected hears EXISTS 8 on NOOP", exists[-1:] == [b"8"], watcher.untagged_responses)
    after = {"INBOX": snapshot(connect(), "INBOX"), FOLDER: snapshot(connect(), FOLDER)}
    for folder in ("INBOX", FOLDER):
        for mid, (body, flags, date) in before[folder].items():
            got = after[folder].get(mid)
            if mid == "<item1@example.org>":
                continue  # survived, with a flag added since the backup
            check("%s %s back byte-exact, flags %s and date %s kept" % (folder, mid, sorted(flags), date),
                  got is not None and got[0] == body and got[1] == flags and got[2] == date,
                  got and (got[1], got[2], len(got[0]), len(body)))
    check("the surviving message was not duplicated and keeps its newer flag",
          len(after["INBOX"]) == 8 and "\\Flagged" in after["INBOX"]["<item1@example.org>"][1])

    r, rep = restore("alice@example.test", "--from-database", "recov")
    check("a second run adds nothing (%s)" % ((rep["restored"], rep["skipped"]) if rep else None,),
          rep is not None and rep["restored"] == 0 and rep["skipped"] == 12, r.stderr)
    check("and the folders still hold 8 and 4", len(snapshot(connect(), "INBOX")) == 8 and len(snapshot(connect(), FOLDER)) == 4)

    # Filters and placement.
    r, rep = restore("alice@example.test", "--from-database", "recov", "--folder", "INBOX", "--subject", "ITEM-3 ",
                     "--into", "Recovered")
    check("--subject (any case) --into: exactly item-3, under Recovered/INBOX",
          rep is not None and rep["restored"] == 1 and rep["items"][0]["folder"] == "Recovered/INBOX", (r.stderr, rep))
    got = snapshot(connect(), "Recovered/INBOX")
    check("visible over IMAP in Recovered/INBOX", list(got) == ["<item3@example.org>"], list(got))
    r, rep = restore("alice@example.test", "--from-database", "recov", "--folder", "INBOX", "--uid", "4,6",
                     "--to", "bob@example.test")
    check("--uid 4,6 --to bob: two messages into bob's INBOX", rep is not None and rep["restored"] == 2, r.stderr)
    bob = snapshot(connect("bob@example.test"), "INBOX")
    check("bob got exactly those two, byte-exact",
          sorted(bob) == ["<item4@example.org>", "<item6@example.org>"] and
          all(bob[k][0] == before["INBOX"][k][0] for k in bob), sorted(bob))
    r, rep = restore("alice@example.test", "--from-database", "recov", "--since", "2026-11-05", "--before", "2026-11-07",
                     "--into", "ByDate", "--dry-run")
    subjects = sorted(i["subject"] for i in rep["items"]) if rep else []
    check("--since/--before select by internal date (UTC days)", rep is not None and rep["restored"] == 2 and
          subjects == ["item-4 in INBOX", "item-5 in INBOX"], subjects)

    # Named errors.
    r, _ = restore("alice@example.test", "--from-database", "nope")
    check("an unknown database: DATABASE_NOT_FOUND", r.returncode != 0 and "DATABASE_NOT_FOUND" in r.stderr, r.stderr)
    r, _ = restore("alice@example.test", "--from-database", "recov", "--folder", "NoSuch")
    check("an unknown folder: FOLDER_NOT_FOUND", r.returncode != 0 and "FOLDER_NOT_FOUND" in r.stderr, r.stderr)
    r, _ = restore("alice@example.test", "--from-database", "db01")
    check("restoring from the live database itself is refused", r.returncode != 0 and "recovery database" in r.stderr,
          r.stderr)
    r, _ = restore("alice@example.test", "--from-database", "recov", "--since", "yesterday")
    check("a malformed date is a usage error", r.returncode != 0 and "YYYY-MM-DD" in r.stderr, r.stderr)

    # Deleting a mailbox through the admin socket, then creating it again.
    store.cli("mailbox", "delete", "bob@example.test")
    store.cli("mailbox", "create", "bob@example.test")
    check("a deleted and re-created mailbox starts empty", snapshot(connect("bob@example.test"), "INBOX") == {})
except BaseException:
    store.stop()
    raise
sys.exit(check.finish(store, root))
