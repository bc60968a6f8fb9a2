# Helpers for the guest side of tests/vm scenarios (busybox sh), sourced before the scenario.
# Each step prints "@@STEP n: command", its output, then "@@STEP n rc=N"; a step that does
# not do what it must prints "@@VMTEST FAILED step n: ..." and ends the scenario. Programs
# run under `timeout`, so a hung one fails its step instead of the whole guest's time bound.

STEP=0
STEP_TIMEOUT=${STEP_TIMEOUT:-90}  # seconds; a program still running then is killed (exit 143)
# Per-command timeout for aisio perf: TCG guests sharing two host cores can stall for
# seconds, longer than the driver's 5 s default; a hang is still caught by STEP_TIMEOUT.
TMO="--timeout-ms 30000"

_step_run() {
	STEP=$((STEP + 1))
	echo "@@STEP $STEP: $*"
	case $(command -v "$1") in
	/*) timeout "$STEP_TIMEOUT" "$@" >/tmp/step.out 2>&1 ;;
	*) "$@" >/tmp/step.out 2>&1 ;; # shell functions and builtins
	esac
	STEP_RC=$?
	[ "$STEP_RC" -eq 143 ] && echo "@@STEP $STEP killed after ${STEP_TIMEOUT} s"
	cat /tmp/step.out
	echo "@@STEP $STEP rc=$STEP_RC"
}

_step_fail() {
	echo "@@VMTEST FAILED step $STEP: $*"
	exit 1
}

# step CMD...: must exit 0.
step() {
	_step_run "$@"
	[ "$STEP_RC" -eq 0 ] || _step_fail "exit $STEP_RC from: $*"
}

# step_out REGEX CMD...: must exit 0 and print a line matching REGEX (grep -E).
step_out() {
	pat=$1
	shift
	_step_run "$@"
	[ "$STEP_RC" -eq 0 ] || _step_fail "exit $STEP_RC from: $*"
	grep -Eq -- "$pat" /tmp/step.out || _step_fail "no output matching '$pat' from: $*"
}

# step_refused REGEX CMD...: must exit non-zero and print a line matching REGEX.
step_refused() {
	pat=$1
	shift
	_step_run "$@"
	[ "$STEP_RC" -ne 0 ] || _step_fail "expected a failure from: $*"
	grep -Eq -- "$pat" /tmp/step.out || _step_fail "no message matching '$pat' from: $*"
}

# check DESCRIPTION TEST-EXPRESSION...: a shell test, as a step of its own.
check() {
	desc=$1
	shift
	STEP=$((STEP + 1))
	echo "@@STEP $STEP: check $desc"
	if "$@"; then
		echo "@@STEP $STEP rc=0"
	else
		echo "@@STEP $STEP rc=1"
		_step_fail "check failed: $desc"
	fi
}

# The PCI address of the n-th (from 1) NVMe function (class 0x010802).
nvme_bdf() {
	n=${1:-1}
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/class)" = 0x010802 ] && echo "${d##*/}"
	done | sed -n "${n}p"
}

# The driver a function is bound to, or "none".
pci_driver() {
	if [ -e /sys/bus/pci/devices/$1/driver ]; then
		basename "$(readlink /sys/bus/pci/devices/$1/driver)"
	else
		echo none
	fi
}

# Bind through sysfs (driver_override, unbind, drivers_probe): independent of `aisio bind`.
sysfs_bind() {
	bdf=$1
	drv=$2
	echo "$drv" >/sys/bus/pci/devices/$bdf/driver_override
	if [ -e /sys/bus/pci/devices/$bdf/driver ]; then
		echo "$bdf" >/sys/bus/pci/devices/$bdf/driver/unbind
	fi
	echo "$bdf" >/sys/bus/pci/drivers_probe
	[ "$(pci_driver $bdf)" = "$drv" ]
}

# Kernel messages about DMA faults (IOMMU) or PCI errors since boot.
dma_faults() {
	dmesg | grep -Ei 'DMAR: \[(DMA|INTR)|DMAR:.*fault|IO_PAGE_FAULT|AER:.*[Ee]rror|nvme.*(timeout|controller is down)'
}

no_dma_faults() {
	! dma_faults
}

# perf_ok: the last step printed `aisio perf run --json`; total IOPS > 0 and nothing failed.
perf_ok() {
	t=$(sed -n 's/.*"total": {\(.*\)/\1/p' /tmp/step.out)
	iops=$(echo "$t" | sed -n 's/.*"iops": \([0-9]*\).*/\1/p')
	failed=$(echo "$t" | sed -n 's/.*"failed": \([0-9]*\).*/\1/p')
	echo "total: iops $iops failed $failed"
	[ -n "$iops" ] && [ "$iops" -gt 0 ] && [ "$failed" = 0 ]
}

# io_suite DEVICE: what every user-space bound controller must get right, through aisio.
# Data is checked with I/O sizes that take each PRP form: PRP1 only (4K), PRP1+PRP2 (8K),
# a PRP list (64K), the largest transfer QEMU allows by default (mdts=7: 512K).
io_suite() {
	dev=$1
	step_out "mn +: QEMU NVMe Ctrl" aisio id-ctrl "$dev"
	step_out '"nsze": [1-9]' aisio id-ns --json "$dev"
	step_out "temperature" aisio smart-log "$dev"
	for sz in 4096 8192 65536 524288; do
		step_out "verified [1-9][0-9]* LBAs \([0-9.]+ [KM]iB\), mismatches 0, failed 0" \
			aisio perf verify $TMO --iosize $sz --qdepth 16 --size 32768 --seed $sz "$dev"
	done
	# A range that wraps every queue many times (CQ phase) at the deepest queue.
	step_out "verified [1-9][0-9]* LBAs \([0-9.]+ [KM]iB\), mismatches 0, failed 0" \
		aisio perf verify $TMO --iosize 4096 --qdepth 255 --offset 65536 --size 65536 "$dev"
	for pat in randread randwrite read write; do
		step aisio perf run $TMO --iopattern $pat --qdepth 32 --iosize 4096 --runtime 2 --json "$dev"
		check "$pat: IOPS > 0 and no failed I/O" perf_ok
	done
	step aisio perf run $TMO --iopattern randread --qdepth 16 --nqueues 2 --runtime 1 --json "$dev"
	check "randread on 2 queues: IOPS > 0 and no failed I/O" perf_ok
	check "no DMA faults in the kernel log" no_dma_faults
}

# wait_aisio_open BDF PID: until `aisio devices` shows the function open by PID (bounded, 20 s).
wait_aisio_open() {
	i=0
	while [ $i -lt 40 ]; do
		aisio devices | grep -q "^$1 .*open (pid $2)" && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}

# pid_wait PID HALF_SECONDS: PID (a child of this shell) exits within the bound; its status in WAIT_RC.
pid_wait() {
	i=0
	while [ $i -lt "$2" ] && kill -0 "$1" 2>/dev/null; do
		sleep 0.5
		i=$((i + 1))
	done
	kill -0 "$1" 2>/dev/null && return 1
	wait "$1"
	WAIT_RC=$?
	return 0
}

# homid_ready [HALF_SECONDS]: homid (pid $HPID) is alive and answers a status request (bounded,
# default 60 s: bring-up under TCG takes a few seconds, more with SR-IOV).
homid_ready() {
	i=0
	while [ $i -lt "${1:-120}" ]; do
		kill -0 "$HPID" 2>/dev/null || return 1
		aisio homi status >/dev/null 2>&1 && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}

# homid (pid $HPID, started by the scenario in this shell) has exited with status 0 (bounded, 30 s).
homid_exited() {
	pid_wait "$HPID" 60 || return 1
	echo "homid exited with status $WAIT_RC"
	[ "$WAIT_RC" -eq 0 ]
}

# ublk scenarios: homid serving namespace 1 of the NVMe function $BDF as /dev/ublkb0 (2 queues of 32), on
# socket $SOCK; EXTRA-LINE goes into the device section.
ublk_conf() { # EXTRA-LINE
	cat <<EOF
[homid]
socket = $SOCK
log = stderr
log_level = info
open_retry = 20
# TCG on a loaded 2-core host: QEMU's controller can take longer than the default 10 s for an admin command
admin_timeout = 60

[device nvme0]
device = $BDF
ublk = 1
ublk_id = 0
ublk_queues = 2
ublk_depth = 32
$1
EOF
}

ublk_ready() { # homid answers and /dev/ublkb0 is there (bounded, 60 s)
	i=0
	while [ $i -lt 120 ]; do
		kill -0 "$HPID" 2>/dev/null || return 1
		[ -b /dev/ublkb0 ] && aisio homi status >/dev/null 2>&1 && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}
homid_start() { # CONFIG
	homid --config "$1" >>/tmp/homid.log 2>&1 &
	HPID=$!
}
homid_kill9() {
	kill -9 "$HPID"
	wait "$HPID" 2>/dev/null
	echo "---- homid killed -9 ----" >>/tmp/homid.log
}
