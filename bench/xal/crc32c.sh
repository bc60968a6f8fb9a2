#!/usr/bin/env bash
# figure: CRC32c GB/s on XFS metadata block sizes (512 B inodes to 64 KiB blocks): the library's (ISA-L or SSE4.2) vs one SSE4.2 stream vs a table
# usage: bench/xal/crc32c.sh [BUILD]   (default build/); appends the JSON to bench/xal/results/<host>-<date>/crc32c.json
set -euo pipefail
cd "$(dirname "$0")/../.."
b=${1:-build}
out=bench/xal/results/$(hostname -s)-$(date -u +%Y%m%d)
mkdir -p "$out"
"$b/bench/xal/crc32c"
"$b/bench/xal/crc32c" --json >> "$out/crc32c.json"
