#!/usr/bin/env python3
"""Concurrency in mxstore's IMAP (issue 7, Must hold 3):

- one session expunges messages while another fetches the same folder over
  and over: every FETCH answers exactly the messages the fetching session
  knows, numbered 1..n without gaps and UIDs ascending (no expunge shifts
  numbers under a command in flight); its NOOP then reports the expunges and
  its view matches the store;
- clients killed mid-APPEND (synchronising and LITERAL+ literals): nothing
  partial is stored, the server goes on serving;
- (IDLE woken by a delivery is in store_imap_test.)
Bounded in count and time.

usage: store_imap_concurrency_test.py MXSTORE"""

import os
import re
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from mxstore import Checks, Store  # noqa: E402

MXSTORE = sys.argv[1]
if os.path.isdir(MXSTORE):
    MXSTORE = os.path.join(MXSTORE, "mxstore")
check = Checks()
root = tempfile.mkdtemp(prefix="mx-imap-conc-")
store = Store(MXSTORE, os.path.join(root, "store"))
store.start()
USER, PW = "alice@example.test", "alice-pw"
store.add_user(USER, PW)


def connect():
    return store.imap(USER, PW)


N = 200
try:
    a = connect()
    for i in range(N):
        a.append("INBOX", None, None, b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i))
    typ, data = a.select("INBOX")
    known = int(data[0])
    check("%d messages to work on" % N, known == N, data)

    # ---- expunge in one session while another fetches ----
    stop = threading.Event()
    expunged = []

    def expunger():
        b = connect()
        b.select("INBOX")
        for k in range(60):  # bounded
            if stop.is_set():
                break
            typ, data = b.search(None, "ALL")
            nums = data[0].split()
            if len(nums) < 10:
                break
            target = nums[len(nums) // 2]
            b.store(target, "+FLAGS.SILENT", "(\\Deleted)")
            typ, _ = b.expunge()
            if typ == "OK":
                expunged.append(target)
        b.logout()

    t = threading.Thread(target=expunger, daemon=True)
    t.start()
    problems = []
    fetches = 0
    deadline = time.time() + 30
    while t.is_alive() and time.time() < deadline:
        a.untagged_responses.clear()
        typ, data = a.fetch("1:*", "(UID RFC822.SIZE)")
        fetches += 1
        nums = [int(d.split(b" ", 1)[0]) for d in data if d]
        uids = [int(re.search(rb"UID (\d+)", d).group(1)) for d in data if d]
        if typ != "OK" or nums != list(range(1, known + 1)) or uids != sorted(uids):
            problems.append((typ, len(nums), known))
        if a.untagged_responses.get("EXPUNGE"):
            problems.append(("EXPUNGE during FETCH", a.untagged_responses["EXPUNGE"]))
        if fetches % 5 == 0:
            a.untagged_responses.clear()
            a.noop()
            known -= len(a.untagged_responses.get("EXPUNGE", []))
            exists = a.untagged_responses.get("EXISTS")
            if exists and int(exists[-1]) != known:
                problems.append(("EXISTS after NOOP", exists, known))
    stop.set()
    t.join(timeout=30)
    check("%d FETCHes of the whole folder during %d expunges by another session: numbers 1..n, no gaps, "
          "no EXPUNGE inside a FETCH" % (fetches, len(expunged)), fetches > 0 and len(expunged) > 0 and not problems,
          problems[:5])
    a.untagged_responses.clear()
    a.noop()
    known -= len(a.untagged_responses.get("EXPUNGE", []))
    fresh = connect()
    typ, data = fresh.select("INBOX")
    check("after NOOP the session's view has as many messages as the store (%d)" % known,
          int(data[0]) == known == N - len(expunged), (data, known, N - len(expunged)))

    # ---- clients killed mid-APPEND ----
    before = int(fresh.select("INBOX")[1][0])
    for plus in (False, True):
        s = socket.create_connection(store.imap_addr, timeout=10)
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"k1 LOGIN %s %s\r\n" % (USER.encode(), PW.encode()))
        while not f.readline().startswith(b"k1 "):
            pass
        size = 200000
        s.sendall(b"k2 APPEND INBOX {%d%s}\r\n" % (size, b"+" if plus else b""))
        if not plus:
            check("the server asks for the literal", f.readline().startswith(b"+"))
        s.sendall(b"Subject: half\r\n\r\n" + b"x" * (size // 2))
        s.close()  # vanishes mid-literal
    time.sleep(0.3)
    typ, data = fresh.select("INBOX")
    check("clients that vanished mid-APPEND stored nothing", int(data[0]) == before, (data, before))
    typ, data = fresh.append("INBOX", None, None, b"Subject: after\r\n\r\nstill serving\r\n")
    check("and the server goes on serving", typ == "OK", data)
    fresh.logout()
    a.logout()
except BaseException:
    store.stop()
    raise
sys.exit(check.finish(store, root))
