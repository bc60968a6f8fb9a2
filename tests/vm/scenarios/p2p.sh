# CPU-initiated P2P: the user-space driver moves NVMe data straight into another PCI device's memory, the
# BAR2 of an ivshmem-plain device (host memory behind it; the harness checks that file afterwards), exported
# as a dma-buf by kmod/test's exporter. P2P_BACKEND=uio: the function sits in a kernel DMA domain (IOMMU off
# or passthrough) and the dma-buf is imported by aisio-dmabuf (kmod/), attached to the NVMe function;
# P2P_BACKEND=vfio: the exporter's CPU mapping goes into the vfio container (MAP_DMA), no import.
# P2P_UDMABUF=1: also a host-memory exporter (udmabuf over a memfd; built into 6.12, built for 6.1). P2P_FAULTS=1: the
# importer's ioctl errors, kill -9 with attachments, rmmod of either module while in use and after.
# At the end the BAR is cleared through the exporter's CPU mapping and one verify run writes from it and reads
# back into it: every non-zero block the host then finds in the backing file must be a block of the namespace.

EXP=/dev/aisio-ivshmem-export
KMOD=/vmtest/kmod
BDF=$(nvme_bdf 1)
check "an NVMe function is present" [ -n "$BDF" ]
step insmod $KMOD/aisio_ivshmem_export.ko
check "the exporter bound the ivshmem device ($EXP)" [ -c $EXP ]
step aisio hugepages --reserve 64
VERIFY="aisio perf verify $TMO --size 16384 --mem"
OK="verified [1-9][0-9]* LBAs \([0-9.]+ [KM]iB\), mismatches 0, failed 0"

if [ "$P2P_BACKEND" = uio ]; then
	step_out "bound to uio_pci_generic" aisio bind "$BDF" uio_pci_generic
	step_refused "aisio-dmabuf kernel module is not loaded" $VERIFY dmabuf:$EXP "$BDF"
	step insmod $KMOD/aisio_dmabuf.ko
	check "the importer's device is there" [ -c /dev/aisio-dmabuf ]
else
	step_out "bound to vfio-pci" aisio bind "$BDF" vfio-pci
	# the import is for kernel DMA domains: a function vfio holds in its own is refused
	step insmod $KMOD/aisio_dmabuf.ko
	aisio perf run $TMO --runtime 20 "$BDF" >/tmp/bg.out 2>&1 &
	PID=$!
	check "a vfio user has the function open" wait_aisio_open "$BDF" $PID
	step_refused "ATTACH: Invalid cross-device link" vm-dmabuf attach "$BDF" $EXP
	step kill $PID
	wait $PID
	step rmmod aisio_dmabuf
fi

# PRP1 only, PRP1 + PRP2, PRP lists over the exporter's non-contiguous 64 KiB pieces, the largest transfer
for sz in 4096 8192 65536 524288; do
	step_out "$OK" $VERIFY dmabuf:$EXP --iosize $sz --qdepth 8 --seed $sz "$BDF"
done
for pat in randwrite randread; do
	step aisio perf run $TMO --iopattern $pat --qdepth 16 --iosize 16384 --runtime 2 --json --mem dmabuf:$EXP "$BDF"
	check "$pat into the BAR: IOPS > 0 and no failed I/O" perf_ok
done

if [ "$P2P_UDMABUF" = 1 ]; then
	# 6.12 has udmabuf built in; for 6.1 the harness builds it from linux-source
	[ -f $KMOD/udmabuf.ko ] && step insmod $KMOD/udmabuf.ko
	check "/dev/udmabuf is there" [ -c /dev/udmabuf ]
	step_out "$OK" $VERIFY dmabuf:udmabuf:4M --iosize 65536 --qdepth 8 "$BDF"
fi

if [ "$P2P_FAULTS" = 1 ]; then
	step_out "0 check\(s\) failed" vm-dmabuf errors "$BDF" $EXP
	# a process holding an attachment: neither module can go, kill -9 releases everything
	vm-dmabuf hold "$BDF" $EXP >/tmp/hold.out 2>&1 &
	HOLD=$!
	n=0
	while ! grep -q attached /tmp/hold.out && [ $n -lt 100 ]; do sleep 0.2; n=$((n + 1)); done
	step_out "attached [1-9]" cat /tmp/hold.out
	step_refused "unload|in use|unavailable" rmmod aisio_ivshmem_export
	step_refused "unload|in use|unavailable" rmmod aisio_dmabuf
	step kill -9 $HOLD
	wait $HOLD
	step rmmod aisio_dmabuf
	step insmod $KMOD/aisio_dmabuf.ko
	# a run killed mid-I/O with its buffers attached: the release turns the function's bus mastering off
	aisio perf run $TMO --iopattern randread --qdepth 32 --iosize 65536 --runtime 60 --mem dmabuf:$EXP "$BDF" \
		>/tmp/bg.out 2>&1 &
	PID=$!
	check "the run has the function open" wait_aisio_open "$BDF" $PID
	sleep 2
	step kill -9 $PID
	wait $PID
	check "the killed run died by SIGKILL (status 137)" [ $? -eq 137 ]
	step_out "aisio-dmabuf: releasing attachment .* bus mastering on: turning bus mastering off" dmesg
	step_out "$OK" $VERIFY dmabuf:$EXP --iosize 65536 --qdepth 8 "$BDF"
fi

step_out "cleared 8388608 bytes" vm-dmabuf zero $EXP
step_out "$OK" $VERIFY dmabuf:$EXP --iosize 65536 --qdepth 8 --seed 7 "$BDF"
check "no DMA faults in the kernel log" no_dma_faults
if [ "$P2P_BACKEND" = uio ]; then
	step rmmod aisio_dmabuf
fi
step rmmod aisio_ivshmem_export
