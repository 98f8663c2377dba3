#!/usr/bin/env bash
# The command-line conventions restic users rely on: keys shared with restic,
# --json on every listing and summary, environment variables and config file,
# password command, exit codes, and a progress line only on a terminal.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
require_mxvault
cd "$T" || exit 1

mkdir -p src/d && seq 1 200000 > src/d/a.txt && head -c 2000000 /dev/urandom > src/b.bin
mx -r repo init -q || die init "mxvault init failed"
mx -r repo backup -q src || die backup "mxvault backup failed"

# --- keys: added by one tool, used by the other
printf 'second password\n' > pw2
printf 'third password\n' > pw3
expect_ok "key add (mxvault)" mx -r repo key add --new-password-file pw2 -q
if timeout 60 restic --no-cache -q --password-file pw2 -r repo snapshots >/dev/null; then
  pass "restic opens the repository with a key mxvault added"
else
  fail "restic opens the repository with a key mxvault added"
fi
if printf 'third password\nthird password\n' | timeout 60 restic --no-cache -q --password-file "$PW" -r repo key add --new-password-file pw3 >/dev/null 2>&1; then
  if timeout 60 "$MXVAULT" --password-file pw3 -r repo snapshots >/dev/null; then
    pass "mxvault opens the repository with a key restic added"
  else
    fail "mxvault opens the repository with a key restic added"
  fi
else
  fail "restic key add"
fi
nkeys=$(mx -r repo --json key list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[[ "$nkeys" == 3 ]] && pass "key list --json shows 3 keys" || fail "key list --json" "got $nkeys"
cur=$(mx -r repo --json key list | python3 -c 'import json,sys; print([k["id"] for k in json.load(sys.stdin) if k["current"]][0])')
out=$(mx -r repo key remove "${cur:0:8}" 2>&1); rc=$?
[[ $rc -ne 0 && "$out" == *KEY_IN_USE* ]] && pass "removing the key in use is refused" || fail "remove current key" "rc=$rc $out"
other=$(timeout 60 "$MXVAULT" --password-file pw2 -r repo --json key list | python3 -c 'import json,sys; print([k["id"] for k in json.load(sys.stdin) if k["current"]][0])')
expect_ok "key remove another key" mx -r repo key remove "${other:0:8}" -q
if timeout 60 "$MXVAULT" --password-file pw2 -r repo snapshots >/dev/null 2>&1; then
  fail "removed key no longer opens the repository"
else
  pass "removed key no longer opens the repository"
fi
printf 'new main password\n' > pwnew
expect_ok "key passwd" mx -r repo key passwd --new-password-file pwnew -q
timeout 60 "$MXVAULT" --password-file pwnew -r repo snapshots >/dev/null && pass "new password works after passwd" || fail "new password after passwd"
if timeout 60 "$MXVAULT" --password-file "$PW" -r repo snapshots >/dev/null 2>&1; then fail "old password rejected after passwd"; else pass "old password rejected after passwd"; fi
cp pwnew "$PW"

# --- --json on listings and summaries parses
check_json() {  # NAME CMD...
  local name=$1; shift
  if "$@" > out.json 2> err.txt && python3 -c '
import json,sys
text=open("out.json").read().strip()
try: json.loads(text)
except ValueError:
    for line in text.splitlines(): json.loads(line)
' ; then pass "$name emits valid JSON"; else fail "$name emits valid JSON" "$(head -c 300 out.json) $(cat err.txt)"; fi
}
check_json "snapshots --json" mx -r repo --json snapshots
check_json "ls --json" mx -r repo --json ls latest
check_json "backup --json" mx -r repo --json backup src
check_json "restore --json" mx -r repo --json restore latest --target r1
check_json "check --json" mx -r repo --json check
check_json "key list --json" mx -r repo --json key list
id=$(mx -r repo --json snapshots | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
[[ ${#id} == 64 ]] && pass "snapshot ids are 64 hex digits" || fail "snapshot id" "$id"

# --- environment and config file
if MXVAULT_REPOSITORY="$T/repo" MXVAULT_PASSWORD_FILE="$PW" timeout 60 "$MXVAULT" snapshots -q >/dev/null; then
  pass "MXVAULT_REPOSITORY and MXVAULT_PASSWORD_FILE"
else fail "MXVAULT_REPOSITORY and MXVAULT_PASSWORD_FILE"; fi
printf 'repository = "%s"\npassword_command = "cat %s"\n' "$T/repo" "$PW" > cfg.toml
timeout 60 "$MXVAULT" --config cfg.toml snapshots -q >/dev/null && pass "config file with password_command" || fail "config file"
printf 'repository = \n' > bad.toml
out=$(timeout 60 "$MXVAULT" --config bad.toml snapshots 2>&1); rc=$?
[[ $rc == 2 && "$out" == *bad.toml:1* ]] && pass "bad config names file:line, exit 2" || fail "bad config" "rc=$rc $out"

# --- exit codes and messages
out=$(timeout 60 "$MXVAULT" --password-file "$PW" -r "$T/nope" snapshots 2>&1); rc=$?
[[ $rc == 10 && "$out" == *REPO_NOT_FOUND* && "$out" == *hint:* ]] && pass "missing repository: exit 10 with a hint" || fail "missing repository" "rc=$rc $out"
timeout 60 "$MXVAULT" --no-such-flag >/dev/null 2>&1; rc=$?
[[ $rc == 2 ]] && pass "usage error: exit 2" || fail "usage error" "rc=$rc"
out=$(mx -r repo restore deadbeef --target x 2>&1); rc=$?
[[ $rc == 1 && "$out" == *NOT_FOUND* ]] && pass "unknown snapshot: NOT_FOUND" || fail "unknown snapshot" "rc=$rc $out"
# An unreadable file: run as an unprivileged user (root reads everything).
as_user=()
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
  as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
if [[ $(id -u) -ne 0 || ${#as_user[@]} -gt 0 ]]; then
  mkdir -p part/src && echo fine > part/src/ok && echo secret > part/src/locked && chmod 000 part/src/locked
  cp "$PW" part/pw && chmod -R a+rX "$T" && chmod 000 part/src/locked && chmod 777 part
  "${as_user[@]}" timeout 60 "$MXVAULT" --password-file part/pw -r part/repo init -q
  out=$("${as_user[@]}" timeout 60 "$MXVAULT" --password-file part/pw -r part/repo backup part/src 2>&1); rc=$?
  [[ $rc == 3 && "$out" == *PARTIAL_BACKUP* && "$out" == *locked* ]] && pass "unreadable file: snapshot saved, exit 3 naming it" || fail "unreadable file" "rc=$rc $out"
  n=$("${as_user[@]}" timeout 60 "$MXVAULT" --password-file part/pw -r part/repo ls latest | grep -c '/ok$')
  [[ "$n" == 1 ]] && pass "the readable files are in the partial snapshot" || fail "partial snapshot content"
else
  skip "unreadable file: exit 3" "running as root without setpriv"
fi

# --- progress: a live line on a terminal, none when piped
head -c 30000000 /dev/urandom > src/big.bin
if command -v script >/dev/null; then
  script -qfec "$MXVAULT --password-file $PW -r $T/repo backup --force $T/src" tty.log >/dev/null 2>&1
  if grep -q $'\r' tty.log && grep -aq "files" tty.log; then pass "progress line on a terminal"; else fail "progress line on a terminal" "$(tail -c 300 tty.log | od -c | head -5)"; fi
else
  skip "progress line on a terminal" "no script(1)"
fi
mx -r repo backup --force src > piped.log 2>&1
if grep -q $'\r' piped.log; then fail "no progress when not a terminal" "carriage returns in piped output"; else pass "no progress when not a terminal"; fi
