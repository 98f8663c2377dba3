"""Helpers shared by the mxvault integration tests (tests/integration/*.py):
where the binaries are, and a content digest of a directory tree."""

import hashlib
import os
import sys


def bin_dir():
    """The build's bin directory from argv[1] (ctest passes a binary in it)."""
    d = sys.argv[1] if len(sys.argv) > 1 else "build/bin"
    return os.path.dirname(d) if os.path.isfile(d) else d


def password_file(root, secret):
    """Writes `secret` as the password file root/pw and returns its path."""
    path = os.path.join(root, "pw")
    with open(path, "w") as f:
        f.write(secret + "\n")
    return path


def tree_digest(top):
    """{relative path: SHA-256 hex} of every file under `top`."""
    out = {}
    for d, _, files in os.walk(top):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, top)] = hashlib.sha256(fh.read()).hexdigest()
    return out
