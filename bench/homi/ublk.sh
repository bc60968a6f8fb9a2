#!/bin/bash
# ublk against the kernel nvme driver on one namespace, in a QEMU guest (TCG, 6.12): fio 4 KiB randread QD32
# on /dev/ublkb0 (homid on controller 1) and on /dev/nvmeXn1 (controller 2 of the same nvme-subsys, kernel
# driver), twice each; prints each run, the IOPS ratio and homid's CPU time per I/O. Absolute numbers mean
# little under TCG: the ratio is the figure. Not in CI (tests/vm/vmtest.py ublk-bench).
#   bench/homi/ublk.sh [BUILD]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-${AISIO_BUILD:-$here/build}}
"$here/tests/vm/vmtest.py" --build "$build" --kernel 6.12 ublk-bench
log=$build/tests/vm/logs/ublk-bench-6.12.log
grep '^@@BENCH' "$log" | awk '
	{ sub(/^@@BENCH /, ""); print; n[$1]++; iops[$1] += $3; ios[$1] += $5; cpu[$1] += $7 }
	END {
		if (!n["ublk"] || !n["kernel"]) exit 1
		u = iops["ublk"] / n["ublk"]; k = iops["kernel"] / n["kernel"]
		printf "ublk/kernel IOPS: %.0f / %.0f = %.2f\n", u, k, u / k
		printf "homid CPU per ublk I/O: %.1f us (%.2f s for %d I/Os)\n", cpu["ublk"] / ios["ublk"] * 1e6, cpu["ublk"], ios["ublk"]
	}'
