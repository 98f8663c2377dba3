#!/usr/bin/env python3
"""Real IMAP clients against mxstore (issue 7, Must hold 1): each one ends
with the messages the store holds, byte-exact, and with the flags and dates
the client keeps. One corpus: nested and non-ASCII folder names, every system
flag (\\Deleted included, never expunged) and custom keywords, 8-bit and
base64 MIME, a 20 MB message and an empty folder.

    client          transport             compared
    mbsync (isync)  STARTTLS, pull+push   messages, system flags, dates (CopyArrivalDate)
    offlineimap     implicit TLS, pull    messages, system flags (keeps no date)
    getmail6        implicit TLS, pull    messages per folder (keeps no flag, no date)
    doveadm backup  implicit TLS, pull    (Dovecot's dsync through imapc into a private Dovecot)
                                          folders, messages, flags and keywords, dates
    fetchmail       STARTTLS, pull        messages per folder; its \\Seen marking on the store

Every client verifies the store's certificate with the store's CA. Clients
that write Maildir files keep LF line ends (the Maildir convention); the
store keeps CRLF, so those compare with line ends aside (lf()); Dovecot and
fetchmail are set to keep CRLF and compare exactly. What a client adds to a
message is stripped only as that client documents it, in one named function
per client.

usage: store_imap_clients_test.py MXSTORE. Exit 77 when a client is missing
(scripts/bootstrap installs isync, offlineimap3, getmail6, fetchmail and
dovecot-imapd)."""

import base64
import collections
import email.header
import email.utils
import glob
import imaplib
import os
import pwd
import random
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from mxstore import Checks, Store  # noqa: E402
import mail_corpus  # noqa: E402
from dovecot import DOVEADM, DOVECOT, Dovecot  # noqa: E402

MXSTORE = sys.argv[1]
if os.path.isdir(MXSTORE):
    MXSTORE = os.path.join(MXSTORE, "mxstore")
MBSYNC = shutil.which("mbsync")
OFFLINEIMAP = shutil.which("offlineimap")
GETMAIL = shutil.which("getmail")
FETCHMAIL = shutil.which("fetchmail")
missing = [n for n, p in (("mbsync", MBSYNC), ("offlineimap", OFFLINEIMAP), ("getmail", GETMAIL),
                          ("fetchmail", FETCHMAIL), ("dovecot", DOVECOT), ("doveadm", DOVEADM))
           if not p or not os.access(p, os.X_OK)]
if missing:
    print("SKIP: %s not installed (scripts/bootstrap installs isync, offlineimap3, getmail6, fetchmail and "
          "dovecot-imapd)" % ", ".join(missing))
    sys.exit(77)

check = Checks()
root = tempfile.mkdtemp(prefix="mx-imap-clients-")
os.chmod(root, 0o711)  # Dovecot's mail user and getmail's delivery user (nobody, when run as root) traverse it
store = Store(MXSTORE, os.path.join(root, "store"))
store.enable_imap_tls()
store.start()
USER, PW = "alice@example.test", "alice-pw"
pwfile = store.add_user(USER, PW)
rng = random.Random(7)
RUN = 300  # seconds any one client run may take

# Folder names: nested and non-ASCII (modified UTF-7 on the wire).
FOLDERS = ["INBOX", "Projects", "Projects/&ANw-bersicht", "Archive/2026/&ZeVnLIqe-", "Empty"]
SYSTEM = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"]
KEYWORDS = ["$Forwarded", "$Junk", "Work", "$label1"]


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
imap.sock.settimeout(RUN)
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
        # One or two system flags each (\Deleted on messages 3, 8, 12 and 13),
        # none at all on 7 and 14, and keywords on every third. \Deleted stays:
        # nothing here expunges (mbsync's Expunge is None by default,
        # offlineimap is read-only, getmail EXAMINEs, fetchmail keeps, dsync
        # writes only to Dovecot), and the end checks every marked message is
        # still there.
        flags = [SYSTEM[n % 5]] if n % 4 else [SYSTEM[n % 5], SYSTEM[(n + 1) % 5]]
        if n % 7 == 0:
            flags = []
        if n % 3 == 0:
            flags += KEYWORDS[(n // 3) % 4:(n // 3) % 4 + 1 + (n == 6)]
        typ, data = imap.append('"%s"' % folder, "(%s)" % " ".join(flags) if flags else None,
                                imaplib.Time2Internaldate(1700000000 + n * 3600), message(n, kind))
        assert typ == "OK", data

Msg = collections.namedtuple("Msg", "data flags keywords date")


def message_id(data):
    m = re.search(rb"Message-ID: (<[^>]+>)", data)
    return m.group(1).decode() if m else None


def server_view():
    """{folder: {Message-ID: Msg}} of every selectable folder as the store
    serves it (EXAMINE and BODY.PEEK[], so nothing changes): folder names in
    UTF-8 with "/" as separator; flags are the system flags, keywords the
    rest (\\Recent left out); date is INTERNALDATE in seconds since the epoch."""
    out = {}
    for folder, rows in mail_corpus.fetch_all(imap, "/").items():
        out[folder] = {message_id(body): Msg(body, flags & set(SYSTEM), flags - set(SYSTEM),
                                             mail_corpus.internaldate_epoch(date))
                       for uid, flags, date, body in rows}
    return out


def count(view):
    return sum(len(v) for v in view.values())


MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}


def local_dir(top, folder):
    """The directory a client gave a server folder (UTF-8 name, "/"
    separator): named as on the wire (modified UTF-7) or in UTF-8."""
    for name in (folder, mail_corpus.utf7_encode(folder)):
        if os.path.isdir(os.path.join(top, name)):
            return os.path.join(top, name)
    return None


def maildir_view(top, folders):
    """{folder: {Message-ID: Msg}} from a Maildir tree (None for a folder
    without a directory); date is the file's mtime, keywords are not read."""
    out = {}
    for folder in folders:
        d = local_dir(top, folder)
        if d is None:
            out[folder] = None
            continue
        msgs = {}
        for sub in ("cur", "new"):
            p = os.path.join(d, sub)
            for fn in (os.listdir(p) if os.path.isdir(p) else []):
                with open(os.path.join(p, fn), "rb") as fh:
                    data = fh.read()
                mid = message_id(data)
                if not mid:
                    continue
                info = fn.split(":2,")[1] if ":2," in fn else ""
                msgs[mid] = Msg(data, {MAILDIR_FLAGS[c] for c in info if c in MAILDIR_FLAGS}, None,
                                int(os.stat(os.path.join(p, fn)).st_mtime))
        out[folder] = msgs
    return out


def lf(data):
    """mbsync, offlineimap and getmail keep Maildir files with LF line ends
    (the Maildir convention) and mbsync adds its X-TUID tracking header to
    what it stores; the store keeps CRLF. Byte-exact up to those two."""
    return re.sub(rb"X-TUID: [^\r\n]*\r?\n", b"", data).replace(b"\r\n", b"\n")


def compare(tool, got, want, same=lf, flags=True, keywords=False, dates=False):
    """One check per folder of `want`: `got` holds the same messages
    (same(got) == same(want) for each), and, as asked, the same system flags,
    keywords and dates."""
    for folder, w in sorted(want.items()):
        g = got.get(folder)
        if g is None:
            check("%s: folder %s exists locally" % (tool, folder), False, sorted(got))
            continue
        both = [k for k in w if k in g]
        bad_body = [(k, len(g[k].data), len(w[k].data)) for k in both if same(g[k].data) != same(w[k].data)]
        bad_flags = [(k, g[k].flags, w[k].flags) for k in both if flags and g[k].flags != w[k].flags]
        bad_kw = [(k, g[k].keywords, w[k].keywords) for k in both if keywords and g[k].keywords != w[k].keywords]
        bad_date = [(k, g[k].date, w[k].date) for k in both if dates and g[k].date != w[k].date]
        what = ", ".join(x for x, on in (("flags", flags), ("keywords", keywords), ("dates", dates)) if on)
        check("%s: %s holds the same %d messages byte-exact%s" % (tool, folder, len(w), what and ", same " + what),
              set(g) == set(w) and not (bad_body or bad_flags or bad_kw or bad_date),
              (sorted(set(g) ^ set(w)), bad_body[:3], bad_flags, bad_kw, bad_date))


def run(tool, argv, env=None):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=RUN, env=env)
    return r, (r.stdout[-1500:] + r.stderr[-1500:])


try:
    want = server_view()
    every = [m for v in want.values() for m in v.values()]
    check("corpus: %d messages in %d folders, one of 20 MB, one folder empty" % (count(want), len(want)),
          any(len(m.data) >= 20 * 1024 * 1024 for m in every) and want["Empty"] == {})
    check("corpus: every system flag and every keyword is on some message, some messages have none",
          set(SYSTEM) <= set().union(*(m.flags for m in every)) and
          set(KEYWORDS) <= set().union(*(m.keywords for m in every)) and
          any(not m.flags and not m.keywords for m in every),
          [(m.flags, m.keywords) for m in every])
    deleted = {k for v in want.values() for k, m in v.items() if "\\Deleted" in m.flags}

    # ---- mbsync: pull over STARTTLS ----
    # "localhost": mbsync checks DNS names only, and the store's certificate
    # names localhost. CopyArrivalDate: mbsync keeps INTERNALDATE as the
    # Maildir file's mtime (and APPENDs with the mtime as the date); its
    # default (no) keeps no date.
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
CopyArrivalDate yes
""".format(host="localhost", port=store.imap_addr[1], user=USER, pw=pwfile, ca=store.ca_file, d=mdir))
    r, out = run("mbsync", [MBSYNC, "-c", rc, "-a"])
    check("mbsync pulls the mailbox over STARTTLS", r.returncode == 0, out)
    compare("mbsync", maildir_view(mdir, want), want, dates=True)

    # ---- mbsync: push a new message, with a date, and a flag change back ----
    inbox_new = os.path.join(mdir, "INBOX", "new")
    pushed = message(999, "8bit")
    pushed_date = 1600000000
    with open(os.path.join(inbox_new, "1700000000.push.host"), "wb") as f:
        f.write(pushed)
    os.utime(os.path.join(inbox_new, "1700000000.push.host"), (pushed_date, pushed_date))
    cur = os.path.join(mdir, "INBOX", "cur")
    victim = next(fn for fn in sorted(os.listdir(cur)) if "F" not in fn.split(":2,")[1])
    base_name, info = victim.split(":2,")
    os.rename(os.path.join(cur, victim), os.path.join(cur, base_name + ":2," + "".join(sorted(info + "F"))))
    with open(os.path.join(cur, base_name + ":2," + "".join(sorted(info + "F"))), "rb") as f:
        victim_id = message_id(f.read())
    r, out = run("mbsync", [MBSYNC, "-c", rc, "-a"])
    check("mbsync pushes", r.returncode == 0, out)
    now = server_view()
    got = now["INBOX"].get("<corpus999@example.org>")
    # mbsync marks what it uploads with an X-TUID header (to find its UID).
    got_plain = re.sub(rb"X-TUID: [^\r\n]*\r\n", b"", got.data) if got else b""
    check("the pushed message is in the store's INBOX (byte-exact but for mbsync's X-TUID header)",
          got_plain == pushed, (len(got_plain), len(pushed), got.data[:300] if got else None))
    check("the pushed message's INTERNALDATE is its Maildir file's mtime (CopyArrivalDate)",
          got is not None and got.date == pushed_date, (got.date if got else None, pushed_date))
    check("the flag set in the Maildir reached the store", "\\Flagged" in now["INBOX"][victim_id].flags,
          now["INBOX"][victim_id].flags)
    want = now

    # ---- offlineimap: pull over implicit TLS ----
    # offlineimap keeps no internal date: it FETCHes INTERNALDATE, but its
    # Maildir savemessage() does not use it (utime_from_header would set the
    # mtime from the Date: header, which is not the store's date). Keywords
    # only with a per-account keyword mapping, not set here.
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
    r, out = run("offlineimap", [OFFLINEIMAP, "-c", orc, "-o", "-u", "quiet"])
    check("offlineimap pulls the mailbox over implicit TLS", r.returncode == 0 and "ERROR" not in r.stderr, out)
    compare("offlineimap", maildir_view(odir, want), want)

    # ---- getmail6: every folder over implicit TLS into one Maildir ----
    # getmail keeps no folders, flags or dates: all folders go to one Maildir
    # (new/, no flags), each message naming its folder in the header
    # X-getmail-retrieved-from-mailbox, and the file's mtime is the delivery
    # time. It SELECTs read-only (delete = false) and FETCHes BODY.PEEK[], so
    # the store's flags do not change (checked after doveadm below).
    gdir = os.path.join(root, "getmail")
    gmd = os.path.join(gdir, "Maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(gmd, sub))
    os.makedirs(os.path.join(gdir, "state"))
    deliver_as = ""
    if os.geteuid() == 0:
        # getmail refuses to deliver to a Maildir as root; it switches to `user` to deliver.
        deliver_as = "user = nobody\n"
        for d, _, _ in os.walk(gmd):
            os.chown(d, pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid)
    grc = os.path.join(gdir, "getmailrc")
    with open(grc, "w") as f:
        f.write("""[retriever]
type = SimpleIMAPSSLRetriever
server = localhost
port = {port}
username = {user}
password_command = ("/bin/cat", "{pw}")
ca_certs = {ca}
mailboxes = ALL

[destination]
type = Maildir
path = {md}/
{deliver_as}
[options]
read_all = true
delete = false
delivered_to = false
received = false
message_log_syslog = false
verbose = 0
""".format(port=store.imap_tls_addr[1], user=USER, pw=pwfile, ca=store.ca_file, md=gmd, deliver_as=deliver_as))
    r, out = run("getmail", [GETMAIL, "--getmaildir", os.path.join(gdir, "state"), "--rcfile", grc])
    check("getmail retrieves every folder over implicit TLS", r.returncode == 0, out)

    def getmail_added(data):
        """getmail6 re-serialises each message (Message.flatten(): Python's
        email generator with os.linesep, so LF line ends) and adds two header
        fields: "Return-Path: <sender>" first, always (from Return-Path or
        Sender, else <unknown>), and "X-getmail-retrieved-from-mailbox: NAME"
        last (record_mailbox, on by default; NAME decoded from modified UTF-7,
        RFC 2047-encoded if not ASCII). Its Delivered-To and Received fields
        are off (delivered_to/received = false). Returns (NAME, the message
        without those two fields), or (None, data) if they are not there."""
        head, sep, body = data.partition(b"\n\n")
        fields = []
        for line in head.split(b"\n"):
            if line[:1] in (b" ", b"\t") and fields:
                fields[-1].append(line)
            else:
                fields.append([line])
        first, last = b"\n".join(fields[0]), b"\n".join(fields[-1])
        tag = b"X-getmail-retrieved-from-mailbox:"
        if len(fields) < 3 or not first.startswith(b"Return-Path: <") or not last.startswith(tag):
            return None, data
        name = str(email.header.make_header(email.header.decode_header(last[len(tag):].decode().strip())))
        return name, b"\n".join(b"\n".join(f) for f in fields[1:-1]) + sep + body

    gview = {}
    for p in sorted(glob.glob(os.path.join(gmd, "new", "*")) + glob.glob(os.path.join(gmd, "cur", "*"))):
        with open(p, "rb") as f:
            name, data = getmail_added(f.read())
        folder = name if name in want else (mail_corpus.utf7_decode(name) if name else None)
        gview.setdefault(folder, {})[message_id(data)] = Msg(data, None, None, None)
    check("getmail: every message names a folder the store has (X-getmail-retrieved-from-mailbox)",
          set(gview) <= set(want), sorted(set(gview) - set(want), key=str))
    compare("getmail", {f: gview.get(f, {}) for f in want}, want, flags=False)

    # ---- doveadm backup: Dovecot's dsync pulls the mailbox through imapc ----
    # A private Dovecot (for its auth and config; the backup runs in
    # doveadm). mail_save_crlf keeps the messages as the store sends them;
    # dsync keeps INTERNALDATE as the received date and keywords as
    # keywords. imapc_features: rfc822.size and fetch-headers as Dovecot
    # recommends for migration; modseq uses CONDSTORE once the store
    # advertises it. The special-use folders the harness auto-creates are
    # turned off so that every folder Dovecot ends with came from the store.
    # imapc_rawlog_dir keeps the IMAP exchange (printed on failure).
    dvroot = os.path.join(root, "dovecot")
    os.makedirs(dvroot)
    dv_ca = os.path.join(dvroot, "store-ca.crt")  # dsync runs as the mail user, outside the store's tls/
    shutil.copyfile(store.ca_file, dv_ca)
    os.chmod(dv_ca, 0o644)
    rawlog = os.path.join(dvroot, "imapc-rawlog")
    extra = """imapc_host = localhost
imapc_port = {port}
imapc_ssl = imaps
imapc_ssl_verify = yes
ssl_client_ca_file = {ca}
imapc_user = {user}
imapc_password = {pw}
imapc_features = rfc822.size fetch-headers modseq
imapc_rawlog_dir = {raw}
mail_save_crlf = yes
namespace inbox {{
{auto_off}}}
""".format(port=store.imap_tls_addr[1], ca=dv_ca, user=USER, pw=PW, raw=rawlog,
           auto_off="".join("  mailbox %s {\n    auto = no\n  }\n" % n for n in
                            ("Drafts", "Sent", "Trash", "Junk", "Archive")))
    dv = Dovecot(dvroot, users={"alice": "pw-alice"}, extra_conf=extra)
    os.makedirs(rawlog)
    os.chown(rawlog, dv.mail_uid, dv.mail_gid)
    with dv:
        def doveadm(*args):
            return subprocess.run([DOVEADM, "-c", dv.conf] + list(args), capture_output=True, timeout=RUN)

        def rawlog_lines(path):
            """The lines of an imapc rawlog file ("TIME LINE"; .out: what
            dsync sent, .in: what the store answered), without the times."""
            with open(path, "rb") as f:
                return [line.split(" ", 1)[-1] for line in f.read().decode(errors="replace").splitlines()]

        def imapc_rejections():
            """(command, reply) for each command the store answered NO or BAD."""
            out = []
            for p in sorted(glob.glob(os.path.join(rawlog, "*.in"))):
                sent = {line.split(" ", 1)[0]: line for line in rawlog_lines(p[:-len(".in")] + ".out")}
                for line in rawlog_lines(p):
                    m = re.match(r"(\S+) (NO|BAD) ", line)
                    if m and m.group(1) in sent:
                        out.append((sent[m.group(1)][:300], line[:300]))
            return out

        r = doveadm("backup", "-R", "-u", "alice", "imapc:")
        sent = [line for p in sorted(glob.glob(os.path.join(rawlog, "*.out"))) for line in rawlog_lines(p)]
        check("doveadm backup -R imapc: pulls the mailbox over implicit TLS", r.returncode == 0,
              (r.stderr.decode(errors="replace")[-1500:], imapc_rejections(), sent[-40:]))
        check("doveadm: the store answered every imapc command OK (no tagged NO or BAD)",
              not imapc_rejections(), imapc_rejections())
        r = doveadm("mailbox", "list", "-u", "alice")
        dv_folders = set(r.stdout.decode().split("\n")) - {""}
        store_folders = {f for f, attrs in mail_corpus.list_folders(imap, "/").items()
                         if not {"\\Noselect", "\\NonExistent"} & attrs}
        check("doveadm: Dovecot has exactly the store's folders", dv_folders == store_folders,
              (sorted(dv_folders - store_folders), sorted(store_folders - dv_folders)))
        r = doveadm("-f", "pager", "fetch", "-u", "alice", "mailbox uid flags date.received.unixtime", "all")
        dview = {f: {} for f in dv_folders}
        for rec in r.stdout.decode().split("\f\n"):
            fields = dict(line.split(": ", 1) for line in rec.split("\n") if ": " in line)
            if "uid" not in fields:
                continue
            t = doveadm("-f", "pager", "fetch", "-u", "alice", "text", "mailbox", fields["mailbox"],
                        "uid", fields["uid"])
            data = t.stdout[len(b"text:\n"):] if t.stdout.startswith(b"text:\n") else b""
            flags = set(fields.get("flags", "").split()) - {"\\Recent"}
            dview[fields["mailbox"]][message_id(data)] = Msg(data, flags & set(SYSTEM), flags - set(SYSTEM),
                                                             int(fields["date.received.unixtime"]))
        check("doveadm fetch lists the messages the store has", count(dview) == count(want),
              (count(dview), count(want), r.stderr.decode(errors="replace")[-500:]))
        compare("doveadm", dview, want, same=lambda b: b, keywords=True, dates=True)

    check("the store's flags and keywords are as before getmail and doveadm (both read only)",
          server_view() == want, "")

    # ---- fetchmail: every folder over STARTTLS, each through an MDA ----
    # One poll entry per folder ("via" lets several name the same server),
    # each delivering to its own directory, so a message's folder is known.
    # fetchmail keeps no flags or dates, and changes nothing in a message
    # with: "set invisible" (no Received: header of its own), "no rewrite"
    # (addresses left alone) and "no stripcr" (it strips CRs before an MDA by
    # default). So the files must be the store's bytes exactly. "keep": it
    # deletes nothing, but it marks each message it delivered \Seen (a STORE
    # after the BODY.PEEK fetch), checked on the store afterwards.
    fdir = os.path.join(root, "fetchmail")
    fhome = os.path.join(fdir, "home")
    os.makedirs(fhome, mode=0o700)
    mda = os.path.join(fdir, "mda.sh")
    with open(mda, "w") as f:
        f.write('#!/bin/sh\n# mda.sh DIR: stores the message on stdin as DIR/N.eml, N = 1, 2, ...\nset -e\n'
                'n=$(($(ls "$1" | wc -l) + 1))\ncat > "$1/$n.eml"\n')
    os.chmod(mda, 0o755)
    folders = sorted(want)
    frc = os.path.join(fdir, "fetchmailrc")
    with open(frc, "w") as f:
        f.write("set no syslog\nset invisible\n")
        for i, folder in enumerate(folders):
            os.makedirs(os.path.join(fdir, "out%d" % i))
            name = "INBOX" if folder == "INBOX" else mail_corpus.utf7_encode(folder)
            f.write('poll f{i} via localhost protocol IMAP port {port} auth password timeout 120\n'
                    '  user "{user}" there with password "{pw}" is "{me}" here\n'
                    '  folder "{name}"\n'
                    '  sslproto "tls1.2+" sslcertck sslcertfile "{ca}"\n'
                    '  keep fetchall no rewrite no stripcr\n'
                    '  mda "{mda} {out}"\n'.format(i=i, port=store.imap_addr[1], user=USER, pw=PW,
                                                   me=pwd.getpwuid(os.geteuid()).pw_name, name=name,
                                                   ca=store.ca_file, mda=mda, out=os.path.join(fdir, "out%d" % i)))
    os.chmod(frc, 0o600)
    env = dict(os.environ, FETCHMAILHOME=fhome, HOME=fhome)
    r, out = run("fetchmail", [FETCHMAIL, "-f", frc, "--nodetach", "--nosyslog"], env=env)
    # Exit 0: mail was delivered. Each poll reports "N messages for USER at
    # fI (folder NAME)." or "No mail for USER at fI ..." on stdout; errors go
    # to stderr (where, as root, a warning about running as root also goes).
    polled = set(re.findall(r"for %s at (f\d+) \(folder " % re.escape(USER), r.stdout))
    noise = [line for line in r.stderr.splitlines() if "Running as root is discouraged" not in line]
    check("fetchmail fetches every folder over STARTTLS",
          r.returncode == 0 and polled == {"f%d" % i for i in range(len(folders))} and not noise, out)
    fview = {}
    for i, folder in enumerate(folders):
        fview[folder] = {}
        for p in glob.glob(os.path.join(fdir, "out%d" % i, "*.eml")):
            with open(p, "rb") as f:
                data = f.read()
            fview[folder][message_id(data)] = Msg(data, None, None, None)
    compare("fetchmail", fview, want, same=lambda b: b, flags=False)
    after = server_view()
    seen_only = {(f, k): (m.flags, m.keywords) for f, v in want.items() for k, m in v.items()
                 if after.get(f, {}).get(k) != m._replace(flags=m.flags | {"\\Seen"})}
    check("fetchmail marked what it fetched \\Seen and changed nothing else on the store", not seen_only, seen_only)
    still = {k for v in after.values() for k, m in v.items() if "\\Deleted" in m.flags}
    check("all %d messages marked \\Deleted are still in the store (no client expunged)" % len(deleted),
          deleted and still == deleted, (sorted(deleted), sorted(still)))
except BaseException:
    store.stop()
    raise
sys.exit(check.finish(store, root))
