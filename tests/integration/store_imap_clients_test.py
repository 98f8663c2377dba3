#!/usr/bin/env python3
"""Real IMAP clients against mxstore (issue 7, Must hold 1, in part): mbsync
(isync) pulling and pushing over STARTTLS, and offlineimap pulling over
implicit TLS, each with the store's CA, on a corpus with nested and
non-ASCII folder names, every system flag, 8-bit and base64 MIME, a 20 MB
message and an empty folder. Each client must end with the messages the store
holds, byte-exact, with their flags.

usage: store_imap_clients_test.py MXSTORE. Exit 77 when mbsync or
offlineimap is missing (scripts/bootstrap installs isync and offlineimap3)."""

import base64
import email.utils
import imaplib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from mxstore import Checks, Store  # noqa: E402

MXSTORE = sys.argv[1]
if os.path.isdir(MXSTORE):
    MXSTORE = os.path.join(MXSTORE, "mxstore")
MBSYNC = shutil.which("mbsync")
OFFLINEIMAP = shutil.which("offlineimap")
if not MBSYNC or not OFFLINEIMAP:
    print("SKIP: mbsync or offlineimap is not installed (scripts/bootstrap installs isync and offlineimap3)")
    sys.exit(77)

check = Checks()
root = tempfile.mkdtemp(prefix="mx-imap-clients-")
os.chmod(root, 0o711)
store = Store(MXSTORE, os.path.join(root, "store"))
store.enable_imap_tls()
store.start()
USER, PW = "alice@example.test", "alice-pw"
pwfile = store.add_user(USER, PW)
rng = random.Random(7)

# Folder names: nested and non-ASCII (modified UTF-7 on the wire).
FOLDERS = ["INBOX", "Projects", "Projects/&ANw-bersicht", "Archive/2026/&ZeVnLIqe-", "Empty"]
SYSTEM = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"]


def message(i, kind):
    date = email.utils.format_datetime(email.utils.localtime())
    head = ("From: Sender %d <s%d@example.org>\r\nTo: %s\r\nSubject: corpus %d\r\nDate: %s\r\n"
            "Message-ID: <corpus%d@example.org>\r\nMIME-Version: 1.0\r\n" % (i, i, USER, i, date, i))
    if kind == "8bit":
        return (head + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").encode() + \
            "Grüße aus Köln — %d\r\n".encode() % i + b"line\r\n" * rng.randrange(5, 50)
    if kind == "base64":
        blob = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1000, 30000)))
        b64 = base64.encodebytes(blob).replace(b"\n", b"\r\n")
        return (head + 'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\nContent-Type: text/plain\r\n\r\n'
                "see attached\r\n--b%d\r\nContent-Type: application/octet-stream\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n" % (i, i, i)).encode() + b64 + b"--b%d--\r\n" % i
    if kind == "big":
        line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n"
        return (head + "Content-Type: text/plain\r\n\r\n").encode() + line * (20 * 1024 * 1024 // len(line) + 1)
    return (head + "Content-Type: text/plain\r\n\r\nplain %d\r\n" % i).encode()


imap = store.imap(USER, PW)
for f in FOLDERS[1:]:
    typ, data = imap.create(f)
    assert typ == "OK", (f, data)
n = 0
for folder in FOLDERS:
    if folder == "Empty":
        continue
    for k in range(6 if folder == "INBOX" else 3):
        n += 1
        kind = ["plain", "8bit", "base64"][n % 3]
        if folder == "INBOX" and k == 0:
            kind = "big"
        flags = [SYSTEM[n % 5]] if n % 4 else [SYSTEM[n % 5], SYSTEM[(n + 1) % 5]]
        if "\\Deleted" in flags:
            flags.remove("\\Deleted")  # a deleted mark is for expunge; keep the corpus stable
        typ, data = imap.append('"%s"' % folder, "(%s)" % " ".join(flags) if flags else None,
                                imaplib.Time2Internaldate(1700000000 + n * 3600), message(n, kind))
        assert typ == "OK", data


def server_view():
    """{folder: {Message-ID: (bytes, set of system flags)}} as the store serves it."""
    out = {}
    for folder in FOLDERS:
        typ, data = imap.select('"%s"' % folder, readonly=True)
        msgs = {}
        if data[0] != b"0":
            typ, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[])")
            for item in data:
                if isinstance(item, tuple):
                    mid = re.search(rb"Message-ID: (<[^>]+>)", item[1]).group(1).decode()
                    flags = set(re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split())
                    msgs[mid] = (item[1], flags & set(SYSTEM))
        out[folder] = msgs
    return out


MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}


def local_names(folder):
    """The directory a client may give a server folder: as on the wire
    (modified UTF-7) or decoded to UTF-8."""
    return [folder, folder.replace("&ANw-", "\u00dc").replace("&ZeVnLIqe-", "\u65e5\u672c\u8a9e")]


def maildir_view(top):
    """The same shape from a Maildir tree."""
    out = {}
    for folder in FOLDERS:
        d = next((os.path.join(top, n) for n in local_names(folder) if os.path.isdir(os.path.join(top, n))),
                 os.path.join(top, folder))
        msgs = {}
        for sub in ("cur", "new"):
            p = os.path.join(d, sub)
            for fn in (os.listdir(p) if os.path.isdir(p) else []):
                with open(os.path.join(p, fn), "rb") as fh:
                    data = fh.read()
                m = re.search(rb"Message-ID: (<[^>]+>)", data)
                if not m:
                    continue
                info = fn.split(":2,")[1] if ":2," in fn else ""
                msgs[m.group(1).decode()] = (data, {MAILDIR_FLAGS[c] for c in info if c in MAILDIR_FLAGS})
        out[folder] = msgs if os.path.isdir(d) else None
    return out


def lf(data):
    """mbsync and offlineimap keep Maildir files with LF line ends (the
    Maildir convention) and mbsync adds its X-TUID tracking header to what it
    stores; the store keeps CRLF. Byte-exact up to those two."""
    return re.sub(rb"X-TUID: [^\r\n]*\r?\n", b"", data).replace(b"\r\n", b"\n")


def compare(tool, got, want):
    for folder in FOLDERS:
        g, w = got.get(folder), want[folder]
        if g is None:
            check("%s: folder %s exists locally" % (tool, folder), False, sorted(got))
            continue
        same = set(g) == set(w) and all(lf(g[k][0]) == lf(w[k][0]) for k in w)
        flags = all(g[k][1] == w[k][1] for k in w if k in g)
        check("%s: %s holds the same %d messages byte-exact (line ends aside), flags equal" % (tool, folder, len(w)),
              same and flags, (sorted(set(g) ^ set(w)), [(k, g[k][1], w[k][1]) for k in w if k in g and g[k][1] != w[k][1]],
                               [(k, len(g[k][0]), len(w[k][0])) for k in w if k in g and lf(g[k][0]) != lf(w[k][0])][:3]))


try:
    want = server_view()
    check("corpus: %d messages in %d folders, one of 20 MB, one folder empty" %
          (sum(len(v) for v in want.values()), len(FOLDERS)),
          any(len(b) >= 20 * 1024 * 1024 for v in want.values() for b, _ in v.values()) and want["Empty"] == {})

    # ---- mbsync: pull over STARTTLS ----
    # "localhost": mbsync checks DNS names only, and the store's certificate names localhost.
    mdir = os.path.join(root, "mbsync")
    os.makedirs(mdir)
    rc = os.path.join(root, "mbsyncrc")
    with open(rc, "w") as f:
        f.write("""IMAPAccount mx
Host {host}
Port {port}
User {user}
PassCmd "cat {pw}"
SSLType STARTTLS
CertificateFile {ca}

IMAPStore mx-remote
Account mx

MaildirStore mx-local
Path {d}/
Inbox {d}/INBOX
SubFolders Verbatim

Channel mx
Far :mx-remote:
Near :mx-local:
Patterns *
Create Both
Sync All
SyncState *
""".format(host="localhost", port=store.imap_addr[1], user=USER, pw=pwfile, ca=store.ca_file, d=mdir))
    r = subprocess.run([MBSYNC, "-c", rc, "-a"], capture_output=True, text=True, timeout=300)
    check("mbsync pulls the mailbox over STARTTLS", r.returncode == 0, r.stdout[-1500:] + r.stderr[-1500:])
    compare("mbsync", maildir_view(mdir), want)

    # ---- mbsync: push a new message and a flag change back ----
    inbox_new = os.path.join(mdir, "INBOX", "new")
    pushed = message(999, "8bit")
    with open(os.path.join(inbox_new, "1700000000.push.host"), "wb") as f:
        f.write(pushed)
    cur = os.path.join(mdir, "INBOX", "cur")
    victim = next(fn for fn in sorted(os.listdir(cur)) if "F" not in fn.split(":2,")[1])
    base_name, info = victim.split(":2,")
    os.rename(os.path.join(cur, victim), os.path.join(cur, base_name + ":2," + "".join(sorted(info + "F"))))
    with open(os.path.join(cur, base_name + ":2," + "".join(sorted(info + "F"))), "rb") as f:
        victim_id = re.search(rb"Message-ID: (<[^>]+>)", f.read()).group(1).decode()
    r = subprocess.run([MBSYNC, "-c", rc, "-a"], capture_output=True, text=True, timeout=300)
    check("mbsync pushes", r.returncode == 0, r.stdout[-1500:] + r.stderr[-1500:])
    now = server_view()
    got = now["INBOX"].get("<corpus999@example.org>", (b"",))[0]
    # mbsync marks what it uploads with an X-TUID header (to find its UID).
    got_plain = re.sub(rb"X-TUID: [^\r\n]*\r\n", b"", got)
    check("the pushed message is in the store's INBOX (byte-exact but for mbsync's X-TUID header)",
          got_plain == pushed, (len(got_plain), len(pushed), got[:300]))
    check("the flag set in the Maildir reached the store", "\\Flagged" in now["INBOX"][victim_id][1], now["INBOX"][victim_id][1])
    want = now

    # ---- offlineimap: pull over implicit TLS ----
    odir = os.path.join(root, "offlineimap")
    orc = os.path.join(root, "offlineimaprc")
    with open(orc, "w") as f:
        f.write("""[general]
accounts = mx
metadata = {w}/offlineimap-meta

[Account mx]
localrepository = mx-local
remoterepository = mx-remote

[Repository mx-local]
type = Maildir
localfolders = {d}
sep = /

[Repository mx-remote]
type = IMAP
remotehost = {host}
remoteport = {port}
remoteuser = {user}
remotepassfile = {pw}
ssl = yes
starttls = no
sslcacertfile = {ca}
readonly = True
""".format(w=root, d=odir, host="localhost", port=store.imap_tls_addr[1], user=USER, pw=pwfile,
           ca=store.ca_file))
    r = subprocess.run([OFFLINEIMAP, "-c", orc, "-o", "-u", "quiet"], capture_output=True, text=True, timeout=300)
    check("offlineimap pulls the mailbox over implicit TLS", r.returncode == 0 and "ERROR" not in r.stderr,
          r.stdout[-1500:] + r.stderr[-1500:])
    compare("offlineimap", maildir_view(odir), want)
except BaseException:
    store.stop()
    raise
sys.exit(check.finish(store, root))
