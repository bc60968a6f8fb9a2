#!/usr/bin/env bash
# figure: GPU-initiated IOPS (owned and warp APIs, 512 B, gpuemu:null) of two builds, alternated round by round; B/A per configuration
# usage: bench/gpu/ab.sh OUTDIR AISIO_A AISIO_B [ROUNDS]   (RUNTIME=seconds per point, default 2)
set -u
cd "$(dirname "$0")/../.."
out=${1:?OUTDIR}; a=${2:?AISIO_A}; b=${3:?AISIO_B}; rounds=${4:-2}
mkdir -p "$out"
configs=(
	"owned q=264|--api owned --iosize 512 --nqueues 264 --iopattern randread gpuemu:null,sms=33,warps=8,qpairs=1024"
	"owned q=132|--api owned --iosize 512 --nqueues 132 --iopattern randread gpuemu:null,sms=17,warps=8,qpairs=1024"
	"warp q=132 qd=32|--api warp --iosize 512 --nqueues 132 --qdepth 32 gpuemu:null,sms=17,warps=8,qpairs=1024"
	"warp q=132 qd=128|--api warp --iosize 512 --nqueues 132 --qdepth 128 gpuemu:null,sms=17,warps=8,qpairs=1024"
)
for ((r = 1; r <= rounds; r++)); do
	for side in a b; do
		bin=$a; [ "$side" = b ] && bin=$b
		for c in "${configs[@]}"; do
			label=${c%%|*}
			AISIO=$bin JSONL="$out/$side-$r.jsonl.part" RUNTIME=${RUNTIME:-2} bash -c '. bench/gpu/common.sh; run "$0" $1' "$label" "${c#*|}"
			cat "$out/$side-$r.jsonl.part" >>"$out/$side-$r.jsonl"
		done
		rm -f "$out/$side-$r.jsonl.part"
	done
done
python3 - "$out" "$rounds" "$a" "$b" <<'PY'
import json, os, statistics, sys
out, rounds, a, b = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def load(side):
    v = {}
    for r in range(1, rounds + 1):
        for line in open(os.path.join(out, f"{side}-{r}.jsonl")):
            d = json.loads(line)
            if "result" in d:
                v.setdefault(d["label"], []).append(d["result"]["total"]["iops"])
    return {k: statistics.median(x) for k, x in v.items()}
A, B = load("a"), load("b")
rows = []
print(f"median of {rounds} rounds: A = {a}, B = {b}")
print(f"{'config':<20} {'A':>10} {'B':>10} {'B/A':>7}")
for k in A:
    rows.append({"config": k, "a_iops": A[k], "b_iops": B.get(k)})
    bb = B.get(k)
    print(f"{k:<20} {A[k]/1e6:9.1f}M " + (f"{bb/1e6:9.1f}M {bb/A[k]:7.3f}" if bb else "    failed"))
json.dump({"a": a, "b": b, "rounds": rounds, "rows": rows}, open(os.path.join(out, "summary.json"), "w"), indent=1)
PY
