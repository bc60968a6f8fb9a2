#!/usr/bin/env bash
# figure: where a per-thread command's time goes as warps per queue grow (issue: GPU many-writer):
# Nsight Compute on the thread API at 132 queues, qdepth 32, 64 and 128, 512 B randread on gpuemu:null
# with engine=fused (the engine blocks ride in the job's launch: ncu serializes launches, so a
# persistent engine kernel would starve the job). Per run: warp-state and scheduler sections, and the
# per-source-line stall samples (source page, CSV), kept under OUTDIR.
# usage: bench/gpu/profile_thread.sh OUTDIR [QDEPTHS]      (GPU machine; build-gpu built)
#        API=async ARGS="--thread-qd 4" bench/gpu/profile_thread.sh OUTDIR 128   (another API: reports API-qdN.*)
set -u -o pipefail
cd "$(dirname "$0")/../.."
OUTDIR=${1:?usage: profile_thread.sh OUTDIR [QDEPTHS]}
QDS=${2:-32 64 128}
AISIO=${AISIO:-build-gpu/tools/aisio}
API=${API:-thread}
NCU=${NCU:-$(command -v ncu || echo /usr/local/cuda/bin/ncu)}
mkdir -p "$OUTDIR"
for qd in $QDS; do
	rep=$OUTDIR/$API-qd$qd
	timeout 400 "$NCU" --target-processes all -k regex:gpu_perf_fused_kernel --launch-count 1 \
		--section WarpStateStats --section SchedulerStats --section SourceCounters --section LaunchStats \
		--import-source yes -f -o "$rep" \
		"$AISIO" perf cuda-run --json --runtime 1 --api "$API" ${ARGS:-} --iosize 512 --nqueues 132 --qdepth "$qd" \
		"gpuemu:null,engine=fused,sms=17,warps=8,qpairs=1024,mqes=4095" >"$rep.run.json" 2>"$rep.ncu.log"
	echo "qd $qd: ncu rc $?"
	"$NCU" -i "$rep.ncu-rep" --page details --print-details all >"$rep.details.txt" 2>&1
	# per SASS instruction: its source line (-lineinfo) and its warp stall samples
	"$NCU" -i "$rep.ncu-rep" --page source --csv --print-source sass,cuda >"$rep.source.csv" 2>&1 ||
		"$NCU" -i "$rep.ncu-rep" --page source --csv --print-source sass >"$rep.source.csv" 2>&1
done
