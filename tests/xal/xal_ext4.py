#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""XAL FIEMAP backend on ext4: a loop-mounted ext4 image with small, fragmented, preallocated (unwritten),
sparse, hard-linked, symlinked, special and deeply nested files. Every file's extents must match
`filefrag -v` (merged), and the tree must match find.

usage: xal_ext4.py XAL_TOOL      (root; exits 77 without root, mkfs.ext4, filefrag or loop devices)
"""
import os
import re
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xalcorpus import Mount, dump, find_tree, make_deep_path, merge, need_root_and, run, workdir  # noqa: E402

TOOL = sys.argv[1]
need_root_and("mkfs.ext4", "filefrag", "mount", "umount", "find")

FLAGS = {"last": 0x1, "unknown_loc": 0x2, "delalloc": 0x4, "encoded": 0x8, "encrypted": 0x80,
         "not_aligned": 0x100, "inline": 0x200, "tail_packed": 0x400, "unwritten": 0x800, "merged": 0x1000,
         "shared": 0x2000}
ROW = re.compile(r"^\s*\d+:\s*(\d+)\.\.\s*(\d+):\s*(\d+)\.\.\s*(\d+):\s*(\d+):\s*(?:\d+:)?\s*(\S*)\s*$")


def filefrag(mnt, paths):
    """{relative path: [[foff, doff, len, flags]]} from filefrag -v, in bytes."""
    res = {}
    for k in range(0, len(paths), 500):
        out = run("filefrag", "-v", *[f"{mnt}/{p}" for p in paths[k:k + 500]]).decode()
        cur, bs = None, 0
        for line in out.splitlines():
            m = re.match(r"^File size of (.*) is (\d+) \((\d+) blocks? of (\d+) bytes\)", line)
            if m:
                cur = os.path.relpath(m.group(1), mnt)
                bs = int(m.group(4))
                res[cur] = []
                continue
            m = ROW.match(line)
            if m and cur is not None:
                lo, _, po, _, ln, fl = m.groups()
                flags = 0
                for f in fl.split(","):
                    flags |= FLAGS.get(f, 0)
                res[cur].append([int(lo) * bs, int(po) * bs, int(ln) * bs, flags])
    return res


def populate(root):
    bs = os.statvfs(root).f_bsize
    os.makedirs(f"{root}/a/b/c")
    with open(f"{root}/a/small", "w") as f:
        f.write("hello\n")
    open(f"{root}/empty", "w").close()
    fd = os.open(f"{root}/frag", os.O_WRONLY | os.O_CREAT, 0o644)
    for b in range(0, 1000, 2):
        os.pwrite(fd, b"x" * bs, b * bs)
    os.close(fd)
    fd = os.open(f"{root}/prealloc", os.O_RDWR | os.O_CREAT, 0o644)
    os.posix_fallocate(fd, 0, 256 * bs)
    os.pwrite(fd, b"w" * bs * 3, 20 * bs)
    os.close(fd)
    fd = os.open(f"{root}/holes", os.O_WRONLY | os.O_CREAT, 0o644)
    os.pwrite(fd, b"h", 0)
    os.pwrite(fd, b"h", 1 << 30)
    os.close(fd)
    os.link(f"{root}/a/small", f"{root}/a/b/hardlink")
    os.symlink("a/small", f"{root}/symlink")
    os.symlink("/" + "x" * 300, f"{root}/symlink_long")
    os.mkfifo(f"{root}/fifo")
    os.mknod(f"{root}/chardev", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    with open(f"{root}/" + "n" * 255, "w") as f:
        f.write("long name\n")
    for i in range(500):
        with open(f"{root}/a/b/c/f{i}", "w") as f:
            f.write("z" * (i * 37))
    make_deep_path(root, "q", "bottom")


def main():
    wd = workdir()
    img, mnt = f"{wd}/ext4.img", f"{wd}/mnt"
    errors = []
    try:
        with open(img, "wb") as f:
            f.truncate(512 << 20)
        run("mkfs.ext4", "-q", "-F", img)
        with Mount(img, mnt, "ext4"):
            populate(mnt)
            os.sync()
        with Mount(img, mnt, "ext4"):
            fm = dump(TOOL, mnt)
            tree = find_tree(mnt)
            st = run(TOOL, "stats", mnt, "--json").decode()
            short = [p for p, o in fm.items() if o["type"] == "file" and len(f"{mnt}/{p}") < 4000]
            ff = filefrag(mnt, short)
        if '"fstype": "ext4"' not in st:
            errors.append(f"stats does not say ext4: {st}")
        mine = {p: (o["type"], o["ino"], o["nlink"]) for p, o in fm.items() if p}
        # find reports lost+found too; so does the index
        for p in sorted(set(mine) | set(tree)):
            if mine.get(p) != tree.get(p):
                errors.append(f"tree: '{p}': xal {mine.get(p)} find {tree.get(p)}")
        for p in short:
            a, b = merge(fm[p]["extents"]), merge(ff.get(p, []))
            if a != b:
                errors.append(f"extents of '{p}': xal {str(a)[:200]} filefrag {str(b)[:200]}")
        flags = {f for o in fm.values() for e in o.get("extents", []) for f in [e[3]]}
        if not any(f & 0x800 for f in flags):
            errors.append("no unwritten extent seen")
        if len(fm["frag"]["extents"]) < 400:
            errors.append(f"frag has {len(fm['frag']['extents'])} extents")
        print(f"  ext4: {len(fm)} paths, {len(short)} files compared with filefrag")
    finally:
        subprocess.run(["umount", mnt], stderr=subprocess.DEVNULL)
        shutil.rmtree(wd, ignore_errors=True)
    for e in errors[:50]:
        print("ERROR:", e)
    print(f"xal-ext4: {len(errors)} mismatches")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
