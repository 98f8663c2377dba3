#!/usr/bin/env python3
"""Store-level backups end to end (issue 4, Must hold 1, 2, 3, 5, 6): a real
mxstore under LMTP load, the real mxvault client over the backup service
(TLS on TCP, and the Unix socket), a real repository, restore of each chain,
recovery, attach, export, check.

usage: store_backup_test.py BUILD_BIN_DIR (or the mxstore binary in it)"""

import json
import os
import smtplib
import subprocess
import sys
import tempfile
import random
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from mxstore import Checks, Loader, Store, make_message, message_id  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/bin"
if os.path.isfile(BIN):  # ctest passes the mxstore binary; mxvault is beside it
    BIN = os.path.dirname(BIN)
MXSTORE = os.path.join(BIN, "mxstore")
MXVAULT = os.path.join(BIN, "mxvault")
DEADLINE_MS = 2000

check = Checks()
root = tempfile.mkdtemp(prefix="mx-store-backup-")
store = Store(MXSTORE, root, extra_config="write_buffer_size = 262144")
store.set_config("freeze_deadline_ms", DEADLINE_MS)
store.start()
store.cli("mailbox", "create", "u1@x.test")
repo = os.path.join(root, "repo")
with open(os.path.join(root, "pw"), "w") as f:
    f.write("secret\n")
ENV = dict(os.environ, MXVAULT_REPOSITORY=repo, MXVAULT_PASSWORD_FILE=os.path.join(root, "pw"))
subprocess.run([MXVAULT, "init"], env=ENV, check=True, capture_output=True, timeout=60)
UNIX = store.unix_backup()
TCP = store.tcp_backup()
AUTH = ["--token-file", store.token_file]
TLS = ["--ca-file", store.ca_file]


def vault(*args, timeout=300):
    return subprocess.run([MXVAULT] + list(args), env=ENV, capture_output=True, text=True, timeout=timeout)


def backup(db, typ, method, via="unix", extra=()):
    addr = "unix://%s/%s" % (UNIX, db) if via == "unix" else "store://%s/%s" % (TCP, db)
    r = vault("--json", "backup", addr, "--type", typ, "--method", method, *AUTH, *(TLS if via == "tcp" else []), *extra)
    out = None
    if r.returncode == 0:
        out = json.loads(r.stdout.strip().splitlines()[-1])
    return r, out


def archived_logs(db="db01"):
    logs = store.cli("db", "logs", db, json_out=True)["logs"]
    return sorted(l["number"] for l in logs if l["archived"])


def writer(db="db01"):
    r = vault("--json", "writers", "unix://" + UNIX, *AUTH)
    for w in json.loads(r.stdout)["writers"]:
        if w["database"] == db:
            return w
    return None


def timed_delivery(tag, mailbox="u1@x.test"):
    """Delivers one message; returns (seconds, acked)."""
    data = make_message(tag, random.Random(tag), 800)
    t0 = time.time()
    try:
        c = smtplib.LMTP(store.lmtp_addr[0], store.lmtp_addr[1], timeout=30)
        c.sendmail("t@x.test", [mailbox], data)
        c.quit()
        return time.time() - t0, data
    except Exception as e:  # noqa: BLE001
        return time.time() - t0, None


# ---- Must hold 1 and 5: the backup sequence under a bounded delivery load ----
loader = Loader(store, "u1@x.test", threads=3, per_thread=100000, seconds=240, prefix="bk")
loader.start()
# When each message was first seen acknowledged (sampled every 50 ms), for --until TIME.
first_seen = {}


def sample_acks():
    while not loader.stop_flag.is_set():
        now = time.time()
        with loader.lock:
            for t in loader.acked:
                first_seen.setdefault(t, now)
        time.sleep(0.05)


threading.Thread(target=sample_acks, daemon=True).start()
time.sleep(2)
plan = [("F", "full", "snapshot", "tcp"), ("D", "differential", "streaming", "unix"),
        ("I1", "incremental", "snapshot", "unix"), ("I2", "incremental", "streaming", "tcp"),
        ("I3", "incremental", "snapshot", "unix"), ("C", "copy", "streaming", "unix")]
snaps = {}
acked_before = {}
acked_at_end = {}
sequences = {}
ended_at = {}
for name, typ, method, via in plan:
    with loader.lock:
        acked_before[name] = dict(loader.acked)
    before_archive = archived_logs()
    r, out = backup("db01", typ, method, via)
    if not check("%s (%s %s over %s) succeeds under load" % (name, typ, method, via), r.returncode == 0, r.stderr):
        continue
    snaps[name] = out["snapshot_id"]
    sequences[name] = out["sequence"]
    with loader.lock:
        acked_at_end[name] = dict(loader.acked)
        ended_at[name] = time.time()
    after_archive = archived_logs()
    if typ in ("full", "incremental"):
        covered = [n for n in after_archive if n < out["newest_log"]]
        check("%s: no archived log it covers remains (newest log %d; archive %s)" % (name, out["newest_log"], after_archive[:8]),
              covered == [], covered)
    else:
        check("%s: truncates nothing (%d archived logs kept)" % (name, len(before_archive)),
              set(before_archive) <= set(after_archive), (before_archive, after_archive))
    time.sleep(1.0)

# Must hold 2: a second Begin while one runs is refused at once, naming the holder.
slow = subprocess.Popen([MXVAULT, "backup", "unix://%s/db01" % UNIX, "--type", "copy", "--method", "streaming",
                         "--limit-download", "64"] + AUTH, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
holder = None
for _ in range(100):
    w = writer()
    if w and w.get("holder"):
        holder = w["holder"]
        break
    time.sleep(0.1)
check("a throttled backup holds the session (writers shows the holder)", holder is not None, writer())
before_archive = archived_logs()
t0 = time.time()
r, _ = backup("db01", "full", "snapshot", "unix")
took = time.time() - t0
check("second backup refused with BACKUP_IN_PROGRESS (exit 8)", r.returncode == 8 and "BACKUP_IN_PROGRESS" in r.stderr, r.stderr)
check("refusal names the holder's session and client", holder is not None and holder["session"] in r.stderr and "from" in r.stderr, r.stderr)
check("refusal is at once (%.2f s)" % took, took < 5, took)
# The client vanishes mid-backup: the store ends the session, truncates nothing.
slow.kill()
slow.wait(timeout=10)
ended = False
for _ in range(100):
    w = writer()
    if w and not w.get("holder"):
        ended = True
        break
    time.sleep(0.1)
check("a client killed mid-backup: the store ends its session within 10 s", ended, writer())
check("... and truncates nothing", set(before_archive) <= set(archived_logs()), (before_archive, archived_logs()))
with loader.lock:
    acked_before["I4"] = dict(loader.acked)
r, out = backup("db01", "incremental", "snapshot", "unix")
check("the next backup after a lost session succeeds", r.returncode == 0, r.stderr)
if r.returncode == 0:
    snaps["I4"] = out["snapshot_id"]

# ---- Must hold 3: freeze safety ----
# a) commits during a held freeze wait and complete after the thaw; a dismount
#    right after the thaw returns; repeated, bounded.
reps_ok = 0
REPS = 10
for i in range(REPS):
    p = subprocess.Popen([MXVAULT, "precheck", "unix://%s/db01" % UNIX, "--freeze-hold", "300"] + AUTH, env=ENV,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    while line and "frozen" not in line:
        line = p.stdout.readline()
    secs, data = timed_delivery("fz-%d" % i)
    rc = p.wait(timeout=30)
    t0 = time.time()
    d = store.cli("db", "dismount", "db01", check=False)
    dis = time.time() - t0
    m = store.cli("db", "mount", "db01", check=False)
    ok = rc == 0 and data is not None and secs < DEADLINE_MS / 1000 + 2 and d.returncode == 0 and dis < 15 and m.returncode == 0
    if ok:
        reps_ok += 1
    else:
        print("  rep %d: precheck %d, delivery %.2f s (%s), dismount %d in %.2f s, mount %d" %
              (i, rc, secs, data is not None, d.returncode, dis, m.returncode), p.stderr.read(), d.stderr, m.stderr)
check("%d/%d freeze+commit+dismount rounds: commit waits and completes, dismount returns" % (reps_ok, REPS), reps_ok == REPS)

# b) a freeze held past the deadline: the store thaws by itself
p = subprocess.Popen([MXVAULT, "precheck", "unix://%s/db01" % UNIX, "--freeze-hold", "6000"] + AUTH, env=ENV,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
line = p.stdout.readline()
while line and "frozen" not in line:
    line = p.stdout.readline()
secs, data = timed_delivery("dl-1")
rc = p.wait(timeout=30)
err = p.stderr.read()
check("a commit during an over-long freeze completes at the deadline (%.2f s, deadline %d ms)" % (secs, DEADLINE_MS),
      data is not None and secs < DEADLINE_MS / 1000 + 2, secs)
check("the holder is told FREEZE_TIMEOUT (exit 7)", rc == 7 and "FREEZE_TIMEOUT" in err, (rc, err))

# c) a client that freezes and vanishes: the store thaws (at once, or at the deadline)
p = subprocess.Popen([MXVAULT, "precheck", "unix://%s/db01" % UNIX, "--freeze-hold", "60000"] + AUTH, env=ENV,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
line = p.stdout.readline()
while line and "frozen" not in line:
    line = p.stdout.readline()
p.kill()
p.wait(timeout=10)
secs, data = timed_delivery("vanish-1")
check("a client that froze and was killed: commits flow within the deadline (%.2f s)" % secs,
      data is not None and secs < DEADLINE_MS / 1000 + 2, secs)
w = writer()
check("... and the writer is stable again, no holder", w and not w.get("holder") and w["state"] == "stable", w)

loader.stop()
check("the load delivered mail throughout (%d acked)" % len(loader.acked), len(loader.acked) > 200, len(loader.acked))
check("no unexpected delivery errors", not loader.errors, loader.errors[:3])

# ---- Must hold 1: restore every chain, recover, attach, compare ----
data_dir = os.path.join(root, "data")
for name in [n for n, *_ in plan] + ["I4"]:
    if name not in snaps:
        continue
    target = os.path.join(data_dir, "r-" + name.lower())
    r = vault("restore", snaps[name], "--target", target)
    if not check("restore %s (chain) succeeds" % name, r.returncode == 0, r.stderr):
        continue
    r = subprocess.run([MXSTORE, "db", "recover", target], capture_output=True, text=True, timeout=120)
    if not check("recover %s" % name, r.returncode == 0, r.stderr):
        continue
    dbname = "r" + name.lower()
    r = store.cli("db", "attach", target, "--as", dbname, check=False)
    if not check("attach %s as %s" % (name, dbname), r.returncode == 0, r.stderr):
        continue
    got = store.export("u1@x.test", os.path.join(root, "exp-" + name), database=dbname).get("INBOX", [])
    by_id = {message_id(m): m for m in got}
    missing = [t for t in acked_before[name] if t not in by_id]
    wrong = [t for t, d in by_id.items() if loader.attempted.get(t, d) != d and t in loader.attempted]
    check("%s: all %d messages acked before the backup are present" % (name, len(acked_before[name])), not missing, missing[:5])
    check("%s: every restored message is byte-exact" % name, not wrong, wrong[:5])
    r = store.cli("db", "check", dbname, check=False)
    check("%s: mxstore db check passes" % name, r.returncode == 0, r.stdout + r.stderr)

# Roll forward: the newest chain plus the live logs = every acknowledged message.
last = "I4" if "I4" in snaps else "I3"
if last in snaps:
    target = os.path.join(data_dir, "r-roll")
    r = vault("restore", snaps[last], "--target", target)
    check("restore for roll-forward", r.returncode == 0, r.stderr)
    r = subprocess.run([MXSTORE, "db", "recover", target, "--roll-forward-from", os.path.join(data_dir, "databases", "db01")],
                       capture_output=True, text=True, timeout=120)
    check("recover with --roll-forward-from the live database", r.returncode == 0 and "rolled forward" in r.stdout, r.stdout + r.stderr)
    store.cli("db", "attach", target, "--as", "rroll", check=False)
    got = store.export("u1@x.test", os.path.join(root, "exp-roll"), database="rroll").get("INBOX", [])
    ids = {message_id(m) for m in got}
    live = {message_id(m) for m in store.export("u1@x.test", os.path.join(root, "exp-live")).get("INBOX", [])}
    missing = [t for t in loader.acked if t not in ids]
    check("roll-forward: all %d acknowledged messages present" % len(loader.acked), not missing, missing[:5])
    check("roll-forward: same messages as the live database (%d)" % len(live), ids == live, len(ids ^ live))

# Point in time: the newest chain recovered --until the full's consistency point
# holds what the full holds and nothing acknowledged after the full ended.
if "I3" in snaps and "F" in snaps:
    target = os.path.join(data_dir, "r-pit")
    vault("restore", snaps["I3"], "--target", target)
    r = subprocess.run([MXSTORE, "db", "recover", target, "--until", str(sequences["F"])], capture_output=True, text=True, timeout=120)
    check("recover --until SEQ (the full's sequence)", r.returncode == 0 and "stopped at --until" in r.stdout, r.stdout + r.stderr)
    store.cli("db", "attach", target, "--as", "rpit", check=False)
    ids = {message_id(m) for m in store.export("u1@x.test", os.path.join(root, "exp-pit"), database="rpit").get("INBOX", [])}
    later = [t for t in acked_before["D"] if t not in acked_at_end["F"]]
    check("--until: every message acked before the full is there", all(t in ids for t in acked_before["F"]))
    check("--until: none of the %d acked after the full ended is there" % len(later), not [t for t in later if t in ids],
          [t for t in later if t in ids][:5])

# Point in time by commit time: --until the moment the full ended.
if "I3" in snaps and "F" in snaps:
    target = os.path.join(data_dir, "r-pit-time")
    vault("restore", snaps["I3"], "--target", target)
    until = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ended_at["F"])) + (".%06dZ" % int((ended_at["F"] % 1) * 1e6))
    r = subprocess.run([MXSTORE, "db", "recover", target, "--until", until], capture_output=True, text=True, timeout=120)
    check("recover --until TIME (%s)" % until, r.returncode == 0 and "stopped at --until" in r.stdout, r.stdout + r.stderr)
    store.cli("db", "attach", target, "--as", "rpittime", check=False)
    ids = {message_id(m) for m in store.export("u1@x.test", os.path.join(root, "exp-pit-time"), database="rpittime").get("INBOX", [])}
    late = [t for t, seen in first_seen.items() if seen > ended_at["F"] + 1.0]
    check("--until TIME: every message acked before the full is there", all(t in ids for t in acked_before["F"]))
    check("--until TIME: none of the %d first acked over 1 s after that time is there" % len(late),
          late and not [t for t in late if t in ids], [t for t in late if t in ids][:5])

# ---- Must hold 5: circular logging refuses incremental with the fix named ----
store.cli("db", "create", "circ", "--circular-logging")
r, _ = backup("circ", "incremental", "snapshot")
check("incremental with circular logging: CIRCULAR_LOGGING (exit 8)", r.returncode == 8 and "CIRCULAR_LOGGING" in r.stderr, r.stderr)
check("... naming the command that turns it off", "mxstore db set circ --circular-logging off" in r.stderr, r.stderr)
r, _ = backup("circ", "full", "snapshot")
check("full backup with circular logging works", r.returncode == 0, r.stderr)
store.cli("db", "create", "fresh")
r, _ = backup("fresh", "incremental", "snapshot")
check("incremental without a full: NO_BASE_BACKUP", r.returncode == 8 and "NO_BASE_BACKUP" in r.stderr, r.stderr)
r, _ = backup("fresh", "differential", "snapshot")
check("differential without a full: NO_BASE_BACKUP",
      r.returncode == 8 and "NO_BASE_BACKUP" in r.stderr, r.stderr)
store.cli("db", "dismount", "fresh")
r, _ = backup("fresh", "full", "snapshot")
check("dismounted database: DATABASE_NOT_MOUNTED (exit 4) with the mount command",
      r.returncode == 4 and "DATABASE_NOT_MOUNTED" in r.stderr and "mxstore db mount fresh" in r.stderr, r.stderr)

# ---- Must hold 6: bad credentials and names: clear refusals, nothing leaks ----
bad_token = os.path.join(root, "bad.token")
with open(bad_token, "w") as f:
    f.write("0" * 64 + "\n")
token = open(store.token_file).read().strip()
r = vault("backup", "store://%s/db01" % TCP, "--token-file", bad_token, *TLS)
check("wrong token: AUTH_FAILED naming the store", r.returncode != 0 and "AUTH_FAILED" in r.stderr and TCP in r.stderr, r.stderr)
check("wrong token: the real token does not appear", token not in r.stdout + r.stderr)
r = vault("backup", "store://%s/db01" % TCP, *AUTH, "--no-tls", "--keepalive", "2", timeout=120)
check("TCP without TLS: refused, naming the address", r.returncode != 0 and TCP in r.stderr and
      ("NETWORK" in r.stderr or "SESSION_LOST" in r.stderr or "TLS" in r.stderr), r.stderr)
r = vault("backup", "store://%s/db01" % TCP, *AUTH)
check("TLS without the store's CA: TLS error", r.returncode != 0 and ("TLS" in r.stderr or "certificate" in r.stderr.lower()), r.stderr)
r = vault("backup", "unix://%s/nosuch" % UNIX, *AUTH)
check("unknown database: DATABASE_NOT_FOUND", r.returncode != 0 and "DATABASE_NOT_FOUND" in r.stderr, r.stderr)
for bad in ["a/b", "..", "../db01", "db01/.."]:
    r = vault("backup", "store://%s/%s" % (TCP, bad), *AUTH, *TLS)
    check("database name %r refused" % bad, r.returncode != 0 and "DATABASE_NOT_FOUND" in r.stderr, r.stderr)
r = vault("--json", "writers", "unix://" + UNIX, *AUTH)
ws = json.loads(r.stdout)["writers"] if r.returncode == 0 else []
check("after the refusals no session is open", ws and all(not w.get("holder") for w in ws), ws)
# A table file damaged on the store's disk: the read fails with
# CHECKSUM_MISMATCH naming the file, and nothing is truncated.
store.cli("db", "create", "dmg")
store.cli("mailbox", "create", "d@x.test", "--database", "dmg")
rng = random.Random(5)
c = smtplib.LMTP(store.lmtp_addr[0], store.lmtp_addr[1], timeout=30)
for i in range(150):
    c.sendmail("t@x.test", ["d@x.test"], make_message("dmg-%d" % i, rng, 6000))
c.quit()
r, _ = backup("dmg", "full", "streaming")
check("a full backup of the sound database works", r.returncode == 0, r.stderr)
rdir = os.path.join(data_dir, "databases", "dmg", "rocksdb")
ssts = sorted((os.path.getsize(os.path.join(rdir, n)), n) for n in os.listdir(rdir) if n.endswith(".sst"))
if check("the database has table files", ssts, os.listdir(rdir)):
    victim = os.path.join(rdir, ssts[-1][1])
    with open(victim, "r+b") as f:
        f.seek(ssts[-1][0] // 2)
        b = f.read(1)
        f.seek(ssts[-1][0] // 2)
        f.write(bytes([b[0] ^ 0x5A]))
    before = archived_logs("dmg")
    r, _ = backup("dmg", "copy", "streaming")
    check("a flipped byte in %s: CHECKSUM_MISMATCH (exit 5) naming the file" % ssts[-1][1],
          r.returncode == 5 and "CHECKSUM_MISMATCH" in r.stderr and ssts[-1][1] in r.stderr, r.stderr)
    w = writer("dmg")
    check("... the writer shows the failed step and the error", w and w["state"] == "failed" and w["failed_step"] == "read"
          and ssts[-1][1] in w["last_error"], w)
    check("... and nothing was truncated", set(before) <= set(archived_logs("dmg")))
    store.cli("db", "dismount", "dmg", check=False)  # leave the damaged database alone

listing = os.listdir(os.path.join(data_dir, "databases", "db01"))
check("no checkpoint directory left behind", not [n for n in listing if n.startswith("checkpoint.")], listing)

# Client certificates: with backup.tls_client_ca_file set, a client must
# present a certificate that CA signed (here: another store's self-signed one).
other = os.path.join(root, "client-id")
subprocess.run([MXSTORE, "init", other, "--lmtp", "unix:lmtp.sock", "--imap", "127.0.0.1:0", "--backup", "unix:backup.sock"], check=True,
               stdout=subprocess.DEVNULL)
store.stop()
with open(store.config) as f:
    text = f.read()
text = text.replace('# tls_client_ca_file = "tls/clients-ca.crt"', 'tls_client_ca_file = "%s"' % os.path.join(other, "tls", "backup.crt"))
with open(store.config, "w") as f:
    f.write(text)
store.start()
TCP = store.tcp_backup()
client_cert = ["--cert-file", os.path.join(other, "tls", "backup.crt"), "--key-file", os.path.join(other, "tls", "backup.key")]
r = vault("--json", "writers", "store://" + TCP, *AUTH, *TLS, *client_cert)
check("client certificate signed by the configured CA: accepted", r.returncode == 0, r.stderr)
r = vault("writers", "store://" + TCP, *AUTH, *TLS)
check("no client certificate: refused with a TLS or network error naming the address",
      r.returncode != 0 and TCP in r.stderr and ("TLS" in r.stderr or "NETWORK" in r.stderr), r.stderr)
r = vault("writers", "store://" + TCP, *AUTH, *TLS, "--cert-file", store.ca_file, "--key-file", os.path.join(root, "tls", "backup.key"))
check("a client certificate the CA did not sign: refused", r.returncode != 0 and TCP in r.stderr, r.stderr)

sys.exit(check.finish(store, root))
