#!/usr/bin/env bash
# figure: old vs new build on the GPU machine in one run: CPU one-thread IOPS with the bare ring (bench/cpu/ab_one_thread.sh) and GPU owned/warp IOPS (bench/gpu/ab.sh), plus make check-gpu on the new build
# usage: bench/ab-on-gpu-machine.sh OLD_TREE_TAR   (a `git archive` of the old commit; results under $OUT or bench/results/ab-last)
# The new build is this tree (build-gpu); the old one is unpacked and built beside it (build-old).
set -u -o pipefail
cd "$(dirname "$0")/.."
old_tar=${1:?git archive of the old commit}
O=${OUT:-bench/results/ab-last}
mkdir -p "$O"
log() { echo "$*" | tee -a "$O/summary.txt"; }
log "date: $(date -u +%Y-%m-%dT%H:%M:%SZ) host: $(nproc) cores, $(uname -r); gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"
rm -rf /tmp/ab-old && mkdir -p /tmp/ab-old && tar -xf "$old_tar" -C /tmp/ab-old
t0=$(date +%s)
( [ -f build-gpu/build.ninja ] || meson setup build-gpu -Dcuda=enabled >/dev/null ) && ninja -C build-gpu >"$O/build-new.log" 2>&1 &
p1=$!
( cd /tmp/ab-old && meson setup build-old -Dcuda=enabled >/dev/null && ninja -C build-old tools/aisio ) >"$O/build-old.log" 2>&1 &
p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
log "builds: new rc $r1, old rc $r2, $(($(date +%s) - t0)) s"
[ $r1 -eq 0 ] && [ $r2 -eq 0 ] || { tail -20 "$O"/build-*.log; exit 1; }
NEW=$PWD/build-gpu/tools/aisio OLD=/tmp/ab-old/build-old/tools/aisio
if [ "${SKIP_TESTS:-0}" != 1 ]; then
	t0=$(date +%s)
	timeout ${TEST_BOUND:-420} meson test -C build-gpu --suite gpu --suite unit --no-rebuild --print-errorlogs >"$O/tests.log" 2>&1
	log "gpu+unit suites: rc $? in $(($(date +%s) - t0)) s"
	grep -E "^ *[0-9]+/[0-9]+ |^(Ok|Fail|Skipped|Timeout): " "$O/tests.log" | tee -a "$O/summary.txt"
fi
RUNTIME=${GPU_RUNTIME:-2} bench/gpu/ab.sh "$O/gpu" "$OLD" "$NEW" ${ROUNDS:-2} 2>&1 | tail -8 | tee -a "$O/summary.txt"
BARE_RING=$PWD/build-gpu/bench/cpu/bare_ring RUNTIME=${CPU_RUNTIME:-3} bench/cpu/ab_one_thread.sh "$O/cpu" "$OLD" "$NEW" ${ROUNDS:-2} 2>&1 | tail -7 | tee -a "$O/summary.txt"
tar -czf "$O/results.tgz" -C "$O" cpu gpu
