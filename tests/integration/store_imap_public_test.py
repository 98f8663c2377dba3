#!/usr/bin/env python3
"""Public folders and grants (issue 7, Must hold 5): `mxstore folder
create-public` and `mxstore folder grant` against a live mxstore, seen over
IMAP by three users:

- NAMESPACE names "Public/" as the shared namespace;
- alice (read-write on News and Team/Plans) appends, stores flags, moves a
  message from her INBOX into a public folder (COPYUID, gone from INBOX);
- bob (read on News) lists only Public and Public/News, SELECT gives
  READ-ONLY, FETCH works, STORE/EXPUNGE/APPEND/COPY into it are refused with
  a reason, COPY out of it into his INBOX works; an IDLE of his on
  Public/News hears alice's APPEND;
- carol (no grant) sees no Public folder by any name or pattern ("Public/*",
  "%", "*", "Public/../News", a trailing "/", case, modified UTF-7 spelling):
  the answers are the same as for a folder that does not exist;
- nobody can CREATE, DELETE or RENAME under Public/;
- `folder grant ... none` takes access away at once; grants survive a restart;
  `folder grants --json` lists them; bad input (unknown user, unknown folder,
  bad access) is refused with a reason.

usage: store_imap_public_test.py MXSTORE"""

import imaplib
import os
import re
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from mxstore import Checks, Store  # noqa: E402

MXSTORE = sys.argv[1]
if os.path.isdir(MXSTORE):
    MXSTORE = os.path.join(MXSTORE, "mxstore")
check = Checks()
root = tempfile.mkdtemp(prefix="mx-imap-public-")
store = Store(MXSTORE, os.path.join(root, "store"))
store.start()
USERS = {"alice@example.test": "a-pw", "bob@example.test": "b-pw", "carol@example.test": "c-pw"}
for u, pw in USERS.items():
    store.add_user(u, pw)
A, B, C = list(USERS)


def session(user):
    return store.imap(user, USERS[user])


def attempt(fn, *args):
    try:
        return fn(*args)
    except imaplib.IMAP4.error as e:
        return "BAD", [str(e).encode()]


def listed(conn, pattern='"*"'):
    typ, data = conn.list('""', pattern)
    return [d.decode() for d in data if d]


def msg(subject):
    return ("From: x@example.org\r\nSubject: %s\r\nMessage-ID: <%s@x>\r\n\r\nbody of %s\r\n" %
            (subject, subject.replace(" ", "."), subject)).encode()


# ---- admin ------------------------------------------------------------------
store.cli("folder", "create-public", "News")
store.cli("folder", "create-public", "Public/Team/Plans")
store.cli("folder", "grant", "News", A, "read-write")
store.cli("folder", "grant", "Public/News", B, "read")
store.cli("folder", "grant", "Team/Plans", A, "read-write")
r = store.cli("folder", "grant", "News", "nobody@example.test", "read", check=False)
check("grant to an unknown user: refused with the reason", r.returncode != 0 and "no such user" in r.stderr, r.stderr)
r = store.cli("folder", "grant", "Nope", A, "read", check=False)
check("grant on an unknown folder: refused, says how to create one",
      r.returncode != 0 and "create-public" in r.stderr, r.stderr)
r = store.cli("folder", "grant", "News", A, "admin", check=False)
check("grant with a bad access: refused", r.returncode != 0 and "read-write" in (r.stderr + r.stdout), r.stderr)
grants = store.cli("--json", "folder", "grants", json_out=True)
check("folder grants --json", grants == {"News": {A: "read-write", B: "read"}, "Team/Plans": {A: "read-write"}}, grants)

a, b, c = session(A), session(B), session(C)
typ, data = a.namespace()
check("NAMESPACE names Public/ as shared", b'(("Public/" "/"))' in data[0], data)

# ---- alice: read-write -------------------------------------------------------
check("alice lists Public, Public/News, Public/Team/Plans",
      any('"Public/News"' in x for x in listed(a)) and any('"Public/Team/Plans"' in x for x in listed(a))
      and any('\\Noselect' in x and x.endswith('"Public"') for x in listed(a)), listed(a))
typ, data = a.append("Public/News", r"(\Flagged)", None, msg("news one"))
check("alice APPENDs to Public/News", typ == "OK", data)
a.append("INBOX", None, None, msg("to move"))
a.select("INBOX")
typ, data = a.uid("MOVE", "1:*", "Public/News")
check("alice MOVEs from her INBOX into Public/News", typ == "OK", data)
typ, data = a.select("INBOX")
check("... and the message left her INBOX", data == [b"0"], data)
typ, data = a.select("Public/News")
check("alice SELECTs Public/News read-write (2 messages)", typ == "OK" and data == [b"2"] and
      "READ-WRITE" in str(a.response("READ-WRITE")), data)
typ, data = a.store("1", "+FLAGS", r"(\Seen)")
check("alice STOREs flags in Public/News", typ == "OK", data)
typ, data = attempt(a.create, "Public/Mine")
check("CREATE under Public/: NO [NOPERM] with the reason", typ == "NO" and b"NOPERM" in data[0], data)
typ, data = attempt(a.delete, "Public/News")
check("DELETE under Public/: NO [NOPERM]", typ == "NO" and b"NOPERM" in data[0], data)
typ, data = attempt(a.rename, "Public/News", "Mine")
check("RENAME of a public folder: NO [NOPERM]", typ == "NO" and b"NOPERM" in data[0], data)

# ---- bob: read ---------------------------------------------------------------
bl = listed(b)
check("bob lists Public and Public/News only",
      any('"Public/News"' in x for x in bl) and not any("Team" in x for x in bl), bl)
try:
    b.select("Public/News")
    read_only = False
except imaplib.IMAP4.readonly:  # imaplib's way of saying the server answered [READ-ONLY]
    read_only = True
check("bob's SELECT of Public/News is READ-ONLY", read_only)
b.select("Public/News", readonly=True)  # imaplib will not go on in a folder it thinks writable
typ, data = b.fetch("1:*", "(BODY.PEEK[])")
check("bob FETCHes the public messages", typ == "OK" and b"news one" in b"".join(x[1] for x in data if isinstance(x, tuple)))
typ, data = attempt(b.store, "1", "+FLAGS", r"(\Deleted)")
check("bob's STORE in a read grant: NO", typ == "NO", data)
typ, data = attempt(b.append, "Public/News", None, None, msg("from bob"))
check("bob's APPEND to a read grant: NO [NOPERM] with the reason", typ == "NO" and b"NOPERM" in data[0], data)
typ, data = b.copy("1", "INBOX")
check("bob COPYs a public message into his INBOX", typ == "OK", data)
typ, data = b.status("INBOX", "(MESSAGES)")
check("... and it is there", b"MESSAGES 1" in data[0], data)
b.select("INBOX")
typ, data = attempt(b.copy, "1", "Public/News")
check("bob's COPY into a read grant: NO [NOPERM]", typ == "NO" and b"NOPERM" in data[0], data)

# bob IDLEs on Public/News; alice appends.
raw = socket.create_connection(store.imap_addr, timeout=10)
rf = raw.makefile("rb")
rf.readline()
raw.sendall(b"i1 LOGIN %s %s\r\ni2 SELECT Public/News\r\ni3 IDLE\r\n" % (B.encode(), USERS[B].encode()))
while not rf.readline().startswith(b"+"):
    pass
a.append("Public/News", None, None, msg("news two"))
seen_exists = False
deadline = time.time() + 10
raw.settimeout(10)
while time.time() < deadline:
    line = rf.readline()
    if re.match(rb"\* 3 EXISTS", line):
        seen_exists = True
        break
check("bob's IDLE on Public/News hears alice's APPEND", seen_exists)
raw.sendall(b"DONE\r\ni4 LOGOUT\r\n")
raw.close()

# ---- carol: nothing granted -------------------------------------------------
for pattern in ('"*"', '"%"', '"Public/*"', '"Public/%"', '"P*"'):
    check("carol's LIST %s shows no public folder" % pattern,
          not any("Public" in x for x in listed(c, pattern)), listed(c, pattern))
verbs = (("SELECT", lambda n: c.select('"%s"' % n)), ("STATUS", lambda n: c.status('"%s"' % n, "(MESSAGES)")),
         ("APPEND", lambda n: c.append('"%s"' % n, None, None, msg("carol"))))
# The answer for a folder that does not exist, with its name in it.
nope = {verb: attempt(fn, "Public/Nope") for verb, fn in verbs}
for verb, fn in verbs:
    typ, data = attempt(fn, "&AFA-ublic/News")  # "P" spelled in modified UTF-7, which RFC 3501 forbids
    check("carol: %s &AFA-ublic/News is BAD: not valid modified UTF-7" % verb,
          typ == "BAD" and b"modified UTF-7" in data[0], data)
for name in ("Public/News", "Public/../News", "Public/News/", "public/News", "Public/Team/Plans", "Public", "#public/News"):
    for verb, fn in verbs:
        typ, data = attempt(fn, name)
        want = (nope[verb][0], [nope[verb][1][0].replace(b"Public/Nope", name.encode())])
        check("carol: %s %s answered exactly as a folder that does not exist" % (verb, name),
              (typ, data[:1]) == want, (typ, data, want))
c.select("INBOX")
c.append("INBOX", None, None, msg("carol own"))
typ, data = attempt(c.copy, "1", "Public/News")
check("carol: COPY into Public/News refused", typ == "NO", data)
typ, data = a.status("Public/News", "(MESSAGES)")
check("Public/News still has alice's 3 messages only", b"MESSAGES 3" in data[0], data)

# ---- revoke, restart ---------------------------------------------------------
store.cli("folder", "grant", "News", B, "none")
typ, data = attempt(b.select, "Public/News")
check("after grant ... none bob cannot select Public/News", typ == "NO", data)
for s in (a, b, c):
    try:
        s.logout()
    except Exception:
        pass
store.stop()
store.start()
a = session(A)
typ, data = a.select("Public/Team/Plans")
check("grants survive a restart", typ == "OK", data)
typ, data = a.status("Public/News", "(MESSAGES)")
check("public messages survive a restart", b"MESSAGES 3" in data[0], data)
a.logout()
sys.exit(check.finish(store, root))
