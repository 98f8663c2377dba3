"""A deterministic corpus of hard cases for IMAP backup tests, and the
imaplib code to load it into a server and read it back.

build() returns Msg(folder, data, flags, internaldate) records: folders use
"/" as the hierarchy separator and UTF-8 names (folder_for() maps them to a
server's separator); data is the exact message (CRLF line endings, no NUL);
internaldate is an IMAP date-time string. The same arguments always give the
same bytes (seeded random).

Hard cases: non-ASCII and non-BMP folder names, "&", quotes and backslashes
in names, nesting three levels deep, empty folders and an empty parent,
8-bit MIME bodies (UTF-8 and Latin-1), raw UTF-8 in a header, a binary MIME
part, a 10,000-byte folded Subject and a 2,000-byte unfolded References, a
200,000-byte body line, a header-only message, a message without a final
CRLF, identical messages in one folder, every system flag and custom
keywords, internal dates in zones from -1200 to +1400 (one on 1-Jan-1970),
one big_mb MB message and a few hundred ordinary ones.

Servers keep the instant of an internal date, not its zone (Dovecot's
Maildir keeps it as the file's mtime), so compare with internaldate_epoch().
Dovecot replaces an internal date in the future with the time of the
APPEND, so the corpus has none (the latest year is 2020); and it caches
internal dates as unsigned 32-bit, so one before 1970 reads back right at
first and as a date in 2106 later: the corpus has none of those either.
"""

import base64
import calendar
import collections
import imaplib
import random
import re

Msg = collections.namedtuple("Msg", "folder data flags internaldate")

SYSTEM_FLAGS = [r"\Seen", r"\Answered", r"\Flagged", r"\Deleted", r"\Draft"]
KEYWORDS = ["$Forwarded", "$Junk", "Work", "$label1"]

# Folders with messages. No name contains "." (Maildir++ uses it as the
# separator) or "/" inside a level.
FOLDERS = [
    "INBOX",
    "Entwürfe",
    "日本語",
    "日本語/子",
    "日本語/子/孫",
    "Ελληνικά",
    "Emoji 😀 box",
    "Work & Play",
    'Quote "q" \\ back',
    "Projects/Alpha",
    "Projects/Alpha/Specs",
    "Sent",
    "Drafts",
]
# Created but left empty: a plain folder, an empty parent (Projects has only
# children), and an empty leaf three levels down.
EMPTY_FOLDERS = ["Empty", "Projects", "Archive/2019/Q1"]
ZONES = ["-1200", "-0700", "-0330", "+0000", "+0100", "+0530", "+0545", "+0900", "+1400"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def empty_folders():
    """Folders ("/"-separated) that populate() creates without messages."""
    return list(EMPTY_FOLDERS)


def expected_folders(msgs):
    """Every folder populate() creates or fills, "/"-separated."""
    return sorted(set(m.folder for m in msgs) | set(EMPTY_FOLDERS))


def folder_for(name, separator):
    """`name` ("/"-separated) with the server's separator. With "." a level
    must not contain "." (ValueError)."""
    if separator == "/":
        return name
    parts = name.split("/")
    if any(separator in p for p in parts):
        raise ValueError("folder level contains the separator %r: %r" % (separator, name))
    return separator.join(parts)


# --- modified UTF-7 (RFC 3501 section 5.1.3) ------------------------------

def utf7_encode(s):
    """Modified UTF-7 of a str (mailbox names on the wire)."""
    out, run = [], []

    def flush():
        if run:
            b = base64.b64encode("".join(run).encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + b.replace("/", ",") + "-")
            del run[:]

    for ch in s:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def utf7_decode(s):
    """The str of a modified UTF-7 name (bytes or str); ValueError if malformed."""
    if isinstance(s, bytes):
        s = s.decode("ascii")
    out, i = [], 0
    while i < len(s):
        ch = s[i]
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        j = s.find("-", i)
        if j < 0:
            raise ValueError("unterminated & in %r" % s)
        if j == i + 1:
            out.append("&")
        else:
            b = s[i + 1:j].replace(",", "/")
            raw = base64.b64decode(b + "=" * (-len(b) % 4))
            out.append(raw.decode("utf-16-be"))
        i = j + 1
    return "".join(out)


def quote(name):
    """An IMAP quoted string of an (ASCII, modified UTF-7) mailbox name."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- building messages ---------------------------------------------------

def _date(rng):
    y = rng.randint(1996, 2020)
    return "%02d-%s-%04d %02d:%02d:%02d %s" % (rng.randint(1, 28), MONTHS[rng.randrange(12)], y,
                                              rng.randrange(24), rng.randrange(60), rng.randrange(60),
                                              rng.choice(ZONES))


def internaldate_epoch(s):
    """Seconds since the epoch of an IMAP date-time ("17-Jul-1996 02:44:25 -0700",
    day may be space-padded)."""
    m = re.match(r"\s*(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", s)
    if not m:
        raise ValueError("bad date-time %r" % s)
    d, mon, y, hh, mm, ss, sign, zh, zm = m.groups()
    t = calendar.timegm((int(y), MONTHS.index(mon.capitalize()) + 1, int(d), int(hh), int(mm), int(ss)))
    off = (int(zh) * 3600 + int(zm) * 60) * (1 if sign == "+" else -1)
    return t - off


def _words(rng, n):
    words = ["alpha", "beta", "gamma", "delta", "backup", "restore", "mail", "folder", "IMAP",
             "report", "meeting", "quarterly", "invoice", ".dot", "From", "..two"]
    return [rng.choice(words) for _ in range(n)]


def _text_body(rng, size):
    lines, n = [], 0
    while n < size:
        line = " ".join(_words(rng, rng.randint(3, 12)))
        if rng.random() < 0.03:
            line = "From the start of a line"  # mbox-style trap
        if rng.random() < 0.02:
            line = "."
        lines.append(line)
        n += len(line) + 2
    return ("\r\n".join(lines) + "\r\n").encode()


def _b64_lines(raw):
    b = base64.b64encode(raw)
    return b"".join(b[i:i + 76] + b"\r\n" for i in range(0, len(b), 76))


def _head(tag, subject, extra=b"", mid=True, ctype=b"text/plain; charset=us-ascii"):
    h = (b"From: Sender <sender@example.org>\r\nTo: User <user@example.test>\r\n"
         b"Date: Mon, 3 Feb 2020 10:00:00 +0100\r\nSubject: " + subject + b"\r\n")
    if mid:
        h += b"Message-ID: <" + tag.encode() + b"@corpus.test>\r\n"
    h += b"X-Corpus-Id: " + tag.encode() + b"\r\nMIME-Version: 1.0\r\nContent-Type: " + ctype + b"\r\n"
    return h + extra


def _ordinary(rng, tag):
    """A realistic message: mostly a few KB of text, some with an
    attachment of 20 KB to 1 MB."""
    r = rng.random()
    subject = " ".join(_words(rng, rng.randint(2, 8))).encode()
    if r < 0.75:
        return _head(tag, subject) + b"\r\n" + _text_body(rng, int(rng.lognormvariate(8, 1)) + 100)
    size = rng.choice([20_000, 60_000, 150_000, 400_000, 1_000_000])
    boundary = b"=_b_" + tag.encode()
    return (_head(tag, subject, ctype=b'multipart/mixed; boundary="' + boundary + b'"') + b"\r\n"
            + b"--" + boundary + b"\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            + _text_body(rng, 800)
            + b"--" + boundary + b"\r\nContent-Type: application/octet-stream; name=\"f.bin\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=\"f.bin\"\r\n\r\n"
            + _b64_lines(rng.randbytes(size * 3 // 4))
            + b"--" + boundary + b"--\r\n")


def _hard_cases(rng, big_mb):
    """(folder, data, flags, internaldate) of each hard case."""
    out = []

    def add(folder, data, flags=(), date=None):
        assert b"\0" not in data
        out.append(Msg(folder, data, list(flags), date or _date(rng)))

    # Every system flag, alone and together; keywords alone and together.
    for i, f in enumerate(SYSTEM_FLAGS):
        add("INBOX", _head("flag-%d" % i, b"flag " + f.encode()) + b"\r\nflag test\r\n", [f])
    add("INBOX", _head("flags-all", b"all flags") + b"\r\nall\r\n", SYSTEM_FLAGS + KEYWORDS)
    for i, k in enumerate(KEYWORDS):
        add("Work & Play", _head("kw-%d" % i, b"keyword " + k.encode()) + b"\r\nkw\r\n", [k, r"\Seen"])
    add("Drafts", _head("draft", b"a draft") + b"\r\ndraft\r\n", [r"\Draft"])
    add("Sent", _head("sent", b"sent one") + b"\r\nsent\r\n", [r"\Seen", r"\Answered", "$Forwarded"])

    # 8-bit bodies: UTF-8 and Latin-1, and raw UTF-8 in a header (RFC 6532).
    utf8 = "Grüße aus Köln — 日本語のテキスト — Ελληνικά — 😀\r\n".encode() * 40
    add("Entwürfe", _head("8bit-utf8", b"8bit utf-8", b"Content-Transfer-Encoding: 8bit\r\n",
                          ctype=b"text/plain; charset=utf-8") + b"\r\n" + utf8, [r"\Seen"])
    latin1 = "Stra\u00dfe, M\u00fcller, \u00e0 bient\u00f4t, \u00a9 \u00bd \u00ff\r\n".encode("latin-1") * 40
    add("Entwürfe", _head("8bit-latin1", b"8bit latin-1", b"Content-Transfer-Encoding: 8bit\r\n",
                          ctype=b"text/plain; charset=iso-8859-1") + b"\r\n" + latin1)
    add("Ελληνικά", _head("utf8-header", "Καλημέρα κόσμε 😀".encode()) + b"\r\nutf-8 header\r\n")

    # A binary part: arbitrary bytes 1..255 except CR and LF (Dovecot
    # stores LF line ends and writes CRLF back, so bare CR/LF would not
    # round-trip), in CRLF-ended lines.
    binary = bytes(b for b in rng.randbytes(40_000) if b not in (0, 10, 13))
    binary = b"".join(binary[i:i + 997] + b"\r\n" for i in range(0, len(binary), 997))
    add("日本語", _head("binary", b"binary part", ctype=b'multipart/mixed; boundary="BIN"') + b"\r\n"
        + b"--BIN\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
        b"--BIN\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        + binary + b"--BIN--\r\n", [r"\Flagged"])

    # Long headers: a folded 10,000-byte Subject, an unfolded 2,000-byte References.
    parts, n = [], 0
    while n < 10_000:
        w = " ".join(_words(rng, 8))
        parts.append(w)
        n += len(w) + 3
    subject = "\r\n ".join(parts).encode()
    refs = b" ".join(b"<ref-%04d@corpus.test>" % i for i in range(100))[:2000].rsplit(b" ", 1)[0]
    refs = refs + b" <" + b"x" * (2000 - len(refs) - 16) + b"@corpus.test>"
    add("日本語/子", _head("long-subject", subject) + b"\r\nlong subject\r\n", [r"\Seen"])
    add("日本語/子", _head("long-refs", b"long references", b"References: " + refs + b"\r\n")
        + b"\r\nlong references\r\n")
    # A 200,000-byte body line.
    add("日本語/子/孫", _head("long-line", b"one long body line") + b"\r\n" + b"z" * 200_000 + b"\r\n")

    # Header-only, no final CRLF, no Message-ID, identical twins.
    add("Projects/Alpha", _head("header-only", b"header only"))
    add("Projects/Alpha", _head("no-final-crlf", b"no final crlf") + b"\r\nlast line without CRLF")
    add("Projects/Alpha/Specs", _head("no-mid", b"no message-id", mid=False) + b"\r\nno id\r\n")
    twin = _head("twin", b"identical twins") + b"\r\nsame bytes\r\n"
    add("Projects/Alpha/Specs", twin, [r"\Seen"])
    add("Projects/Alpha/Specs", twin, ["Work"])
    add('Quote "q" \\ back', _head("quoted", b"in a quoted folder") + b"\r\nq\r\n")
    add("Emoji 😀 box", _head("emoji", b"emoji folder") + b"\r\n:)\r\n", date=" 2-Jan-1970 03:04:05 +1400")
    add("Ελληνικά", _head("old", b"old one") + b"\r\nold\r\n", date=" 1-Jan-1996 00:00:00 +1400")

    # The big one: a base64 attachment making the message big_mb MB.
    if big_mb:
        tail = b"--BIG--\r\n"
        start = b"--BIG\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\n" \
            b"Content-Transfer-Encoding: base64\r\n\r\n"
        head = _head("big", b"big attachment", ctype=b'multipart/mixed; boundary="BIG"') + b"\r\n" + \
            b"--BIG\r\nContent-Type: text/plain\r\n\r\n"
        room = big_mb * 1024 * 1024 - len(head) - len(start) - len(tail) - 200
        body = _b64_lines(rng.randbytes(room // 78 * 57))  # 57 bytes per 76-char line + CRLF
        text = b"big"
        text += b"." * (big_mb * 1024 * 1024 - len(head) - len(text) - 2 - len(start) - len(body) - len(tail))
        data = head + text + b"\r\n" + start + body + tail
        assert len(data) == big_mb * 1024 * 1024
        add("INBOX", data, [r"\Seen", "$label1"])
    return out


def build(scale=1.0, big_mb=21, seed=1):
    """The corpus: hard cases, one big_mb MB message (none if 0), and
    int(300 * scale) ordinary messages (about 25 MB at scale 1, besides the big one)."""
    rng = random.Random(seed)
    msgs = _hard_cases(rng, big_mb)
    folders = [f for f in FOLDERS]
    for i in range(int(300 * scale)):
        folder = folders[0] if rng.random() < 0.4 else rng.choice(folders)
        flags = []
        if rng.random() < 0.7:
            flags.append(r"\Seen")
        if rng.random() < 0.1:
            flags.append(rng.choice(SYSTEM_FLAGS[1:] + KEYWORDS))
        msgs.append(Msg(folder, _ordinary(rng, "ord-%d" % i), sorted(set(flags)), _date(rng)))
    return msgs


# --- loading and reading back ----------------------------------------------

def _ok(typ, data, what):
    if typ != "OK":
        raise RuntimeError("%s: %s %s" % (what, typ, data))
    return data


def list_folders(conn, separator):
    """{folder: attributes} of every mailbox LIST "" "*" shows, names
    decoded to UTF-8 with "/" as separator."""
    data = _ok(*conn.list('""', '"*"'), what="LIST")
    out = {}
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):  # name sent as a literal
            head, name = item[0], item[1]
            m = re.match(rb'\((.*?)\) (NIL|"(?:[^"\\]|\\.)*") \{\d+\}$', head)
        else:
            m = re.match(rb'\((.*?)\) (NIL|"(?:[^"\\]|\\.)*") (.*)$', item)
            name = m.group(3)
            if name.startswith(b'"'):
                name = re.sub(rb'\\(.)', rb'\1', name[1:-1])
        attrs = set(m.group(1).decode().split())
        folder = utf7_decode(name)
        if folder.upper() != "INBOX" and separator != "/":
            folder = folder.replace(separator, "/")
        out[folder] = attrs
    return out


def populate(conn, msgs, separator, empty=True):
    """CREATEs every folder of `msgs` (and empty_folders() when `empty`),
    parents first, skipping existing ones, then APPENDs each message with its
    flags and internal date. Returns the number appended."""
    folders = set(m.folder for m in msgs) | (set(EMPTY_FOLDERS) if empty else set())
    have = set(list_folders(conn, separator))
    for f in sorted(folders, key=lambda f: (f.count("/"), f)):
        if f.upper() == "INBOX" or f in have:
            continue
        _ok(*conn.create(quote(utf7_encode(folder_for(f, separator)))), what="CREATE " + f)
        have.add(f)
    for m in msgs:
        name = "INBOX" if m.folder.upper() == "INBOX" else utf7_encode(folder_for(m.folder, separator))
        flags = "(" + " ".join(m.flags) + ")" if m.flags else None
        _ok(*conn.append(quote(name), flags, '"' + m.internaldate + '"', m.data),
            what="APPEND to " + m.folder)
    return len(msgs)


_FETCH_RE = re.compile(rb"UID (\d+)|FLAGS \(([^)]*)\)|INTERNALDATE \"([^\"]+)\"")


def fetch_all(conn, separator):
    """{folder: [(uid, flags_set, internaldate_str, body_bytes), ...]} of every
    selectable folder (UID order), read with EXAMINE and BODY.PEEK[] so
    nothing changes; names decoded to UTF-8, "/" as separator. \\Recent is
    left out of the flags."""
    imaplib._MAXLINE = max(imaplib._MAXLINE, 64 * 1024 * 1024)
    out = {}
    for folder, attrs in sorted(list_folders(conn, separator).items()):
        if {r"\Noselect", r"\NonExistent"} & attrs:
            continue
        name = "INBOX" if folder.upper() == "INBOX" else utf7_encode(folder_for(folder, separator))
        typ, data = conn.select(quote(name), readonly=True)
        _ok(typ, data, "EXAMINE " + folder)
        rows = []
        if int(data[0]) > 0:
            typ, data = conn.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
            _ok(typ, data, "FETCH in " + folder)
            i = 0
            while i < len(data):
                item = data[i]
                if not isinstance(item, tuple):
                    i += 1
                    continue
                meta, body = item[0], item[1]
                trailer = data[i + 1] if i + 1 < len(data) and isinstance(data[i + 1], bytes) else b""
                uid = flags = date = None
                for mm in _FETCH_RE.finditer(meta + b" " + trailer):
                    if mm.group(1):
                        uid = int(mm.group(1))
                    elif mm.group(2) is not None:
                        flags = set(mm.group(2).decode().split()) - {r"\Recent"}
                    elif mm.group(3):
                        date = mm.group(3).decode()
                if uid is None or flags is None or date is None:
                    raise RuntimeError("FETCH response without UID, FLAGS or INTERNALDATE: %r" % meta[:200])
                rows.append((uid, flags, date, body))
                i += 1
        conn.close()
        out[folder] = sorted(rows, key=lambda r: r[0])
    return out
