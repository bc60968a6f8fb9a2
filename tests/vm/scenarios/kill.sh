# Device safety: a run killed with SIGKILL in the middle of writes leaves the controller
# enabled with commands in flight and DMA mappings gone. The next open must reset it and
# run cleanly, with no DMA fault in the kernel log; while the run is alive, aisio bind
# must refuse to take the function away. Done for vfio-pci (IOMMU translation) and for
# uio_pci_generic (iommu=pt: physical addresses, no IOMMU to clean up after the dead run).

BDF=$(nvme_bdf 1)
check "an NVMe function is present" [ -n "$BDF" ]
step aisio hugepages --reserve 256

for drv in vfio-pci uio_pci_generic; do
	step_out "bound to $drv" aisio bind "$BDF" $drv
	aisio perf run $TMO --iopattern randwrite --qdepth 128 --iosize 16384 --runtime 60 "$BDF" >/tmp/bg.out 2>&1 &
	PID=$!
	check "the $drv run has the function open" wait_aisio_open "$BDF" $PID
	sleep 2
	step_refused "open in aisio process $PID" aisio bind "$BDF" nvme
	step_refused "already open" aisio perf run --runtime 1 "$BDF"
	step kill -9 $PID
	wait $PID
	check "the killed run died by SIGKILL (status 137)" [ $? -eq 137 ]
	cat /tmp/bg.out
	step_out " - *$" aisio devices
	# uio leaves the dead run's controller enabled, and the next open says so before resetting
	# it; vfio-pci may reset the function itself when the dead process's device fd closes
	if [ $drv = uio_pci_generic ]; then
		step_out "was left enabled.*resetting it" aisio id-ctrl "$BDF"
	fi
	step_out "verified [1-9][0-9]* LBAs \([0-9.]+ [KM]iB\), mismatches 0, failed 0" \
		aisio perf verify $TMO --iosize 16384 --qdepth 64 --size 32768 "$BDF"
	step aisio perf run $TMO --iopattern randread --qdepth 64 --runtime 2 --json "$BDF"
	check "after the kill ($drv): IOPS > 0 and no failed I/O" perf_ok
	check "no DMA faults in the kernel log" no_dma_faults
done
