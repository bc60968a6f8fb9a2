# SPDX-License-Identifier: BSD-3-Clause
"""Helpers of the XAL tests: images, loop mounts, the corpus, the three views that must agree.

Views of one XFS image:
  xfs     `xal-tool dump IMAGE`          the on-disk parser, image unmounted
  fiemap  `xal-tool dump MOUNTPOINT`     FIEMAP on the host kernel, image mounted
  oracle  `xfs_db -r IMAGE` with one `-c inode N -c bmap` pair per file, in one call
  find    `find MOUNTPOINT -printf ...`  the tree as the kernel sees it
"""
import json
import os
import select
import shutil
import stat
import subprocess
import sys
import tempfile
import time

SKIP = 77


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def need_root_and(*tools):
    if os.geteuid() != 0:
        skip("needs root (loop mounts)")
    for t in tools:
        if not shutil.which(t):
            skip(f"{t} not installed")
    try:
        fd = os.open("/dev/loop-control", os.O_RDWR)
        os.close(fd)
    except OSError as e:
        skip(f"no loop devices: {e}")


def run(*args, **kw):
    return subprocess.run(list(args), check=True, stdout=subprocess.PIPE, **kw).stdout


def workdir():
    base = "/var/tmp" if os.path.isdir("/var/tmp") else None
    return tempfile.mkdtemp(prefix="xal-test-", dir=base)


def make_deep_path(root, letter, leaf):
    """A file at a path longer than PATH_MAX under root (40 levels of 118-byte names),
    built with directory descriptors since no single path can reach it."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for i in range(40):
        name = f"deep{i:02d}_" + letter * 110
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    f = os.open(leaf, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(f, b"deep\n")
    os.close(f)
    os.close(fd)


def mkimage(path, size, mkfs_args):
    with open(path, "wb") as f:
        f.truncate(size)
    run("mkfs.xfs", "-q", "-f", *mkfs_args, path)


class Mount:
    def __init__(self, img, mnt, fstype="xfs"):
        self.img, self.mnt, self.fstype = img, mnt, fstype

    def __enter__(self):
        os.makedirs(self.mnt, exist_ok=True)
        run("mount", "-t", self.fstype, "-o", "loop", self.img, self.mnt)
        return self.mnt

    def __exit__(self, *a):
        subprocess.run(["umount", self.mnt], check=True)


def dump(tool, source, *extra):
    out = run(tool, "dump", source, *extra)
    return {o["path"]: o for o in map(json.loads, out.decode().splitlines())}


# Flags that say how FIEMAP reported, not what the blocks are: ignored when comparing.
IGNORE_FLAGS = 0x1 | 0x1000  # last, merged


def merge(extents):
    """Extents [foff, doff, len, flags] sorted, neighbours contiguous in file and disk with equal flags joined."""
    out = []
    for fo, do, ln, fl in sorted(extents):
        fl &= ~IGNORE_FLAGS
        if out and out[-1][0] + out[-1][2] == fo and out[-1][1] + out[-1][2] == do and out[-1][3] == fl:
            out[-1][2] += ln
        else:
            out.append([fo, do, ln, fl])
    return out


def find_tree(mnt):
    out = run("find", mnt, "-mindepth", "1", "-printf", "%P\\0%y\\0%i\\0%s\\0%n\\0")
    parts = out.split(b"\0")[:-1]
    types = {"f": "file", "d": "dir", "l": "symlink", "p": "fifo", "s": "sock", "c": "chr", "b": "blk"}
    tree = {}
    for i in range(0, len(parts), 5):
        p = parts[i].decode("utf-8", "surrogateescape")
        tree[p] = (types.get(parts[i + 1].decode(), "?"), int(parts[i + 2]), int(parts[i + 4]))
    return tree


def oracle_bmaps(img, inos, bs, agblocks, agblklog):
    """xfs_db bmap of every inode in inos: {ino: [[foff, doff, len, flags]]}, and {ino: fork format}."""
    res, fmt = {}, {}
    inos = sorted(inos)
    for k in range(0, len(inos), 2000):
        args = ["xfs_db", "-r", img]
        for i in inos[k:k + 2000]:
            args += ["-c", f"inode {i}", "-c", "p v3.inumber core.format", "-c", "bmap"]
        cur = None
        for line in run(*args).decode().splitlines():
            if line.startswith("v3.inumber = "):
                cur = int(line.split("=")[1])
                res[cur] = []
            elif line.startswith("core.format = "):
                fmt[cur] = line.split("(")[1].rstrip(")")
            elif line.startswith("data offset "):
                w = line.split()
                off, cnt, flag = int(w[2]), int(w[7]), int(w[9])
                agno, agbno = map(int, w[5].strip("()").split("/"))
                res[cur].append([off * bs, (agno * agblocks + agbno) * bs, cnt * bs, 0x800 if flag else 0])
    return res, fmt


def sb_geometry(img):
    out = run("xfs_db", "-r", img, "-c", "sb 0", "-c", "p blocksize agblocks agblklog dirblklog inodesize").decode()
    g = {}
    for line in out.splitlines():
        k, v = line.split(" = ")
        g[k.strip()] = int(v)
    return g


def compare(name, a, b, fields, label_a, label_b, errors, limit=20):
    """Compare two {path: obj} views on the given fields (extents merged)."""
    for p in sorted(set(a) | set(b)):
        if p not in a or p not in b:
            errors.append(f"{name}: '{p}' only in {label_a if p in a else label_b}")
            continue
        for f in fields:
            va, vb = a[p].get(f), b[p].get(f)
            if f == "extents" and va is not None and vb is not None:
                va, vb = merge(va), merge(vb)
            if va != vb:
                errors.append(f"{name}: '{p}' {f}: {label_a} {str(va)[:200]} != {label_b} {str(vb)[:200]}")
        if len(errors) > limit:
            return


def kind(line):
    """"incremental" or "full" from a watcher's "updated N (KIND)" line."""
    return line.split("(")[-1].rstrip(")\n") if "(" in line else "?"


def settle(p, quiet=0.4, timeout=20.0):
    """Reads the "updated" lines the watcher `p` prints for one change until `quiet` s pass without one
    (a change can come as more than one burst). Returns their kinds and the time of the last line."""
    kinds, last, end = [], None, time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([p.stdout], [], [], quiet if kinds else end - time.monotonic())
        if not r:
            break
        line = p.stdout.readline().decode()
        if not line:
            break
        if line.startswith("updated"):
            kinds.append(kind(line))
            last = time.monotonic()
    if not kinds:
        raise TimeoutError("no 'updated' from the watcher")
    return kinds, last
