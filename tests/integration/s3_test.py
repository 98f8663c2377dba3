#!/usr/bin/env python3
"""S3-compatible object storage (issue 8, Must hold 5), against a real one-node
Ceph RADOS Gateway the test starts on loopback (tests/support/radosgw.py):

- the backend conformance suite (mx_unit_tests, S3/BackendSuite) passes;
- mxvault backs up to s3:http://127.0.0.1:PORT/BUCKET and restic checks and
  restores it byte-exact; restic backs up and mxvault checks and restores;
- faults from a loopback proxy (503 SlowDown, 500, a connection reset
  mid-upload, a stall) are retried and the backup completes; a fault that
  persists ends in a named NETWORK error naming the object, no snapshot, a
  repository both tools check clean, and the next backup reuses what was
  uploaded;
- wrong credentials are a named AUTH_FAILED error;
- a restore reads each pack once (GETs counted at the proxy);
- forget --prune shrinks the bucket and both tools check it clean;
- https with a CA the test creates: refused without -o s3.ca-file or with
  the wrong CA, backup/restore with it, restic --cacert reads the result.

usage: s3_test.py BUILD_BIN_DIR (or a binary in it). Exit 77 (skip) when the
Ceph packages are missing."""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from vaulttest import bin_dir, password_file, tree_digest  # noqa: E402
from mxstore import Checks  # noqa: E402
import radosgw  # noqa: E402
from s3_fault_proxy import FaultProxy  # noqa: E402
from test_ca import make_test_ca  # noqa: E402

BIN = bin_dir()
MXVAULT = os.path.join(BIN, "mxvault")
UNIT = os.path.join(BIN, "mx_unit_tests")

if not radosgw.available():
    print("SKIP: ceph-mon, ceph-osd or radosgw is not installed (scripts/bootstrap installs them)")
    sys.exit(77)

check = Checks()
root = tempfile.mkdtemp(prefix="mx-s3-")
pwfile = password_file(root, "s3-secret")
rng = random.Random(5)
gw = radosgw.RadosGW(os.path.join(root, "ceph"))
gw.start()
print("radosgw started in %.1f s at %s" % (gw.start_seconds, gw.url), flush=True)
BASE = gw.env(dict(os.environ, MXVAULT_PASSWORD_FILE=pwfile, RESTIC_PASSWORD_FILE=pwfile,
                   RESTIC_CACHE_DIR=os.path.join(root, "cache")))


def restic_reads(repo, target_name, src, want, what):
    """restic checks every byte of `repo` and restores its latest snapshot
    of `src` byte-exact (digest `want`)."""
    r = run(["restic", "-r", repo, "check", "--read-data"])
    check("restic check --read-data of " + what, r.returncode == 0, r.stdout[-800:] + r.stderr[-800:])
    target = os.path.join(root, target_name)
    r = run(["restic", "-r", repo, "restore", "latest", "--target", target])
    check("restic restores the latest snapshot of %s byte-exact" % what,
          r.returncode == 0 and tree_digest(os.path.join(target, src.lstrip("/"))) == want, r.stderr)

def run(cmd, env=None, timeout=300):
    return subprocess.run(cmd, env=env or BASE, capture_output=True, text=True, timeout=timeout)


def make_tree(path, files, lo, hi):
    os.makedirs(path, exist_ok=True)
    for i in range(files):
        with open(os.path.join(path, "f%03d" % i), "wb") as f:
            f.write(rng.getrandbits(8 * (n := rng.randrange(lo, hi))).to_bytes(n, "little"))
    os.makedirs(os.path.join(path, "deep", "er"), exist_ok=True)
    with open(os.path.join(path, "deep", "er", "text.txt"), "w") as f:
        f.write("mail " * 10000)


try:
    # ---- conformance suite ----
    e = dict(BASE, MX_TEST_S3="s3:%s/conformance" % gw.url)
    r = run([UNIT, "--gtest_filter=S3/*:S3*:RetryBackend*"], env=e)
    passed = r.stdout.count("[       OK ] S3/BackendSuite")
    check("backend conformance suite on radosgw (%d cases)" % passed,
          r.returncode == 0 and passed >= 5 and "SKIPPED ] S3/" not in r.stdout, r.stdout[-3000:] + r.stderr[-1000:])

    # ---- mxvault writes, restic reads ----
    src = os.path.join(root, "src")
    make_tree(src, 30, 10_000, 700_000)
    want = tree_digest(src)
    repo = "s3:%s/mxvault-first" % gw.url
    r = run([MXVAULT, "-r", repo, "init"])
    check("mxvault init on S3", r.returncode == 0, r.stderr)
    r = run([MXVAULT, "-r", repo, "--json", "backup", src])
    check("mxvault backup to S3", r.returncode == 0, r.stderr)
    restic_reads(repo, "restic-restore", src, want, "mxvault's S3 repository")

    # ---- restic writes, mxvault reads ----
    repo2 = "s3:%s/restic-first" % gw.url
    r = run(["restic", "-r", repo2, "init"])
    check("restic init on S3", r.returncode == 0, r.stderr)
    r = run(["restic", "-r", repo2, "backup", src])
    check("restic backup to S3", r.returncode == 0, r.stderr)
    r = run([MXVAULT, "-r", repo2, "check", "--read-data"])
    check("mxvault check --read-data of restic's S3 repository", r.returncode == 0, r.stdout[-800:] + r.stderr[-800:])
    target = os.path.join(root, "mxvault-restore")
    r = run([MXVAULT, "-r", repo2, "restore", "latest", "--target", target])
    check("mxvault restores restic's snapshot byte-exact",
          r.returncode == 0 and tree_digest(os.path.join(target, src.lstrip("/"))) == want, r.stderr)
    r = run([MXVAULT, "-r", repo2, "backup", src])
    check("mxvault adds a snapshot to restic's S3 repository", r.returncode == 0, r.stderr)
    r = run(["restic", "-r", repo2, "check"])
    check("restic check after that", r.returncode == 0, r.stdout[-500:] + r.stderr[-500:])

    # ---- wrong credentials ----
    bad = dict(BASE, AWS_SECRET_ACCESS_KEY="not-the-secret")
    r = run([MXVAULT, "-r", repo, "snapshots"], env=bad)
    check("wrong secret key: AUTH_FAILED naming the object and the server's answer",
          r.returncode != 0 and "AUTH_FAILED" in r.stderr and "SignatureDoesNotMatch" in r.stderr and "config" in r.stderr,
          r.stderr)
    nokey = dict(BASE)
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        nokey.pop(k)
    nokey["HOME"] = root
    r = run([MXVAULT, "-r", repo, "snapshots"], env=nokey)
    check("no credentials at all: AUTH_FAILED saying where it looked",
          r.returncode != 0 and "AUTH_FAILED" in r.stderr and "AWS_ACCESS_KEY_ID" in r.stderr, r.stderr)
    os.makedirs(os.path.join(root, ".aws"))
    with open(os.path.join(root, ".aws", "credentials"), "w") as f:
        f.write("[backup]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (gw.access_key, gw.secret_key))
    r = run([MXVAULT, "-r", repo, "snapshots"], env=dict(nokey, AWS_PROFILE="backup"))
    check("credentials from an AWS profile (AWS_PROFILE=backup)", r.returncode == 0, r.stderr)

    # ---- faults through a proxy ----
    proxy = FaultProxy(gw.port)
    prepo = "s3:%s/faulty" % proxy.url
    r = run([MXVAULT, "-r", prepo, "init"])
    check("init through the proxy", r.returncode == 0, r.stderr)
    proxy.add("PUT", r"/data/", "503", count=2)
    proxy.add("PUT", r"/data/", "500", count=1)
    proxy.add("PUT", r"/data/", "reset", count=1)
    proxy.add("PUT", r"/index/", "503", count=1)
    proxy.add("GET", r"/snapshots/", "stall", count=1, seconds=20)
    src2 = os.path.join(root, "src2")
    make_tree(src2, 40, 50_000, 900_000)
    want2 = tree_digest(src2)
    r = run([MXVAULT, "-r", prepo, "-o", "s3.timeout=3", "--json", "backup", src2])
    kinds = sorted({f[2] for f in proxy.faults})
    check("backup through 503 SlowDown, 500, a reset upload: retried, completes (faults: %s)" % kinds,
          r.returncode == 0 and {"503", "500", "reset"} <= set(kinds), r.stderr[-2000:])
    check("the retries were reported on stderr", "retrying" in r.stderr, r.stderr[-1000:])
    r = run([MXVAULT, "-r", prepo, "-o", "s3.timeout=3", "snapshots"])
    check("a stalled GET is cut by -o s3.timeout=3 and retried", r.returncode == 0 and "stall" in
          [f[2] for f in proxy.faults], (r.stderr[-800:], proxy.faults[-3:]))
    direct = "s3:%s/faulty" % gw.url
    restic_reads(direct, "fault-restore", src2, want2, "the repository written through faults")

    # A fault that persists: the first packs land, then every data PUT fails.
    proxy.clear()
    src3 = os.path.join(root, "src3")
    make_tree(src3, 60, 200_000, 900_000)
    want3 = tree_digest(src3)
    snaps_before = len(json.loads(run([MXVAULT, "-r", direct, "--json", "snapshots"]).stdout))
    proxy.add("PUT", r"/data/", "503", count=None, after=3)  # three packs land, then every one fails
    frepo = "s3:%s/faulty" % proxy.url
    r = run([MXVAULT, "-r", frepo, "-o", "retry.attempts=3", "--json", "backup", src3])
    check("a persisting 503: the backup fails with NETWORK naming the object and the attempts",
          r.returncode == 9 and "NETWORK" in r.stderr and "/data/" in r.stderr and "3 attempts" in r.stderr
          and "SlowDown" in r.stderr, r.stderr[-1500:])
    snaps_after = len(json.loads(run([MXVAULT, "-r", direct, "--json", "snapshots"]).stdout))
    check("no snapshot was recorded", snaps_after == snaps_before, (snaps_before, snaps_after))
    r = run(["restic", "-r", direct, "check"])
    check("restic check passes after the failed backup", r.returncode == 0, r.stdout[-500:] + r.stderr[-500:])
    r = run([MXVAULT, "-r", direct, "check"])
    check("mxvault check passes after the failed backup", r.returncode == 0, r.stdout[-500:] + r.stderr[-500:])
    r = run([MXVAULT, "-r", direct, "--json", "backup", src3])
    summary = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {}
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(src3) for f in fs)
    check("the next backup completes and reuses what was uploaded (added %d of %d bytes)" %
          (summary.get("data_added", -1), total),
          r.returncode == 0 and 0 <= summary.get("data_added", total) < total * 0.9, r.stderr[-800:])
    target = os.path.join(root, "final-restore")
    r = run([MXVAULT, "-r", direct, "restore", "latest", "--target", target])
    check("and restores byte-exact", r.returncode == 0 and tree_digest(os.path.join(target, src3.lstrip("/"))) == want3,
          r.stderr)

    # A restore from object storage reads each pack once (ranged reads of the
    # needed blobs, several packs at a time), not a GET per blob. Trees are
    # still loaded one blob each (twice: validated, then restored).
    del proxy.log[:]
    target = os.path.join(root, "pack-restore")
    r = run([MXVAULT, "-r", frepo, "restore", "latest", "--target", target])
    gets = {}
    for method, path in proxy.log:
        if method == "GET" and "/data/" in path:
            gets[path] = gets.get(path, 0) + 1
    ls = run([MXVAULT, "-r", direct, "--json", "ls", "latest"]).stdout.splitlines()[1:]
    trees = 1 + sum(1 for line in ls if json.loads(line).get("type") == "dir")
    blobs = 60  # src3 has 60 files, each at least one data blob
    check("a restore through the proxy reads each pack once: %d GETs on %d objects, %d trees, >= %d data blobs"
          % (sum(gets.values()), len(gets), trees, blobs),
          r.returncode == 0 and tree_digest(os.path.join(target, src3.lstrip("/"))) == want3
          and sum(gets.values()) <= len(gets) + 2 * trees < blobs, (r.stderr[-800:], gets))

    # ---- forget --prune on object storage: removals run in parallel ----
    packs_before = len(run(["restic", "-r", direct, "list", "packs"]).stdout.split())
    r = run([MXVAULT, "-r", direct, "--json", "forget", "--group-by", "host", "--keep-last", "1", "--prune"])
    packs_after = len(run(["restic", "-r", direct, "list", "packs"]).stdout.split())
    check("forget --keep-last 1 --prune on S3 removes the older snapshots' packs (%d -> %d packs)"
          % (packs_before, packs_after), r.returncode == 0 and 0 < packs_after < packs_before, r.stderr[-1500:])
    restic_reads(direct, "pruned-restore", src3, want3, "the pruned S3 repository")
    r = run([MXVAULT, "-r", direct, "check", "--read-data"])
    check("mxvault check --read-data of the pruned S3 repository", r.returncode == 0, r.stdout[-500:] + r.stderr[-500:])

    # ---- TLS with a CA the test creates (a TLS front on the proxy) ----
    ca, cert, key = make_test_ca(os.path.join(root, "tls"))
    other_ca, _, _ = make_test_ca(os.path.join(root, "other-ca"))
    tproxy = FaultProxy(gw.port, tls=(cert, key))
    trepo = "s3:%s/tls-bucket" % tproxy.url
    r = run([MXVAULT, "-r", trepo, "init"])
    check("https to a server whose CA is not trusted: a TLS error naming -o s3.ca-file",
          r.returncode != 0 and "TLS" in r.stderr and "s3.ca-file" in r.stderr, r.stderr[-800:])
    r = run([MXVAULT, "-r", trepo, "-o", "s3.ca-file=" + other_ca, "init"])
    check("https with the wrong CA is refused too", r.returncode != 0 and "TLS" in r.stderr, r.stderr[-800:])
    r = run([MXVAULT, "-r", trepo, "-o", "s3.ca-file=" + ca, "init"])
    check("init over https with -o s3.ca-file", r.returncode == 0, r.stderr[-800:])
    r = run([MXVAULT, "-r", trepo, "-o", "s3.ca-file=" + ca, "backup", src])
    check("backup over https", r.returncode == 0, r.stderr[-800:])
    target = os.path.join(root, "tls-restore")
    r = run([MXVAULT, "-r", trepo, "-o", "s3.ca-file=" + ca, "restore", "latest", "--target", target])
    check("restore over https byte-exact", r.returncode == 0 and tree_digest(os.path.join(target, src.lstrip("/"))) == want,
          r.stderr[-800:])
    r = run(["restic", "-r", trepo, "--cacert", ca, "check", "--read-data"])
    check("restic --cacert reads the same repository over https", r.returncode == 0, r.stdout[-500:] + r.stderr[-500:])
    tproxy.close()
    proxy.close()
finally:
    gw.stop()

print("%d failed" % len(check.failures))
if not check.failures:
    shutil.rmtree(root, ignore_errors=True)
sys.exit(1 if check.failures else 0)
