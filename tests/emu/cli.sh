#!/usr/bin/env bash
# The aisio command end to end on emulated devices: output, JSON fields, exit codes, errors.
set -u
aisio=$1
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() { # description, then a command that must succeed
  local what=$1; shift
  if "$@" >"$tmp/out" 2>"$tmp/err"; then echo "ok   $what"; else echo "FAIL $what"; cat "$tmp/out" "$tmp/err"; fail=1; fi
}
refuse() { # description, expected stderr text, command that must fail with it
  local what=$1 text=$2; shift 2
  if "$@" >"$tmp/out" 2>"$tmp/err"; then echo "FAIL $what (succeeded)"; fail=1; return; fi
  if grep -q -- "$text" "$tmp/err"; then echo "ok   $what"; else echo "FAIL $what: no '$text' in:"; cat "$tmp/err"; fail=1; fi
}
json_get() { python3 -c "import json,sys; d=json.load(open('$tmp/out')); print(eval('d' + sys.argv[1]))" "$1"; }

truncate -s 32M "$tmp/kimg"
check "version" "$aisio" --version
grep -q '^aisio [0-9]' "$tmp/out" || { echo "FAIL version text"; fail=1; }

check "perf run json" "$aisio" perf run --iopattern randread --qdepth 128 --iosize 512 --runtime 1 --json emu:null
for k in "['total']['iops']" "['total']['mib_s']" "['total']['failed']" "['total']['lat_us']['p50']" \
         "['total']['lat_us']['p99']" "['total']['lat_us']['p999']" "['devices'][0]['name']" "['version']" \
         "['machine']['cpus']" "['date']"; do
  v=$(json_get "$k" 2>/dev/null) || { echo "FAIL json field $k missing"; fail=1; continue; }
done
[ "$(json_get "['total']['failed']")" = 0 ] || { echo "FAIL failed != 0"; fail=1; }
python3 -c "import json; d=json.load(open('$tmp/out')); assert d['total']['iops'] > 0" || { echo "FAIL iops 0"; fail=1; }

check "perf run table, 2 devices, 2 threads, 2 queues, write" "$aisio" perf run --iopattern write --runtime 0.5 \
  --cpulist 0-1 --nqueues 2 --qdepth 16 emu:ram:16M emu:null,threads=2
grep -q '^Total' "$tmp/out" && grep -q 'p99.9' "$tmp/out" || { echo "FAIL table rows"; cat "$tmp/out"; fail=1; }
check "perf run cpumask, sequential read, offset and size" "$aisio" perf run --iopattern read --cpumask 0x1 \
  --runtime 0.3 --offset 1000 --size 800 --iosize 8192 emu:ram:8M,lba=4096
check "perf run inline engine" "$aisio" perf run --runtime 0.3 --iosize 512 emu:null,threads=0

check "perf verify" "$aisio" perf verify emu:ram:64M
grep -q '^verified 131072 LBAs (64 MiB), mismatches 0, failed 0$' "$tmp/out" || { echo "FAIL verify count"; cat "$tmp/out"; fail=1; }
check "perf verify json, 4 KiB LBAs, namespace 2" "$aisio" perf verify --json --nsid 2 emu:ram:16M,lba=4096,ns=2
[ "$(json_get "['mismatches']")" = 0 ] && [ "$(json_get "['verified']")" = 4096 ] || { echo "FAIL verify json"; fail=1; }
[ "$(json_get "['devices'][0]['backend']")" = emu ] || { echo "FAIL verify json backend"; fail=1; }
# the null namespace returns no data: verify must notice
refuse "verify detects missing data" "first mismatching LBA" "$aisio" perf verify --size 64 emu:null
# an injected media error shows as failed blocks
refuse "verify reports failed blocks" "Unrecovered Read Error" "$aisio" perf verify --size 4096 emu:ram:8M,err=1000-1000

refuse "bad flag" "see aisio perf --help" "$aisio" perf run --bogus emu:null
refuse "bad pattern" "--iopattern must be" "$aisio" perf run --iopattern sideways emu:null
refuse "bad qdepth" "--qdepth must be" "$aisio" perf run --qdepth 0 emu:null
refuse "no device" "no device given" "$aisio" perf run
refuse "unknown device" "is not a device" "$aisio" perf run nope
refuse "missing path" "No such file" "$aisio" perf run /nonexistent/aisio
refuse "missing PCI function" "no PCI function" "$aisio" perf run 0000:7f:1f.7
refuse "unknown emu option" "unknown option 'color'" "$aisio" perf run emu:null,color=blue
# an I/O over MDTS is split by the driver: --iosize stays the caller's size, the header says what is on the wire
check "iosize over MDTS is split" "$aisio" perf run --iosize 64K --qdepth 4 --runtime 0.3 emu:ram:8M,mdts=2
grep -q 'on the wire: emu:ram:8M,mdts=2: 4 commands per I/O of up to 16384 bytes' "$tmp/out" || { echo "FAIL wire header"; cat "$tmp/out"; fail=1; }
check "iosize over MDTS, json" "$aisio" perf run --iosize 40K --qdepth 4 --runtime 0.3 --json emu:ram:8M,mdts=2
[ "$(json_get "['devices'][0]['commands_per_io']")" = 3 ] && [ "$(json_get "['devices'][0]['command_bytes']")" = 16384 ] \
  && [ "$(json_get "['total']['failed']")" = 0 ] || { echo "FAIL split json"; cat "$tmp/out"; fail=1; }
check "verify with I/Os over MDTS, 4 KiB LBAs" "$aisio" perf verify --iosize 64K --qdepth 3 emu:ram:16M,mdts=2,lba=4096
grep -q '^verified 4096 LBAs (16 MiB), mismatches 0, failed 0$' "$tmp/out" || { echo "FAIL split verify"; cat "$tmp/out"; fail=1; }
refuse "split I/O over MQES" "4 commands (MDTS 16384 bytes), more than one queue holds (3, CAP.MQES)" \
  "$aisio" perf verify --iosize 64K emu:ram:8M,mdts=2,mqes=3
refuse "qdepth x split over MQES" "--qdepth 16 x 4 commands per I/O" "$aisio" perf run --qdepth 16 --iosize 64K emu:null,mdts=2,mqes=31
refuse "iosize over the kernel path's limit" "exceeds" "$aisio" perf run --iosize 64M "$tmp/kimg"
refuse "iosize not a multiple of the LBA" "not a multiple" "$aisio" perf run --iosize 512 emu:null,lba=4096
refuse "qdepth over MQES" "more than" "$aisio" perf run --qdepth 64 emu:null,mqes=31
refuse "too many queues, checked up front" "1 thread(s) x --nqueues 3 need 3 I/O queue pairs; the controller granted 2" \
  "$aisio" perf run --nqueues 3 --runtime 0.2 emu:null,qpairs=2
# a verify refused before any I/O prints only its error, no count
refuse "refused verify: error only" "not a multiple" "$aisio" perf verify --iosize 1000 emu:ram:8M
[ ! -s "$tmp/out" ] || { echo "FAIL refused verify printed a count:"; cat "$tmp/out"; fail=1; }
refuse "no such namespace" "no active namespace 3" "$aisio" perf run --nsid 3 emu:null
refuse "range past the end" "past the end" "$aisio" perf run --offset 100 --size 100000 emu:ram:1M
refuse "unknown perf verb" "unknown command" "$aisio" perf walk emu:null
refuse "unknown command" "unknown command" "$aisio" frobnicate

# a namespace with a file-system signature is not written without --force
dd if=/dev/zero of="$tmp/img" bs=1M count=4 status=none
printf 'XFSB' | dd of="$tmp/img" conv=notrunc status=none
refuse "write to XFS refused" "carries XFS" "$aisio" perf run --iopattern write --runtime 0.2 "emu:file:$tmp/img"
refuse "verify on XFS refused" "refusing to write" "$aisio" perf verify "emu:file:$tmp/img"
check "reads of an XFS namespace allowed" "$aisio" perf run --iopattern randread --runtime 0.2 "emu:file:$tmp/img"
check "--force writes" "$aisio" perf verify --force "emu:file:$tmp/img"

# kernel paths (io_uring) behind the same flags and output
check "verify on a file through io_uring" "$aisio" perf verify "$tmp/kimg"
grep -q '^verified 65536 LBAs (32 MiB), mismatches 0, failed 0$' "$tmp/out" || { echo "FAIL io_uring verify count"; cat "$tmp/out"; fail=1; }
check "verify json on a file names io_uring" "$aisio" perf verify --json --size 1024 "$tmp/kimg"
[ "$(json_get "['devices'][0]['backend']")" = io_uring ] || { echo "FAIL io_uring verify backend"; fail=1; }
# a run where every command fails counts no IOPS
check "failed commands are not IOPS" sh -c "'$aisio' perf run --runtime 0.3 --json emu:ram:8M,err=0-16383 || true"
python3 -c "import json; d=json.load(open('$tmp/out')); assert d['total']['iops'] == 0 and d['total']['failed'] > 0, d['total']" \
  || { echo "FAIL failed commands counted as IOPS"; fail=1; }
check "run on a file through io_uring, json" "$aisio" perf run --iopattern randwrite --runtime 0.5 --iosize 4096 --json "$tmp/kimg"
[ "$(json_get "['devices'][0]['backend']")" = io_uring ] && [ "$(json_get "['total']['failed']")" = 0 ] || { echo "FAIL io_uring json"; fail=1; }
refuse "kernel and user-space paths in one run" "not both" "$aisio" perf run --runtime 0.2 "$tmp/kimg" emu:null

# --mem dmabuf:fd:N: data buffers in the memory an inherited fd holds (a plain file stands in for a dma-buf
# here: its size by lseek, a shared mmap; the real exporters run in the vm-p2p scenarios)
truncate -s 8M "$tmp/dmabuf"
check "perf verify, buffers in a dma-buf fd" sh -c "exec 5<>'$tmp/dmabuf'; '$aisio' perf verify --size 4096 --iosize 64K --mem dmabuf:fd:5 emu:ram:16M"
grep -q 'mismatches 0, failed 0' "$tmp/out" || { echo "FAIL verify through the dma-buf fd"; cat "$tmp/out"; fail=1; }
[ "$(tr -d '\0' <"$tmp/dmabuf" | head -c 1 | wc -c)" = 1 ] || { echo "FAIL no data in the dma-buf fd's memory"; fail=1; }
check "perf run, buffers in a dma-buf fd" sh -c "exec 5<>'$tmp/dmabuf'; '$aisio' perf run --runtime 0.3 --iosize 16K --mem dmabuf:fd:5 emu:null"
refuse "--mem dmabuf on a kernel path" "need the user-space driver" sh -c "exec 5<>'$tmp/dmabuf'; '$aisio' perf run --runtime 0.2 --mem dmabuf:fd:5 '$tmp/kimg'"
refuse "--mem with two devices" "takes one device" "$aisio" perf run --mem dmabuf:fd:5 emu:null emu:null
refuse "--mem of no such fd" "fd 57 is not open" "$aisio" perf run --mem dmabuf:fd:57 emu:null
refuse "--mem bad value" "must be host, dmabuf:SOURCE or cuda" "$aisio" perf run --mem gpu emu:null
refuse "--mem bad source" "want udmabuf" "$aisio" perf run --mem dmabuf:nothing emu:null

check "help lists emu options" "$aisio" perf --help
grep -q 'fatal_after' "$tmp/out" || { echo "FAIL help text"; fail=1; }

# SIGINT stops a long run cleanly with results
"$aisio" perf run --runtime 60 emu:null >"$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 1; kill -INT $pid; wait $pid; rc=$?
if grep -q '^Total' "$tmp/out" && grep -q 'stopped by signal' "$tmp/err"; then echo "ok   SIGINT"; else echo "FAIL SIGINT rc=$rc"; cat "$tmp/out" "$tmp/err"; fail=1; fi
exit $fail
