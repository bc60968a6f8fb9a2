#!/usr/bin/env bash
# figure: where the owned path's time goes: IOPS at 512 B, 264 owned queues on gpuemu:null (33 engine SMs x 8 warps, a warp per queue), the reference owned path with one piece of per-command work left out at a time (driver: SQE fields, request checks + PRPs, completion records, per-CQE fence, per-lane SQE fence, SQHD; engine: fault settings, command decode, serial doorbell reads), then the current path
# usage: JSONL=out.jsonl bench/gpu/owned_breakdown.sh   (AISIO_ABLATE=path/to/aisio-ablate or AISIO=path/to/aisio, RUNTIME=seconds, REPEAT=n)
set -u
cd "$(dirname "$0")/../.."
. bench/gpu/common.sh
# every row runs bench/gpu/aisio-ablate (bench/gpu/meson.build: aisio and its GPU layer built with the ablation
# switches, which the library and aisio lack), the rows without --ablate too: one binary for the whole table
AISIO=${AISIO_ABLATE:-$(dirname "$AISIO")/../bench/gpu/aisio-ablate}
: >"$JSONL"
DEV="gpuemu:null,sms=33,warps=8,qpairs=1024"
O="--api owned --iosize 512 --nqueues 264"
for r in $(seq 1 "${REPEAT:-1}"); do
	run "ref (previous owned path)" $O --ablate ref,serialdb "$DEV"
	for p in sqe prp cpl fence sqfence sqhd; do
		run "ref - $p" $O --ablate $p,serialdb "$DEV"
	done
	run "ref - all six driver pieces" $O --ablate driver,serialdb "$DEV"
	run "ref - engine faults" $O --ablate ref,serialdb,faults "$DEV"
	run "ref - engine decode" $O --ablate ref,serialdb,decode "$DEV"
	run "ref + parallel doorbell reads" $O --ablate ref "$DEV"
	run "ref - driver - engine (near bare ring)" $O --ablate driver,faults,decode "$DEV"
	run "owned (current)" $O "$DEV"
	run "owned (current), serial doorbells" $O --ablate serialdb "$DEV"
	run "owned (current) - engine faults,decode" $O --ablate faults,decode "$DEV"
done
# more engine SMs and more queues, the current path and the reference, twice each (1G is the target)
for r in 1 2; do
	run "owned q=264 eng=48x8" $O "gpuemu:null,sms=48,warps=8,qpairs=1024"
	run "ref q=264 eng=48x8" $O --ablate ref,serialdb "gpuemu:null,sms=48,warps=8,qpairs=1024"
	run "owned q=396 eng=50x8" --api owned --iosize 512 --nqueues 396 "gpuemu:null,sms=50,warps=8,qpairs=1024"
	run "owned q=528 eng=66x8" --api owned --iosize 512 --nqueues 528 "gpuemu:null,sms=66,warps=8,qpairs=1024"
	run "ref q=528 eng=66x8" --api owned --iosize 512 --nqueues 528 --ablate ref,serialdb "gpuemu:null,sms=66,warps=8,qpairs=1024"
done
python3 bench/gpu/table.py "$JSONL"
