#!/usr/bin/env bash
# figure: GPU-initiated IOPS at 512 B against gpuemu:null: the three device APIs, varying queues, threads and qdepth
# usage: JSONL=out.jsonl bench/gpu/iops.sh   (AISIO=path/to/aisio, RUNTIME=seconds)
set -u
cd "$(dirname "$0")/../.."
. bench/gpu/common.sh
: >"$JSONL"
SM=$(nvidia-smi --query-gpu=multiprocessor_count --format=csv,noheader 2>/dev/null | head -1)
SM=${SM:-132}
# owned: one warp per queue, no atomics; engine: one warp per queue too (sms x 8 warps >= queues)
for nq in 33 66 132 264; do
	sms=$(((nq + 7) / 8))
	run "owned q=$nq eng=${sms}x8" --api owned --iosize 512 --nqueues $nq --iopattern randread "gpuemu:null,sms=$sms,warps=8,qpairs=1024"
done
# doorbells 128 bytes apart (CAP.DSTRD 5): no two queues' doorbells share a cache line
run "owned q=264 eng=33x8 dstrd=5" --api owned --iosize 512 --nqueues 264 --iopattern randread "gpuemu:null,sms=33,warps=8,qpairs=1024,dstrd=5"
# warp API on shared queues: 32 commands per warp round, 1-4 warps per queue
for nq in 66 132; do
	for qd in 32 64 128; do
		sms=$(((nq + 7) / 8))
		run "warp q=$nq qd=$qd eng=${sms}x8" --api warp --iosize 512 --nqueues $nq --qdepth $qd "gpuemu:null,sms=$sms,warps=8,qpairs=1024"
	done
done
# thread API: every thread submits and waits, qdepth threads per queue
for nq in 66 132; do
	for qd in 32 64 128; do
		sms=$(((nq + 7) / 8))
		run "thread q=$nq qd=$qd eng=${sms}x8" --api thread --iosize 512 --nqueues $nq --qdepth $qd "gpuemu:null,sms=$sms,warps=8,qpairs=1024"
	done
done
# async: 4 commands in flight per thread
run "async q=132 qd=128 tqd=4 eng=17x8" --api async --thread-qd 4 --iosize 512 --nqueues 132 --qdepth 128 "gpuemu:null,sms=17,warps=8,qpairs=1024"
# queues in pinned host memory (system-scope fences, rings over PCIe)
run "warp q=66 qd=64 host-rings eng=9x8" --api warp --queues host --iosize 512 --nqueues 66 --qdepth 64 "gpuemu:null,sms=9,warps=8,qpairs=1024"
python3 bench/gpu/table.py "$JSONL"
