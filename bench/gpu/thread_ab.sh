#!/usr/bin/env bash
# figure: issue 19's targets, old build against new, interleaved: the thread API at 132 queues, qdepth 32-256, async
# and warp at 132 queues, owned at 264, warp with rings in pinned host memory; 512 B randread on gpuemu:null.
# usage: bench/gpu/thread_ab.sh OUTDIR OLD_AISIO NEW_AISIO [ROUNDS]   (RUNTIME seconds per run, default 2)
set -u
out=${1:?OUTDIR}
old=${2:?OLD aisio}
new=${3:?NEW aisio}
rounds=${4:-2}
mkdir -p "$out"
cd "$(dirname "$0")/../.."
for r in $(seq "$rounds"); do
	for qd in 32 64 128 256; do
		for b in old new; do
			AISIO=$([ $b = old ] && echo "$old" || echo "$new") JSONL=$out/$b.jsonl RUNTIME=${RUNTIME:-2} bash -c '
				. bench/gpu/common.sh
				run "thread q=132 qd='"$qd"'" --api thread --iosize 512 --nqueues 132 --qdepth '"$qd"' "gpuemu:null,sms=17,warps=8,qpairs=1024,mqes=4095"
			' >/dev/null
		done
	done
	for b in old new; do
		AISIO=$([ $b = old ] && echo "$old" || echo "$new") JSONL=$out/$b.jsonl RUNTIME=${RUNTIME:-2} bash -c '
			. bench/gpu/common.sh
			run "async q=132 qd=128 tqd=4" --api async --thread-qd 4 --iosize 512 --nqueues 132 --qdepth 128 "gpuemu:null,sms=17,warps=8,qpairs=1024"
			run "warp q=132 qd=128" --api warp --iosize 512 --nqueues 132 --qdepth 128 "gpuemu:null,sms=17,warps=8,qpairs=1024"
			run "owned q=264" --api owned --iosize 512 --nqueues 264 --iopattern randread "gpuemu:null,sms=33,warps=8,qpairs=1024"
			run "warp q=66 qd=64 host rings" --api warp --queues host --iosize 512 --nqueues 66 --qdepth 64 "gpuemu:null,sms=9,warps=8,qpairs=1024"
			run "warp q=264 qd=128 host rings" --api warp --queues host --iosize 512 --nqueues 264 --qdepth 128 "gpuemu:null,sms=33,warps=8,qpairs=1024"
		' >/dev/null
	done
done
python3 - "$out" <<'PY'
import json, sys, collections
out = sys.argv[1]
best = collections.defaultdict(dict)
for b in ("old", "new"):
    for line in open(f"{out}/{b}.jsonl"):
        j = json.loads(line)
        if "result" not in j:
            best[j["label"]].setdefault(b, "error: " + j.get("error", "")[:80])
            continue
        iops = j["result"]["total"]["iops"]
        prev = best[j["label"]].get(b)
        if not isinstance(prev, float) or iops > prev:
            best[j["label"]][b] = float(iops)
print("| run | old IOPS (M) | new IOPS (M) | new/old |")
print("|---|---|---|---|")
for label, d in best.items():
    o, n = d.get("old"), d.get("new")
    if isinstance(o, float) and isinstance(n, float):
        print(f"| {label} | {o / 1e6:.1f} | {n / 1e6:.1f} | {n / o:.2f} |")
    else:
        print(f"| {label} | {o} | {n} | |")
PY
