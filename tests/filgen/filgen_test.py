#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""`aisio fil gen` into a directory: counts and sizes per shape (scale 1 by --dry-run; imagenetish 0.0005,
tiktokish 0.001, filesize8gib 1e-6 written), the content rule of tools/fil_gen.h recomputed, the same seed giving
the same bytes and another seed other bytes, bad flags refused.

usage: filgen_test.py AISIO
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from filgen import SHAPES, Runner, content, layout, rmtree, tree_digest, workdir  # noqa: E402

t = Runner(sys.argv[1])
tmp = workdir()


def gen_json(*args):
    r = t.gen("--json", *args)
    if r.returncode != 0:
        t.check(f"gen {' '.join(args)}", False, r.stderr.strip())
        return None
    return json.loads(r.stdout)


def check_tree(what, root, shape, scale, seed, full_files=3):
    """The tree holds exactly the layout's folders and files at their sizes; a few files' bytes in full."""
    want = layout(shape, scale, seed)
    got_classes = sorted(os.listdir(root))
    t.check(f"{what}: class folders", got_classes == [c for c, _ in want],
            f"{len(got_classes)} folders, want {len(want)}")
    bad_names = bad_sizes = 0
    for c, files in want:
        names = sorted(os.listdir(os.path.join(root, c))) if os.path.isdir(os.path.join(root, c)) else []
        if names != [f for f, _, _ in files]:
            bad_names += 1
            continue
        for f, _, size in files:
            if os.path.getsize(os.path.join(root, c, f)) != size:
                bad_sizes += 1
    t.check(f"{what}: file names per class", bad_names == 0, f"{bad_names} classes differ")
    t.check(f"{what}: file sizes", bad_sizes == 0, f"{bad_sizes} files differ")
    flat = [(c, f, i, s) for c, files in want for f, i, s in files]
    picks = {0, len(flat) - 1, len(flat) // 2}
    for k in sorted(picks)[:full_files]:
        c, f, i, s = flat[k]
        with open(os.path.join(root, c, f), "rb") as fh:
            data = fh.read()
        t.check(f"{what}: {c}/{f} bytes by the content rule", data == content(seed, i, 0, s))
    return flat


try:
    # scale 1, counted only
    for shape, (files, classes, lo, hi, _) in SHAPES.items():
        j = gen_json("--shape", shape, "--dry-run", f"{tmp}/never")
        if j:
            t.check(f"{shape} at scale 1: {files} files in {classes} classes, sizes {lo}-{hi}",
                    (j["files"], j["classes"], j["size_min"], j["size_max"]) == (files, classes, lo, hi)
                    and lo * files <= j["bytes"] <= hi * files and j["dry_run"], str(j))
    t.check("dry run writes nothing", not os.path.exists(f"{tmp}/never"))
    j = gen_json("--shape", "imagenetish", "--scale", "0.0008", "--dry-run", f"{tmp}/never")
    t.check("imagenetish 0.0008: 1025 files in 1000 classes",
            j is not None and (j["files"], j["classes"]) == (1025, 1000), str(j))
    j = gen_json("--shape", "imagenetish", "--scale", "2", "--seed", "5", "--dry-run", f"{tmp}/never")
    t.check("imagenetish 2: 2562334 files in 1000 classes",
            j is not None and (j["files"], j["classes"]) == (2562334, 1000), str(j))

    # imagenetish 0.0005: 641 files, one per class; two runs equal, another seed differs
    a, b, c = f"{tmp}/a", f"{tmp}/b", f"{tmp}/c"
    j = gen_json("--shape", "imagenetish", "--scale", "0.0005", "--seed", "1", a)
    if j:
        want = layout("imagenetish", 0.0005, 1)
        t.check("imagenetish 0.0005: 641 files in 641 classes, summary bytes",
                (j["files"], j["classes"], j["bytes"]) == (641, 641, sum(s for _, fs in want for _, _, s in fs)),
                str(j))
        flat = check_tree("imagenetish 0.0005", a, "imagenetish", 0.0005, 1)
        t.check("imagenetish sizes within 75000-150000", all(75000 <= s <= 150000 for _, _, _, s in flat))
    r = t.gen("--shape", "imagenetish", "--scale", "0.0005", "--seed", "1", b)
    t.check("summary line", r.returncode == 0 and "641 files in 641 classes" in r.stdout and " s " in r.stdout,
            r.stdout + r.stderr)
    t.check("same seed: same bytes", tree_digest(a) == tree_digest(b))
    gen_json("--shape", "imagenetish", "--scale", "0.0005", "--seed", "2", c)
    t.check("another seed: other bytes", tree_digest(a) != tree_digest(c))
    f0 = "n00000000/n00000000_00000000.bin"
    with open(f"{a}/{f0}", "rb") as fa, open(f"{c}/{f0}", "rb") as fc:
        x, y = fa.read(), fc.read()
    n = min(len(x), len(y))
    t.check("another seed: file 0 differs in every 8-byte word",
            all(x[k:k + 8] != y[k:k + 8] for k in range(0, n - 8, 8)))
    rmtree(b)
    rmtree(c)

    # tiktokish 0.001: 10 files of 7-8 MiB in one class (the bytes checked at the start and the end)
    d = f"{tmp}/tiktok"
    j = gen_json("--shape", "tiktokish", "--scale", "0.001", "--seed", "3", d)
    if j:
        t.check("tiktokish 0.001: 10 files in 1 class", (j["files"], j["classes"]) == (10, 1), str(j))
        flat = check_tree("tiktokish 0.001", d, "tiktokish", 0.001, 3, full_files=0)
        t.check("tiktokish sizes within 7-8 MiB", all(7 << 20 <= s <= 8 << 20 for _, _, _, s in flat))
        c0, f, i, s = flat[-1]
        with open(f"{d}/{c0}/{f}", "rb") as fh:
            head = fh.read(65536)
            fh.seek((s - 65536) & ~7)
            tail = fh.read()
        t.check("tiktokish: last file's head and tail by the content rule",
                head == content(3, i, 0, 65536) and tail == content(3, i, (s - 65536) & ~7, s - ((s - 65536) & ~7)))
    rmtree(d)

    # filesize8gib 1e-6: 8 files of 8590 bytes (8 GiB * 1e-6, rounded)
    d = f"{tmp}/big"
    j = gen_json("--shape", "filesize8gib", "--scale", "1e-6", d)
    if j:
        t.check("filesize8gib 1e-6: 8 files of 8590 bytes",
                (j["files"], j["classes"], j["size_min"], j["size_max"], j["bytes"]) == (8, 1, 8590, 8590, 8 * 8590),
                str(j))
        check_tree("filesize8gib 1e-6", d, "filesize8gib", 1e-6, 0, full_files=3)

    # bad input
    t.refuse("unknown shape", 2, "unknown shape 'squares'", "--shape", "squares", f"{tmp}/x")
    t.refuse("no shape", 2, "--shape", f"{tmp}/x")
    for s in ("0", "-1", "abc", "nan", "inf", ""):
        t.refuse(f"scale {s!r}", 2, "expected a number > 0", "--shape", "tiktokish", "--scale", s, f"{tmp}/x")
    t.refuse("scale too large", 2, "too large", "--shape", "imagenetish", "--scale", "1e12", f"{tmp}/x")
    t.refuse("bad seed", 2, "--seed", "--shape", "tiktokish", "--seed", "-3", f"{tmp}/x")
    t.refuse("unknown flag", 2, "unknown or incomplete option '--bogus'", "--shape", "tiktokish", "--bogus", f"{tmp}/x")
    t.refuse("no DIR", 2, "DIR (or --image FILE) is required", "--shape", "tiktokish")
    t.refuse("two DIRs", 2, "is extra", "--shape", "tiktokish", f"{tmp}/x", f"{tmp}/y")
    t.refuse("--fs without --image", 2, "--fs goes with --image", "--shape", "tiktokish", "--fs", "ext4", f"{tmp}/x")
    t.refuse("unknown --fs", 2, "expected xfs or ext4", "--shape", "tiktokish", "--image", f"{tmp}/i", "--fs", "zfs")
    t.refuse("'..' in the image folder", 2, "may not contain '..'", "--shape", "tiktokish", "--image", f"{tmp}/i",
             "a/../../b")
    with open(f"{tmp}/afile", "w") as fh:
        fh.write("x")
    t.refuse("DIR is a file", 1, "is not a directory", "--shape", "filesize8gib", "--scale", "1e-6", f"{tmp}/afile")
    t.refuse("non-empty DIR", 1, "not empty (--force", "--shape", "imagenetish", "--scale", "0.0005", a)
    r = t.gen("--shape", "filesize8gib", "--scale", "1e-6", "--force", a)
    t.check("--force writes into a non-empty DIR", r.returncode == 0 and
            os.path.getsize(f"{a}/n00000000/n00000000_00000000.bin") == 8590, r.stderr)
    t.check("nothing made by refused runs", not os.path.exists(f"{tmp}/x") and not os.path.exists(f"{tmp}/i"))

    # --image without root says so
    if os.geteuid() != 0:
        t.refuse("--image as non-root", 1, "--image needs root", "--shape", "filesize8gib", "--scale", "1e-6",
                 "--image", f"{tmp}/i")
    elif os.path.exists("/usr/bin/setpriv") or os.path.exists("/bin/setpriv"):
        os.chmod(tmp, 0o777)
        t.refuse("--image as non-root (nobody)", 1, "--image needs root", "--shape", "filesize8gib", "--scale",
                 "1e-6", "--image", f"{tmp}/i", as_user=65534)
finally:
    rmtree(tmp)
t.done()
