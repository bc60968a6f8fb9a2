# The PCI backends alone, before the driver: the QEMU NVMe controller bound to vfio-pci
# (IOMMU on, passthrough for kernel drivers so that uio works in the same boot) and then to uio_pci_generic, opened by vm-pci-probe, which brings up an admin
# queue by hand and checks that Identify data arrives through the backend's DMA mapping.

BDF=$(nvme_bdf 1)
check "an NVMe function is present" [ -n "$BDF" ]
step sysfs_bind "$BDF" vfio-pci
step_out "^vfio-pci$" pci_driver "$BDF"
step_out "/dev/vfio/[0-9]+" sh -c "ls /dev/vfio/*"
step sh -c "echo 16 > /proc/sys/vm/nr_hugepages; grep -i hugepages_total /proc/meminfo"
step_out "^PASS .* vfio$" vm-pci-probe "$BDF" vfio
# Twice: the second open must find the function usable after the first one closed it.
step_out "^PASS .* vfio$" vm-pci-probe "$BDF" vfio

step sysfs_bind "$BDF" uio_pci_generic
step_out "^PASS .* uio$" vm-pci-probe "$BDF" uio
step_out "^PASS .* uio$" vm-pci-probe "$BDF" uio

# Without hugepages the error names the sysctl.
step sh -c "echo 0 > /proc/sys/vm/nr_hugepages"
step_refused "nr_hugepages" vm-pci-probe "$BDF" uio
check "no DMA faults in the kernel log" no_dma_faults
