"""Bad LMTP input against the real daemon: overlong lines, bare LF, NUL bytes,
oversize DATA, invalid addresses, 10,000 recipients, a client that disappears
mid-DATA. Each gets protocol-correct replies, the daemon never crashes, and
nothing half-received is stored."""

import os
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from mxstore import Checks, Store  # noqa: E402

check = Checks()


def session(store, payload, expect_lines, timeout=20):
    """Sends the greeting-less payload and reads until `expect_lines` reply lines arrived."""
    s = socket.create_connection(store.lmtp_addr, timeout=timeout)
    f = s.makefile("rb")
    greeting = f.readline()
    s.sendall(payload)
    lines = []
    deadline = time.time() + timeout
    while len(lines) < expect_lines and time.time() < deadline:
        line = f.readline()
        if not line:
            break
        lines.append(line.decode("latin-1").rstrip("\r\n"))
    s.close()
    return greeting, lines


def codes(lines):
    return [l[:3] for l in lines if len(l) > 3 and l[3] == " "]


def main():
    root = tempfile.mkdtemp(prefix="mxlmtp.")
    store = Store(sys.argv[1], os.path.join(root, "store"))
    with open(store.config) as f:
        text = f.read().replace("max_message_size = 67108864", "max_message_size = 100000")
    with open(store.config, "w") as f:
        f.write(text)
    store.start()
    store.cli("mailbox", "create", "alice@example.test")
    lhlo = b"LHLO test\r\n"  # 6 reply lines (250-... x5 + the last)

    g, lines = session(store, lhlo + b"NOOP " + b"x" * 100000 + b"\r\nNOOP\r\nQUIT\r\n", 8)
    check("greeting is 220", g.startswith(b"220 "), g)
    check("overlong line: 500 5.5.2, then the session goes on", codes(lines)[-3:] == ["500", "250", "221"], lines)

    _, lines = session(store, lhlo + b"NOOP\nNOOP\r\nQUIT\r\n", 8)
    check("bare LF in a command: 500, session goes on", codes(lines)[-3:] == ["500", "250", "221"], lines)

    _, lines = session(store, lhlo + b"NO\x00OP\r\nQUIT\r\n", 7)
    check("NUL in a command: 500", codes(lines)[-2:] == ["500", "221"], lines)

    tx = b"MAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
    _, lines = session(store, lhlo + tx + b"Subject: bare\r\n\r\nline\nline\r\n.\r\nQUIT\r\n", 10)
    check("bare LF in the message: 554 5.6.0", "554" in codes(lines) and lines[-2].startswith("554 5.6.0"), lines)

    _, lines = session(store, lhlo + tx + b"Subject: nul\r\n\r\na\x00b\r\n.\r\nQUIT\r\n", 10)
    check("NUL in the message: 554 5.6.0", lines[-2].startswith("554 5.6.0"), lines)

    big = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 200
    _, lines = session(store, lhlo + tx + big + b".\r\nQUIT\r\n", 10)
    check("oversize DATA: 552 5.3.4", lines[-2].startswith("552 5.3.4"), lines)
    _, lines = session(store, lhlo + b"MAIL FROM:<s@example.org> SIZE=5000000\r\nQUIT\r\n", 8)
    check("oversize SIZE= at MAIL: 552 5.3.4", lines[-2].startswith("552 5.3.4"), lines)

    bad = [b"<>", b"<no-at>", b"<a@b@c>", b"alice@example.test", b"<a b@example.test>", b"<\x01@x.test>"]
    payload = lhlo + b"MAIL FROM:<s@example.org>\r\n" + b"".join(b"RCPT TO:" + a + b"\r\n" for a in bad) + b"QUIT\r\n"
    _, lines = session(store, payload, 6 + 1 + len(bad) + 1)
    check("invalid recipient addresses: 501 each", codes(lines)[2:2 + len(bad)] == ["501"] * len(bad), lines)

    payload = lhlo + b"MAIL FROM:<s@example.org>\r\n"
    payload += b"".join(b"RCPT TO:<alice@example.test>\r\n" for _ in range(10000))
    payload += b"DATA\r\nSubject: many\r\n\r\nhi\r\n.\r\nQUIT\r\n"
    _, lines = session(store, payload, 6 + 1 + 10000 + 1 + 1000 + 1, timeout=60)
    c = codes(lines)
    check("10,000 recipients: 1000 accepted, 9000 get 452", c.count("452") == 9000 and c[2:1002] == ["250"] * 1000,
          (c.count("250"), c.count("452"), len(c)))
    check("10,000 recipients: one reply per accepted recipient after DATA",
          c[-1] == "221" and c[-1001:-1] == ["250"] * 1000, c[-5:])

    s = socket.create_connection(store.lmtp_addr, timeout=10)
    s.recv(1000)
    s.sendall(lhlo + tx + b"Subject: vanishing\r\nX-Test-Id: gone\r\n\r\nhalf a message")
    time.sleep(0.3)
    s.close()
    time.sleep(0.3)

    import smtplib
    conn = smtplib.LMTP(*store.lmtp_addr)
    refused = conn.sendmail("s@example.org", ["alice@example.test"], b"Subject: after\r\nX-Test-Id: after\r\n\r\nok\r\n")
    conn.quit()
    check("the daemon still delivers after all of that", refused == {}, refused)
    check("the daemon did not crash", store.proc.poll() is None)
    got = store.export("alice@example.test", os.path.join(root, "export")).get("INBOX", [])
    subjects = sorted(m.split(b"\r\n")[0] for m in got)
    # 1 message to 1000 copies of the same recipient is one delivery to alice.
    check("only complete, accepted messages were stored", subjects == [b"Subject: after", b"Subject: many"], subjects)
    return check.finish(store, root)


if __name__ == "__main__":
    sys.exit(main())
