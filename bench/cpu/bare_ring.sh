#!/usr/bin/env bash
# figure: IOPS of the bare ring (one thread, no driver logic: bench/cpu/bare_ring.c), 512 B reads, QD 128, null namespaces, 1..N queues each with its own engine thread
# usage: bench/cpu/bare_ring.sh [OUTDIR]   (BARE_RING=path to the binary; default build/bench/cpu/bare_ring)
# Same controllers, queue depth, CPU pinning and queue counts as iops_one_thread.sh, so
# the two tables divide into aisio / bare ring.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
bare=${BARE_RING:-$here/build/bench/cpu/bare_ring}
out=${1:-$here/bench/results/$(hostname -s)-$(date -u +%Y%m%d)}
runtime=${RUNTIME:-5}
mkdir -p "$out"
ncpu=$(nproc)
maxq=$(( ncpu > 9 ? 8 : ncpu - 1 )); [ "$maxq" -ge 1 ] || maxq=1
printf '%-8s %14s\n' queues IOPS
for q in ${QUEUES:-1 2 4 8}; do
  [ "$q" -le "$maxq" ] || break
  devs=()
  for ((i = 0; i < q; i++)); do devs+=("emu:null,threads=1,dstrd=4"); done
  json=$("$bare" --runtime "$runtime" --qdepth 128 --cpu 0 "${devs[@]}")
  echo "$json" >> "$out/bare_ring.jsonl"
  python3 -c 'import json,sys; d=json.loads(sys.argv[2]); print("%-8s %14.0f" % (sys.argv[1], d["iops"]))' "$q" "$json"
done
echo "results: $out/bare_ring.jsonl"
