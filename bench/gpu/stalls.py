#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Warp stall samples per source line from bench/gpu/profile_thread.sh's source pages (ncu --page source
--csv --print-source sass,cuda): the share of each file (the engine's, gpuemu_engine.cuh, apart) and the
client's top lines.

usage: bench/gpu/stalls.py DIR [QDEPTH...]   (DIR/API-qdN.source.csv or .csv.gz, API from $API or thread;
       default 32 128)
"""
import collections
import csv
import gzip
import os
import sys


def load(path):
    """{(file, line): samples} from the rows that carry a CUDA line (the SASS rows under them are its parts)."""
    opener = gzip.open if path.endswith(".gz") else open
    by, src, cur = collections.Counter(), {}, None
    with opener(path, "rt") as f:
        for row in csv.reader(f):
            if not row:
                continue
            if row[0] == "File Path":
                cur = os.path.basename(row[1])
                continue
            if row[0] in ("Function Name", "Line No", "") or len(row) < 5:
                continue
            try:
                n = int(row[4])
            except ValueError:
                continue
            by[(cur, int(row[0]))] += n
            src[(cur, int(row[0]))] = row[1].strip()[:100]
    return by, src


def main():
    d = sys.argv[1]
    for qd in sys.argv[2:] or ["32", "128"]:
        p = os.path.join(d, f"{os.environ.get('API', 'thread')}-qd{qd}.source.csv")
        by, src = load(p if os.path.exists(p) else p + ".gz")
        tot = sum(by.values())
        eng = sum(v for k, v in by.items() if k[0] == "gpuemu_engine.cuh")
        files = collections.Counter()
        for k, v in by.items():
            files[k[0]] += v
        print(f"qdepth {qd}: {tot} samples, the engine's {100 * eng / tot:.1f}%")
        print("  by file: " + ", ".join(f"{f} {100 * v / tot:.1f}%" for f, v in files.most_common(6)))
        client = [(k, v) for k, v in by.most_common() if k[0] != "gpuemu_engine.cuh"][:15]
        for (f, line), v in client:
            print(f"  {100 * v / (tot - eng):5.1f}% of the client's  {f}:{line}  {src[(f, line)]}")


if __name__ == "__main__":
    main()
