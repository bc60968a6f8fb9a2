# Kernel I/O paths and the switch between them and the user-space driver, on one namespace
# (64 MiB, 131072 LBAs of 512 bytes):
#  1. io_uring on the block device /dev/nvme0n1 (O_DIRECT): aisio perf verify and run.
#  2. NVMe passthrough (io_uring_cmd) on the generic char device /dev/ng0n1: the same, and
#     NVMe error statuses from the device reaching the caller (vm-kio-status errors).
#  3. Data written on the kernel paths, the function unbound from nvme and bound to
#     vfio-pci, read back through the user-space driver; new data written there, bound back
#     to nvme, read through /dev/nvme0n1 and /dev/ng0n1; every byte compared.
#
# Layout (LBAs):        0..16383  aisio perf verify stamps, seed 21, via /dev/nvme0n1
#                   32768..40959  4 MiB random (seed 31), vm-kio-status via /dev/nvme0n1
#                   49152..51199  1 MiB random (seed 32), vm-kio-status via /dev/ng0n1
#                   65536..73727  4 MiB random (seed 41), vm-nvme-rw via the user-space driver
#                   81920..98303  aisio perf verify stamps, seed 51, via the user-space driver

BDF=$(nvme_bdf 1)
NLBA=131072
check "an NVMe function is present" [ -n "$BDF" ]
check "bound to nvme" [ "$(pci_driver $BDF)" = nvme ]

# wait_dev TEST PATH: until `[ TEST PATH ]` holds (bounded, 10 s); probing and rebinding
# create the nodes asynchronously.
wait_dev() {
	i=0
	while [ $i -lt 20 ]; do
		[ "$1" "$2" ] && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}
check "/dev/nvme0n1 is a block device" wait_dev -b /dev/nvme0n1
check "/dev/ng0n1 is a char device" wait_dev -c /dev/ng0n1
step cat /sys/class/nvme-generic/ng0n1/dev /sys/block/nvme0n1/queue/max_hw_sectors_kb

# ---- 1. io_uring on the block device --------------------------------------------------------------------------

step_out "verified 32768 LBAs \(.*\), mismatches 0, failed 0" aisio perf verify $TMO --size 32768 --seed 3 /dev/nvme0n1
step_out "verified 8192 LBAs \(.*\), mismatches 0, failed 0" aisio perf verify $TMO --iosize 65536 --offset 65536 --size 8192 --seed 4 /dev/nvme0n1
step_out '"backend": "io_uring"' aisio perf run $TMO --iopattern randread --runtime 1 --json /dev/nvme0n1
check "randread on /dev/nvme0n1: IOPS > 0 and no failed I/O" perf_ok
step_out '"backend": "io_uring"' aisio perf run $TMO --iopattern randwrite --qdepth 16 --runtime 1 --json /dev/nvme0n1
check "randwrite on /dev/nvme0n1: IOPS > 0 and no failed I/O" perf_ok
step_refused "past the end of" aisio perf verify $TMO --offset $((NLBA - 4)) --size 8 /dev/nvme0n1

# ---- 2. NVMe passthrough on the generic char device ----------------------------------------------------------

# Exact bytes through passthrough with plain buffers, then with a registered one (IORING_URING_CMD_FIXED).
step vm-blkutil random /tmp/p-data 1048576 9
step_out "io_uring_cmd\), 0 of 4 commands" vm-kio-status write /dev/ng0n1 40960 2048 /tmp/p-data
step_out "io_uring_cmd\), 0 of 4 commands" vm-kio-status read /dev/ng0n1 40960 2048 /tmp/p-plain
step_out "identical, 1048576 bytes" vm-blkutil cmp /tmp/p-data /tmp/p-plain
step_out "1 of 1 commands on a registered buffer" vm-kio-status read /dev/ng0n1 40960 512 /tmp/p-fixed fixed
head -c 262144 /tmp/p-data >/tmp/p-head
step_out "identical, 262144 bytes" vm-blkutil cmp /tmp/p-head /tmp/p-fixed
# Invalid opcode -> 0x001, read past the last LBA -> 0x080, both as -EIO with the status.
step_out "^queue: 3 completed, 2 errors" vm-kio-status errors /dev/ng0n1
step_refused "not an NVMe generic char device" vm-kio-status errors /dev/nvme0n1

# Linux 6.1 maps a registered buffer for passthrough (blk_rq_map_user_bvec) with every page
# from the I/O's start to the end of the registered region counted against the queue's
# max_segments (127 here), not the pages of the I/O: a 4 KiB read at the start of a
# 127-page region works, of a 128-page region fails with EINVAL. That is why aisio's bio
# layer does not register buffers for passthrough; the aisio perf steps below must pass.
step_out "1 of 1 commands on a registered buffer" vm-kio-status read /dev/ng0n1 0 8 /tmp/probe fixed=520192
_step_run vm-kio-status read /dev/ng0n1 0 8 /tmp/probe fixed=524288
if [ "$STEP_RC" -ne 0 ]; then
	grep -q "Invalid argument" /tmp/step.out || _step_fail "unexpected failure of a registered-buffer read"
	echo "@@VMTEST NOTE: this kernel refuses (EINVAL) passthrough I/O inside a registered region over $(cat /sys/block/nvme0n1/queue/max_segments) pages"
fi

step_out "verified 32768 LBAs \(.*\), mismatches 0, failed 0" aisio perf verify $TMO --size 32768 --seed 5 /dev/ng0n1
step_out "verified 8192 LBAs \(.*\), mismatches 0, failed 0" \
	aisio perf verify $TMO --iosize 65536 --offset 65536 --size 8192 --seed 6 /dev/ng0n1
step_out '"backend": "io_uring_cmd"' aisio perf run $TMO --iopattern randread --runtime 1 --json /dev/ng0n1
check "randread on /dev/ng0n1: IOPS > 0 and no failed I/O" perf_ok
step_out '"backend": "io_uring_cmd"' aisio perf run $TMO --iopattern randwrite --qdepth 16 --runtime 1 --json /dev/ng0n1
check "randwrite on /dev/ng0n1: IOPS > 0 and no failed I/O" perf_ok

# ---- 3. one namespace, kernel -> user space -> kernel ----------------------------------------------------

step_out "verified 16384 LBAs \(.*\), mismatches 0, failed 0" aisio perf verify $TMO --size 16384 --seed 21 /dev/nvme0n1
step vm-blkutil random /tmp/k-blk 4194304 31
step_out "io_uring\)" vm-kio-status write /dev/nvme0n1 32768 8192 /tmp/k-blk
step vm-blkutil random /tmp/k-ng 1048576 32
step_out "io_uring_cmd\)" vm-kio-status write /dev/ng0n1 49152 2048 /tmp/k-ng
step vm-blkutil pread /dev/nvme0n1 0 8388608 /tmp/k-stamps  # the stamps as the kernel sees them

step aisio hugepages --reserve 64
step_out "bound to vfio-pci" aisio bind "$BDF" vfio-pci
check "on vfio-pci" [ "$(pci_driver $BDF)" = vfio-pci ]
check "/dev/nvme0n1 and /dev/ng0n1 are gone" [ ! -e /dev/nvme0n1 -a ! -e /dev/ng0n1 ]
step vm-nvme-rw read "$BDF" 1 0 16384 /tmp/u-stamps
step_out "identical, 8388608 bytes" vm-blkutil cmp /tmp/k-stamps /tmp/u-stamps
step vm-nvme-rw read "$BDF" 1 32768 8192 /tmp/u-blk
step_out "identical, 4194304 bytes" vm-blkutil cmp /tmp/k-blk /tmp/u-blk
step vm-nvme-rw read "$BDF" 1 49152 2048 /tmp/u-ng
step_out "identical, 1048576 bytes" vm-blkutil cmp /tmp/k-ng /tmp/u-ng

step vm-blkutil random /tmp/u-data 4194304 41
step vm-nvme-rw write "$BDF" 1 65536 8192 /tmp/u-data
step_out "verified 16384 LBAs \(.*\), mismatches 0, failed 0" aisio perf verify $TMO --offset 81920 --size 16384 --seed 51 "$BDF"
step vm-nvme-rw read "$BDF" 1 0 $NLBA /tmp/image-u  # the whole namespace, as user space left it

step_out "bound to nvme" aisio bind "$BDF" nvme
check "/dev/nvme0n1 is back" wait_dev -b /dev/nvme0n1
check "/dev/ng0n1 is back" wait_dev -c /dev/ng0n1
step vm-blkutil pread /dev/nvme0n1 $((65536 * 512)) 4194304 /tmp/b-data
step_out "identical, 4194304 bytes" vm-blkutil cmp /tmp/u-data /tmp/b-data
step_out "io_uring_cmd\)" vm-kio-status read /dev/ng0n1 65536 8192 /tmp/g-data
step_out "identical, 4194304 bytes" vm-blkutil cmp /tmp/u-data /tmp/g-data
# Every byte of the namespace: O_DIRECT pread and passthrough against the user-space read.
step vm-blkutil pread /dev/nvme0n1 0 $((NLBA * 512)) /tmp/image-b
step_out "identical, 67108864 bytes" vm-blkutil cmp /tmp/image-u /tmp/image-b
rm -f /tmp/image-b
step_out "io_uring_cmd\)" vm-kio-status read /dev/ng0n1 0 $NLBA /tmp/image-g
step_out "identical, 67108864 bytes" vm-blkutil cmp /tmp/image-u /tmp/image-g
check "no DMA faults in the kernel log" no_dma_faults
