# homid killed -9 again and again while fio drives /dev/ublkb0 (raw, no file system) on QEMU's NVMe
# controller (vfio-pci, IOMMU on), each time
# restarted and re-attached (user recovery): the loop for the 6.12 guest kernel's oops at such a
# kill (io_fallback_tw; docs/ARCHITECTURE.md, ublk, "Killed under I/O"). KILLS cycles (default 10);
# an oops panics the guest at once, so the log's last "kill N survived" says how far it got.

KILLS=${UBLK_KILLS:-10}
SOCK=/run/aisio/homid.sock
HPID=
trap 'echo "---- homid log ----"; tail -40 /tmp/homid.log 2>/dev/null; echo "---- end of homid log ----"' EXIT

echo 1 >/proc/sys/kernel/panic_on_oops
[ -f /vmtest/kmod/ublk_drv.ko ] && step insmod /vmtest/kmod/ublk_drv.ko
check "ublk_drv gave /dev/ublk-control" [ -c /dev/ublk-control ]
BDF=$(nvme_bdf 1)
check "an NVMe function is present" [ -n "$BDF" ]
step_out "128 reserved" aisio hugepages --reserve 128
step_out "bound to vfio-pci" aisio bind "$BDF" vfio-pci
# QEMU's controller through vfio-pci, as in the ublk scenario; admin_timeout: TCG on a loaded host
cat >/tmp/homid.conf <<EOF2
[homid]
socket = $SOCK
log = stderr
log_level = info
open_retry = 20
admin_timeout = 60

[device nvme0]
device = $BDF
ublk = 1
ublk_id = 0
ublk_queues = 2
ublk_depth = 32
EOF2
[homid]
socket = $SOCK
log = stderr
log_level = info

[device emu0]
device = emu:ram:64M,threads=1
ublk = 1
ublk_id = 0
ublk_queues = 2
ublk_depth = 32
EOF2
homid_ready() { # homid answers and /dev/ublkb0 is there (bounded, 60 s)
	i=0
	while [ $i -lt 120 ]; do
		kill -0 "$HPID" 2>/dev/null || return 1
		[ -b /dev/ublkb0 ] && aisio homi status >/dev/null 2>&1 && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}
homid_start() {
	homid --config /tmp/homid.conf >>/tmp/homid.log 2>&1 &
	HPID=$!
}
keepers() { # the ring keepers and what they hold
	for c in /proc/[0-9]*/comm; do
		[ "$(cat "$c" 2>/dev/null)" = homid-keeper ] || continue
		d=${c%/comm}
		echo "keeper ${d#/proc/} (parent $(awk '{print $4}' "$d/stat")): $(ls -l "$d/fd" 2>/dev/null | grep -c io_uring) io_uring fd(s)"
	done
}
homid_start
check "homid (pid $HPID) is up with /dev/ublkb0" homid_ready
fio --name=load --filename=/dev/ublkb0 --bs=4k --rw=randrw --ioengine=libaio --iodepth=16 --direct=1 \
	--numjobs=2 --time_based --runtime=600 >/tmp/fio.out 2>&1 &
FPID=$!
sleep 2
n=0
while [ $n -lt "$KILLS" ]; do
	n=$((n + 1))
	check "fio is running before kill $n" kill -0 $FPID
	keepers # which process holds the rings
	kill -9 "$HPID"
	wait "$HPID" 2>/dev/null
	echo "---- homid killed -9 ($n) ----" >>/tmp/homid.log
	sleep 0.5
	homid_start
	check "homid (pid $HPID) re-attached after kill $n" homid_ready
	step_out "re-attached after a restart" sh -c "grep 'ublk 0: namespace 1 as /dev/ublkb0' /tmp/homid.log | tail -1"
	echo "@@ kill $n survived"
	sleep 1
done
kill $FPID
wait $FPID 2>/dev/null
step kill -TERM "$HPID"
step homid_exited
check "/dev/ublkb0 is gone" [ ! -e /dev/ublkb0 ]
echo "@@ $KILLS kills under I/O survived"
