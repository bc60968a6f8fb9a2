# Controller variations that the emulated controller cannot vouch for: QEMU's NVMe with
# 4096-byte LBAs (ns 1 and 3) next to 512-byte ones (ns 2), mdts=2 (16 KiB transfers) and
# max_ioqpairs=2. I/O larger than MDTS is split by the driver into 16 KiB commands (64 KiB
# verifies on every namespace); more queues than the controller grants are refused up front
# with both numbers; every namespace verifies by --nsid.

BDF=$(nvme_bdf 1)
check "an NVMe function is present" [ -n "$BDF" ]
step aisio hugepages --reserve 256
step_out "bound to vfio-pci" aisio bind "$BDF" vfio-pci
step_out "max xfer : 16384 bytes" aisio id-ctrl "$BDF"
step_out "io qpairs: 2$" aisio id-ctrl "$BDF"
step_out "namespaces active: 3" aisio id-ctrl "$BDF"
step_out "lbads:12 .*\(in use\)" aisio id-ns --nsid 1 "$BDF"
step_out "lbads:9 .*\(in use\)" aisio id-ns --nsid 2 "$BDF"
step_out '"lba_bytes": 4096, "size_bytes": 16777216' aisio id-ns --nsid 3 --json "$BDF"
step_refused "not active|namespace 9" aisio id-ns --nsid 9 "$BDF"

for ns in 1 2 3; do
	step_out "verified [1-9][0-9]* LBAs \([0-9.]+ [KM]iB\), mismatches 0, failed 0" \
		aisio perf verify $TMO --nsid $ns --iosize 16384 --qdepth 32 --size 2048 "$BDF"
done
# 4 KiB, 8 KiB (PRP2) and 16 KiB (PRP list) on the 4096-byte namespace.
for sz in 4096 8192; do
	step_out "verified [1-9][0-9]* LBAs \([0-9.]+ [KM]iB\), mismatches 0, failed 0" \
		aisio perf verify $TMO --nsid 3 --iosize $sz --qdepth 8 --size 1024 "$BDF"
done
# 64 KiB I/Os over mdts=2: four 16 KiB commands each, on 4096- and 512-byte LBAs
for ns in 1 2 3; do
	step_out "verified [1-9][0-9]* LBAs \([0-9.]+ [KM]iB\), mismatches 0, failed 0" \
		aisio perf verify $TMO --nsid $ns --iosize 64K --qdepth 8 --size 2048 --seed 64 "$BDF"
done
step_out "4 commands per I/O of up to 16384 bytes" aisio perf run $TMO --iosize 65536 --runtime 1 "$BDF"
step aisio perf run $TMO --iopattern randwrite --iosize 40K --qdepth 8 --runtime 1 --json "$BDF"
check "40 KiB randwrite over MDTS: IOPS > 0 and no failed I/O" perf_ok
step_refused "not a multiple of .*LBA size 4096" aisio perf verify --nsid 1 --iosize 2048 --size 64 "$BDF"
step_refused "no active namespace 4" aisio perf run --nsid 4 --runtime 1 "$BDF"
step_refused "need 3 I/O queue pairs; the controller granted 2" aisio perf run --nqueues 3 --runtime 1 "$BDF"
step aisio perf run $TMO --nqueues 2 --iopattern randread --iosize 16384 --runtime 1 --json "$BDF"
check "2 queues, 16 KiB randread: IOPS > 0 and no failed I/O" perf_ok
step aisio perf run $TMO --nsid 2 --iopattern randwrite --iosize 512 --runtime 1 --json "$BDF"
check "512-byte randwrite on ns 2: IOPS > 0 and no failed I/O" perf_ok
check "no DMA faults in the kernel log" no_dma_faults
