#!/usr/bin/env bash
# figure: one-thread IOPS of several builds (git archives of commits), alternated round by round: which change moved the figure
# usage: bench/cpu/ab_builds.sh OUTDIR ROUNDS TAR...   (QUEUES="8" and RUNTIME=3 by default; each TAR is `git archive COMMIT`)
# Each archive is unpacked and built (without CUDA) under OUTDIR/src/NAME; then every round runs
# iops_one_thread.sh once with each build, in the order given; the medians per build go to stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?OUTDIR}; rounds=${2:?ROUNDS}; shift 2
export QUEUES=${QUEUES:-8} RUNTIME=${RUNTIME:-3}
names=()
for t in "$@"; do
	n=$(basename "$t" .tar); names+=("$n")
	mkdir -p "$out/src/$n" && tar -xf "$t" -C "$out/src/$n"
	(cd "$out/src/$n" && meson setup b -Dcuda=disabled >/dev/null && ninja -C b tools/aisio >/dev/null) &
done
wait
for ((r = 1; r <= rounds; r++)); do
	for n in "${names[@]}"; do
		AISIO=$out/src/$n/b/tools/aisio "$here/bench/cpu/iops_one_thread.sh" "$out/$n-$r" >/dev/null
	done
done
python3 - "$out" "$rounds" "${names[@]}" <<'PY'
import json, os, statistics, sys
out, rounds, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for n in names:
    per_q = {}
    for r in range(1, rounds + 1):
        for line in open(os.path.join(out, f"{n}-{r}", "iops_one_thread.jsonl")):
            d = json.loads(line)
            per_q.setdefault(len(d["devices"]), []).append(d["total"]["iops"] / 1e6)
    print(n, "  ".join(f"q={q}: median {statistics.median(v):.1f}M (rounds {' '.join(f'{x:.1f}' for x in v)})" for q, v in sorted(per_q.items())))
PY
