#!/usr/bin/env bash
# figure: one client thread on a granted queue (homi:) against the same thread with a local driver on the same emulated device, alternated; ratio homi / local (target >= 0.95)
# usage: bench/homi/client_vs_local.sh OUTDIR [ROUNDS] [SECONDS]   (default 7 rounds of 3 s)
# The device is emu:null with one engine thread in both cases: inside homid for homi:, inside aisio for
# the local run. aisio perf run, randread, qdepth 64, 4 KiB, one thread (CPU 1 when present), engine elsewhere.
set -euo pipefail
source "$(dirname "$0")/daemon.sh"
out=${1:?OUTDIR}; rounds=${2:-7}; secs=${3:-3}
dev="emu:null,qpairs=8,threads=1,dstrd=10" # the stride homid gives its emulated devices
mkdir -p "$out"
homid_start null0 "$dev"
cpu=(); [ "$(nproc)" -gt 2 ] && cpu=(--cpulist 1)
for ((r = 1; r <= rounds; r++)); do
  "$AISIO" perf run --json --runtime "$secs" "${cpu[@]}" "homi:null0,socket=$HOMI_SOCK" > "$out/homi-$r.json"
  "$AISIO" perf run --json --runtime "$secs" "${cpu[@]}" "$dev" > "$out/local-$r.json"
  echo "round $r: homi $(python3 -c "import json;print(json.load(open('$out/homi-$r.json'))['total']['iops'])") local $(python3 -c "import json;print(json.load(open('$out/local-$r.json'))['total']['iops'])")"
done
python3 - "$out" "$rounds" <<'PY'
import json, os, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
h = [json.load(open(os.path.join(out, f"homi-{r}.json")))["total"]["iops"] for r in range(1, rounds + 1)]
l = [json.load(open(os.path.join(out, f"local-{r}.json")))["total"]["iops"] for r in range(1, rounds + 1)]
s = {"rounds": rounds, "homi_iops_median": statistics.median(h), "local_iops_median": statistics.median(l),
     "ratio": statistics.median(h) / statistics.median(l), "homi": h, "local": l}
print(f"median of {rounds}: homi {s['homi_iops_median']/1e6:.2f}M, local {s['local_iops_median']/1e6:.2f}M, ratio {s['ratio']:.3f}")
json.dump(s, open(os.path.join(out, "summary.json"), "w"), indent=1)
PY
