#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# figure: XAL XFS-backend index time of two builds alternated in one run (warm and cold cache), 1,000,000 files: the cost of a change (e.g. metadata verification)
"""usage: bench/xal/index_ab.py OLD_AISIO NEW_AISIO [OUTDIR]   (root; default OUTDIR bench/xal/results/<host>-<date>)

The image is bench/xal/index_1m.py's (built once, cached in $XAL_BENCH_CACHE; XAL_BENCH_FILES files).
Each round times `aisio xal stats --json` of both builds on the unmounted image, warm (page cache
filled by a run just before) and cold (drop_caches before each run), the order of the two builds
alternating from round to round so that drift of the machine falls on both alike. XAL_BENCH_REPS
rounds (default 5). Index time is the library's own (xal_open). Prints the medians, NEW/OLD, and one
JSON object, appended to OUTDIR/xal_index_ab.json.

To build the old revision beside this tree:
    git archive REV | tar -x -C /var/tmp/xal-old && meson setup /var/tmp/xal-old/build /var/tmp/xal-old \\
        && ninja -C /var/tmp/xal-old/build tools/aisio
"""
import datetime
import json
import os
import platform
import socket
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import index_1m  # noqa: E402

REPS = int(os.environ.get("XAL_BENCH_REPS", "5"))


def stats(aisio, img):
    out = subprocess.run([aisio, "xal", "stats", img, "--json"], check=True, stdout=subprocess.PIPE).stdout
    return json.loads(out)


def main():
    if os.geteuid() != 0:
        print("bench/xal/index_ab.py: needs root (drop_caches)")
        return 77
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    builds = {"old": sys.argv[1], "new": sys.argv[2]}
    date = datetime.datetime.utcnow()
    out = sys.argv[3] if len(sys.argv) > 3 else \
        f"{index_1m.HERE}/results/{socket.gethostname().split('.')[0]}-{date:%Y%m%d}"
    os.makedirs(out, exist_ok=True)
    img = f"{index_1m.CACHE}/xal_{index_1m.N}.img"
    index_1m.build_image(img)
    times = {f"{b}_{m}": [] for b in builds for m in ("warm", "cold")}
    last = {}
    for r in range(REPS):
        order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
        for b in order:
            stats(builds[b], img)  # fills the page cache for the warm run
            last[b] = stats(builds[b], img)
            times[f"{b}_warm"].append(last[b]["index_seconds"])
        for b in order:
            index_1m.drop_caches()
            times[f"{b}_cold"].append(stats(builds[b], img)["index_seconds"])
    med = {k: statistics.median(v) for k, v in times.items()}
    res = {"figure": "xal xfs index time, two builds alternated", "files": index_1m.N,
           "date": date.strftime("%Y-%m-%dT%H:%M:%SZ"), "machine": platform.node(), "cpus": os.cpu_count(),
           "kernel": platform.release(), "builds": builds, "rounds": REPS, "index_seconds": times,
           "median": med, "new_over_old_warm": med["new_warm"] / med["old_warm"],
           "new_over_old_cold": med["new_cold"] / med["old_cold"],
           "inodes": {b: last[b]["inodes"] for b in builds}, "extents": {b: last[b]["extents"] for b in builds}}
    print(f"{'build':6s} {'warm s':>8s} {'cold s':>8s}")
    for b in builds:
        print(f"{b:6s} {med[b + '_warm']:8.3f} {med[b + '_cold']:8.3f}")
    print(f"new/old: {res['new_over_old_warm']:.3f} warm, {res['new_over_old_cold']:.3f} cold ({REPS} rounds)")
    print(json.dumps(res))
    with open(f"{out}/xal_index_ab.json", "a") as f:
        f.write(json.dumps(res) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
