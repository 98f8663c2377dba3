"""A private certificate authority for tests: the openssl CLI makes a CA and
a server certificate it signed, so TLS is tested with real verification."""

import os
import subprocess


def make_test_ca(directory, names=("localhost",), ips=("127.0.0.1",)):
    """Creates ca.crt/ca.key and server.crt/server.key (signed by the CA, SAN
    with `names` and `ips`) in `directory` with the openssl CLI; returns the
    paths (ca_file, cert_file, key_file)."""
    os.makedirs(directory, exist_ok=True)
    p = lambda n: os.path.join(directory, n)  # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args):
        r = subprocess.run(["openssl"] + list(args), capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr))

    run("req", "-x509", *ec, "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "30",
        "-subj", "/CN=mxvault test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-new", *ec, "-keyout", p("server.key"), "-out", p("server.csr"), "-subj", "/CN=localhost")
    san = ",".join(["DNS:" + n for n in names] + ["IP:" + i for i in ips])
    with open(p("server.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectKeyIdentifier=hash\n"
                "authorityKeyIdentifier=keyid\n"
                "subjectAltName=%s\n" % san)
    run("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
        "-CAcreateserial", "-out", p("server.crt"), "-days", "30", "-extfile", p("server.ext"))
    os.chmod(p("server.key"), 0o600)
    return p("ca.crt"), p("server.crt"), p("server.key")
