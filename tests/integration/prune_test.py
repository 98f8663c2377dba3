#!/usr/bin/env python3
"""Prune (issue 8, Must hold 2 and 4).

2: eight snapshots of a changing tree; `mxvault forget --keep-last 3 --prune
   --max-unused 0%`; then `mxvault check --read-data` and `restic check
   --read-data` pass, every remaining snapshot restores byte-exact with both
   tools, and the repository shrank by what the removed snapshots alone
   referenced (restic's `stats --mode raw-data` before and after).
4: the same prune killed with SIGKILL at 26 points (each phase of the prune,
   and random times): after each kill both checks pass with --read-data,
   every snapshot restores byte-exact, and the next prune completes and
   leaves the same size a clean prune leaves.

usage: prune_test.py BUILD_BIN_DIR (or a binary in it)"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from vaulttest import bin_dir, password_file, tree_digest  # noqa: E402
from mxstore import Checks  # noqa: E402

BIN = bin_dir()
MXVAULT = os.path.join(BIN, "mxvault")

check = Checks()
root = tempfile.mkdtemp(prefix="mx-prune-")
pwfile = password_file(root, "prune-secret")
rng = random.Random(20261124)


def env_for(repo):
    return dict(os.environ, RESTIC_REPOSITORY=repo, RESTIC_PASSWORD_FILE=pwfile, MXVAULT_REPOSITORY=repo,
                MXVAULT_PASSWORD_FILE=pwfile, RESTIC_CACHE_DIR=os.path.join(root, "cache"))


def run(cmd, repo, timeout=300):
    return subprocess.run(cmd, env=env_for(repo), capture_output=True, text=True, timeout=timeout)


def data_size(repo):
    total = 0
    for d, _, files in os.walk(os.path.join(repo, "data")):
        total += sum(os.path.getsize(os.path.join(d, f)) for f in files)
    return total


def rand_bytes(n):
    return rng.getrandbits(8 * n).to_bytes(n, "little")


# ---- a repository with eight snapshots of a changing tree ----
src = os.path.join(root, "src")
os.makedirs(os.path.join(src, "sub"))
for i in range(24):
    with open(os.path.join(src, "sub" if i % 3 == 0 else "", "f%02d" % i), "wb") as f:
        f.write(rand_bytes(rng.randrange(50_000, 1_200_000)))
template = os.path.join(root, "template")
r = run([MXVAULT, "init"], template)
if not check("init", r.returncode == 0, r.stderr):
    sys.exit(1)
expected = {}  # snapshot id -> digest of the tree it holds
for step in range(8):
    if step:
        names = sorted(os.listdir(src))
        files = [n for n in names if n.startswith("f")]
        for n in rng.sample(files, 3):  # rewrite three files
            with open(os.path.join(src, n), "wb") as f:
                f.write(rand_bytes(rng.randrange(100_000, 900_000)))
        with open(os.path.join(src, files[0]), "ab") as f:  # grow one
            f.write(rand_bytes(200_000))
        with open(os.path.join(src, "new%02d" % step), "wb") as f:  # add one
            f.write(rand_bytes(rng.randrange(20_000, 600_000)))
        if step % 3 == 0:
            os.remove(os.path.join(src, files[-1]))
    r = run([MXVAULT, "--json", "backup", src, "--host", "prune-test"], template)
    if not check("backup %d" % step, r.returncode == 0, r.stderr):
        sys.exit(1)
    sid = json.loads(r.stdout.strip().splitlines()[-1])["snapshot_id"]
    expected[sid] = tree_digest(src)
snaps = [s["id"] for s in json.loads(run(["restic", "snapshots", "--json"], template).stdout)]
check("eight snapshots", len(snaps) == 8 and set(snaps) == set(expected), snaps)


def raw_data(repo, ids=()):
    r = run(["restic", "stats", "--mode", "raw-data", "--json"] + list(ids), repo)
    return json.loads(r.stdout)["total_size"]


def restores_exact(repo, ids, tool="mxvault", tag=""):
    bad = []
    for sid in ids:
        target = os.path.join(root, "restore-%s-%s%s" % (tool, sid[:8], tag))
        shutil.rmtree(target, ignore_errors=True)
        if tool == "mxvault":
            r = run([MXVAULT, "restore", sid, "--target", target], repo)
        else:
            r = run(["restic", "restore", sid, "--target", target], repo)
        if r.returncode != 0:
            bad.append((sid[:8], r.stderr[-300:]))
            continue
        got = tree_digest(os.path.join(target, src.lstrip("/")))
        if got != expected[sid]:
            bad.append((sid[:8], "content differs", sorted(set(got.items()) ^ set(expected[sid].items()))[:3]))
        shutil.rmtree(target, ignore_errors=True)
    return bad


def checks_pass(repo, what, read_data=True):
    flags = ["--read-data"] if read_data else []
    a = run([MXVAULT, "check"] + flags, repo)
    b = run(["restic", "check"] + flags, repo)
    ok = check("%s: mxvault check %s" % (what, " ".join(flags)), a.returncode == 0, a.stdout[-500:] + a.stderr[-500:])
    ok &= check("%s: restic check %s" % (what, " ".join(flags)), b.returncode == 0, b.stdout[-800:] + b.stderr[-500:])
    return ok


# ---- Must hold 2: forget --prune ----
repo = os.path.join(root, "repo")
shutil.copytree(template, repo)
raw_all = raw_data(repo)
size_before = data_size(repo)
newest = snaps[-3:]  # restic lists oldest first
raw_kept = raw_data(repo, newest)
exclusive = raw_all - raw_kept
r = run([MXVAULT, "forget", "--keep-last", "3", "--prune", "--max-unused", "0%"], repo)
check("forget --keep-last 3 --prune --max-unused 0%", r.returncode == 0, r.stdout[-1500:] + r.stderr[-800:])
print(r.stdout[-900:])
left = [s["id"] for s in json.loads(run(["restic", "snapshots", "--json"], repo).stdout)]
check("the three newest snapshots remain", sorted(left) == sorted(newest), (left, newest))
size_after = data_size(repo)
shrink = size_before - size_after
# Unused blobs go; pack headers of the removed and rewritten packs differ a little.
check("the repository shrank by what the removed snapshots alone referenced (%d of %d bytes)" % (shrink, exclusive),
      exclusive > 1_000_000 and abs(shrink - exclusive) <= exclusive * 0.02 + 65536, (shrink, exclusive, size_before))
check("what remains is what the kept snapshots reference (%d vs %d)" % (size_after, raw_kept),
      raw_kept <= size_after <= raw_kept * 1.02 + 65536, (size_after, raw_kept))
checks_pass(repo, "after forget --prune")
check("every remaining snapshot restores byte-exact (mxvault)", not restores_exact(repo, left),
      restores_exact(repo, left))
check("every remaining snapshot restores byte-exact (restic)", not restores_exact(repo, left, "restic"),
      restores_exact(repo, left, "restic"))
r = run([MXVAULT, "prune"], repo)
check("a second prune finds nothing to do", r.returncode == 0 and "nothing to prune" in r.stdout, r.stdout + r.stderr)
clean_size = size_after

# dry run changes nothing
shutil.rmtree(repo)
shutil.copytree(template, repo)
r = run([MXVAULT, "forget", "--keep-last", "3"], repo)
before = sorted(os.listdir(os.path.join(repo, "index"))), data_size(repo)
r = run([MXVAULT, "--json", "prune", "--dry-run", "--max-unused", "0%"], repo)
plan = json.loads(r.stdout) if r.returncode == 0 else {}
after = sorted(os.listdir(os.path.join(repo, "index"))), data_size(repo)
check("prune --dry-run plans deletions and repacks and changes nothing",
      r.returncode == 0 and plan.get("packs_delete", 0) + plan.get("packs_repack", 0) > 0 and before == after,
      (r.stderr, plan))
r = run([MXVAULT, "prune", "--max-unused", "lots"], repo)
check("prune --max-unused lots: USAGE", r.returncode == 2 and "USAGE" in r.stderr, r.stderr)

# ---- Must hold 4: kill -9 during prune, at every phase and at random ----
shutil.rmtree(repo)
shutil.copytree(template, repo)
run([MXVAULT, "forget", "--keep-last", "3"], repo)
forgotten = os.path.join(root, "forgotten")
shutil.copytree(repo, forgotten)
t0 = time.time()
r = run([MXVAULT, "prune", "--max-unused", "0%"], repo)
clean_seconds = time.time() - t0
check("reference prune", r.returncode == 0, r.stderr)

phases = ["loading snapshots", "finding the data", "counting used", "repacking", "writing the new index",
          "removing", "removing packs"]
kills = 0
completed = 0
iteration_failures = []
for i in range(26):
    work = os.path.join(root, "kill%02d" % i)
    shutil.copytree(forgotten, work)
    if i < len(phases) * 2:
        phase, delay = phases[i % len(phases)], rng.uniform(0, 0.03)
    else:
        phase, delay = None, rng.uniform(0.02, clean_seconds * 0.8)
    p = subprocess.Popen([MXVAULT, "prune", "--max-unused", "0%"], env=env_for(work), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    killed = threading.Event()

    def killer():
        time.sleep(delay)
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            killed.set()

    if phase is None:
        threading.Thread(target=killer, daemon=True).start()
    else:
        for line in p.stderr:
            if phase in line:
                killer()
                break
    try:
        p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    where = ("at '%s' +%.0f ms" % (phase, delay * 1000)) if phase else ("after %.0f ms" % (delay * 1000))
    if killed.is_set():
        kills += 1
    else:
        completed += 1
    ok = checks_pass(work, "kill %d %s" % (i, where))
    bad = restores_exact(work, newest, tag="-k%d" % i)
    ok &= check("kill %d: every snapshot restores byte-exact" % i, not bad, bad)
    r = run([MXVAULT, "prune", "--max-unused", "0%"], work)
    ok &= check("kill %d: the next prune completes" % i, r.returncode == 0, r.stderr[-800:])
    ok &= check("kill %d: then the repository is as small as after a clean prune (%d vs %d)" %
                (i, data_size(work), clean_size), abs(data_size(work) - clean_size) <= clean_size * 0.01 + 65536,
                (data_size(work), clean_size))
    ok &= checks_pass(work, "kill %d, after the next prune" % i, read_data=False)
    if ok:
        shutil.rmtree(work, ignore_errors=True)
    else:
        iteration_failures.append(i)
check("at least 20 prunes were killed mid-way (%d killed, %d finished first)" % (kills, completed), kills >= 20,
      (kills, completed))

print("%d failed" % len(check.failures))
if not check.failures:
    shutil.rmtree(root, ignore_errors=True)
sys.exit(1 if check.failures else 0)
