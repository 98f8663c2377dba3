#!/usr/bin/env python3
"""Self-test of the IMAP test harness (tests/support/dovecot.py,
mail_corpus.py, tcp_proxy.py): for both folder separators, a private
Dovecot takes the hard-case corpus and gives it back byte for byte with its
flags and internal dates; STARTTLS and imaps verify against the test CA;
rawlog records sessions; change_uidvalidity() changes what a client sees;
the proxy cuts and stalls a connection.

usage: dovecot_harness_selftest.py [ANY]   (arguments are ignored)"""

import imaplib
import os
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import mail_corpus  # noqa: E402
from dovecot import Dovecot, quote  # noqa: E402
from mail_corpus import internaldate_epoch, utf7_encode  # noqa: E402
from mxstore import Checks  # noqa: E402
from tcp_proxy import Proxy  # noqa: E402

BIG_MB = 21
check = Checks()
t0 = time.time()
msgs = mail_corpus.build(scale=0.1, big_mb=BIG_MB)
big = [m for m in msgs if len(m.data) == BIG_MB * 1024 * 1024]
check("corpus: %d messages, %.1f MB, one of %d MB" % (len(msgs), sum(len(m.data) for m in msgs) / 1e6, BIG_MB),
      len(big) == 1 and msgs == mail_corpus.build(scale=0.1, big_mb=BIG_MB))
check("corpus: CRLF only, no NUL", all(b"\0" not in m.data and b"\n" not in m.data.replace(b"\r\n", b"")
                                       and b"\r" not in m.data.replace(b"\r\n", b"") for m in msgs))


def compare(got, label):
    """got (fetch_all) against the corpus: every folder, in APPEND order."""
    want = {f: [] for f in mail_corpus.expected_folders(msgs)}
    for m in msgs:
        want[m.folder].append(m)
    missing = sorted(set(want) - set(got))
    check("%s: every corpus folder is listed" % label, not missing, missing)
    extra = {f: len(v) for f, v in got.items() if f not in want and v}
    check("%s: no messages outside the corpus folders" % label, not extra, extra)
    check("%s: empty folders are empty" % label,
          all(got.get(f) == [] for f in mail_corpus.empty_folders()),
          {f: len(got.get(f) or []) for f in mail_corpus.empty_folders()})
    bad = []
    for f, ms in want.items():
        rows = got.get(f, [])
        if len(rows) != len(ms):
            bad.append("%s: %d messages, want %d" % (f, len(rows), len(ms)))
            continue
        for m, (uid, flags, date, body) in zip(ms, rows):
            if body != m.data:
                bad.append("%s uid %d: body differs (%d vs %d bytes)" % (f, uid, len(body), len(m.data)))
            if flags != set(m.flags):
                bad.append("%s uid %d: flags %s, want %s" % (f, uid, sorted(flags), sorted(m.flags)))
            if date is None or internaldate_epoch(date) != internaldate_epoch(m.internaldate):
                bad.append("%s uid %d: internal date %s, want %s" % (f, uid, date, m.internaldate))
    check("%s: %d messages byte-exact with flags and internal dates" % (label, len(msgs)), not bad, bad[:10])


def run(sep):
    L = "sep %r" % sep
    root = tempfile.mkdtemp(prefix="mx-dovecot-selftest-")
    dv = Dovecot(root, separator=sep, rawlog=True)
    dv.start()
    try:
        check("%s: dovecot listens on 127.0.0.1:%d (imap) and :%d (imaps)" % (L, dv.port, dv.tls_port), dv.pid)

        c = dv.imap("alice")
        caps = c.capability()[1][0].split()
        check("%s: CONDSTORE and QRESYNC after login" % L, b"CONDSTORE" in caps and b"QRESYNC" in caps, caps)
        typ, _ = c._simple_command("ENABLE", "QRESYNC")
        check("%s: ENABLE QRESYNC" % L, typ == "OK" and b"QRESYNC" in c.untagged_responses.get("ENABLED", [b""])[0],
              c.untagged_responses)
        t = time.time()
        mail_corpus.populate(c, msgs, sep)
        c.logout()
        check("%s: populate (%.1f s)" % (L, time.time() - t), True)

        t = time.time()
        c = dv.imap("alice")
        got = mail_corpus.fetch_all(c, sep)
        c.logout()
        check("%s: fetch_all (%.1f s)" % (L, time.time() - t), True)
        compare(got, L)
        c = dv.imap("bob")
        check("%s: bob sees none of alice's mail" % L, all(not v for v in mail_corpus.fetch_all(c, sep).values()))
        c.logout()

        md = dv.maildir("alice")
        if sep == "/":
            where = [os.path.join(md, "INBOX", "cur"), os.path.join(md, "日本語", "子", "孫", "cur"),
                     os.path.join(md, "INBOX", "dovecot-uidlist"), os.path.join(md, "INBOX", "dovecot-keywords")]
        else:
            where = [os.path.join(md, "cur"), os.path.join(md, "." + utf7_encode("日本語.子.孫"), "cur"),
                     os.path.join(md, "dovecot-uidlist"), os.path.join(md, "dovecot-keywords")]
        check("%s: on-disk layout %s" % (L, [os.path.relpath(p, md) for p in where]),
              all(os.path.exists(p) for p in where), [p for p in where if not os.path.exists(p)])
        check("%s: folder_dir() finds each folder" % L,
              all(os.path.isdir(os.path.join(dv.folder_dir("alice", f), "cur"))
                  for f in mail_corpus.expected_folders(msgs)))

        # TLS: STARTTLS on the plain port, implicit TLS on imaps, both by the test CA.
        ctx = ssl.create_default_context(cafile=dv.ca_file)
        c = imaplib.IMAP4(dv.host, dv.port, timeout=30)
        offered = "STARTTLS" in c.capabilities
        c.starttls(ssl_context=ctx)
        c.login("bob", "pw-bob")
        check("%s: STARTTLS (%s) verified by ca_file, then LOGIN" % (L, c.sock.version()),
              offered and c.select("INBOX")[0] == "OK")
        c.logout()
        for name in ("127.0.0.1", "localhost"):
            c = imaplib.IMAP4_SSL(name, dv.tls_port, ssl_context=ctx, timeout=30)
            c.login("alice", "pw-alice")
            check("%s: imaps to %s verified by ca_file" % (L, name), c.select("INBOX")[0] == "OK")
            c.logout()
        try:
            imaplib.IMAP4_SSL(dv.host, dv.tls_port, ssl_context=ssl.create_default_context(), timeout=30).logout()
            refused = False
        except ssl.SSLCertVerificationError:
            refused = True
        check("%s: imaps without the test CA is refused" % L, refused)

        # rawlog
        files = dv.rawlog_files("alice")
        ins = b"".join(open(p, "rb").read() for p in files if p.endswith(".in"))
        outs = b"".join(open(p, "rb").read() for p in files if p.endswith(".out"))
        check("%s: rawlog has %d files of alice's sessions" % (L, len(files)),
              len(files) >= 2 and b"UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])" in ins
              and b"APPEND" in ins and b"* CAPABILITY" in outs, files[:4])
        dv.clear_rawlog("alice")
        check("%s: clear_rawlog" % L, dv.rawlog_files("alice") == [] and dv.rawlog_files("bob") != [])

        # UIDVALIDITY
        for folder, recreate in (("Entwürfe", False), ("日本語/子", True), ("INBOX", True)):
            c = dv.imap("alice")
            c.select(quote(utf7_encode(mail_corpus.folder_for(folder, sep))), readonly=True)
            old = int(c.response("UIDVALIDITY")[1][0])
            new = dv.change_uidvalidity("alice", folder, recreate=recreate)
            try:
                c.noop()
                c.logout()
                told = "not told"
            except imaplib.IMAP4.abort as e:
                told = "disconnected: %s" % e
            check("%s: change_uidvalidity(%s, recreate=%s): %d -> %d; the selected session is %s"
                  % (L, folder, recreate, old, new, told), new != old)
        c = dv.imap("alice")
        compare(mail_corpus.fetch_all(c, sep), L + " after the UIDVALIDITY changes")
        c.logout()

        # Proxy: the first connection is cut inside the big FETCH, the second is whole.
        with Proxy(dv.host, dv.port, cut_after_bytes=3_000_000) as p:
            c = imaplib.IMAP4(dv.host, p.port, timeout=30)
            c.login("alice", "pw-alice")
            c.select("INBOX", readonly=True)
            uids = c.uid("SEARCH", "LARGER", str(BIG_MB * 1024 * 1024 - 1))[1][0].split()
            try:
                c.uid("FETCH", uids[0], "(BODY.PEEK[])")
                cut = "not cut"
            except (imaplib.IMAP4.abort, OSError) as e:
                cut = type(e).__name__
            c.shutdown()
            check("%s: proxy cuts the first connection after 3 MB (%s)" % (L, cut),
                  cut != "not cut" and p.cuts == 1 and p.bytes_down == 3_000_000, (p.cuts, p.bytes_down))
            c = imaplib.IMAP4(dv.host, p.port, timeout=30)
            c.login("alice", "pw-alice")
            c.select("INBOX", readonly=True)
            data = c.uid("FETCH", uids[0], "(BODY.PEEK[])")[1][0][1]
            c.logout()
            check("%s: the second connection through the proxy is whole" % L,
                  data == big[0].data and p.connections == 2 and p.cuts == 1)
        if sep == "/":
            with Proxy(dv.host, dv.port, stall_after_bytes=10, stall_seconds=1.5) as p:
                t = time.time()
                c = imaplib.IMAP4(dv.host, p.port, timeout=30)
                waited = time.time() - t
                c.login("alice", "pw-alice")
                c.logout()
                check("%s: proxy stalls the greeting %.1f s, then forwards" % (L, waited),
                      1.3 < waited < 5 and p.stalls == 1)
            with Proxy(dv.host, dv.port, stall_after_bytes=10, stall_seconds=60) as p:
                s = socket.create_connection((dv.host, p.port), 5)
                time.sleep(0.3)
                t = time.time()
                p.stop()
                s.close()
                check("%s: proxy stop() during a 60 s stall takes %.2f s" % (L, time.time() - t),
                      time.time() - t < 2)
    finally:
        took = dv.stop()
    check("%s: dovecot stops on SIGTERM within 10 s (%.1f s)" % (L, took), took < 10)
    if not check.failures:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print("kept " + root)


for separator in ("/", "."):
    run(separator)
check("no threads left running", threading.active_count() == 1, threading.enumerate())
print("%d failed (%.1f s)" % (len(check.failures), time.time() - t0))
sys.exit(1 if check.failures else 0)
