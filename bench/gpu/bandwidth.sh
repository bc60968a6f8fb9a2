#!/usr/bin/env bash
# figure: GB/s of reads from a pinned-host-memory namespace (gpuemu:host) into GPU memory, 4 KiB to 1 MiB, against cudaMemcpy 64 MiB pinned->GPU measured in the same run
# usage: JSONL=out.jsonl bench/gpu/bandwidth.sh   (AISIO=path/to/aisio, RUNTIME=seconds)
set -u
cd "$(dirname "$0")/../.."
. bench/gpu/common.sh
: >"$JSONL"
DEV="gpuemu:host:2G,sms=${BW_SMS:-16},warps=8,qpairs=1024,mdts=8"
for bs in 4K 16K 64K 256K 1M; do
	case $bs in 4K|16K) qd=32 ;; 64K) qd=16 ;; 256K) qd=8 ;; 1M) qd=4 ;; esac
	run "host-ns read $bs q=128 qd=$qd" --ceiling --api thread --iopattern randread --iosize $bs --nqueues 128 --qdepth $qd "$DEV"
done
run "host-ns read 1M q=128 qd=8" --ceiling --api thread --iopattern randread --iosize 1M --nqueues 128 --qdepth 8 "$DEV"
# the same into GPU memory from an HBM namespace (no PCIe): the engine's own copy ceiling
run "hbm-ns read 1M q=128 qd=4" --api thread --iopattern randread --iosize 1M --nqueues 128 --qdepth 4 "gpuemu:hbm:2G,sms=${BW_SMS:-16},warps=8,qpairs=1024,mdts=8"
python3 bench/gpu/table.py "$JSONL"
