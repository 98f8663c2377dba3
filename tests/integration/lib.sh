# shellcheck shell=bash
# Helpers sourced by the integration tests:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
#
# $1 (or env MXVAULT) is the mxvault binary; default /work/main/build/bin/mxvault.
# Provides: $MXVAULT, $T (per-test temp dir, removed at exit), $PW (password
# file), mx / rs wrappers, pass / fail / skip / note, bg_register (background
# pids killed at exit), make_odd_tree, tree_equal, json_get, sha256_of.
# The EXIT trap prints the summary line "N passed, M failed" and makes the
# script exit non-zero when anything failed.

if [[ -n "${MX_LIB_LOADED:-}" ]]; then return 0; fi
MX_LIB_LOADED=1

LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

MXVAULT="${1:-${MXVAULT:-/work/main/build/bin/mxvault}}"
# Absolute path: the tests cd around.
case "$MXVAULT" in
  /*) ;;
  */*) MXVAULT="$(pwd)/$MXVAULT" ;;
  *) MXVAULT="$(command -v "$MXVAULT" || echo "$MXVAULT")" ;;
esac
export MXVAULT
RESTIC="${RESTIC:-restic}"

# No environment leaking into the tools under test.
unset MXVAULT_REPOSITORY MXVAULT_PASSWORD_FILE MXVAULT_PASSWORD_COMMAND MXVAULT_CONFIG
unset RESTIC_REPOSITORY RESTIC_PASSWORD RESTIC_PASSWORD_FILE RESTIC_PASSWORD_COMMAND
export LC_ALL=C.UTF-8

T="$(mktemp -d "${TMPDIR:-/tmp}/mxit.XXXXXXXX")"
PW="$T/password"
printf 'correct horse battery staple\n' >"$PW"
export XDG_CACHE_HOME="$T/.cache"   # restic runs with --no-cache anyway

TEST_NAME="$(basename "${0:-test}")"
N_PASS=0
N_FAIL=0
N_SKIP=0
BG_PIDS=()
_LIB_SUMMARY_DONE=0

pass() { N_PASS=$((N_PASS + 1)); printf 'ok   %s\n' "$1"; }
fail() { N_FAIL=$((N_FAIL + 1)); printf 'FAIL %s: %s\n' "$1" "${2:-failed}"; }
skip() { N_SKIP=$((N_SKIP + 1)); printf 'skip %s: %s\n' "$1" "${2:-skipped}"; }
note() { printf '# %s\n' "$*"; }
# expect_ok NAME CMD... : pass when CMD exits 0, else fail with its exit code.
expect_ok() {
  local name=$1; shift
  local rc=0
  "$@" || rc=$?
  if [[ $rc -eq 0 ]]; then pass "$name"; else fail "$name" "exit $rc: $*"; fi
  return $rc
}
# die NAME REASON: record a failure and stop the test (summary still printed).
die() { fail "$1" "${2:-fatal}"; note "stopping $TEST_NAME early"; exit 1; }

# Show the last lines of a log file, indented, for diagnosis.
# Long logs (e.g. Go stack traces) show their first 4 lines, then the tail.
show_log() {
  local f=$1 n=${2:-15}
  [[ -s "$f" ]] || return 0
  local total; total=$(wc -l <"$f")
  if (( total > n + 4 )); then
    { head -n 4 "$f"; echo "... ($((total - n - 4)) lines)"; tail -n "$n" "$f"; } | sed 's/^/    | /'
  else
    sed 's/^/    | /' "$f"
  fi
}

bg_register() { BG_PIDS+=("$@"); }
bg_forget() {
  local p keep=()
  for p in "${BG_PIDS[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done
  BG_PIDS=("${keep[@]}")
}

# is_running PID: the process exists and is not a zombie.
is_running() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n "$st" && "$st" != Z* ]]
}

# wait_bounded PID SECONDS: wait for a background child; after SECONDS kill -9
# it (by pid) and return 124. Otherwise return its exit status.
wait_bounded() {
  local pid=$1 limit=$2 rc=0
  local deadline=$((SECONDS + limit))
  while is_running "$pid"; do
    if (( SECONDS >= deadline )); then
      kill -9 "$pid" 2>/dev/null
      { wait "$pid"; } 2>/dev/null
      bg_forget "$pid"
      return 124
    fi
    sleep 0.1
  done
  { wait "$pid"; } 2>/dev/null || rc=$?
  bg_forget "$pid"
  return $rc
}

# now: wall-clock seconds with microseconds.
now() { printf '%s\n' "${EPOCHREALTIME:-$(date +%s.%N)}"; }
# elapsed_ok START MAX: now - START < MAX (floating point).
elapsed_ok() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) < float(sys.argv[3]) else 1)' "$1" "$(now)" "$2"; }
elapsed() { python3 -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$(now)"; }

_lib_on_exit() {
  local rc=$?
  local p
  for p in "${BG_PIDS[@]}"; do
    kill -9 "$p" 2>/dev/null || true
  done
  for p in "${BG_PIDS[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  if [[ -n "${T:-}" && -d "$T" && -z "${KEEP_TMP:-}" ]]; then
    chmod -R u+rwX "$T" 2>/dev/null || true
    rm -rf "$T"
  elif [[ -n "${KEEP_TMP:-}" ]]; then
    note "kept temp dir $T"
  fi
  if [[ $_LIB_SUMMARY_DONE -eq 0 ]]; then
    _LIB_SUMMARY_DONE=1
    [[ $N_SKIP -gt 0 ]] && note "$N_SKIP skipped"
    printf '%d passed, %d failed\n' "$N_PASS" "$N_FAIL"
  fi
  if [[ $N_FAIL -gt 0 ]]; then exit 1; fi
  if [[ $rc -ne 0 ]]; then exit "$rc"; fi
  exit 0
}
trap _lib_on_exit EXIT
trap 'exit 130' INT TERM

# mx ARGS...: run mxvault with the test password (global options first).
mx() { timeout 120 "$MXVAULT" --password-file "$PW" "$@"; }
# rs ARGS...: run restic with the test password, no cache, quiet.
rs() { timeout 120 "$RESTIC" --no-cache -q --password-file "$PW" "$@"; }

# require_mxvault: fail (and stop) when the binary is missing.
require_mxvault() {
  if [[ ! -x "$MXVAULT" ]]; then
    die "mxvault-binary" "$MXVAULT is missing or not executable"
  fi
  local out
  if ! out=$(timeout 20 "$MXVAULT" version 2>&1); then
    die "mxvault-binary" "'$MXVAULT version' failed: $out"
  fi
  note "mxvault: $MXVAULT ($out)"
}

# json_get FILE KEY: from FILE (JSON lines or one JSON document) print KEY of
# the last object having it ("message_type":"summary" objects preferred).
json_get() {
  python3 - "$1" "$2" <<'PY'
import json, sys
path, key = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8", errors="replace").read()
objs = []
try:
    doc = json.loads(text)
    objs = doc if isinstance(doc, list) else [doc]
except ValueError:
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            objs.append(json.loads(line))
        except ValueError:
            pass
objs = [o for o in objs if isinstance(o, dict) and key in o]
summ = [o for o in objs if o.get("message_type") == "summary"]
pick = (summ or objs)
if not pick:
    sys.exit(1)
v = pick[-1][key]
print(json.dumps(v) if isinstance(v, (dict, list)) else v)
PY
}

# snapshot_ids FILE: print the "id" of every object of a JSON array (snapshots --json).
snapshot_ids() {
  python3 - "$1" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
if not isinstance(doc, list):
    raise SystemExit("not a JSON array")
for o in doc:
    print(o["id"])
PY
}

# count_data_blobs REPO: number of data blobs per `restic list blobs`.
count_data_blobs() {
  local out
  out=$(rs -r "$1" list blobs) || return 1
  printf '%s\n' "$out" | grep -c '^data ' || true
}

# flip_byte FILE [OFFSET]: XOR one byte (default: the middle) with 0x01... 0xff.
flip_byte() {
  python3 - "$1" "${2:-}" <<'PY'
import os, sys
p = sys.argv[1]
size = os.path.getsize(p)
off = int(sys.argv[2]) if sys.argv[2] else size // 2
with open(p, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0x5a]))
PY
}

# tree_size DIR: total bytes of regular files (hard links counted once).
tree_size() {
  python3 - "$1" <<'PY'
import os, sys, stat
seen, total = set(), 0
for root, dirs, files in os.walk(sys.argv[1]):
    for n in files:
        st = os.lstat(os.path.join(root, n))
        if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
print(total)
PY
}

# make_odd_tree DIR: build the nasty tree used by the interop test.
make_odd_tree() {
  local d=$1
  mkdir -p "$d" || return 1
  (
    set -e
    cd "$d"
    mkdir -p plain/nested/deeper "empty dir" "empty dir 2/inner empty" modes links hard sizes names big
    printf 'hello\n' >plain/hello.txt
    printf 'nested file\n' >plain/nested/n.txt
    printf 'deep\n' >plain/nested/deeper/d.txt
    : >plain/empty-file
    : >"empty dir 2/empty file"

    # --- permission bits and owners (chown before chmod: chown clears set-id bits)
    printf 'secret\n' >modes/f0600 && chmod 0600 modes/f0600
    printf '#!/bin/sh\necho hi\n' >modes/f0755 && chmod 0755 modes/f0755
    printf 'group readable\n' >modes/f0640 && chmod 0640 modes/f0640
    printf 'read only\n' >modes/f0444 && chmod 0444 modes/f0444
    printf 'no perms\n' >modes/f0000 && chmod 0000 modes/f0000
    printf 'setuid\n' >modes/f4755 && chmod 4755 modes/f4755
    printf 'setgid\n' >modes/f2755 && chmod 2755 modes/f2755
    printf 'owned by 1001:1002\n' >modes/owned && chown 1001:1002 modes/owned && chmod 0640 modes/owned
    mkdir modes/d2755 && chmod 2755 modes/d2755
    printf 'in setgid dir\n' >modes/d2755/inner
    mkdir modes/d2755/sub
    mkdir modes/d1777 && chmod 1777 modes/d1777
    printf 'in sticky dir\n' >modes/d1777/inner
    mkdir modes/d0700 && chmod 0700 modes/d0700
    printf 'private\n' >modes/d0700/p
    mkdir modes/d-owned && printf 'x\n' >modes/d-owned/f && chown 2001:2002 modes/d-owned && chmod 0750 modes/d-owned
    ln -s ../plain/hello.txt modes/link-owned && chown -h 1003:1004 modes/link-owned

    # --- symlinks
    ln -s ../plain/hello.txt links/relative
    ln -s /etc/hostname links/absolute
    ln -s does/not/exist links/dangling
    ln -s /nonexistent/absolute/dangling links/dangling-absolute
    ln -s ../plain/nested links/to-dir
    ln -s "../names/name with spaces" "links/to name with spaces"
    ln -s "ünïcödé" "links/ünïcödé-link"
    ln -s . links/self-dot

    # --- hard links: a pair in one dir, a triple across dirs
    printf 'pair content\n' >hard/pair-a
    ln hard/pair-a hard/pair-b
    head -c 70000 /dev/urandom >hard/triple-1
    ln hard/triple-1 hard/triple-2
    ln hard/triple-1 plain/nested/triple-3
    : >hard/empty-linked
    ln hard/empty-linked hard/empty-linked-2

    # --- odd names
    printf 'unicode\n' >"names/ünïcödé"
    printf 'cjk\n' >"names/日本語のファイル名.txt"
    mkdir "names/中文目录" && printf 'zh\n' >"names/中文目录/文件"
    printf 'emoji\n' >"names/😀 emoji 🎉"
    printf 'nfc\n' >"names/caf$(printf '\xc3\xa9')"      # é precomposed
    printf 'nfd\n' >"names/cafe$(printf '\xcc\x81')"     # e + combining acute
    printf 'spaces\n' >"names/name with spaces"
    printf ' lead\n' >"names/ leading space"
    printf 'trail\n' >"names/trailing space "
    printf 'newline\n' >"names/new"$'\n'"line"
    printf 'tab\n' >"names/tab"$'\t'"here"
    printf 'dash\n' >names/-rf
    printf 'dashdash\n' >names/--x
    printf 'backslash\n' >'names/back\slash'
    printf 'quotes\n' >"names/quote\"d"
    printf 'single\n' >"names/it's"
    printf 'glob\n' >'names/star*and?[x]'
    printf 'dollar\n' >'names/$HOME;`x`|&<>'
    printf 'colon\n' >'names/a:b'
    printf 'dots\n' >'names/...'
    printf 'hidden\n' >'names/.hidden'
    printf 'long\n' >"names/$(printf 'L%.0s' $(seq 1 250))"
    mkdir "names/dir with spaces" && printf 'x\n' >"names/dir with spaces/-file"

    # --- sizes around restic's 512 KiB minimum chunk
    : >sizes/0B
    head -c 1 /dev/urandom >sizes/1B
    head -c 524287 /dev/urandom >sizes/524287B
    head -c 524288 /dev/urandom >sizes/524288B
    head -c 524289 /dev/urandom >sizes/524289B
    # --- bigger than restic's 8 MiB maximum chunk, and compressible text
    head -c $((9 * 1024 * 1024 + 7)) /dev/urandom >big/random-9MiB+7
    python3 - big/text-3MB <<'PY'
import random, sys
r = random.Random(42)
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
         "hotel", "india", "juliet", "kilo", "lima", "mike", "backup", "restic",
         "mxvault", "chunk", "pack", "index", "snapshot", "tree", "blob"]
out, size, n = [], 0, 0
while size < 3 * 1024 * 1024 + 123:
    line = "%08d %s\n" % (n, " ".join(r.choice(words) for _ in range(12)))
    out.append(line); size += len(line); n += 1
open(sys.argv[1], "w").write("".join(out))
PY
    # the same 1 MiB block twice in one file (intra-file dedup)
    head -c 1048576 /dev/urandom >big/block && cat big/block big/block >big/twice && rm big/block

    # --- timestamps (files and symlinks first, directories last)
    touch -d '1995-06-15 12:34:56' plain/hello.txt
    touch -d '1995-01-01 00:00:00' modes/f0600
    touch -d '2019-03-04 05:06:07.123456789' plain/nested/n.txt
    touch -d '2021-12-31 23:59:59.999999999' sizes/524288B
    touch -d '2040-02-29 12:00:00.5' sizes/1B
    touch -d '@0' sizes/0B
    touch -d '1960-07-20 20:17:40' 'names/...'
    touch -d '2001-09-09 01:46:40.000000001' hard/pair-a
    touch -h -d '1999-12-31 23:59:59.25' links/relative
    touch -h -d '2005-05-05 05:05:05' links/dangling
    touch -h -d '2010-10-10 10:10:10.101010101' links/to-dir
  ) || { echo "make_odd_tree: failed to build $d" >&2; return 1; }
  # Directory mtimes, deepest first, each a different value with nanoseconds.
  python3 - "$d" <<'PY'
import os, sys, hashlib
root = sys.argv[1]
dirs = []
for dp, dn, fn in os.walk(root):
    dirs.append(dp)
dirs.sort(key=lambda p: -p.count(os.sep))
for p in dirs:
    h = int(hashlib.sha256(os.fsencode(p)).hexdigest()[:12], 16)
    sec = 946684800 + h % 700000000          # 2000 .. 2022
    ns = sec * 1_000_000_000 + h % 1_000_000_000
    os.utime(p, ns=(ns, ns), follow_symlinks=False)
PY
}

# tree_equal A B [--no-top-meta]: byte-exact and metadata comparison.
# Compares: the set of names (incl. empty dirs), file type, permission bits
# (with set-id/sticky), uid/gid, mtime (nanoseconds when both filesystems keep
# them, else seconds), symlink targets (not followed), sizes, contents, and
# hard-link grouping. Skips atime/ctime and the mtime of A/B themselves
# (--no-top-meta also skips mode/owner of A/B themselves).
tree_equal() {
  local a=$1 b=$2 opt=${3:-}
  local rc=0 out
  if [[ ! -d "$a" || ! -d "$b" ]]; then
    echo "tree_equal: '$a' or '$b' is not a directory" >&2
    return 2
  fi
  if ! out=$(diff -r --no-dereference -- "$a" "$b" 2>&1); then
    echo "tree_equal: diff -r --no-dereference reports differences:" >&2
    printf '%s\n' "$out" | head -n 20 | sed 's/^/    /' >&2
    rc=1
  fi
  python3 - "$a" "$b" "$opt" <<'PY' || rc=1
import os, sys, stat, filecmp, tempfile

a_root, b_root, opt = [os.fsencode(x) for x in sys.argv[1:4]]
no_top_meta = opt == b"--no-top-meta"

def walk(root):
    out = {}
    stack = [b""]
    while stack:
        rel = stack.pop()
        p = os.path.join(root, rel) if rel else root
        st = os.lstat(p)
        out[rel] = st
        if stat.S_ISDIR(st.st_mode):
            for n in os.listdir(p):
                stack.append(os.path.join(rel, n) if rel else n)
    return out

def keeps_ns(root):
    parent = os.path.dirname(os.path.abspath(root)) or b"/"
    try:
        fd, tmp = tempfile.mkstemp(dir=parent)
        os.close(fd)
        try:
            os.utime(tmp, ns=(1234567891, 1234567891))
            return os.lstat(tmp).st_mtime_ns == 1234567891
        finally:
            os.unlink(tmp)
    except OSError:
        return False

A, B = walk(a_root), walk(b_root)
ns = keeps_ns(a_root) and keeps_ns(b_root)
errs = []
def show(rel):
    return repr(os.fsdecode(rel) or ".")
for rel in sorted(set(A) - set(B)):
    errs.append("only in first:  %s" % show(rel))
for rel in sorted(set(B) - set(A)):
    errs.append("only in second: %s" % show(rel))

def links(tree):
    groups = {}
    for rel, st in tree.items():
        if not stat.S_ISDIR(st.st_mode):
            groups.setdefault((st.st_dev, st.st_ino), set()).add(rel)
    return {rel: frozenset(g) for g in groups.values() for rel in g}
LA, LB = links(A), links(B)

for rel in sorted(set(A) & set(B)):
    sa, sb = A[rel], B[rel]
    top = rel == b""
    fa, fb = stat.S_IFMT(sa.st_mode), stat.S_IFMT(sb.st_mode)
    if fa != fb:
        errs.append("%s: type %o != %o" % (show(rel), fa, fb))
        continue
    if not (top and no_top_meta):
        if stat.S_IMODE(sa.st_mode) != stat.S_IMODE(sb.st_mode):
            errs.append("%s: mode %04o != %04o" % (show(rel), stat.S_IMODE(sa.st_mode), stat.S_IMODE(sb.st_mode)))
        if (sa.st_uid, sa.st_gid) != (sb.st_uid, sb.st_gid):
            errs.append("%s: owner %d:%d != %d:%d" % (show(rel), sa.st_uid, sa.st_gid, sb.st_uid, sb.st_gid))
    if not top:
        ma, mb = sa.st_mtime_ns, sb.st_mtime_ns
        if not ns:
            ma, mb = ma // 10**9, mb // 10**9
        if ma != mb:
            errs.append("%s: mtime %d != %d (ns=%s)" % (show(rel), sa.st_mtime_ns, sb.st_mtime_ns, ns))
    if stat.S_ISLNK(sa.st_mode):
        ta = os.readlink(os.path.join(a_root, rel))
        tb = os.readlink(os.path.join(b_root, rel))
        if ta != tb:
            errs.append("%s: symlink target %r != %r" % (show(rel), ta, tb))
    elif stat.S_ISREG(sa.st_mode):
        if sa.st_size != sb.st_size:
            errs.append("%s: size %d != %d" % (show(rel), sa.st_size, sb.st_size))
        elif not filecmp.cmp(os.path.join(a_root, rel), os.path.join(b_root, rel), shallow=False):
            errs.append("%s: content differs" % show(rel))
    if not stat.S_ISDIR(sa.st_mode) and LA.get(rel) != LB.get(rel):
        ga = sorted(os.fsdecode(x) for x in LA.get(rel, ()))
        gb = sorted(os.fsdecode(x) for x in LB.get(rel, ()))
        errs.append("%s: hard-link group %r != %r" % (show(rel), ga, gb))

if errs:
    sys.stderr.write("tree_equal: %d metadata/content differences:\n" % len(errs))
    for e in errs[:40]:
        sys.stderr.write("    " + e + "\n")
    if len(errs) > 40:
        sys.stderr.write("    ... %d more\n" % (len(errs) - 40))
    sys.exit(1)
PY
  return $rc
}

# files_not_silently_wrong SRC DST LOGFILE: every regular file in DST that has
# its full size must be identical to the one in SRC, unless LOGFILE names it.
files_not_silently_wrong() {
  python3 - "$1" "$2" "$3" <<'PY'
import os, sys, filecmp
src, dst, log = sys.argv[1:4]
logtxt = open(log, encoding="utf-8", errors="replace").read() if os.path.exists(log) else ""
bad, present, reported = [], 0, []
for dp, dn, fn in os.walk(dst):
    for n in fn:
        p = os.path.join(dp, n)
        rel = os.path.relpath(p, dst)
        s = os.path.join(src, rel)
        if os.path.islink(p) or not os.path.isfile(p) or not os.path.isfile(s):
            continue
        if os.path.getsize(p) != os.path.getsize(s):
            continue
        present += 1
        if not filecmp.cmp(p, s, shallow=False):
            if n in logtxt:
                reported.append(rel)
            else:
                bad.append(rel)
for r in reported:
    print("note: %s has full size but wrong content (named in the output)" % r)
if bad:
    print("silently wrong: " + ", ".join(bad))
    sys.exit(1)
print("%d full-size files, all identical or reported" % present)
PY
}
