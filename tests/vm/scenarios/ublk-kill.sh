# homid killed -9 again and again while fio drives /dev/ublkb0 (raw, no file system) on QEMU's NVMe
# controller (vfio-pci, IOMMU on), each time restarted and re-attached (user recovery): the loop for
# 6.12.95's oops at such a kill (io_fallback_tw; docs/ARCHITECTURE.md, ublk, "Killed under I/O"), with
# the ring keeper checked to hold both queue rings before each kill. UBLK_KILLS cycles (default 10);
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
ublk_conf "" >/tmp/homid.conf # as in the ublk scenario
keepers() { # the ring keepers and what they hold
	for c in /proc/[0-9]*/comm; do
		[ "$(cat "$c" 2>/dev/null)" = homid-keeper ] || continue
		d=${c%/comm}
		echo "keeper ${d#/proc/} (parent $(awk '{print $4}' "$d/stat")): $(ls -l "$d/fd" 2>/dev/null | grep -c io_uring) io_uring fd(s)"
	done
}
stuck_report() { # what is left of the killed daemons, and the kernel's blocked tasks
	for c in /proc/[0-9]*/comm; do
		case "$(cat "$c" 2>/dev/null)" in homid*) ;; *) continue ;; esac
		d=${c%/comm}
		for t in "$d"/task/*; do
			echo "== ${d#/proc/} task ${t##*/} $(cat "$t/comm") state $(awk '{print $3}' "$t/stat")"
			cat "$t/stack" 2>/dev/null
		done
	done
	echo "ublkb0 in flight (read write): $(cat /sys/block/ublkb0/inflight 2>/dev/null)"
	echo w >/proc/sysrq-trigger
	sleep 1
	dmesg -s 1048576 | tail -120 # busybox reads 16 KiB of the log unless told more
}
homid_start /tmp/homid.conf
check "homid (pid $HPID) is up with /dev/ublkb0" ublk_ready
fio --name=load --filename=/dev/ublkb0 --bs=4k --rw=randrw --ioengine=libaio --iodepth=16 --direct=1 \
	--numjobs=2 --time_based --runtime=600 >/tmp/fio.out 2>&1 &
FPID=$!
sleep 2
n=0
while [ $n -lt "$KILLS" ]; do
	n=$((n + 1))
	check "fio is running before kill $n" kill -0 $FPID
	step_out "keeper .*: 2 io_uring fd" keepers
	homid_kill9
	sleep 0.5
	homid_start /tmp/homid.conf
	ublk_ready || stuck_report
	check "homid (pid $HPID) re-attached after kill $n" ublk_ready
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
