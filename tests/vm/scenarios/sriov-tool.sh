# SR-IOV set up with `aisio sriov` only (no nvme-cli): the same devices and steps as sriov.sh.
# The PF (0000:01:00.0) stays on the kernel nvme driver with XFS mounted (300 MiB of a 512 MiB
# namespace); aisio sriov assigns flexible resources to both secondaries through the kernel's
# admin passthrough, enables two VFs and brings them online; VF 1 goes to vfio-pci and aisio perf
# verifies a range past the file system; namespace 1 detached from VF 1 and attached back (aisio sriov
# detach|attach); aisio sriov disable returns every resource.

PF=0000:01:00.0
VF=0000:01:00.1
# out_has REGEX: the last step printed a line matching REGEX.
out_has() {
	grep -Eq -- "$1" /tmp/step.out
}

check "the PF is on nvme" [ "$(pci_driver $PF)" = nvme ]
check "no nvme-cli in the guest" [ -z "$(command -v nvme)" ]
step aisio hugepages --reserve 128
step mount -t xfs /dev/nvme0n1 /mnt
step vm-blkutil random /mnt/data 4194304 42
step sync

# Before: no VFs, no flexible resources with the secondaries, both offline.
step aisio sriov status $PF
step_out '"sriov_numvfs": 0, "sriov_totalvfs": 2' aisio sriov status --json $PF
check "VQ: 8 flexible, none assigned" out_has '"vq": \{"flexible_total": 8, "assigned": 0,'
check "VI: 4 flexible, none assigned" out_has '"vi": \{"flexible_total": 4, "assigned": 0,'
check "VF 1's secondary offline, no resources" out_has '"vfn": 1, "state": "offline", "vq": 0, "vi": 0, "bdf": null'
check "VF 2's secondary offline, no resources" out_has '"vfn": 2, "state": "offline", "vq": 0, "vi": 0, "bdf": null'

# Clear refusals: a VF number out of range, the controller's status on a failed command.
step_refused "VF 3 out of range: $PF has VFs 1 to 2" aisio sriov assign $PF --vf 3 --vq 3 --vi 1
step_refused "failed: Invalid Number of Controller Resources" aisio sriov assign $PF --vf 1 --vq 100
step_refused "give --vf N or --all" aisio sriov online $PF

# The set-up: flexible queue and interrupt resources, two VFs without a driver probing them, online.
for v in 1 2; do
	step_out "\(VF $v\): 3 VQ, 1 VI assigned" aisio sriov assign $PF --vf $v --vq 3 --vi 1
done
step_refused "VF 1 is not enabled: aisio sriov enable $PF" aisio sriov online $PF --vf 1
step_out "2 VFs enabled, drivers autoprobe off" aisio sriov enable $PF --vfs 2
check "autoprobe off" [ "$(cat /sys/bus/pci/devices/$PF/sriov_drivers_autoprobe)" = 0 ]
step_refused "2 VFs enabled already.*aisio sriov disable $PF" aisio sriov enable $PF --vfs 1
step_refused "$VF is a VF of $PF" aisio sriov status $VF
step_out "\(VF 1\): online" aisio sriov online $PF --vf 1
step_out "\(VF 2\): online" aisio sriov online $PF --all
step_refused "is online; .*aisio sriov offline $PF --vf 1" aisio sriov assign $PF --vf 1 --vq 2

# After: 6 VQ and 2 VI with the secondaries, both online, each with its VF's address.
step aisio sriov status $PF
step_out '"sriov_numvfs": 2, "sriov_totalvfs": 2, "sriov_drivers_autoprobe": 0' aisio sriov status --json $PF
check "VQ: 6 assigned" out_has '"vq": \{"flexible_total": 8, "assigned": 6,'
check "VI: 2 assigned" out_has '"vi": \{"flexible_total": 4, "assigned": 2,'
check "VF 1 online with 3 VQ, 1 VI" out_has '"vfn": 1, "state": "online", "vq": 3, "vi": 1, "bdf": "0000:01:00.1"'
check "VF 2 online with 3 VQ, 1 VI" out_has '"vfn": 2, "state": "online", "vq": 3, "vi": 1, "bdf": "0000:01:00.2"'
step_out "^$PF .*nvme0n1 +/mnt .*PF 2/2 VFs" aisio devices
step_refused "nvme0n1 mounted on /mnt" aisio bind $PF vfio-pci
step_out "bound to vfio-pci" aisio bind $VF vfio-pci
step_out "mn +: QEMU NVMe Ctrl" aisio id-ctrl $VF

# aisio perf verify on the VF past the file system (LBA 720000 on, beyond 300 MiB) while XFS
# stays mounted on the PF.
check "XFS still mounted on the PF" grep -q "^/dev/nvme0n1 /mnt xfs" /proc/mounts
step_out "verified [1-9][0-9]* LBAs \([0-9.]+ [KM]iB\), mismatches 0, failed 0" aisio perf verify $TMO --force --offset 720000 --size 32768 $VF

# Namespace Attachment: namespace 1 detached from VF 1's secondary (the VF then has none), attached back.
step_refused "give --vf N and --nsid M" aisio sriov attach $PF --vf 1
step_out "namespace 1 detached from secondary controller 1 \(VF 1\)" aisio sriov detach $PF --vf 1 --nsid 1
step_refused "failed: Namespace Not Attached" aisio sriov detach $PF --vf 1 --nsid 1
step_refused "no active namespace 1 \(it has 0\)" aisio perf verify $TMO --force --offset 720000 --size 1024 $VF
step_out "namespace 1 attached to secondary controller 1 \(VF 1\)" aisio sriov attach $PF --vf 1 --nsid 1
step_refused "failed: Namespace Already Attached" aisio sriov attach $PF --vf 1 --nsid 1
step_out "verified [1-9][0-9]* LBAs" aisio perf verify $TMO --force --offset 720000 --size 1024 $VF

# Teardown: every secondary offline, no VFs, resources returned to the primary.
step_out "resources returned: VQ assigned to secondaries 6 -> 0, VI 2 -> 0" aisio sriov disable $PF
step_out '"sriov_numvfs": 0, "sriov_totalvfs": 2' aisio sriov status --json $PF
check "VQ: none assigned" out_has '"vq": \{"flexible_total": 8, "assigned": 0,'
check "VI: none assigned" out_has '"vi": \{"flexible_total": 4, "assigned": 0,'
check "VF 1's secondary offline, resources returned" out_has '"vfn": 1, "state": "offline", "vq": 0, "vi": 0, "bdf": null'
check "VF 2's secondary offline, resources returned" out_has '"vfn": 2, "state": "offline", "vq": 0, "vi": 0, "bdf": null'
check "the VF is gone" [ ! -e /sys/bus/pci/devices/$VF ]

# The file system is intact: the file reads back the same after a remount.
step umount /mnt
step mount -t xfs /dev/nvme0n1 /mnt
step vm-blkutil random /tmp/expect 4194304 42
step_out "identical, 4194304 bytes" vm-blkutil cmp /mnt/data /tmp/expect
step umount /mnt
check "no DMA faults in the kernel log" no_dma_faults
