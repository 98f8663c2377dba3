#!/usr/bin/env python3
"""Equivalence of mxstore's IMAP with Dovecot (issue 7, Must hold 2).

One scripted sequence runs, identically, against a private Dovecot the test
starts and against a private mxstore (both on 127.0.0.1): an acting session
CREATEs folders (nested, one non-ASCII name in modified UTF-7), APPENDs
messages with flags, keywords and explicit internal dates in non-UTC zones,
then STOREs (+FLAGS, -FLAGS, FLAGS, .SILENT, keywords), COPYs, MOVEs,
EXPUNGEs (plain and UID EXPUNGE), RENAMEs folders and APPENDs more, while a
watching session with INBOX selected alternates NOOP polls and IDLE between
the actor's steps. Both servers must end in the same final view (LIST; per
folder every message's BODY[] bytes, FLAGS with keywords, INTERNALDATE,
RFC822.SIZE) and must have sent the same untagged responses to the watching
session, and the same responses to the acting one, up to UID and MODSEQ
values.

What is normalised, and why, is in Normaliser, canonical_order() and
FILTERED_CODES below; each rule is one where the RFCs let servers differ.
\Recent is compared without being required to match (mxstore has none) and
what it alone changes is printed as a NOTE. Where the servers differ the test
prints a diff of the two normalised transcripts and fails, and keeps them
(and the raw responses) in its temporary directory.

usage: store_imap_equivalence_test.py MXSTORE
Exit 77 (skip) when Dovecot is not installed."""

import collections
import difflib
import hashlib
import os
import re
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from mxstore import Checks, Store  # noqa: E402
import dovecot as dovecot_support  # noqa: E402
from dovecot import Dovecot  # noqa: E402

MXSTORE = sys.argv[1]
if os.path.isdir(MXSTORE):
    MXSTORE = os.path.join(MXSTORE, "mxstore")
if not os.access(dovecot_support.DOVECOT, os.X_OK):
    print("SKIP: Dovecot is not installed (no %s; scripts/bootstrap installs dovecot-imapd)" % dovecot_support.DOVECOT)
    sys.exit(77)

IO_TIMEOUT = 20       # s, any one read of a response the script is sure will come
IDLE_SETTLE = 2.0     # s, an IDLE waits at least this long after the actor's step ...
IDLE_QUIET = 1.0      # ... and then until nothing arrived for this long ...
IDLE_LIMIT = 10.0     # ... but never longer than this

# Dovecot keeps a message's internal date as a time_t (the maildir file's
# mtime) and prints it in the imap process's local zone, so it can only give
# back the zone the date was appended with if that is its local zone. Its imap
# processes run in US Mountain time (POSIX rule, no tzdata needed) and every
# APPEND below gives its date in that zone: -0700 in winter, -0600 in summer.
# The dates are then compared exactly as each server prints them.
DOVECOT_TZ = "MST7MDT,M3.2.0,M11.1.0"
DOVECOT_CONF = ("import_environment = TZ=%s CORE_OUTOFMEM CORE_ERROR LISTEN_PID LISTEN_FDS NOTIFY_SOCKET"
                % DOVECOT_TZ)

# --- a raw IMAP client ----------------------------------------------------------


class Literal:
    """A synchronising literal in a command (sent after the server's "+")."""

    def __init__(self, data):
        self.data = data


class ServerGone(Exception):
    pass


class Session:
    """One IMAP connection that records exactly what the server sends.

    run() sends a tagged command and returns (untagged responses, tagged
    response), each a complete response as bytes (literals inlined, CRLF
    stripped), and appends an event to `events` for the transcript. Every
    read has a deadline; the socket is never left in a timed-out state (the
    buffer is ours, not a makefile's)."""

    def __init__(self, name, addr, user, password, events):
        self.name = name
        self.events = events
        self.sock = socket.create_connection(addr, timeout=IO_TIMEOUT)
        self.buf = b""
        self.n = 0
        self.selected = None
        self.greeting = self.read_response(time.time() + IO_TIMEOUT)
        _, tagged = self.run("LOGIN", [b"LOGIN", quote(user), quote(password)], record=False)
        if not tagged.split(b" ")[1:2] == [b"OK"]:
            raise RuntimeError("%s: LOGIN failed: %r" % (name, tagged))

    def _fill(self, deadline):
        """More bytes into the buffer; False when the deadline passed."""
        left = deadline - time.time()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        if not chunk:
            raise ServerGone("%s: the server closed the connection" % self.name)
        self.buf += chunk
        return True

    def read_line(self, deadline):
        while b"\r\n" not in self.buf:
            if not self._fill(deadline):
                return None
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def read_response(self, deadline):
        """One whole response (literals read in), without the final CRLF,
        or None if no complete line came by the deadline (a partial line
        stays in the buffer for the next call). Once a literal has been
        announced, the rest of the response must come within IO_TIMEOUT."""
        line = self.read_line(deadline)
        if line is None:
            return None
        out = line
        while True:
            m = re.search(rb"\{(\d+)\+?\}\r\n$", out)
            if not m:
                return out[:-2]
            n = int(m.group(1))
            hard = time.time() + IO_TIMEOUT  # a literal the server started, it finishes
            while len(self.buf) < n:
                if not self._fill(hard):
                    raise ServerGone("%s: a %d-byte literal did not arrive" % (self.name, n))
            out += self.buf[:n]
            self.buf = self.buf[n:]
            rest = self.read_line(hard)
            if rest is None:
                raise ServerGone("%s: a response did not end after its literal" % self.name)
            out += rest

    def _read_until_tagged(self, tag, untagged):
        deadline = time.time() + IO_TIMEOUT
        while True:
            r = self.read_response(deadline)
            if r is None:
                raise ServerGone("%s: no tagged answer to %s within %d s" % (self.name, tag.decode(), IO_TIMEOUT))
            if r.startswith(tag + b" "):
                return r
            untagged.append(r)

    def _send(self, tag, parts, untagged):
        """Sends the command; for each literal waits for "+" (or a tagged
        refusal, returned)."""
        out = tag
        for p in parts:
            if isinstance(p, Literal):
                self.sock.sendall(out + b" {%d}\r\n" % len(p.data))
                deadline = time.time() + IO_TIMEOUT
                while True:
                    r = self.read_response(deadline)
                    if r is None:
                        raise ServerGone("%s: no continuation for a literal" % self.name)
                    if r.startswith(b"+"):
                        break
                    if r.startswith(tag + b" "):
                        return r
                    untagged.append(r)
                out = p.data
            else:
                out += b" " + p
        self.sock.sendall(out + b"\r\n")
        return None

    def _tag(self):
        self.n += 1
        return b"%s%d" % (self.name[0].encode(), self.n)

    def run(self, label, parts, record=True, **ctx):
        """Runs one command; `label` is what the transcript shows for it
        (without UID values), ctx what Normaliser needs: target (the folder
        of APPEND, COPY, MOVE, SELECT), rename ((old, new))."""
        tag = self._tag()
        untagged = []
        tagged = self._send(tag, parts, untagged) or self._read_until_tagged(tag, untagged)
        if record:
            self.events.append(dict(session=self.name, label=label, selected=self.selected,
                                    untagged=untagged, tagged=tagged, **ctx))
        if label.split(" ")[0] in ("SELECT", "EXAMINE") and tagged.split(b" ")[1:2] == [b"OK"]:
            self.selected = ctx["target"]
        return untagged, tagged

    def idle(self, label, action):
        """IDLE, then action() (the other session's step), then collect what
        arrives (at least IDLE_SETTLE s; then until IDLE_QUIET s of silence;
        at most IDLE_LIMIT s), then DONE. The transcript shows the
        continuation as "+", what came while idling, "(DONE sent)" and
        what came after it up to the tagged OK: an update that only comes
        after DONE was not pushed by IDLE."""
        tag = self._tag()
        untagged = []
        self.sock.sendall(tag + b" IDLE\r\n")
        deadline = time.time() + IO_TIMEOUT
        while True:
            r = self.read_response(deadline)
            if r is None:
                raise ServerGone("%s: no continuation for IDLE" % self.name)
            untagged.append(r)
            if r.startswith(b"+"):
                break
            if r.startswith(tag + b" "):
                raise RuntimeError("%s: IDLE refused: %r" % (self.name, r))
        action()
        start = last = time.time()
        while True:
            now = time.time()
            until = min(start + IDLE_LIMIT, max(start + IDLE_SETTLE, last + IDLE_QUIET))
            if now >= until:
                break
            r = self.read_response(until)
            if r is not None:
                untagged.append(r)
                last = time.time()
        self.sock.sendall(b"DONE\r\n")
        untagged.append(DONE_MARK)
        tagged = self._read_until_tagged(tag, untagged)
        self.events.append(dict(session=self.name, label=label, selected=self.selected,
                                untagged=untagged, tagged=tagged))
        return untagged, tagged

    def close(self):
        try:
            self.run("LOGOUT", [b"LOGOUT"], record=False)
        except (OSError, ServerGone):
            pass
        self.sock.close()


DONE_MARK = b"(DONE sent)"


def quote(s):
    if isinstance(s, str):
        s = s.encode()
    return b'"' + s.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


# --- parsing and normalising responses ------------------------------------------


class Parser:
    """Tokens of IMAP response data: atoms (bytes; BODY[...]<n> kept whole),
    quoted strings and literals (as ("str", bytes)), NIL, lists."""

    def __init__(self, data, i=0):
        self.d, self.i = data, i

    def ws(self):
        while self.i < len(self.d) and self.d[self.i:self.i + 1] == b" ":
            self.i += 1

    def value(self):
        self.ws()
        d = self.d
        c = d[self.i:self.i + 1]
        if c == b"(":
            self.i += 1
            out = []
            while True:
                self.ws()
                if self.i >= len(d):
                    raise ValueError("unterminated list in %r" % d)
                if d[self.i:self.i + 1] == b")":
                    self.i += 1
                    return out
                out.append(self.value())
        if c == b'"':
            j, out = self.i + 1, bytearray()
            while d[j:j + 1] != b'"':
                if j >= len(d):
                    raise ValueError("unterminated quoted string in %r" % d)
                if d[j:j + 1] == b"\\":
                    j += 1
                out += d[j:j + 1]
                j += 1
            self.i = j + 1
            return ("str", bytes(out))
        if c == b"{":
            m = re.compile(rb"\{(\d+)\+?\}\r\n").match(d, self.i)
            n = int(m.group(1))
            self.i = m.end() + n
            return ("str", d[m.end():m.end() + n])
        j, depth = self.i, 0
        while j < len(d):
            ch = d[j:j + 1]
            if ch == b"[":
                depth += 1
            elif ch == b"]":
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and ch in b" ()\"{":
                break
            j += 1
        atom, self.i = d[self.i:j], j
        if not atom:
            raise ValueError("unexpected %r at %d in %r" % (c, self.i, d))
        return atom


def show(v):
    """A token as text again (lists in parentheses, strings quoted)."""
    if isinstance(v, list):
        return "(" + " ".join(show(x) for x in v) + ")"
    if isinstance(v, tuple):
        return '"%s"' % v[1].decode("utf-8", "backslashreplace")
    return v.decode("utf-8", "backslashreplace")


def as_string(v):
    """An astring as a string token, whether the server sent it as an atom
    or quoted (RFC 3501 lets it choose)."""
    return ("str", v) if isinstance(v, bytes) else v


FREE = re.compile(r"\* (FLAGS|LIST|LSUB|STATUS|OK|NO|BAD) |\* \d+ RECENT$")
REPLACING = re.compile(r"\* (FLAGS |OK \[PERMANENTFLAGS |\d+ (RECENT)$)")
SEGMENT = re.compile(r"\* (\d+) (FETCH|EXPUNGE)\b")
FLAGS_ONLY = re.compile(r" FETCH \(FLAGS \([^()]*\)\)$")
EXISTS = re.compile(r"\* \d+ EXISTS$")


def canonical_order(lines):
    """The responses to one command in a form that does not depend on choices
    RFC 3501 leaves to the server (section 7: untagged responses may come in
    any order and at any time, as long as message numbers stay right), nor on
    how a server's push timing happened to batch changes made in quick
    succession:

    - responses that carry no message number (FLAGS, OK [code], LIST,
      STATUS, RECENT) go first, sorted; of several FLAGS (PERMANENTFLAGS,
      RECENT) only the last counts, as each replaces the one before;
    - between two responses that change the message count (EXISTS), FETCH
      responses are moved before the EXPUNGEs, renumbered to what the
      message's number was before those EXPUNGEs, and sorted by it; the
      EXPUNGEs keep their numbers and their order. Of the FETCHes that carry
      only FLAGS, the last for a message counts, and none for a message
      expunged in the same run (the client keeps nothing of it);
    - of EXISTS responses that follow each other, the last counts.
    The tagged response and anything else stay where they are, and nothing
    moves across IDLE's "+" or "(DONE sent)"."""
    out = []
    parts, cur = [], []
    for line in lines:
        if line in ("+", DONE_MARK.decode()):
            parts.append(cur)
            parts.append([line])
            cur = []
        else:
            cur.append(line)
    parts.append(cur)
    for part in parts:
        free = [x for x in part if FREE.match(x)]
        kind = [(m.group(2) or m.group(1)) if m else None for m in map(REPLACING.match, free)]
        free = [x for i, x in enumerate(free) if kind[i] is None or kind[i] not in kind[i + 1:]]
        out += sorted(free)
        rest = [x for x in part if not FREE.match(x)]
        k = 0
        while k < len(rest):
            if EXISTS.match(rest[k]) and k + 1 < len(rest) and EXISTS.match(rest[k + 1]):
                k += 1
                continue
            if not SEGMENT.match(rest[k]):
                out.append(rest[k])
                k += 1
                continue
            fetches, expunges, gone = [], [], []
            while k < len(rest) and SEGMENT.match(rest[k]):
                m = SEGMENT.match(rest[k])
                n = int(m.group(1))
                for e in sorted(gone):  # n's number before this run's EXPUNGEs
                    if e <= n:
                        n += 1
                if m.group(2) == "FETCH":
                    fetches.append((n, "* %d FETCH%s" % (n, rest[k][m.end():])))
                else:
                    expunges.append(rest[k])
                    gone.append(n)
                k += 1
            kept = []
            for i, (n, x) in enumerate(fetches):
                if FLAGS_ONLY.search(x) and (n in gone or any(n2 == n and FLAGS_ONLY.search(x2)
                                                              for n2, x2 in fetches[i + 1:])):
                    continue
                kept.append((n, x))
            out += [x for _, x in sorted(kept, key=lambda p: p[0])] + expunges
    return out


def uid_set(text):
    """[uid, ...] of a sequence set like 3:5,9 (in the order written)."""
    out = []
    for part in text.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out += list(range(a, b + 1)) if a <= b else list(range(a, b - 1, -1))
        else:
            out.append(int(part))
    return out


# Response codes (and untagged responses) left out of the comparison, and why.
# The test prints how many of each it left out of each server's responses.
FILTERED_CODES = {
    # CONDSTORE state (RFC 7162): MODSEQ values are outside the comparison.
    # The script never uses CONDSTORE, so neither server should send these;
    # a server that sends them unasked is not told apart here.
    "HIGHESTMODSEQ", "NOMODSEQ",
    # The servers advertise different extensions (mxstore: no
    # CONDSTORE/QRESYNC yet); the script uses none that both do not have.
    "CAPABILITY",
}


class Normaliser:
    """Turns one server's events into transcript lines that are equal for two
    servers that behaved the same up to what the RFCs leave to the server:

    - UIDs become per-folder indices in order of first appearance ("INBOX#3"),
      folders followed through RENAME; UIDVALIDITY and UIDNEXT values and
      MODSEQ become placeholders (UIDNEXT is still required to be there);
    - the human-readable text after a status response (and any response code)
      is dropped; an untagged OK with no response code is dropped (Dovecot's
      "* OK Still here" keepalives in IDLE), as are FILTERED_CODES;
    - flag lists are sorted and FETCH items are sorted by name (RFC 3501
      fixes no order); the responses to one command are then put in the
      order canonical_order() describes;
    - message bodies are shown as length and SHA-256;
    - with mask_recent: "* n RECENT" and the \\Recent flag are dropped. RFC
      9051 removed \\Recent, and mxstore never marks a message recent (it
      always says "* 0 RECENT"), so the comparison is made without it; the
      test reports separately what \\Recent alone changes."""

    def __init__(self, mask_recent):
        self.mask_recent = mask_recent
        self.uids = {}  # folder -> {uid: index}
        self.filtered = collections.Counter()  # what was left out, for the log

    def uid(self, folder, u):
        m = self.uids.setdefault(folder, {})
        if u not in m:
            m[u] = len(m) + 1
        return "%s#%d" % (folder, m[u])

    def rename(self, old, new):
        for f in list(self.uids):
            if f == old or f.startswith(old + "/"):
                self.uids[new + f[len(old):]] = self.uids.pop(f)

    def flags(self, lst):
        out = sorted(show(f) for f in lst if not (self.mask_recent and f.lower() == b"\\recent"))
        if len(out) < len(lst):
            self.filtered["\\Recent flag"] += 1
        return "(" + " ".join(out) + ")"

    def code(self, text, ev):
        """The normalised response code at the start of `text` (b"[...] ..."),
        "" for none, None when the whole code is filtered."""
        if not text.startswith(b"["):
            return ""
        end = text.find(b"]")
        if text.startswith(b"[PERMANENTFLAGS"):
            end = text.find(b")]") + 1
        body = text[1:end]
        name, _, args = body.partition(b" ")
        name = name.decode().upper()
        if name in FILTERED_CODES:
            self.filtered["[%s]" % name] += 1
            return None
        if name in ("UIDVALIDITY", "UIDNEXT"):
            return "[%s <n>]" % name
        if name == "PERMANENTFLAGS":
            return "[PERMANENTFLAGS %s]" % self.flags(Parser(args).value())
        if name == "APPENDUID":
            uv, uids = args.split(b" ")
            return "[APPENDUID <uv> %s]" % ",".join(self.uid(ev["target"], u) for u in uid_set(uids.decode()))
        if name == "COPYUID":
            uv, src, dst = args.split(b" ")
            return "[COPYUID <uv> %s %s]" % (",".join(self.uid(ev["selected"], u) for u in uid_set(src.decode())),
                                              ",".join(self.uid(ev["target"], u) for u in uid_set(dst.decode())))
        return "[%s]" % body.decode("utf-8", "backslashreplace")

    def fetch(self, seq, data, ev):
        items = Parser(data).value()
        pairs = []
        for k in range(0, len(items), 2):
            name, val = items[k].decode().upper(), items[k + 1]
            if name == "MODSEQ":
                self.filtered["FETCH MODSEQ"] += 1
                continue
            if name == "FLAGS":
                v = self.flags(val)
            elif name == "UID":
                v = self.uid(ev["selected"], int(val))
            elif name.startswith("BODY[") or (name.startswith("RFC822") and name != "RFC822.SIZE"):
                body = val[1] if isinstance(val, tuple) else b""
                v = "<%d bytes sha256:%s>" % (len(body), hashlib.sha256(body).hexdigest()[:16])
            else:
                v = show(val)
            pairs.append((name, v))
        return "* %d FETCH (%s)" % (seq, " ".join("%s %s" % p for p in sorted(pairs)))

    def response(self, r, ev):
        """One response as a transcript line, or None when filtered."""
        if r.startswith(b"+"):
            return "+"
        if r == DONE_MARK:
            return DONE_MARK.decode()
        tag, _, rest = r.partition(b" ")
        if tag != b"*":
            status, _, text = rest.partition(b" ")
            code = self.code(text, ev)
            return status.decode().upper() + (" " + code if code else "")
        word, _, data = rest.partition(b" ")
        if word.isdigit():
            kind, _, data = data.partition(b" ")
            kind = kind.decode().upper()
            if kind == "FETCH":
                return self.fetch(int(word), data, ev)
            if kind == "RECENT" and self.mask_recent:
                self.filtered["* n RECENT"] += 1
                return None
            return "* %s %s" % (word.decode(), kind) + (" " + data.decode() if data else "")
        kind = word.decode().upper()
        if kind in ("OK", "NO", "BAD", "BYE", "PREAUTH"):
            code = self.code(data, ev)
            if code is None:
                return None
            if kind == "OK" and code == "":
                self.filtered["* OK without a code"] += 1
                return None
            return "* %s%s" % (kind, " " + code if code else "")
        if kind in FILTERED_CODES:
            self.filtered["* " + kind] += 1
            return None
        if kind == "FLAGS":
            return "* FLAGS " + self.flags(Parser(data).value())
        if kind in ("LIST", "LSUB"):
            p = Parser(data)
            attrs, delim, name = p.value(), p.value(), p.value()
            return "* %s %s %s %s" % (kind, self.flags(attrs), show(delim), show(as_string(name)))
        return "* %s %s" % (kind, data.decode("utf-8", "backslashreplace"))

    def events(self, events):
        lines = []
        for ev in events:
            lines.append("[%s] %s" % (ev["session"], ev["label"]))
            out = []
            for r in ev["untagged"] + [ev["tagged"]]:
                try:
                    line = self.response(r, ev)
                except (ValueError, IndexError, AttributeError) as e:
                    line = "UNPARSED %r (%s)" % (r[:200], e)
                if line is not None:
                    out.append(line)
            out = canonical_order(out)
            lines += ["    " + s for s in out]
            if ev.get("rename") and ev["tagged"].split(b" ")[1:2] == [b"OK"]:
                self.rename(*ev["rename"])
        return lines


# --- the script ---------------------------------------------------------------


def message(key, subject, body, extra=b""):
    return (b"From: Carol <carol@example.org>\r\nTo: alice@example.test\r\nSubject: " + subject + b"\r\n"
            b"Date: Mon, 2 Feb 2026 10:00:00 +0100\r\nMessage-ID: <" + key.encode() + b"@example.org>\r\n"
            b"X-Test-Id: " + key.encode() + b"\r\n" + extra + b"\r\n" + body)


MSGS = {
    "m1": message("m1", b"first", b"one\r\n"),
    "m2": message("m2", b"caf\xc3\xa9", b"Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9e\r\n" + b"x" * 3000 + b"\r\n",
                  b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"),
    "m3": message("m3", b"third", b"three\r\n.\r\n..dots\r\n"),
    "m4": message("m4", b"fourth", b"four\r\n" * 200),
    "m5": message("m5", b"project", b"plans\r\n"),
    "m6": message("m6", b"draft", b"Entwurf\r\n"),
    "m7": message("m7", b"seventh", b"seven\r\n"),
    "m8": message("m8", b"eighth", b"eight\r\n"),
    "m9": message("m9", b"ninth", b"nine\r\n"),
    "m10": message("m10", b"tenth", b"ten\r\n" + b"y" * 70000 + b"\r\n"),
}
# US Mountain time (see DOVECOT_TZ): -0600 in summer, -0700 in winter,
# including both 01:30s of the night DST ended in 2023 and the first hour of
# the day it began in 2020. All in the past: Dovecot replaces an internal
# date more than a day or two ahead of its clock with the current time.
DATES = {
    "m1": "17-Jul-1996 02:44:25 -0600",
    "m2": "01-Jan-2025 23:59:59 -0700",
    "m3": "29-Feb-2024 12:00:00 -0700",
    "m4": "15-Aug-2025 08:30:00 -0600",
    "m5": "05-Nov-2023 01:30:00 -0600",
    "m6": "05-Nov-2023 01:30:00 -0700",
    "m7": "31-Dec-1999 23:59:59 -0700",
    "m8": "04-Jul-2010 12:00:00 -0600",
    "m9": "08-Mar-2020 03:00:00 -0600",
    "m10": "02-Feb-2025 10:00:00 -0700",
}


def run_script(addr, user, password):
    """Runs the script against one server; returns (events of the actor and
    watcher in the order they completed, events of the final view)."""
    events = []
    uids = {}  # message key -> UID in INBOX, from APPENDUID
    a = Session("actor", addr, user, password, events)
    w = Session("watcher", addr, user, password, events)

    def A(label, parts, **ctx):
        return a.run(label, parts, **ctx)

    def append(folder, key, flags):
        _, tagged = A("APPEND %s %s %s %s" % (folder, flags, DATES[key], key),
                      [b"APPEND", quote(folder), flags.encode(), quote(DATES[key]), Literal(MSGS[key])],
                      target=folder)
        m = re.search(rb"\[APPENDUID \d+ (\d+)\]", tagged)
        if m and folder == "INBOX":
            uids[key] = m.group(1).decode()

    def noop():
        w.run("NOOP", [b"NOOP"])

    # Folders: nested, and one non-ASCII name (Entwürfe) in modified UTF-7.
    for f in ("Projects", "Projects/2026", "Entw&APw-rfe", "Entw&APw-rfe/Briefe"):
        A("CREATE " + f, [b"CREATE", quote(f)])
    A('LIST "" *', [b"LIST", b'""', b"*"])
    append("INBOX", "m1", r"(\Seen $Work)")
    append("INBOX", "m2", r"(\Flagged)")
    append("INBOX", "m3", "()")
    append("INBOX", "m4", r"(\Answered $Label1)")
    append("Projects/2026", "m5", r"($Work \Seen)")
    append("Entw&APw-rfe/Briefe", "m6", r"(\Draft)")

    w.run("SELECT INBOX", [b"SELECT", b"INBOX"], target="INBOX")
    A("SELECT INBOX", [b"SELECT", b"INBOX"], target="INBOX")
    A(r"STORE 2 +FLAGS (\Seen)", [b"STORE", b"2", b"+FLAGS", rb"(\Seen)"])
    noop()
    A(r"STORE 3 +FLAGS.SILENT (\Flagged $Todo)", [b"STORE", b"3", b"+FLAGS.SILENT", rb"(\Flagged $Todo)"])
    A("STORE 1 -FLAGS ($Work)", [b"STORE", b"1", b"-FLAGS", b"($Work)"])
    noop()
    w.idle("IDLE while the actor: STORE 4 FLAGS (\\Seen $Work)",
           lambda: A(r"STORE 4 FLAGS (\Seen $Work)", [b"STORE", b"4", b"FLAGS", rb"(\Seen $Work)"]))
    append("INBOX", "m7", r"(\Seen)")
    noop()
    w.idle("IDLE while the actor: APPEND INBOX m8", lambda: append("INBOX", "m8", "($Label1)"))
    A("COPY 1:2 Projects/2026", [b"COPY", b"1:2", b"Projects/2026"], target="Projects/2026")
    A("UID COPY <m3> Entw&APw-rfe", [b"UID", b"COPY", uids["m3"].encode(), b"Entw&APw-rfe"], target="Entw&APw-rfe")
    noop()
    w.idle("IDLE while the actor: MOVE 2 Archive",
           lambda: A("MOVE 2 Archive", [b"MOVE", b"2", b"Archive"], target="Archive"))
    # INBOX is m1 m3 m4 m7 m8; expunging 1 and 3 (m1, m4) leaves m3 m7 m8.
    A(r"STORE 1,3 +FLAGS.SILENT (\Deleted)", [b"STORE", b"1,3", b"+FLAGS.SILENT", rb"(\Deleted)"])
    A("EXPUNGE", [b"EXPUNGE"])
    noop()

    def uid_expunge():
        A(r"UID STORE <m7>,<m8> +FLAGS.SILENT (\Deleted)",
          [b"UID", b"STORE", ("%s,%s" % (uids["m7"], uids["m8"])).encode(), b"+FLAGS.SILENT", rb"(\Deleted)"])
        A("UID EXPUNGE <m8>", [b"UID", b"EXPUNGE", uids["m8"].encode()])
    w.idle("IDLE while the actor: UID STORE +FLAGS.SILENT \\Deleted on m7 and m8, UID EXPUNGE m8", uid_expunge)
    # Folders nobody has selected: a parent with a child holding messages, and
    # the non-ASCII one's child to a non-ASCII name (Entwürfe/Älter).
    A("RENAME Projects Work", [b"RENAME", b"Projects", b"Work"], rename=("Projects", "Work"))
    A("RENAME Entw&APw-rfe/Briefe Entw&APw-rfe/&AMQ-lter", [b"RENAME", b"Entw&APw-rfe/Briefe", b"Entw&APw-rfe/&AMQ-lter"],
      rename=("Entw&APw-rfe/Briefe", "Entw&APw-rfe/&AMQ-lter"))
    A('LIST "" *', [b"LIST", b'""', b"*"])
    noop()

    def two_appends():
        append("INBOX", "m9", "()")
        append("INBOX", "m10", r"(\Flagged \Seen)")
    w.idle("IDLE while the actor: APPEND INBOX m9, m10", two_appends)
    A("FETCH 1 (BODY[])", [b"FETCH", b"1", b"(BODY[])"])  # sets \Seen on m3
    noop()
    A(r"STORE 2 -FLAGS.SILENT (\Deleted)", [b"STORE", b"2", b"-FLAGS.SILENT", rb"(\Deleted)"])
    A("EXPUNGE", [b"EXPUNGE"])
    noop()
    w.run("FETCH 1:* (UID FLAGS)", [b"FETCH", b"1:*", b"(UID FLAGS)"])
    # The watcher moves to a folder that was renamed, and hears the actor's
    # changes there.
    w.run("SELECT Work/2026", [b"SELECT", b"Work/2026"], target="Work/2026")
    A("SELECT Work/2026", [b"SELECT", b"Work/2026"], target="Work/2026")
    w.idle("IDLE while the actor: STORE 1:2 +FLAGS (\\Answered) in Work/2026",
           lambda: A(r"STORE 1:2 +FLAGS (\Answered)", [b"STORE", b"1:2", b"+FLAGS", rb"(\Answered)"]))
    A("MOVE 3 INBOX", [b"MOVE", b"3", b"INBOX"], target="INBOX")
    noop()
    w.run("FETCH 1:* (UID FLAGS)", [b"FETCH", b"1:*", b"(UID FLAGS)"])
    a.close()
    w.close()

    final = []
    f = Session("final", addr, user, password, final)
    untagged, _ = f.run('LIST "" *', [b"LIST", b'""', b"*"])
    names = []
    for r in untagged:
        if r.startswith(b"* LIST "):
            p = Parser(r, len(b"* LIST "))
            attrs, _, name = p.value(), p.value(), p.value()
            if not any(x.lower() == b"\\noselect" for x in attrs):
                names.append(show(name).strip('"'))
    for name in sorted(names):
        untagged, _ = f.run("EXAMINE " + name, [b"EXAMINE", quote(name)], target=name)
        if b"* 0 EXISTS" in untagged:
            continue
        f.run("FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])",
              [b"FETCH", b"1:*", b"(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"])
    f.close()
    return events, final


def transcript(events, final, mask_recent):
    """(sessions' lines, final view's lines, Counter of what was left out)."""
    n = Normaliser(mask_recent)
    return n.events(events), n.events(final), n.filtered


def diff(a, b, what):
    return "\n".join(difflib.unified_diff(a, b, "dovecot " + what, "mxstore " + what, lineterm="", n=4))


def main():
    check = Checks()
    root = tempfile.mkdtemp(prefix="mx-imap-equiv-")
    os.chmod(root, 0o711)  # Dovecot's auth and mail users reach their files under it
    results = {}
    dv = Dovecot(os.path.join(root, "dovecot"), separator="/", extra_conf=DOVECOT_CONF)
    with dv:
        results["dovecot"] = run_script((dv.host, dv.port), "alice", dv.users["alice"])
    store = Store(MXSTORE, os.path.join(root, "store"))
    store.start()
    try:
        store.add_user("alice@example.test", "alice-pw")
        results["mxstore"] = run_script(store.imap_addr, "alice@example.test", "alice-pw")
    except BaseException:
        store.stop()
        raise

    t = {}
    for mask in (True, False):
        t[mask] = {side: transcript(ev, fin, mask) for side, (ev, fin) in results.items()}
    for side, (ev, fin) in results.items():
        with open(os.path.join(root, "%s-raw.txt" % side), "w") as out:
            for e in ev + fin:
                out.write("[%s] %s\n" % (e["session"], e["label"]))
                out.write("".join("    %r\n" % r for r in e["untagged"] + [e["tagged"]]))
    for side in ("dovecot", "mxstore"):
        print("left out of %s's responses: %s" % (side, ", ".join("%s x%d" % kv for kv in sorted(t[True][side][2].items()))
                                                 or "nothing"))
    for k, what in ((0, "sessions"), (1, "final view")):
        name = what.replace(" ", "-")
        for side in ("dovecot", "mxstore"):
            with open(os.path.join(root, "%s-%s.txt" % (side, name)), "w") as out:
                out.write("\n".join(t[True][side][k]) + "\n")
        d, m = t[True]["dovecot"][k], t[True]["mxstore"][k]
        if not check("%s: mxstore's responses are Dovecot's (\\Recent masked)" % what, d == m, "the diff follows"):
            print(diff(d, m, what))
        d, m = t[False]["dovecot"][k], t[False]["mxstore"][k]
        if d != m:
            counts = {side: (sum(1 for x in t[False][side][k] if re.match(r" *\* [1-9]\d* RECENT$", x)),
                             sum(1 for x in t[False][side][k] if "\\Recent" in x))
                      for side in ("dovecot", "mxstore")}
            print("NOTE %s: \\Recent alone also differs: Dovecot sent %d non-zero RECENT counts and %d responses "
                  "with \\Recent, mxstore %d and %d." % ((what,) + counts["dovecot"] + counts["mxstore"]))
            if t[True]["dovecot"][k] == t[True]["mxstore"][k]:
                print(diff(d, m, what + " (\\Recent not masked)"))
            else:
                with open(os.path.join(root, "recent-%s.diff" % name), "w") as out:
                    out.write(diff(d, m, what + " (\\Recent not masked)") + "\n")
    if check.failures:
        print("normalised transcripts kept in %s" % root)
    return check.finish(store, root)


if __name__ == "__main__":
    sys.exit(main())
