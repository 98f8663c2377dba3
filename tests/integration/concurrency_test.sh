#!/usr/bin/env bash
# Concurrency and locks (restic's lock protocol, shared with restic 0.14):
#
#   tests/integration/concurrency_test.sh [path/to/mxvault]
#
# a. two mxvault backups of different trees into one repository at once
# b. a live restic backup (shared lock): mxvault check (exclusive) is refused
#    with LOCKED and the holder's pid, mxvault backup (shared) runs alongside;
#    after kill -9 of restic its lock is stale (dead pid on this host): check
#    succeeds at once and unlock removes it
# c. a lock from another host: respected while fresh, stale after 30 minutes
#    (needs faketime and `unshare --uts`; skipped otherwise)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
require_mxvault

cd "$T" || die setup "cd $T"

mk_tree() {  # mk_tree DIR SEED: ~9 MB, 300 small files + 2 larger ones
  python3 - "$1" "$2" <<'PY'
import os, random, sys
root, seed = sys.argv[1], int(sys.argv[2])
r = random.Random(seed)
for i in range(300):
    d = os.path.join(root, "d%d" % (i % 10))
    os.makedirs(d, exist_ok=True)
    n = r.randint(100, 8000)
    data = os.urandom(n) if i % 2 else ("%d %s\n" % (seed, "text " * 20)).encode() * (n // 100 + 1)
    open(os.path.join(d, "f%03d" % i), "wb").write(data)
open(os.path.join(root, "big1"), "wb").write(os.urandom(6 * 1024 * 1024 + seed))
open(os.path.join(root, "big2"), "wb").write(os.urandom(1024 * 1024 + seed))
PY
}
mk_tree treeA 1 && mk_tree treeB 2 && mk_tree treeC 3 || die setup "tree generation failed"

lock_files() { find repo/locks -type f -printf '%f\n' 2>/dev/null | sort; }
count_snapshots() { rs -r repo snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

if mx -r repo init >init.log 2>&1; then pass "init"; else fail "init" "exit $?"; show_log init.log; exit 1; fi

# ---------------------------------------------------------------- (a)
"$MXVAULT" --password-file "$PW" -r repo backup --json treeA >a1.json 2>a1.err &
p1=$!
"$MXVAULT" --password-file "$PW" -r repo backup --json treeB >a2.json 2>a2.err &
p2=$!
bg_register "$p1" "$p2"
rc1=0; wait_bounded "$p1" 120 || rc1=$?
rc2=0; wait_bounded "$p2" 120 || rc2=$?
if [[ $rc1 -eq 0 && $rc2 -eq 0 ]]; then
  pass "a/two-concurrent-backups-exit-0"
else
  fail "a/two-concurrent-backups-exit-0" "exit codes $rc1 and $rc2"; show_log a1.err; show_log a2.err
fi
n=$(count_snapshots 2>/dev/null) || n="?"
if [[ "$n" == 2 ]]; then pass "a/two-new-snapshots"; else fail "a/two-new-snapshots" "restic sees $n snapshots, want 2"; fi
if mx -r repo check --read-data >a-mxcheck.log 2>&1; then pass "a/mx-check-read-data"; else fail "a/mx-check-read-data" "exit $?"; show_log a-mxcheck.log; fi
if rs -r repo check --read-data >a-rscheck.log 2>&1; then pass "a/restic-check-read-data"; else fail "a/restic-check-read-data" "exit $?"; show_log a-rscheck.log; fi
for k in 1 2; do
  tree=treeA; [[ $k == 2 ]] && tree=treeB
  sid=$(json_get "a$k.json" snapshot_id 2>/dev/null) || sid=""
  if [[ -z "$sid" ]]; then fail "a/restic-restore-$tree" "no snapshot_id in the --json summary"; continue; fi
  if rs -r repo restore "$sid" --target "a-out$k" >"a-restore$k.log" 2>&1 && tree_equal "$tree" "a-out$k/$tree" 2>"a-te$k.log"; then
    pass "a/restic-restore-$tree-equal"
  else
    fail "a/restic-restore-$tree-equal" "restore of $sid differs or failed"; show_log "a-restore$k.log"; show_log "a-te$k.log"
  fi
done

# ---------------------------------------------------------------- (b)
# restic backs up a slow stdin (fifo fed ~8 s) and so holds a shared lock.
mkfifo slow.fifo
( for _ in $(seq 1 40); do head -c 100000 /dev/urandom; sleep 0.2; done ) >slow.fifo 2>/dev/null &
feeder=$!
"$RESTIC" --no-cache -q --password-file "$PW" -r repo backup --stdin --stdin-filename slow.bin <slow.fifo >b-restic.log 2>&1 &
rpid=$!
bg_register "$feeder" "$rpid"
for _ in $(seq 1 150); do   # up to 15 s for restic to take its lock
  [[ -n "$(lock_files)" ]] && break
  is_running "$rpid" || break
  sleep 0.1
done
held=$(lock_files)
if [[ -z "$held" ]]; then
  fail "b/restic-holds-lock" "restic (pid $rpid) did not create a lock file"; show_log b-restic.log
else
  note "restic pid $rpid holds lock $(echo $held)"
  t0=$(now)
  rc=0
  mx -r repo check >b-check.log 2>&1 || rc=$?
  if [[ $rc -eq 11 ]] && grep -q LOCKED b-check.log && grep -qw "$rpid" b-check.log; then
    pass "b/check-refused-LOCKED-with-pid (exit 11 in $(elapsed "$t0")s)"
  else
    fail "b/check-refused-LOCKED-with-pid" "exit $rc (want 11, 'LOCKED' and pid $rpid in the output)"; show_log b-check.log
  fi
  rc=0
  mx -r repo backup treeC >b-backup.log 2>&1 || rc=$?
  if [[ $rc -eq 0 ]]; then pass "b/shared-backup-alongside-restic"; else fail "b/shared-backup-alongside-restic" "exit $rc"; show_log b-backup.log; fi
  if is_running "$rpid"; then
    pass "b/restic-still-running-during-mx-commands"
  else
    fail "b/restic-still-running-during-mx-commands" "restic ended before the mxvault commands finished: the test did not exercise concurrency"
    show_log b-restic.log
  fi
  kill -9 "$rpid" 2>/dev/null
  { wait "$rpid"; } 2>/dev/null
  bg_forget "$rpid"
  kill -9 "$feeder" 2>/dev/null
  { wait "$feeder"; } 2>/dev/null
  bg_forget "$feeder"
  left=$(comm -12 <(echo "$held") <(lock_files))
  if [[ -n "$left" ]]; then pass "b/killed-restic-lock-stays"; else fail "b/killed-restic-lock-stays" "restic's lock file vanished"; fi
  t0=$(now)
  rc=0
  mx -r repo check >b-check2.log 2>&1 || rc=$?
  if [[ $rc -eq 0 ]] && elapsed_ok "$t0" 10; then
    pass "b/check-ignores-stale-lock-of-dead-pid ($(elapsed "$t0")s)"
  else
    fail "b/check-ignores-stale-lock-of-dead-pid" "exit $rc after $(elapsed "$t0")s"; show_log b-check2.log
  fi
  rc=0
  mx -r repo unlock >b-unlock.log 2>&1 || rc=$?
  if [[ $rc -eq 0 && -z "$(lock_files)" ]]; then
    pass "b/unlock-removes-stale-lock"
  else
    fail "b/unlock-removes-stale-lock" "exit $rc, locks left: $(lock_files | tr '\n' ' ')"; show_log b-unlock.log
  fi
fi

# ---------------------------------------------------------------- (c)
# A lock written by restic on host "otherhost" (UTS namespace). Its pid cannot
# be checked from here, so it is live until not refreshed for 30 minutes.
# Note: `faketime -f -40m restic ...` does not work: Go reads the clock through
# the vDSO, not libc, so restic's lock time stays real (and faketime forks, so
# the pid is not restic's). Instead restic writes a real-time lock and
# mxvault runs 40 minutes in the future under faketime.
if ! command -v faketime >/dev/null 2>&1; then
  skip "c/other-host-lock" "faketime is not installed (Debian package faketime)"
elif ! unshare --uts true 2>/dev/null; then
  skip "c/other-host-lock" "unshare --uts is not permitted here"
elif [[ "$(faketime -f +40m date +%s 2>/dev/null)" -lt $(( $(date +%s) + 2000 )) ]]; then
  skip "c/other-host-lock" "faketime does not shift the clock here"
else
  mkfifo other.fifo
  ( for _ in $(seq 1 40); do head -c 100000 /dev/urandom; sleep 0.2; done ) >other.fifo 2>/dev/null &
  feeder=$!
  # unshare and sh exec: $! is restic's pid
  unshare --uts sh -c 'hostname otherhost && exec "$@"' sh \
    "$RESTIC" --no-cache -q --password-file "$PW" -r repo backup --stdin --stdin-filename other.bin <other.fifo >c-restic.log 2>&1 &
  opid=$!
  bg_register "$feeder" "$opid"
  for _ in $(seq 1 150); do
    [[ -n "$(lock_files)" ]] && break
    is_running "$opid" || break
    sleep 0.1
  done
  held=$(lock_files)
  kill -9 "$opid" 2>/dev/null; { wait "$opid"; } 2>/dev/null; bg_forget "$opid"
  kill -9 "$feeder" 2>/dev/null; { wait "$feeder"; } 2>/dev/null; bg_forget "$feeder"
  if [[ -z "$held" ]]; then
    fail "c/other-host-lock" "restic in the UTS namespace did not create a lock"; show_log c-restic.log
  else
    lockjson=$(rs -r repo --no-lock cat lock "$(head -n1 <<<"$held")" 2>&1)
    if grep -q '"otherhost"' <<<"$lockjson"; then
      note "lock $(echo $held) from otherhost, pid $opid (dead)"
    else
      note "WARNING: the lock does not name otherhost: $lockjson"
    fi
    rc=0
    mx -r repo check >c-check1.log 2>&1 || rc=$?
    if [[ $rc -eq 11 ]] && grep -q LOCKED c-check1.log; then
      pass "c/fresh-other-host-lock-is-respected (exit 11)"
    else
      fail "c/fresh-other-host-lock-is-respected" "exit $rc: a fresh lock from another host must not be treated as stale (its pid cannot be checked)"
      show_log c-check1.log
    fi
    t0=$(now)
    rc=0
    FAKETIME_DONT_FAKE_MONOTONIC=1 timeout 60 faketime -f +40m "$MXVAULT" --password-file "$PW" -r repo check >c-check2.log 2>&1 || rc=$?
    if [[ $rc -eq 0 ]] && elapsed_ok "$t0" 10; then
      pass "c/other-host-lock-stale-after-30min ($(elapsed "$t0")s)"
    else
      fail "c/other-host-lock-stale-after-30min" "mxvault check 40 minutes later: exit $rc after $(elapsed "$t0")s"; show_log c-check2.log
    fi
    rc=0
    FAKETIME_DONT_FAKE_MONOTONIC=1 timeout 60 faketime -f +40m "$MXVAULT" --password-file "$PW" -r repo unlock >c-unlock.log 2>&1 || rc=$?
    if [[ $rc -eq 0 && -z "$(lock_files)" ]]; then
      pass "c/unlock-removes-old-other-host-lock"
    else
      fail "c/unlock-removes-old-other-host-lock" "exit $rc, locks left: $(lock_files | tr '\n' ' ')"; show_log c-unlock.log
    fi
  fi
fi

# The repository is still fine after all this.
if rs -r repo --no-lock check --read-data >final-rscheck.log 2>&1; then pass "final/restic-check-read-data"; else fail "final/restic-check-read-data" "exit $?"; show_log final-rscheck.log; fi
