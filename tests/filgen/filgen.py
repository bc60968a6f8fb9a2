# SPDX-License-Identifier: BSD-3-Clause
"""Helpers of the `aisio fil gen` tests: the layout and content rule of tools/fil_gen.h, recomputed here
independently, and a runner for the command."""
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SKIP = 77
M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
SHAPES = {  # files, classes, size_min, size_max, the scale sizes files (not the count)
    "imagenetish": (1281167, 1000, 75000, 150000, False),
    "tiktokish": (10000, 1, 7 << 20, 8 << 20, False),
    "filesize8gib": (8, 1, 8 << 30, 8 << 30, True),
}


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def file_key(seed, index):
    return mix64((mix64(seed) + index) & M64)


def scaled(x, scale):
    # C's round(): halves away from zero, at least 1
    return max(1, int(x * scale + 0.5))


def layout(shape, scale, seed):
    """[(class name, [(file name, index, size)])] as fil_gen.h describes it."""
    files, classes, lo, hi, scale_sizes = SHAPES[shape]
    if scale_sizes:
        lo, hi = scaled(lo, scale), scaled(hi, scale)
    else:
        files = scaled(files, scale)
    classes = min(classes, files)
    base, rem = divmod(files, classes)
    out, index = [], 0
    for c in range(classes):
        count = base + (1 if c < rem else 0)
        names = []
        for i in range(index, index + count):
            size = lo + mix64(~file_key(seed, i) & M64) % (hi - lo + 1)
            names.append((f"n{c:08d}_{i:08d}.bin", i, size))
        out.append((f"n{c:08d}", names))
        index += count
    return out


def content(seed, index, offset, length):
    """Bytes [offset, offset + length) of file index; offset a multiple of 8."""
    key = file_key(seed, index)
    w0, nw = offset // 8, (length + 7) // 8
    words = [mix64((key + GOLDEN * (w + 1)) & M64) for w in range(w0, w0 + nw)]
    return struct.pack(f"<{nw}Q", *words)[:length]


def tree_digest(root):
    """sha256 over every path and its bytes, in sorted order."""
    h = hashlib.sha256()
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(d, f)
            h.update(os.path.relpath(p, root).encode() + b"\0")
            with open(p, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


class Runner:
    def __init__(self, aisio):
        self.aisio = aisio
        self.failures = 0

    def gen(self, *args, as_user=None):
        cmd = [self.aisio, "fil", "gen", *args]
        if as_user is not None:
            cmd = ["setpriv", f"--reuid={as_user}", f"--regid={as_user}", "--clear-groups", *cmd]
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def check(self, what, ok, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {what}{'' if ok else ': ' + detail}")
        if not ok:
            self.failures += 1
        return ok

    def refuse(self, what, rc, needle, *args, as_user=None):
        r = self.gen(*args, as_user=as_user)
        self.check(what, r.returncode == rc and needle in r.stderr,
                   f"rc {r.returncode} (want {rc}), stderr {r.stderr.strip()!r} (want {needle!r})")

    def done(self):
        print(f"{self.failures} failure(s)")
        sys.exit(1 if self.failures else 0)


def workdir():
    base = "/var/tmp" if os.path.isdir("/var/tmp") else None
    return tempfile.mkdtemp(prefix="filgen-test-", dir=base)


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)
