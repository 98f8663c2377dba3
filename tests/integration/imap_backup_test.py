#!/usr/bin/env python3
"""Mailbox-level backups of a real IMAP server (issue 5's "Must hold" list).

A private Dovecot (tests/support/dovecot.py) holds the hard-case corpus
(tests/support/mail_corpus.py: non-ASCII and nested folders, 8-bit and binary
MIME, very long header lines, a 21 MB message, empty folders, every system
flag and custom keywords). The real mxvault backs it up and restores it:

 1. backup over STARTTLS, restore into another account: every message
    byte-exact with flags, keywords and internal dates, same folder tree; a
    second restore adds nothing. Both hierarchy separators ('/' and '.').
 2. incremental after add/flag/expunge/move: Dovecot's rawlog shows bodies
    fetched only for new UIDs; a no-change run fetches nothing; the snapshot
    restores to exactly the server's state.
 3. a UIDVALIDITY change re-reads the folder without uploading its messages.
 4. `restic restore` of a snapshot is a Maildir a second Dovecot serves, and
    imaplib reads the same messages from it.
 5. faults from a loopback proxy: a cut mid-FETCH and a stall are resumed; a
    connection cut every time fails with the cause named and records no
    snapshot, and the next run re-uploads nothing already stored.
 6. bad server input from a scripted server: named PROTOCOL / NETWORK errors
    within bounded time, no crash, no snapshot.
Also: `mail find`, `backup --all-accounts` from a config file, and XOAUTH2 /
OAUTHBEARER against Dovecot's oauth2 passdb with a loopback introspection
endpoint.

usage: imap_backup_test.py path/to/mxstore   (mxvault is beside it)"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import mail_corpus  # noqa: E402
from dovecot import Dovecot  # noqa: E402
from mxstore import Checks  # noqa: E402
from tcp_proxy import Proxy  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/bin/mxstore"
if os.path.isfile(BIN):
    BIN = os.path.dirname(BIN)
MXVAULT = os.path.abspath(os.path.join(BIN, "mxvault"))
ROOT = tempfile.mkdtemp(prefix="mx-imap-backup-")
os.chmod(ROOT, 0o711)  # Dovecot's auth and mail processes run as other users
USERS = {u: "pw-" + u for u in ("alice", "bob", "carol", "dave", "erin", "frank")}
check = Checks()
started = []


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


REPO_PW = write(os.path.join(ROOT, "repo.pw"), "repo-secret\n")
PW = {u: write(os.path.join(ROOT, u + ".pw"), p + "\n") for u, p in USERS.items()}
ENV = dict(os.environ, MXVAULT_PASSWORD_FILE=REPO_PW, RESTIC_PASSWORD_FILE=REPO_PW)


def mx(*args, timeout=300, repo=None):
    cmd = [MXVAULT] + (["-r", repo] if repo else []) + list(args)
    t = time.time()
    r = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)
    r.seconds = time.time() - t
    return r


def summary(r):
    for line in reversed(r.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {}


def snapshots(repo):
    r = mx("snapshots", "--json", repo=repo)
    return json.loads(r.stdout) if r.returncode == 0 else None


def backup(dv, user, repo, *extra, port=None):
    return mx("backup", "imap://%s@127.0.0.1:%d" % (user, port or dv.port), "--imap-password-file", PW[user],
              "--ca-file", dv.ca_file, "--json", *extra, repo=repo)


def restore(dv, spec, user, repo, *extra):
    return mx("mail", "restore", spec, "--to", "imaps://%s@127.0.0.1:%d" % (user, dv.tls_port),
              "--imap-password-file", PW[user], "--ca-file", dv.ca_file, "--json", *extra, repo=repo)


def view(dv, user, sep):
    """{folder: [(flags, internal date as epoch, body)]} in UID order."""
    conn = dv.imap(user)
    try:
        got = mail_corpus.fetch_all(conn, sep)
    finally:
        conn.logout()
    return {f: [(frozenset(fl), mail_corpus.internaldate_epoch(d), body) for (_, fl, d, body) in rows]
            for f, rows in got.items()}


def same_view(label, a, b):
    diffs = []
    for f in sorted(set(a) | set(b)):
        if f not in a or f not in b:
            diffs.append("folder %r only in %s" % (f, "the source" if f in a else "the copy"))
        elif a[f] != b[f]:
            sa, sb = sorted(a[f], key=repr), sorted(b[f], key=repr)
            if sa != sb:
                diffs.append("%s: %d vs %d messages, %d differ" % (f, len(a[f]), len(b[f]),
                                                                   len(set(sa) ^ set(sb))))
    n = sum(len(v) for v in a.values())
    return check("%s (%d folders, %d messages)" % (label, len(a), n), not diffs and n > 0, diffs[:5])


def repo_data_bytes(repo):
    total = 0
    for d, _, files in os.walk(os.path.join(repo, "data")):
        total += sum(os.path.getsize(os.path.join(d, f)) for f in files)
    return total


msgs = mail_corpus.build(scale=0.1, big_mb=21)
check("mxvault binary at %s" % MXVAULT, os.access(MXVAULT, os.X_OK))

# --- 1, 2, 3: '/' separator, with rawlog --------------------------------
dv = Dovecot(os.path.join(ROOT, "dv-slash"), users=USERS, separator="/", rawlog=True)
dv.start()
started.append(dv)
conn = dv.imap("alice")
mail_corpus.populate(conn, msgs, "/")
conn.logout()
REPO = os.path.join(ROOT, "repo")
check("init repository", mx("init", repo=REPO).returncode == 0)
source = view(dv, "alice", "/")

dv.clear_rawlog("alice")
r = backup(dv, "alice", REPO)
s1 = summary(r)
check("1: full backup over STARTTLS succeeds", r.returncode == 0 and "TLS" in s1.get("server", ""), r.stderr[-2000:])
check("1: every message fetched once", s1.get("messages") == len(msgs) and s1.get("messages_fetched") == len(msgs), s1)
r = mx("mail", "ls", "latest", "--json", repo=REPO)
listed = {f["folder"]: f["messages"] for f in json.loads(r.stdout)} if r.returncode == 0 else {}
want = {f: len(v) for f, v in source.items()}
check("1: mail ls lists every folder with its message count", listed == want, (listed, want))

r = restore(dv, "latest", "bob", REPO)
check("1: restore into another account succeeds", r.returncode == 0, r.stderr[-2000:])
same_view("1: bob's mailbox equals alice's: bodies byte-exact, flags, keywords, dates, folders", source,
          view(dv, "bob", "/"))
r = restore(dv, "latest", "bob", REPO)
s = summary(r)
check("1: a second restore adds nothing", r.returncode == 0 and s.get("appended") == 0
      and s.get("already_present") == len(msgs), s or r.stderr[-2000:])

# mail find searches the snapshot: decoded, case-insensitive, charsets converted.
def find(*args):
    r = mx("mail", "find", "latest", "--json", *args, repo=REPO)
    return [(h["folder"], h["subject"]) for h in json.loads(r.stdout)] if r.returncode == 0 else r.stderr


for args, want in [
        (("--subject", "ΚΑΛΗΜΈΡΑ"), [("Ελληνικά", "Καλημέρα κόσμε 😀")]),
        (("--text", "köln"), [("Entwürfe", "8bit utf-8")]),
        (("--text", "MÜLLER"), [("Entwürfe", "8bit latin-1")]),
        # Days of the internal date as the server keeps it (its own zone).
        (("--since", "1971-01-01", "--before", "1996-01-01"), [("Ελληνικά", "old one")]),
        (("--before", "1-Jan-1971"), [("Emoji 😀 box", "emoji folder")]),
        (("--from", "SENDER@example.org", "--subject", "identical twins"),
         [("Projects/Alpha/Specs", "identical twins")] * 2),
        (("--to", "nobody@nowhere"), [])]:
    got = find(*args)
    check("1: mail find %s -> %d" % (" ".join(args), len(want)), sorted(got) == sorted(want) if isinstance(got, list)
          else False, got)
r = mx("mail", "find", "latest", "--since", "yesterday", repo=REPO)
check("1: mail find with a bad date names it", r.returncode == 2 and "'yesterday'" in r.stderr, r.stderr)

# One message and one folder, restored into a named folder.
r = mx("mail", "ls", "latest:Entwürfe", "--json", repo=REPO)
one = json.loads(r.stdout)[0] if r.returncode == 0 else {}
r = mx("mail", "show", "latest:Entwürfe/%s" % one.get("uid"), repo=REPO)
want_body = [m.data for m in msgs if m.folder == "Entwürfe"][0]
check("1: mail show prints the message byte-exact", r.returncode == 0 and r.stdout.encode("utf-8", "surrogateescape")
      == want_body or subprocess.run([MXVAULT, "-r", REPO, "mail", "show", "latest:Entwürfe/%s" % one.get("uid")],
                                     env=ENV, capture_output=True).stdout == want_body)
r = restore(dv, "latest:Entwürfe/%s" % one.get("uid"), "carol", REPO, "--into", "Recovered")
got = view(dv, "carol", "/").get("Recovered", [])
check("1: one message restored into --into FOLDER", r.returncode == 0 and len(got) == 1 and got[0][2] == want_body,
      r.stderr[-1000:])

# --- several accounts from a configuration file, bounded parallelism ----------
REPO6 = os.path.join(ROOT, "repo-accounts")
mx("init", repo=REPO6)
WRONG = write(os.path.join(ROOT, "wrong.pw"), "not-the-password\n")
accounts = "".join('[[imap_account]]\nurl = "imap://%s@127.0.0.1:%d"\npassword_file = "%s"\nca_file = "%s"\n\n'
                   % (u, dv.port, pw, dv.ca_file) for u, pw in [("alice", PW["alice"]), ("bob", PW["bob"]),
                                                                 ("carol", WRONG)])
CONF = write(os.path.join(ROOT, "accounts.toml"), accounts)
r = mx("--config", CONF, "backup", "--all-accounts", "--parallel", "2", "--json", repo=REPO6)
done = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
check("accounts: --all-accounts backs up each account; the failing one is named (exit %d)" % r.returncode,
      r.returncode == 1 and "1 of 3 accounts failed" in r.stderr and "carol" in r.stderr and "[AUTH_FAILED]" in r.stderr
      and sorted(d.get("account", "") for d in done if d["message_type"] == "summary")
      == ["imap://alice@127.0.0.1:%d" % dv.port, "imap://bob@127.0.0.1:%d" % dv.port], (r.stderr[-1500:], done))
paths = sorted(s_["paths"][0] for s_ in snapshots(REPO6) or [])
check("accounts: one snapshot per good account", paths == ["/alice", "/bob"], paths)
BADCONF = write(os.path.join(ROOT, "bad.toml"), '[[imap_account]]\nurl = "imap://alice@127.0.0.1:%d"\n'
                'password_file = "%s"\npasword = "typo"\n' % (dv.port, PW["alice"]))
r = mx("--config", BADCONF, "backup", "--all-accounts", repo=REPO6)
check("accounts: an unknown setting is named with file, line and column",
      r.returncode == 2 and "pasword" in r.stderr and "bad.toml:4:1" in r.stderr, r.stderr)

# --- 2: incremental --------------------------------------------------------
conn = dv.imap("alice")
conn.select(mail_corpus.quote(mail_corpus.utf7_encode("Work & Play")))
typ, data = conn.uid("SEARCH", None, "ALL")
work_uids = data[0].split()
conn.uid("STORE", work_uids[0], "+FLAGS", r"(\Flagged $Urgent)")
conn.uid("STORE", work_uids[1], "-FLAGS", r"(\Seen)")
conn.uid("STORE", work_uids[2], "+FLAGS", r"(\Deleted)")
conn.expunge()
conn.uid("MOVE", work_uids[3], mail_corpus.quote(mail_corpus.utf7_encode("日本語/子")))
for i in range(3):
    body = ("From: inc@example.org\r\nSubject: incremental %d\r\nMessage-ID: <inc%d@example.org>\r\n\r\n"
            "new body %d\r\n" % (i, i, i)).encode()
    conn.append("INBOX", r"(\Seen)", '"01-Feb-2020 10:00:00 +0100"', body)
conn.logout()
dv.clear_rawlog("alice")
r = backup(dv, "alice", REPO)
s2 = summary(r)
check("2: incremental succeeds", r.returncode == 0 and s2.get("parent") == s1.get("snapshot_id"), r.stderr[-2000:])
check("2: only the 3 new and 1 moved message are fetched", s2.get("messages_fetched") == 4, s2)
check("2: the expunge and the move-away are seen", s2.get("messages_vanished") == 2, s2)
check("2: flag changes are seen", s2.get("flags_changed", 0) >= 2, s2)
check("2: bytes fetched are those of the changed messages", 0 < s2.get("bytes_fetched", 0) < 100_000, s2)
# The protocol trace: no BODY fetch of anything but new UIDs.
fetch_lines = []
for p in dv.rawlog_files("alice"):
    if p.endswith(".in"):
        with open(p, "rb") as f:
            fetch_lines += [l for l in f.read().split(b"\r\n") if b"BODY.PEEK[]" in l]


def count_set(text):
    n = 0
    for part in text.split(","):
        a, _, b = part.partition(":")
        n += abs(int(b or a) - int(a)) + 1
    return n


fetched_uids = sum(count_set(re.search(rb"UID FETCH (\S+)", l).group(1).decode()) for l in fetch_lines)
check("2: rawlog: bodies fetched in 2 folders, for exactly the 4 new UIDs", len(fetch_lines) == 2
      and fetched_uids == 4, fetch_lines)
source = view(dv, "alice", "/")
r = restore(dv, "latest", "dave", REPO)
same_view("2: the incremental snapshot restores to the server's current state", source, view(dv, "dave", "/"))

dv.clear_rawlog("alice")
r = backup(dv, "alice", REPO)
s3 = summary(r)
fetches = []
for p in dv.rawlog_files("alice"):
    if p.endswith(".in"):
        with open(p, "rb") as f:
            fetches += [l for l in f.read().split(b"\r\n") if b" FETCH " in l.upper()]
check("2: a no-change run fetches nothing (rawlog) and reuses every folder",
      r.returncode == 0 and s3.get("messages_fetched") == 0 and not fetches
      and s3.get("folders_unchanged", 0) >= len([f for f in source]) - 1, (s3, fetches[:3]))

# --- 3: UIDVALIDITY change ---------------------------------------------------
old = dv.uidvalidity("alice", "INBOX")
new = dv.change_uidvalidity("alice", "INBOX", recreate=True)
r = backup(dv, "alice", REPO)
s4 = summary(r)
inbox_n = len(source["INBOX"])
check("3: UIDVALIDITY %d -> %d: INBOX re-read (%d messages)" % (old, new, inbox_n),
      r.returncode == 0 and s4.get("messages_fetched") == inbox_n, s4 or r.stderr[-2000:])
check("3: ... and none of its %.1f MB uploaded again" % (s4.get("bytes_fetched", 0) / 1e6),
      s4.get("bytes_fetched", 0) > 20_000_000 and s4.get("data_added", 1 << 30) < 500_000, s4)
r = restore(dv, "latest", "erin", REPO)
same_view("3: the snapshot after the UIDVALIDITY change restores to the server's state", view(dv, "alice", "/"),
          view(dv, "erin", "/"))

# --- 4: restic restore gives a Maildir Dovecot serves ------------------------
snap_id = s4.get("snapshot_id", "latest")
target = os.path.join(ROOT, "restic-restore")
r = subprocess.run(["restic", "-r", REPO, "restore", snap_id, "--target", target], env=ENV, capture_output=True,
                   text=True, timeout=300)
check("4: restic restore of the mailbox snapshot", r.returncode == 0, r.stderr[-2000:])
dv2 = Dovecot(os.path.join(ROOT, "dv-restored"), users={"alice": USERS["alice"]}, separator="/")
shutil.rmtree(dv2.maildir("alice"), ignore_errors=True)
os.makedirs(os.path.dirname(dv2.maildir("alice")), exist_ok=True)
shutil.move(os.path.join(target, "alice"), dv2.maildir("alice"))
subprocess.run(["chown", "-R", "%d:%d" % (dv2.mail_uid, dv2.mail_gid), dv2.home("alice")], check=False)
dv2.start()
started.append(dv2)
same_view("4: Dovecot serves the restic-restored Maildir; imaplib reads the same messages", view(dv, "alice", "/"),
          view(dv2, "alice", "/"))
dv2.stop()
started.remove(dv2)

# --- 5: faults -----------------------------------------------------------------
REPO2 = os.path.join(ROOT, "repo-faults")
mx("init", repo=REPO2)
with Proxy("127.0.0.1", dv.port, cut_after_bytes=6_000_000, cut_count=1) as p:
    r = backup(dv, "alice", REPO2, "--connections", "1", port=p.port)
    s5 = summary(r)
    check("5: a connection cut mid-FETCH is resumed (%d cut, %d reconnects)" % (p.cuts, s5.get("reconnects", 0)),
          r.returncode == 0 and p.cuts == 1 and s5.get("reconnects", 0) >= 1, r.stderr[-2000:])
check("5: ... and the snapshot is whole", s5.get("messages") == sum(len(v) for v in view(dv, "alice", "/").values()),
      s5)
with Proxy("127.0.0.1", dv.port, stall_after_bytes=3_000_000, stall_seconds=30, stall_count=1) as p:
    r = backup(dv, "alice", REPO2, "--connections", "1", "--timeout", "3", "--force", port=p.port)
    s6 = summary(r)
    check("5: a stalled connection times out and is resumed (%.1f s)" % r.seconds,
          r.returncode == 0 and p.stalls == 1 and s6.get("reconnects", 0) >= 1 and r.seconds < 60, r.stderr[-2000:])

REPO3 = os.path.join(ROOT, "repo-cut")
mx("init", repo=REPO3)
with Proxy("127.0.0.1", dv.port, cut_after_bytes=8_000_000, cut_count=1000) as p:
    r = backup(dv, "alice", REPO3, "--connections", "1", port=p.port)
check("5: cut every time: fails, naming the cause (exit %d)" % r.returncode,
      r.returncode == 9 and "[NETWORK]" in r.stderr and "closed" in r.stderr, r.stderr[-2000:])
check("5: ... and records no snapshot", snapshots(REPO3) == [], snapshots(REPO3))
partial = repo_data_bytes(REPO3)
r = backup(dv, "alice", REPO3)
s7 = summary(r)
check("5: the next run completes", r.returncode == 0 and s7.get("messages", 0) > 0, r.stderr[-2000:])
check("5: ... uploading only what the failed run had not (%.1f MB kept, %.1f MB added)" %
      (partial / 1e6, s7.get("data_added_packed", 0) / 1e6),
      partial > 1_000_000 and repo_data_bytes(REPO3) <= repo_data_bytes(REPO2) * 1.05 + 200_000,
      (repo_data_bytes(REPO3), repo_data_bytes(REPO2)))
dv.stop()
started.remove(dv)

# --- 1 again with the '.' separator ----------------------------------------
dvd = Dovecot(os.path.join(ROOT, "dv-dot"), users=USERS, separator=".")
dvd.start()
started.append(dvd)
conn = dvd.imap("alice")
mail_corpus.populate(conn, msgs, ".")
conn.logout()
REPO4 = os.path.join(ROOT, "repo-dot")
mx("init", repo=REPO4)
r = backup(dvd, "alice", REPO4)
check("1 ('.'): backup", r.returncode == 0, r.stderr[-2000:])
# Switching servers keeps the account's backup set: the '/' server's history is
# the parent, and no message body is uploaded again.
before = snapshots(REPO)[-1]["id"]
r = backup(dvd, "alice", REPO)
s8 = summary(r)
check("switching servers: the other server's last snapshot is the parent, no body uploaded again (%d B added)"
      % s8.get("data_added", -1), r.returncode == 0 and s8.get("parent") == before
      and s8.get("messages_fetched") == len(msgs) and 0 < s8.get("data_added", 1 << 30) < 500_000, s8 or r.stderr)
r = restore(dvd, "latest", "bob", REPO4)
check("1 ('.'): restore into another account", r.returncode == 0, r.stderr[-2000:])
same_view("1 ('.'): bob's mailbox equals alice's", view(dvd, "alice", "."), view(dvd, "bob", "."))
r = mx("mail", "export", "latest", "--format", "mbox", "--target", os.path.join(ROOT, "mbox"), repo=REPO4)
check("1 ('.'): export as mbox", r.returncode == 0 and os.path.isfile(os.path.join(ROOT, "mbox", "INBOX.mbox")),
      r.stderr[-1000:])
dvd.stop()
started.remove(dvd)


# --- 6: bad server input ------------------------------------------------------
def bad_server(case):
    """A scripted IMAP server for one connection that misbehaves as `case`."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(30)

    def serve():
        try:
            c, _ = srv.accept()
        except OSError:
            return
        c.settimeout(30)
        f = c.makefile("rb")
        try:
            if case == "stall-greeting":
                time.sleep(6)
                return
            c.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake\r\n")
            while True:
                line = f.readline()
                if not line:
                    return
                tag, cmd = line.split(b" ", 2)[:2]
                cmd = cmd.strip().upper()
                noise = b"* FOO bar (baz \"q\")\r\n" if case == "unexpected-untagged" else b""
                if cmd == b"LIST":
                    if case == "unbalanced":
                        c.sendall(b"* LIST (\\HasNoChildren \"/\" INBOX\r\n")
                    elif case == "oversized-literal":
                        c.sendall(b"* LIST () \"/\" {99999999999}\r\n")
                    elif case == "garbage":
                        c.sendall(b"\x00\xff\xfe garbage\r\n")
                    else:
                        c.sendall(noise + b"* LIST () \"/\" INBOX\r\n")
                    c.sendall(tag + b" OK done\r\n")
                elif cmd == b"EXAMINE":
                    c.sendall(noise + b"* 1 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT 2] n\r\n" + tag +
                              b" OK [READ-ONLY] done\r\n")
                elif cmd == b"UID" and b"BODY.PEEK[]" in line:
                    if case == "literal-lies":
                        c.sendall(b"* 1 FETCH (UID 1 BODY[] {100}\r\nonly ten b")
                        time.sleep(8)
                        return
                    c.sendall(noise + b"* 1 FETCH (UID 1 FLAGS (\\Seen) INTERNALDATE \"01-Jan-2020 00:00:00 +0000\" "
                              b"BODY[] {9}\r\nSubject:x)\r\n" + tag + b" OK done\r\n")
                elif cmd == b"UID":
                    c.sendall(noise + b"* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n" + tag + b" OK done\r\n")
                elif cmd == b"LOGOUT":
                    c.sendall(b"* BYE bye\r\n" + tag + b" OK done\r\n")
                    return
                else:
                    c.sendall(noise + tag + b" OK done\r\n")
        except OSError:
            pass
        finally:
            c.close()

    t = threading.Thread(target=serve)
    t.start()
    return srv, t


REPO5 = os.path.join(ROOT, "repo-bad")
mx("init", repo=REPO5)
for case, want_rc, needle in [("unbalanced", 1, "[PROTOCOL]"), ("oversized-literal", 1, "held in memory"),
                              ("garbage", 1, "[PROTOCOL]"), ("literal-lies", 9, "stopped responding"),
                              ("stall-greeting", 9, "stopped responding"), ("unexpected-untagged", 0, "")]:
    srv, t = bad_server(case)
    port = srv.getsockname()[1]
    r = mx("backup", "imap://x@127.0.0.1:%d" % port, "--imap-password-file", PW["alice"], "--insecure-plaintext",
           "--timeout", "2", "--connections", "1", "--json", repo=REPO5, timeout=60)
    srv.close()
    t.join(30)
    ok = r.returncode == want_rc and needle in r.stderr and r.seconds < 30 and r.returncode >= 0
    check("6: %s: exit %d in %.1f s%s" % (case, r.returncode, r.seconds,
                                          (": " + r.stderr.strip().splitlines()[0][:150]) if r.stderr.strip() else ""),
          ok, r.stderr[-1500:])
check("6: only the well-behaved server's backup was recorded", len(snapshots(REPO5) or []) == 1, snapshots(REPO5))

# Plaintext without --insecure-plaintext is refused before any password is sent.
srv, t = bad_server("unexpected-untagged")
r = mx("backup", "imap://x@127.0.0.1:%d" % srv.getsockname()[1], "--imap-password-file", PW["alice"], repo=REPO5)
srv.close()
t.join(30)
check("a server without TLS is refused unless --insecure-plaintext (loopback)",
      r.returncode == 9 and "[TLS]" in r.stderr and "offers no TLS" in r.stderr, r.stderr[-1000:])

# --- OAuth 2.0: XOAUTH2 and OAUTHBEARER against Dovecot's oauth2 passdb --------
class Introspect(BaseHTTPRequestHandler):
    """The token introspection endpoint Dovecot asks (RFC 7662 style)."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        good = "token=good-token&" in body + "&"
        out = json.dumps({"active": True, "username": "alice"} if good else {"active": False}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


idp = HTTPServer(("127.0.0.1", 0), Introspect)
idp_thread = threading.Thread(target=idp.serve_forever, kwargs={"poll_interval": 0.1})
idp_thread.start()
droot = os.path.join(ROOT, "dv-oauth")
os.makedirs(droot)
ext = write(os.path.join(droot, "oauth2.conf.ext"), "introspection_url = http://127.0.0.1:%d/introspect\n"
            "introspection_mode = post\nusername_attribute = username\nactive_attribute = active\n"
            "active_value = true\n" % idp.server_port)
os.chmod(ext, 0o644)
dvo = Dovecot(droot, users={"alice": USERS["alice"]}, separator="/", extra_conf=(
    "auth_mechanisms = plain login xoauth2 oauthbearer\npassdb {\n  driver = oauth2\n"
    "  mechanisms = xoauth2 oauthbearer\n  args = %s\n}\n" % ext))
dvo.start()
started.append(dvo)
conn = dvo.imap("alice")
conn.append("INBOX", r"(\Seen)", None, b"Subject: oauth\r\n\r\nhello\r\n")
conn.logout()
REPO7 = os.path.join(ROOT, "repo-oauth")
mx("init", repo=REPO7)
for mech, token, want in [("XOAUTH2", "good-token", 0), ("OAUTHBEARER", "good-token", 0),
                          ("XOAUTH2", "stale-token", 1), ("OAUTHBEARER", "stale-token", 1)]:
    r = mx("backup", "imaps://alice@127.0.0.1:%d" % dvo.tls_port, "--oauth-token-command", "echo " + token,
           "--auth", mech, "--ca-file", dvo.ca_file, "--json", repo=REPO7)
    check("oauth: %s with a %s: exit %d" % (mech, token, r.returncode), r.returncode == want and
          (want == 0 and summary(r).get("messages") == 1 or want != 0 and "[AUTH_FAILED]" in r.stderr
           and "--oauth-token-command" in r.stderr), r.stderr[-1000:])
dvo.stop()
started.remove(dvo)
idp.shutdown()
idp_thread.join(10)
idp.server_close()

for d in started:
    d.stop()
if not check.failures:
    shutil.rmtree(ROOT, ignore_errors=True)
print("%d failed" % len(check.failures))
sys.exit(1 if check.failures else 0)
