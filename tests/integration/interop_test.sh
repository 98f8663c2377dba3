#!/usr/bin/env bash
# Interoperability with restic 0.14 (repository format v1 and v2) on a nasty
# tree (modes, set-id bits, owners, old/nanosecond mtimes, symlinks, hard
# links, odd names, sizes around the chunker limits).
#
#   tests/integration/interop_test.sh [path/to/mxvault]
#
# a. mxvault writes, restic reads (snapshots, ls, check --read-data, restore)
# b. restic writes (v2 and v1 repositories), mxvault reads (check, restore,
#    snapshots --json)
# c. dedup: mxvault re-backup adds no data blobs; mxvault backup into a
#    restic-written repository adds no data blobs (same chunking/polynomial)
# d. sub-path restore (SNAPSHOT:PATH)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
require_mxvault

cd "$T" || die setup "cd $T"
make_odd_tree src || die setup "make_odd_tree failed"
note "odd tree: $(tree_size src) bytes, $(find src | wc -l) entries"

# ---------------------------------------------------------------- (a)
if mx -r repo init >init.log 2>&1; then pass "a/mx-init"; else fail "a/mx-init" "exit $?"; show_log init.log; fi
if mx -r repo backup src >a-backup.log 2>&1; then
  pass "a/mx-backup"
else
  fail "a/mx-backup" "exit $?"; show_log a-backup.log
fi
if rs -r repo snapshots >a-snaps.log 2>&1; then pass "a/restic-snapshots"; else fail "a/restic-snapshots" "exit $?"; show_log a-snaps.log; fi
if rs -r repo ls latest >a-ls.log 2>a-ls.err; then
  missing=""
  for p in "/src/names/ünïcödé" "/src/names/-rf" "/src/big/random-9MiB+7" "/src/links/dangling" "/src/empty dir" "/src/hard/triple-2"; do
    grep -qxF -- "$p" a-ls.log || missing+=" '$p'"
  done
  if [[ -z "$missing" ]]; then pass "a/restic-ls"; else fail "a/restic-ls" "restic ls latest lacks$missing"; show_log a-ls.log 8; fi
else
  fail "a/restic-ls" "exit $?"; show_log a-ls.err 4
fi
if rs -r repo check --read-data >a-check.log 2>&1; then pass "a/restic-check-read-data"; else fail "a/restic-check-read-data" "exit $?"; show_log a-check.log; fi
if rs -r repo restore latest --target out1 >a-restore.log 2>&1; then
  pass "a/restic-restore"
  if tree_equal src out1/src 2>a-te.log; then pass "a/restic-restore-tree-equal"; else fail "a/restic-restore-tree-equal" "restored tree differs"; show_log a-te.log 40; fi
else
  fail "a/restic-restore" "exit $?"; show_log a-restore.log
fi

# (a') the same without the names that need escapes in restic's tree format
# (restic stores node names Go-quoted: strconv.Quote without the outer quotes,
# so \, ", and control characters are escaped once more inside the JSON
# string); separates that failure from everything else in the tree.
cp -a src tame && python3 - tame <<'PY'
import os, sys
for dp, dn, fn in os.walk(sys.argv[1]):
    for n in fn + dn:
        if any(c in n for c in '\\"') or any(ord(c) < 0x20 or ord(c) == 0x7f for c in n):
            p = os.path.join(dp, n)
            (os.rmdir if os.path.isdir(p) and not os.path.islink(p) else os.unlink)(p)
PY
if mx -r repo-tame init >tame-init.log 2>&1 && mx -r repo-tame backup tame >tame-backup.log 2>&1; then
  if rs -r repo-tame check --read-data >tame-check.log 2>&1; then pass "a'/tame-restic-check-read-data"; else fail "a'/tame-restic-check-read-data" "exit $?"; show_log tame-check.log; fi
  if rs -r repo-tame restore latest --target out-tame >tame-restore.log 2>&1; then
    if tree_equal tame out-tame/tame 2>tame-te.log; then pass "a'/tame-restic-restore-tree-equal"; else fail "a'/tame-restic-restore-tree-equal" "restored tree differs"; show_log tame-te.log 40; fi
  else
    fail "a'/tame-restic-restore" "exit $?"; show_log tame-restore.log
  fi
else
  fail "a'/tame-mx-backup" "mxvault init/backup failed"; show_log tame-init.log; show_log tame-backup.log
fi

# ---------------------------------------------------------------- (b)
for v in 2 1; do
  r="repo-restic-v$v"
  if ! rs -r "$r" init --repository-version "$v" >"b$v-init.log" 2>&1 || ! rs -r "$r" backup src >"b$v-backup.log" 2>&1; then
    fail "b/v$v/restic-setup" "restic init/backup failed"; show_log "b$v-init.log"; show_log "b$v-backup.log"; continue
  fi
  if mx -r "$r" check --read-data >"b$v-check.log" 2>&1; then pass "b/v$v/mx-check-read-data"; else fail "b/v$v/mx-check-read-data" "exit $?"; show_log "b$v-check.log"; fi
  if mx -r "$r" restore latest --target "out-v$v" >"b$v-restore.log" 2>&1; then
    pass "b/v$v/mx-restore"
  else
    fail "b/v$v/mx-restore" "exit $?"; show_log "b$v-restore.log"
  fi
  if [[ -d "out-v$v/src" ]]; then
    if tree_equal src "out-v$v/src" 2>"b$v-te.log"; then pass "b/v$v/mx-restore-tree-equal"; else fail "b/v$v/mx-restore-tree-equal" "restored tree differs"; show_log "b$v-te.log" 40; fi
  else
    fail "b/v$v/mx-restore-tree-equal" "out-v$v/src does not exist"
  fi
  if rs -r "$r" snapshots --json >"b$v-rs-snaps.json" 2>"b$v-rs-snaps.err" && rid=$(snapshot_ids "b$v-rs-snaps.json" | head -n1) && [[ -n "$rid" ]]; then
    if mx -r "$r" snapshots --json >"b$v-mx-snaps.json" 2>"b$v-mx-snaps.err"; then
      if ids=$(snapshot_ids "b$v-mx-snaps.json" 2>"b$v-mx-parse.err"); then
        if grep -qxF "$rid" <<<"$ids"; then pass "b/v$v/mx-snapshots-json"; else fail "b/v$v/mx-snapshots-json" "restic's snapshot $rid not listed (got: $(echo $ids))"; fi
      else
        fail "b/v$v/mx-snapshots-json" "output is not a JSON array of objects with id: $(head -c 300 "b$v-mx-snaps.json") $(cat "b$v-mx-parse.err" | tail -n1)"
      fi
    else
      fail "b/v$v/mx-snapshots-json" "exit $?"; show_log "b$v-mx-snaps.err"
    fi
  else
    fail "b/v$v/restic-snapshots-json" "could not get restic's snapshot id"; show_log "b$v-rs-snaps.err"
  fi
done

# ---------------------------------------------------------------- (c)
# (i) unchanged re-backup into the mxvault repo adds no data blobs
before=$(count_data_blobs repo) || before=""
if mx -r repo backup --json src >c1.json 2>c1.err; then
  pass "c/mx-rebackup"
  db=$(json_get c1.json data_blobs 2>/dev/null) || db=""
  if [[ "$db" == "0" ]]; then pass "c/mx-rebackup-json-data_blobs-0"; else fail "c/mx-rebackup-json-data_blobs-0" "summary data_blobs='$db' (output: $(head -c 400 c1.json))"; fi
else
  fail "c/mx-rebackup" "exit $?"; show_log c1.err
fi
after=$(count_data_blobs repo) || after=""
if [[ -n "$before" && "$before" == "$after" ]]; then pass "c/mx-rebackup-restic-blob-count"; else fail "c/mx-rebackup-restic-blob-count" "data blobs before=$before after=$after"; fi
# (i') with --force every file is read and chunked again: still no new data
if mx -r repo backup --json --force src >c1f.json 2>c1f.err; then
  db=$(json_get c1f.json data_blobs 2>/dev/null) || db=""
  after2=$(count_data_blobs repo) || after2=""
  if [[ "$db" == "0" && "$after2" == "$before" ]]; then pass "c/mx-force-rebackup-no-new-data"; else fail "c/mx-force-rebackup-no-new-data" "data_blobs='$db', restic data blobs $before -> $after2"; fi
else
  fail "c/mx-force-rebackup-no-new-data" "exit $?"; show_log c1f.err
fi
# (ii) mxvault backup into the restic-written repos: identical chunks
for v in 2 1; do
  r="repo-restic-v$v"
  [[ -d "$r" ]] || continue
  before=$(count_data_blobs "$r") || before=""
  # --force: really read and chunk every file (no parent shortcut)
  if mx -r "$r" backup --json --force src >"c2-v$v.json" 2>"c2-v$v.err"; then
    after=$(count_data_blobs "$r") || after=""
    db=$(json_get "c2-v$v.json" data_blobs 2>/dev/null) || db=""
    if [[ -n "$before" && "$before" == "$after" ]]; then
      pass "c/v$v/mx-backup-into-restic-repo-no-new-data"
    else
      fail "c/v$v/mx-backup-into-restic-repo-no-new-data" "restic data blobs $before -> $after (summary data_blobs=$db): chunk boundaries differ from restic's"
    fi
    if rs -r "$r" check --read-data >"c2-v$v-check.log" 2>&1; then pass "c/v$v/restic-check-after-mx-backup"; else fail "c/v$v/restic-check-after-mx-backup" "exit $?"; show_log "c2-v$v-check.log"; fi
  else
    fail "c/v$v/mx-backup-into-restic-repo-no-new-data" "exit $?"; show_log "c2-v$v.err"
  fi
done

# ---------------------------------------------------------------- (d)
sub="names"
if mx -r repo restore "latest:src/$sub" --target out3 >d.log 2>&1; then
  pass "d/mx-restore-subpath"
  if [[ -d out3 ]] && tree_equal "src/$sub" out3 --no-top-meta 2>d-te.log; then
    pass "d/subpath-tree-equal"
  else
    fail "d/subpath-tree-equal" "out3 is not exactly src/$sub (contents of the subdir expected directly under the target)"
    show_log d-te.log 20; ls -la out3 2>&1 | head -n 5 | sed 's/^/    | /'
  fi
else
  fail "d/mx-restore-subpath" "exit $?"; show_log d.log
fi
# restic restores the same subtree with --include; compare with mxvault's
if rs -r repo restore latest --target out3r --include "/src/$sub" >d-r.log 2>&1 && [[ -d out3 ]]; then
  if tree_equal "out3r/src/$sub" out3 --no-top-meta 2>d-r-te.log; then pass "d/subpath-equals-restic-include"; else fail "d/subpath-equals-restic-include" "differs from restic's restore --include"; show_log d-r-te.log 20; fi
fi
