#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""XAL partition offset on real partitions. An image with a GPT whose XFS partitions start at odd offsets is
attached with `losetup --partscan` (partitions added with `partx --add` when the kernel has no GPT parser);
on each partition XFS is made, mounted and populated (small, large, fragmented, preallocated and empty
files). For every file `aisio xal extents --json --lba-size N` through the FIEMAP backend (mounted) and
through the XFS backend on /dev/loopNpK (unmounted) must give:
  - part_offset = sysfs /sys/class/block/loopNpK/start * 512, disk offsets relative to the partition
    (inside it, and reading /dev/loopNpK there gives the file's bytes);
  - slba * N = part_offset + disk_offset and nlb * N = length, so that reading those LBAs from the
    whole disk /dev/loopN rebuilds the file byte for byte (holes and unwritten extents read as zeros);
  - the same extents from both backends (neighbours merged), and the same answer from an index exported to
    shared memory (`aisio xal export`, `extents shm:/NAME`), which must carry the partition offset;
  - with N = 4096 on a partition not on a 4 KiB boundary, no LBA fields (refused, not rounded).
Cases: 512-byte sectors with the partition at 1 MiB + 8.5 KiB (not 4 KiB aligned); two partitions at
1 MiB + 148 KiB and 330 MiB + 20 KiB; 4 KiB logical sectors with the partition at LBA 259 (1 MiB + 12 KiB).

usage: xal_partition.py [AISIO]   (root; exits 77 without root, mkfs.xfs, losetup or partitioned loop devices;
                                   AISIO defaults to $AISIO_BUILD_ROOT/tools/aisio)
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import uuid
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xalcorpus import need_root_and, run, skip, workdir  # noqa: E402

AISIO = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.environ.get("AISIO_BUILD_ROOT", "build"), "tools",
                                                           "aisio")
MiB = 1 << 20
PART_BYTES = 320 * MiB  # mkfs.xfs refuses less than 300 MB
# name, logical sector size, partitions [(first LBA, bytes)], partitions to test
CASES = [
    ("512-unaligned", 512, [(2048 + 17, PART_BYTES)], [1]),
    ("512-two-parts", 512, [(2048 + 296, PART_BYTES), (330 * 2048 + 40, PART_BYTES)], [1, 2]),
    ("4k-sectors", 4096, [(256 + 3, PART_BYTES)], [1]),
]
IGNORE = {"last", "merged"}
SHM = f"/xal-partition-{os.getpid()}"


def write_gpt(path, parts, sector):
    """A GPT (protective MBR, both headers and entry arrays) with Linux data partitions [(first LBA, bytes)]."""
    n = os.path.getsize(path) // sector
    entries = bytearray(128 * 128)
    linux = uuid.UUID("0fc63daf-8483-4772-8e79-3d69d8477de4").bytes_le
    for i, (first, size) in enumerate(parts):
        entries[i * 128:(i + 1) * 128] = struct.pack("<16s16sQQQ72s", linux, uuid.uuid4().bytes_le, first,
                                                     first + size // sector - 1, 0, f"xal{i + 1}".encode("utf-16-le"))
    esec = len(entries) // sector
    disk_guid = uuid.uuid4().bytes_le

    def header(my, alt, entries_lba):
        h = struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x10000, 92, 0, 0, my, alt, 2 + esec, n - 2 - esec,
                        disk_guid, entries_lba, 128, 128, zlib.crc32(entries))
        return h[:16] + struct.pack("<I", zlib.crc32(h)) + h[20:]

    mbr = bytearray(sector)
    mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\0\x02\0", 0xEE, b"\xff\xff\xff", 1, min(n - 1, 0xFFFFFFFF))
    mbr[510:512] = b"\x55\xaa"
    with open(path, "r+b") as f:
        for lba, data in ((0, mbr), (1, header(1, n - 1, 2)), (2, entries), (n - 1 - esec, entries),
                          (n - 1, header(n - 1, 1, n - 1 - esec))):
            f.seek(lba * sector)
            f.write(data)


def wait_for(pred, seconds):
    end = time.monotonic() + seconds
    while not pred():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def attach(img, sector, nparts, wd):
    """losetup --partscan; returns (/dev/loopN, {k: partition node}); partx --add when the kernel did not scan."""
    args = ["losetup", "--partscan", "--find", "--show"] + (["--sector-size", str(sector)] if sector != 512 else [])
    disk = run(*args, img).decode().strip()
    name = os.path.basename(disk)
    sysfs = [f"/sys/class/block/{name}p{k}" for k in range(1, nparts + 1)]
    if not wait_for(lambda: all(map(os.path.isdir, sysfs)), 1.0):
        if shutil.which("partx"):
            subprocess.run(["partx", "--add", disk], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for(lambda: all(map(os.path.isdir, sysfs)), 2.0):
            return disk, None
    nodes = {}
    for k in range(1, nparts + 1):
        node = f"/dev/{name}p{k}"
        if not wait_for(lambda: os.path.exists(node), 2.0):
            # no devtmpfs/udev node: a private one from the sysfs major:minor
            with open(f"/sys/class/block/{name}p{k}/dev") as f:
                ma, mi = map(int, f.read().split(":"))
            node = f"{wd}/{name}p{k}"
            os.mknod(node, 0o600 | 0o060000, os.makedev(ma, mi))
        nodes[k] = node
    return disk, nodes


def sysfs_int(path):
    with open(path) as f:
        return int(f.read())


def populate(mnt):
    """{name: bytes}: the files written, their contents as the test expects to read them back."""
    bs = os.statvfs(mnt).f_bsize
    files = {}

    def put(name, data):
        with open(f"{mnt}/{name}", "wb") as f:
            f.write(data)
        files[name] = data

    put("small", os.urandom(5000))
    put("big", os.urandom(3 * MiB + 123))
    put("empty", b"")
    # every other 16 KiB chunk, written back to front (no speculative preallocation to fill the holes)
    chunk, n = 4 * bs, 24
    content = bytearray(chunk * (2 * n - 1))
    fd = os.open(f"{mnt}/frag", os.O_WRONLY | os.O_CREAT, 0o644)
    for i in reversed(range(n)):
        data = os.urandom(chunk)
        os.pwrite(fd, data, 2 * i * chunk)
        content[2 * i * chunk:(2 * i + 1) * chunk] = data
    os.close(fd)
    files["frag"] = bytes(content)
    # two files grown in turns, each step on disk before the next: one file in several extents, no holes
    a, b = bytearray(), bytearray()
    fa = os.open(f"{mnt}/interleaved", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    fb = os.open(f"{mnt}/interleaved.other", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for _ in range(8):
        for fd, buf in ((fa, a), (fb, b)):
            data = os.urandom(8 * bs + 100)
            os.write(fd, data)
            os.fsync(fd)
            buf += data
    os.close(fa)
    os.close(fb)
    files["interleaved"], files["interleaved.other"] = bytes(a), bytes(b)
    # 1 MiB preallocated (unwritten) with 3 blocks written in the middle
    fd = os.open(f"{mnt}/prealloc", os.O_RDWR | os.O_CREAT, 0o644)
    os.posix_fallocate(fd, 0, MiB)
    data = os.urandom(3 * bs)
    os.pwrite(fd, data, 64 * bs)
    os.close(fd)
    content = bytearray(MiB)
    content[64 * bs:67 * bs] = data
    files["prealloc"] = bytes(content)
    os.sync()
    return files


def extents(source, name, lba, *extra):
    out = run(AISIO, "xal", "extents", source, name, "--json", "--lba-size", str(lba), *extra)
    return json.loads(out)


def merged(exts):
    out = []
    for e in sorted(exts, key=lambda e: e["file_offset"]):
        fl = sorted(set(e["flags"]) - IGNORE)
        if out and out[-1][0] + out[-1][2] == e["file_offset"] and out[-1][1] + out[-1][2] == e["disk_offset"] \
                and out[-1][3] == fl:
            out[-1][2] += e["length"]
        else:
            out.append([e["file_offset"], e["disk_offset"], e["length"], fl])
    return out


def check_file(label, info, want, lba, part_off, part_size, disk_fd, part_fd, errors):
    """One `extents --json --lba-size lba` answer against the file's bytes; returns the number of LBAs read."""
    where = f"{label} {info.get('path')} lba {lba}"
    if info["part_offset"] != part_off:
        errors.append(f"{where}: part_offset {info['part_offset']}, sysfs start says {part_off}")
    if info["size"] != len(want):
        errors.append(f"{where}: size {info['size']}, wrote {len(want)}")
        return 0
    refuse = part_off % lba != 0
    rebuilt, via_part, lbas = bytearray(len(want)), bytearray(len(want)), 0
    for e in info["extents"]:
        fo, do, ln = e["file_offset"], e["disk_offset"], e["length"]
        if do + ln > part_size:
            errors.append(f"{where}: extent {e} ends past the partition ({part_size} bytes): offset not relative "
                          "to the partition")
            continue
        if refuse:
            if "slba" in e:
                errors.append(f"{where}: partition at {part_off} is not on a {lba}-byte LBA, yet {e} has LBAs")
            continue
        if "slba" not in e or "nlb" not in e:
            errors.append(f"{where}: extent {e} has no LBAs")
            continue
        if e["slba"] * lba != part_off + do or e["nlb"] * lba != ln:
            errors.append(f"{where}: extent {e}: slba*{lba} = {e['slba'] * lba}, want part_offset + disk_offset = "
                          f"{part_off + do}; nlb*{lba} = {e['nlb'] * lba}, want {ln}")
            continue
        n = min(ln, len(want) - fo)
        if n <= 0 or "unwritten" in e["flags"]:
            continue  # past EOF, or reads as zeros
        rebuilt[fo:fo + n] = os.pread(disk_fd, n, e["slba"] * lba)
        via_part[fo:fo + n] = os.pread(part_fd, n, do)
        lbas += e["nlb"]
    if not refuse and rebuilt != want:
        bad = next(i for i in range(len(want)) if rebuilt[i] != want[i])
        errors.append(f"{where}: LBAs read from the whole disk differ from the file at byte {bad} "
                      f"(extents {info['extents'][:8]})")
    if not refuse and via_part != want:
        errors.append(f"{where}: disk offsets read from the partition differ from the file")
    return lbas


def run_case(wd, name, sector, parts, test_parts, errors):
    img, mnt = f"{wd}/{name}.img", f"{wd}/mnt"
    last = max(first * sector + size for first, size in parts)
    with open(img, "wb") as f:
        f.truncate(last + 2 * MiB)
    write_gpt(img, parts, sector)
    os.makedirs(mnt, exist_ok=True)
    disk, nodes = attach(img, sector, len(parts), wd)
    try:
        if nodes is None:
            skip("partitioned loop devices unavailable (no loopNp1 after losetup --partscan and partx --add)")
        dname = os.path.basename(disk)
        for k in test_parts:
            sys_dir = f"/sys/class/block/{dname}p{k}"
            part_off = sysfs_int(f"{sys_dir}/start") * 512
            part_size = sysfs_int(f"{sys_dir}/size") * 512
            if part_off != parts[k - 1][0] * sector:
                errors.append(f"{name} p{k}: sysfs start {part_off} bytes, the GPT says {parts[k - 1][0] * sector}")
            run("mkfs.xfs", "-q", "-f", "-K", nodes[k])
            run("mount", "-t", "xfs", nodes[k], mnt)
            try:
                files = populate(mnt)
                fm = {f: {lba: extents(mnt, f, lba) for lba in (512, 4096)} for f in files}
                run(AISIO, "xal", "export", mnt, SHM)
                try:
                    for f in files:
                        sh = extents(f"shm:{SHM}", f, 512)
                        if sh != fm[f][512]:
                            errors.append(f"{name} p{k} {f}: shared index {sh} != fiemap {fm[f][512]}")
                finally:
                    subprocess.run([AISIO, "xal", "unlink", SHM], stdout=subprocess.DEVNULL)
            finally:
                subprocess.run(["umount", mnt], check=True)
            xf = {f: {lba: extents(nodes[k], f, lba, "--backend", "xfs") for lba in (512, 4096)} for f in files}
            disk_fd = os.open(disk, os.O_RDONLY)
            part_fd = os.open(nodes[k], os.O_RDONLY)
            lbas = 0
            try:
                for fd in (disk_fd, part_fd):
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                for f, want in files.items():
                    for lba in (512, 4096):
                        for label, view in (("fiemap", fm), ("xfs", xf)):
                            lbas += check_file(f"{name} p{k} {label}", view[f][lba], want, lba, part_off, part_size,
                                               disk_fd, part_fd, errors)
                    if merged(fm[f][512]["extents"]) != merged(xf[f][512]["extents"]):
                        errors.append(f"{name} p{k} {f}: fiemap {merged(fm[f][512]['extents'])} != "
                                      f"xfs {merged(xf[f][512]['extents'])}")
            finally:
                os.close(disk_fd)
                os.close(part_fd)
            nfrag = len(fm["frag"][512]["extents"])
            ninter = len(merged(fm["interleaved"][512]["extents"]))
            if nfrag < 24:
                errors.append(f"{name} p{k}: frag has {nfrag} extents, want 24")
            if ninter < 2:
                errors.append(f"{name} p{k}: interleaved has {ninter} extent(s) after merging, want several")
            if not any("unwritten" in e["flags"] for e in fm["prealloc"][512]["extents"]):
                errors.append(f"{name} p{k}: no unwritten extent in prealloc")
            print(f"  {name} p{k}: start {part_off} bytes ({part_off // 512} sectors, "
                  f"{'' if part_off % 4096 == 0 else 'not '}4 KiB aligned), {len(files)} files, frag {nfrag} "
                  f"extents, interleaved {ninter}, {lbas} LBAs read back")
    finally:
        if os.path.ismount(mnt):
            subprocess.run(["umount", mnt])
        subprocess.run(["losetup", "-d", disk])
        os.unlink(img)


def main():
    need_root_and("losetup", "mkfs.xfs", "mount", "umount")
    if not os.access(AISIO, os.X_OK):
        print(f"ERROR: {AISIO} not built")
        return 1
    wd = workdir()
    errors = []
    t0 = time.monotonic()
    try:
        for name, sector, parts, test_parts in CASES:
            run_case(wd, name, sector, parts, test_parts, errors)
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    for e in errors[:50]:
        print("ERROR:", e)
    print(f"xal-partition: {len(errors)} mismatches ({time.monotonic() - t0:.1f} s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
