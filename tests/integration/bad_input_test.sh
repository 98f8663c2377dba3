#!/usr/bin/env bash
# Damaged and hostile repositories: wrong password, truncated / bit-flipped
# pack, index, snapshot and key files, a missing pack. mxvault must fail
# loudly and name the damaged object, and a restore must never leave a file
# with silently wrong content.
#
#   tests/integration/bad_input_test.sh [path/to/mxvault]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
require_mxvault

cd "$T" || die setup "cd $T"
mkdir -p src/sub
head -c 300000 /dev/urandom >src/random-300k
head -c 200000 /dev/urandom >src/sub/random-200k
head -c 150001 /dev/urandom >src/sub/random-150k
python3 -c 'import sys; sys.stdout.write("".join("line %d of some text\n" % i for i in range(20000)))' >src/text-400k
printf 'tiny\n' >src/tiny
: >src/empty

if mx -r pristine init >init.log 2>&1 && mx -r pristine backup src >backup.log 2>&1; then
  pass "setup/mx-init-backup"
else
  fail "setup/mx-init-backup" "mxvault could not create the test repository"; show_log init.log; show_log backup.log
  exit 1
fi

# The data pack (the pack holding data blobs) and its blob ids, from restic's
# view of the index; fall back to the largest pack file.
DATA_PACK=""
DATA_BLOBS=""
if rs -r pristine list index >index-ids.txt 2>/dev/null; then
  for idx in $(cat index-ids.txt); do
    rs -r pristine cat index "$idx" >>index.json 2>/dev/null && echo >>index.json
  done
  read -r DATA_PACK DATA_BLOBS < <(python3 - index.json <<'PY'
import json, sys
best = None
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    try:
        doc = json.loads(line)
    except ValueError:
        continue
    for p in doc.get("packs", []):
        data = [b["id"] for b in p.get("blobs", []) if b.get("type") == "data"]
        if data and (best is None or len(data) > len(best[1])):
            best = (p["id"], data)
if best:
    print(best[0], ",".join(best[1]))
PY
  )
fi
if [[ -z "$DATA_PACK" ]]; then
  note "restic could not list the index; using the largest pack file as the data pack"
  DATA_PACK=$(find pristine/data -type f -printf '%s %f\n' | sort -n | tail -n1 | cut -d' ' -f2)
fi
[[ -n "$DATA_PACK" ]] || die setup "no pack file in the repository"
INDEX_ID=$(find pristine/index -type f -printf '%f\n' | head -n1)
SNAP_ID=$(find pristine/snapshots -type f -printf '%f\n' | head -n1)
KEY_ID=$(find pristine/keys -type f -printf '%f\n' | head -n1)
note "data pack $DATA_PACK ($(tr ',' '\n' <<<"$DATA_BLOBS" | grep -c .) data blobs), index $INDEX_ID, snapshot $SNAP_ID, key $KEY_ID"

path_of() {  # path_of REPO KIND ID
  case $2 in
    pack) echo "$1/data/${3:0:2}/$3" ;;
    index) echo "$1/index/$3" ;;
    snapshot) echo "$1/snapshots/$3" ;;
    key) echo "$1/keys/$3" ;;
  esac
}

# damage FILE MODE [KIND]: truncate to half, or flip one byte in the middle.
# For key files (plain JSON) the flipped byte is the middle of the "data"
# field, so the damage cannot land in an unauthenticated field like hostname.
damage() {
  local f=$1 mode=$2 kind=${3:-}
  chmod u+w "$f" || return 1
  local size; size=$(stat -c %s "$f")
  case $mode in
    truncate) truncate -s $((size / 2)) "$f" ;;
    flip)
      if [[ "$kind" == key ]]; then
        python3 - "$f" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
k = b.find(b'"data"')
if k < 0:
    off = len(b) // 2
else:
    start = b.index(b'"', b.index(b':', k) + 1) + 1
    end = b.index(b'"', start)
    off = (start + end) // 2
# swap within the base64 alphabet so the JSON and base64 stay valid
b[off] = ord("B") if b[off] != ord("B") else ord("C")
open(p, "wb").write(bytes(b))
PY
      else
        flip_byte "$f"
      fi
      ;;
  esac
  chmod u-w "$f"
}

# names_id FILE ID: the output names the id (full, or its first 8 hex digits).
names_id() { grep -qiF -- "${2:0:8}" "$1"; }

damaged_for_real() {  # damaged_for_real REPO REL: the file differs from pristine's
  ! cmp -s "pristine/$2" "$1/$2"
}

# ---------------------------------------------------------------- (a)
printf 'not the password\n' >"$T/wrong-password"
rc=0
timeout 120 "$MXVAULT" --password-file "$T/wrong-password" -r pristine snapshots >wp.out 2>wp.err || rc=$?
if [[ $rc -eq 12 ]] && grep -q WRONG_PASSWORD wp.err; then
  pass "a/wrong-password"
else
  fail "a/wrong-password" "exit $rc (want 12), stderr: $(head -c 300 wp.err)"
fi

# ---------------------------------------------------------------- (b)
for kind in pack index snapshot key; do
  case $kind in
    pack) id=$DATA_PACK ;;
    index) id=$INDEX_ID ;;
    snapshot) id=$SNAP_ID ;;
    key) id=$KEY_ID ;;
  esac
  for mode in truncate flip; do
    name="b/$kind-$mode"
    r="repo-$kind-$mode"
    cp -a pristine "$r" || die "$name" "cp failed"
    f=$(path_of "$r" "$kind" "$id")
    [[ -f "$f" ]] || { fail "$name" "no file $f"; continue; }
    damage "$f" "$mode" "$kind" || { fail "$name" "could not damage $f"; continue; }

    if [[ $kind == key ]]; then
      rc=0
      mx -r "$r" check --read-data >"$r.check.log" 2>&1 || rc=$?
      if [[ $rc -ne 0 && $rc -lt 128 ]] && grep -qE '^mxvault: .*\[[A-Z_]+\]' "$r.check.log"; then
        pass "$name/open-fails-clearly (exit $rc: $(grep -m1 -E '^mxvault: ' "$r.check.log"))"
      else
        fail "$name/open-fails-clearly" "exit $rc, want non-zero with an 'mxvault: ... [CODE]' message"; show_log "$r.check.log"
      fi
      continue
    fi

    damaged_for_real "$r" "${f#"$r"/}" || { fail "$name" "script bug: $f was not changed"; continue; }
    rc=0
    mx -r "$r" check --read-data >"$r.check.log" 2>&1 || rc=$?
    if [[ $rc -eq 0 ]]; then
      fail "$name/check-fails" "check --read-data exited 0 on a damaged $kind"; show_log "$r.check.log"
    elif [[ $rc -ge 124 ]]; then
      fail "$name/check-fails" "check --read-data exited $rc (timeout/crash)"; show_log "$r.check.log"
    elif names_id "$r.check.log" "$id"; then
      pass "$name/check-fails-naming-$kind (exit $rc)"
    else
      fail "$name/check-fails-naming-$kind" "exit $rc but the output does not name $kind ${id:0:8}"; show_log "$r.check.log"
    fi

    if [[ $kind == snapshot ]]; then
      rc=0
      mx -r "$r" restore "$id" --target "$r.out" >"$r.restore.log" 2>&1 || rc=$?
      if [[ $rc -ne 0 && $rc -lt 124 ]] && names_id "$r.restore.log" "$id"; then
        pass "$name/restore-fails-naming-snapshot (exit $rc)"
      else
        fail "$name/restore-fails-naming-snapshot" "exit $rc; output must name ${id:0:8}"; show_log "$r.restore.log"
      fi
    fi
    if [[ $kind == pack ]]; then
      rc=0
      mx -r "$r" restore latest --target "$r.out" >"$r.restore.log" 2>&1 || rc=$?
      if [[ $rc -ne 0 && $rc -lt 124 ]]; then
        pass "$name/restore-fails (exit $rc)"
      else
        fail "$name/restore-fails" "exit $rc on a damaged pack"; show_log "$r.restore.log"
      fi
      if [[ -d "$r.out/src" ]]; then
        if msg=$(files_not_silently_wrong src "$r.out/src" "$r.restore.log"); then
          pass "$name/restore-never-silently-wrong ($(tail -n1 <<<"$msg"))"
        else
          fail "$name/restore-never-silently-wrong" "$msg"
        fi
      else
        pass "$name/restore-never-silently-wrong (nothing restored)"
      fi
    fi
  done
done

# A damaged key is fine when another key opens the repository.
r=repo-two-keys
cp -a pristine "$r"
printf 'second password\n' >"$T/pw2"
if mx -r "$r" key add --new-password-file "$T/pw2" >"$r.keyadd.log" 2>&1; then
  damage "$(path_of "$r" key "$KEY_ID")" flip key
  # The repository still opens and restores with the other key, and check
  # reports the damaged key file by name (a password that no longer works is
  # damage the administrator must hear about; restic's check ignores keys).
  rc=0
  timeout 120 "$MXVAULT" --password-file "$T/pw2" -r "$r" restore latest --target "$r.out" >"$r.restore.log" 2>&1 || rc=$?
  if [[ $rc -eq 0 ]]; then pass "b/key-flip/other-key-still-opens-and-restores"; else fail "b/key-flip/other-key-still-opens-and-restores" "exit $rc"; show_log "$r.restore.log"; fi
  rc=0
  timeout 120 "$MXVAULT" --password-file "$T/pw2" -r "$r" check --read-data >"$r.check.log" 2>&1 || rc=$?
  if [[ $rc -ne 0 && $rc -lt 124 ]] && names_id "$r.check.log" "$KEY_ID"; then pass "b/key-flip/check-names-damaged-key (exit $rc)"; else fail "b/key-flip/check-names-damaged-key" "exit $rc; want non-zero naming key ${KEY_ID:0:8}"; show_log "$r.check.log"; fi
  rc=0
  mx -r "$r" snapshots >"$r.snap.log" 2>&1 || rc=$?
  if [[ $rc -ne 0 && $rc -lt 124 ]]; then pass "b/key-flip/damaged-key-password-fails (exit $rc)"; else fail "b/key-flip/damaged-key-password-fails" "exit $rc with the damaged key's password"; show_log "$r.snap.log"; fi
else
  fail "b/key-flip/other-key-still-opens" "mxvault key add failed (exit $?)"; show_log "$r.keyadd.log"
fi

# ---------------------------------------------------------------- (c)
r=repo-missing-pack
cp -a pristine "$r"
rm -f "$(path_of "$r" pack "$DATA_PACK")"
rc=0
mx -r "$r" check >"$r.check.log" 2>&1 || rc=$?
if [[ $rc -ne 0 && $rc -lt 124 ]] && names_id "$r.check.log" "$DATA_PACK" && grep -qiE 'missing|not found|NOT_FOUND|does not exist|no such' "$r.check.log"; then
  pass "c/missing-pack-check-names-it (exit $rc)"
else
  fail "c/missing-pack-check-names-it" "exit $rc; want non-zero, pack ${DATA_PACK:0:8} named as missing"; show_log "$r.check.log"
fi
rc=0
mx -r "$r" check --read-data >"$r.check2.log" 2>&1 || rc=$?
if [[ $rc -ne 0 && $rc -lt 124 ]] && names_id "$r.check2.log" "$DATA_PACK"; then
  pass "c/missing-pack-check-read-data-names-it (exit $rc)"
else
  fail "c/missing-pack-check-read-data-names-it" "exit $rc"; show_log "$r.check2.log"
fi
rc=0
mx -r "$r" restore latest --target "$r.out" >"$r.restore.log" 2>&1 || rc=$?
named=""
for b in ${DATA_PACK} ${DATA_BLOBS//,/ }; do
  if names_id "$r.restore.log" "$b"; then named=$b; break; fi
done
if [[ $rc -ne 0 && $rc -lt 124 && -n "$named" ]]; then
  pass "c/missing-pack-restore-fails-naming-it (exit $rc, names ${named:0:8})"
else
  fail "c/missing-pack-restore-fails-naming-it" "exit $rc; want non-zero naming the pack or one of its blobs"; show_log "$r.restore.log"
fi
if [[ -d "$r.out/src" ]]; then
  if msg=$(files_not_silently_wrong src "$r.out/src" "$r.restore.log"); then
    pass "c/missing-pack-restore-never-silently-wrong"
  else
    fail "c/missing-pack-restore-never-silently-wrong" "$msg"
  fi
fi
