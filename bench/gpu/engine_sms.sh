#!/usr/bin/env bash
# figure: emulator SMs versus IOPS (512 B, gpuemu:null, owned and warp API) and GB/s (64 KiB reads from gpuemu:host): the driver's own cost shows where adding engine SMs stops helping
# usage: JSONL=out.jsonl bench/gpu/engine_sms.sh   (AISIO=path/to/aisio, RUNTIME=seconds)
set -u
cd "$(dirname "$0")/../.."
. bench/gpu/common.sh
: >"$JSONL"
for sms in 1 2 4 8 16 33 48; do
	run "owned q=264 eng=${sms}x8 512B" --api owned --iosize 512 --nqueues 264 "gpuemu:null,sms=$sms,warps=8,qpairs=1024"
done
for sms in 2 8 16 33; do
	run "warp q=132 qd=64 eng=${sms}x8 512B" --api warp --iosize 512 --nqueues 132 --qdepth 64 "gpuemu:null,sms=$sms,warps=8,qpairs=1024"
done
for sms in 1 2 4 8 16 32 48; do
	run "host-ns 64K q=128 qd=16 eng=${sms}x8" --api thread --iosize 64K --nqueues 128 --qdepth 16 "gpuemu:host:2G,sms=$sms,warps=8,qpairs=1024"
done
python3 bench/gpu/table.py "$JSONL"
