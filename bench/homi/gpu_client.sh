#!/usr/bin/env bash
# figure: a homid GPU client's I/O (its GPU threads on queues in its own GPU memory, served by the daemon's
# engine kernel in another process) against the same run on a gpuemu device in the process itself. No
# target: the two processes' kernels time-slice on the GPU (no MPS), so the round trip is about two
# time slices (bench/gpu/ipc_timeslice.sh measures that alone).
# usage: bench/homi/gpu_client.sh OUTDIR [SECONDS]    (GPU machine; AISIO_BUILD=build-gpu)
set -euo pipefail
source "$(dirname "$0")/daemon.sh"
out=${1:?OUTDIR}; secs=${2:-3}
mkdir -p "$out"
dev="gpuemu:hbm:1G,sms=4,qpairs=32,mqes=1023"
homid_start g0 "$dev"
: > "$out/gpu_client.jsonl"
for api in thread warp; do
  for qd in 64 256; do
    args=(--json --runtime "$secs" --iosize 4K --nqueues 8 --qdepth "$qd" --api "$api")
    printf '{"label":"homi %s qd%s","result":%s}\n' "$api" "$qd" \
      "$("$AISIO" perf cuda-run "${args[@]}" "homi:g0,socket=$HOMI_SOCK")" >> "$out/gpu_client.jsonl"
    printf '{"label":"local %s qd%s","result":%s}\n' "$api" "$qd" \
      "$("$AISIO" perf cuda-run "${args[@]}" "$dev")" >> "$out/gpu_client.jsonl"
  done
done
python3 - "$out/gpu_client.jsonl" <<'PY'
import json, sys
print(f"{'run':24} {'IOPS':>12} {'p50 us':>10} {'p99 us':>10}")
for line in open(sys.argv[1]):
    j = json.loads(line)
    t = j["result"]["total"]
    print(f"{j['label']:24} {t['iops']:12.0f} {t['lat_us']['p50']:10.1f} {t['lat_us']['p99']:10.1f}")
PY
