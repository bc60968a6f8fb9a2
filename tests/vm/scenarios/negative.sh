# Refusals. A function on the kernel nvme driver (an XFS file system on its namespace) is
# refused by every aisio command that would open it, with a message naming the driver, and
# is left exactly as it was; aisio bind refuses while the namespace is mounted or open; once bound
# to vfio-pci, writes are refused because the namespace carries a file-system signature;
# binding back to nvme brings the block device and the file system back unharmed.

BDF=$(nvme_bdf 1)
check "an NVMe function is present" [ -n "$BDF" ]
step aisio hugepages --reserve 64
check "bound to nvme" [ "$(pci_driver $BDF)" = nvme ]
step_out "nvme0n1" ls /sys/class/block
sum16m() { head -c 16777216 /dev/nvme0n1 | md5sum; }
before=$(sum16m)
state=$(cat /sys/class/nvme/nvme0/state)

step_refused "bound to the kernel driver 'nvme'" aisio perf run --runtime 1 "$BDF"
step_refused "bound to the kernel driver 'nvme'" aisio perf verify --force --size 64 "$BDF"
step_refused "bound to the kernel driver 'nvme'" aisio id-ctrl "$BDF"
step_refused "bound to the kernel driver 'nvme'" aisio smart-log "$BDF"
step_refused "bound to the kernel driver 'nvme'" vm-pci-probe "$BDF"
check "still on nvme" [ "$(pci_driver $BDF)" = nvme ]
check "controller state unchanged ($state)" [ "$(cat /sys/class/nvme/nvme0/state)" = "$state" ]
check "namespace contents unchanged" [ "$(sum16m)" = "$before" ]
check "no aisio lock left held" [ -z "$(cat /proc/locks | grep FLOCK)" ]

step mount -t xfs /dev/nvme0n1 /mnt
step_out "^$BDF .*nvme0n1 +/mnt" aisio devices
step_out '"mounts": \["/mnt"\]' aisio devices --json
step_refused "nvme0n1 mounted on /mnt" aisio bind "$BDF" vfio-pci
check "still on nvme after the refused bind" [ "$(pci_driver $BDF)" = nvme ]
step umount /mnt
before=$(sum16m)  # mounting wrote the XFS log

# An open handle on the block device is a user too.
sleep 120 </dev/nvme0n1 &
HOLDER=$!
step_out "^$BDF .*sleep \(pid $HOLDER\)" aisio devices
step_refused "sleep \(pid $HOLDER\) has /dev/nvme0n1" aisio bind "$BDF" vfio-pci
kill $HOLDER
wait $HOLDER

step_out "bound to vfio-pci" aisio bind "$BDF" vfio-pci
step_refused "carries .*refusing to write" aisio perf verify --size 64 "$BDF"
step_refused "carries .*refusing to write" aisio perf run --iopattern randwrite --runtime 1 "$BDF"
step aisio perf run $TMO --iopattern randread --runtime 1 --json "$BDF"
check "reads are allowed: IOPS > 0 and no failed I/O" perf_ok
step_refused "unknown driver" aisio bind "$BDF" ahci
step_out "bound to nvme" aisio bind "$BDF" nvme
check "the namespace is back" sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/nvme0n1 ] && exit 0; sleep 0.5; done; exit 1'
check "namespace contents unchanged after the round trip" [ "$(sum16m)" = "$before" ]
step mount -t xfs -o ro /dev/nvme0n1 /mnt
step umount /mnt
check "no DMA faults in the kernel log" no_dma_faults
