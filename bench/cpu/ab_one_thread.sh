#!/usr/bin/env bash
# figure: one-thread IOPS of two builds of aisio and of the bare ring, alternated round by round so all see the same machine state; ratio aisio / bare ring
# usage: bench/cpu/ab_one_thread.sh OUTDIR AISIO_A AISIO_B [ROUNDS]   (BARE_RING=binary, default build/bench/cpu/bare_ring)
# Runs iops_one_thread.sh with each binary in turn and bare_ring.sh after them
# (A B bare A B bare ...); each round's JSON lines land in OUTDIR/a-N, OUTDIR/b-N and
# OUTDIR/bare-N; the per-round tables go to stdout, then a summary (median of the rounds)
# to stdout and OUTDIR/summary.json.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?OUTDIR}; a=${2:?AISIO_A}; b=${3:?AISIO_B}; rounds=${4:-2}
for ((r = 1; r <= rounds; r++)); do
  for side in a b; do
    bin=$a; [ "$side" = b ] && bin=$b
    echo "== round $r, build $side ($bin)"
    AISIO=$bin "$here/bench/cpu/iops_one_thread.sh" "$out/$side-$r"
  done
  echo "== round $r, bare ring"
  "$here/bench/cpu/bare_ring.sh" "$out/bare-$r"
done
python3 - "$out" "$rounds" "$a" "$b" <<'PY'
import json, os, statistics, sys
out, rounds, a, b = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def load(side):
    per_q = {}
    for r in range(1, rounds + 1):
        name = "bare_ring.jsonl" if side == "bare" else "iops_one_thread.jsonl"
        with open(os.path.join(out, f"{side}-{r}", name)) as f:
            for q, line in enumerate(f):
                d = json.loads(line)
                n = d["queues"] if side == "bare" else len(d["devices"])
                per_q.setdefault(n, []).append(d["iops"] if side == "bare" else d["total"]["iops"])
    return {q: statistics.median(v) for q, v in per_q.items()}
A, B, R = load("a"), load("b"), load("bare")
rows = []
print(f"\nmedian of {rounds} rounds: A = {a}, B = {b}")
print(f"{'queues':<8} {'A':>10} {'B':>10} {'B/A':>7} {'bare ring':>10} {'B/bare':>7}")
for q in sorted(A):
    row = {"queues": q, "a_iops": A[q], "b_iops": B.get(q), "bare_iops": R.get(q)}
    rows.append(row)
    print(f"{q:<8} {A[q]/1e6:9.1f}M {B[q]/1e6:9.1f}M {B[q]/A[q]:7.3f} {R[q]/1e6:9.1f}M {B[q]/R[q]:7.3f}")
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump({"a": a, "b": b, "rounds": rounds, "rows": rows}, f, indent=1)
PY
