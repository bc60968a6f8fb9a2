#!/usr/bin/env bash
# figure: IOPS of ONE submitting thread, 512 B randread, QD 128, null namespaces, 1..N queues each with its own engine thread
# usage: bench/cpu/iops_one_thread.sh [OUTDIR]   (default bench/results/<host>-<date>)  (QUEUES="1 2 4 8" by default)
# The submitting thread runs on CPU 0; each queue is on its own emulated controller
# with one engine thread, so the submitting thread is the bottleneck. Doorbells are
# 64 bytes apart (dstrd=4) so no two queues share a cache line.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
aisio=${AISIO:-$here/build/tools/aisio}
out=${1:-$here/bench/results/$(hostname -s)-$(date -u +%Y%m%d)}
runtime=${RUNTIME:-5}
mkdir -p "$out"
ncpu=$(nproc)
maxq=$(( ncpu > 9 ? 8 : ncpu - 1 )); [ "$maxq" -ge 1 ] || maxq=1
printf '%-8s %14s %10s %10s\n' queues IOPS p50_us p99_us
for q in ${QUEUES:-1 2 4 8}; do
  [ "$q" -le "$maxq" ] || break
  devs=()
  for ((i = 0; i < q; i++)); do devs+=("emu:null,threads=1,dstrd=4"); done
  json=$("$aisio" perf run --iopattern randread --iosize 512 --qdepth 128 --runtime "$runtime" --cpulist 0 --json "${devs[@]}")
  echo "$json" >> "$out/iops_one_thread.jsonl"
  python3 - "$q" "$json" <<'PY'
import json, sys
q, d = sys.argv[1], json.loads(sys.argv[2])
t = d["total"]
print(f"{q:<8} {t['iops']:14.0f} {t['lat_us']['p50']:10.2f} {t['lat_us']['p99']:10.2f}")
PY
done
echo "results: $out/iops_one_thread.jsonl"
