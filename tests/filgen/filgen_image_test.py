#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""`aisio fil gen --image`: an XFS image of imagenetish at scale 0.0008 (1,025 files in 1,000 classes, so some
classes hold two) that `aisio xal` lists, unmounted, with the right folders, file count and sizes; one file's
bytes read from the image at the extents xal gives equal the content rule; the image opens as emu:file:; an ext4
image into a folder inside it; an existing image refused without --force and replaced with it.

usage: filgen_image_test.py AISIO     (root; exits 77 without root, mkfs.xfs, mkfs.ext4 or loop devices)
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from filgen import Runner, content, layout, rmtree, skip, workdir  # noqa: E402

AISIO = sys.argv[1]
if os.geteuid() != 0:
    skip("needs root (--image loop-mounts the image)")
for tool in ("mkfs.xfs", "mkfs.ext4", "mount", "umount"):
    if not shutil.which(tool):
        skip(f"{tool} not installed")
try:
    os.close(os.open("/dev/loop-control", os.O_RDWR))
except OSError as e:
    skip(f"no loop devices: {e}")

t = Runner(AISIO)
tmp = workdir()


def aisio(*args):
    r = subprocess.run([AISIO, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"aisio {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def mounts_of(needle):
    with open("/proc/self/mounts") as f:
        return [line for line in f if needle in line]


try:
    img = f"{tmp}/imagenet.xfs"
    r = t.gen("--shape", "imagenetish", "--scale", "0.0008", "--seed", "7", "--image", img, "--json")
    if not t.check("xfs image built", r.returncode == 0, r.stderr.strip()):
        if "loop" in r.stderr:
            skip(f"loop mount not possible here: {r.stderr.strip()}")
        t.done()
    j = json.loads(r.stdout)
    want = layout("imagenetish", 0.0008, 7)
    nfiles = sum(len(fs) for _, fs in want)
    t.check("summary: 1025 files in 1000 classes, image size",
            (j["files"], j["classes"], j["fs"]) == (1025, 1000, "xfs") and j["image_bytes"] == os.path.getsize(img),
            str(j))
    t.check("image unmounted", not mounts_of(img) and not mounts_of("aisio-fil-gen-"), str(mounts_of(img)))

    root = json.loads(aisio("xal", "ls", "--json", img, "/"))
    names = sorted(e["name"] for e in root["entries"])
    t.check("xal ls /: the 1000 class folders", names == [c for c, _ in want] and
            all(e["type"] == "dir" for e in root["entries"]), f"{len(names)} entries")
    paths = aisio("xal", "find", img).split()
    files = [p for p in paths if "/" in p]
    t.check("xal find: 1025 files", len(files) == nfiles == 1025, f"{len(files)} files")
    cls = json.loads(aisio("xal", "ls", "--json", img, "/n00000000"))
    got = sorted((e["name"], e["size"]) for e in cls["entries"])
    t.check("xal ls /n00000000: two files at their sizes", got == [(f, s) for f, _, s in want[0][1]] and len(got) == 2,
            str(got))
    last_c, last_files = want[-1]
    cls = json.loads(aisio("xal", "ls", "--json", img, "/" + last_c))
    got = sorted((e["name"], e["size"]) for e in cls["entries"])
    t.check(f"xal ls /{last_c}: one file at its size", got == [(f, s) for f, _, s in last_files], str(got))

    # the bytes on disk, where xal says they are
    f, i, s = want[500][1][0]
    ext = json.loads(aisio("xal", "extents", "--json", img, f"/{want[500][0]}/{f}"))
    data = bytearray()
    with open(img, "rb") as fh:
        for e in sorted(ext["extents"], key=lambda e: e["file_offset"]):
            fh.seek(ext["part_offset"] + e["disk_offset"])
            data += fh.read(e["length"])
    t.check(f"{f}: the image's blocks at xal's extents hold the content rule", bytes(data[:s]) == content(7, i, 0, s),
            f"{len(ext['extents'])} extents")

    idns = aisio("id-ns", f"emu:file:{img}")
    t.check("the image opens as emu:file:", f"size     : {os.path.getsize(img)} bytes" in idns, idns)

    t.refuse("existing image without --force", 1, "exists (--force replaces it)", "--shape", "filesize8gib",
             "--scale", "1e-6", "--image", img)
    r = t.gen("--shape", "filesize8gib", "--scale", "1e-6", "--image", img, "--force")
    t.check("--force replaces the image", r.returncode == 0 and
            len([p for p in aisio("xal", "find", img).split() if "/" in p]) == 8, r.stderr)

    # ext4, into a folder inside the image; checked through the kernel
    e4 = f"{tmp}/big.ext4"
    r = t.gen("--shape", "filesize8gib", "--scale", "1e-6", "--seed", "9", "--image", e4, "--fs", "ext4", "data/train")
    if t.check("ext4 image built", r.returncode == 0, r.stderr.strip()):
        mnt = f"{tmp}/mnt"
        os.makedirs(mnt)
        subprocess.run(["mount", "-o", "loop,ro", "-t", "ext4", e4, mnt], check=True)
        try:
            want = layout("filesize8gib", 1e-6, 9)
            base = f"{mnt}/data/train/n00000000"
            got = sorted(os.listdir(base))
            t.check("ext4: 8 files in data/train/n00000000", got == [f for f, _, _ in want[0][1]], str(got))
            ok = True
            for f, i, s in want[0][1]:
                with open(f"{base}/{f}", "rb") as fh:
                    ok = ok and fh.read() == content(9, i, 0, s)
            t.check("ext4: every file by the content rule", ok)
        finally:
            subprocess.run(["umount", mnt], check=True)
finally:
    rmtree(tmp)
t.done()
