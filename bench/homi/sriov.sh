#!/bin/bash
# SR-IOV in a QEMU guest (TCG, 6.1): fio 4 KiB randread QD32 on the PF through the kernel nvme driver against
# aisio perf (4 KiB randread QD32) on a VF that homid brought up and granted to it, the same namespace, twice
# each; prints each run and the IOPS ratio. Absolute numbers mean little under TCG: the ratio is the figure.
# Not in CI (tests/vm/vmtest.py homi-sriov-bench).
#   bench/homi/sriov.sh [BUILD]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-${AISIO_BUILD:-$here/build}}
"$here/tests/vm/vmtest.py" --build "$build" --kernel 6.1 homi-sriov-bench
log=$build/tests/vm/logs/homi-sriov-bench.log
grep '^@@BENCH' "$log" | awk '
	{ sub(/^@@BENCH /, ""); print; n[$1]++; iops[$1] += $3 }
	END {
		if (!n["vf-homi"] || !n["pf-kernel"]) exit 1
		v = iops["vf-homi"] / n["vf-homi"]; k = iops["pf-kernel"] / n["pf-kernel"]
		printf "VF (homid, aisio perf) / PF (kernel, fio) IOPS: %.0f / %.0f = %.2f\n", v, k, v / k
	}'
