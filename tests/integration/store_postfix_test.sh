#!/usr/bin/env bash
# A real MTA delivers into mxstore over LMTP:
#
#   tests/integration/store_postfix_test.sh [path/to/mxvault]
#
# mxstore (the binary next to mxvault) serves LMTP on 127.0.0.1:<free port>
# and a Unix socket; a private Postfix (own config, queue and log under the
# test's temp dir, smtpd on a free loopback port, see
# /work/shared/POSTFIX-TEST-MTA.md) relays example.test to it with
# virtual_transport = lmtp:unix:STORE/lmtp.sock (the socket's group is postfix,
# lmtp.unix_socket_group). Python's smtplib submits:
#
#   m1 -> alice           m2 -> bob            m3 -> alice + bob (one LMTP
#   m4 -> nobody (no such mailbox: 550 5.1.1, Postfix bounces)   transaction)
#   m5 -> alice, ~300 KB with a base64 attachment
#
# all from sender@example.test, which is a mailbox too, so Postfix's bounce
# for m4 comes back through mxstore. Checks: every message is in exactly the
# right mailboxes, once, body byte-identical (Postfix only prepends headers),
# Subject and Message-ID intact; the maillog shows the 5.1.1 bounce; the
# bounce notice reached the sender; Postfix's queue is empty; mxstore stops
# cleanly on SIGTERM. Exit 77 (ctest: skipped) when Postfix is not installed
# or we are not root (Postfix's master must start as root).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

MXSTORE="$(dirname "$MXVAULT")/mxstore"
PATH="$PATH:/usr/sbin:/sbin"
POSTFIX="$(command -v postfix || true)"
POSTQUEUE="$(command -v postqueue || true)"

if [[ -z "$POSTFIX" || -z "$POSTQUEUE" || ! -x /usr/lib/postfix/sbin/master ]]; then
  note "postfix is not installed (want postfix, postqueue, /usr/lib/postfix/sbin/master); run scripts/bootstrap"
  exit 77
fi
if [[ "$(id -u)" -ne 0 ]]; then
  note "not root: a private Postfix master must start as root; skipping"
  exit 77
fi
if ! id postfix >/dev/null 2>&1 || ! getent group postdrop >/dev/null; then
  note "user 'postfix' or group 'postdrop' missing: the postfix package is half installed; run scripts/bootstrap"
  exit 77
fi
if [[ ! -x "$MXSTORE" ]]; then
  die "mxstore-binary" "$MXSTORE is missing or not executable (it is looked up next to $MXVAULT; build the mxstore target)"
fi

# Postfix's daemons run as 'postfix' and must traverse every parent of their
# queue and data directories: $T is made 0700 by mktemp.
chmod 755 "$T" || die setup "chmod 755 $T"
cd "$T" || die setup "cd $T"
d="$T"
while [[ "$d" != / ]]; do
  if [[ $(( 8#$(stat -c %a "$d") & 8#001 )) -eq 0 ]]; then
    die setup "$d is not traversable by others (mode $(stat -c %a "$d")): the postfix user cannot reach its queue under $T; set TMPDIR to a directory under /tmp with mode 755"
  fi
  d="$(dirname "$d")"
done

MXCONF="$T/store/mxstore.toml"
mxs() { timeout 60 "$MXSTORE" --config "$MXCONF" "$@"; }
PF="$T/postfix"
MXPID=""
PF_STARTED=0

stop_all() {
  if [[ $PF_STARTED -eq 1 ]]; then
    PF_STARTED=0
    if ! timeout 30 "$POSTFIX" -c "$PF/etc" stop >"$T/postfix-stop.log" 2>&1; then
      note "postfix -c $PF/etc stop failed:"; show_log "$T/postfix-stop.log"
      local mp
      mp=$(tr -dc 0-9 <"$PF/spool/pid/master.pid" 2>/dev/null)
      if [[ -n "$mp" ]] && is_running "$mp" && [[ "$(ps -o comm= -p "$mp")" == master ]]; then
        note "killing our postfix master (pid $mp)"; kill "$mp" 2>/dev/null
      fi
    fi
  fi
  if [[ -n "$MXPID" ]]; then
    kill "$MXPID" 2>/dev/null
    wait_bounded "$MXPID" 20 >/dev/null 2>&1
    MXPID=""
  fi
}
trap '_rc=$?; stop_all; (exit $_rc); _lib_on_exit' EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ------------------------------------------------------------ mxstore
if timeout 60 "$MXSTORE" init "$T/store" --lmtp 127.0.0.1:0 --lmtp unix:lmtp.sock --imap 127.0.0.1:0 >init.log 2>&1; then
  pass "mxstore-init"
else
  fail "mxstore-init" "exit $?: mxstore init $T/store"; show_log init.log; exit 1
fi
# Postfix's lmtp client (user postfix) reaches the Unix socket through its group.
sed -i 's/^# unix_socket_group = "postfix".*/unix_socket_group = "postfix"/' "$MXCONF"
grep -q '^unix_socket_group = "postfix"' "$MXCONF" || die mxstore-config "could not set lmtp.unix_socket_group in $MXCONF"
"$MXSTORE" serve --config "$MXCONF" >serve.log 2>&1 &
MXPID=$!
bg_register "$MXPID"
LMTP_PORT=""
for _ in $(seq 1 200); do   # up to 20 s for listeners.json
  if [[ -s "$T/store/listeners.json" ]]; then
    LMTP_PORT=$(python3 - "$T/store/listeners.json" <<'PY' 2>/dev/null
import json, sys
for a in json.load(open(sys.argv[1]))["lmtp"]:
    if a.startswith("127.0.0.1:"):
        print(a.rsplit(":", 1)[1])
PY
) || LMTP_PORT=""
    [[ -n "$LMTP_PORT" ]] && break
  fi
  is_running "$MXPID" || break
  sleep 0.1
done
if [[ -z "$LMTP_PORT" ]]; then
  fail "mxstore-serve" "no 127.0.0.1 LMTP listener in $T/store/listeners.json within 20 s (running: $(is_running "$MXPID" && echo yes || echo no))"
  show_log serve.log; exit 1
fi
pass "mxstore-serve (lmtp 127.0.0.1:$LMTP_PORT)"
for mb in alice@example.test bob@example.test sender@example.test; do
  if mxs mailbox create "$mb" >"mbcreate-$mb.log" 2>&1; then :; else
    fail "mailbox-create" "exit $?: mailbox create $mb"; show_log "mbcreate-$mb.log"; exit 1
  fi
done
pass "mailboxes-created"

# ------------------------------------------------------------ postfix
mkdir -p "$PF/etc" "$PF/spool" "$PF/data" || die postfix-setup "mkdir under $PF"
chown postfix:postfix "$PF/data" || die postfix-setup "chown postfix:postfix $PF/data"
write_postfix_config() {  # write_postfix_config SMTP_PORT
  cat >"$PF/etc/main.cf" <<EOF
# Private Postfix for store_postfix_test.sh (nothing outside $PF is used).
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
myhostname = mta.example.test
mydomain = example.test
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
relay_domains =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
virtual_mailbox_domains = example.test
virtual_transport = lmtp:unix:$T/store/lmtp.sock
EOF
  # Debian's master.cf with smtpd moved to our port and no chroot anywhere.
  python3 - /etc/postfix/master.cf "$PF/etc/master.cf" "$1" <<'PY'
import sys
src, dst, port = sys.argv[1:4]
out = []
for line in open(src):
    f = line.split()
    if line[:1] not in ("#", " ", "\t", "\n") and len(f) >= 8:
        if f[0] == "smtp" and f[1] == "inet":
            line = "%s inet n - n - - smtpd\n" % port
        else:
            f[4] = "n"
            line = " ".join(f[:7]) + " " + " ".join(f[7:]) + "\n"
    out.append(line)
open(dst, "w").write("".join(out))
PY
}
SMTP_PORT=""
for attempt in 1 2 3; do   # the free port may be taken between probe and bind
  port=$(free_port) || die postfix-setup "no free port from python3"
  write_postfix_config "$port" || die postfix-setup "writing $PF/etc"
  if timeout 60 "$POSTFIX" -c "$PF/etc" start >"postfix-start.log" 2>&1; then
    PF_STARTED=1
    for _ in $(seq 1 100); do   # up to 10 s until smtpd answers
      if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$port" 2>/dev/null; then
        SMTP_PORT=$port; break
      fi
      sleep 0.1
    done
    [[ -n "$SMTP_PORT" ]] && break
    note "postfix started but nothing listens on 127.0.0.1:$port after 10 s (attempt $attempt)"
    timeout 30 "$POSTFIX" -c "$PF/etc" stop >/dev/null 2>&1; PF_STARTED=0
  else
    note "postfix -c $PF/etc start failed (attempt $attempt, port $port):"; show_log postfix-start.log; show_log "$PF/maillog"
  fi
done
if [[ -z "$SMTP_PORT" ]]; then
  fail "postfix-start" "no private Postfix listening after 3 attempts; see $PF/maillog (KEEP_TMP=1 keeps it)"
  show_log "$PF/maillog"; exit 1
fi
pass "postfix-start (smtpd 127.0.0.1:$SMTP_PORT -> lmtp unix:$T/store/lmtp.sock)"

# ------------------------------------------------------------ submit
mkdir -p sent
if python3 - "$SMTP_PORT" sent >submit.log 2>&1 <<'PY'; then
import base64, json, os, random, smtplib, sys
port, outdir = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(7)
def body_text(tag, lines):
    out = ["Hello from %s." % tag, "",
           ".A line that starts with a dot (SMTP dot-stuffing).",
           "..Two dots.", ".", " . a lone dot above is not the end",
           "UTF-8: Grüße, naïve café, 日本語 (8BITMIME).",
           "Trailing spaces here   ", "\tand a tab.", ""]
    for i in range(lines):
        out.append("%s line %04d: %s" % (tag, i, " ".join(rnd.choice(
            ["mail", "store", "lmtp", "postfix", "queue", "deliver", "mailbox", "commit"]) for _ in range(9))))
    return "\r\n".join(out) + "\r\n"
def attachment_body(tag, size):
    data = bytes(rnd.getrandbits(8) for _ in range(size))
    b64 = base64.encodebytes(data).decode().replace("\n", "\r\n")
    return ("This is a multi-part message in MIME format.\r\n\r\n"
            "--BOUNDARY-%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"
            "--BOUNDARY-%s\r\nContent-Type: application/octet-stream\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"data.bin\"\r\n\r\n%s"
            "--BOUNDARY-%s--\r\n") % (tag, body_text(tag, 20), tag, b64, tag)
plan = [
    ("m1", ["alice@example.test"], body_text("m1", 50), None),
    ("m2", ["bob@example.test"], body_text("m2", 80), None),
    ("m3", ["alice@example.test", "bob@example.test"], body_text("m3", 30), None),
    ("m4", ["nobody@example.test"], body_text("m4", 10), None),
    ("m5", ["alice@example.test"], attachment_body("m5", 220000), "multipart/mixed; boundary=\"BOUNDARY-m5\""),
]
manifest = []
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.example.test")
for tag, rcpts, body, ctype in plan:
    subject = "mxstore postfix test %s" % tag
    msgid = "<%s.%d@client.example.test>" % (tag, os.getpid())
    hdr = ["From: Sender <sender@example.test>", "To: " + ", ".join(rcpts),
           "Subject: " + subject, "Message-ID: " + msgid,
           "Date: Mon, 23 Nov 2026 12:00:00 +0000", "MIME-Version: 1.0",
           "Content-Type: " + (ctype or "text/plain; charset=utf-8"),
           "Content-Transfer-Encoding: " + ("7bit" if ctype else "8bit")]
    body_bytes = body.encode("utf-8")
    raw = ("\r\n".join(hdr) + "\r\n\r\n").encode() + body_bytes
    refused = s.sendmail("sender@example.test", rcpts, raw, mail_options=["BODY=8BITMIME"])
    if refused:
        sys.exit("postfix refused %s for %r" % (tag, refused))
    open(os.path.join(outdir, tag + ".body"), "wb").write(body_bytes)
    manifest.append({"tag": tag, "rcpts": rcpts, "subject": subject, "msgid": msgid, "size": len(raw)})
s.quit()
json.dump(manifest, open(os.path.join(outdir, "manifest.json"), "w"), indent=1)
print("submitted %d messages" % len(manifest))
PY
  pass "submit-5-messages-to-postfix"
else
  fail "submit-5-messages-to-postfix" "python smtplib to 127.0.0.1:$SMTP_PORT failed"; show_log submit.log; show_log "$PF/maillog"; exit 1
fi

# ------------------------------------------------------------ wait for delivery
# Done when the queue is empty and the log shows a final status for all seven
# deliveries: alice x3, bob x2, nobody (bounced), plus the bounce notice to
# sender. Every 5 s a `postqueue -f` retries anything deferred.
queue_count() {
  local out
  out=$(timeout 20 "$POSTQUEUE" -c "$PF/etc" -j 2>&1) || { echo "?"; return; }
  printf '%s' "$out" | grep -c '^{' || true
}
final_count() { grep -cE 'status=(sent|bounced)' "$PF/maillog" 2>/dev/null || echo 0; }
start=$SECONDS
delivered=0
qn="?"
for i in $(seq 1 120); do   # 120 x 0.5 s = 60 s
  qn=$(queue_count)
  fc=$(final_count)
  if [[ "$qn" == 0 && "$fc" -ge 7 ]]; then delivered=1; break; fi
  if (( i % 10 == 0 )); then timeout 20 "$POSTQUEUE" -c "$PF/etc" -f >/dev/null 2>&1 || true; fi
  (( SECONDS - start >= 60 )) && break
  sleep 0.5
done
if [[ $delivered -eq 1 ]]; then
  pass "postfix-delivered-all ($(( SECONDS - start )) s)"
else
  fail "postfix-delivered-all" "after $(( SECONDS - start )) s: $qn messages still queued, $(final_count) of 7 final statuses in $PF/maillog"
  timeout 20 "$POSTQUEUE" -c "$PF/etc" -p 2>&1 | head -n 30 | sed 's/^/    | /'
fi
grep -E ' (lmtp|bounce|error)\[' "$PF/maillog" >deliveries.log 2>/dev/null
if [[ "$qn" == 0 ]]; then pass "postfix-queue-empty"; else
  fail "postfix-queue-empty" "postqueue -j lists $qn messages (want 0)"
fi
if grep -E 'to=<alice@example\.test>' "$PF/maillog" | grep -F "[$T/store/lmtp.sock]" | grep -q 'status=sent'; then
  pass "delivered-through-the-unix-socket"
else
  fail "delivered-through-the-unix-socket" "no 'to=<alice@example.test> relay=$T/store/lmtp.sock ... status=sent' in $PF/maillog"
  grep 'to=<alice' "$PF/maillog" | head -3
fi
if grep -E 'to=<nobody@example\.test>' "$PF/maillog" | grep -E 'dsn=5\.1\.1' | grep -q 'status=bounced'; then
  pass "unknown-recipient-bounced-5.1.1"
else
  fail "unknown-recipient-bounced-5.1.1" "no 'to=<nobody@example.test> ... dsn=5.1.1 ... status=bounced' line in $PF/maillog"
  grep -F 'nobody@' "$PF/maillog" | sed 's/^/    | /'
fi
if grep -E 'to=<(alice|bob)@example\.test>' "$PF/maillog" | grep -vqE 'status=sent'; then
  fail "known-recipients-only-sent" "a delivery to alice or bob had a status other than sent:"
  grep -E 'to=<(alice|bob)@example\.test>' "$PF/maillog" | grep -vE 'status=sent' | sed 's/^/    | /'
else
  pass "known-recipients-only-sent"
fi

# ------------------------------------------------------------ export and compare
for mb in alice bob sender; do
  if mxs mailbox export "$mb@example.test" --target "export-$mb" >"export-$mb.log" 2>&1; then :; else
    fail "export-$mb" "exit $?: mailbox export $mb@example.test"; show_log "export-$mb.log"
  fi
done
if python3 - sent . >compare.log 2>&1 <<'PY'; then
import email.parser, email.policy, glob, json, os, sys
sent, root = sys.argv[1], sys.argv[2]
manifest = json.load(open(os.path.join(sent, "manifest.json")))
errs = []
def load(mb):
    msgs = []
    for p in sorted(glob.glob(os.path.join(root, "export-" + mb, "INBOX", "cur", "*"))):
        raw = open(p, "rb").read()
        i = raw.find(b"\r\n\r\n")
        if i < 0:
            errs.append("%s: no CRLF CRLF between header and body" % p)
            continue
        hdr = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw[:i + 4])
        msgs.append({"path": p, "head": raw[:i + 2], "body": raw[i + 4:],
                     "subject": hdr.get("Subject"), "msgid": hdr.get("Message-ID"), "hdr": hdr})
    return msgs
boxes = {mb: load(mb) for mb in ("alice", "bob", "sender")}
for m in manifest:
    body = open(os.path.join(sent, m["tag"] + ".body"), "rb").read()
    want = {r.split("@")[0] for r in m["rcpts"] if r.split("@")[0] in ("alice", "bob")}
    for mb in ("alice", "bob"):
        got = [x for x in boxes[mb] if x["msgid"] == m["msgid"]]
        n_want = 1 if mb in want else 0
        if len(got) != n_want:
            errs.append("%s: %s holds %d copies of %s (%s), want %d" % (m["tag"], mb, len(got), m["msgid"], m["subject"], n_want))
        for x in got:
            if x["subject"] != m["subject"]:
                errs.append("%s in %s: Subject %r, want %r" % (m["tag"], mb, x["subject"], m["subject"]))
            if x["body"] != body:
                k = next((j for j in range(min(len(body), len(x["body"]))) if body[j] != x["body"][j]), min(len(body), len(x["body"])))
                errs.append("%s in %s: body differs (%d bytes, want %d; first difference at byte %d: got %r want %r) [%s]" % (
                    m["tag"], mb, len(x["body"]), len(body), k, x["body"][k:k + 40], body[k:k + 40], x["path"]))
            if b"Received: " not in x["head"]:
                errs.append("%s in %s: no Received: header from Postfix (not delivered through it?)" % (m["tag"], mb))
known = {m["msgid"] for m in manifest}
for mb in ("alice", "bob"):
    for x in boxes[mb]:
        if x["msgid"] not in known:
            errs.append("%s holds an unexpected message %s (Subject %r) [%s]" % (mb, x["msgid"], x["subject"], x["path"]))
# The bounce for m4 went to the envelope sender, through mxstore.
b = boxes["sender"]
if len(b) != 1:
    errs.append("sender holds %d messages, want exactly 1 (the bounce for nobody@example.test): %r" % (len(b), [x["subject"] for x in b]))
for x in b:
    text = (x["head"] + x["body"]).decode("utf-8", "replace")
    m4 = next(m for m in manifest if m["tag"] == "m4")
    for needle in ("multipart/report", "nobody@example.test", "5.1.1", m4["msgid"]):
        if needle not in text:
            errs.append("bounce in sender's mailbox does not mention %r [%s]" % (needle, x["path"]))
for e in errs:
    print(e)
print("alice %d, bob %d, sender %d messages; %d problems" % (len(boxes["alice"]), len(boxes["bob"]), len(boxes["sender"]), len(errs)))
sys.exit(1 if errs else 0)
PY
  pass "mailboxes-hold-exactly-the-right-messages-bodies-intact"
  note "$(tail -n 1 compare.log)"
else
  fail "mailboxes-hold-exactly-the-right-messages-bodies-intact" "export-{alice,bob,sender} differ from what was submitted:"
  show_log compare.log 30
  show_log deliveries.log 20
fi

# ------------------------------------------------------------ stop
timeout 30 "$POSTFIX" -c "$PF/etc" stop >postfix-stop.log 2>&1 && PF_STARTED=0
if [[ $PF_STARTED -eq 0 ]]; then pass "postfix-stop"; else fail "postfix-stop" "postfix -c $PF/etc stop failed"; show_log postfix-stop.log; fi
kill "$MXPID" 2>/dev/null
rc=0; wait_bounded "$MXPID" 20 || rc=$?
MXPID=""
if [[ $rc -eq 0 ]]; then pass "mxstore-stops-on-sigterm"; else
  fail "mxstore-stops-on-sigterm" "mxstore serve exited $rc after SIGTERM (124: still running after 20 s, killed)"; show_log serve.log
fi
if mxs db check db01 >dbcheck.log 2>&1; then pass "db-check-after-stop"; else
  fail "db-check-after-stop" "exit $?: mxstore db check db01"; show_log dbcheck.log
fi
