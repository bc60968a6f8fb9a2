#!/bin/sh
# usage: sanitize.sh TOOL AISIO cuda-verify-options... DEVICE: aisio perf cuda-verify under compute-sanitizer
# --tool TOOL (racecheck, synccheck); passes when the verify passes and the tool reports no hazard or error.
# Skipped (77) without a GPU or without compute-sanitizer. The device should use engine=fused: the
# sanitizer serializes kernels, so a separate engine kernel would never run beside the job.
tool=$1
aisio=$2
shift 2
cs=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
[ -n "$cs" ] || { echo "skip: no compute-sanitizer"; exit 77; }
[ -e /dev/nvidia0 ] || { echo "skip: no GPU (/dev/nvidia0)"; exit 77; }
out=$("$cs" --tool "$tool" --error-exitcode 9 "$aisio" perf cuda-verify "$@" 2>&1)
rc=$?
printf '%s\n' "$out" | tail -n 15
[ $rc -eq 3 ] && exit 77
[ $rc -eq 0 ] || { echo "FAIL: exit status $rc"; exit 1; }
printf '%s\n' "$out" | grep -Eq '^verified [1-9][0-9]* LBAs .*mismatches 0, failed 0$' || { echo "FAIL: no clean verify line"; exit 1; }
printf '%s\n' "$out" | grep -Eq '(RACECHECK SUMMARY: 0 hazards|ERROR SUMMARY: 0 errors)' || { echo "FAIL: the sanitizer's summary is not clean"; exit 1; }
