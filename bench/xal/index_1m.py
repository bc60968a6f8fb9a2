#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# figure: XAL index time (warm and cold cache) and index memory, 1,000,000 files: XFS on-disk backend vs FIEMAP walk
"""usage: bench/xal/index_1m.py [OUTDIR]   (root; default OUTDIR bench/xal/results/<host>-<date>)

Builds (once, cached in $XAL_BENCH_CACHE, default /var/tmp/aisio-bench) an XFS image of N files
(XAL_BENCH_FILES, default 1,000,000) in 1,000 directories, each file one 4 KiB block, with
`mkfs.xfs -p` (no mount needed), then times `aisio xal stats --json`:
  xfs     the on-disk parser on the unmounted image, warm (image in page cache) and cold (drop_caches)
  fiemap  the same tree loop-mounted, FIEMAP_FLAG_SYNC per file, warm and cold (remounted + drop_caches)
Index time is the library's own (xal_open); memory is the finished index (pools) and the process max RSS.
Prints a table and one JSON object, and appends the JSON to OUTDIR/xal_index_1m.json.
"""
import datetime
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
AISIO = os.environ.get("AISIO", f"{ROOT}/build/tools/aisio")
N = int(os.environ.get("XAL_BENCH_FILES", "1000000"))
CACHE = os.environ.get("XAL_BENCH_CACHE", "/var/tmp/aisio-bench")
REPS = int(os.environ.get("XAL_BENCH_REPS", "3"))
DIRS = 1000


def build_image(img):
    if os.path.exists(img):
        return 0.0
    t0 = time.monotonic()
    os.makedirs(CACHE, exist_ok=True)
    src = f"{CACHE}/src4k"
    with open(src, "wb") as f:
        f.write(b"d" * 4096)
    per = (N + DIRS - 1) // DIRS
    proto = f"{CACHE}/proto"
    with open(proto, "w") as f:
        f.write("/dev/null\n0 0\nd--755 0 0\n")
        left = N
        for d in range(DIRS):
            f.write(f"dir{d:04d} d--755 0 0\n")
            for i in range(min(per, left)):
                f.write(f" file{i:05d}.dat ---644 0 0 {src}\n")
            left -= min(per, left)
            f.write(" $\n")
        f.write("$\n")
    size = max(8 << 30, N * 4096 * 2 + (2 << 30))
    tmp = img + ".tmp"
    with open(tmp, "wb") as f:
        f.truncate(size)
    subprocess.run(["mkfs.xfs", "-q", "-f", "-p", proto, tmp], check=True)
    os.rename(tmp, img)
    os.unlink(proto)
    return time.monotonic() - t0


def drop_caches():
    subprocess.run(["sync"], check=True)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def stats(source, *extra):
    t0 = time.monotonic()
    p = subprocess.Popen([AISIO, "xal", "stats", source, "--json", *extra], stdout=subprocess.PIPE)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode:
        raise RuntimeError(f"aisio xal stats {source}: exit {p.returncode}")
    s = json.loads(out)
    s["wall_seconds"] = time.monotonic() - t0
    s["max_rss_kib_children"] = ru.ru_maxrss  # this process only
    return s


def main():
    if os.geteuid() != 0:
        print("bench/xal/index_1m.py: needs root (drop_caches, loop mount)")
        return 77
    date = datetime.datetime.utcnow()
    out = sys.argv[1] if len(sys.argv) > 1 else f"{HERE}/results/{socket.gethostname().split('.')[0]}-{date:%Y%m%d}"
    os.makedirs(out, exist_ok=True)
    img = f"{CACHE}/xal_{N}.img"
    build_s = build_image(img)
    mnt = f"{CACHE}/mnt"
    os.makedirs(mnt, exist_ok=True)
    res = {"figure": "xal index of N files: xfs backend vs fiemap walk", "files": N,
           "date": date.strftime("%Y-%m-%dT%H:%M:%SZ"), "machine": platform.node(), "cpus": os.cpu_count(),
           "kernel": platform.release(), "image_build_seconds": round(build_s, 1), "runs": {}}
    stats(img)  # warm the page cache
    for mode in ("warm", "cold"):
        for backend in ("xfs", "fiemap"):
            times, last = [], None
            for _ in range(REPS):
                if backend == "fiemap":
                    subprocess.run(["mount", "-o", "loop,ro", img, mnt], check=True)
                    try:
                        if mode == "cold":
                            drop_caches()
                        else:
                            stats(mnt)
                        last = stats(mnt)
                    finally:
                        subprocess.run(["umount", mnt], check=True)
                else:
                    if mode == "cold":
                        drop_caches()
                    last = stats(img)
                times.append(last["index_seconds"])
            res["runs"][f"{backend}_{mode}"] = {
                "index_seconds_median": statistics.median(times), "index_seconds_all": times,
                "inodes": last["inodes"], "extents": last["extents"], "mem_bytes": last["mem_bytes"],
                "bytes_per_inode_excl_extents": last["bytes_per_inode_excl_extents"],
                "max_rss_kib": last["max_rss_kib_children"]}
    r = res["runs"]
    res["speedup_warm"] = r["fiemap_warm"]["index_seconds_median"] / r["xfs_warm"]["index_seconds_median"]
    res["speedup_cold"] = r["fiemap_cold"]["index_seconds_median"] / r["xfs_cold"]["index_seconds_median"]
    print(f"{'run':14s} {'index s':>9s} {'inodes':>9s} {'extents':>9s} {'index MiB':>10s} {'B/inode+16/ext':>15s}")
    for k, v in r.items():
        print(f"{k:14s} {v['index_seconds_median']:9.3f} {v['inodes']:9d} {v['extents']:9d} "
              f"{v['mem_bytes'] / 2**20:10.1f} {v['bytes_per_inode_excl_extents']:15.1f}")
    print(f"xfs backend vs fiemap walk: {res['speedup_warm']:.1f}x warm, {res['speedup_cold']:.1f}x cold")
    print(json.dumps(res))
    with open(f"{out}/xal_index_1m.json", "a") as f:
        f.write(json.dumps(res) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
