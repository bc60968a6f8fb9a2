#!/usr/bin/env bash
# figure: all CPU-path figures on the 16-core GPU test machine in one go (build, one-thread IOPS, scaling, instructions)
# usage: bench/cpu/run-on-gpu-machine.sh OUTDIR
# Builds without optional libraries (none are installed there), then runs the
# benchmarks whose figures docs/PERFORMANCE.md quotes for that machine.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?OUTDIR}
mkdir -p "$out"
cd "$here"
meson setup build-bench -Dcuda=disabled >/dev/null && ninja -C build-bench >/dev/null || exit 1
export AISIO=$here/build-bench/tools/aisio IPO=$here/build-bench/bench/cpu/ipo
{ nproc; lscpu | grep -E 'Model name|Socket|Thread|NUMA node\(s\)'; uname -r; date -u; } > "$out/machine.txt"
bench/cpu/iops_one_thread.sh "$out"
bench/cpu/scaling.sh "$out" 2
command -v valgrind >/dev/null && bench/cpu/instructions_per_io.sh "$out" || echo "no valgrind: instructions skipped"
