# Benchmark, not in CI (bench/homi/ublk.sh runs it): fio 4 KiB randread at QD32 on /dev/ublkb0 (homid
# serving namespace 1 from controller 1, on vfio-pci) against the same namespace through controller 2 of the
# same nvme-subsys, left on the kernel nvme driver; homid's CPU time (utime + stime of every thread) per I/O.
# Prints "@@BENCH path iops N ios N cpu_s S" lines.

BDF=$(nvme_bdf 1)
SOCK=/run/aisio/homid.sock
RUNTIME=${RUNTIME:-10}
trap 'echo "---- homid log ----"; cat /tmp/homid.log 2>/dev/null; echo "---- end of homid log ----"' EXIT
check "two NVMe functions" [ -n "$(nvme_bdf 2)" ]
step_out "128 reserved" aisio hugepages --reserve 128
step_out "bound to vfio-pci" aisio bind "$BDF" vfio-pci
KDEV=
for b in /sys/block/nvme*n1; do
	case ${b##*/} in *c*n1) continue ;; esac # a multipath path device, not the namespace's node
	[ -b "/dev/${b##*/}" ] && KDEV=/dev/${b##*/}
done
check "the namespace on the kernel driver: $KDEV" [ -b "$KDEV" ]
printf '[homid]\nsocket = %s\nlog_level = info\n\n[device nvme0]\ndevice = %s\nublk = 1\nublk_queues = 1\nublk_depth = 64\n' \
	"$SOCK" "$BDF" >/tmp/homid.conf
homid --config /tmp/homid.conf >/tmp/homid.log 2>&1 &
HPID=$!
ublk_up() {
	i=0
	while [ $i -lt 120 ]; do
		[ -b /dev/ublkb0 ] && aisio homi status >/dev/null 2>&1 && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}
check "homid is up with /dev/ublkb0" ublk_up
cpu_ticks() { # utime + stime of homid, clock ticks
	awk '{print $14 + $15}' /proc/$HPID/stat
}
bench() { # NAME DEVICE [CPU]
	t0=$(cpu_ticks)
	fio --name=randread --filename=$2 --rw=randread --bs=4k --iodepth=32 --ioengine=libaio --direct=1 \
		--size=256M --runtime=$RUNTIME --time_based --output-format=terse --terse-version=3 >/tmp/fio.terse || return 1
	t1=$(cpu_ticks)
	# terse v3: field 6 read KiB, 8 read IOPS
	kib=$(cut -d';' -f6 /tmp/fio.terse)
	iops=$(cut -d';' -f8 /tmp/fio.terse)
	ios=$((kib / 4))
	hz=100
	echo "@@BENCH $1 iops $iops ios $ios homid_cpu_s $(awk -v a=$t0 -v b=$t1 -v h=$hz 'BEGIN{printf "%.2f", (b - a) / h}')"
}
step bench ublk /dev/ublkb0
step bench kernel "$KDEV"
step bench ublk /dev/ublkb0
step bench kernel "$KDEV"
step kill -TERM $HPID
wait $HPID
