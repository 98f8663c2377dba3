#!/usr/bin/env python3
"""Store-level backups across address families (issue 4, Must hold 4): the
store and the client each in a network namespace this test creates (veth
pair), the client dual-stack and resolving the store's name to both an IPv4
and an IPv6 address:

  store IPv4-only, store IPv6-only, both dual-stack, and the same host over
  the Unix socket. Then the link dropped mid-stream: the client names the
  address and the cause, the store ends the session and truncates nothing,
  the next backup succeeds.

Exits 77 (skipped, said in the output) where namespaces cannot be created.
usage: store_backup_netns_test.py BUILD_BIN_DIR (or the mxstore binary in it)"""

import json
import os
import random
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from mxstore import Checks, Store, make_message  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/bin"
if os.path.isfile(BIN):
    BIN = os.path.dirname(BIN)
MXSTORE, MXVAULT = os.path.join(BIN, "mxstore"), os.path.join(BIN, "mxvault")
TAG = "%d" % (os.getpid() % 100000)
NS_S, NS_C = "mxs" + TAG, "mxc" + TAG
V4_S, V4_C, V6_S, V6_C = "10.77.0.1", "10.77.0.2", "fd77::1", "fd77::2"
NAME = "mxstore.test"


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
        shutil.rmtree("/etc/netns/" + ns, ignore_errors=True)


def setup(store_v4, store_v6):
    teardown()
    sh("ip", "netns", "add", NS_S)
    sh("ip", "netns", "add", NS_C)
    sh("ip", "link", "add", "vs" + TAG, "type", "veth", "peer", "name", "vc" + TAG)
    sh("ip", "link", "set", "vs" + TAG, "netns", NS_S)
    sh("ip", "link", "set", "vc" + TAG, "netns", NS_C)
    for ns, dev in ((NS_S, "vs" + TAG), (NS_C, "vc" + TAG)):
        in_ns(ns, "ip", "link", "set", "lo", "up")
        in_ns(ns, "ip", "link", "set", dev, "up")
    if not store_v6:
        in_ns(NS_S, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1")
    if store_v4:
        in_ns(NS_S, "ip", "addr", "add", V4_S + "/24", "dev", "vs" + TAG)
    if store_v6:
        in_ns(NS_S, "ip", "-6", "addr", "add", V6_S + "/64", "dev", "vs" + TAG, "nodad")
    in_ns(NS_C, "ip", "addr", "add", V4_C + "/24", "dev", "vc" + TAG)
    in_ns(NS_C, "ip", "-6", "addr", "add", V6_C + "/64", "dev", "vc" + TAG, "nodad")
    # The client resolves the store's name to both families, as a dual-stack
    # DNS would (`ip netns exec` mounts /etc/netns/NS/hosts over /etc/hosts).
    os.makedirs("/etc/netns/" + NS_C, exist_ok=True)
    with open("/etc/netns/%s/hosts" % NS_C, "w") as f:
        f.write("127.0.0.1 localhost\n%s %s\n%s %s\n" % (V6_S, NAME, V4_S, NAME))


def db01_holder(store):
    """The session holding db01 (from `mxvault writers` over the Unix socket), or None."""
    w = subprocess.run([MXVAULT, "--json", "writers", "unix://" + store.unix_backup(), "--token-file", store.token_file],
                       env=ENV, capture_output=True, text=True, timeout=30)
    if w.returncode != 0:
        raise RuntimeError("mxvault writers failed: " + w.stderr.strip())
    return next((x["holder"] for x in json.loads(w.stdout)["writers"] if x["database"] == "db01" and x.get("holder")), None)


def wait_for(cond, tries, pause):
    """cond()'s first truthy value within `tries` polls (bounded), else None."""
    for _ in range(tries):
        v = cond()
        if v:
            return v
        time.sleep(pause)
    return None


check = Checks()
try:
    setup(True, True)
except Exception as e:  # noqa: BLE001
    teardown()
    print("SKIP: this machine cannot create network namespaces (%s); Must hold 4 is not tested here" % e)
    sys.exit(77)

root = tempfile.mkdtemp(prefix="mx-netns-")
os.chmod(root, 0o755)
with open(os.path.join(root, "pw"), "w") as f:
    f.write("secret\n")
ENV = dict(os.environ, MXVAULT_REPOSITORY=os.path.join(root, "repo"), MXVAULT_PASSWORD_FILE=os.path.join(root, "pw"))
subprocess.run([MXVAULT, "init"], env=ENV, check=True, capture_output=True, timeout=60)
store = None
try:
    for label, v4, v6 in (("store IPv4-only", True, False), ("store IPv6-only", False, True), ("both dual-stack", True, True)):
        setup(v4, v6)
        listen = ([V4_S + ":7411"] if v4 else []) + (["[%s]:7411" % V6_S] if v6 else []) + ["unix:backup.sock"]
        sroot = os.path.join(root, label.replace(" ", "-"))
        store = Store(MXSTORE, sroot, backup=listen, tls_names=[NAME], lmtp=["unix:lmtp.sock"])
        store.set_config("keepalive_seconds", 2)
        store.start(prefix=("ip", "netns", "exec", NS_S))
        store.cli("mailbox", "create", "u@x.test")
        auth = ["--token-file", store.token_file, "--ca-file", store.ca_file, "--keepalive", "2"]
        r = subprocess.run(["ip", "netns", "exec", NS_C, MXVAULT, "--json", "backup", "store://%s:7411/db01" % NAME] + auth,
                           env=ENV, capture_output=True, text=True, timeout=120)
        check("%s, dual-stack client by name: full backup succeeds" % label, r.returncode == 0, r.stderr)
        r = subprocess.run(["ip", "netns", "exec", NS_S, MXVAULT, "backup", "unix://%s/db01" % store.unix_backup(),
                            "--type", "incremental", "--token-file", store.token_file],
                           env=ENV, capture_output=True, text=True, timeout=120)
        check("%s: same host over the Unix socket succeeds" % label, r.returncode == 0, r.stderr)
        if label != "both dual-stack":
            store.stop()
            store = None
            continue

        # The link drops mid-stream: first enough mail to stream for seconds.
        rng = random.Random(7)
        c = smtplib.LMTP(store.lmtp_addr[0], timeout=30)
        for i in range(40):
            c.sendmail("t@x.test", ["u@x.test"], make_message("big-%d" % i, rng, 60000))
        c.quit()
        before = sorted(l["number"] for l in store.cli("db", "logs", "db01", json_out=True)["logs"] if l["archived"])
        p = subprocess.Popen(["ip", "netns", "exec", NS_C, MXVAULT, "backup", "store://%s:7411/db01" % NAME, "--type", "copy",
                              "--limit-download", "256"] + auth, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        holder = wait_for(lambda: db01_holder(store), 100, 0.05)
        check("a throttled backup is streaming over TCP", holder is not None and p.poll() is None, p.poll())
        in_ns(NS_C, "ip", "link", "set", "vc" + TAG, "down")
        t0 = time.time()
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        took = time.time() - t0
        check("dropped link: the client fails (%.1f s) with SESSION_LOST" % took, p.returncode != 0 and "SESSION_LOST" in err, err)
        check("... naming the address and the cause", ("7411" in err) and ("lost" in err or "unavailable" in err.lower()), err)
        ended = wait_for(lambda: db01_holder(store) is None, 200, 0.1)
        check("the store ends the session by itself (keepalive)", ended, db01_holder(store))
        after = sorted(l["number"] for l in store.cli("db", "logs", "db01", json_out=True)["logs"] if l["archived"])
        check("nothing truncated", set(before) <= set(after), (before, after))
        in_ns(NS_C, "ip", "link", "set", "vc" + TAG, "up")
        in_ns(NS_C, "ip", "-6", "addr", "replace", V6_C + "/64", "dev", "vc" + TAG, "nodad")
        time.sleep(0.5)
        r = subprocess.run(["ip", "netns", "exec", NS_C, MXVAULT, "backup", "store://%s:7411/db01" % NAME, "--type", "incremental"] + auth,
                           env=ENV, capture_output=True, text=True, timeout=120)
        check("the next backup succeeds", r.returncode == 0, r.stderr)
        took = store.stop()
        check("daemon stops on SIGTERM within 10 s", took < 10, took)
        store = None
finally:
    if store is not None:
        try:
            store.stop()
        except Exception:  # noqa: BLE001
            pass
    teardown()
if not check.failures:
    shutil.rmtree(root, ignore_errors=True)
print("%d failed" % len(check.failures))
sys.exit(1 if check.failures else 0)
