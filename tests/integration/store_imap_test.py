#!/usr/bin/env python3
"""mxstore's IMAP front end (issue 7, first increment), against a live
mxstore with python's imaplib and a raw socket for what imaplib will not send:

- TLS: STARTTLS and an implicit-TLS listener with the store's certificate
  (the test trusts its CA; a client that does not is refused); bytes
  pipelined after STARTTLS end the session;
- LOGIN: a wrong password is NO [AUTHENTICATIONFAILED] and delayed;
  AUTHENTICATE PLAIN with SASL-IR logs in;
- LIST with the special-use folders, CREATE of nested and non-ASCII
  (modified UTF-7) names, STATUS;
- APPEND with flags, keywords and a date in another zone: APPENDUID, the
  bytes (8-bit included) back byte-exact, INTERNALDATE with its zone,
  header fields and partial fetches, \\Seen set by BODY[] and not by PEEK;
- STORE +/-FLAGS(.SILENT), EXPUNGE and UID EXPUNGE; COPY, MOVE, RENAME, DELETE;
- IDLE wakes on an LMTP delivery, another session's flag change and expunge;
- a second session sees new mail (EXISTS) on NOOP, and an expunge by the
  first only where RFC 3501 allows (not during FETCH);
- isolation: bob cannot select, status, append to or list alice's folders by
  any name;
- bad input: unknown commands, wrong state, nesting, invalid modified UTF-7,
  an oversized literal refused before it is sent — BAD/NO with a reason and
  the session goes on;
- kill -9 after APPEND's OK: the message is there after a restart.

usage: store_imap_test.py MXSTORE"""

import base64
import imaplib
import os
import re
import socket
import ssl
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from mxstore import Checks, Store  # noqa: E402

MXSTORE = sys.argv[1]
if os.path.isdir(MXSTORE):
    MXSTORE = os.path.join(MXSTORE, "mxstore")
check = Checks()
root = tempfile.mkdtemp(prefix="mx-imap-")
store = Store(MXSTORE, os.path.join(root, "store"))
store.enable_imap_tls()
store.start()


for user, pw in (("alice@example.test", "alice-pw"), ("bob@example.test", "bob-pw")):
    store.add_user(user, pw)


def attempt(fn, *args):
    """(typ, data) of an imaplib call; a BAD (raised by imaplib) is ("BAD", reason)."""
    try:
        return fn(*args)
    except imaplib.IMAP4.error as e:
        return "BAD", [str(e).encode()]


def connect(user=None, pw=None):
    return store.imap(user, pw) if user else imaplib.IMAP4(*store.imap_addr)


class Raw:
    """A line-level client for what imaplib does not send."""

    def __init__(self):
        self.s = socket.create_connection(store.imap_addr, timeout=10)
        self.f = self.s.makefile("rb")
        self.greeting = self.f.readline()

    def send(self, data):
        self.s.sendall(data)

    def until_tagged(self, tag):
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                return lines, b""
            lines.append(line)
            if line.startswith(tag.encode() + b" "):
                return lines, line

    def close(self):
        self.s.close()


MSG1 = (b"From: Carol <carol@example.org>\r\nTo: alice@example.test\r\nSubject: caf\xc3\xa9 menu\r\n"
        b"Date: Wed, 17 Jul 1996 02:44:25 -0700\r\nMessage-ID: <m1@example.org>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9e\r\n" + b"x" * 5000 + b"\r\n")

try:
    # ---- authentication ----
    m = connect()
    caps = m.capabilities
    check("greeting advertises IMAP4rev1, LITERAL+, UIDPLUS, AUTH=PLAIN on loopback",
          {"IMAP4REV1", "LITERAL+", "UIDPLUS", "AUTH=PLAIN"} <= set(caps), caps)
    t0 = time.time()
    try:
        m.login("alice@example.test", "wrong")
        failed = None
    except imaplib.IMAP4.error as e:
        failed = str(e)
    delay = time.time() - t0
    check("a wrong password is NO [AUTHENTICATIONFAILED], delayed (%.2f s)" % delay,
          failed is not None and "AUTHENTICATIONFAILED" in failed and delay >= 0.9, failed)
    typ, _ = m.login("alice@example.test", "alice-pw")
    check("LOGIN with the right password", typ == "OK")
    r = Raw()
    plain = base64.b64encode(b"\0bob@example.test\0bob-pw").decode()
    r.send(("p1 AUTHENTICATE PLAIN %s\r\n" % plain).encode())
    _, tagged = r.until_tagged("p1")
    check("AUTHENTICATE PLAIN with an initial response (SASL-IR)", tagged.startswith(b"p1 OK"), tagged)
    r.close()

    # ---- TLS: STARTTLS and implicit TLS with the store's certificate ----
    check("STARTTLS is offered before login", "STARTTLS" in caps, caps)
    ctx = ssl.create_default_context(cafile=store.ca_file)
    t = imaplib.IMAP4(*store.imap_addr)
    t.starttls(ssl_context=ctx)
    typ, _ = t.login("alice@example.test", "alice-pw")
    check("STARTTLS with the store's CA, then LOGIN (%s)" % t.sock.version(), typ == "OK" and t.sock.version().startswith("TLS"))
    t.logout()
    t = imaplib.IMAP4_SSL(*store.imap_tls_addr, ssl_context=ctx)
    typ, _ = t.login("alice@example.test", "alice-pw")
    check("implicit TLS (imap.listen_tls) and LOGIN", typ == "OK")
    typ, data = t.select("INBOX")
    check("and the session works over TLS", typ == "OK", data)
    t.logout()
    other_ca = ssl.create_default_context()  # the system's CAs do not know the store's certificate
    try:
        imaplib.IMAP4_SSL(*store.imap_tls_addr, ssl_context=other_ca)
        refused = False
    except ssl.SSLError:
        refused = True
    check("a client that does not trust the store's CA refuses the connection", refused)
    r = Raw()
    r.send(b"s1 STARTTLS\r\ns2 NOOP\r\n")  # a command pipelined after STARTTLS (injection attempt)
    rest = r.f.read()
    check("data pipelined after STARTTLS ends the session (no NOOP answered in plaintext)",
          b"BYE" in rest and b"s2" not in rest, rest)
    r.close()

    # ---- folders ----
    typ, data = m.list()
    names = {re.search(rb'"/" "?([^"]*)"?$', d).group(1).decode(): d for d in data}
    check("LIST shows INBOX and the special-use folders",
          {"INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive"} <= set(names)
          and b"\\Sent" in names["Sent"] and b"\\Trash" in names["Trash"], data)
    typ, _ = m.create("Entw&APw-rfe/2026/Q4")
    check("CREATE a nested, non-ASCII folder (modified UTF-7)", typ == "OK")
    typ, data = m.list('""', "Entw&APw-rfe/*")
    check("LIST pattern finds its children, the parent was created and has \\HasChildren",
          typ == "OK" and len(data) == 2 and any(b"\\HasChildren" in d and d.endswith(b'"Entw&APw-rfe/2026"') for d in data),
          data)
    typ, data = m.list('""', "%")
    check("'%' does not descend", all(b"/" not in d.split(b'"/"')[1] for d in data), data)
    typ, data = attempt(m.create, "INBOX")
    check("CREATE INBOX is refused", typ == "NO")

    # ---- APPEND and FETCH ----
    typ, data = m.append("INBOX", r"(\Flagged $Work)", '"17-Jul-1996 02:44:25 -0700"', MSG1)
    au = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
    check("APPEND answers APPENDUID", typ == "OK" and au is not None, data)
    uid1 = int(au.group(2)) if au else 0
    typ, data = m.select("INBOX")
    check("SELECT INBOX: 1 message", typ == "OK" and data[0] == b"1", data)
    typ, data = m.uid("FETCH", str(uid1), "(FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
    meta, body = data[0][0], data[0][1]
    check("the appended bytes come back byte-exact (8-bit body)", body == MSG1, (len(body), len(MSG1)))
    check("INTERNALDATE keeps the zone given at APPEND", b'INTERNALDATE "17-Jul-1996 02:44:25 -0700"' in meta, meta)
    check("flags and keyword kept, RFC822.SIZE right, PEEK did not set \\Seen",
          b"\\Flagged" in meta and b"$Work" in meta and b"\\Seen" not in meta and
          (b"RFC822.SIZE %d" % len(MSG1)) in meta, meta)
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (Subject From)] BODY.PEEK[TEXT]<0.10>)")
    fields = data[0][1]
    check("HEADER.FIELDS returns just those fields and the blank line",
          fields == b"From: Carol <carol@example.org>\r\nSubject: caf\xc3\xa9 menu\r\n\r\n", fields)
    check("a partial TEXT fetch returns its 10 bytes", data[1][1] == b"Cr\xc3\xa8me br\xc3", data[1])
    typ, data = m.fetch("1", "(BODY[HEADER])")
    check("BODY[HEADER] ends at the blank line", data[0][1].endswith(b"\r\n\r\n") and b"Cr\xc3\xa8me" not in data[0][1])
    typ, data = m.fetch("1", "(FLAGS)")
    check("BODY[] (not PEEK) set \\Seen", b"\\Seen" in data[0], data)

    # ---- MIME: ENVELOPE, BODYSTRUCTURE and part sections ----
    nested = (b"From: Dana <dana@example.org>\r\nTo: alice@example.test, Bob <bob@example.test>\r\n"
              b"Subject: parts\r\nDate: Tue, 24 Nov 2026 09:00:00 +0100\r\nMessage-ID: <parts@example.org>\r\n"
              b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
              b"--outer\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nline one\r\nline two\r\n"
              b"--outer\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"fwd.eml\"\r\n\r\n"
              b"From: Eve <eve@example.org>\r\nSubject: inside\r\n\r\nembedded\r\n"
              b"--outer--\r\n")
    typ, data = m.append("INBOX", None, None, nested)
    uidn = re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1).decode()
    typ, data = m.uid("FETCH", uidn, "(ENVELOPE)")
    env = data[0]
    check("ENVELOPE: date, subject, from, sender and reply-to defaulting to from, two To, message-id",
          b'"Tue, 24 Nov 2026 09:00:00 +0100" "parts" (("Dana" NIL "dana" "example.org"))'
          b' (("Dana" NIL "dana" "example.org")) (("Dana" NIL "dana" "example.org"))'
          b' ((NIL NIL "alice" "example.test")("Bob" NIL "bob" "example.test")) NIL NIL NIL "<parts@example.org>"' in env, env)
    typ, data = m.uid("FETCH", uidn, "(BODYSTRUCTURE)")
    bs = data[0] if isinstance(data[0], bytes) else data[0][0] + data[0][1] + data[1]
    check("BODYSTRUCTURE: text part with size and lines, the embedded message with its envelope, mixed",
          b'("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 18 2' in bs and b'"message" "rfc822" NIL NIL NIL "7bit"' in bs
          and b'"inside"' in bs and b'("attachment" ("filename" "fwd.eml"))' in bs and b'"mixed" ("boundary" "outer")' in bs, bs)
    typ, data = m.uid("FETCH", uidn, "(BODY.PEEK[1] BODY.PEEK[2.HEADER.FIELDS (Subject)] BODY.PEEK[2.1] BODY.PEEK[1.MIME])")
    got = {re.search(rb"(BODY\[[^]]*\])", d[0]).group(1): d[1] for d in data if isinstance(d, tuple)}
    check("part sections: BODY[1], BODY[2.HEADER.FIELDS], BODY[2.1], BODY[1.MIME]",
          got.get(b"BODY[1]") == b"line one\r\nline two" and
          got.get(b"BODY[2.HEADER.FIELDS (SUBJECT)]") == b"Subject: inside\r\n\r\n" and
          got.get(b"BODY[2.1]") == b"embedded" and  # the CRLF before a delimiter belongs to the delimiter
          got.get(b"BODY[1.MIME]") == b"Content-Type: text/plain; charset=utf-8\r\n\r\n", got)
    typ, data = m.uid("FETCH", uidn, "(BODY.PEEK[7])")
    check("a part that does not exist is empty", typ == "OK" and data[0][1] == b"", data)
    m.uid("STORE", uidn, "+FLAGS.SILENT", "(\\Deleted)")
    m.expunge()

    # ---- STORE, EXPUNGE, a second session ----
    other = connect("alice@example.test", "alice-pw")
    other.select("INBOX")
    for i in range(3):
        m.append("INBOX", None, None, b"Subject: n%d\r\n\r\nbody %d\r\n" % (i, i))
    typ, data = other.noop()
    check("a second session hears EXISTS on NOOP", typ == "OK" and b"4" in (other.untagged_responses.get("EXISTS") or [b""])[-1:],
          other.untagged_responses)
    typ, data = m.store("2", "+FLAGS.SILENT", r"(\Deleted)")
    check("STORE +FLAGS.SILENT answers no FETCH", typ == "OK" and data == [None], data)
    typ, data = m.store("3", "+FLAGS", r"(\Deleted)")
    check("STORE +FLAGS answers the new flags", typ == "OK" and b"\\Deleted" in data[0], data)
    typ, data = m.store("3", "-FLAGS", r"(\Deleted)")
    check("STORE -FLAGS removes it", b"\\Deleted" not in data[0], data)
    other.untagged_responses.clear()
    typ, data = m.expunge()
    check("EXPUNGE reports message 2", typ == "OK" and data == [b"2"], data)
    # The other session: no EXPUNGE during FETCH, then on NOOP.
    typ, data = other.fetch("1:4", "(UID)")
    during = list(other.untagged_responses.get("EXPUNGE", []))
    check("no EXPUNGE is sent to the other session during FETCH (numbers stay)", typ == "OK" and not during and len(data) == 4,
          (data, during))
    typ, _ = other.noop()
    check("the other session hears EXPUNGE 2 on NOOP", other.untagged_responses.get("EXPUNGE") == [b"2"],
          other.untagged_responses)
    typ, data = m.uid("STORE", "1:*", "+FLAGS", r"(\Deleted)")
    m.untagged_responses.clear()
    typ, data = m.uid("EXPUNGE", str(uid1))
    check("UID EXPUNGE removes only the UIDs named", typ == "OK" and m.untagged_responses.get("EXPUNGE") == [b"1"],
          m.untagged_responses)
    typ, data = m.search(None, "ALL")
    check("SEARCH ALL after it: 2 left", data == [b"1 2"], data)
    typ, data = m.status("INBOX", "(MESSAGES UIDNEXT UNSEEN)")
    check("STATUS", typ == "OK" and b"MESSAGES 2" in data[0], data)
    other.logout()

    # ---- COPY, MOVE, RENAME, DELETE ----
    m.select("INBOX")
    typ, data = m.search(None, "ALL")
    n_inbox = len(data[0].split())
    typ, data = m.copy("1:2", "Archive")
    cu = re.search(rb"COPYUID (\d+) ([\d:,]+) ([\d:,]+)", data[0])
    check("COPY answers COPYUID", typ == "OK" and cu is not None, data)
    typ, data = m.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
    src_bodies = [d[1] for d in data if isinstance(d, tuple)]
    a2 = connect("alice@example.test", "alice-pw")
    a2.select("Archive")
    typ, data = a2.fetch("1:*", "(FLAGS BODY.PEEK[])")
    copied = [d for d in data if isinstance(d, tuple)]
    check("the copies are byte-exact in Archive", [d[1] for d in copied] == src_bodies[:2], len(copied))
    m.untagged_responses.clear()
    typ, data = m._simple_command("MOVE", "1", "Trash")
    moved_code = m.untagged_responses.get("OK", [])
    check("MOVE: untagged COPYUID, then EXPUNGE 1 (RFC 6851)",
          typ == "OK" and any(b"COPYUID" in x for x in moved_code) and m.untagged_responses.get("EXPUNGE") == [b"1"],
          m.untagged_responses)
    typ, data = m.select("INBOX")
    check("INBOX has one message fewer", int(data[0]) == n_inbox - 1, data)
    typ, data = m.select("Trash")
    check("Trash holds the moved message", data == [b"1"], data)
    typ, data = m.copy("1", "NoSuchFolder")
    check("COPY to a missing folder: NO [TRYCREATE]", typ == "NO" and b"TRYCREATE" in data[0], data)
    m.select("INBOX")
    typ, _ = m.create("Old/Stuff")
    typ, data = m.rename("Old", "New/Better")
    typ2, data2 = m.list('""', "New/*")
    check("RENAME moves the subtree under a new parent", typ == "OK" and
          any(d.endswith(b'"New/Better/Stuff"') for d in data2) and not m.list('""', "Old*")[1][0], (data, data2))
    typ, data = m.rename("Archive", "Archive2025")
    check("RENAME Archive", typ == "OK", data)
    typ, data = m.delete("New")
    check("DELETE of a folder with subfolders: NO", typ == "NO", data)
    typ, data = m.delete("New/Better/Stuff")
    typ2, data2 = m.list('""', "New/Better/Stuff")
    check("DELETE removes the folder", typ == "OK" and data2 == [None], (data, data2))
    typ, data = m.delete("INBOX")
    check("DELETE INBOX: NO", typ == "NO", data)
    a2.logout()

    # ---- IDLE: a delivery over LMTP, a flag change and an expunge by another session ----
    import smtplib
    idler = Raw()
    idler.send(b"i1 LOGIN alice@example.test alice-pw\r\n")
    idler.until_tagged("i1")
    idler.send(b"i2 SELECT INBOX\r\n")
    lines, _ = idler.until_tagged("i2")
    exists = int([ln for ln in lines if ln.endswith(b" EXISTS\r\n")][0].split()[1])
    idler.send(b"i3 IDLE\r\n")
    plus = idler.f.readline()
    check("IDLE answers a continuation", plus.startswith(b"+"), plus)
    t0 = time.time()
    lmtp = smtplib.LMTP(*store.lmtp_addr)
    lmtp.sendmail("sender@example.org", ["alice@example.test"], b"Subject: idle\r\n\r\nwake up\r\n")
    lmtp.quit()
    line = idler.f.readline()  # the socket's 10 s timeout bounds the wait
    latency = time.time() - t0
    check("IDLE hears the LMTP delivery as EXISTS (%.2f s after the 250)" % latency,
          line == b"* %d EXISTS\r\n" % (exists + 1) and latency < 5, line)
    m.select("INBOX")
    m.store(str(exists + 1), "+FLAGS", r"(\Flagged)")
    line = idler.f.readline()
    check("IDLE hears another session's flag change as FETCH", b"FETCH" in line and b"\\Flagged" in line, line)
    m.store(str(exists + 1), "+FLAGS.SILENT", r"(\Deleted)")
    m.expunge()
    got = [idler.f.readline() for _ in range(2)]
    check("IDLE hears the expunge", b"* %d EXPUNGE\r\n" % (exists + 1) in got, got)
    idler.send(b"DONE\r\n")
    _, tagged = idler.until_tagged("i3")
    check("DONE ends IDLE with OK", tagged.startswith(b"i3 OK"), tagged)
    idler.send(b"i4 IDLE\r\n")
    idler.f.readline()
    idler.send(b"NOT-DONE\r\n")
    _, tagged = idler.until_tagged("i4")
    check("anything but DONE ends IDLE with BAD", tagged.startswith(b"i4 BAD"), tagged)
    idler.close()

    # ---- isolation ----
    bob = connect("bob@example.test", "bob-pw")
    for name in ("alice@example.test/INBOX", "../alice@example.test/INBOX", "alice@example.test", "~alice/INBOX",
                 "/INBOX/../../alice", "Entw&APw-rfe"):
        typ, data = attempt(bob.select, '"%s"' % name)
        check("bob cannot SELECT %r" % name, typ != "OK", data)
    typ, data = bob.list('""', "*")
    check("bob's LIST '*' shows only his own folders (no Entw\u00fcrfe)", all(b"Entw" not in d for d in data), data)
    typ, data = attempt(bob.status, '"../alice@example.test/INBOX"', "(MESSAGES)")
    check("STATUS on alice's folder by a path is refused", typ != "OK", data)
    typ, data = attempt(bob.append, "Entw&APw-rfe/2026", None, None, b"Subject: x\r\n\r\nx\r\n")
    check("APPEND into a folder only alice has: NO [TRYCREATE] (bob's mailbox)", typ == "NO" and b"TRYCREATE" in data[0], data)
    bob.logout()

    # ---- bad input ----
    r = Raw()
    r.send(b"x1 LOGIN alice@example.test alice-pw\r\n")
    r.until_tagged("x1")
    cases = [
        (b"x2 FROBNICATE\r\n", "x2", b"BAD"),
        (b"x3 FETCH 1 (FLAGS)\r\n", "x3", b"BAD"),                     # no folder selected
        (b"x4 SEARCH " + b"(" * 100 + b"ALL" + b")" * 100 + b"\r\n", "x4", b"BAD"),
        (b"x5 CREATE \"&Jjo\"\r\n", "x5", b"BAD"),                     # invalid modified UTF-7
        (b"x6 SELECT \"INBOX\r\n", "x6", b"BAD"),                       # unterminated quoted string
        (b"x7 APPEND INBOX {999999999999}\r\n", "x7", b"NO [TOOBIG]"),   # refused before it is sent
        (b"x8 NOOP\r\n", "x8", b"OK"),
    ]
    for data, tag, want in cases:
        r.send(data)
        lines, tagged = r.until_tagged(tag)
        check("%s: %s" % (data[:40].decode("latin-1").strip(), want.decode()),
              tagged.startswith(tag.encode() + b" " + want) and not any(l.startswith(b"+") for l in lines), lines)
    r.close()

    # ---- kill -9 after OK ----
    m2 = connect("alice@example.test", "alice-pw")
    typ, data = m2.append("Archive2025", r"(\Answered)", None, b"Subject: durable\r\n\r\nkept\r\n")
    durable_uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
    store.kill9()
    store.start()
    m3 = connect("alice@example.test", "alice-pw")
    m3.select("Archive2025")
    typ, data = m3.uid("FETCH", str(durable_uid), "(FLAGS BODY.PEEK[])")
    check("after kill -9, the APPEND that got OK is there with its flag",
          typ == "OK" and data[0] is not None and data[0][1] == b"Subject: durable\r\n\r\nkept\r\n" and b"\\Answered" in data[0][0],
          data)
    m3.logout()
except BaseException:
    store.stop()
    raise
sys.exit(check.finish(store, root))
