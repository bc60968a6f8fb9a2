#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""XAL corpus test: XFS images of every on-disk format XAL parses, populated through a loop mount on the
host kernel, then read four ways that must agree for every file:
  the XFS backend (image unmounted), the FIEMAP backend (mounted), xfs_db bmap (oracle), find (tree).
Extents are compared after merging neighbours contiguous on disk with equal flags.

usage: xal_corpus.py XAL_TOOL        (root; exits 77 without root, mkfs.xfs, xfs_db or loop devices)
"""
import ctypes
import os
import re
import shutil
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xalcorpus import (Mount, compare, dump, find_tree, make_deep_path, merge, mkimage, need_root_and, oracle_bmaps,  # noqa: E402
                       run, sb_geometry, workdir)

TOOL = sys.argv[1]
need_root_and("mkfs.xfs", "xfs_db", "mount", "umount", "find")


def write_at(path, blocks, bs, size=None):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    buf = b"x" * bs
    for b in blocks:
        os.pwrite(fd, buf, b * bs)
    if size is not None:
        os.ftruncate(fd, size)
    os.close(fd)


def populate_common(root, bs, deep=True):
    """Formats every image gets: small/empty files and dirs, hard links, symlinks, specials, long names."""
    os.makedirs(f"{root}/d1/d2/d3")
    os.mkdir(f"{root}/empty_dir")
    open(f"{root}/empty_file", "w").close()
    with open(f"{root}/d1/small", "w") as f:
        f.write("hello\n")
    with open(f"{root}/d1/d2/three_blocks", "wb") as f:
        f.write(os.urandom(3 * bs + 17))
    os.link(f"{root}/d1/small", f"{root}/d1/d2/d3/hardlink")
    os.link(f"{root}/d1/small", f"{root}/hardlink2")
    os.symlink("d1/small", f"{root}/symlink_short")
    os.symlink("/" + "t" * 700, f"{root}/symlink_remote")  # too long for the inode: remote blocks
    os.symlink("dangling/target", f"{root}/d1/symlink_dangling")
    os.mkfifo(f"{root}/fifo")
    os.mknod(f"{root}/chardev", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    os.mknod(f"{root}/blockdev", stat.S_IFBLK | 0o600, os.makedev(7, 200))
    os.mknod(f"{root}/socket", stat.S_IFSOCK | 0o600)
    with open(f"{root}/" + "L" * 255, "w") as f:
        f.write("long name\n")
    os.mkdir(f"{root}/näme with spaces ✓")
    with open(f"{root}/näme with spaces ✓/ünïcode.txt", "w") as f:
        f.write("utf-8\n")
    if deep:
        make_deep_path(root, "p", "bottom_file")
    # unwritten: preallocated file with some blocks written inside it
    fd = os.open(f"{root}/prealloc", os.O_RDWR | os.O_CREAT, 0o644)
    os.posix_fallocate(fd, 0, 64 * bs)
    for b in (3, 4, 10, 40):
        os.pwrite(fd, b"w" * bs, b * bs)
    os.close(fd)
    # a sparse file with holes and a size past its last block
    write_at(f"{root}/holes", [0, 5, 100], bs, size=1000 * bs + 3)


def fragmented(path, n, bs):
    """A file of n extents: every other block written."""
    write_at(path, range(0, 2 * n, 2), bs)


def big_dir(root, name, n, bs, interleave=0):
    """n files in one directory (leaf/node formats); interleave > 0 fallocates a block file every
    `interleave` entries so the directory's blocks fragment into many extents (B+tree format)."""
    d = f"{root}/{name}"
    os.mkdir(d)
    for i in range(n):
        open(f"{d}/entry_{i:06d}_with_a_longish_name_for_space", "w").close()
        if interleave and i % interleave == 0:
            fd = os.open(f"{root}/spacer_{name}_{i}", os.O_RDWR | os.O_CREAT, 0o644)
            os.posix_fallocate(fd, 0, bs)
            os.close(fd)


def reflinks(root, bs):
    with open(f"{root}/orig", "wb") as f:
        f.write(os.urandom(64 * bs))
    run("cp", "--reflink=always", f"{root}/orig", f"{root}/clone_full")
    run("cp", "--reflink=always", f"{root}/orig", f"{root}/clone_cow")
    fd = os.open(f"{root}/clone_cow", os.O_WRONLY)
    os.pwrite(fd, b"c" * bs * 2, 10 * bs)  # CoW: the clone's middle is its own, the rest stays shared
    os.close(fd)


def pop_4k(root, bs):
    populate_common(root, bs)
    big_dir(root, "flat3000", 3000, bs)
    fragmented(f"{root}/frag3000", 3000, bs)
    fragmented(f"{root}/frag300", 300, bs)
    reflinks(root, bs)
    with open(f"{root}/big_contig", "wb") as f:
        f.write(b"\0" * (8 << 20))


def pop_1k(root, bs):
    populate_common(root, bs)
    big_dir(root, "btree_dir", 4000, bs, interleave=12)
    fragmented(f"{root}/frag3000", 3000, bs)
    reflinks(root, bs)


def pop_small(root, bs):
    populate_common(root, bs, deep=False)
    big_dir(root, "dir1000", 1000, bs)
    fragmented(f"{root}/frag200", 200, bs)


def pop_bigino(root, bs):
    populate_common(root, bs, deep=False)
    # new top-level directories rotate through the AGs: inode numbers past 2^32 in AGs 2 and 3
    for i in range(8):
        os.mkdir(f"{root}/ag_dir{i}")
        for k in range(3):
            with open(f"{root}/ag_dir{i}/f{k}", "w") as f:
                f.write("x" * (k * 5000))
        os.mkdir(f"{root}/ag_dir{i}/sub")
    fragmented(f"{root}/ag_dir3/frag", 50, bs)


def punch(path, off, length):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
    fd = os.open(path, os.O_RDWR)
    try:
        if libc.fallocate(fd, 3, off, length):  # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
            raise OSError(ctypes.get_errno(), "fallocate punch")
    finally:
        os.close(fd)


def pop_sparse(root, bs):
    """Fill the file system with preallocated files, punch 4-block holes at disk blocks 0-3 of 8-block groups,
    then create empty files: no aligned 8-block run is free for a full inode chunk, so the new inodes land
    in sparse chunks."""
    os.mkdir(f"{root}/fill")
    subprocess.run(["xfs_io", "-x", "-c", "resblks 0", root], stdout=subprocess.DEVNULL)  # no reserve pool
    i = 0
    for chunk in (16 << 20, 1 << 20, 64 << 10, bs):
        while True:
            try:
                fd = os.open(f"{root}/fill/{i}", os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                break
            try:
                os.posix_fallocate(fd, 0, chunk)
            except OSError:
                os.close(fd)
                os.unlink(f"{root}/fill/{i}")
                break
            os.close(fd)
            i += 1
    os.sync()
    groups = 0
    for name, o in dump(TOOL, f"{root}/fill").items():
        for fo, do, ln, fl in o.get("extents") or []:
            b0, n = do // bs, ln // bs
            for b in range((b0 + 7) // 8 * 8, b0 + n - 3, 8):
                if groups < 300:
                    punch(f"{root}/fill/{name}", fo + (b - b0) * bs, 4 * bs)
                    groups += 1
    os.sync()
    os.mkdir(f"{root}/new")
    for k in range(600):
        try:
            open(f"{root}/new/e{k}", "w").close()
        except OSError:
            break


CONFIGS = [
    # name, image size, mkfs options, populate, block size
    ("4k", 2 << 30, ["-b", "size=4096", "-m", "reflink=1", "-i", "sparse=1"], pop_4k, 4096),
    ("1k", 1 << 30, ["-b", "size=1024", "-m", "reflink=1"], pop_1k, 1024),
    ("2k-dirblk8k", 512 << 20, ["-b", "size=2048", "-n", "size=8192"], pop_small, 2048),
    ("64k", 2 << 30, ["-b", "size=65536"], pop_small, 65536),
    ("sparse-inodes", 320 << 20, ["-b", "size=4096", "-i", "sparse=1", "-m", "finobt=0,reflink=0", "-d", "agcount=2"],
     pop_sparse, 4096),
    ("ino64-4TiB", 4 << 40, ["-b", "size=4096", "-d", "agcount=5", "-l", "size=64m"], pop_bigino, 4096),
]


def check_image(name, img, mnt, errors, coverage):
    g = sb_geometry(img)
    bs = g["blocksize"]
    with Mount(img, mnt):
        fm = dump(TOOL, mnt)
        tree = find_tree(mnt)
    t0 = time.monotonic()
    xf = dump(TOOL, img)
    t_xfs = time.monotonic() - t0
    # 1. XFS backend vs FIEMAP backend: tree, types, numbers, sizes, links, extents with flags, symlinks
    compare(name + " xfs-vs-fiemap", xf, fm, ["type", "ino", "size", "nlink", "extents", "target"],
            "xfs", "fiemap", errors)
    # 2. the tree vs find
    ftree = {p: (o["type"], o["ino"], o["nlink"]) for p, o in xf.items() if p}
    for p in sorted(set(ftree) | set(tree)):
        if ftree.get(p) != tree.get(p):
            errors.append(f"{name} xfs-vs-find: '{p}': xfs {ftree.get(p)} find {tree.get(p)}")
    # 3. extents vs xfs_db bmap (unwritten is the only flag xfs_db shows)
    files = {o["ino"]: o for o in xf.values() if o["type"] == "file"}
    dirs = {o["ino"]: o for o in xf.values() if o["type"] == "dir"}
    ob, fmt = oracle_bmaps(img, list(files) + list(dirs), bs, g["agblocks"], g["agblklog"])
    if set(ob) != set(files) | set(dirs) or not any(ob.values()):
        errors.append(f"{name}: xfs_db answered for {len(ob)} of {len(files) + len(dirs)} inodes")
    for ino, o in files.items():
        mine = [[a, b, c, f & 0x800] for a, b, c, f in o["extents"]]
        if merge(mine) != merge(ob.get(ino, [])):
            errors.append(f"{name} xfs-vs-xfs_db: inode {ino}: {str(merge(mine))[:200]} != "
                          f"{str(merge(ob.get(ino, [])))[:200]}")
    # coverage of the formats this image exercised
    dirblk = bs << g["dirblklog"]
    children = {}
    for p, o in xf.items():
        if p:
            children.setdefault(os.path.dirname(p), []).append(o)
    for ino, o in dirs.items():
        f = fmt.get(ino)
        if f == "local":
            coverage.add("dir shortform")
            if any(c["ino"] >= 1 << 32 for c in children.get(o["path"], [])):
                coverage.add("dir shortform with 8-byte inode numbers")
        elif f == "extents":
            coverage.add("dir block" if o["size"] <= dirblk else "dir leaf/node")
        elif f == "btree":
            coverage.add("dir btree")
    for ino, o in files.items():
        if fmt.get(ino) == "btree":
            coverage.add("file btree")
        n = len(o["extents"])
        if n >= 1000:
            coverage.add("file >= 1000 extents")
        elif n >= 100:
            coverage.add("file >= 100 extents")
        for e in o["extents"]:
            if e[3] & 0x800:
                coverage.add("unwritten")
            if e[3] & 0x2000:
                coverage.add("shared (reflink)")
    if any(o["nlink"] > 1 for o in files.values()):
        coverage.add("hard links")
    if any(o["ino"] >= 1 << 32 for o in xf.values()):
        coverage.add("inode numbers >= 2^32")
    if any(o["type"] == "symlink" and len(o.get("target", "")) > 600 for o in xf.values()):
        coverage.add("remote symlink")
    if any(len(p) > 4096 for p in xf):
        coverage.add("path > PATH_MAX")
    for agno in range(4):
        out = subprocess.run(["xfs_db", "-r", img, "-c", f"agi {agno}", "-c", "p level"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()
        if "level = " in out and int(out.split("=")[1]) >= 2:
            coverage.add("inobt >= 2 levels")
    if name.startswith("sparse"):
        # inobt leaf records print as N:[startino,holemask,count,freecount,free]
        out = run("xfs_db", "-r", img, "-c", "agi 0", "-c", "addr root", "-c", "p recs",
                  "-c", "agi 1", "-c", "addr root", "-c", "p recs").decode()
        for rec in re.findall(r"\d+:\[([^\]]*)\]", out):
            if int(rec.split(",")[1], 0) != 0:
                coverage.add("sparse inode chunks")
    print(f"  {name}: {len(xf)} paths, {len(files)} files, xfs parse+dump {t_xfs:.2f}s")


def main():
    wd = workdir()
    errors, coverage = [], set()
    t_all = time.monotonic()
    try:
        for name, size, opts, pop, bs in CONFIGS:
            t0 = time.monotonic()
            img, mnt = f"{wd}/{name}.img", f"{wd}/mnt"
            mkimage(img, size, opts)
            try:
                with Mount(img, mnt):
                    pop(mnt, bs)
                    os.sync()
            except subprocess.CalledProcessError as e:
                errors.append(f"{name}: could not mount/populate: {e}")
                continue
            n0 = len(errors)
            check_image(name, img, mnt, errors, coverage)
            print(f"  {name}: {'ok' if len(errors) == n0 else 'MISMATCH'} ({time.monotonic() - t0:.1f}s)")
            os.unlink(img)
    finally:
        subprocess.run(["umount", f"{wd}/mnt"], stderr=subprocess.DEVNULL)
        shutil.rmtree(wd, ignore_errors=True)
    required = ["dir shortform", "dir block", "dir leaf/node", "dir btree", "file btree", "file >= 1000 extents",
                "file >= 100 extents", "unwritten", "shared (reflink)", "hard links", "inode numbers >= 2^32",
                "remote symlink", "path > PATH_MAX", "dir shortform with 8-byte inode numbers", "inobt >= 2 levels", "sparse inode chunks"]
    print("coverage:")
    for r in required:
        print(f"  [{'x' if r in coverage else ' '}] {r}")
    missing = [r for r in required if r not in coverage]
    for e in errors[:50]:
        print("ERROR:", e)
    print(f"xal-corpus: {len(errors)} mismatches, {len(missing)} formats not covered, "
          f"{time.monotonic() - t_all:.1f}s")
    return 1 if errors or missing else 0


if __name__ == "__main__":
    sys.exit(main())
