#!/usr/bin/env python3
"""interimap against mxstore (issue 7, Must hold 1): interimap keeps two IMAP
servers in step with QRESYNC (RFC 7162) and refuses a server without it. Here
the "local" side is a private Dovecot the test starts, the "remote" side an
mxstore over implicit TLS verified with the store's CA.

1. First sync: the corpus (tests/support/mail_corpus: nested and non-ASCII
   folders, every system flag and custom keywords, 8-bit and binary MIME, a
   21 MB message, empty folders) goes from mxstore to the empty Dovecot.
   Both then hold the same folders, and per folder the same bodies
   (byte-exact), flags and internal dates (as instants).
2. Changes on both sides (flags set and cleared, expunges, new messages, a
   new folder), then a second sync: interimap learns mxstore's side from
   SELECT (QRESYNC ...) with VANISHED (EARLIER) and FETCH (CHANGEDSINCE), and
   writes Dovecot's changes to mxstore with STORE (UNCHANGEDSINCE) and
   APPEND. Both sides are equal again.
3. A third sync changes nothing.

usage: store_imap_interimap_test.py MXSTORE. Exit 77 when interimap or
Dovecot is missing (scripts/bootstrap installs interimap and dovecot-imapd)."""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from mxstore import Checks, Store  # noqa: E402
import mail_corpus  # noqa: E402
from dovecot import Dovecot, DOVECOT  # noqa: E402

MXSTORE = sys.argv[1]
if os.path.isdir(MXSTORE):
    MXSTORE = os.path.join(MXSTORE, "mxstore")
INTERIMAP = shutil.which("interimap")
if not INTERIMAP or not os.path.exists(DOVECOT):
    print("SKIP: interimap or dovecot is not installed (scripts/bootstrap installs interimap and dovecot-imapd)")
    sys.exit(77)

check = Checks()
root = tempfile.mkdtemp(prefix="mx-interimap-")
os.chmod(root, 0o711)
store = Store(MXSTORE, os.path.join(root, "store"))
store.enable_imap_tls()
store.start()
USER, PW = "alice@example.test", "alice-pw"
store.add_user(USER, PW)
dv = Dovecot(os.path.join(root, "dovecot"), separator="/")
dv.start()

corpus = mail_corpus.build(scale=0.1, big_mb=21, seed=3)
mx = store.imap(USER, PW)
mail_corpus.populate(mx, corpus, "/")

conf = os.path.join(root, "interimap.conf")
with open(conf, "w") as f:
    f.write("""database = {db}

[local]
type = imap
host = 127.0.0.1
port = {dport}
username = alice
password = {dpw}
STARTTLS = YES
SSL_CAfile = {dca}
SSL_hostname = localhost

[remote]
type = imaps
host = localhost
port = {mport}
username = {user}
password = {pw}
SSL_CAfile = {mca}
""".format(db=os.path.join(root, "interimap.db"), dport=dv.port, dpw="pw-alice", dca=dv.ca_file,
           mport=store.imap_tls_addr[1], user=USER, pw=PW, mca=store.ca_file))
os.chmod(conf, 0o600)


def sync(what):
    r = subprocess.run([INTERIMAP, "--config", conf], capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, XDG_DATA_HOME=root, HOME=root))
    check("interimap %s exits 0" % what, r.returncode == 0, (r.stdout + r.stderr)[-3000:])
    return r.stdout + r.stderr


def view(conn):
    """{folder: sorted [(body, flags, epoch)]}: UIDs differ between the
    servers, so messages are compared as a multiset per folder."""
    out = {}
    for folder, rows in mail_corpus.fetch_all(conn, "/").items():
        out[folder] = sorted((body, tuple(sorted(flags)), mail_corpus.internaldate_epoch(date))
                             for uid, flags, date, body in rows)
    return out


def compare(what):
    a, b = view(store.imap(USER, PW)), view(dv.imap("alice"))
    check("%s: the same folders" % what, sorted(a) == sorted(b), "mxstore %s\ndovecot %s" % (sorted(a), sorted(b)))
    bad = [f for f in a if f in b and a[f] != b[f]]
    detail = ""
    for f in bad[:3]:
        da, db = set(a[f]), set(b[f])
        detail += "%s: only in mxstore %s; only in dovecot %s\n" % (
            f, [(x[0][:60], x[1], x[2]) for x in da - db][:3], [(x[0][:60], x[1], x[2]) for x in db - da][:3])
    check("%s: per folder the same bodies, flags and internal dates" % what, not bad, detail)
    return a


try:
    sync("first run")
    first = compare("after the first sync")
    check("the first sync copied every message", sum(len(v) for v in first.values()) == len(corpus),
          "%d of %d" % (sum(len(v) for v in first.values()), len(corpus)))

    # Changes on both sides.
    mx = store.imap(USER, PW)
    mx.select("INBOX")
    typ, data = mx.uid("SEARCH", "ALL")
    uids = data[0].split()
    mx.uid("STORE", b",".join(uids[:3]), "+FLAGS", r"(\Flagged $Synced)")
    mx.uid("STORE", uids[3], "-FLAGS", r"(\Seen)")
    mx.uid("STORE", b",".join(uids[4:6]), "+FLAGS", r"(\Deleted)")
    mx.expunge()
    mx.append("INBOX", r"(\Seen)", '"20-Nov-2026 08:15:00 +0100"',
              b"From: a@example.org\r\nSubject: new on mxstore\r\nMessage-ID: <new-mx@x>\r\n\r\nhello\r\n")
    typ, data = mx.select("INBOX")
    inbox_on_mx = int(data[0])  # after the expunge (of the corpus's \\Deleted messages too) and the APPEND
    mx.create("Neu/Unterordner")
    mx.append("Neu/Unterordner", None, '"21-Nov-2026 09:00:00 -0500"',
              b"From: b@example.org\r\nSubject: in a new folder\r\n\r\nhi\r\n")
    d = dv.imap("alice")
    d.select("INBOX")
    typ, data = d.uid("SEARCH", "ALL")
    duids = data[0].split()
    d.uid("STORE", duids[-1], "+FLAGS", r"(\Answered Dovecot)")
    d.append("INBOX", None, '"22-Nov-2026 10:00:00 +0000"',
             b"From: c@example.org\r\nSubject: new on dovecot\r\nMessage-ID: <new-dv@x>\r\n\r\nbonjour\r\n")
    d.logout()

    sync("second run")
    second = compare("after changes on both sides and a second sync")
    inbox = second.get("INBOX", [])
    check("the second sync carried the expunges and both sides' new messages", len(inbox) == inbox_on_mx + 1,
          "%d messages in INBOX, mxstore had %d before the sync and Dovecot one new" % (len(inbox), inbox_on_mx))
    check("the expunged messages are gone on both sides", len(inbox) < len(first["INBOX"]) + 2)
    check("the second sync carried Dovecot's flag and message to mxstore",
          any(b"new on dovecot" in body for body, _, _ in inbox) and any("Dovecot" in fl for _, fl, _ in inbox))
    check("the second sync carried mxstore's new folder", "Neu/Unterordner" in second, sorted(second))

    out = sync("third run")
    compare("after a third sync")
    check("a third sync changes nothing", all(w not in out for w in ("Added", "Updated", "Expunged", "Created")),
          out[-2000:])
finally:
    dv.stop()
sys.exit(check.finish(store, root))
