#!/usr/bin/env bash
# figure: the homid figures on the 16-core GPU test machine in one go (connect to a usable queue pair, client vs local, 8 clients)
# usage: bench/homi/run-on-gpu-machine.sh OUTDIR
# That machine has no network: libinih is installed from .debs/ (apt-get download libinih-dev libinih1
# here, carried along) when missing. Builds without CUDA in build-bench.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?OUTDIR}
mkdir -p "$out"
cd "$here"
pkg-config --exists inih || { ls .debs/*.deb >/dev/null 2>&1 && dpkg -i .debs/*.deb >/dev/null; } || { echo "no libinih"; exit 1; }
meson setup build-bench -Dcuda=disabled >/dev/null && ninja -C build-bench >/dev/null || exit 1
export AISIO_BUILD=$here/build-bench
{ nproc; lscpu | grep -E 'Model name|Socket|Thread|NUMA node\(s\)'; uname -r; date -u; } > "$out/machine.txt"
bench/homi/connect.sh "$out/connect" 500
bench/homi/client_vs_local.sh "$out/client_vs_local" 7 3
bench/homi/clients.sh "$out/clients" 8 5 4
bench/homi/clients.sh "$out/clients-8eng" 8 5 8
