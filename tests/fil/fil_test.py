# SPDX-License-Identifier: BSD-3-Clause
"""lib/fil through tests/fil/fil_read.c (see its header for the lines it prints).

usage: fil_test.py FIL_READ posix|aisio
  posix   the three posix modes in verify mode, shuffle, shards, resume, bad input
  aisio   aisio-cpu on emu:file: holding an XFS image (XFS parser and FIEMAP), a corrupt image
          (root: loop mounts; 77 otherwise)
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
FIL_READ = sys.argv[1]
POSIX = ["posix-buffered", "posix-direct", "posix-uring"]
if os.environ.get("AISIO_HAVE_URING") == "0":
    POSIX.remove("posix-uring")
    print("note: built without liburing: posix-uring left out")
failures = []
last_stats = {}


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def fil_read(*args):
    p = subprocess.run([FIL_READ, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120)
    files, errs, pos = [], [], None
    for line in p.stdout.splitlines():
        f = line.split(" ", 7)
        if f[0] == "F":
            files.append((int(f[1]), int(f[2]), int(f[3]), int(f[4]), int(f[5]), f[6], f[7]))
        elif f[0] == "E":
            errs.append(line)
        elif f[0] == "P":
            pos = (int(f[1]), int(f[2]))
        elif f[0] == "S":
            last_stats.update(files=int(f[1]), bytes=int(f[2]), fallback=int(f[3]), failed=int(f[4]))
    return p.returncode, files, errs, pos, p.stderr


def make_dataset(root, classes=5, per_class=40, seed=1):
    """Class folders of small files; sizes off every alignment, an empty file among them."""
    rnd = random.Random(seed)
    expect = {}
    for c in range(classes):
        d = os.path.join(root, f"class{c:02d}")
        os.makedirs(d)
        for i in range(per_class):
            n = 0 if (c, i) == (0, 3) else rnd.randint(1, 9000)
            p = os.path.join(d, f"f{i:04d}.bin")
            with open(p, "wb") as f:
                f.write(rnd.randbytes(n))
            expect[p] = c
    return expect


def sorted_paths(expect):
    return sorted(expect, key=lambda p: (os.path.basename(os.path.dirname(p)), os.path.basename(p)))


def test_backends_verify(root, expect, extra=(), backends=POSIX, ref=None, fallback=0):
    """Each backend delivers every file once, byte-identical (fil_read compares), label right."""
    hashes = ref
    for b in backends:
        rc, files, errs, _, err = fil_read("--backend", b, "--verify", "--shuffle", "--seed", 7, *extra, root)
        check(last_stats.get("files") == len(expect) and last_stats.get("fallback") == fallback,
              f"{b}: {len(expect)} files read, {fallback} of them by the posix fallback ({last_stats})")
        check(rc == 0 and not errs, f"{b}: verify mode, every batch whole (rc {rc}) {err.strip()[:300]}")
        paths = [f[6] for f in files]
        check(sorted(paths) == sorted(expect), f"{b}: every file delivered exactly once ({len(paths)})")
        check(all(expect.get(f[6]) == f[3] for f in files), f"{b}: labels are the class directory's index")
        h = {f[6]: f[5] for f in files}
        if hashes is None:
            hashes = h
        check(h == hashes, f"{b}: the same bytes as {backends[0] if ref is None else 'posix'}")
    return hashes


def test_order(root, expect):
    nofs = fil_read("--batch", 7, root)[1]
    check([f[6] for f in nofs] == sorted_paths(expect), "no shuffle: the sorted order, class by class")
    check([f[2] for f in nofs] == list(range(len(expect))), "no shuffle: file indices 0..n-1")
    a = fil_read("--shuffle", "--seed", 42, "--epochs", 2, root)[1]
    b = fil_read("--shuffle", "--seed", 42, "--epochs", 2, "--threads", 1, "--batch", 5, root)[1]
    check([f[2] for f in a] == [f[2] for f in b], "shuffle: the same seed gives the same order (other batching)")
    e0 = [f[2] for f in a if f[0] == 0]
    e1 = [f[2] for f in a if f[0] == 1]
    check(sorted(e0) == sorted(e1) == list(range(len(expect))), "shuffle: each epoch a permutation")
    check(e0 != e1, "shuffle: epochs differ")
    c = fil_read("--shuffle", "--seed", 43, root)[1]
    check([f[2] for f in c] != e0, "shuffle: another seed, another order")


def test_shards(root, expect):
    world = 3
    full = [f[2] for f in fil_read("--shuffle", "--seed", 9, root)[1]]
    shares = []
    for r in range(world):
        shares.append([f[2] for f in fil_read("--shuffle", "--seed", 9, "--rank", r, "--world", world, root)[1]])
    allf = [x for s in shares for x in s]
    check(len(allf) == len(set(allf)) == len(expect), "shards: disjoint and covering")
    check(all(shares[r] == full[r::world] for r in range(world)), "shards: position i goes to rank i % world_size")


def test_resume(root):
    full = fil_read("--shuffle", "--seed", 5, "--epochs", 2, "--batch", 6, root)[1]
    rc, part, _, pos, _ = fil_read("--shuffle", "--seed", 5, "--batch", 6, "--batches", 4, root)
    check(pos == (0, 24), f"resume: position after 4 batches of 6 is (0, 24): {pos}")
    rest = fil_read("--shuffle", "--seed", 5, "--batch", 6, "--start", f"{pos[0]}:{pos[1]}", root)[1]
    rest += fil_read("--shuffle", "--seed", 5, "--batch", 6, "--start", "1:0", root)[1]
    check([(f[0], f[2]) for f in part + rest] == [(f[0], f[2]) for f in full], "resume: continues exactly")
    odd = fil_read("--shuffle", "--seed", 5, "--batch", 6, "--start", "0:13", root)[1]
    check([f[2] for f in odd] == [f[2] for f in full if f[0] == 0][13:], "resume: from an index inside a batch")


def test_bad(work, backends=POSIX):
    rc, _, _, _, err = fil_read(os.path.join(work, "missing"))
    check(rc == 1 and "missing" in err, f"missing directory: an error naming it: {err.strip()[:200]}")
    root = os.path.join(work, "bad")
    dangling, fifo = make_bad_dataset(root, work)
    check_bad_entries(root, dangling, fifo, backends)
    grow_root = os.path.join(work, "grow")
    make_dataset(grow_root, classes=2, per_class=30, seed=4)
    check_grow(work, grow_root, backends)


def make_bad_dataset(root, work):
    make_dataset(root, classes=3, per_class=20, seed=3)
    dangling = os.path.join(root, "class01", "f0005.bin")
    os.unlink(dangling)
    os.symlink(os.path.join(work, "nowhere"), dangling)
    fifo = os.path.join(root, "class02", "f0010.bin")
    os.unlink(fifo)
    os.mkfifo(fifo)
    return dangling, fifo


def check_bad_entries(root, dangling, fifo, backends, extra=()):
    """A dangling symlink and a FIFO among 60 files: their batches fail naming them, the rest come."""
    for b in backends:
        rc, files, errs, _, err = fil_read("--backend", b, "--batch", 4, *extra, root)
        named = [e for e in errs if dangling in e] + [e for e in errs if fifo in e]
        check(rc == 3 and len(errs) == 2 and len(named) == 2, f"{b}: dangling symlink and FIFO: a batch error "
              f"naming each ({errs})")
        check(len(files) == 60 - 8 and dangling not in [f[6] for f in files], f"{b}: every other batch "
              f"delivered whole ({len(files)})")


def check_grow(work, grow_root, backends, extra=()):
    """The last file of the epoch grows after the first batch: its batch fails naming it."""
    last = os.path.join(grow_root, "class01", "f0029.bin")
    orig = os.path.join(work, "grow.orig")
    for b in backends:
        shutil.copyfile(last, orig)
        rc, files, errs, _, err = fil_read("--backend", b, "--batch", 4, "--inflight", 2, "--threads", 1,
                                           "--grow", last, *extra, grow_root)
        check(rc == 3 and len(errs) == 1 and last in errs[0] and "ESTALE" in errs[0],
              f"{b}: a file grown during the epoch: an error naming it ({errs})")
        check(len(files) == 56, f"{b}: the other batches delivered ({len(files)})")
        shutil.copyfile(orig, last)


def posix_suite(work):
    root = os.path.join(work, "ds")
    expect = make_dataset(root)
    test_backends_verify(root, expect)
    lst = os.path.join(work, "list.txt")
    with open(lst, "w") as f:
        for p in sorted_paths(expect)[:50]:
            f.write(f"{os.path.relpath(p, work)}\t{expect[p]}\n")
    rc, files, _, _, _ = fil_read("--verify", lst)
    check(rc == 0 and [f[6] for f in files] == [os.path.join(work, os.path.relpath(p, work))
                                                 for p in sorted_paths(expect)[:50]]
          and all(f[3] == expect[f[6]] for f in files), "file list: paths relative to the list, labels")
    test_order(root, expect)
    test_shards(root, expect)
    test_resume(root)
    test_bad(work)


def run(*args):
    subprocess.run(list(args), check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def aisio_suite(work):
    if os.geteuid() != 0:
        print("SKIP: needs root (loop mounts)")
        sys.exit(SKIP)
    for t in ("mkfs.xfs", "mount", "umount"):
        if not shutil.which(t):
            print(f"SKIP: {t} not installed")
            sys.exit(SKIP)
    img, mnt = os.path.join(work, "xfs.img"), os.path.join(work, "mnt")
    os.makedirs(mnt)
    with open(img, "wb") as f:
        f.truncate(320 << 20)  # mkfs.xfs's smallest; sparse
    run("mkfs.xfs", "-q", "-f", img)
    try:
        run("mount", "-o", "loop", img, mnt)
    except subprocess.CalledProcessError as e:
        print(f"SKIP: cannot loop-mount: {e.stderr.decode().strip()}")
        sys.exit(SKIP)
    try:
        root = os.path.join(mnt, "data")
        expect = make_dataset(root, classes=4, per_class=30, seed=11)
        # a sparse file (a hole) and a preallocated one (an unwritten extent): zeros where not written
        sparse = os.path.join(root, "class00", "sparse.bin")
        with open(sparse, "wb") as f:
            f.write(b"a" * 100)
            f.seek(200000)
            f.write(b"b" * 5000)
        prealloc = os.path.join(root, "class01", "prealloc.bin")
        with open(prealloc, "wb") as f:
            os.posix_fallocate(f.fileno(), 0, 65536)
            f.write(b"c" * 3000)
        expect[sparse], expect[prealloc] = 0, 1
        # a file outside this file system (a symlink out of it): not in the index, read by posix
        outside = os.path.join(work, "outside.bin")
        with open(outside, "wb") as f:
            f.write(b"outside" * 300)
        link = os.path.join(root, "class02", "zlink.bin")
        os.symlink(outside, link)
        expect[link] = 2
        bad_entries = make_bad_dataset(os.path.join(mnt, "bad"), work)
        make_dataset(os.path.join(mnt, "grow"), classes=2, per_class=30, seed=4)
    finally:
        run("umount", mnt)
    # read-only, no log recovery: the kernel writes nothing while emu reads the image under it
    run("mount", "-o", "loop,ro,norecovery", img, mnt)
    try:
        ref = test_backends_verify(root, expect, backends=["posix-buffered"])
        dev = f"emu:file:{img}"
        test_backends_verify(root, expect, ("--device", dev, "--xal", img, "--mount", mnt),
                             backends=["aisio-cpu"], ref=ref, fallback=1)
        print("(FIEMAP on the mount point as the XAL source)")
        test_backends_verify(root, expect, ("--device", dev, "--xal", mnt), backends=["aisio-cpu"], ref=ref,
                             fallback=1)
        check_bad_entries(os.path.join(mnt, "bad"), *bad_entries, ["aisio-cpu"],
                          ("--device", dev, "--xal", img, "--mount", mnt))
        bad = os.path.join(work, "corrupt.img")
        run("cp", "--sparse=always", img, bad)
        with open(bad, "r+b") as f:
            f.seek(0x40)  # inside the superblock, under its CRC
            f.write(b"\xff" * 8)
        rc, files, _, _, err = fil_read("--backend", "aisio-cpu", "--device", f"emu:file:{bad}", "--xal", bad,
                                        "--mount", mnt, root)
        check(rc == 1 and not files and bad in err, f"corrupt image: a clear error naming it: {err.strip()[:300]}")
    finally:
        run("umount", mnt)
    # a size change needs a writable mount: FIEMAP on it as the XAL source
    run("mount", "-o", "loop", img, mnt)
    try:
        check_grow(work, os.path.join(mnt, "grow"), ["aisio-cpu"], ("--device", f"emu:file:{img}", "--xal", mnt))
    finally:
        run("umount", mnt)


def main():
    mode = sys.argv[2]
    work = tempfile.mkdtemp(prefix="fil-test-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None)
    try:
        posix_suite(work) if mode == "posix" else aisio_suite(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failed")
        sys.exit(1)


main()
