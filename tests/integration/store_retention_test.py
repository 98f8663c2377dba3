#!/usr/bin/env python3
"""Chain-aware retention of store-level backups (issue 8, Must hold 3): a
live mxstore database backed up as full F1, differential D1, incrementals I1
and I2 (mail delivered over LMTP between them), then full F2 and
differential D2. `mxvault forget` keeps what a kept backup needs even when
the policy alone would drop it, says why, refuses a named removal that would
orphan a kept backup, and every kept snapshot restores and recovers with
exactly the mail delivered before it.

usage: store_retention_test.py BUILD_BIN_DIR (or the mxstore binary in it)"""

import json
import os
import random
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from vaulttest import bin_dir, password_file  # noqa: E402
from mxstore import Checks, Store, make_message, message_id  # noqa: E402

BIN = bin_dir()
MXSTORE = os.path.join(BIN, "mxstore")
MXVAULT = os.path.join(BIN, "mxvault")

check = Checks()
root = tempfile.mkdtemp(prefix="mx-store-retention-")
store = Store(MXSTORE, root, extra_config="write_buffer_size = 262144")
store.start()
store.cli("mailbox", "create", "u1@x.test")
repo = os.path.join(root, "repo")
pw = password_file(root, "secret")
ENV = dict(os.environ, MXVAULT_REPOSITORY=repo, MXVAULT_PASSWORD_FILE=pw,
           RESTIC_REPOSITORY=repo, RESTIC_PASSWORD_FILE=pw,
           RESTIC_CACHE_DIR=os.path.join(root, "cache"))
subprocess.run([MXVAULT, "init"], env=ENV, check=True, capture_output=True, timeout=60)
UNIX = store.unix_backup()
rng = random.Random(77)
delivered = {}  # message id -> bytes


def vault(*args, timeout=300):
    return subprocess.run([MXVAULT] + list(args), env=ENV, capture_output=True, text=True, timeout=timeout)


def deliver(n, tag):
    c = smtplib.LMTP(store.lmtp_addr[0], store.lmtp_addr[1], timeout=30)
    for i in range(n):
        t = "%s-%d" % (tag, i)
        data = make_message(t, rng, rng.randrange(500, 20000))
        c.sendmail("t@x.test", ["u1@x.test"], data)
        delivered[message_id(data)] = data
    c.quit()


snaps = {}     # name -> snapshot id
short = {}     # short id -> name
contents = {}  # name -> the mail delivered before it


def deliver_and_back_up(plan, messages, method):
    for name, typ in plan:
        deliver(messages, name)
        r = vault("--json", "backup", "unix://%s/db01" % UNIX, "--type", typ, "--method", method,
                  "--token-file", store.token_file)
        if not check("backup %s (%s)" % (name, typ), r.returncode == 0, r.stderr):
            sys.exit(check.finish(store, root))
        snaps[name] = json.loads(r.stdout.strip().splitlines()[-1])["snapshot_id"]
        short[snaps[name][:8]] = name
        contents[name] = dict(delivered)
        time.sleep(1.1)  # distinct snapshot times


deliver_and_back_up([("F1", "full"), ("D1", "differential"), ("I1", "incremental"), ("I2", "incremental")], 40,
                    "snapshot")


def plan_of(*policy):
    r = vault("forget", "--dry-run", "--json", *policy)
    if r.returncode != 0:
        return None, r.stderr
    keep, remove, reasons = set(), set(), {}
    for g in json.loads(r.stdout):
        keep |= {short[s["id"][:8]] for s in g["keep"] or []}
        remove |= {short[s["id"][:8]] for s in g["remove"] or []}
        for rs in g["reasons"]:
            t = rs["snapshot"]["time"]
            reasons.setdefault(t, []).extend(rs["matches"])
    return (keep, remove, reasons), r.stderr


# Which base each backup names: the chain mxvault restore follows.
got, err = plan_of("--keep-last", "1")
if check("forget --keep-last 1 --dry-run", got is not None, err):
    keep, remove, reasons = got
    check("the policy keeps I2 and its chain keeps the full F1 and I1 (kept %s, removed %s)" % (sorted(keep), sorted(remove)),
          {"I2", "I1", "F1"} <= keep and "F1" not in remove, (keep, remove))
    check("the differential D1, which I2 does not need, is removed", "D1" in remove, (keep, remove))
    flat = [m for ms in reasons.values() for m in ms]
    check("the reasons say the full is needed by the incremental",
          any(m.startswith("needed by incremental") and "full" in m for m in flat), flat)
    check("the policy's own reason is kept too", "last snapshot" in flat, flat)

# Group by the database, whatever the per-backup tags: one group.
r = vault("forget", "--dry-run", "--json", "--keep-last", "1")
groups = json.loads(r.stdout) if r.returncode == 0 else []
check("all backups of one database form one group (default group-by host,paths,tags)", len(groups) == 1,
      [g.get("tags") for g in groups])

# A named removal that would orphan a kept incremental is refused.
r = vault("forget", snaps["F1"])
check("forget F1 while I1 and I2 need it: SNAPSHOT_NEEDED, nothing removed",
      r.returncode != 0 and "SNAPSHOT_NEEDED" in r.stderr and all(snaps[n][:8] in r.stderr for n in ("D1", "I1", "I2")),
      r.stderr)
left = {s["id"] for s in json.loads(vault("--json", "snapshots").stdout)}
check("all four snapshots still there", left == set(snaps.values()), left)

# The real forget with pruning: what is kept restores and recovers.
r = vault("forget", "--keep-last", "1", "--prune", "--max-unused", "0%")
check("forget --keep-last 1 --prune", r.returncode == 0, r.stdout[-1000:] + r.stderr)
left = {short[s["id"][:8]] for s in json.loads(vault("--json", "snapshots").stdout)}
check("F1, I1 and I2 remain; D1 is gone", left == {"F1", "I1", "I2"}, left)


def restores_and_recovers(name):
    target = os.path.join(root, "data", "r-" + name.lower() + "-" + str(int(time.time() * 1000) % 100000))
    r = vault("restore", snaps[name], "--target", target)
    if not check("restore %s (its chain) after forget --prune" % name, r.returncode == 0, r.stderr):
        return
    r = subprocess.run([MXSTORE, "db", "recover", target], capture_output=True, text=True, timeout=120)
    if not check("recover %s" % name, r.returncode == 0, r.stdout + r.stderr):
        return
    dbname = "r" + os.path.basename(target).replace("-", "")
    r = store.cli("db", "attach", target, "--as", dbname, check=False)
    if not check("attach %s" % name, r.returncode == 0, r.stderr):
        return
    got = store.export("u1@x.test", os.path.join(root, "exp-" + dbname), database=dbname).get("INBOX", [])
    by_id = {message_id(m): m for m in got}
    want = contents[name]
    check("%s: exactly the %d messages delivered before it, byte-exact" % (name, len(want)),
          set(by_id) == set(want) and all(by_id[k] == v for k, v in want.items()),
          (len(by_id), len(want), sorted(set(want) - set(by_id))[:3]))


for name in sorted(left):
    restores_and_recovers(name)
r = vault("check", "--read-data")
check("mxvault check --read-data after the prune", r.returncode == 0, r.stdout[-500:] + r.stderr)
r = subprocess.run(["restic", "check", "--read-data"], env=ENV, capture_output=True, text=True, timeout=300)
check("restic check --read-data after the prune", r.returncode == 0, r.stdout[-500:] + r.stderr)

# A new full and a differential on it: the differential keeps its full.
deliver_and_back_up([("F2", "full"), ("D2", "differential")], 30, "streaming")
got, err = plan_of("--keep-last", "1")
if check("forget --keep-last 1 --dry-run after F2, D2", got is not None, err):
    keep, remove, reasons = got
    check("D2 keeps its full F2; the old chain goes (kept %s)" % sorted(keep),
          keep == {"D2", "F2"} and remove == {"F1", "I1", "I2"}, (keep, remove))
r = vault("forget", "--keep-last", "1", "--prune")
check("forget --keep-last 1 --prune", r.returncode == 0, r.stderr)
left = {short[s["id"][:8]] for s in json.loads(vault("--json", "snapshots").stdout)}
check("F2 and D2 remain", left == {"F2", "D2"}, left)
for name in sorted(left):
    restores_and_recovers(name)
r = vault("check")
check("mxvault check after the second prune", r.returncode == 0, r.stdout[-500:] + r.stderr)

sys.exit(check.finish(store, root))
