#!/usr/bin/env python3
"""kill -9 of mxstore under IMAP load (issue 7, Must hold 4).

Four clients, each in its own folder, run a bounded loop of APPEND (with
flags), STORE and EXPUNGE, recording what the server answered OK to and what
was in flight. mxstore is killed with SIGKILL at a random moment, then
restarted. Every change that got OK must be there; a change in flight may or
may not be, but nothing half-done: every message present is byte-exact with
the flags of an APPEND or STORE that was sent for it, and no message whose
EXPUNGE got OK is back. Three rounds, each bounded in count and time.

usage: store_imap_crash_test.py MXSTORE"""

import os
import random
import re
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from mxstore import Checks, Store  # noqa: E402

MXSTORE = sys.argv[1]
if os.path.isdir(MXSTORE):
    MXSTORE = os.path.join(MXSTORE, "mxstore")
CLIENTS, ROUNDS, MAX_OPS, MAX_SECONDS = 4, 3, 400, 20
FLAGSETS = ["()", "(\\Seen)", "(\\Flagged)", "(\\Answered \\Seen)", "($Work)", "(\\Draft $Later)"]

check = Checks()
root = tempfile.mkdtemp(prefix="mx-imap-crash-")
store = Store(MXSTORE, os.path.join(root, "store"))
store.start()
USER, PW = "alice@example.test", "alice-pw"
store.add_user(USER, PW)
setup = store.imap(USER, PW)
for rnd in range(ROUNDS):
    for c in range(CLIENTS):
        setup.create("round%d/load%d" % (rnd, c))  # each round's clients start from empty folders
setup.logout()


def flagset(text):
    return frozenset(text.strip("()").split())


class Client(threading.Thread):
    """One client's bounded loop; its record of what got OK and what was in flight."""

    def __init__(self, n, rnd, seed):
        super().__init__(daemon=True)
        self.n, self.rnd, self.rng = n, rnd, random.Random(seed)
        self.folder = "round%d/load%d" % (rnd, n)
        self.acked = {}      # message id -> bytes, APPEND answered OK
        self.uid = {}        # message id -> UID (APPENDUID)
        self.flags_ok = {}   # message id -> flags of the last STORE/APPEND answered OK
        self.pending = {}    # message id -> flags of a STORE sent and not answered
        self.expunged = set()  # answered OK
        self.expunging = set()  # sent, not answered
        self.in_flight_append = {}  # message id -> bytes (sent, no answer)
        self.ops = 0

    def run(self):
        try:
            m = store.imap(USER, PW)
            m.select(self.folder)
        except Exception:
            return
        deadline = time.time() + MAX_SECONDS
        k = 0
        while self.ops < MAX_OPS and time.time() < deadline:
            self.ops += 1
            live = [i for i in self.acked if i not in self.expunged and i not in self.expunging]
            op = self.rng.random()
            try:
                if op < 0.5 or not live:
                    k += 1
                    mid = "<r%d-c%d-%d@example.org>" % (self.rnd, self.n, k)
                    body = ("Subject: %s\r\nMessage-ID: %s\r\n\r\n" % (mid, mid)).encode() + \
                        os.urandom(self.rng.randrange(100, 20000)).hex().encode() + b"\r\n"
                    fl = self.rng.choice(FLAGSETS)
                    self.in_flight_append[mid] = (body, flagset(fl))
                    typ, data = m.append(self.folder, fl if fl != "()" else None, None, body)
                    if typ == "OK":
                        del self.in_flight_append[mid]
                        self.acked[mid] = body
                        self.uid[mid] = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
                        self.flags_ok[mid] = flagset(fl)
                elif op < 0.8:
                    mid = self.rng.choice(live)
                    fl = self.rng.choice(FLAGSETS)
                    self.pending[mid] = flagset(fl)
                    typ, _ = m.uid("STORE", str(self.uid[mid]), "FLAGS.SILENT", fl)
                    if typ == "OK":
                        self.flags_ok[mid] = self.pending.pop(mid)
                else:
                    mid = self.rng.choice(live)
                    self.expunging.add(mid)
                    self.pending[mid] = self.flags_ok[mid] | {"\\Deleted"}
                    typ, _ = m.uid("STORE", str(self.uid[mid]), "+FLAGS.SILENT", "(\\Deleted)")
                    if typ == "OK":
                        self.flags_ok[mid] = self.pending.pop(mid)
                        typ, _ = m.uid("EXPUNGE", str(self.uid[mid]))
                        if typ == "OK":
                            self.expunging.discard(mid)
                            self.expunged.add(mid)
            except Exception:
                return  # the server is gone


for rnd in range(ROUNDS):
    clients = [Client(c, rnd, rnd * 100 + c) for c in range(CLIENTS)]
    for c in clients:
        c.start()
    time.sleep(random.Random(rnd).uniform(0.8, 2.5))
    store.kill9()
    for c in clients:
        c.join(timeout=30)
    store.start()
    m = store.imap(USER, PW)
    total_ok = lost = zombie = bad = 0
    for c in clients:
        typ, data = m.select(c.folder)
        present = {}
        if data[0] != b"0":
            typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[])")
            for item in data:
                if isinstance(item, tuple):
                    mid = re.search(rb"Message-ID: (<[^>]+>)", item[1]).group(1).decode()
                    flags = frozenset(re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split())
                    present[mid] = (item[1], flags)
        for mid, body in c.acked.items():
            total_ok += 1
            if mid in c.expunged:
                zombie += mid in present
            elif mid not in present:
                lost += mid not in c.expunging  # an expunge in flight may have landed
            elif present[mid][0] != body:
                bad += 1
            elif present[mid][1] not in (c.flags_ok[mid], c.pending.get(mid)):
                bad += 1  # a STORE answered OK is there, unless the one in flight replaced it
        for mid, (data_, flags) in present.items():
            if mid not in c.acked:  # only an APPEND in flight may have landed, and whole, with its flags
                if mid not in c.in_flight_append or (data_, flags) != c.in_flight_append[mid]:
                    bad += 1
    ops = sum(c.ops for c in clients)
    check("round %d: kill -9 after %d operations: all %d acknowledged APPENDs there (lost %d), "
          "no acknowledged EXPUNGE undone (%d), nothing half-done (%d)" % (rnd + 1, ops, total_ok, lost, zombie, bad),
          total_ok > 0 and lost == 0 and zombie == 0 and bad == 0)
    m.logout()

sys.exit(check.finish(store, root))
