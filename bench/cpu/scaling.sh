#!/usr/bin/env bash
# figure: IOPS scaling with 1, 2, 4 submitting threads, 512 B randread, QD 128, null namespaces
# usage: bench/cpu/scaling.sh [OUTDIR] [QUEUES_PER_THREAD]
# Thread t runs on CPU t. There are QUEUES_PER_THREAD emulated controllers, each
# with one engine thread per submitting thread; every thread gets one queue on
# each controller, and queue k of a controller is served by its engine k, so each
# queue has an engine of its own (engines take the remaining CPUs).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
aisio=${AISIO:-$here/build/tools/aisio}
out=${1:-$here/bench/results/$(hostname -s)-$(date -u +%Y%m%d)}
qpt=${2:-2}
runtime=${RUNTIME:-5}
mkdir -p "$out"
ncpu=$(nproc)
printf '%-8s %-8s %14s %16s\n' threads queues IOPS IOPS_per_thread
for t in 1 2 4; do
  need=$(( t + t * qpt ))
  if [ "$need" -gt "$ncpu" ]; then echo "$t threads x $qpt queues need $need CPUs, have $ncpu: skipped"; continue; fi
  devs=()
  for ((i = 0; i < qpt; i++)); do devs+=("emu:null,threads=$t,dstrd=4"); done
  json=$("$aisio" perf run --iopattern randread --iosize 512 --qdepth 128 --runtime "$runtime" \
    --cpulist "0-$((t - 1))" --json "${devs[@]}")
  echo "$json" >> "$out/scaling.jsonl"
  python3 - "$t" "$((t * qpt))" "$json" <<'PY'
import json, sys
t, q, d = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
print(f"{t:<8} {q:<8} {d['total']['iops']:14.0f} {d['total']['iops'] / t:16.0f}")
PY
done
echo "results: $out/scaling.jsonl"
