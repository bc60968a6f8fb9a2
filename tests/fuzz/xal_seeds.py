#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Makes the seed corpus of the XAL fuzz target: small XFS images, each reduced to the bytes the parser
reads (`xal-fuzz-replay --make-seed` indexes the image through a reader that notes every range, then
writes their non-zero runs in the target's sparse-image format).

Images made with `mkfs.xfs -p` (shortform and block directories, inline symlinks, devices) need
nothing else; with root, images are also populated through loop mounts (B+tree files of one and two
levels, leaf, node and B+tree directories, 16 KiB directory blocks, reflinks with a copy-on-write
clone, unwritten extents, remote symlinks, extended attributes, hard links), one is left with a
dirty log (seeded twice: flags 0, refused; flags 2, XAL_OPEN_IGNORE_LOG) and one copied while frozen
(a covered log).

usage: xal_seeds.py XAL_FUZZ_REPLAY OUT_DIR
"""
import os
import subprocess
import sys
import tempfile


def proto(tmp):
    src, empty = f"{tmp}/src", f"{tmp}/empty"
    with open(src, "w") as f:
        f.write("hello\n")
    open(empty, "w").close()
    lines = ["/dev/null", "0 0", "d--755 0 0", f"small ---644 0 0 {src}", "lnk l--777 0 0 small",
             "fifo p--644 0 0", "cdev c--644 0 0 1 3",
             "a d--755 0 0", f" b ---644 0 0 {src}", " $", "blockdir d--755 0 0"]
    lines += [f" e{i:02d} ---644 0 0 {empty}" for i in range(8)]
    lines += [" $", "$"]
    p = f"{tmp}/proto"
    with open(p, "w") as f:
        f.write("\n".join(lines) + "\n")
    return p


def mkimage(img, opts, proto_file=None):
    with open(img, "wb") as f:
        f.truncate(300 << 20)
    args = ["mkfs.xfs", "-q", "-f", "-d", "agcount=2", *opts]
    if proto_file:
        args += ["-p", proto_file]
    subprocess.run(args + [img], check=True)


def fragmented(path, n, bs):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    for b in range(0, 2 * n, 2):
        os.pwrite(fd, b"x" * bs, b * bs)
    os.close(fd)


def links(d, target, n, bs=0, spacer_every=0, pad=0):
    """n hard links to target in a new directory d (entries without inodes keep the seed small);
    spacer_every > 0 allocates a block between directory blocks, so the directory fragments; pad
    bytes of an inline attribute leave the data fork room for few extents."""
    os.mkdir(d)
    if pad:
        os.setxattr(d, "user.pad", b"p" * pad)
    for i in range(n):
        os.link(target, f"{d}/{i:05d}")
        if spacer_every and i % spacer_every == spacer_every - 1:
            fd = os.open(f"{d}.s{i}", os.O_RDWR | os.O_CREAT, 0o644)
            os.posix_fallocate(fd, 0, bs)
            os.close(fd)


# One small image per format, so that each seed is small and runs fast (1 KiB blocks where it can).
def pop_btree_file(mnt, bs):
    fragmented(f"{mnt}/btree_file", 60, bs)  # more extents than the inode holds: a bmbt of two leaves


# Directory blocks are 4 KiB (at least): about 250 short names each, 500 hashes in a leaf block.
def pop_leaf_dir(mnt, bs):
    open(f"{mnt}/f", "w").close()
    links(f"{mnt}/leaf", f"{mnt}/f", 300)  # two data blocks and a leaf block


def pop_node_dir(mnt, bs):
    open(f"{mnt}/f", "w").close()
    links(f"{mnt}/node", f"{mnt}/f", 600)  # hashes of more than a leaf block: node format


def pop_btree_dir(mnt, bs):
    open(f"{mnt}/f", "w").close()
    links(f"{mnt}/bt", f"{mnt}/f", 600, bs, 120, 220)  # more extents than the data fork holds: a bmbt


def pop_shared(mnt, bs):
    os.mkdir(f"{mnt}/sf")
    open(f"{mnt}/sf/f", "w").close()
    os.link(f"{mnt}/sf/f", f"{mnt}/hard")
    os.symlink("/" + "r" * 700, f"{mnt}/remote_link")
    with open(f"{mnt}/orig", "wb") as f:
        f.write(b"o" * 8 * bs)
    subprocess.run(["cp", "--reflink=always", f"{mnt}/orig", f"{mnt}/clone"], check=True)
    fd = os.open(f"{mnt}/clone", os.O_WRONLY)
    os.pwrite(fd, b"c" * bs, 4 * bs)  # copy-on-write: the clone's block 4 is its own
    os.close(fd)
    fd = os.open(f"{mnt}/prealloc", os.O_RDWR | os.O_CREAT, 0o644)
    os.posix_fallocate(fd, 0, 8 * bs)
    os.pwrite(fd, b"w" * bs, 3 * bs)
    os.close(fd)
    with open(f"{mnt}/attrs", "w") as f:
        f.write("x")
    os.setxattr(f"{mnt}/attrs", "user.small", b"v")
    os.setxattr(f"{mnt}/attrs", "user.large", b"L" * (3 * bs))  # a remote value: attr fork blocks


def pop_dirblk(mnt, bs):
    os.mkdir(f"{mnt}/d")
    for i in range(20):
        open(f"{mnt}/d/{i}", "w").close()


def zero_log(img):
    """After a clean unmount: a zeroed log is clean too (as xfs_repair -L leaves it), and a seed
    without the log's records is smaller and faster."""
    out = subprocess.run(["xfs_db", "-r", img, "-c", "sb 0", "-c", "p logstart logblocks blocksize agblocks agblklog"],
                         check=True, stdout=subprocess.PIPE).stdout.decode()
    g = {k.strip(): int(v) for k, v in (ln.split(" = ") for ln in out.splitlines())}
    fsb = g["logstart"]
    lin = (fsb >> g["agblklog"]) * g["agblocks"] + (fsb & ((1 << g["agblklog"]) - 1))
    with open(img, "r+b") as f:
        f.seek(lin * g["blocksize"])
        f.write(b"\0" * g["logblocks"] * g["blocksize"])


def main():
    replay, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    seeds = []
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        for name, opts in [("1k-proto", ["-b", "size=1024"]), ("64k-proto", ["-b", "size=65536"])]:
            img = f"{tmp}/{name}.img"
            mkimage(img, opts, proto(tmp))
            seeds.append((name, img, 0))
        if os.geteuid() == 0:
            mnt = f"{tmp}/mnt"
            os.mkdir(mnt)
            # the object that must be in B+tree format, to be sure the seed has one
            for name, opts, pop, btree in [("1k-btree-file", ["-b", "size=1024"], pop_btree_file, "btree_file"),
                                           ("1k-leaf-dir", ["-b", "size=1024"], pop_leaf_dir, None),
                                           ("1k-node-dir", ["-b", "size=1024"], pop_node_dir, None),
                                           ("1k-btree-dir", ["-b", "size=1024"], pop_btree_dir, "bt"),
                                           ("1k-shared", ["-b", "size=1024"], pop_shared, None),
                                           ("4k-dirblk16k", ["-b", "size=4096", "-n", "size=16384"], pop_dirblk,
                                            None)]:
                img = f"{tmp}/{name}.img"
                mkimage(img, opts + ["-m", "reflink=1"])
                subprocess.run(["mount", "-o", "loop", img, mnt], check=True)
                try:
                    pop(mnt, int(opts[1].split("=")[1]))
                    ino = os.stat(f"{mnt}/{btree}").st_ino if btree else None
                finally:
                    subprocess.run(["umount", mnt], check=True)
                if ino:
                    fmt = subprocess.run(["xfs_db", "-r", img, "-c", f"inode {ino}", "-c", "p core.format"],
                                         check=True, stdout=subprocess.PIPE).stdout.decode()
                    if "btree" not in fmt:
                        sys.exit(f"{name}: {btree} is not in B+tree format: {fmt.strip()}")
                zero_log(img)
                seeds.append((name, img, 0))
            img = f"{tmp}/1k-dirty.img"
            mkimage(img, ["-b", "size=1024"])
            subprocess.run(["mount", "-o", "loop", img, mnt], check=True)
            try:
                for i in range(8):
                    with open(f"{mnt}/f{i}", "w") as f:
                        f.write("x" * (i + 1) * 1000)
                os.sync()
                os.unlink(f"{mnt}/f3")
                with open(f"{mnt}/f4", "a") as f:
                    f.write("more")
                open(f"{mnt}/new", "w").close()
                subprocess.run(["xfs_io", "-x", "-c", "shutdown -f", mnt], check=True)
            finally:
                subprocess.run(["umount", mnt], check=True)
            seeds += [("1k-dirty", img, 0), ("1k-dirty-ignored", img, 2)]
            # frozen: the log covered (its last records log only the superblock), not clean
            img = f"{tmp}/1k-frozen-src.img"
            mkimage(img, ["-b", "size=1024"])
            subprocess.run(["mount", "-o", "loop", img, mnt], check=True)
            try:
                for i in range(4):
                    with open(f"{mnt}/f{i}", "w") as f:
                        f.write("x" * (i + 1) * 1000)
                os.sync()
                subprocess.run(["xfs_freeze", "-f", mnt], check=True)
                try:
                    subprocess.run(["cp", "--sparse=always", img, f"{tmp}/1k-frozen.img"], check=True)
                finally:
                    subprocess.run(["xfs_freeze", "-u", mnt], check=True)
            finally:
                subprocess.run(["umount", mnt], check=True)
            seeds.append(("1k-frozen", f"{tmp}/1k-frozen.img", 0))
        else:
            print("not root: only the mkfs.xfs -p images are seeded")
        for name, img, flags in seeds:
            subprocess.run([replay, "--make-seed", str(flags), img, f"{out}/{name}.seed"], check=True)


if __name__ == "__main__":
    main()
