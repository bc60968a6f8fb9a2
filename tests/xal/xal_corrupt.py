#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""XAL corruption test: one populated XFS image, damaged three ways. The on-disk parser must never crash,
hang or (under ASan/UBSan) touch memory it should not, and must never hand out a wrong answer.

1. Targeted damages (xfs_db -x, or bytes with the checksum written anew): each must be refused with exit
   status 1 and an error naming the structure. A dirty log is refused, and answered with a warning under
   --ignore-log.
2. (a) Random damage to a metadata block the parser reads (1-64 flipped bits or a run of 1-64 random bytes
   in the superblock, AGF, AGFL, AGI, a free-space, inode or refcount B+tree block, an inode, a bmbt block,
   a directory data block or a remote symlink block) with its checksum left stale: every one refused with
   "Structure needs cleaning" (-EUCLEAN; a damaged superblock magic or version says "not XFS" instead).
   (b) The same damages with the checksum recomputed (a consistent but wrong block): each answer is an
   error, or the undamaged answer, or an answer that satisfies every invariant (types known, sizes below
   2^63, extents in order, inside the file system and on no other file's blocks unless both are shared,
   link counts equal to the names, every path's parent a directory).
3. A copy of the file system taken while frozen (its log covered, not clean) indexes, and equals what the
   FIEMAP backend saw at the freeze.

usage: xal_corrupt.py XAL_TOOL      (root for the loop mount that populates the image; else exit 77)
environment: XAL_CORRUPT_SEED (default: random, printed), XAL_CORRUPT_TRIALS (per half, default 600)
"""
import os
import random
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xalcorpus import Mount, compare, dump, mkimage, need_root_and, run, workdir  # noqa: E402

TOOL = sys.argv[1]
need_root_and("mkfs.xfs", "xfs_db", "xfs_io", "xfs_freeze", "mount", "umount")
BS = 4096
EUCLEAN = "Structure needs cleaning"


def crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


CRC_T = crc32c_table()


def xfs_cksum(buf, off):
    """Writes the XFS checksum of buf (CRC32c with the field zero, little endian) at off."""
    buf[off:off + 4] = b"\0\0\0\0"
    c = 0xFFFFFFFF
    for b in buf:
        c = CRC_T[(c ^ b) & 0xFF] ^ (c >> 8)
    buf[off:off + 4] = struct.pack("<I", c ^ 0xFFFFFFFF)


def populate(root):
    os.mkdir(f"{root}/sf")
    for i in range(3):
        open(f"{root}/sf/f{i}", "w").close()
    os.mkdir(f"{root}/small")
    for i in range(1, 8):
        with open(f"{root}/small/f{i}", "wb") as f:
            f.write(bytes([i]) * BS)
    os.mkdir(f"{root}/big")  # a leaf directory: hard links keep the inode count small
    for i in range(300):
        os.link(f"{root}/sf/f0", f"{root}/big/entry_{i:04d}")
    os.mkdir(f"{root}/node")
    for i in range(700):
        os.link(f"{root}/sf/f1", f"{root}/node/n{i:05d}")
    fd = os.open(f"{root}/frag", os.O_WRONLY | os.O_CREAT, 0o644)
    for b in range(0, 1200, 2):
        os.pwrite(fd, b"x" * BS, b * BS)
    os.close(fd)
    with open(f"{root}/few", "wb") as f:
        f.write(b"y" * 3 * BS)
    with open(f"{root}/orig", "wb") as f:
        f.write(b"z" * 16 * BS)
    run("cp", "--reflink=always", f"{root}/orig", f"{root}/clone")
    fd = os.open(f"{root}/clone", os.O_WRONLY)
    os.pwrite(fd, b"c" * BS, 5 * BS)
    os.close(fd)
    fd = os.open(f"{root}/prealloc", os.O_RDWR | os.O_CREAT, 0o644)
    os.posix_fallocate(fd, 0, 32 * BS)
    os.pwrite(fd, b"w" * BS, 7 * BS)
    os.close(fd)
    os.symlink("/" + "s" * 700, f"{root}/remote_link")
    os.symlink("short", f"{root}/short_link")
    with open(f"{root}/attrs", "w") as f:
        f.write("a")
    os.setxattr(f"{root}/attrs", "user.small", b"v")
    os.setxattr(f"{root}/attrs", "user.big", b"B" * 3 * BS)


def xal(img, verb="stats", *args, timeout=30):
    p = subprocess.run([TOOL, verb, img, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def db_print(img, *cmds):
    args = ["xfs_db", "-r", img]
    for c in cmds:
        args += ["-c", c]
    out = {}
    for line in run(*args).decode().splitlines():
        if " = " in line:
            k, v = line.split(" = ", 1)
            out[k.strip()] = v.strip()
    return out


class Geometry:
    def __init__(self, img):
        g = db_print(img, "sb 0", "p blocksize sectsize inodesize agblocks agblklog inopblog dblocks rbmino rsumino")
        for k, v in g.items():
            setattr(self, k, int(v))
        self.agbytes = self.agblocks * self.blocksize

    def lin(self, fsb):
        return (fsb >> self.agblklog) * self.agblocks + (fsb & ((1 << self.agblklog) - 1))

    def inode_off(self, ino):
        shift = self.agblklog + self.inopblog
        agno, agino = ino >> shift, ino & ((1 << shift) - 1)
        return agno * self.agbytes + (agino >> self.inopblog) * self.blocksize + \
            (agino & ((1 << self.inopblog) - 1)) * self.inodesize


def bmap(img, ino):
    """[(file block, linear block, count)] of an inode's data fork."""
    out = []
    for line in run("xfs_db", "-r", img, "-c", f"inode {ino}", "-c", "bmap").decode().splitlines():
        w = line.split()
        if len(w) >= 8 and w[0] == "data":
            agno, agbno = map(int, w[5].strip("()").split("/"))
            out.append((int(w[2]), agno, agbno, int(w[7])))
    return out


def targets(img, g, objs):
    """Every metadata structure the parser reads and checks: (name, byte offset, length, CRC offset)."""
    t = [("superblock", 0, g.sectsize, 224)]
    for ag in range(2):
        base = ag * g.agbytes
        t += [(f"AG {ag} AGF", base + g.sectsize, g.sectsize, 216),
              (f"AG {ag} AGI", base + 2 * g.sectsize, g.sectsize, 312)]
        agf = db_print(img, f"agf {ag}", "p flcount bnoroot bnolevel refcntroot refcntlevel")
        agi = db_print(img, f"agi {ag}", "p root level")
        if int(agf["flcount"]):
            t.append((f"AG {ag} AGFL", base + 3 * g.sectsize, g.sectsize, 32))
        for name, root, level in (("free-space btree", agf["bnoroot"], agf["bnolevel"]),
                                  ("refcount btree", agf["refcntroot"], agf["refcntlevel"]),
                                  ("inode btree", agi["root"], agi["level"])):
            if int(level) == 1:
                t.append((f"AG {ag} {name} root", base + int(root) * g.blocksize, g.blocksize, 52))
    inos = sorted({o["ino"] for o in objs.values()} | {g.rbmino, g.rsumino})
    t += [(f"inode {i}", g.inode_off(i), g.inodesize, 100) for i in inos]
    ptrs = db_print(img, f"inode {objs['frag']['ino']}", "p u3.bmbt.ptrs")
    for p in ptrs["u3.bmbt.ptrs" + ptrs_key(ptrs)].split():
        t.append((f"bmbt block of frag", g.lin(int(p.split(":")[1])) * g.blocksize, g.blocksize, 64))
    leaf_blk = (32 << 30) // g.blocksize
    for d in ("big", "node", ""):
        for fb, agno, agbno, cnt in bmap(img, objs[d]["ino"]):
            for k in range(cnt):
                if fb + k < leaf_blk:
                    t.append((f"directory '{d}' block {fb + k}", (agno * g.agblocks + agbno + k) * g.blocksize,
                              g.blocksize, 4))
    for fb, agno, agbno, cnt in bmap(img, objs["remote_link"]["ino"]):
        t.append(("remote symlink block", (agno * g.agblocks + agbno) * g.blocksize, cnt * g.blocksize, 12))
    return t


def ptrs_key(d):
    return next(k for k in d if k.startswith("u3.bmbt.ptrs"))[len("u3.bmbt.ptrs"):]


def damage(rnd, length, crc_off):
    """Positions and new bytes: 1-64 flipped bits, or a run of 1-64 random bytes (never all the same)."""
    if rnd.random() < 0.5:
        bits = rnd.sample(range(length * 8), rnd.randint(1, 64))
        return "bits", bits
    n = rnd.randint(1, 64)
    start = rnd.randrange(0, length - n + 1)
    return "bytes", (start, bytes(rnd.randrange(256) for _ in range(n)))


def apply(buf, how):
    kind, arg = how
    before = bytes(buf)
    if kind == "bits":
        for b in arg:
            buf[b // 8] ^= 1 << (b % 8)
    else:
        start, data = arg
        buf[start:start + len(data)] = data
    return bytes(buf) != before, kind == "bits" and arg or list(range(arg[0] * 8, (arg[0] + len(arg[1])) * 8))


def invariants(objs, fs_bytes):
    """What any answer must satisfy; the first violation, or None."""
    names, subdirs, owners = {}, {}, []
    types = {"file", "dir", "symlink", "chr", "blk", "fifo", "sock"}
    seen = set()
    for p, o in objs.items():
        if o["type"] not in types:
            return f"'{p}': type {o['type']}"
        if o["size"] >= 1 << 63:
            return f"'{p}': size {o['size']}"
        parent = p.rsplit("/", 1)[0] if "/" in p else ""
        if p and (parent not in objs or objs[parent]["type"] != "dir"):
            return f"'{p}': parent '{parent}' is no directory"
        if p:
            names[o["ino"]] = names.get(o["ino"], 0) + 1
            if o["type"] == "dir":
                subdirs[objs[parent]["ino"]] = subdirs.get(objs[parent]["ino"], 0) + 1
        if o["type"] != "file" or o["ino"] in seen:
            continue
        seen.add(o["ino"])
        end = 0
        for fo, do, ln, fl in o.get("extents", []):
            if ln <= 0 or fo < end or fo + ln > 1 << 63:
                return f"'{p}': extent {fo}+{ln} out of order or range"
            end = fo + ln
            if not fl & 0x2 and do + ln > fs_bytes:
                return f"'{p}': extent at disk byte {do}+{ln} beyond the file system"
            if not fl & 0x2:
                owners.append((do, do + ln, fl & 0x2000, p))
    for p, o in objs.items():
        want = (2 + subdirs.get(o["ino"], 0)) if o["type"] == "dir" else names.get(o["ino"], 0)
        if o["nlink"] != want:
            return f"'{p}': {o['nlink']} links, {want} expected from the tree"
    owners.sort()
    reach = (0, None)  # furthest end so far of any claim, of a claim not shared
    own = (0, None)
    for a, e, shared, p in owners:
        if a < own[0] or (not shared and a < reach[0]):
            return f"'{p}' and '{own[1] if a < own[0] else reach[1]}' both hold disk byte {a}"
        if e > reach[0]:
            reach = (e, p)
        if not shared and e > own[0]:
            own = (e, p)
    return None


def parse_dump(out):
    import json
    return {o["path"]: o for o in map(json.loads, out.splitlines())}


def sanitizer(err):
    return "Sanitizer" in err or "runtime error" in err


def targeted(wd, base, g, objs, errors):
    ino = {p: o["ino"] for p, o in objs.items()}
    agblocks = g.agblocks
    big_lin = bmap(base, ino["big"])[0]
    big_lin = big_lin[1] * agblocks + big_lin[2]
    f5 = bmap(base, ino["small/f5"])[0]
    free = int(db_print(base, "agf 1", "addr bnoroot", "p recs[1].startblock")["recs[1].startblock"])

    def db(*cmds):
        def f(img):
            args = ["xfs_db", "-x", img]
            for c in cmds:
                args += ["-c", c.replace("write ", "write -d ")]  # -d: write corrupt data, checksum recomputed
            subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return f

    def db_stale(*cmds):
        def f(img):
            args = ["xfs_db", "-x", img]
            for c in cmds:
                args += ["-c", c.replace("write ", "write -c ")]  # -c: leave the checksum stale
            subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return f

    def patch(block_off, length, crc_off, at, data):
        """Bytes at block_off + at, then the block's checksum written anew."""
        def f(img):
            with open(img, "r+b") as fh:
                fh.seek(block_off)
                buf = bytearray(fh.read(length))
                buf[at:at + len(data)] = data
                xfs_cksum(buf, crc_off)
                fh.seek(block_off)
                fh.write(buf)
        return f

    def patch_stale(block_off, at, data):
        """Bytes at block_off + at, the checksum left as it was."""
        def f(img):
            with open(img, "r+b") as fh:
                fh.seek(block_off + at)
                fh.write(data)
        return f

    def truncate(size):
        def f(img):
            os.truncate(img, size)
        return f

    def dirty(img):
        with Mount(img, f"{wd}/mnt2") as m:
            for i in range(20):
                with open(f"{m}/new{i}", "w") as f:
                    f.write("n" * 5000)
            os.sync()
            os.unlink(f"{m}/few")
            with open(f"{m}/small/f1", "a") as f:
                f.write("more")
            run("xfs_io", "-x", "-c", "shutdown -f", m)

    dir_blk = (big_lin * BS, BS, 4)
    cases = [
        ("truncated image", truncate(64 << 20), "truncated"),
        ("truncated to one sector", truncate(512), "truncated"),
        ("bad superblock magic", db("sb 0", "write magicnum 0x12345678"), "not an XFS"),
        ("v4 superblock", db("sb 0", "write versionnum 0xb4a4"), "only v5"),
        ("unknown incompat feature", db("sb 0", "write features_incompat 0x8000000b"), "unknown incompatible"),
        ("superblock stale checksum", db_stale("sb 0", "write dblocks 81919"), "superblock: bad checksum"),
        ("bad AGI magic", db("agi 1", "write magicnum 0"), "AGI"),
        ("AGI inode count", db("agi 0", "write count 128"), "AGI says"),
        ("AGF free count", db("agf 1", "write freeblks 12"), "free"),
        ("inobt root out of range", db("agi 0", f"write root {agblocks + 10}"), "out of range"),
        ("inobt level too deep", db("agi 0", "write level 40"), "inobt level"),
        ("inobt wrong level", db("agi 0", "write level 2"), "level"),
        ("inobt bad magic", db("agi 0", "addr root", "write magic 0"), "bad magic"),
        ("inobt record misaligned", db("agi 0", "addr root", "write recs[1].startino 7"), "out of order"),
        ("inobt free mask", db("agi 0", "addr root", "write recs[1].free 0"), "counts"),
        ("free-space record out of order", db("agf 1", "addr bnoroot", "write recs[1].startblock 1"),
         "free-space"),
        ("inode bad magic", db(f"inode {ino['few']}", "write core.magic 0"), f"inode {ino['few']}"),
        ("inode stale checksum", db_stale(f"inode {ino['few']}", "write core.size 1"), "bad checksum"),
        ("inode fork offset", db(f"inode {ino['few']}", "write core.forkoff 200"), "fork offset"),
        ("inode invalid mode", db(f"inode {ino['few']}", "write core.mode 0170644"), "mode"),
        ("inode size over 2^63", patch(g.inode_off(ino["few"]), g.inodesize, 100, 56, b"\x80"), "size"),
        ("inode block count", db(f"inode {ino['few']}", "write core.nblocks 4"), "blocks"),
        ("inode link count", db(f"inode {ino['few']}", "write core.nlinkv2 2"), "links"),
        ("extent block out of range", db(f"inode {ino['few']}", "write u3.bmx[0].startblock 0xfffffffff"),
         "out of range"),
        ("extent offset past 2^63", db(f"inode {ino['few']}", "write u3.bmx[0].startoff 0x3fffffffffffff"),
         "offset out of range"),
        ("extent moved onto another file's block",
         db(f"inode {ino['small/f6']}", f"write u3.bmx[0].startblock {(f5[1] << g.agblklog) | f5[2]}"),
         "two owners"),
        ("extent moved into free space",
         db(f"inode {ino['small/f6']}", f"write u3.bmx[0].startblock {(1 << g.agblklog) | free}"), "free space"),
        ("extents beyond the fork", db(f"inode {ino['few']}", "write core.nextents 1000"), "extents"),
        ("bmbt pointer out of range", db(f"inode {ino['frag']}", "write u3.bmbt.ptrs[1] 0xffffffffff"),
         "out of range"),
        ("bmbt pointer loops to a visited leaf",
         db(f"inode {ino['frag']}", "write u3.bmbt.ptrs[2] " + ptr_of(base, ino["frag"], 1)), "bmbt"),
        ("bmbt root level", db(f"inode {ino['frag']}", "write u3.bmbt.level 30"), "bmbt root level"),
        ("shortform count", db(f"inode {ino['sf']}", "write u3.sfdir3.hdr.count 200"), "shortform"),
        ("shortform name length", db(f"inode {ino['sf']}", "write u3.sfdir3.list[0].namelen 250"),
         "shortform"),
        ("shortform entry names a free inode", db(f"inode {ino['sf']}", "write u3.sfdir3.list[0].inumber.i4 200"),
         "not allocated"),
        ("directory block magic", patch(*dir_blk, 0, b"XDB3"), "bad magic"),  # a leaf directory's data block
        ("directory block stale checksum", patch_stale(big_lin * BS, 100, b"\x07"), "bad checksum"),
        ("directory entry length", patch(*dir_blk, 64 + 32 + 8, b"\xf0"), "runs past"),
        ("directory entry name with '/'", patch(*dir_blk, 64 + 32 + 9, b"/"), "holds '/'"),
        ("directory entry names a free inode", patch(*dir_blk, 64 + 32, b"\0\0\0\0\0\0\x7f\x00"),
         "not allocated"),
        ("refcount root out of range", db("agf 0", f"write refcntroot {agblocks + 3}"), "refcountbt"),
        ("refcount bad magic", db("agf 0", "addr refcntroot", "write magic 0"), "refcountbt"),
        ("refcount count", db("agf 0", "addr refcntroot", "write recs[1].refcount 3"), "owners"),
        ("remote symlink size", db(f"inode {ino['remote_link']}", "write core.size 5000"), "symlink"),
        ("root inode not allocated", db("sb 0", "write rootino 4000000"), "root"),
        ("dirty log", dirty, "the log needs recovery"),
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
            rc, _, err = xal(img)
        except subprocess.TimeoutExpired:
            errors.append(f"{name}: hang")
            continue
        bad = rc != 1 or want.lower() not in err.lower() or sanitizer(err)
        print(f"  {'FAIL' if bad else 'ok  '} {name}: rc {rc}: {err.strip()[:150]}")
        if bad:
            errors.append(f"{name}: rc {rc}, wanted an error with '{want}': {err.strip()[:400]}")
        if name == "dirty log":
            rc, out, err = xal(img, "dump", "--ignore-log")
            bad = rc != 0 or "warning" not in err or sanitizer(err)
            print(f"  {'FAIL' if bad else 'ok  '} dirty log, --ignore-log: rc {rc}, warned: {'warning' in err}")
            if bad:
                errors.append(f"dirty log with --ignore-log: rc {rc}: {err.strip()[:400]}")


def frozen(wd, base, errors):
    """A frozen file system covers its log (its last records change only the superblock, everything is
    written in place): the copy taken while frozen indexes, and equals what FIEMAP saw at the freeze."""
    img, mnt = f"{wd}/frozen-src.img", f"{wd}/mnt3"
    subprocess.run(["cp", "--sparse=always", base, img], check=True)
    with Mount(img, mnt) as m:
        for i in range(30):
            with open(f"{m}/fz{i}", "w") as f:
                f.write("f" * (i + 1) * 700)
        os.unlink(f"{m}/few")
        os.sync()
        run("xfs_freeze", "-f", m)
        try:
            subprocess.run(["cp", "--sparse=always", img, f"{wd}/frozen.img"], check=True)
            view = dump(TOOL, m)
        finally:
            run("xfs_freeze", "-u", m)
    rc, out, err = xal(f"{wd}/frozen.img", "dump")
    errs = []
    if rc != 0:
        errs.append(f"frozen copy: rc {rc}: {err.strip()[:300]}")
    else:
        compare("frozen", parse_dump(out), view, ["type", "size", "nlink", "extents"], "xfs", "fiemap", errs)
    print(f"  {'FAIL' if errs else 'ok  '} frozen file system (covered log): indexes, equal to FIEMAP at the freeze")
    errors += errs


def ptr_of(img, ino, i):
    ptrs = db_print(img, f"inode {ino}", "p u3.bmbt.ptrs")
    return ptrs["u3.bmbt.ptrs" + ptrs_key(ptrs)].split()[i - 1].split(":")[1]


def random_halves(wd, base, g, objs, errors):
    seed = int(os.environ.get("XAL_CORRUPT_SEED", random.randrange(1 << 30)))
    trials = int(os.environ.get("XAL_CORRUPT_TRIALS", "600"))
    rnd = random.Random(seed)
    tgts = targets(base, g, objs)
    fs_bytes = g.dblocks * g.blocksize
    print(f"  random damage: seed {seed} (XAL_CORRUPT_SEED), {trials} per half, {len(tgts)} structures")
    img = f"{wd}/rand.img"
    subprocess.run(["cp", "--sparse=always", base, img], check=True)
    stale = {"refused": 0, "not XFS": 0}
    fixed = {"refused": 0, "same answer": 0, "other answer, consistent": 0}
    for half in ("a", "b"):
        for it in range(trials):
            name, off, length, crc_off = rnd.choice(tgts)
            with open(img, "r+b") as fh:
                fh.seek(off)
                orig = fh.read(length)
                buf = bytearray(orig)
                how = damage(rnd, length, crc_off)
                changed, bits = apply(buf, how)
                if not changed:
                    continue
                if half == "b":
                    xfs_cksum(buf, crc_off)
                fh.seek(off)
                fh.write(buf)
            where = f"({half}) {it}: {name}, {how[0]}"
            try:
                rc, out, err = xal(img, "dump", timeout=20)
            except subprocess.TimeoutExpired:
                rc, out, err = -1, "", "hang"
            if rc not in (0, 1) or sanitizer(err):
                errors.append(f"{where}: rc {rc}: {err.strip()[:400]}")
                keep = os.environ.get("XAL_CRASH_DIR")
                if keep:
                    shutil.copyfile(img, f"{keep}/crash-{half}{it}.img")
            elif half == "a":
                sb_id = name == "superblock" and any(b // 8 < 4 or 100 <= b // 8 < 102 for b in bits)
                if rc == 1 and EUCLEAN in err:
                    stale["refused"] += 1
                elif rc == 1 and sb_id and ("not an XFS" in err or "only v5" in err):
                    stale["not XFS"] += 1
                else:
                    errors.append(f"{where}: stale checksum not refused with {EUCLEAN}: rc {rc}: "
                                  f"{err.strip()[:300]}")
            elif rc == 1:
                fixed["refused"] += 1
            else:
                got = parse_dump(out)
                if got == objs:
                    fixed["same answer"] += 1
                else:
                    why = invariants(got, fs_bytes)
                    if why:
                        errors.append(f"{where}: a wrong answer: {why}")
                    else:
                        fixed["other answer, consistent"] += 1
                        if os.environ.get("XAL_CORRUPT_VERBOSE"):
                            diff = sorted(set(got.items() ^ objs.items()) if False else
                                          [p for p in set(got) | set(objs) if got.get(p) != objs.get(p)])
                            print(f"    {where}: consistent other answer: {[(p, objs.get(p), got.get(p)) for p in diff[:2]]}")
            with open(img, "r+b") as fh:
                fh.seek(off)
                fh.write(orig)
    print(f"  (a) checksum stale: {stale}")
    print(f"  (b) checksum recomputed: {fixed}")


def main():
    wd = workdir()
    base, mnt = f"{wd}/base.img", f"{wd}/mnt"
    errors = []
    try:
        mkimage(base, 320 << 20, ["-b", f"size={BS}", "-m", "reflink=1", "-d", "agcount=2"])
        with Mount(base, mnt):
            populate(mnt)
            os.sync()
        rc, out, err = xal(base, "dump")
        if rc != 0:
            print("ERROR: the undamaged image does not index:", err)
            return 1
        objs = parse_dump(out)
        g = Geometry(base)
        why = invariants(objs, g.dblocks * g.blocksize)
        if why:
            print("ERROR: the undamaged answer breaks an invariant:", why)
            return 1
        objs_dump = dump(TOOL, base)
        assert set(objs_dump) == set(objs)
        targeted(wd, base, g, objs, errors)
        frozen(wd, base, errors)
        random_halves(wd, base, g, objs, errors)
    finally:
        for m in (mnt, f"{wd}/mnt2", f"{wd}/mnt3"):
            subprocess.run(["umount", m], stderr=subprocess.DEVNULL)
        shutil.rmtree(wd, ignore_errors=True)
    for e in errors:
        print("ERROR:", e)
    print(f"xal-corrupt: {len(errors)} failures")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
