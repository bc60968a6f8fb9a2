#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# figure: XAL watch mode, time from a change on disk to the updated shared index, 1,000,000-file tree (FIEMAP)
"""usage: bench/xal/watch_update.py [OUTDIR]   (root; default OUTDIR bench/xal/results/<host>-<date>)

Loop-mounts the image of bench/xal/index_1m.py (built there if missing, XAL_BENCH_FILES files), starts
`aisio xal export MNT /NAME --watch`, then makes one change at a time under a directory of its own
(removed at the end, so the image is left as it was) and times each from the end of the change (after
sync) to the watcher's "updated N (incremental|full)" line. The watcher drains a burst until 20 ms of
quiet, so every figure includes that settle time. The last change moves a directory together with a write
inside it, which only a full re-index resolves: its figure is what every change cost before incremental
updates. Prints a table and one JSON object, appended to OUTDIR/xal_watch_update.json.
"""
import datetime
import json
import os
import platform
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "xal"))
import index_1m  # noqa: E402
from xalcorpus import settle  # noqa: E402

AISIO = index_1m.AISIO


def write(path, nbytes, mode="wb"):
    with open(path, mode) as f:
        f.write(b"w" * nbytes)
        f.flush()
        os.fsync(f.fileno())


def main():
    if os.geteuid() != 0:
        print("bench/xal/watch_update.py: needs root (loop mount)")
        return 77
    out = sys.argv[1] if len(sys.argv) > 1 else \
        f"{index_1m.ROOT}/bench/xal/results/{socket.gethostname()}-{datetime.date.today():%Y%m%d}"
    os.makedirs(out, exist_ok=True)
    img = f"{index_1m.CACHE}/xal_{index_1m.N}.img"
    index_1m.build_image(img)
    mnt = f"{index_1m.CACHE}/mnt-watch"
    os.makedirs(mnt, exist_ok=True)
    name = f"/aisio-watch-bench-{os.getpid()}"
    subprocess.run(["mount", "-o", "loop", img, mnt], check=True)
    p = None
    rows = []
    try:
        t0 = time.monotonic()
        p = subprocess.Popen([AISIO, "xal", "export", mnt, name, "--watch", "--seconds", "3600"],
                             stdout=subprocess.PIPE)
        while not p.stdout.readline().decode().startswith("exported"):
            pass
        start_s = time.monotonic() - t0
        w = f"{mnt}/watchbench"
        changes = [
            ("new directory", lambda: os.mkdir(w)),
            ("new file, 1 MiB", lambda: write(f"{w}/f0", 1 << 20)),
            ("1 MiB appended to it", lambda: write(f"{w}/f0", 1 << 20, "ab")),
            ("new directory with 100 files", lambda: [os.mkdir(f"{w}/d")] +
             [write(f"{w}/d/f{i}", 4096) for i in range(100)]),
            ("a file removed", lambda: os.unlink(f"{w}/d/f0")),
            ("directory moved, a file written inside", lambda: [os.rename(f"{w}/d", f"{w}/e"),
                                                                  write(f"{w}/e/f1", 8192, "ab")]),
            ("directory tree removed", lambda: subprocess.run(["rm", "-rf", w], check=True)),
        ]
        for what, act in changes:
            act()
            os.sync()
            t = time.monotonic()
            kinds, done = settle(p, quiet=1.0, timeout=120.0)
            rows.append({"change": what, "seconds": done - t, "updates": len(kinds),
                         "kind": "full" if "full" in kinds else "incremental"})
    finally:
        if p:
            p.terminate()
            p.wait(30)
        subprocess.run(["umount", mnt], check=False)
        if os.path.exists(f"/dev/shm{name}"):
            os.unlink(f"/dev/shm{name}")
    res = {
        "figure": "xal watch: change to updated shared index", "files": index_1m.N,
        "export_seconds": start_s, "changes": rows,
        "date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), "machine": platform.node(),
        "cpus": os.cpu_count(),
    }
    print(f"{'change':<42} {'seconds':>9} {'updates':>8}  kind")
    for r in rows:
        print(f"{r['change']:<42} {r['seconds']:9.3f} {r['updates']:8d}  {r['kind']}")
    print(f"(initial index and export: {start_s:.2f} s, {index_1m.N} files)")
    print(json.dumps(res))
    with open(f"{out}/xal_watch_update.json", "a") as f:
        f.write(json.dumps(res) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
