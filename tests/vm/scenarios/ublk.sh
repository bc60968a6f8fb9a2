# homid serving namespace 1 of QEMU's NVMe controller (vfio-pci, IOMMU on) to the kernel as
# /dev/ublkb0, with XFS on it: files written and read back through the kernel; homid killed -9 and
# restarted (ublk user recovery) with the file system mounted; a homi: client on its own queue pair
# of the same controller reading those files' blocks (extent service) byte for byte; fio with
# verify while homid is killed -9 and restarted; umount; SIGTERM removes /dev/ublkb0.

BDF=$(nvme_bdf 1)
SOCK=/run/aisio/homid.sock
DEV=homi:nvme0
MNT=/mnt/u
HPID=
trap 'echo "---- homid log ----"; cat /tmp/homid.log 2>/dev/null; echo "---- end of homid log ----"; dmesg | grep -i ublk | tail -20' EXIT

check "an NVMe function is present" [ -n "$BDF" ]
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm # the extent service's shared index
echo 1 >/proc/sys/kernel/panic_on_oops # a kernel oops ends the guest at once, not at the time bound
# 6.1: ublk_drv built out of tree by the harness (6.12 ships it and loads it with the other modules)
[ -f /vmtest/kmod/ublk_drv.ko ] && step insmod /vmtest/kmod/ublk_drv.ko
check "ublk_drv gave /dev/ublk-control" [ -c /dev/ublk-control ]
step_out "128 reserved" aisio hugepages --reserve 128
step_out "bound to vfio-pci" aisio bind "$BDF" vfio-pci
ublk_conf "" >/tmp/homid.conf
ublk_conf "extents = $MNT" >/tmp/homid-extents.conf
step_out "nvme0: namespace 1 as /dev/ublkb0, 2 queue\(s\) of depth 32" homid --config /tmp/homid.conf --check


homid_start /tmp/homid.conf
check "homid (pid $HPID) is up with /dev/ublkb0" ublk_ready
step_out "\(added\): 2 queue\(s\) of 32" grep "ublk 0: namespace 1 as /dev/ublkb0" /tmp/homid.log
step_out "/dev/ublkb0 +nvme0 +1 +2x32 +live .*added by this daemon" aisio homi status
case "$(uname -r)" in
6.1.*) step_out "plain command numbers" grep "no GET_FEATURES" /tmp/homid.log ;; # 6.1 predates GET_FEATURES
*) step_out "ioctl-encoded command numbers" grep "GET_FEATURES answered" /tmp/homid.log ;;
esac
step mkfs.xfs -q -f /dev/ublkb0
mkdir -p $MNT
step mount -t xfs /dev/ublkb0 $MNT

# a tree of files through the kernel, read back after the page cache is dropped
write_tree() {
	mkdir -p $MNT/a/b $MNT/c || return 1
	i=0
	for f in a/f1 a/f2 a/b/f3 a/b/f4 c/f5 c/f6 f7 f8; do
		i=$((i + 1))
		dd if=/dev/urandom of=$MNT/$f bs=4096 count=$((i * 37)) 2>/dev/null || return 1
	done
	dd if=/dev/urandom of=$MNT/c/odd bs=1 count=12345 2>/dev/null || return 1
	sync
	(cd $MNT && find . -type f | sort | xargs md5sum) >/tmp/tree.md5
	cat /tmp/tree.md5
}
tree_same() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	(cd $MNT && md5sum -c /tmp/tree.md5)
}
step write_tree
step tree_same

# fio with verify while homid is killed -9 and restarted in the middle (the new daemon with the extent
# service on the mounted directory): it re-attaches to the quiesced device, the kernel reissues what the
# dead one held, fio finishes with no error, the file system stays mounted. (6.12.95 itself may crash at
# this kill, in the dying queue thread's exit: docs/ARCHITECTURE.md, ublk, "Known kernel limit".)
fio --name=verify --filename=$MNT/fio.dat --size=64M --bs=16k --rw=randwrite --ioengine=libaio --iodepth=8 \
	--direct=1 --verify=crc32c --verify_fatal=1 --randrepeat=1 >/tmp/fio.out 2>&1 &
FPID=$!
fio_running() {
	kill -0 $FPID 2>/dev/null && return 0
	cat /tmp/fio.out
	return 1
}
sleep 2
check "fio is running" fio_running
homid_kill9
check "the file system is still mounted" grep -q " $MNT xfs " /proc/mounts
sleep 1
check "fio waits for the device (still running)" fio_running
homid_start /tmp/homid-extents.conf
check "homid (pid $HPID) is up again under fio" ublk_ready
step_out "re-attached after a restart" grep "ublk 0: namespace 1 as /dev/ublkb0" /tmp/homid.log
# homi status lists it: the kernel's state, and that this daemon re-attached it
step_out '"block_device": "/dev/ublkb0", "device": "nvme0", "nsid": 1, "queues": 2, "depth": 32, .*"state": "live", "recovered": true' aisio homi status --json
fio_done() { # bounded, 90 s; fio exits 0 with no error
	i=0
	while [ $i -lt 180 ] && kill -0 $FPID 2>/dev/null; do
		sleep 0.5
		i=$((i + 1))
	done
	kill -0 $FPID 2>/dev/null && return 1
	wait $FPID
	frc=$?
	cat /tmp/fio.out
	[ $frc -eq 0 ] && grep -q "err= 0" /tmp/fio.out
}
step fio_done
check "the file system is still mounted" grep -q " $MNT xfs " /proc/mounts
check "the kernel logged no I/O error on ublkb0" sh -c "! dmesg | grep -E 'I/O error, dev ublkb0|XFS \(ublkb0\).*(error|shut)'"
step tree_same

# a homi: client on its own queue pair reads the files' blocks (extents from the daemon's shared
# index) and gets what the kernel reads
client_reads() { # FILE
	runs=$(aisio homi extents nvme0 "$1" | sed -n 's/.*: LBA \([0-9]*\) + \([0-9]*\).*/\1:\2/p')
	[ -n "$runs" ] || return 1
	size=$(stat -c %s "$MNT/$1")
	homi-read $DEV $runs | head -c "$size" >/tmp/client.bin || return 1
	cat "$MNT/$1" >/tmp/kernel.bin
	echo "$1: $size bytes in runs $runs"
	cmp /tmp/client.bin /tmp/kernel.bin
}
for f in a/f1 a/b/f4 c/odd f8; do
	step client_reads $f
done
# a client killed -9 mid-I/O: the daemon takes its queue back, the file system keeps working
aisio perf run $TMO --iopattern randread --qdepth 16 --runtime 20 $DEV >/tmp/bg.out 2>&1 &
CPID=$!
sleep 3
step kill -9 $CPID
wait $CPID 2>/dev/null
step tree_same
step sh -c "dd if=/dev/urandom of=$MNT/after-client bs=65536 count=16 2>/dev/null && sync"
# the extent service re-indexes the file just written (inotify): it may hold that file open for a moment
umount_bounded() {
	i=0
	while ! umount $MNT 2>/tmp/umount.err; do
		i=$((i + 1))
		[ $i -lt 20 ] || { cat /tmp/umount.err; return 1; }
		sleep 0.5
	done
	[ $i -eq 0 ] || echo "unmounted after $i retries"
}
step umount_bounded

# SIGTERM: STOP_DEV and DEL_DEV, /dev/ublkb0 gone, exit 0
step kill -TERM "$HPID"
step homid_exited
check "/dev/ublkb0 is gone" [ ! -e /dev/ublkb0 ]
step_out "/dev/ublkb0 removed" grep "ublk 0:" /tmp/homid.log

# Controller errors become block-layer errors, never hangs: homid serves an emulated controller with
# an injected read error (LBAs 2048-2055: 4 KiB block 256) and completions that never come (LBAs
# 4096-4103: block 512) as /dev/ublkb0; direct reads there fail with EIO (the dropped one after its
# ublk_timeout), the blocks around them read, and SIGTERM still removes the device.
cat >/tmp/homid-faults.conf <<EOF2
[homid]
socket = $SOCK
log = stderr
log_level = info

[device emu0]
device = emu:ram:64M,threads=1,err=2048-2055,drop=4096-4103
ublk = 1
ublk_id = 0
ublk_queues = 1
ublk_depth = 8
ublk_timeout = 3
EOF2
: >/tmp/homid.log
homid_start /tmp/homid-faults.conf
check "homid (pid $HPID) serves the emulated controller as /dev/ublkb0" ublk_ready
dd_block() { # BLOCK: one direct 4 KiB read, bounded
	timeout 30 dd if=/dev/ublkb0 of=/dev/null bs=4096 skip="$1" count=1 iflag=direct
}
step dd_block 255
step_refused "Input/output error" dd_block 256
step dd_block 257
step_refused "Input/output error" dd_block 512
step dd_block 513
step_out "sector 2048 .*failed: Input/output error, Unrecovered Read Error" grep "sector 2048" /tmp/homid.log
step_out "sector 4096 .*failed: Connection timed out" grep "sector 4096" /tmp/homid.log
step_out "I/O error, dev ublkb0, sector 2048" dmesg
step_out "I/O error, dev ublkb0, sector 4096" dmesg
step kill -TERM "$HPID"
step homid_exited
check "/dev/ublkb0 is gone" [ ! -e /dev/ublkb0 ]
