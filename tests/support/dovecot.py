"""A private Dovecot IMAP server for integration tests: its own config, base
directory, log, test CA and passwd-file under a directory the caller gives,
listening only on 127.0.0.1 (plain IMAP with STARTTLS, and implicit-TLS
imaps), started in the foreground and stopped by its pid.

    with Dovecot(root, separator="/", rawlog=True) as dv:
        c = dv.imap("alice")
        ...
        dv.change_uidvalidity("alice", "INBOX")

Every wait is bounded; only the master process started here is signalled,
by pid (Dovecot's master ends its own children on SIGTERM).

Mail belongs to an unprivileged user: Dovecot refuses uid 0 for mail access,
so when the tests run as root the mail uid/gid are nobody/nogroup, the
homes are chowned to them and `root` is made traversable (o+x). Run as
another user, Dovecot runs rootless as that user."""

import glob
import grp
import imaplib
import os
import pwd
import re
import signal
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_ca import make_test_ca  # noqa: E402  (re-exported: callers import it from here)

DOVECOT = os.environ.get("DOVECOT", "/usr/sbin/dovecot")
DOVEADM = os.environ.get("DOVEADM", "/usr/bin/doveadm")
DEFAULT_USERS = {"alice": "pw-alice", "bob": "pw-bob"}
SPECIAL_USE = [("Drafts", r"\Drafts"), ("Sent", r"\Sent"), ("Trash", r"\Trash"),
               ("Junk", r"\Junk"), ("Archive", r"\Archive")]


def free_port():
    """A port that was free on 127.0.0.1 a moment ago (start() retries if
    someone else takes it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quote(name):
    """An IMAP quoted string (for mailbox names already in modified UTF-7)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Dovecot:
    """A private Dovecot. Attributes once started: host, port (IMAP,
    STARTTLS offered), tls_port (imaps), ca_file (verifies both), pid,
    conf (for doveadm -c), log_file."""

    def __init__(self, root, users=DEFAULT_USERS, separator="/", rawlog=False, extra_conf=""):
        if separator not in ("/", "."):
            raise ValueError("separator must be '/' (fs layout) or '.' (Maildir++)")
        self.root = os.path.abspath(root)
        self.users = dict(users)
        self.separator = separator
        self.rawlog = rawlog
        self.extra_conf = extra_conf
        self.host = "127.0.0.1"
        self.port = self.tls_port = None
        self.pid = None
        self.proc = None
        self.conf = os.path.join(self.root, "dovecot.conf")
        self.log_file = os.path.join(self.root, "dovecot.log")
        self.fg_log = os.path.join(self.root, "dovecot-fg.log")
        self.rawlog_root = os.path.join(self.root, "rawlog")
        self.home_root = os.path.join(self.root, "home")
        if os.geteuid() == 0:
            self.mail_uid = pwd.getpwnam("nobody").pw_uid
            self.mail_gid = grp.getgrnam("nogroup").gr_gid
            self.system_user = None
        else:
            self.mail_uid, self.mail_gid = os.getuid(), os.getgid()
            self.system_user = pwd.getpwuid(os.getuid()).pw_name
        self.ca_file, self.cert_file, self.key_file = make_test_ca(os.path.join(self.root, "tls"))
        self._prepare_dirs()

    # --- setup -----------------------------------------------------------

    def _prepare_dirs(self):
        for d in ("run", "state", "home", "rawlog"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        if os.geteuid() == 0:
            # The mail user (nobody) must reach ROOT/home and ROOT/rawlog.
            os.chmod(self.root, os.stat(self.root).st_mode | 0o011)
        for d in (self.home_root, self.rawlog_root):
            os.chown(d, self.mail_uid, self.mail_gid)
            os.chmod(d, 0o755)
        for u in self.users:
            os.makedirs(self.rawlog_dir(u), exist_ok=True)
            os.chown(self.rawlog_dir(u), self.mail_uid, self.mail_gid)
        with open(os.path.join(self.root, "passwd"), "w") as f:
            for u, pw in sorted(self.users.items()):
                f.write("%s:{PLAIN}%s\n" % (u, pw))
        os.chmod(os.path.join(self.root, "passwd"), 0o644)  # read by auth (user dovecot); test passwords only

    def _write_conf(self):
        r = self.root
        if self.separator == "/":
            location = "maildir:~/Maildir:LAYOUT=fs:INBOX=~/Maildir/INBOX:UTF-8"
        else:
            location = "maildir:~/Maildir"
        mailboxes = "".join("  mailbox %s {\n    special_use = %s\n    auto = subscribe\n  }\n" % (n, s)
                            for n, s in SPECIAL_USE)
        if self.system_user:  # rootless: every service runs as this user
            group = grp.getgrgid(os.getgid()).gr_name
            users = ("default_internal_user = %s\ndefault_internal_group = %s\ndefault_login_user = %s\n"
                     "service anvil {\n  chroot =\n}\nservice imap-login {\n  chroot =\n}\n"
                     % (self.system_user, group, self.system_user))
        else:
            users = ""
        rawlog = "rawlog_dir = %s/%%u\n" % self.rawlog_root if self.rawlog else ""
        conf = """# Private Dovecot for mxvault integration tests; nothing outside {r}.
instance_name = mxvault-test-{pid}-{port}
base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
protocols = imap
listen = 127.0.0.1
{users}first_valid_uid = 1
first_valid_gid = 1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
auth_mechanisms = plain login
disable_plaintext_auth = no
auth_verbose = yes
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {r}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={r}/home/%u
}}
mail_location = {location}
mail_fsync = optimized
namespace inbox {{
  inbox = yes
  separator = {sep}
{mailboxes}}}
{rawlog}protocol imap {{
  mail_max_userip_connections = 100
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
""".format(r=r, pid=os.getpid(), port=self.port, tls_port=self.tls_port, users=users,
           cert=self.cert_file, key=self.key_file, uid=self.mail_uid, gid=self.mail_gid,
           location=location, sep=self.separator, mailboxes=mailboxes, rawlog=rawlog)
        with open(self.conf, "w") as f:
            f.write(conf + ("\n" + self.extra_conf + "\n" if self.extra_conf else ""))

    # --- lifecycle -------------------------------------------------------

    def start(self, timeout=20):
        """Starts `dovecot -F` and waits (at most `timeout` s) until both
        listeners accept; retries with new ports if a port was taken."""
        deadline = time.time() + timeout
        for attempt in range(3):
            self.port = self.tls_port = free_port()
            while self.tls_port == self.port:
                self.tls_port = free_port()
            self._write_conf()
            fg = open(self.fg_log, "a")
            self.proc = subprocess.Popen([DOVECOT, "-c", self.conf, "-F"], stdout=fg, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
            fg.close()
            self.pid = self.proc.pid
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    break
                if self._greets() and self._accepts(self.tls_port):
                    return self
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.stop()
                raise RuntimeError("dovecot did not listen within %d s; see %s" % (timeout, self.log_file))
            why = self._tail()
            self.proc = self.pid = None
            if "Address already in use" not in why or time.time() > deadline:
                raise RuntimeError("dovecot exited at start:\n" + why)
        raise RuntimeError("dovecot could not bind free ports:\n" + why)

    def _greets(self):
        """True once the plain port sends its "* OK" greeting."""
        try:
            with socket.create_connection((self.host, self.port), 0.5) as s:
                s.settimeout(1)
                line = b""
                while not line.endswith(b"\n") and len(line) < 4096:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    line += chunk
                return line.startswith(b"* OK")
        except OSError:
            return False

    def _accepts(self, port):
        try:
            socket.create_connection((self.host, port), 0.5).close()
            return True
        except OSError:
            return False

    def _tail(self, n=20):
        out = []
        for p in (self.fg_log, self.log_file):
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out += f.read().splitlines()[-n:]
        return "\n".join(out)

    def stop(self, timeout=20):
        """SIGTERM to the master and wait; returns the seconds it took
        (raises, after SIGKILL, if it hangs)."""
        if self.proc is None:
            return 0.0
        start = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
            raise RuntimeError("dovecot did not stop within %d s of SIGTERM" % timeout)
        finally:
            self.proc = self.pid = None
        return time.time() - start

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # --- helpers ---------------------------------------------------------

    def home(self, user):
        return os.path.join(self.home_root, user)

    def maildir(self, user):
        """ROOT/home/USER/Maildir. With "/", INBOX is Maildir/INBOX and a
        folder a/b is Maildir/a/b (UTF-8 names); with ".", INBOX is Maildir
        itself and a.b is Maildir/.a.b (modified UTF-7 names)."""
        return os.path.join(self.home(user), "Maildir")

    def folder_dir(self, user, folder):
        """The maildir directory of `folder` (given with "/" as separator, in
        UTF-8)."""
        if folder.upper() == "INBOX":
            return os.path.join(self.maildir(user), "INBOX") if self.separator == "/" else self.maildir(user)
        if self.separator == "/":
            return os.path.join(self.maildir(user), *folder.split("/"))
        from mail_corpus import utf7_encode
        return os.path.join(self.maildir(user), "." + utf7_encode(folder.replace("/", ".")))

    def rawlog_dir(self, user):
        return os.path.join(self.rawlog_root, user)

    def rawlog_files(self, user):
        """The rawlog files of `user`'s IMAP sessions so far (one
        DATE-TIME.PID.N.in with what the client sent after login, one .out
        with what the server sent), sorted by name (session start)."""
        return sorted(glob.glob(os.path.join(self.rawlog_dir(user), "*.in")) +
                      glob.glob(os.path.join(self.rawlog_dir(user), "*.out")))

    def clear_rawlog(self, user):
        for p in self.rawlog_files(user):
            os.unlink(p)

    def doveadm(self, *args, check=True, timeout=60):
        """Runs `doveadm -c CONF ARGS...`; returns the CompletedProcess (text)."""
        r = subprocess.run([DOVEADM, "-c", self.conf] + list(args), capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("doveadm %s failed (%d): %s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def _server_name(self, folder):
        return "INBOX" if folder.upper() == "INBOX" else folder.replace("/", self.separator)

    def uidvalidity(self, user, folder):
        """UIDVALIDITY of `folder` ("/"-separated, UTF-8) as an IMAP client
        sees it (STATUS over a fresh login)."""
        from mail_corpus import utf7_encode
        c = self.imap(user)
        try:
            typ, data = c.status(quote(utf7_encode(self._server_name(folder))), "(UIDVALIDITY)")
            if typ != "OK":
                raise RuntimeError("STATUS %s: %s" % (folder, data))
            return int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))
        finally:
            c.logout()

    def change_uidvalidity(self, user, folder, recreate=False):
        """Gives `folder` ("/"-separated, UTF-8) a new UIDVALIDITY and
        returns it, checked over IMAP.

        Default: `doveadm mailbox update --uid-validity OLD+1`, which
        rewrites the index and dovecot-uidlist; messages keep their UIDs, and
        a session with the folder selected gets "IMAP session state is
        inconsistent, please relogin" and is disconnected at its next command.
        recreate=True: deletes the folder's dovecot-uidlist and
        dovecot.index* and runs `doveadm force-resync`, as if the folder had
        been rebuilt: a fresh UIDVALIDITY (from Maildir/dovecot-uidvalidity)
        and UIDs renumbered from 1 in file-name order; messages, flags,
        keywords and dates stay. A session with the folder selected may not
        notice (do not rely on it being disconnected)."""
        old = self.uidvalidity(user, folder)
        if recreate:
            d = self.folder_dir(user, folder)
            for p in glob.glob(os.path.join(d, "dovecot-uidlist")) + glob.glob(os.path.join(d, "dovecot.index*")):
                os.unlink(p)
            self.doveadm("force-resync", "-u", user, self._server_name(folder))
            new = None
        else:
            new = old + 1 if old < 0xFFFFFFFF else 1
            self.doveadm("mailbox", "update", "--uid-validity", str(new), "-u", user, self._server_name(folder))
        seen = self.uidvalidity(user, folder)
        if seen == old or (new is not None and seen != new):
            raise RuntimeError("UIDVALIDITY of %s is %d after the change (was %d)" % (folder, seen, old))
        return seen

    def imap(self, user, tls=False, timeout=60):
        """A logged-in imaplib connection: plain on loopback, or with
        tls=True implicit TLS verified against ca_file."""
        if tls:
            ctx = ssl.create_default_context(cafile=self.ca_file)
            c = imaplib.IMAP4_SSL(self.host, self.tls_port, ssl_context=ctx, timeout=timeout)
        else:
            c = imaplib.IMAP4(self.host, self.port, timeout=timeout)
        c.login(user, self.users[user])
        return c
