#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""XAL watch mode + shared index: `xal-tool export MNT /NAME --watch` keeps a shared-memory index of a
loop-mounted XFS up to date through inotify; other processes read it with `xal-tool ... shm:/NAME`.
Checks: a file that grows, a new file, a removed file and a renamed directory show up in the shared index
with the extents FIEMAP reports; the watcher sleeps in poll(2) while nothing changes (no busy spin).

usage: xal_watch.py XAL_TOOL      (root; exits 77 without root, mkfs.xfs or loop devices)
"""
import json
import os
import select
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xalcorpus import Mount, mkimage, need_root_and, run, workdir  # noqa: E402

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
            p = subprocess.Popen([TOOL, "export", mnt, name, "--watch", "--seconds", "60"],
                                 stdout=subprocess.PIPE)
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
            wait_line(p, "updated")
            time.sleep(0.3)
            a, b = extents(shm, "d/grow"), extents(mnt, "d/grow")
            if a != b:
                errors.append(f"grown file: shared {a} != fiemap {b}")
            # 2. a new file, a removed file, a renamed directory
            with open(f"{mnt}/d/e/new", "wb") as f:
                f.write(b"n" * 12288)
            os.unlink(f"{mnt}/gone")
            os.rename(f"{mnt}/d/e", f"{mnt}/d/renamed")
            os.sync()
            wait_line(p, "updated")
            time.sleep(0.5)
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
            wait_line(p, "updated")
            time.sleep(0.3)
            if subprocess.run([TOOL, "ls", shm, "d/renamed/later"], stdout=subprocess.DEVNULL).returncode:
                errors.append("file created in a renamed directory not seen")
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
