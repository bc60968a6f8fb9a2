#!/usr/bin/env bash
# figure: total IOPS of N homid clients at once (default 8, one thread each) on one daemon-hosted emulated device, against one client alone
# usage: bench/homi/clients.sh OUTDIR [N] [SECONDS] [ENGINE_THREADS]   (default 8 clients, 5 s, 4 engine threads)
set -euo pipefail
source "$(dirname "$0")/daemon.sh"
out=${1:?OUTDIR}; n=${2:-8}; secs=${3:-5}; eng=${4:-4}
mkdir -p "$out"
homid_start null0 "emu:null,qpairs=64,threads=$eng"
"$AISIO" perf run --json --runtime "$secs" "homi:null0,socket=$HOMI_SOCK" > "$out/one.json"
pids=()
for ((i = 1; i <= n; i++)); do
  "$AISIO" perf run --json --runtime "$secs" --seed "$i" "homi:null0,socket=$HOMI_SOCK" > "$out/client-$i.json" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
python3 - "$out" "$n" "$eng" <<'PY'
import json, os, sys
out, n, eng = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
one = json.load(open(os.path.join(out, "one.json")))["total"]["iops"]
each = [json.load(open(os.path.join(out, f"client-{i}.json")))["total"]["iops"] for i in range(1, n + 1)]
s = {"clients": n, "engine_threads": eng, "one_client_iops": one, "total_iops": sum(each), "per_client": each,
     "cpus": os.cpu_count()}
print(f"{n} clients: {sum(each)/1e6:.2f}M IOPS total ({min(each)/1e6:.2f}..{max(each)/1e6:.2f}M each); one alone {one/1e6:.2f}M; {eng} engine threads, {os.cpu_count()} CPUs")
json.dump(s, open(os.path.join(out, "summary.json"), "w"), indent=1)
PY
