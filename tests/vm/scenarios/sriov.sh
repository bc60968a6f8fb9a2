# SR-IOV coexistence: the PF (0000:01:00.0) stays on the kernel nvme driver with XFS
# mounted (made on the host, 300 MiB of a 512 MiB namespace); a VF set up with
# Virtualization Management (nvme-cli) is bound to vfio-pci and driven by aisio on the
# same shared namespace. A file written through the kernel is read back through the VF
# at its FIEMAP extents and compared byte for byte; data written through the VF past the
# file system is read back through the kernel block device with O_DIRECT.

PF=0000:01:00.0
VF=0000:01:00.1
check "the PF is on nvme" [ "$(pci_driver $PF)" = nvme ]
step aisio hugepages --reserve 128
step mount -t xfs /dev/nvme0n1 /mnt
step vm-blkutil random /mnt/data 4194304 42
step sync
step vm-blkutil fiemap /mnt/data
cp /tmp/step.out /tmp/extents

# Secondary controllers 1 and 2: flexible queue (rt 0) and interrupt (rt 1) resources,
# then two VFs without a driver probing them, then online (action 9).
for c in 1 2; do
	step nvme virt-mgmt /dev/nvme0 --cntlid=$c --rt=0 --act=8 --nr=3
	step nvme virt-mgmt /dev/nvme0 --cntlid=$c --rt=1 --act=8 --nr=1
done
step sh -c "echo 0 > /sys/bus/pci/devices/$PF/sriov_drivers_autoprobe"
step sh -c "echo 2 > /sys/bus/pci/devices/$PF/sriov_numvfs"
for c in 1 2; do
	step nvme virt-mgmt /dev/nvme0 --cntlid=$c --act=9
done
step_out "Online" nvme list-secondary /dev/nvme0
step_out "^$PF .*nvme0n1 +/mnt .*PF 2/2 VFs" aisio devices
step_out "^$VF .*VF of $PF" aisio devices
step_refused "nvme0n1 mounted on /mnt" aisio bind $PF vfio-pci
step_out "bound to vfio-pci" aisio bind $VF vfio-pci
step_out "mn +: QEMU NVMe Ctrl" aisio id-ctrl $VF

# Kernel -> VF: each extent (bytes on the namespace) read through aisio, in file order.
rm -f /tmp/via-vf
while read phys len logical; do
	step vm-nvme-rw read $VF 1 $((phys / 512)) $((len / 512)) /tmp/via-vf
done </tmp/extents
step_out "identical, 4194304 bytes" vm-blkutil cmp /mnt/data /tmp/via-vf

# VF -> kernel: 1 MiB of new data at LBA 700000 (byte 358400000, past the 300 MiB file
# system), read back through /dev/nvme0n1 with O_DIRECT.
step vm-blkutil random /tmp/vf-data 1048576 7
step vm-nvme-rw write $VF 1 700000 2048 /tmp/vf-data
step vm-blkutil pread /dev/nvme0n1 358400000 1048576 /tmp/via-kernel
step_out "identical, 1048576 bytes" vm-blkutil cmp /tmp/vf-data /tmp/via-kernel

# aisio perf on the VF while the file system on the PF stays mounted: writes only with
# --force (the namespace carries XFS) and only past the file system.
step_refused "carries XFS" aisio perf verify --offset 720000 --size 4096 $VF
step_out "verified [1-9][0-9]* LBAs \([0-9.]+ [KM]iB\), mismatches 0, failed 0" aisio perf verify $TMO --force --offset 720000 --size 32768 $VF
step aisio perf run $TMO --iopattern randread --runtime 2 --json $VF
check "randread on the VF: IOPS > 0 and no failed I/O" perf_ok

# The file system is intact: the file reads back the same after a remount.
step umount /mnt
step mount -t xfs /dev/nvme0n1 /mnt
step vm-blkutil random /tmp/expect 4194304 42
step_out "identical, 4194304 bytes" vm-blkutil cmp /mnt/data /tmp/expect
step umount /mnt
check "no DMA faults in the kernel log" no_dma_faults
