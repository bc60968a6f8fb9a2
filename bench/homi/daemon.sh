# Sourced by the homi benchmarks: start homid on a private socket with one device, stop it on exit.
#   homid_start NAME DEVICE_STRING   sets $HOMI_SOCK, $HOMID_PID
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${AISIO_BUILD:-$here/build}
HOMID=${HOMID:-$build/daemon/homid}
AISIO=${AISIO:-$build/tools/aisio}
homid_start() {
  local dir; dir=$(mktemp -d /tmp/homi-bench.XXXXXX)
  HOMI_SOCK=$dir/homid.sock
  printf '[homid]\nsocket = %s\nlog_level = warning\n\n[device %s]\ndevice = %s\n' "$HOMI_SOCK" "$1" "$2" > "$dir/homid.conf"
  "$HOMID" --config "$dir/homid.conf" 2> "$dir/homid.log" &
  HOMID_PID=$!
  for _ in $(seq 100); do [ -S "$HOMI_SOCK" ] && return 0; sleep 0.05; done
  echo "homid did not start:"; cat "$dir/homid.log"; return 1
}
homid_stop() { [ -n "${HOMID_PID:-}" ] && kill "$HOMID_PID" 2>/dev/null && wait "$HOMID_PID" 2>/dev/null; HOMID_PID=; }
trap homid_stop EXIT
