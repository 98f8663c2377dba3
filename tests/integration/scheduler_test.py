#!/usr/bin/env python3
"""Scheduled jobs and their run history (issue 8, Must hold 6), with a live
mxstore as the source:

- two jobs on one store database scheduled to overlap: the second is recorded
  NOT_STARTED naming the first (and `mxvault run` of it exits NOT_STARTED);
- a schedule of three fixed times and one repeating every 4 s fire exactly as
  often as they elapse while the daemon runs, each within a bounded delay;
- the daemon killed with SIGKILL mid-run: its backup child dies with it, no
  snapshot is written, and the run is recorded INTERRUPTED at the next start;
  SIGTERM mid-run records INTERRUPTED at once;
- the store killed mid-backup: the run is FAILED with SESSION_LOST and the
  job's on_failure command is told;
- `history --json` and `status --json` match what ran; the snapshots carry
  the job's tag and retention keeps the job's newest N;
- the metrics file parses as Prometheus text (prometheus_client's parser)
  and its values match the history;
- configuration mistakes name file:line:column.

usage: scheduler_test.py BUILD_BIN_DIR (or a binary in it)"""

import datetime
import json
import os
import random
import signal
import smtplib
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from vaulttest import bin_dir, password_file  # noqa: E402
from mxstore import Checks, Store, make_message  # noqa: E402

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # Debian's python3-prometheus-client under another python3
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

BIN = bin_dir()
MXSTORE = os.path.join(BIN, "mxstore")
MXVAULT = os.path.join(BIN, "mxvault")

check = Checks()
root = tempfile.mkdtemp(prefix="mx-scheduler-")
store = Store(MXSTORE, root, extra_config="write_buffer_size = 262144")
store.start()
store.cli("mailbox", "create", "u1@x.test")
repo = os.path.join(root, "repo")
pw = password_file(root, "secret")
ENV = dict(os.environ, MXVAULT_PASSWORD_FILE=pw)
ENV.pop("MXVAULT_CONFIG", None)
repo2 = os.path.join(root, "repo2")
for r in (repo, repo2):
    subprocess.run([MXVAULT, "-r", r, "init"], env=ENV, check=True, capture_output=True, timeout=60)
rng = random.Random(5)

# About 3 MB of mail: with limit_download = 400 KiB/s a full backup takes
# several seconds, long enough to overlap.
c = smtplib.LMTP(store.lmtp_addr[0], store.lmtp_addr[1], timeout=30)
for i in range(220):
    c.sendmail("t@x.test", ["u1@x.test"], make_message("m%d" % i, rng, 14000))
c.quit()

files_dir = os.path.join(root, "files")
os.makedirs(files_dir)
for i in range(5):
    with open(os.path.join(files_dir, "f%d" % i), "wb") as f:
        f.write(os.urandom(2000))

state = os.path.join(root, "state")
metrics = os.path.join(root, "metrics", "mxvault.prom")
failures_log = os.path.join(root, "failures.log")
cfg_path = os.path.join(root, "mxvault.toml")
UNIX = "unix://%s/db01" % store.unix_backup()


def fmt(t):
    return datetime.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def write_config(schedules, limit=400, extra=""):
    """schedules: job -> TOML value of its schedule (or None)."""
    text = """state_dir = "%s"
metrics_file = "%s"

[[repositories]]
name = "main"
location = "%s"
password_file = "%s"

[[repositories]]
name = "second"
location = "%s"
password_file = "%s"

[[source]]
name = "db01"
store = "%s"
token_file = "%s"
limit_download = %d

[[source]]
name = "files"
paths = ["%s"]

[[source]]
name = "files2"
paths = ["%s"]
host = "tick-host"
""" % (state, metrics, repo, pw, repo2, pw, UNIX, store.token_file, limit, files_dir, files_dir)
    for name, src, typ, retention, rep in [
            ("db-full", "db01", "full", "", "main"), ("db-incr", "db01", "incremental", "", "main"),
            ("files", "files", None, "[job.retention]\nkeep_last = 2\nlock_wait = \"1m\"\n", "second"),
            ("tick", "files2", None, "", "second")]:
        text += '\n[[job]]\nname = "%s"\nsource = "%s"\nrepository = "%s"\n' % (name, src, rep)
        if typ:
            text += 'type = "%s"\n' % typ
        if schedules.get(name):
            text += "schedule = %s\n" % schedules[name]
        text += 'on_failure = "echo $MXVAULT_JOB $MXVAULT_STATUS $MXVAULT_ERROR_CODE >> %s"\n' % failures_log
        text += retention
    text += extra
    with open(cfg_path, "w") as f:
        f.write(text)


def vault(*args, timeout=300):
    return subprocess.run([MXVAULT, "--config", cfg_path] + list(args), env=ENV, capture_output=True, text=True,
                          timeout=timeout)


def history():
    r = vault("--json", "history", "--limit", "0")
    return json.loads(r.stdout) if r.returncode == 0 else []


def wait_for(pred, seconds, step=0.1):
    deadline = time.time() + seconds
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


class Daemon:
    def __init__(self):
        self.log = open(os.path.join(root, "daemon.log"), "a")
        self.proc = subprocess.Popen([MXVAULT, "--config", cfg_path, "daemon"], env=ENV, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        ok = wait_for(lambda: "daemon started" in open(os.path.join(root, "daemon.log")).read()[self.mark():], 20)
        if not ok:
            raise RuntimeError("daemon did not start; see %s/daemon.log" % root)

    _mark = 0

    def mark(self):
        return Daemon._mark

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=60)
        Daemon._mark = len(open(os.path.join(root, "daemon.log")).read())
        return rc


def children_of(pid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/stat" % p) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append(int(p))
            except OSError:
                pass
    return out


def snapshots(where=None):
    r = subprocess.run([MXVAULT, "-r", where or repo, "--json", "snapshots"], env=ENV, capture_output=True, text=True,
                       timeout=120)
    return json.loads(r.stdout)


# ---- configuration mistakes name file:line:column ---------------------------
write_config({"files": '"Mon..Fry 02:00"'})
r = vault("status")
check("bad calendar refused with its position", r.returncode == 2 and "mxvault.toml:" in r.stderr and
      "Fry" in r.stderr and "[CONFIG]" in r.stderr, r.stderr)
write_config({}, extra='\n[[job]]\nname = "x"\nsource = "nope"\nrepository = "main"\n')
r = vault("status")
check("unknown source named with its position", r.returncode == 2 and "nope" in r.stderr and
      "defined sources: db01, files, files2" in r.stderr and "mxvault.toml:" in r.stderr, r.stderr)
write_config({}, extra='\n[[job]]\nname = "y"\nsource = "files"\nrepository = "main"\nschedul = "daily"\n')
r = vault("status")
check("unknown setting named", r.returncode == 2 and "schedul (" in r.stderr, r.stderr)
write_config({}, extra='\n[[job]]\nname = "z"\nsource = "files"\nrepository = "main"\ntype = "full"\n')
r = vault("status")
check("a backup type on a directory job is refused", r.returncode == 2 and "directory" in r.stderr, r.stderr)

# ---- overlap, fixed times and a repeating schedule under one daemon ---------
# Start just after a multiple of 4 s so that the elapses of "*:*:0/4" are
# clear of the daemon's start and stop.
while time.time() % 4 > 0.3:
    time.sleep(0.05)
t0 = int(time.time())
fixed = [t0 + 2, t0 + 5, t0 + 8]
write_config({"db-full": '"%s"' % fmt(t0 + 2), "db-incr": '"%s"' % fmt(t0 + 4),
              "files": "[%s]" % ", ".join('"%s"' % fmt(t) for t in fixed), "tick": '"*:*:0/4"'})
daemon = Daemon()
started_at = time.time()
# While db-full runs (from the daemon), a manual run of db-incr must not start.
running = wait_for(lambda: [h for h in history() if h["job"] == "db-full" and h["status"] == "RUNNING"], 15)
check("db-full is RUNNING", bool(running))
r = vault("run", "db-incr")
check("manual run during the overlap exits NOT_STARTED (13)", r.returncode == 13 and "NOT_STARTED" in r.stderr and
      "db-full" in r.stderr, r.stderr)
done = wait_for(lambda: [h for h in history() if h["job"] == "db-full" and h["status"] != "RUNNING"], 120, 0.5)
# Stop 2 s after an elapse of the 4 s schedule, after the last fixed time.
stop_at = max(fixed[-1] + 1.5, time.time())
stop_at = (int(stop_at) // 4 + 1) * 4 + 2
while time.time() < stop_at:
    time.sleep(0.05)
check("daemon stops on SIGTERM with status 0", daemon.stop() == 0)
runs = history()
by_job = {}
for h in runs:
    by_job.setdefault(h["job"], []).append(h)
full = by_job.get("db-full", [])
incr = by_job.get("db-incr", [])
check("db-full ran once from the schedule and succeeded",
      len(full) == 1 and full[0]["status"] == "SUCCESS" and full[0]["trigger"] == "schedule", full)
sched_incr = [h for h in incr if h["trigger"] == "schedule"]
check("scheduled db-incr NOT_STARTED naming db-full's run",
      len(sched_incr) == 1 and sched_incr[0]["status"] == "NOT_STARTED" and
      ("job 'db-full' (run #%d" % full[0]["id"]) in sched_incr[0]["error_message"] if full and sched_incr else False,
      incr)
manual_incr = [h for h in incr if h["trigger"] == "manual"]
check("manual db-incr recorded NOT_STARTED", len(manual_incr) == 1 and manual_incr[0]["status"] == "NOT_STARTED",
      incr)


def started(h):
    return datetime.datetime.fromisoformat(h["start"].replace("Z", "+00:00")).timestamp()


files_runs = sorted(by_job.get("files", []), key=started)
check("the fixed schedule fired exactly 3 times", len(files_runs) == 3 and
      all(h["status"] == "SUCCESS" for h in files_runs), files_runs)
for h, t in zip(files_runs, fixed):
    check("fixed run at %s started within 1.5 s" % fmt(t), t <= started(h) + 1 and started(h) < t + 1.5,
          (started(h), t))
elapses = [t for t in range(int(started_at) + 1, int(stop_at)) if t % 4 == 0]
tick_runs = sorted(by_job.get("tick", []), key=started)
check("*:*:0/4 fired once per elapse (%d)" % len(elapses), len(tick_runs) == len(elapses),
      (len(tick_runs), elapses))
for h, t in zip(tick_runs, elapses):
    check("tick at %s started within 1.5 s" % fmt(t), t <= started(h) + 1 and started(h) < t + 1.5, (started(h), t))

snaps = snapshots() + snapshots(repo2)
snap_ids = {s["id"]: s for s in snaps}
check("db-full's snapshot exists with the job's tag", full and full[0]["snapshot_id"] in snap_ids and
      "job:db-full" in snap_ids[full[0]["snapshot_id"]].get("tags", []))
files_snaps = [s for s in snaps if "job:files" in s.get("tags", [])]
check("retention kept the files job's newest 2 snapshots", sorted(s["id"] for s in files_snaps) ==
      sorted(h["snapshot_id"] for h in files_runs[-2:]), files_snaps)
check("tick snapshots carry their source's host", all(s["hostname"] == "tick-host" for s in snaps
                                                      if "job:tick" in s.get("tags", [])))
for h in runs:
    if h["status"] == "SUCCESS":
        check("run #%d counters" % h["id"], h["files"] > 0 and h["bytes_read"] > 0 and h["end"] and
              h["duration"] >= 0, h)

# ---- status --json matches the history --------------------------------------
st = {s["job"]: s for s in json.loads(vault("--json", "status").stdout)}
for job, hs in by_job.items():
    newest = max(hs, key=lambda h: h["id"])
    ok = [h for h in hs if h["status"] == "SUCCESS"]
    check("status last of %s is run #%d" % (job, newest["id"]), st[job]["last"]["id"] == newest["id"] and
          st[job]["last"]["status"] == newest["status"])
    if ok:
        check("status last_success of %s" % job, st[job]["last_success"]["id"] == max(h["id"] for h in ok))
check("tick's next run is the next 4 s elapse",
      st["tick"]["next_run"] is not None and
      int(datetime.datetime.fromisoformat(st["tick"]["next_run"].replace("Z", "+00:00")).timestamp()) % 4 == 0,
      st["tick"])
check("db-full has no next run (its one time passed)", st["db-full"]["next_run"] is None, st["db-full"])
check("text status lists every job", all(j in vault("status").stdout for j in ["db-full", "db-incr", "files", "tick"]))

# ---- metrics parse as Prometheus text and match the history ------------------
with open(metrics) as f:
    text = f.read()
samples = {}
families = list(text_string_to_metric_families(text))
for fam in families:
    for s in fam.samples:
        samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
check("metrics parse: 6 families", len(families) == 6, [f.name for f in families])
ok_full = full[0]
end_full = datetime.datetime.fromisoformat(ok_full["end"].replace("Z", "+00:00")).timestamp()
check("last success time of db-full", abs(samples[("mxvault_job_last_success_timestamp_seconds",
                                                   (("job", "db-full"),))] - end_full) < 1.0)
check("db-incr's last status is NOT_STARTED", samples[("mxvault_job_last_status",
                                                       (("job", "db-incr"), ("status", "NOT_STARTED")))] == 1)
check("db-incr never succeeded (0)", samples[("mxvault_job_last_success_timestamp_seconds",
                                              (("job", "db-incr"),))] == 0)
check("bytes added of db-full", samples[("mxvault_job_last_bytes_added", (("job", "db-full"),))] ==
      ok_full["bytes_added"])

# ---- SIGKILL of the daemon mid-run -> INTERRUPTED at the next start ----------
before = len(snapshots())
t1 = int(time.time()) + 2
write_config({"db-full": '"%s"' % fmt(t1)})
daemon = Daemon()
running = wait_for(lambda: [h for h in history() if h["job"] == "db-full" and h["status"] == "RUNNING"], 15)
check("second db-full RUNNING", bool(running))
time.sleep(1.0)
kids = children_of(daemon.proc.pid)
check("the daemon runs the backup in a child", len(kids) >= 1, kids)
daemon.stop(signal.SIGKILL)
gone = wait_for(lambda: not any(os.path.exists("/proc/%d" % k) for k in kids), 20)
check("the backup child died with the daemon", bool(gone))
db = sqlite3.connect("file:%s?mode=ro" % os.path.join(state, "history.db"), uri=True)
raw = db.execute("SELECT status FROM runs WHERE id=?", (running[0]["id"],)).fetchone()
db.close()
check("the killed run is still RUNNING in the database before the next start", raw == ("RUNNING",), raw)
write_config({})
daemon = Daemon()
daemon_log = open(os.path.join(root, "daemon.log")).read()
check("the restarted daemon logs the interrupted run", "run #%d recorded INTERRUPTED" % running[0]["id"] in daemon_log)
daemon.stop()
row = [h for h in history() if h["id"] == running[0]["id"]][0]
check("killed run recorded INTERRUPTED", row["status"] == "INTERRUPTED" and row["error_code"] == "INTERRUPTED" and
      "pid" in row["error_message"], row)
check("the killed run wrote no snapshot", len(snapshots()) == before)

# SIGTERM mid-run: recorded INTERRUPTED by the daemon itself.
t2 = int(time.time()) + 2
write_config({"db-full": '"%s"' % fmt(t2)})
daemon = Daemon()
running = wait_for(lambda: [h for h in history() if h["job"] == "db-full" and h["status"] == "RUNNING"], 15)
time.sleep(0.5)
check("daemon stops on SIGTERM mid-run", daemon.stop() == 0)
row = [h for h in history() if running and h["id"] == running[0]["id"]]
check("SIGTERM mid-run recorded INTERRUPTED", row and row[0]["status"] == "INTERRUPTED" and
      "shutting down" in row[0]["error_message"], row)

# ---- the store killed mid-backup -> FAILED with SESSION_LOST -----------------
write_config({})
proc = subprocess.Popen([MXVAULT, "--config", cfg_path, "run", "db-full"], env=ENV, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
wait_for(lambda: [h for h in history() if h["job"] == "db-full" and h["status"] == "RUNNING"], 15)
time.sleep(1.0)
store.kill9()
out, err = proc.communicate(timeout=120)
row = history()[0]
check("store killed mid-backup: FAILED SESSION_LOST (or NETWORK)", row["job"] == "db-full" and
      row["status"] == "FAILED" and row["error_code"] in ("SESSION_LOST", "NETWORK"), row)
check("run exits with the backup's error", proc.returncode == 9, (proc.returncode, err))
fails = open(failures_log).read() if os.path.exists(failures_log) else ""
check("on_failure told of the failure", "db-full FAILED %s" % row["error_code"] in fails and
      "db-incr NOT_STARTED NOT_STARTED" in fails, fails)
store.start()
r = vault("--json", "run", "db-full")
check("after the store restarts the job succeeds", r.returncode == 0 and json.loads(r.stdout)["status"] == "SUCCESS",
      r.stderr)
r = vault("history", "db-full")
check("text history lists the job's runs with their error codes",
      r.returncode == 0 and "[%s]" % row["error_code"] in r.stdout and "SUCCESS" in r.stdout, r.stdout)
r = subprocess.run([MXVAULT, "-r", repo, "check"], env=ENV, capture_output=True, text=True, timeout=300)
check("repository check passes", r.returncode == 0, r.stderr)
r = vault("run", "nope")
check("unknown job named", r.returncode == 2 and "db-full, db-incr, files, tick" in r.stderr, r.stderr)

sys.exit(check.finish(store, root))
