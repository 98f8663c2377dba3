"""Test helpers for mxstore: a private store started and stopped by pid, LMTP
clients, and Maildir exports read back. Used by tests/integration/store_*.py.

Every wait is bounded; only processes started here are signalled, by pid."""

import json
import os
import random
import signal
import smtplib
import subprocess
import threading
import time


class Checks:
    """check(name, cond, detail) prints ok/FAIL lines; finish() ends a test."""

    def __init__(self):
        self.failures = []

    def __call__(self, name, cond, detail=""):
        print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + str(detail)[:2000]), flush=True)
        if not cond:
            self.failures.append(name)
        return cond

    def finish(self, store, root):
        """Stops the daemon (asserting it stops within 10 s), removes `root`
        when everything passed, and returns the exit code."""
        import shutil
        took = store.stop()
        self("daemon stops on SIGTERM within 10 s", took < 10, "%.1f s" % took)
        if not self.failures:
            shutil.rmtree(root, ignore_errors=True)
        print("%d failed" % len(self.failures))
        return 1 if self.failures else 0


def have_ipv6_loopback():
    import socket
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class Store:
    def __init__(self, mxstore, root, extra_config="", backup=None, tls_names=(), lmtp=None):
        self.mxstore = mxstore
        self.root = root
        self.config = os.path.join(root, "mxstore.toml")
        self.proc = None
        self.log = None
        if lmtp is not None:
            lmtp = sum((["--lmtp", a] for a in lmtp), [])
        else:
            lmtp = ["--lmtp", "127.0.0.1:0", "--lmtp", "unix:lmtp.sock"]
            if have_ipv6_loopback():
                lmtp += ["--lmtp", "[::1]:0"]
        backup = backup or ["127.0.0.1:0", "unix:backup.sock"]
        args = []
        for b in backup:
            args += ["--backup", b]
        for n in tls_names:
            args += ["--tls-name", n]
        subprocess.run([mxstore, "init", root] + lmtp + ["--imap", "127.0.0.1:0"] + args,
                       check=True, stdout=subprocess.DEVNULL)
        self.token_file = os.path.join(root, "backup.token")
        self.ca_file = os.path.join(root, "tls", "backup.crt")
        if extra_config:
            with open(self.config, "a") as f:
                f.write("\n" + extra_config + "\n")

    def start(self, timeout=20, prefix=()):
        listeners = os.path.join(self.root, "listeners.json")
        if os.path.exists(listeners):
            os.unlink(listeners)
        self.log = open(os.path.join(self.root, "serve.log"), "a")
        self.proc = subprocess.Popen(list(prefix) + [self.mxstore, "serve", "--config", self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mxstore serve exited with %d; see %s/serve.log" % (self.proc.returncode, self.root))
            if os.path.exists(listeners):
                with open(listeners) as f:
                    self.listeners = json.load(f)
                first = self.listeners["lmtp"][0]
                if first.startswith("unix:"):
                    self.lmtp_addr = (first[len("unix:"):], 0)  # smtplib.LMTP takes a socket path as host
                else:
                    host, port = first.rsplit(":", 1)
                    self.lmtp_addr = (host, int(port))
                self.backup_addrs = self.listeners.get("backup", [])
                for key, attr in (("imap", "imap_addr"), ("imap_tls", "imap_tls_addr")):
                    tcp = [a for a in self.listeners.get(key, []) if not a.startswith("unix:")]
                    if tcp:
                        host, port = tcp[0].rsplit(":", 1)
                        setattr(self, attr, (host.strip("[]"), int(port)))
                return
            time.sleep(0.05)
        raise RuntimeError("mxstore did not listen within %d s" % timeout)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the seconds it took (raises if it hangs)."""
        if self.proc is None:
            return 0.0
        start = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("mxstore did not stop within %d s of SIGTERM" % timeout)
        self.proc = None
        return time.time() - start

    def cli(self, *args, check=True, json_out=False):
        cmd = [self.mxstore, "--config", self.config] + (["--json"] if json_out else []) + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
        if json_out and r.returncode == 0:
            return json.loads(r.stdout)
        return r

    def enable_imap_tls(self):
        """Turns on the implicit-TLS IMAP listener (on a free loopback port)
        that `mxstore init` leaves commented out; before start()."""
        with open(self.config) as f:
            conf = f.read()
        line = '# listen_tls = ["[::]:993"]'
        assert line in conf, "mxstore init no longer writes %r" % line
        with open(self.config, "w") as f:
            f.write(conf.replace(line, 'listen_tls = ["127.0.0.1:0"]'))

    def add_user(self, address, password):
        """Creates the mailbox `address` and a login user for it (password in
        an owner-only file under the store's root, returned)."""
        path = os.path.join(self.root, "pw-" + address)
        with open(path, "w") as f:
            f.write(password + "\n")
        os.chmod(path, 0o600)
        self.cli("mailbox", "create", address)
        self.cli("user", "add", address, "--password-file", path)
        return path

    def imap(self, user, password):
        """An imaplib session on the first IMAP listener, logged in."""
        import imaplib
        m = imaplib.IMAP4(*self.imap_addr)
        m.login(user, password)
        return m

    def export(self, mailbox, target, database=None):
        self.cli("mailbox", "export", mailbox, "--target", target, *(["--database", database] if database else []))
        return read_maildir(target)

    def set_config(self, key, value):
        """Replaces `key = ...` (first occurrence) in the config file."""
        with open(self.config) as f:
            lines = f.read().split("\n")
        for i, line in enumerate(lines):
            if line.split("=")[0].strip() == key:
                lines[i] = "%s = %s" % (key, value)
                break
        else:
            raise KeyError(key)
        with open(self.config, "w") as f:
            f.write("\n".join(lines))

    def unix_backup(self):
        return [a for a in self.backup_addrs if a.startswith("unix:")][0][len("unix:"):]

    def tcp_backup(self):
        return [a for a in self.backup_addrs if not a.startswith("unix:")][0]


def read_maildir(target):
    """{folder: [bytes, ...]} of an exported Maildir."""
    out = {}
    for folder_root, dirs, files in os.walk(target):
        if os.path.basename(folder_root) != "cur":
            continue
        folder = os.path.relpath(os.path.dirname(folder_root), target)
        for name in sorted(files):
            with open(os.path.join(folder_root, name), "rb") as f:
                out.setdefault(folder, []).append(f.read())
    return out


def make_message(tag, rng, size=None):
    """A CRLF message with a unique X-Test-Id header; body of `size` bytes."""
    size = size or rng.choice([600, 2000, 5000, 20000, 90000])
    head = ("From: load@example.org\r\nTo: user@example.test\r\nSubject: test %s\r\n"
            "Message-ID: <%s@test>\r\nX-Test-Id: %s\r\n\r\n" % (tag, tag, tag)).encode()
    words = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b".dot", b"..two"]
    body = bytearray()
    line = bytearray()
    while len(body) < size:
        line += rng.choice(words) + b" "
        if len(line) > 60:
            body += bytes(line).rstrip() + b"\r\n"
            line = bytearray()
    return head + bytes(body)


def message_id(data):
    for line in data.split(b"\r\n"):
        if line.startswith(b"X-Test-Id: "):
            return line[len(b"X-Test-Id: "):].decode()
        if line == b"":
            break
    return None


class Loader:
    """N threads delivering unique messages over LMTP, recording each outcome.

    acked: id -> bytes (got 250); attempted: id -> bytes (sent, no 250);
    replies: list of (code, id) for refusals; errors: unexpected failures."""

    def __init__(self, store, mailbox, threads=4, per_thread=500, seconds=30, prefix="m", on_reply=None):
        self.store, self.mailbox = store, mailbox
        self.threads, self.per_thread, self.seconds = threads, per_thread, seconds
        self.prefix = prefix
        self.acked, self.attempted = {}, {}
        self.refusals, self.errors = [], []
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.workers = []
        self.on_reply = on_reply

    def _work(self, t):
        rng = random.Random("%s-%d" % (self.prefix, t))
        deadline = time.time() + self.seconds
        conn = None
        for i in range(self.per_thread):
            if self.stop_flag.is_set() or time.time() > deadline:
                break
            tag = "%s-%d-%d" % (self.prefix, t, i)
            data = make_message(tag, rng)
            with self.lock:
                self.attempted[tag] = data
            try:
                if conn is None:
                    conn = smtplib.LMTP(self.store.lmtp_addr[0], self.store.lmtp_addr[1], timeout=30)
                conn.sendmail("load@example.org", [self.mailbox], data)
                with self.lock:
                    self.acked[tag] = data
            except smtplib.SMTPRecipientsRefused as e:
                code = list(e.recipients.values())[0][0]
                with self.lock:
                    self.refusals.append((code, tag))
                self._reset(conn)
            except smtplib.SMTPResponseException as e:
                with self.lock:
                    self.refusals.append((e.smtp_code, tag))
                self._reset(conn)
            except (OSError, smtplib.SMTPException) as e:
                with self.lock:
                    self.errors.append((type(e).__name__, str(e), tag))
                conn = None
                if self.stop_flag.wait(0.05):
                    break
        try:
            if conn is not None:
                conn.quit()
        except Exception:
            pass

    @staticmethod
    def _reset(conn):
        try:
            conn.rset()
        except Exception:
            pass

    def start(self):
        for t in range(self.threads):
            w = threading.Thread(target=self._work, args=(t,), daemon=True)
            w.start()
            self.workers.append(w)

    def join(self, timeout=120):
        deadline = time.time() + timeout
        for w in self.workers:
            w.join(max(0.1, deadline - time.time()))
        return all(not w.is_alive() for w in self.workers)

    def stop(self):
        self.stop_flag.set()
        return self.join()
