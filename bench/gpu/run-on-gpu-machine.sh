#!/usr/bin/env bash
# figure: all GPU figures in one go: build, make check-gpu, compute-sanitizer (memcheck, racecheck, synccheck) on small configurations, then owned_breakdown.sh, iops.sh, bandwidth.sh, engine_sms.sh
# usage: bench/gpu/run-on-gpu-machine.sh            (on the GPU test machine; results under $OUT and bench/gpu/results/)
#        STAGES="build test sanitize santrace breakdown iops bw sms" RUNTIME=2 bench/gpu/run-on-gpu-machine.sh
set -u -o pipefail
cd "$(dirname "$0")/../.."
STAGES=${STAGES:-build test sanitize breakdown iops bw sms}
export RUNTIME=${RUNTIME:-2}
B=${BUILD_GPU:-build-gpu}
export AISIO=$B/tools/aisio
OUTDIR=${OUT:-bench/gpu/results/last}
mkdir -p "$OUTDIR"
SUMMARY=$OUTDIR/summary.txt
: >"$SUMMARY"
has() { case " $STAGES " in *" $1 "*) return 0 ;; esac; return 1; }
note() { echo "$*" | tee -a "$SUMMARY"; }

note "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)"
note "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
note "host: $(uname -r), $(nproc) cores"

if has build; then
	t0=$(date +%s)
	# the GPU targets first (the rest of the tree is built after, and may not stop us)
	{ [ -f $B/build.ninja ] || meson setup $B -Dcuda=enabled; } >"$OUTDIR/build.log" 2>&1 &&
		ninja -C $B tools/aisio tests/gpu/gpu_test tests/gpu/gpu_unit bench/gpu/aisio-ablate >>"$OUTDIR/build.log" 2>&1
	rc=$?
	ninja -C $B >>"$OUTDIR/build.log" 2>&1 || note "note: the whole tree did not build (see build.log)"
	note "build: rc $rc in $(($(date +%s) - t0)) s"
	[ $rc -ne 0 ] && { tail -30 "$OUTDIR/build.log"; exit 1; }
fi

if has test; then
	t0=$(date +%s)
	# what `make check-gpu` runs, without rebuilding targets outside the GPU layer
	timeout ${TEST_BOUND:-300} meson test -C $B --suite gpu --no-rebuild --print-errorlogs >"$OUTDIR/tests.log" 2>&1
	rc=$?
	note "check-gpu: rc $rc in $(($(date +%s) - t0)) s"
	grep -E "^ *[0-9]+/[0-9]+ |^(Ok|Fail|Skipped|Timeout): " "$OUTDIR/tests.log" | tee -a "$SUMMARY"
fi

if has sanitize; then
	# slow: scale every bounded wait; small configurations. The GPU engine runs as engine=fused
	# (engine blocks inside each job's launch): compute-sanitizer does not run a kernel beside the
	# persistent engine (see the trace stage below and docs/TESTING.md).
	export AISIO_TIMEOUT_SCALE=${SAN_SCALE:-20}
	S="timeout ${SAN_BOUND:-120} compute-sanitizer --error-exitcode 9"
	V="$AISIO perf cuda-verify --nqueues 2 --qdepth 32 --size 1M"
	F="engine=fused,sms=2"
	for cfg in "memcheck $V --iosize 64K gpuemu:hbm:16M,$F" \
		"memcheck $V --api async --queues host gpuemu:host:16M,$F" \
		"memcheck $V --api owned gpuemu:hbm:16M,$F" \
		"memcheck $V --api warp gpuemu:host:16M,engine=cpu" \
		"racecheck $V --api warp gpuemu:hbm:16M,$F" \
		"racecheck $V --api owned gpuemu:hbm:16M,$F" \
		"synccheck $V --api owned gpuemu:hbm:16M,$F" \
		"synccheck $V --api warp gpuemu:hbm:16M,$F" \
		"racecheck $V --api thread gpuemu:hbm:16M,$F" \
		"synccheck $V --api thread gpuemu:hbm:16M,$F"; do
		tool=${cfg%% *}
		cmd=${cfg#* }
		t0=$(date +%s)
		$S --tool $tool $cmd >"$OUTDIR/san.one" 2>&1
		rc=$?
		{ echo "=== $tool: $cmd"; cat "$OUTDIR/san.one"; } >>"$OUTDIR/sanitizer.log"
		note "compute-sanitizer $tool: rc $rc in $(($(date +%s) - t0)) s: $cmd"
		grep -E "ERROR SUMMARY|RACECHECK SUMMARY|verified" "$OUTDIR/san.one" | tee -a "$SUMMARY"
	done
	rm -f "$OUTDIR/san.one"
	unset AISIO_TIMEOUT_SCALE
fi

if has santrace; then
	# diagnosis: the persistent engine (engine=gpu) under compute-sanitizer, with the host's steps
	# traced, bounded; shows where such a run stands
	t0=$(date +%s)
	AISIO_LOG=debug AISIO_TIMEOUT_SCALE=20 timeout ${TRACE_BOUND:-45} compute-sanitizer --tool memcheck \
		$AISIO perf cuda-verify --nqueues 2 --qdepth 32 --size 1M gpuemu:hbm:16M,sms=2 >"$OUTDIR/santrace.log" 2>&1
	note "santrace (engine=gpu under memcheck): rc $? in $(($(date +%s) - t0)) s"
	grep -E "trace|verified|ERROR" "$OUTDIR/santrace.log" | tee -a "$SUMMARY"
fi

stage() {
	local name=$1 script=$2
	local t0=$(date +%s)
	JSONL=$OUTDIR/$name.jsonl bash bench/gpu/$script >"/tmp/bench-gpu-$name.log" 2>&1
	note "== $name ($script, RUNTIME=$RUNTIME) in $(($(date +%s) - t0)) s"
	python3 bench/gpu/table.py "$OUTDIR/$name.jsonl" | tee -a "$SUMMARY"
}
has breakdown && stage owned_breakdown owned_breakdown.sh
has iops && stage iops iops.sh
has bw && stage bandwidth bandwidth.sh
has sms && stage engine_sms engine_sms.sh

# keep the results in the repository as well (bench/gpu/results/<date>-<gpu>/)
if [ "$OUTDIR" != bench/gpu/results/last ]; then
	gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr ' ' '_')
	dst=bench/gpu/results/$(date -u +%Y%m%d)-${gpu:-nogpu}
	mkdir -p "$dst" && cp "$OUTDIR"/*.jsonl "$OUTDIR"/summary.txt "$dst"/ 2>/dev/null
fi
cat "$SUMMARY"
