#!/bin/sh
# usage: cuda-verify.sh AISIO DEVICE [cuda-verify options]: skipped (77) when there is no GPU.
aisio=$1
dev=$2
shift 2
"$aisio" perf cuda-verify "$@" "$dev"
rc=$?
if [ $rc -eq 3 ]; then
	exit 77 # no usable GPU: the tool said why
fi
exit $rc
