"""An HTTP proxy on loopback that sits between an S3 client and a real S3
server and injects faults by rule: answer 503 SlowDown or 500 instead of
forwarding, reset the connection half-way through reading an upload, or
stall without answering. Requests pass unchanged (SigV4 signs the Host the
client sent, which radosgw checks against the same header), so everything
not faulted behaves exactly as the server does.

    proxy = FaultProxy(upstream_port)          # starts listening
    proxy.add("PUT", r"/data/", "503", count=2)  # the next two matching PUTs
    proxy.add("GET", r"/data/", "stall", count=1, seconds=10)
    proxy.add("PUT", r"/data/", "503", count=None, after=3)  # 3 pass, then all fail
    proxy.url                                   # "http://127.0.0.1:PORT"
    proxy.faults                                # [(method, path, fault), ...] injected so far
    proxy.log                                   # [(method, path), ...] every request
    proxy.close()

With tls=(cert_file, key_file) it answers HTTPS (the url says so) and
forwards plain HTTP: a TLS front for a server that speaks none.

Every stall is bounded; threads are daemons and stop with close()."""

import re
import socket
import ssl
import struct
import threading
import time


class Rule:
    def __init__(self, method, pattern, fault, count, seconds, after):
        self.method = method
        self.pattern = re.compile(pattern)
        self.fault = fault
        self.count = count  # None: always
        self.seconds = seconds
        self.after = after  # matching requests let through first


class FaultProxy:
    def __init__(self, upstream_port, upstream_host="127.0.0.1", tls=None):
        self.upstream = (upstream_host, upstream_port)
        self.tls = None
        if tls:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(*tls)
        self.rules = []
        self.faults = []
        self.requests = 0
        self.log = []  # (method, path) of every request, in arrival order
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)
        self.tls_errors = []  # handshakes the client refused
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def add(self, method, pattern, fault, count=1, seconds=10, after=0):
        """count=None: every matching request (after the first `after`)."""
        with self.lock:
            self.rules.append(Rule(method, pattern, fault, count, seconds, after))

    def clear(self):
        with self.lock:
            self.rules = []

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _match(self, method, path):
        with self.lock:
            self.requests += 1
            self.log.append((method, path))
            for r in self.rules:
                if r.method == method and r.pattern.search(path) and (r.count is None or r.count > 0):
                    if r.after > 0:
                        r.after -= 1
                        return None
                    if r.count is not None:
                        r.count -= 1
                    self.faults.append((method, path, r.fault))
                    return r
        return None

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve_maybe_tls, args=(c,), daemon=True).start()

    def _serve_maybe_tls(self, c):
        if self.tls:
            try:
                c.settimeout(10)
                c = self.tls.wrap_socket(c, server_side=True)
                c.settimeout(None)
            except (ssl.SSLError, OSError) as e:
                self.tls_errors.append(str(e))
                c.close()
                return
        self._serve(c)

    @staticmethod
    def _read_head(f):
        lines = []
        while True:
            line = f.readline(65536)
            if not line:
                return None
            lines.append(line)
            if line in (b"\r\n", b"\n"):
                return lines

    @staticmethod
    def _length(head):
        for line in head[1:]:
            k, _, v = line.decode("latin-1").partition(":")
            if k.strip().lower() == "content-length":
                return int(v.strip())
        return 0

    def _serve(self, c):
        up = None
        try:
            cf = c.makefile("rb")
            while True:
                head = self._read_head(cf)
                if head is None:
                    return
                method, path, _ = head[0].decode("latin-1").split(" ", 2)
                n = self._length(head)
                rule = self._match(method, path)
                if rule and rule.fault == "reset":
                    cf.read(min(n, max(1, n // 2)))  # half the upload, then RST
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                body = cf.read(n) if n else b""
                if rule and rule.fault == "stall":
                    deadline = time.time() + rule.seconds
                    while time.time() < deadline and not self.closed:
                        time.sleep(0.05)
                    return
                if rule and rule.fault in ("503", "500"):
                    code, text = ("SlowDown", "Please reduce your request rate.") if rule.fault == "503" else \
                        ("InternalError", "We encountered an internal error. Please try again.")
                    xml = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>'
                           % (code, text)).encode()
                    status = "503 Slow Down" if rule.fault == "503" else "500 Internal Server Error"
                    c.sendall(("HTTP/1.1 %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n\r\n"
                               % (status, len(xml))).encode() + (b"" if method == "HEAD" else xml))
                    continue
                if up is None:
                    up = socket.create_connection(self.upstream, timeout=60)
                    uf = up.makefile("rb")
                up.sendall(b"".join(head) + body)
                rhead = self._read_head(uf)
                while rhead is not None and rhead[0].split(b" ")[1].startswith(b"1"):
                    rhead = self._read_head(uf)  # "100 Continue": the client sent its body already
                if rhead is None:
                    return
                nobody = method == "HEAD" or rhead[0].split(b" ")[1] in (b"204", b"304")
                chunked = any(l.lower().startswith(b"transfer-encoding:") and b"chunked" in l.lower() for l in rhead)
                if nobody:
                    c.sendall(b"".join(rhead))
                elif chunked:
                    out = [b"".join(rhead)]
                    while True:
                        size_line = uf.readline(1024)
                        out.append(size_line)
                        size = int(size_line.split(b";")[0].strip() or b"0", 16)
                        out.append(uf.read(size + 2))
                        if size == 0:
                            break
                    c.sendall(b"".join(out))
                else:
                    rn = self._length(rhead)
                    c.sendall(b"".join(rhead) + (uf.read(rn) if rn else b""))
        except (OSError, ValueError):
            return
        finally:
            for s in (c, up):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass
