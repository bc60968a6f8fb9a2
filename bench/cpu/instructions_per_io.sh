#!/usr/bin/env bash
# figure: instructions per I/O of the submitting thread, driver code only (callgrind, inline emu, 512 B, QD 128)
# usage: bench/cpu/instructions_per_io.sh [OUTDIR]
# Counts instructions, not time: repeatable on any x86-64 machine, whatever its load.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
ipo=${IPO:-$here/build/bench/cpu/ipo}
out=${1:-$here/bench/results/$(hostname -s)-$(date -u +%Y%m%d)}
ios=${IOS:-1000000}
mkdir -p "$out"
cg=$(mktemp)
valgrind --tool=callgrind --callgrind-out-file="$cg" "$ipo" "$ios" 128 512 >/dev/null 2>&1
callgrind_annotate "$cg" 2>/dev/null | python3 -c '
import re, sys, json, datetime, platform
ios = int(sys.argv[1])
cost = {}
for line in sys.stdin:
    m = re.match(r"\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(\S+):(\S+)", line)
    if m:
        cost[(m.group(2), m.group(3).split()[0])] = int(m.group(1).replace(",", ""))
# driver code: the hot path in nvmed.h and the ring arithmetic it inlines from nvme_ring.h
drv = sum(v for (f, fn), v in cost.items()
          if f.endswith(("include/aisio/nvmed.h", "include/aisio/nvme_ring.h")) and fn.startswith("drv_"))
loop = sum(v for (f, fn), v in cost.items() if f.endswith("ipo.c") and fn.startswith("drv_"))
emu = sum(v for (f, fn), v in cost.items() if fn.startswith("emu_"))
res = {"figure": "instructions per I/O, driver only", "ios": ios, "driver_per_io": drv / ios,
       "driver_plus_loop_per_io": (drv + loop) / ios, "emulated_controller_per_io": emu / ios,
       "date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), "machine": platform.node()}
print("driver instructions per I/O: %.1f  (with the benchmark loop: %.1f; emulated controller: %.1f)"
      % (res["driver_per_io"], res["driver_plus_loop_per_io"], res["emulated_controller_per_io"]))
print(json.dumps(res))
' "$ios" | tee -a "$out/instructions_per_io.txt"
rm -f "$cg"
