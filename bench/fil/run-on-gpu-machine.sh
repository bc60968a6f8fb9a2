#!/usr/bin/env bash
# figure: fil into GPU memory on the GPU test machine in one go: build with CUDA, the GPU fil test, then
# bench/fil/gpu.sh. usage: bench/fil/run-on-gpu-machine.sh OUTDIR [IMAGENET_SCALE] [TIKTOK_SCALE]
# That machine has no network: libinih and liburing come from .debs/ (apt-get download libinih-dev libinih1
# liburing-dev liburing2 here, carried along) when missing.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?OUTDIR}
mkdir -p "$out"
cd "$here"
{ pkg-config --exists inih && pkg-config --exists liburing; } || { ls .debs/*.deb >/dev/null 2>&1 && dpkg -i .debs/*.deb >/dev/null; }
t0=$(date +%s)
meson setup build-gpu >"$out/setup.txt" 2>&1 && ninja -C build-gpu >"$out/build.txt" 2>&1 || { tail -n 40 "$out/build.txt"; exit 1; }
echo "built in $(($(date +%s) - t0)) s"
{ nvidia-smi -L; nproc; lscpu | grep -E 'Model name'; uname -r; date -u; } >"$out/machine.txt" 2>&1
meson test -C build-gpu --no-rebuild --print-errorlogs gpu-fil fil-torch >"$out/test.txt" 2>&1
echo "gpu-fil and fil-torch tests: rc $?"
cat build-gpu/meson-logs/testlog.txt >"$out/testlog.txt"
grep -E "^(ok|FAIL|dataset|gds|skip|cuda|aisio-gpu part)|aisio:.*(OK|FAIL|SKIP)" "$out/testlog.txt"
export AISIO_BUILD=$here/build-gpu
bench/fil/gpu.sh "$out/bench" "${2:-0.02}" "${3:-0.04}"
