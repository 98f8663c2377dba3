"""A loopback TCP proxy that injects faults into the server-to-client
direction: it cuts a connection after N bytes, or stalls it for a while.

    with Proxy("127.0.0.1", dv.port, cut_after_bytes=100_000) as p:
        ... connect to ("127.0.0.1", p.port) ...
        assert p.cuts == 1

The first `cut_count` connections (in accept order) are cut: exactly
`cut_after_bytes` server bytes reach the client, then both sockets are
closed (reset=True sends RST to both instead of FIN). Later connections are
forwarded untouched. Likewise the first `stall_count` connections stop
receiving server data once `stall_after_bytes` have been forwarded, for at
most `stall_seconds` (or until unstall()/stop()), with both sockets held
open; then forwarding resumes.

Every thread polls with a short timeout, so stop() ends all of them within
a bounded time and joins them (no daemon threads are left)."""

import select
import socket
import struct
import threading
import time

POLL = 0.1


class Proxy:
    def __init__(self, target_host, target_port, cut_after_bytes=None, cut_count=1, stall_after_bytes=None,
                 stall_seconds=30, stall_count=1, reset=False):
        self.target = (target_host, target_port)
        self.cut_after_bytes, self.cut_count = cut_after_bytes, cut_count
        self.stall_after_bytes, self.stall_seconds, self.stall_count = stall_after_bytes, stall_seconds, stall_count
        self.reset = reset
        self.connections = 0  # accepted
        self.cuts = 0         # connections cut
        self.stalls = 0       # stalls begun
        self.bytes_down = 0   # server -> client, all connections
        self.bytes_up = 0     # client -> server
        self.errors = []      # e.g. the target refused a connection
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._unstall = threading.Event()
        self._threads = []
        self._socks = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(POLL)
        self.host, self.port = self._listener.getsockname()
        self._spawn(self._accept_loop)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def _spawn(self, fn, *args):
        t = threading.Thread(target=fn, args=args, name="tcp_proxy")
        with self._lock:
            self._threads.append(t)
        t.start()

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            with self._lock:
                index = self.connections
                self.connections += 1
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError as e:
                with self._lock:
                    self.errors.append("connect %s:%d: %s" % (self.target + (e,)))
                client.close()
                continue
            conn = _Conn(self, client, server, index)
            self._spawn(conn.pump, client, server, False)
            self._spawn(conn.pump, server, client, True)

    def unstall(self):
        """Ends current and future stalls now."""
        self._unstall.set()

    def stop(self, timeout=10):
        """Closes the listener and every connection and joins all threads
        (raises if one is still running after `timeout` s)."""
        self._stopping.set()
        self._unstall.set()
        self._listener.close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            _close(s)
        deadline = time.time() + timeout
        while True:
            with self._lock:
                threads = list(self._threads)
            for t in threads:
                t.join(max(0.0, deadline - time.time()))
            with self._lock:
                if len(threads) == len(self._threads):
                    break
        alive = [t for t in threads if t.is_alive()]
        if alive:
            raise RuntimeError("tcp_proxy: %d threads still running after stop()" % len(alive))


def _close(s, reset=False):
    try:
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()


class _Conn:
    """One proxied connection: two pumps, the server->client one counting."""

    def __init__(self, proxy, client, server, index):
        self.p = proxy
        self.client, self.server = client, server
        self.cut_at = proxy.cut_after_bytes if proxy.cut_after_bytes is not None and index < proxy.cut_count else None
        self.stall_at = (proxy.stall_after_bytes if proxy.stall_after_bytes is not None
                         and index < proxy.stall_count else None)
        self.down = 0
        self.closed = threading.Event()
        self.done = 0
        with proxy._lock:
            proxy._socks.update((client, server))
        for s in (client, server):
            s.setblocking(False)

    def _finish_half(self):
        with self.p._lock:
            self.done += 1
            last = self.done == 2
        if last:
            self._close_both()

    def _close_both(self, reset=False):
        if self.closed.is_set():
            return
        self.closed.set()
        _close(self.client, reset)
        _close(self.server, reset)
        with self.p._lock:
            self.p._socks.discard(self.client)
            self.p._socks.discard(self.server)

    def _send(self, dst, data):
        """Sends all of `data`, polling; False if the connection is gone."""
        view = memoryview(data)
        while view:
            if self.p._stopping.is_set() or self.closed.is_set():
                return False
            try:
                _, w, _ = select.select([], [dst], [], POLL)
                if w:
                    view = view[dst.send(view):]
            except BlockingIOError:
                continue
            except (OSError, ValueError):
                return False
        return True

    def _stall(self):
        with self.p._lock:
            self.p.stalls += 1
        self.stall_at = None
        deadline = time.time() + self.p.stall_seconds
        while time.time() < deadline and not self.p._unstall.is_set() and not self.closed.is_set():
            time.sleep(POLL)

    def pump(self, src, dst, downstream):
        try:
            while not self.p._stopping.is_set() and not self.closed.is_set():
                try:
                    r, _, _ = select.select([src], [], [], POLL)
                    if not r:
                        continue
                    data = src.recv(65536)
                except BlockingIOError:
                    continue
                except (OSError, ValueError):
                    break
                if not data:  # EOF: pass the half-close on
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    break
                if not downstream:
                    if not self._send(dst, data):
                        break
                    with self.p._lock:
                        self.p.bytes_up += len(data)
                    continue
                while data:
                    limit = min(x for x in (self.cut_at, self.stall_at, float("inf")) if x is not None)
                    chunk = data[:max(0, int(min(len(data), limit - self.down)))]
                    if chunk:
                        if not self._send(dst, chunk):
                            return self._close_both()
                        self.down += len(chunk)
                        with self.p._lock:
                            self.p.bytes_down += len(chunk)
                        data = data[len(chunk):]
                    if self.cut_at is not None and self.down >= self.cut_at:
                        with self.p._lock:
                            self.p.cuts += 1
                        return self._close_both(self.p.reset)
                    if self.stall_at is not None and self.down >= self.stall_at:
                        self._stall()
        finally:
            self._finish_half()
