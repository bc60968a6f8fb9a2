# Shared by the bench/gpu scripts: run `aisio perf cuda-run --json`, keep each JSON object (with the
# command that made it) as one line of $JSONL, print a table at the end (table.py).
AISIO=${AISIO:-build-gpu/tools/aisio}
RUNTIME=${RUNTIME:-2}
: "${JSONL:?set JSONL to the output file}"

# run LABEL ARGS... : one cuda-run; a failed or hung run is recorded as an error line, not fatal
run() {
	local label=$1
	shift
	local cmd="$AISIO perf cuda-run --json --runtime $RUNTIME $*"
	local out rc
	out=$(timeout $((RUNTIME + 60)) $cmd 2>/tmp/bench-gpu-err)
	rc=$?
	if [ $rc -eq 0 ] && [ -n "$out" ]; then
		printf '{"label":"%s","cmd":"%s","result":%s}\n' "$label" "$cmd" "$out" >>"$JSONL"
	else
		printf '{"label":"%s","cmd":"%s","error":"rc %d: %s"}\n' "$label" "$cmd" "$rc" \
			"$(tr '"\n' "' " </tmp/bench-gpu-err | cut -c1-300)" >>"$JSONL"
	fi
	echo "$label rc=$rc"
}
