#!/bin/sh
# usage: cuda-verify.sh AISIO DEVICE [cuda-verify options]: skipped (77) when there is no GPU. Passes when
# the tool succeeds and prints the line `aisio perf verify` prints, nothing mismatched or failed.
aisio=$1
dev=$2
shift 2
out=$("$aisio" perf cuda-verify "$@" "$dev")
rc=$?
printf '%s\n' "$out"
if [ $rc -eq 3 ]; then
	exit 77 # no usable GPU: the tool said why
fi
[ $rc -eq 0 ] || exit $rc
if ! printf '%s\n' "$out" | grep -Eq '^verified [1-9][0-9]* LBAs \([0-9.]+ [KM]iB\), mismatches 0, failed 0$'; then
	echo "FAIL: no verify line as perf verify prints it"
	exit 1
fi
