#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""XAL watch mode + shared index: `xal-tool export MNT /NAME --watch` keeps a shared-memory index of a
loop-mounted XFS up to date through inotify; other processes read it with `xal-tool ... shm:/NAME`.
Checks: a file that grows, a new file, a removed file and a renamed directory show up in the shared index
with the extents FIEMAP reports; the watcher sleeps in poll(2) while nothing changes (no busy spin). Changes
that do not move a directory together with changes inside it are applied incrementally (the watcher says
"updated N (incremental)"), and after every step the whole shared tree equals a fresh index of the mount and
its path hash agrees with it (`check`).

usage: xal_watch.py XAL_TOOL      (root; exits 77 without root, mkfs.xfs or loop devices)
"""
import json
import os
import random
import select
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xalcorpus import Mount, mkimage, need_root_and, run, settle, workdir  # noqa: E402

TOOL = sys.argv[1]
need_root_and("mkfs.xfs", "mount", "umount")


def wait_line(p, prefix, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([p.stdout], [], [], end - time.monotonic())
        if not r:
            break
        line = p.stdout.readline().decode()
        if not line:
            break
        if line.startswith(prefix):
            return line
    raise TimeoutError(f"no '{prefix}' from the watcher")


def extents(src, path):
    return json.loads(run(TOOL, "extents", src, path, "--json"))["extents"]


def tree(src):
    """Every object of an index: path -> (type, ino, size, nlink, extents of files), from one `dump`."""
    out = {}
    for line in run(TOOL, "dump", src).splitlines():
        e = json.loads(line)
        if e["path"]:
            out[e["path"]] = (e["type"], e["ino"], e["size"] if e["type"] != "dir" else 0, e["nlink"],
                              e.get("extents"))
    return out


def same_tree(shm, mnt, errors, step):
    c = subprocess.run([TOOL, "check", shm], capture_output=True, text=True)
    if c.returncode:
        errors.append(f"{step}: path hash of the shared index inconsistent: {c.stderr.strip()}")
    a, b = tree(shm), tree(mnt)
    if a != b:
        diff = sorted(set(a) ^ set(b)) or [k for k in sorted(a) if a[k] != b[k]]
        errors.append(f"{step}: shared index differs from a fresh index at {diff[:5]}: " + str([(a.get(k), b.get(k)) for k in diff[:2]]))


def random_ops(mnt, rng, count):
    """Yields (description, action) for random changes in mnt/r: files created, appended, truncated,
    removed, renamed (also across directories), hard links, symlinks, directories made, renamed and
    removed with their contents."""
    root = f"{mnt}/r"

    def files():
        return sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
                      if not os.path.islink(os.path.join(d, f)))

    def dirs():
        return sorted(d for d, _, _ in os.walk(root))

    for i in range(count):
        fl, dl = files(), dirs()
        op = rng.choice(["create", "create", "append", "truncate", "unlink", "rename", "link", "symlink",
                         "mkdir", "rename-dir", "rmtree"])
        if op in ("append", "truncate", "unlink", "rename", "link") and not fl:
            op = "create"
        if op in ("rename-dir", "rmtree") and len(dl) < 2:
            op = "mkdir"
        if op == "create":
            path = f"{rng.choice(dl)}/f{i}"
            yield f"create {path}", lambda p=path: open(p, "wb").write(os.urandom(rng.randint(1, 40000)))
        elif op == "append":
            path = rng.choice(fl)
            yield f"append {path}", lambda p=path: open(p, "ab").write(b"a" * rng.randint(1, 30000))
        elif op == "truncate":
            path = rng.choice(fl)
            yield f"truncate {path}", lambda p=path: os.truncate(p, rng.randint(0, 20000))
        elif op == "unlink":
            path = rng.choice(fl)
            yield f"unlink {path}", lambda p=path: os.unlink(p)
        elif op == "rename":
            a, b = rng.choice(fl), f"{rng.choice(dl)}/m{i}"
            yield f"rename {a} {b}", lambda a=a, b=b: os.rename(a, b)
        elif op == "link":
            a, b = rng.choice(fl), f"{rng.choice(dl)}/l{i}"
            yield f"link {a} {b}", lambda a=a, b=b: os.link(a, b)
        elif op == "symlink":
            path = f"{rng.choice(dl)}/s{i}"
            yield f"symlink {path}", lambda p=path: os.symlink(f"target{i}", p)
        elif op == "mkdir":
            path = f"{rng.choice(dl)}/d{i}"
            yield f"mkdir {path}", lambda p=path: os.mkdir(p)
        elif op == "rename-dir":
            a = rng.choice(dl[1:])
            targets = [d for d in dl if not (d + "/").startswith(a + "/")]
            b = f"{rng.choice(targets)}/n{i}"
            yield f"rename-dir {a} {b}", lambda a=a, b=b: os.rename(a, b)
        else:
            path = rng.choice(dl[1:])
            yield f"rmtree {path}", lambda p=path: shutil.rmtree(p)


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        w = f.read().rsplit(")", 1)[1].split()
    return int(w[11]) + int(w[12])


def main():
    wd = workdir()
    img, mnt = f"{wd}/w.img", f"{wd}/mnt"
    name = f"/xal-watch-{os.getpid()}"
    shm = f"shm:{name}"
    errors = []
    p = None
    try:
        mkimage(img, 320 << 20, [])
        with Mount(img, mnt):
            os.makedirs(f"{mnt}/d/e")
            with open(f"{mnt}/d/grow", "wb") as f:
                f.write(b"a" * 4096)
            with open(f"{mnt}/gone", "wb") as f:
                f.write(b"b" * 4096)
            os.sync()
            # unbuffered: a buffered reader can take two lines from the pipe at once, and select()
            # then waits for the second, already read, until it gives up
            p = subprocess.Popen([TOOL, "export", mnt, name, "--watch", "--seconds", "60"],
                                 stdout=subprocess.PIPE, bufsize=0)
            wait_line(p, "exported")
            if extents(shm, "d/grow") != extents(mnt, "d/grow"):
                errors.append("initial export differs from FIEMAP")
            # idle: the watcher must sleep in poll
            t0 = cpu_ticks(p.pid)
            time.sleep(2)
            idle = cpu_ticks(p.pid) - t0
            if idle > 10:
                errors.append(f"watcher used {idle} clock ticks in 2 s of quiet")
            # 1. a file grows: extents updated
            fd = os.open(f"{mnt}/d/grow", os.O_WRONLY)
            for b in range(2, 40, 2):
                os.pwrite(fd, b"g" * 4096, b * 4096)
            os.fsync(fd)
            os.close(fd)
            ks = settle(p)[0]
            a, b = extents(shm, "d/grow"), extents(mnt, "d/grow")
            if a != b:
                errors.append(f"grown file: shared {a} != fiemap {b}")
            if set(ks) != {"incremental"}:
                errors.append(f"grown file: updates were {ks}, not incremental")
            same_tree(shm, mnt, errors, "grown file")
            # 2. a new file, a removed file, a renamed directory
            with open(f"{mnt}/d/e/new", "wb") as f:
                f.write(b"n" * 12288)
            os.unlink(f"{mnt}/gone")
            os.rename(f"{mnt}/d/e", f"{mnt}/d/renamed")
            os.sync()
            settle(p)
            ls = json.loads(run(TOOL, "ls", shm, "d", "--json"))
            names = sorted(e["name"] for e in ls["entries"])
            if names != ["grow", "renamed"]:
                errors.append(f"after rename: d holds {names}")
            if subprocess.run([TOOL, "ls", shm, "gone"], stderr=subprocess.DEVNULL).returncode == 0:
                errors.append("removed file still in the shared index")
            a, b = extents(shm, "d/renamed/new"), extents(mnt, "d/renamed/new")
            if a != b:
                errors.append(f"new file: shared {a} != fiemap {b}")
            # 3. a write into the renamed directory is seen (watches follow the new tree)
            with open(f"{mnt}/d/renamed/later", "wb") as f:
                f.write(b"l" * 4096)
            os.sync()
            settle(p)
            if subprocess.run([TOOL, "ls", shm, "d/renamed/later"], stdout=subprocess.DEVNULL).returncode:
                errors.append("file created in a renamed directory not seen")
            same_tree(shm, mnt, errors, "rename burst")
            # 4. each of these is applied to the changed objects only, and the result equals a fresh index
            steps = [
                ("new directory with files", lambda: [os.makedirs(f"{mnt}/d/new/sub"),
                                                      [open(f"{mnt}/d/new/sub/f{i}", "wb").write(b"x" * 8192 * (i + 1))
                                                       for i in range(3)]]),
                ("file renamed", lambda: os.rename(f"{mnt}/d/grow", f"{mnt}/d/grown")),
                ("hard link", lambda: os.link(f"{mnt}/d/grown", f"{mnt}/d/new/link")),
                ("directory renamed alone", lambda: os.rename(f"{mnt}/d/new", f"{mnt}/d/moved")),
                ("write into the moved directory", lambda: open(f"{mnt}/d/moved/sub/f9", "wb").write(b"y" * 20000)),
                ("file truncated", lambda: os.truncate(f"{mnt}/d/moved/sub/f2", 4096)),
                ("directory tree removed", lambda: shutil.rmtree(f"{mnt}/d/moved")),
                # enough paths for long probe runs in the hash, then every other one removed
                ("600 files created", lambda: [os.makedirs(f"{mnt}/many")] +
                 [open(f"{mnt}/many/{i:04d}", "wb").close() for i in range(600)]),
                ("300 of them removed", lambda: [os.unlink(f"{mnt}/many/{i:04d}") for i in range(0, 600, 2)]),
            ]
            for step, act in steps:
                act()
                os.sync()
                ks = settle(p)[0]  # a change may come as more than one update: read them all
                if set(ks) != {"incremental"}:
                    errors.append(f"{step}: updates were {ks}, not incremental")
                same_tree(shm, mnt, errors, step)
            # 5. random changes, one at a time: after each the shared index equals a fresh one
            seed = int(os.environ.get("XAL_WATCH_SEED", str(os.getpid())))
            print(f"random changes: XAL_WATCH_SEED={seed}")
            os.makedirs(f"{mnt}/r/a/b")
            os.sync()
            settle(p)
            rng = random.Random(seed)
            counts = {}
            ops = random_ops(mnt, rng, int(os.environ.get("XAL_WATCH_OPS", "30")))
            done = False
            while not done:
                # mostly one change per burst; sometimes up to three back to back in one burst
                what = []
                for _ in range(rng.randint(2, 3) if rng.random() < 0.3 else 1):
                    op = next(ops, None)
                    if op is None:
                        done = True
                        break
                    what.append(op[0])
                    op[1]()
                if not what:
                    break
                os.sync()
                for k in settle(p)[0]:
                    counts[k] = counts.get(k, 0) + 1
                n = len(errors)
                same_tree(shm, mnt, errors, "random: " + "; ".join(what))
                if len(errors) > n:
                    break
            print(f"random changes applied by {counts} updates")
            p.terminate()
            p.wait(10)
            p = None
    except (TimeoutError, subprocess.CalledProcessError) as e:
        errors.append(str(e))
    finally:
        if p:
            p.kill()
            p.wait()
        subprocess.run(["umount", mnt], stderr=subprocess.DEVNULL)
        shutil.rmtree(wd, ignore_errors=True)
        if os.path.exists(f"/dev/shm{name}"):
            os.unlink(f"/dev/shm{name}")
    for e in errors:
        print("ERROR:", e)
    print(f"xal-watch: {len(errors)} failures")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
