#!/usr/bin/env python3
"""IMAP authentication from a non-loopback address (issue 7, Must hold 5):
mxstore in one network namespace, the client in another, joined by a veth
pair this test creates (IPv4 and IPv6 addresses on it; the store listens on
both):

- over plaintext, CAPABILITY says LOGINDISABLED, and LOGIN and AUTHENTICATE
  PLAIN are refused with [PRIVACYREQUIRED] and the reason (no TLS, from which
  address, what to use instead), for the right password too;
- after STARTTLS (verified with the store's CA) LOGIN works, on both families;
- a wrong password over TLS is NO [AUTHENTICATIONFAILED], answered only
  after the configured delay, and logged with the peer's address;
- with imap.allow_plaintext_auth = true, plaintext LOGIN is accepted.

Exits 77 (skipped, said in the output) where namespaces cannot be created.
usage: store_imap_netns_test.py MXSTORE"""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from mxstore import Checks, Store  # noqa: E402

MXSTORE = sys.argv[1]
if os.path.isdir(MXSTORE):
    MXSTORE = os.path.join(MXSTORE, "mxstore")
TAG = "%d" % (os.getpid() % 100000)
NS_S, NS_C = "mis" + TAG, "mic" + TAG
V4_S, V4_C, V6_S, V6_C = "10.78.0.1", "10.78.0.2", "fd78::1", "fd78::2"
PORT = 7143
USER, PW = "erin@example.test", "erin-pw"


def sh(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), r.stderr.strip()))
    return r


def in_ns(ns, *args, check=True):
    return sh("ip", "netns", "exec", ns, *args, check=check)


def teardown():
    for ns in (NS_S, NS_C):
        sh("ip", "netns", "del", ns, check=False)


def setup():
    teardown()
    sh("ip", "netns", "add", NS_S)
    sh("ip", "netns", "add", NS_C)
    sh("ip", "link", "add", "vs" + TAG, "type", "veth", "peer", "name", "vc" + TAG)
    sh("ip", "link", "set", "vs" + TAG, "netns", NS_S)
    sh("ip", "link", "set", "vc" + TAG, "netns", NS_C)
    for ns, dev, v4, v6 in ((NS_S, "vs" + TAG, V4_S, V6_S), (NS_C, "vc" + TAG, V4_C, V6_C)):
        in_ns(ns, "ip", "link", "set", "lo", "up")
        in_ns(ns, "ip", "link", "set", dev, "up")
        in_ns(ns, "ip", "addr", "add", v4 + "/24", "dev", dev)
        in_ns(ns, "ip", "-6", "addr", "add", v6 + "/64", "dev", dev, "nodad")


try:
    setup()
except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
    teardown()
    print("SKIP: cannot create network namespaces here (%s)" % e)
    sys.exit(77)

# The client side runs in its own namespace: this script re-runs itself
# there as a small client that prints one line per step.
CLIENT = r'''
import socket, ssl, sys, time, base64
host, port, ca, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
s = socket.create_connection((host, port), timeout=20)
f = s.makefile("rb")
def cmd(tag, text):
    s.sendall((tag + " " + text + "\r\n").encode())
    lines = []
    while True:
        ln = f.readline().decode(errors="replace").rstrip("\r\n")
        lines.append(ln)
        if ln.startswith(tag + " ") or not ln:
            return lines
print("GREETING", f.readline().decode().strip())
print("CAPA", " | ".join(cmd("a1", "CAPABILITY")))
print("LOGIN", cmd("a2", "LOGIN %s %s" % (user, pw))[-1])
print("AUTH", cmd("a3", "AUTHENTICATE PLAIN " + base64.b64encode(("\0%s\0%s" % (user, pw)).encode()).decode())[-1])
print("STARTTLS", cmd("a4", "STARTTLS")[-1])
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False  # the certificate names the store's host name, not this address
s = ctx.wrap_socket(s)
f = s.makefile("rb")
t = time.time()
print("BADPW", cmd("b1", "LOGIN %s wrong-password" % user)[-1], "%.2f" % (time.time() - t))
print("TLSLOGIN", cmd("b2", "LOGIN %s %s" % (user, pw))[-1])
print("SELECT", cmd("b3", "SELECT INBOX")[-1])
cmd("b4", "LOGOUT")
'''

check = Checks()
root = tempfile.mkdtemp(prefix="mx-imap-netns-")
store = None
try:
    store = Store(MXSTORE, os.path.join(root, "store"), lmtp=["unix:lmtp.sock"])
    with open(store.config) as f:
        conf = f.read()
    listen = 'listen = ["127.0.0.1:0"]  # STARTTLS'
    assert listen in conf, "mxstore init no longer writes %r" % listen
    conf = conf.replace(listen, 'listen = ["%s:%d", "[%s]:%d"]  # STARTTLS' % (V4_S, PORT, V6_S, PORT))
    with open(store.config, "w") as f:
        f.write(conf)
    store.start(prefix=("ip", "netns", "exec", NS_S))
    store.add_user(USER, PW)

    def client(host):
        r = in_ns(NS_C, sys.executable, "-c", CLIENT, host, str(PORT), store.ca_file, USER, PW, check=False)
        out = {}
        for ln in r.stdout.splitlines():
            k, _, v = ln.partition(" ")
            out[k] = v
        if r.returncode != 0:
            out["ERROR"] = r.stderr[-1500:]
        return out

    for family, host, peer in (("IPv4", V4_S, V4_C), ("IPv6", V6_S, V6_C)):
        out = client(host)
        check("%s: the client ran" % family, "ERROR" not in out, out.get("ERROR"))
        check("%s: plaintext CAPABILITY says LOGINDISABLED and offers STARTTLS" % family,
              "LOGINDISABLED" in out.get("CAPA", "") and "STARTTLS" in out.get("CAPA", "")
              and "AUTH=PLAIN" not in out.get("CAPA", ""), out.get("CAPA"))
        for step in ("LOGIN", "AUTH"):
            line = out.get(step, "")
            check("%s: plaintext %s with the right password is refused with the reason" % (family, step),
                  "NO [PRIVACYREQUIRED]" in line and "without TLS" in line and "STARTTLS" in line
                  and peer in line, line)
        check("%s: STARTTLS accepted" % family, " OK" in out.get("STARTTLS", ""), out.get("STARTTLS"))
        bad = out.get("BADPW", "").rsplit(" ", 1)
        check("%s: a wrong password over TLS is NO [AUTHENTICATIONFAILED]" % family,
              "NO [AUTHENTICATIONFAILED]" in bad[0], bad)
        check("%s: ... answered after the delay (>= 0.9 s)" % family, len(bad) == 2 and float(bad[1]) >= 0.9, bad)
        check("%s: LOGIN over TLS works" % family, " OK" in out.get("TLSLOGIN", ""), out.get("TLSLOGIN"))
        check("%s: and SELECT INBOX then" % family, " OK" in out.get("SELECT", ""), out.get("SELECT"))
    with open(os.path.join(store.root, "serve.log")) as f:
        log = f.read()
    check("failed logins are logged with the peer's address", "failed login" in log and V4_C in log, log[-1500:])

    # Allowed by name in the config: plaintext LOGIN from the other namespace works.
    store.stop()
    with open(store.config) as f:
        conf = f.read()
    conf = conf.replace("# allow_plaintext_auth = false", "allow_plaintext_auth = true")
    with open(store.config, "w") as f:
        f.write(conf)
    store.start(prefix=("ip", "netns", "exec", NS_S))
    out = client(V4_S)
    check("allow_plaintext_auth = true: plaintext LOGIN accepted", " OK" in out.get("LOGIN", ""), out)
    check("allow_plaintext_auth = true: CAPABILITY offers AUTH=PLAIN", "AUTH=PLAIN" in out.get("CAPA", ""), out.get("CAPA"))
finally:
    code = check.finish(store, root) if store and store.proc else (1 if check.failures else 0)
    teardown()
sys.exit(code)
