#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Makes the seed corpus of the XAL fuzz target: small XFS images (mkfs.xfs -p, no mount needed) turned
into the target's sparse-image format: "XALF" then (u64 offset, u32 length, bytes) for every run of
non-zero 512-byte sectors outside the log.

usage: xal_seeds.py OUT_DIR
"""
import os
import struct
import subprocess
import sys
import tempfile


# No remote symlink here: mkfs.xfs 6.1 -p writes its block without the v5 header (the kernel refuses it
# too); the corpus test covers remote symlinks made by the kernel.
def proto(tmp, entries, big_dir):
    src, empty = f"{tmp}/src", f"{tmp}/empty"
    with open(src, "w") as f:
        f.write("hello\n")
    open(empty, "w").close()
    lines = ["/dev/null", "0 0", "d--755 0 0", f"small ---644 0 0 {src}", "lnk l--777 0 0 small",
             "fifo p--644 0 0", "cdev c--644 0 0 1 3",
             "a d--755 0 0", f" b ---644 0 0 {src}", " $", "big d--755 0 0"]
    lines += [f" entry_{i:05d}_name ---644 0 0 {empty}" for i in range(big_dir)]
    lines += [" $", "$"]
    p = f"{tmp}/proto"
    with open(p, "w") as f:
        f.write("\n".join(lines) + "\n")
    return p


def segments(img, skip):
    out = [b"XALF"]
    with open(img, "rb") as f:
        data = f.read()
    runs, start = [], None
    for off in range(0, len(data), 512):
        nz = data[off:off + 512].strip(b"\0") != b"" and not any(a <= off < b for a, b in skip)
        if nz and start is None:
            start = off
        if not nz and start is not None:
            runs.append((start, off))
            start = None
    if start is not None:
        runs.append((start, len(data)))
    for a, b in runs:
        out.append(struct.pack("<QI", a, b - a) + data[a:b])
    return b"".join(out)


def log_range(img):
    out = subprocess.run(["xfs_db", "-r", img, "-c", "sb 0", "-c", "p logstart logblocks blocksize agblocks agblklog"],
                         check=True, stdout=subprocess.PIPE).stdout.decode()
    g = {k.strip(): int(v) for k, v in (ln.split(" = ") for ln in out.splitlines())}
    fsb = g["logstart"]
    lin = (fsb >> g["agblklog"]) * g["agblocks"] + (fsb & ((1 << g["agblklog"]) - 1))
    return [(lin * g["blocksize"], (lin + g["logblocks"]) * g["blocksize"])]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    configs = [("4k-small", ["-b", "size=4096"], 20), ("4k-leaf", ["-b", "size=4096"], 400),
               ("1k-node", ["-b", "size=1024"], 600), ("4k-dirblk16k", ["-b", "size=4096", "-n", "size=16384"], 300)]
    with tempfile.TemporaryDirectory() as tmp:
        for name, opts, n in configs:
            img = f"{tmp}/{name}.img"
            with open(img, "wb") as f:
                f.truncate(300 << 20)
            subprocess.run(["mkfs.xfs", "-q", "-f", "-d", "agcount=2", *opts, "-p", proto(tmp, 0, n), img],
                           check=True)
            seed = segments(img, log_range(img))
            with open(f"{out}/{name}.seed", "wb") as f:
                f.write(seed)
            print(f"{name}: {len(seed)} bytes")
            os.unlink(img)


if __name__ == "__main__":
    main()
