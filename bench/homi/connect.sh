#!/usr/bin/env bash
# figure: time from connect to a usable queue pair through homid (connect, list, reg_mem, grant, first I/O; and through bio), median of ROUNDS
# usage: bench/homi/connect.sh OUTDIR [ROUNDS] [DEVICE]   (default 500 rounds, emu:null,qpairs=64)
set -euo pipefail
source "$(dirname "$0")/daemon.sh"
out=${1:?OUTDIR}; rounds=${2:-500}; dev=${3:-emu:null,qpairs=64,threads=1}
mkdir -p "$out"
homid_start null0 "$dev"
"$build/bench/homi/homi-connect" "$HOMI_SOCK" null0 "$rounds" | tee "$out/connect.json"
python3 - "$out/connect.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{'stage':<20} {'median us':>10} {'p90 us':>10}")
for k in ("connect", "list", "reg_mem", "grant", "first_io", "total", "bio_open_queue_io"):
    print(f"{k:<20} {d[k]['median_us']:10.1f} {d[k]['p90_us']:10.1f}")
PY
