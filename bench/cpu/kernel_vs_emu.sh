#!/usr/bin/env bash
# figure: 4 KiB randread IOPS per CPU second: aisio on emu:ram and emu:null vs fio io_uring on a loop device over tmpfs
# usage: bench/cpu/kernel_vs_emu.sh [OUTDIR]     (root: loop device; needs fio)
# One submitting thread each, QD 128, same run. "machine CPU" is the busy time of
# all CPUs from /proc/stat during the run: for fio it includes the loop device's
# kernel workers, for aisio the emulated controller's engine thread (which stands
# in for the device and would cost no host CPU with real hardware).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
aisio=${AISIO:-$here/build/tools/aisio}
out=${1:-$here/bench/results/$(hostname -s)-$(date -u +%Y%m%d)}
runtime=${RUNTIME:-10}
mkdir -p "$out"
. "$here/bench/lib/loopdev.sh"
loopdev_setup 2G
measure() { # name, command...
  local name=$1; shift
  local b0=$(busy)
  "$@" > "$work/out.json"
  local b1=$(busy)
  python3 - "$here/bench/lib" "$name" "$work/out.json" "$(( b1 - b0 ))" "$hz" <<'PY' | tee -a "$out/kernel_vs_emu.jsonl"
import json, sys
sys.path.insert(0, sys.argv[1])
import run_cost
name = sys.argv[2]
r = run_cost.read(sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
ios = r["iops"] * r["runtime_s"]
thread_cpu, machine_cpu = r["thread_cpu_s"], r["machine_cpu_s"]
print(json.dumps({"name": name, "iops": r["iops"], "runtime_s": r["runtime_s"], "submit_thread_cpu_s": thread_cpu,
                  "machine_cpu_s": machine_cpu, "iops_per_submit_cpu_s": ios / thread_cpu if thread_cpu else None,
                  "iops_per_machine_cpu_s": ios / machine_cpu if machine_cpu else None}))
PY
}
measure "fio io_uring loop/tmpfs" fio --name=k --filename="$dev" --ioengine=io_uring --direct=1 --rw=randread --bs=4k \
  --iodepth=128 --numjobs=1 --time_based --runtime="$runtime" --registerfiles --fixedbufs --output-format=json
measure "aisio emu:ram" "$aisio" perf run --iopattern randread --iosize 4096 --qdepth 128 --runtime "$runtime" \
  --cpulist 0 --json emu:ram:1G,threads=1
measure "aisio emu:null" "$aisio" perf run --iopattern randread --iosize 4096 --qdepth 128 --runtime "$runtime" \
  --cpulist 0 --json emu:null,threads=1
echo "results: $out/kernel_vs_emu.jsonl"
