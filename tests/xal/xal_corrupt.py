#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""XAL corrupt-image set: one populated XFS image, damaged one structure at a time (with xfs_db -x or by
bytes), and damaged at random. The on-disk parser must answer every one with exit status 1 and an error
that names the structure, never a crash, a hang or (under ASan/UBSan) a memory error.

usage: xal_corrupt.py XAL_TOOL      (root for the loop mount that populates the image; else exit 77)
"""
import os
import random
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xalcorpus import Mount, dump, mkimage, need_root_and, run, workdir  # noqa: E402

TOOL = sys.argv[1]
need_root_and("mkfs.xfs", "xfs_db", "mount", "umount")
BS = 4096


def populate(root):
    os.mkdir(f"{root}/sf")
    for i in range(3):
        open(f"{root}/sf/f{i}", "w").close()
    os.mkdir(f"{root}/big")
    for i in range(300):
        open(f"{root}/big/entry_{i:04d}", "w").close()
    fd = os.open(f"{root}/frag", os.O_WRONLY | os.O_CREAT, 0o644)
    for b in range(0, 1200, 2):
        os.pwrite(fd, b"x" * BS, b * BS)
    os.close(fd)
    with open(f"{root}/few", "wb") as f:
        f.write(b"y" * 3 * BS)
    with open(f"{root}/orig", "wb") as f:
        f.write(b"z" * 16 * BS)
    run("cp", "--reflink=always", f"{root}/orig", f"{root}/clone")
    os.symlink("/" + "s" * 700, f"{root}/remote_link")


def xal(img, verb="stats", *args, timeout=30):
    p = subprocess.run([TOOL, verb, img, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stderr.decode(errors="replace")


def main():
    wd = workdir()
    base, mnt = f"{wd}/base.img", f"{wd}/mnt"
    errors = []
    try:
        mkimage(base, 320 << 20, ["-b", f"size={BS}", "-m", "reflink=1", "-d", "agcount=2"])
        with Mount(base, mnt):
            populate(mnt)
            os.sync()
        rc, err = xal(base)
        if rc != 0:
            print("ERROR: the undamaged image does not index:", err)
            return 1
        ino = {p: o["ino"] for p, o in dump(TOOL, base).items()}
        dblk = {}
        for line in run("xfs_db", "-r", base, "-c", f"inode {ino['big']}", "-c", "bmap").decode().splitlines():
            w = line.split()
            dblk.setdefault("big", int(w[4]))
        agblocks = int(run("xfs_db", "-r", base, "-c", "sb 0", "-c", "p agblocks").decode().split("=")[1])

        def db(*cmds):
            def f(img):
                args = ["xfs_db", "-x", img]
                for c in cmds:
                    args += ["-c", c.replace("write ", "write -d ")]  # -d: allow writing corrupt data
                subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return f

        def patch(off, data):
            def f(img):
                with open(img, "r+b") as fh:
                    fh.seek(off)
                    fh.write(data)
            return f

        def truncate(size):
            def f(img):
                os.truncate(img, size)
            return f

        fsb = dblk["big"]
        agblklog = int(run("xfs_db", "-r", base, "-c", "sb 0", "-c", "p agblklog").decode().split("=")[1])
        big_lin = (fsb >> agblklog) * agblocks + (fsb & ((1 << agblklog) - 1))
        cases = [
            ("truncated image", truncate(64 << 20), "truncated"),
            ("truncated to one sector", truncate(512), "truncated"),
            ("bad superblock magic", db("sb 0", "write magicnum 0x12345678"), "not an XFS"),
            ("v4 superblock", db("sb 0", "write versionnum 0xb4a4"), "only v5"),
            ("unknown incompat feature", db("sb 0", "write features_incompat 0x8000000b"), "unknown incompatible"),
            ("bad AGI magic", db("agi 1", "write magicnum 0"), "AGI"),
            ("inobt root out of range", db("agi 0", f"write root {agblocks + 10}"), "out of range"),
            ("inobt level too deep", db("agi 0", "write level 40"), "inobt level"),
            ("inobt wrong level", db("agi 0", "write level 2"), "level"),
            ("inobt bad magic", db("agi 0", "addr root", "write magic 0"), "bad magic"),
            ("inobt record misaligned", db("agi 0", "addr root", "write recs[1].startino 7"), "out of order"),
            ("inode bad magic", db(f"inode {ino['few']}", "write core.magic 0"), f"inode {ino['few']}"),
            ("inode fork offset", db(f"inode {ino['few']}", "write core.forkoff 200"), "fork offset"),
            ("extent block out of range", db(f"inode {ino['few']}", "write u3.bmx[0].startblock 0xfffffffff"),
             "out of range"),
            ("extents beyond the fork", db(f"inode {ino['few']}", "write core.nextents 1000"), "do not fit"),
            ("bmbt pointer out of range", db(f"inode {ino['frag']}", "write u3.bmbt.ptrs[1] 0xffffffffff"),
             "out of range"),
            ("bmbt pointer loops to a visited leaf",
             db(f"inode {ino['frag']}", "write u3.bmbt.numrecs 2", "write u3.bmbt.ptrs[2] 0"), "bmbt"),
            ("bmbt root level", db(f"inode {ino['frag']}", "write u3.bmbt.level 30"), "bmbt root level"),
            ("shortform count", db(f"inode {ino['sf']}", "write u3.sfdir3.hdr.count 200"), "shortform"),
            ("shortform name length", db(f"inode {ino['sf']}", "write u3.sfdir3.list[0].namelen 250"),
             "shortform"),
            ("directory block magic", patch(big_lin * BS, b"\0\0\0\0"), "bad magic"),
            ("directory entry length", patch(big_lin * BS + 64 + 8, b"\x00"), "runs past"),
            ("directory entry names a free inode", patch(big_lin * BS + 64 + 32, b"\0\0\0\0\0\0\x7f\x00"),
             "not allocated"),
            ("refcount root out of range", db("agf 0", f"write refcntroot {agblocks + 3}"), "refcountbt"),
            ("refcount bad magic", db("agf 0", "addr refcntroot", "write magic 0"), "refcountbt"),
            ("remote symlink header", db(f"inode {ino['remote_link']}", "write core.size 5000"), "symlink"),
            ("root inode not allocated", db("sb 0", "write rootino 4000000"), "root"),
        ]
        for name, fn, want in cases:
            img = f"{wd}/case.img"
            subprocess.run(["cp", "--sparse=always", base, img], check=True)
            try:
                fn(img)
            except subprocess.CalledProcessError as e:
                errors.append(f"{name}: could not damage the image: {e}")
                continue
            try:
                rc, err = xal(img)
            except subprocess.TimeoutExpired:
                errors.append(f"{name}: hang")
                continue
            bad = rc != 1 or want.lower() not in err.lower() or "Sanitizer" in err or "runtime error" in err
            print(f"  {'FAIL' if bad else 'ok  '} {name}: rc {rc}: {err.strip()[:160]}")
            if bad:
                errors.append(f"{name}: rc {rc}, wanted an error with '{want}': {err.strip()[:400]}")
        # random damage to the metadata-rich start of each AG: any answer but a crash or a hang
        rnd = random.Random(4)
        crashes = 0
        agbytes = agblocks * BS
        img = f"{wd}/rand.img"
        subprocess.run(["cp", "--sparse=always", base, img], check=True)
        for it in range(150):
            undo = []
            with open(img, "r+b") as fh:
                for _ in range(rnd.choice((1, 4, 32))):
                    ag = rnd.randrange(2)
                    off = ag * agbytes + rnd.randrange(0, 1 << 20 if rnd.random() < 0.7 else 64 << 20)
                    fh.seek(off)
                    undo.append((off, fh.read(1)))
                    fh.seek(off)
                    fh.write(bytes([rnd.randrange(256)]))
            try:
                rc, err = xal(img, "dump", timeout=20)
            except subprocess.TimeoutExpired:
                rc, err = -1, "hang"
            if rc not in (0, 1) or "Sanitizer" in err or "runtime error" in err:
                crashes += 1
                errors.append(f"random damage {it}: rc {rc}: {err.strip()[:400]}")
                keep = os.environ.get("XAL_CRASH_DIR")
                if keep:
                    shutil.copyfile(img, f"{keep}/crash-{it}.img")
            with open(img, "r+b") as fh:
                for off, byte in reversed(undo):
                    fh.seek(off)
                    fh.write(byte)
        print(f"  random damage: 150 images, {crashes} crashes")
    finally:
        subprocess.run(["umount", mnt], stderr=subprocess.DEVNULL)
        shutil.rmtree(wd, ignore_errors=True)
    for e in errors:
        print("ERROR:", e)
    print(f"xal-corrupt: {len(errors)} failures")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
