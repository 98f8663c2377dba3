#!/usr/bin/env python3
"""Retention policies against restic (issue 8, Must hold 1): one repository
with 64 snapshots that the real restic writes at fabricated times (`backup
--time`, in three time zones, two hosts, two paths, tags), then for each of
many policies `mxvault forget --dry-run --json` and `restic forget --dry-run
--json` must keep and remove the same snapshots, group by group, for the same
reasons. Also: a real forget removes exactly what the dry run said, and bad
policy options are refused with a clear error.

usage: retention_test.py BUILD_BIN_DIR (or a binary in it)"""

import datetime
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from vaulttest import bin_dir  # noqa: E402
from mxstore import Checks  # noqa: E402

BIN = bin_dir()
MXVAULT = os.path.join(BIN, "mxvault")

check = Checks()
root = tempfile.mkdtemp(prefix="mx-retention-")
repo = os.path.join(root, "repo")
pwfile = os.path.join(root, "pw")
with open(pwfile, "w") as f:
    f.write("retention-secret\n")
ENV = dict(os.environ, RESTIC_REPOSITORY=repo, RESTIC_PASSWORD_FILE=pwfile, MXVAULT_REPOSITORY=repo,
           MXVAULT_PASSWORD_FILE=pwfile, RESTIC_CACHE_DIR=os.path.join(root, "cache"))


def run(cmd, env=None, tz=None, timeout=120):
    e = dict(env or ENV)
    if tz:
        e["TZ"] = tz
    return subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout)


r = run([MXVAULT, "init"])
if not check("mxvault init", r.returncode == 0, r.stderr):
    sys.exit(1)

# Two source trees (two paths); content changes a little per snapshot.
src = {p: os.path.join(root, p) for p in ("srv-a", "srv-b")}
for p in src.values():
    os.makedirs(p)

rng = random.Random(8)
# Times: clusters in one hour and one day, ISO week and year boundaries, month
# ends (for month arithmetic in --keep-within), spread over two years.
base = datetime.datetime(2024, 1, 1, 0, 0, 0)
times = set()
fixed = ["2024-12-30 23:30:00", "2024-12-31 23:59:00", "2025-01-01 00:10:00", "2025-01-05 12:00:00",
         "2025-01-06 00:30:00", "2025-03-31 10:00:00", "2025-03-03 10:00:00", "2025-02-28 22:00:00",
         "2025-06-15 10:05:00", "2025-06-15 10:45:00", "2025-06-15 11:15:00", "2025-06-15 18:00:00",
         "2025-06-16 09:00:00", "2025-12-29 08:00:00", "2026-01-01 09:00:00", "2026-01-02 09:00:00"]
for t in fixed:
    times.add(t)
while len(times) < 64:
    t = base + datetime.timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60))
    times.add(t.strftime("%Y-%m-%d %H:%M:%S"))
times = sorted(times)
zones = ["UTC", "Europe/Berlin", "America/New_York"]
expected_snapshots = 0
for i, t in enumerate(times):
    host = "mail1" if i % 3 else "mail2"
    path = src["srv-a"] if i % 4 else src["srv-b"]
    tags = []
    if i % 5 == 0:
        tags.append("monthly")
    if i % 7 == 0:
        tags += ["important", "db"]
    if i % 11 == 0:
        tags.append("db")
    with open(os.path.join(path, "f%d" % (i % 3)), "w") as f:
        f.write("content %d\n" % i)
    cmd = ["restic", "backup", "-q", "--time", t, "--host", host, path]
    if tags:
        cmd += ["--tag", ",".join(tags)]
    r = run(cmd, tz=zones[i % 3])
    if r.returncode != 0:
        check("restic backup --time %s" % t, False, r.stderr)
        sys.exit(1)
    expected_snapshots += 1
r = run(["restic", "snapshots", "--json"])
snaps = json.loads(r.stdout)
check("restic wrote %d snapshots at fabricated times (>= 60)" % expected_snapshots, len(snaps) == expected_snapshots >= 60,
      len(snaps))
offsets = {"Z" if s["time"].endswith("Z") else s["time"][-6:] for s in snaps}
check("snapshots carry zone offsets of three zones (with summer time: 5)", len(offsets) >= 3, sorted(offsets))


def outcome(out):
    """group key -> (keep ids, remove ids, [(time, matches)])"""
    groups = {}
    for g in json.loads(out):
        key = (g["host"], tuple(g["paths"] or ()), tuple(sorted(g["tags"] or ())))
        keep = sorted(s["id"] for s in g["keep"] or [])
        remove = sorted(s["id"] for s in g["remove"] or [])
        reasons = sorted((r["snapshot"]["time"], tuple(r["matches"])) for r in g["reasons"] or [])
        groups[key] = (keep, remove, reasons)
    return groups


policies = [
    ["--keep-last", "5"],
    ["--keep-daily", "7"],
    ["--keep-weekly", "6"],
    ["--keep-monthly", "12", "--keep-yearly", "3"],
    ["--keep-hourly", "10", "--keep-daily", "3"],
    ["--keep-within", "3m10d"],
    ["--keep-within", "1y2h", "--keep-last", "2"],
    ["--keep-tag", "important", "--keep-last", "2"],
    ["--keep-tag", "important,db", "--keep-tag", "monthly"],
    ["--host", "mail2", "--keep-daily", "5"],
    ["--tag", "monthly", "--keep-weekly", "4"],
    ["--keep-within-daily", "20d", "--keep-within-weekly", "2m", "--keep-within-monthly", "1y"],
    ["--keep-within-hourly", "6m", "--keep-yearly", "1"],
    ["--path", src["srv-b"], "--keep-last", "3"],
    ["--keep-daily", "4", "--keep-weekly", "2", "--keep-monthly", "2"],
]
groupings = ["host,paths", "host", "", "host,paths,tags", "tags", "paths"]
cases = []
for i, p in enumerate(policies):
    cases.append((p, groupings[i % len(groupings)]))
cases.append((["--keep-last", "4", "--keep-monthly", "6"], "host,paths,tags"))

identical = 0
for policy, grouping in cases:
    name = "%s -g '%s'" % (" ".join(policy).replace(root, "ROOT"), grouping)
    ours = run([MXVAULT, "forget", "--dry-run", "--json", "-g", grouping] + policy)
    theirs = run(["restic", "forget", "--dry-run", "--json", "-g", grouping] + policy)
    if not check("both tools accept %s" % name, ours.returncode == 0 and theirs.returncode == 0,
                 ours.stderr + theirs.stderr):
        continue
    a, b = outcome(ours.stdout), outcome(theirs.stdout)
    same_sets = {k: v[:2] for k, v in a.items()} == {k: v[:2] for k, v in b.items()}
    removed = sum(len(v[1]) for v in b.values())
    if check("same keep/remove per group: %s (restic removes %d)" % (name, removed), same_sets,
             {"mxvault": {k: v[:2] for k, v in a.items()}, "restic": {k: v[:2] for k, v in b.items()}}):
        identical += 1
    check("same reasons: %s" % name, a == b,
          [(k, a.get(k, (0, 0, []))[2], b.get(k, (0, 0, []))[2]) for k in set(a) | set(b)
           if a.get(k) != b.get(k)][:3])
check("at least ten policies give identical results", identical >= 10, identical)

# The default grouping of mxvault is host,paths,tags; restic 0.14's is host,paths.
ours = run([MXVAULT, "forget", "--dry-run", "--json", "--keep-last", "1"])
theirs = run(["restic", "forget", "--dry-run", "--json", "--keep-last", "1", "-g", "host,paths,tags"])
check("default grouping is host,paths,tags", outcome(ours.stdout) == outcome(theirs.stdout), ours.stderr)

# Text output names the policy and the groups.
r = run([MXVAULT, "forget", "--dry-run", "--keep-daily", "2", "-g", "host"])
check("text output: policy, groups, keep and remove tables",
      r.returncode == 0 and "keep 2 daily snapshots" in r.stdout and "snapshots for (host [mail1])" in r.stdout and
      "daily snapshot" in r.stdout and "remove " in r.stdout, r.stdout[:2000] + r.stderr)

# A real forget removes exactly what the dry run listed; restic agrees.
policy = ["--keep-monthly", "6", "-g", "host,paths"]
plan = outcome(run([MXVAULT, "forget", "--dry-run", "--json"] + policy).stdout)
want_removed = sorted(i for v in plan.values() for i in v[1])
r = run([MXVAULT, "forget", "--json"] + policy)
check("forget removes snapshots", r.returncode == 0, r.stderr)
left = sorted(s["id"] for s in json.loads(run(["restic", "snapshots", "--json"]).stdout))
check("exactly the planned %d snapshots are gone" % len(want_removed),
      set(left) == {s["id"] for s in snaps} - set(want_removed) and len(left) == len(snaps) - len(want_removed),
      (len(left), len(snaps), len(want_removed)))
r = run(["restic", "forget", "--dry-run", "--json"] + policy)
check("restic finds nothing more to remove under the same policy",
      r.returncode == 0 and all(not v[1] for v in outcome(r.stdout).values()), r.stdout[:500])

# Forget by id; an unknown id is NOT_FOUND.
victim = left[0]
r = run([MXVAULT, "forget", victim[:8]])
left2 = {s["id"] for s in json.loads(run(["restic", "snapshots", "--json"]).stdout)}
check("forget ID removes that snapshot", r.returncode == 0 and victim not in left2 and len(left2) == len(left) - 1,
      r.stderr)
r = run([MXVAULT, "forget", "deadbeef"])
check("forget of an unknown id: NOT_FOUND", r.returncode != 0 and "NOT_FOUND" in r.stderr, r.stderr)

# Bad options: clear errors, nothing removed.
before = len(left2)
for bad, why in [(["--keep-within", "3w"], "unknown unit"), (["--keep-within", "5"], "has no unit"),
                 (["--keep-last", "-3"], "0 or more"), (["-g", "host,color", "--keep-last", "1"], "unknown field"),
                 (["--prune", "--max-unused", "12%x", "--keep-last", "1"], "max-unused")]:
    r = run([MXVAULT, "forget"] + bad)
    check("refused: %s (%s)" % (" ".join(bad), why), r.returncode == 2 and why in r.stderr and "USAGE" in r.stderr,
          r.stderr)
after = len(json.loads(run(["restic", "snapshots", "--json"]).stdout))
check("refused commands removed nothing", after == before, (before, after))
r = run([MXVAULT, "forget"])
check("no policy: nothing removed, said so", r.returncode == 0 and "nothing to forget" in r.stdout, r.stdout + r.stderr)

r = run(["restic", "check"])
check("restic check passes after mxvault forget", r.returncode == 0, r.stdout + r.stderr)

print("%d failed" % len(check.failures))
if not check.failures:
    shutil.rmtree(root, ignore_errors=True)
sys.exit(1 if check.failures else 0)
