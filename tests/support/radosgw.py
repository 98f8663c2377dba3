"""A private one-node Ceph RADOS Gateway for tests: one monitor, one memstore
OSD and one radosgw, all under one directory, on loopback only, started and
stopped by pid (../shared/S3-TEST-SERVER.md has the facts this follows).

    with RadosGW(dir) as gw:
        gw.url        # "http://127.0.0.1:PORT"
        gw.access_key, gw.secret_key
        gw.env()      # AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for restic and mxvault

Every CLI call is bounded by a timeout (without a mgr some hang); every wait
is bounded; only the daemons started here are signalled.

    python3 radosgw.py DIR   starts one and waits for Ctrl-C (manual use)."""

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_range(n):
    """A base port with n free ports after it (checked once; races are unlikely)."""
    for _ in range(50):
        base = free_port()
        if base + n >= 65000:
            continue
        ok = True
        for p in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free range of %d ports on 127.0.0.1" % n)


def available():
    return all(shutil.which(b) for b in ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph-authtool",
                                         "monmaptool", "ceph"))


class RadosGW:
    def __init__(self, root, store_bytes=3 << 30, access_key="MXVAULTTESTKEY", secret_key="mxvault-test-secret-key"):
        self.root = os.path.abspath(root)
        self.conf = os.path.join(self.root, "ceph.conf")
        self.store_bytes = store_bytes
        self.access_key = access_key
        self.secret_key = secret_key
        self.procs = {}
        self.port = None
        self.url = None

    # -- lifecycle --
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def _ceph(self, *args, timeout=20, check=True):
        r = subprocess.run(["ceph", "-c", self.conf] + list(args), capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise RuntimeError("ceph %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r

    def _run(self, *cmd, timeout=30):
        r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError("%s: %s%s" % (" ".join(cmd), r.stdout, r.stderr))
        return r

    def _daemon(self, name, *cmd):
        log = open(os.path.join(self.root, "log", name + ".out"), "ab")
        self.procs[name] = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def _wait(self, what, cond, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError("%s exited with %d while waiting for %s; see %s/log" %
                                       (name, p.returncode, what, self.root))
            try:
                if cond():
                    return
            except Exception:
                pass
            time.sleep(0.1)
        raise RuntimeError("timed out after %d s waiting for %s; see %s/log" % (timeout, what, self.root))

    def start(self):
        t0 = time.time()
        for d in ("run", "log", "mon/a", "osd/0", "rgw"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        fsid = str(uuid.uuid4())
        mon = free_port_range(2)
        msgr = free_port_range(40)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        r = self.root
        with open(self.conf, "w") as f:
            f.write("""[global]
fsid = {fsid}
mon host = [v2:127.0.0.1:{mon2},v1:127.0.0.1:{mon1}]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind port min = {pmin}
ms bind port max = {pmax}
run dir = {r}/run
admin socket = {r}/run/$name.asok
log file = {r}/log/$name.log
keyring = {r}/keyring
mon data = {r}/mon/$id
osd data = {r}/osd/$id
osd objectstore = memstore
memstore device bytes = {store}
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
paxos propose interval = 0.05
mon mgr mkfs grace = 86400
rados osd op timeout = 30
mon warn on pool no redundancy = false
auth allow insecure global id reclaim = false

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:{port}
rgw data = {r}/rgw
rgw dns name = 127.0.0.1
""".format(fsid=fsid, mon2=mon, mon1=mon + 1, pmin=msgr, pmax=msgr + 39, r=r, store=self.store_bytes,
                port=self.port))
        kr = os.path.join(r, "keyring")
        self._run("ceph-authtool", "--create-keyring", kr, "--gen-key", "-n", "mon.", "--cap", "mon", "allow *")
        self._run("ceph-authtool", kr, "--gen-key", "-n", "client.admin", "--cap", "mon", "allow *", "--cap", "osd",
                  "allow *", "--cap", "mgr", "allow *")
        self._run("ceph-authtool", kr, "--gen-key", "-n", "osd.0", "--cap", "mon", "allow profile osd", "--cap", "osd",
                  "allow *", "--cap", "mgr", "allow profile osd")
        self._run("ceph-authtool", kr, "--gen-key", "-n", "client.rgw.a", "--cap", "mon", "allow rw", "--cap", "osd",
                  "allow rwx", "--cap", "mgr", "allow rw")
        monmap = os.path.join(r, "monmap")
        self._run("monmaptool", "--create", "--fsid", fsid, "--addv", "a",
                  "[v2:127.0.0.1:%d,v1:127.0.0.1:%d]" % (mon, mon + 1), monmap)
        self._run("ceph-mon", "-c", self.conf, "--mkfs", "-i", "a", "--monmap", monmap, "--keyring", kr)
        self._daemon("mon", "ceph-mon", "-c", self.conf, "-i", "a", "-f")
        self._wait("the monitor", lambda: self._ceph("mon", "stat", timeout=5, check=False).returncode == 0)
        osd_uuid = str(uuid.uuid4())
        self._ceph("osd", "new", osd_uuid, "0")
        self._run("ceph-osd", "-c", self.conf, "-i", "0", "--mkfs", "--osd-uuid", osd_uuid, timeout=60)
        self._daemon("osd", "ceph-osd", "-c", self.conf, "-i", "0", "-f")
        self._wait("the OSD", lambda: "osd.0 up" in self._ceph("osd", "dump", timeout=5, check=False).stdout)
        self._daemon("rgw", "radosgw", "-c", self.conf, "-n", "client.rgw.a", "-f")

        def answers():
            try:
                urllib.request.urlopen(self.url, timeout=2)
            except urllib.error.HTTPError:
                pass  # any HTTP answer will do
            return True

        self._wait("radosgw to answer HTTP", answers, timeout=60)
        self._run("radosgw-admin", "-c", self.conf, "-n", "client.admin", "user", "create", "--uid=test",
                  "--display-name=test", "--access-key=" + self.access_key, "--secret-key=" + self.secret_key,
                  timeout=30)
        self.start_seconds = time.time() - t0

    def stop(self):
        """Stops the daemons this object started (by pid): radosgw and the
        monitor with SIGTERM, the memstore OSD with SIGKILL."""
        for name in ("rgw", "osd", "mon"):
            p = self.procs.pop(name, None)
            if p is None or p.poll() is not None:
                continue
            p.send_signal(signal.SIGKILL if name == "osd" else signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def env(self, base=None):
        e = dict(base if base is not None else os.environ)
        e["AWS_ACCESS_KEY_ID"] = self.access_key
        e["AWS_SECRET_ACCESS_KEY"] = self.secret_key
        e.pop("AWS_SESSION_TOKEN", None)
        e.pop("AWS_PROFILE", None)
        return e


if __name__ == "__main__":
    import sys
    d = sys.argv[1] if len(sys.argv) > 1 else "/tmp/mx-radosgw"
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with RadosGW(d) as gw:
        print("radosgw at %s (access key %s, secret %s), started in %.1f s" % (gw.url, gw.access_key, gw.secret_key,
                                                                            gw.start_seconds), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
