#!/usr/bin/env bash
# figure: the round trip between two processes' kernels on one GPU (a homid GPU client and the daemon's
# engine): bench/gpu/ipc-timeslice server + client, N round trips; also how long the server's
# cudaIpcOpenMemHandle / cudaIpcCloseMemHandle take while its persistent kernel runs.
# usage: bench/gpu/ipc_timeslice.sh OUTDIR [N]     (GPU machine; build-gpu built)
set -u -o pipefail
cd "$(dirname "$0")/../.."
OUTDIR=${1:?usage: ipc_timeslice.sh OUTDIR [N]}
N=${2:-2000}
EXE=${BUILD_GPU:-build-gpu}/bench/gpu/ipc-timeslice
mkdir -p "$OUTDIR"
dir=$(mktemp -d)
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	nvidia-smi --query-gpu=name,compute_mode --format=csv,noheader 2>&1 | head -1 | sed 's/^/gpu, compute mode: /'
	echo "mps: $(pgrep -l nvidia-cuda-mps || echo none)"
} >"$OUTDIR/ipc-timeslice.txt"
timeout 150 "$EXE" server "$dir" >"$dir/server.json" 2>"$dir/server.err" &
spid=$!
timeout 120 "$EXE" client "$dir" "$N" >"$dir/client.json" 2>"$dir/client.err"
crc=$?
touch "$dir/stop"
wait $spid
src=$?
{
	echo "client rc $crc: $(cat "$dir/client.json") $(cat "$dir/client.err")"
	echo "server rc $src: $(cat "$dir/server.json") $(cat "$dir/server.err")"
} >>"$OUTDIR/ipc-timeslice.txt"
cat "$dir/client.json" "$dir/server.json" >"$OUTDIR/ipc-timeslice.jsonl"
cat "$OUTDIR/ipc-timeslice.txt"
rm -rf "$dir"
# the server ends by alarm when cudaIpcCloseMemHandle waits for its kernel (the finding): the client decides
[ $crc -eq 0 ]
