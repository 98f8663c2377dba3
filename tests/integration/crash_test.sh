#!/usr/bin/env bash
# Crash safety: `mxvault backup` killed with SIGKILL at random moments must
# always leave a repository that both `mxvault check --read-data` and
# `restic check --read-data` accept; a final backup completes, reuses what the
# killed runs uploaded, and restic restores it byte-exactly.
#
#   tests/integration/crash_test.sh [path/to/mxvault]
#
# Env: CRASH_ITERATIONS (default 20, at most 25), CRASH_MAX_SECONDS (loop time
# bound, default 360).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
require_mxvault

ITER=${CRASH_ITERATIONS:-20}
(( ITER > 25 )) && ITER=25
MAX_SECONDS=${CRASH_MAX_SECONDS:-360}

cd "$T" || die setup "cd $T"

# ~60 MB: 1200 small files (text and random, 1-24 KB) in nested dirs, three
# multi-MB random files, two multi-MB text files, plus a ~17 MB "churn" dir
# that is rewritten between iterations so every run has new data to upload.
python3 - tree <<'PY' || die setup "tree generation failed"
import os, random, sys
root = sys.argv[1]
r = random.Random(1234)
words = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod "
         "tempor incididunt ut labore et dolore magna aliqua backup restore chunk").split()
def text(n):
    out, size = [], 0
    while size < n:
        line = " ".join(r.choice(words) for _ in range(r.randint(4, 16))) + "\n"
        out.append(line); size += len(line)
    return "".join(out)[:n].encode()
for i in range(1200):
    d = os.path.join(root, "small", "d%02d" % (i % 30), "e%d" % (i % 7))
    os.makedirs(d, exist_ok=True)
    n = r.randint(1024, 24 * 1024)
    data = text(n) if i % 3 else os.urandom(n)
    open(os.path.join(d, "f%04d" % i), "wb").write(data)
os.makedirs(os.path.join(root, "big"), exist_ok=True)
for i, mb in enumerate((8, 6, 4)):
    open(os.path.join(root, "big", "random%d" % i), "wb").write(os.urandom(mb * 1024 * 1024 + i))
for i, mb in enumerate((5, 3)):
    open(os.path.join(root, "big", "text%d.log" % i), "wb").write(text(mb * 1024 * 1024))
os.makedirs(os.path.join(root, "churn"), exist_ok=True)
PY

churn() {  # new content for tree/churn: ~17 MB (random and text) + 20 small files
  local i=$1
  rm -rf tree/churn && mkdir -p tree/churn
  head -c $((13 * 1024 * 1024 + i)) /dev/urandom >tree/churn/big || return 1
  python3 -c 'import os,sys; sys.stdout.write("".join("%d churn %s\n" % (k, os.urandom(8).hex()) for k in range(110000)))' >tree/churn/text || return 1
  local k
  for k in $(seq 1 20); do
    head -c $((2000 + (RANDOM % 30000))) /dev/urandom >"tree/churn/s$k" || return 1
  done
}
churn 0 || die setup "churn failed"
TOTAL=$(tree_size tree)
note "tree: $TOTAL bytes, $(find tree -type f | wc -l) files"

if mx -r repo init >init.log 2>&1; then pass "init"; else fail "init" "exit $?"; show_log init.log; exit 1; fi

# The kill comes after a random delay in [0.05 s, upper]. upper starts at
# 1.5 s and then follows the measured duration of the last uninterrupted
# backup (x1.1, capped at 1.5 s), so kills land anywhere in a run even when
# mxvault finishes a run in a fraction of a second.
upper_us=1500000
start=$SECONDS
killed=0
completed=0
i=0
broken=0
while (( i < ITER )); do
  if (( SECONDS - start >= MAX_SECONDS )); then
    note "time bound of ${MAX_SECONDS}s reached after $i iterations"
    break
  fi
  i=$((i + 1))
  force=()
  (( i % 2 == 0 )) && force=(--force)
  delay_us=$(( 50000 + (RANDOM * 32768 + RANDOM) % (upper_us - 50000 + 1) ))
  t_start=${EPOCHREALTIME/./}
  "$MXVAULT" --password-file "$PW" -r repo -q backup "${force[@]}" tree >"bk$i.log" 2>&1 &
  pid=$!
  bg_register "$pid"
  while :; do   # bounded by delay_us (<= 1.5 s)
    t_now=${EPOCHREALTIME/./}
    (( t_now - t_start >= delay_us )) && break
    st=Z
    { read -r _ _ st _ <"/proc/$pid/stat"; } 2>/dev/null || st=Z
    [[ $st == Z ]] && break
    sleep 0.01
  done
  el_us=$(( t_now - t_start ))
  kill -9 "$pid" 2>/dev/null   # a finished child stays a zombie until waited: safe
  rc=0
  { wait "$pid"; } 2>/dev/null || rc=$?
  bg_forget "$pid"
  el=$(printf '%d.%03d' $((el_us / 1000000)) $((el_us / 1000 % 1000)))
  case $rc in
    137) killed=$((killed + 1)); what="killed after ${el}s" ;;
    0) completed=$((completed + 1)); what="completed in ~${el}s"
       upper_us=$(( el_us * 11 / 10 ))
       (( upper_us > 1500000 )) && upper_us=1500000
       (( upper_us < 100000 )) && upper_us=100000 ;;
    *) what="exited $rc after ${el}s"
       fail "iter$i/backup" "backup exited $rc on its own (not killed)"; show_log "bk$i.log"; broken=1 ;;
  esac
  packs=$(find repo/data -type f 2>/dev/null | wc -l)
  t0=$SECONDS
  if mx -r repo check --read-data >"mxcheck$i.log" 2>&1; then :; else
    rc=$?
    fail "iter$i/mx-check-read-data" "exit $rc after backup $what"; show_log "mxcheck$i.log" 20
    broken=1
  fi
  # --no-lock: restic 0.14 refuses an exclusive lock while ANY lock file exists,
  # even a stale one (only `restic unlock` clears them); the killed backup's
  # lock is left in place on purpose so mxvault must treat it as stale.
  if rs -r repo --no-lock check --read-data >"rscheck$i.log" 2>&1; then :; else
    rc=$?
    fail "iter$i/restic-check-read-data" "exit $rc after backup $what"; show_log "rscheck$i.log" 20
    broken=1
  fi
  note "iteration $i: backup $what${force:+ (--force)}, $packs pack files, checks took $((SECONDS - t0))s"
  if (( broken )); then
    note "stopping the loop: the repository is broken"
    break
  fi
  churn "$i" || die "churn" "cannot rewrite tree/churn"
done
if (( ! broken )); then
  pass "crash-loop ($i iterations: $killed killed, $completed completed; mx and restic check --read-data passed every time)"
  (( i < 20 )) && note "WARNING: only $i iterations ran (wanted >= 20) within ${MAX_SECONDS}s"
fi
(( broken )) && exit 1

TOTAL=$(tree_size tree)
packs=$(find repo/data -type f | wc -l)
if mx -r repo backup --json tree >final.json 2>final.err; then
  pass "final-backup-completes"
else
  fail "final-backup-completes" "exit $?"; show_log final.err; exit 1
fi
added=$(json_get final.json data_added 2>/dev/null) || added=""
sid=$(json_get final.json snapshot_id 2>/dev/null) || sid=""
note "final backup: data_added=$added of $TOTAL bytes; $packs pack files existed before it"
if [[ ! "$added" =~ ^[0-9]+$ ]]; then
  fail "final-backup-reuses-uploads" "no numeric data_added in the --json summary: $(head -c 300 final.json)"
elif (( packs > 0 )); then
  if (( added < TOTAL )); then
    pass "final-backup-reuses-uploads (data_added $added < $TOTAL)"
  else
    fail "final-backup-reuses-uploads" "data_added $added >= tree size $TOTAL although $packs packs were already uploaded"
  fi
else
  skip "final-backup-reuses-uploads" "no killed run had uploaded a pack"
fi
# Stronger: less than a full backup of the same tree into a fresh repository
# stores (compression makes "less than the tree size" easy to meet).
if (( packs > 0 )) && [[ "$added" =~ ^[0-9]+$ ]]; then
  if mx -r fresh init >fresh-init.log 2>&1 && mx -r fresh backup --json tree >fresh.json 2>fresh.err; then
    full=$(json_get fresh.json data_added 2>/dev/null) || full=""
    if [[ "$full" =~ ^[0-9]+$ ]] && (( added < full )); then
      pass "final-backup-reuses-uploads-vs-fresh-repo ($added < $full)"
    else
      fail "final-backup-reuses-uploads-vs-fresh-repo" "final data_added $added, a full backup into a fresh repo adds $full: nothing uploaded by the killed runs was reused"
    fi
  else
    fail "final-backup-reuses-uploads-vs-fresh-repo" "fresh repo backup failed"; show_log fresh-init.log; show_log fresh.err
  fi
fi
if mx -r repo check --read-data >final-check.log 2>&1; then pass "final-mx-check-read-data"; else fail "final-mx-check-read-data" "exit $?"; show_log final-check.log; fi

if [[ -z "$sid" ]]; then
  sid=latest
  note "no snapshot_id in the summary; restoring 'latest'"
fi
if rs -r repo restore "$sid" --target out >restore.log 2>&1; then
  pass "restic-restore-final"
  if tree_equal tree out/tree 2>te.log; then pass "restic-restore-final-tree-equal"; else fail "restic-restore-final-tree-equal" "differs"; show_log te.log 30; fi
else
  fail "restic-restore-final" "exit $?"; show_log restore.log
fi
