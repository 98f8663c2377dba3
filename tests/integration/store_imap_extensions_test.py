#!/usr/bin/env python3
"""mxstore's IMAP extensions beyond RFC 3501's core (issue 7), against a live
mxstore, over a raw socket so that every untagged response is seen:

- ENABLE CONDSTORE/QRESYNC (RFC 5161, 7162): HIGHESTMODSEQ on SELECT and in
  STATUS, MODSEQ in FETCH, FETCH (CHANGEDSINCE n), STORE (UNCHANGEDSINCE n)
  with [MODIFIED set], SEARCH MODSEQ with its (MODSEQ n) tail;
- QRESYNC: SELECT (QRESYNC (uidvalidity modseq known-uids)) reports
  VANISHED (EARLIER) and the changed flags; another session's expunge comes
  as VANISHED, not EXPUNGE; UID FETCH (CHANGEDSINCE n VANISHED);
- SEARCH with RFC 3501's criteria: FROM/TO/SUBJECT/HEADER matching decoded
  encoded-words, BODY/TEXT matching base64 and quoted-printable text in its
  charset, OR/NOT/lists, dates (SINCE/BEFORE/ON, SENT*), sizes, keywords,
  CHARSET; an unknown charset is NO [BADCHARSET];
- MULTIAPPEND (RFC 3502): several messages in one APPEND, one APPENDUID set;
  one bad message in the group appends none;
- imap.max_connections_per_user: the login beyond it is NO [LIMIT] naming
  the setting, and a logout frees a place.

usage: store_imap_extensions_test.py MXSTORE"""

import os
import re
import socket
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from mxstore import Checks, Store  # noqa: E402

MXSTORE = sys.argv[1]
if os.path.isdir(MXSTORE):
    MXSTORE = os.path.join(MXSTORE, "mxstore")
check = Checks()
root = tempfile.mkdtemp(prefix="mx-imap-ext-")
store = Store(MXSTORE, os.path.join(root, "store"))
with open(store.config) as f:
    conf = f.read()
assert "# max_connections_per_user = 20" in conf, "mxstore init no longer writes the per-user limit line"
with open(store.config, "w") as f:
    f.write(conf.replace("# max_connections_per_user = 20", "max_connections_per_user = 3"))
store.start()
USER, PW = "carol@example.test", "carol-pw"
store.add_user(USER, PW)


class Raw:
    """Tagged commands over a socket; returns (untagged lines, tagged line).
    Literals in responses are read whole and kept inline."""

    def __init__(self):
        self.s = socket.create_connection(store.imap_addr, timeout=20)
        self.f = self.s.makefile("rb")
        self.f.readline()
        self.n = 0

    def line(self):
        out = b""
        while True:
            ln = self.f.readline()
            if not ln:
                raise RuntimeError("server closed the connection")
            out += ln
            m = re.search(rb"\{(\d+)\}\r\n$", ln)
            if not m:
                return out.decode("utf-8", "replace")
            out += self.f.read(int(m.group(1)))

    def cmd(self, text, literals=()):
        self.n += 1
        tag = "x%d" % self.n
        if literals:
            # LITERAL+: every literal non-synchronising, one write.
            parts = text.split("{}")
            assert len(parts) == len(literals) + 1
            data = (tag + " " + parts[0]).encode()
            for lit, rest in zip(literals, parts[1:]):
                data += b"{%d+}\r\n" % len(lit) + lit + rest.encode()
            self.s.sendall(data + b"\r\n")
        else:
            self.s.sendall((tag + " " + text + "\r\n").encode())
        untagged = []
        while True:
            ln = self.line()
            if ln.startswith(tag + " "):
                return untagged, ln.strip()
            untagged.append(ln.strip())

    def ok(self, text, literals=()):
        u, t = self.cmd(text, literals)
        if " OK" not in t:
            raise RuntimeError("%s -> %s" % (text, t))
        return u, t


def login():
    r = Raw()
    r.ok("LOGIN %s %s" % (USER, PW))
    return r


def modseqs(lines):
    """{uid: modseq} from FETCH responses."""
    out = {}
    for ln in lines:
        m = re.search(r"UID (\d+).*MODSEQ \((\d+)\)", ln) or re.search(r"MODSEQ \((\d+)\).*UID (\d+)", ln)
        if m and "UID" in ln:
            a, b = int(m.group(1)), int(m.group(2))
            uid, ms = (a, b) if ln.index("UID") < ln.index("MODSEQ") else (b, a)
            out[uid] = ms
    return out


def msg(subject, body, extra=""):
    return ("From: Grüße Sender <sender@example.org>\r\nTo: carol@example.test\r\nSubject: %s\r\n"
            "Date: Tue, 3 Mar 2026 10:00:00 +0100\r\n%s\r\n%s\r\n" % (subject, extra, body)).encode()


a = login()
u, t = a.ok("CAPABILITY")
caps = u[0].split()
for c in ("CONDSTORE", "QRESYNC", "ENABLE", "MULTIAPPEND"):
    check("capability " + c, c in caps, u[0])

# ---- MULTIAPPEND -----------------------------------------------------------
a.ok("CREATE Multi")
three = [msg("multi %d" % i, "part %d" % i) for i in range(3)]
u, t = a.cmd('APPEND Multi (\\Seen) "01-Mar-2026 09:00:00 +0200" {} (\\Flagged $Work) {} {}', three)
m = re.search(r"APPENDUID (\d+) (\S+)\]", t)
check("MULTIAPPEND: OK with one APPENDUID set of 3 UIDs", m and m.group(2) == "1:3", t)
u, t = a.ok("STATUS Multi (MESSAGES)")
check("MULTIAPPEND: the folder has 3 messages", "MESSAGES 3" in u[0], u)
a.ok("EXAMINE Multi")
u, _ = a.ok("FETCH 1:3 (FLAGS INTERNALDATE BODY.PEEK[])")
joined = "\n".join(u)
check("MULTIAPPEND: each message keeps its own flags and date",
      "\\Seen" in u[0] and '"01-Mar-2026 09:00:00 +0200"' in u[0] and "$Work" in joined and "\\Flagged" in joined, u)
check("MULTIAPPEND: bodies in order", all(("multi %d" % i) in u[i] for i in range(3)), u)
# One bad group (an invalid date) → nothing appended.
u, t = a.cmd('APPEND Multi {} "99-Foo-2026 00:00:00 +0000" {}', [msg("ok", "x"), msg("bad", "y")])
check("MULTIAPPEND with a bad date: BAD", " BAD " in t, t)
u, _ = a.ok("STATUS Multi (MESSAGES)")
check("MULTIAPPEND with a bad date appends none", "MESSAGES 3" in u[0], u)

# ---- CONDSTORE --------------------------------------------------------------
a.ok("CREATE Cs")
for i in range(5):
    a.ok("APPEND Cs {}", [msg("cs %d" % i, "body %d" % i)])
u, t = a.ok("SELECT Cs (CONDSTORE)")
hms = [ln for ln in u if "HIGHESTMODSEQ" in ln]
check("SELECT (CONDSTORE): HIGHESTMODSEQ", len(hms) == 1, u)
high0 = int(re.search(r"HIGHESTMODSEQ (\d+)", hms[0]).group(1)) if hms else 0
u, _ = a.ok("FETCH 1:* (FLAGS)")
ms0 = modseqs(u)
check("CONDSTORE on: FETCH carries UID and MODSEQ", len(ms0) == 5 and max(ms0.values()) <= high0, u)
u, t = a.ok("STORE 2 +FLAGS (\\Flagged)")
ms1 = modseqs(u)
check("STORE: the new MODSEQ is higher", ms1.get(2, 0) > high0, u)
u, _ = a.ok("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % high0)
check("FETCH (CHANGEDSINCE): only the changed message", list(modseqs(u)) == [2], u)
# UNCHANGEDSINCE: message 2 changed after high0, message 3 did not.
u, t = a.cmd("STORE 2:3 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % high0)
check("STORE (UNCHANGEDSINCE): [MODIFIED 2] for the one changed since", "[MODIFIED 2]" in t, t)
check("STORE (UNCHANGEDSINCE): the other is changed", any(ln.startswith("* 3 FETCH") and "\\Seen" in ln for ln in u), u)
u, _ = a.ok("FETCH 2 (FLAGS)")
check("STORE (UNCHANGEDSINCE): the modified message is untouched", "\\Seen" not in u[0], u)
u, _ = a.ok("SEARCH MODSEQ %d" % (high0 + 1))
check("SEARCH MODSEQ: the two changed, with (MODSEQ n)", re.match(r"\* SEARCH 2 3 \(MODSEQ \d+\)$", u[0]) is not None, u)
u, _ = a.ok("STATUS Multi (HIGHESTMODSEQ MESSAGES)")
check("STATUS HIGHESTMODSEQ", re.search(r"HIGHESTMODSEQ \d+", u[0]) is not None, u)

# ---- QRESYNC ----------------------------------------------------------------
b = login()
u, t = b.ok("ENABLE QRESYNC")
check("ENABLE QRESYNC: ENABLED names it (and CONDSTORE)", "QRESYNC" in u[0] and "CONDSTORE" in u[0], u)
u, t = b.ok("SELECT Cs")
validity = int(re.search(r"UIDVALIDITY (\d+)", " ".join(u)).group(1))
high1 = int(re.search(r"HIGHESTMODSEQ (\d+)", " ".join(u)).group(1))
# Another session expunges message 4 and flags message 5.
a.ok("STORE 4 +FLAGS.SILENT (\\Deleted)")
a.ok("STORE 5 +FLAGS.SILENT ($Later)")
a.ok("EXPUNGE")
u, _ = b.ok("NOOP")
check("QRESYNC: another session's expunge comes as VANISHED", "* VANISHED 4" in u and not any("EXPUNGE" in ln for ln in u), u)
check("QRESYNC: the flag change comes with UID and MODSEQ",
      any(re.search(r"FETCH \(UID 5 FLAGS \(.*\$Later.*\) MODSEQ \(\d+\)\)", ln) for ln in u), u)
b.ok("UNSELECT")
u, t = b.ok("SELECT Cs (QRESYNC (%d %d 1:5))" % (validity, high1))
check("SELECT (QRESYNC): VANISHED (EARLIER) 4", "* VANISHED (EARLIER) 4" in u, u)
check("SELECT (QRESYNC): the flags of message 5 changed since",
      any("UID 5 " in ln and "$Later" in ln for ln in u) and not any("UID 1 " in ln for ln in u), u)
u, _ = b.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % high1)
check("UID FETCH (CHANGEDSINCE VANISHED): VANISHED (EARLIER) then the changed",
      u and u[0] == "* VANISHED (EARLIER) 4" and list(modseqs(u[1:])) == [5], u)
u, t = b.ok("SELECT Cs (QRESYNC (%d 1))" % (validity + 1))
check("SELECT (QRESYNC) with another UIDVALIDITY: no VANISHED", not any("VANISHED" in ln for ln in u), u)
u, t = a.cmd("SELECT Cs (QRESYNC (%d 1))" % validity)
check("SELECT (QRESYNC) without ENABLE: BAD", " BAD " in t, t)

# ---- SEARCH -----------------------------------------------------------------
a.ok("CREATE Find")
qp = msg("=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=", "Das Stra=C3=9Fenfest ist am Sonntag.",
         "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n")
b64 = msg("plain subject", "V2lsbGtvbW1lbiBpbSBTb21tZXJoYXVz",  # "Willkommen im Sommerhaus"
          "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n"
          "X-Ticket: T-4711\r\nCc: dave@example.test\r\n")
a.ok('APPEND Find (\\Seen $Urgent) "05-Mar-2026 23:30:00 -0500" {}', [qp])
a.ok('APPEND Find "10-Mar-2026 12:00:00 +0000" {}', [b64])
a.ok('APPEND Find (\\Answered) "15-Mar-2026 01:00:00 +0100" {}', [msg("third", "x" * 5000)])
a.ok("SELECT Find")


def search(q):
    u, t = a.cmd("SEARCH " + q)
    if " OK" not in t:
        return t
    line = [ln for ln in u if ln.startswith("* SEARCH")]
    return [int(x) for x in line[0].split()[2:]] if line else None


cases = [
    ("SUBJECT köln", "CHARSET UTF-8 SUBJECT {}", [1]),  # literal: decoded encoded-word, case-folded
    ("BODY straßenfest (quoted-printable)", "CHARSET UTF-8 BODY {}", [1]),
    ("TEXT sommerhaus (base64)", "TEXT sommerhaus", [2]),
    ("FROM grüße (decoded display name)", "CHARSET UTF-8 FROM {}", [1, 2, 3]),
    ("HEADER X-Ticket", "HEADER X-Ticket t-4711", [2]),
    ("HEADER with an empty string: has the field", 'HEADER X-Ticket ""', [2]),
    ("CC", "CC dave", [2]),
    ("TO", "TO carol@example.test", [1, 2, 3]),
    ("KEYWORD", "KEYWORD $Urgent", [1]),
    ("UNKEYWORD", "UNKEYWORD $Urgent", [2, 3]),
    ("OR", "OR ANSWERED SEEN", [1, 3]),
    ("NOT", "NOT SEEN", [2, 3]),
    ("list", "(SEEN KEYWORD $Urgent) SUBJECT stra", []),
    ("ON (date in its own zone)", "ON 5-Mar-2026", [1]),
    ("SINCE", "SINCE 10-Mar-2026", [2, 3]),
    ("BEFORE", "BEFORE 10-Mar-2026", [1]),
    ("SENTON (the Date: header)", "SENTON 3-Mar-2026", [1, 2, 3]),
    ("SENTSINCE", "SENTSINCE 4-Mar-2026", []),
    ("LARGER", "LARGER 4000", [3]),
    ("SMALLER", "SMALLER 4000", [1, 2]),
    ("sequence set", "2:*", [2, 3]),
    ("UID set", "UID 1,3", [1, 3]),
    ("absent word", "TEXT nirgendwo", []),
]
for name, q, want in cases:
    if "{}" in q:
        word = {"SUBJECT": "KÖLN", "BODY": "straßenfest", "FROM": "grüße"}[q.split()[2]]
        u, t = a.cmd("SEARCH " + q, [word.encode()])
        line = [ln for ln in u if ln.startswith("* SEARCH")]
        got = [int(x) for x in line[0].split()[2:]] if line and " OK" in t else t
    else:
        got = search(q)
    check("SEARCH %s → %s" % (name, want), got == want, "got %r" % (got,))
u, t = a.cmd("SEARCH CHARSET KOI8-R TEXT x")
check("SEARCH CHARSET KOI8-R: NO [BADCHARSET]", "[BADCHARSET" in t, t)
u, t = a.cmd("SEARCH SINCE notadate")
check("SEARCH with a bad date: BAD with a reason", " BAD " in t and "date" in t, t)
u, t = a.cmd("SEARCH " + "NOT " * 100 + "ALL")
check("SEARCH nested too deep: BAD", " BAD " in t, t)
u, t = a.cmd("UID SEARCH TEXT sommerhaus")
check("UID SEARCH TEXT", any(ln.startswith("* SEARCH 2") for ln in u), u)

# ---- connections per user (3 here) -----------------------------------------
c = login()
d = Raw()
u, t = d.cmd("LOGIN %s %s" % (USER, PW))
check("a 4th session of one user: NO [LIMIT] naming the setting",
      "NO [LIMIT]" in t and "imap.max_connections_per_user" in t, t)
c.ok("LOGOUT")
u, t = d.cmd("LOGIN %s %s" % (USER, PW))
check("after a logout the next login is accepted", " OK" in t, t)
d.ok("LOGOUT")

a.ok("LOGOUT")
b.ok("LOGOUT")
sys.exit(check.finish(store, root))
