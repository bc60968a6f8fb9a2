# uio_pci_generic with no IOMMU: the controller DMAs to the physical addresses of hugepage
# memory (lib/pci/pci_uio.c). The same checks as the vfio scenario; vfio-pci must be refused
# for want of an IOMMU group.

BDF=$(nvme_bdf 1)
check "an NVMe function is present" [ -n "$BDF" ]
step_out "256 reserved" aisio hugepages --reserve 256
step_refused "no IOMMU group" aisio bind "$BDF" vfio-pci
step_out "bound to uio_pci_generic" aisio bind "$BDF" uio_pci_generic
step_out "^$BDF .* uio_pci_generic +- " aisio devices
io_suite "$BDF"
