# vfio-pci with an emulated IOMMU (intel-iommu, intel_iommu=on): every DMA goes through
# the IOVA mappings of lib/pci/pci_vfio.c. Bind with aisio, list, identify, verify data
# with each PRP form, run the four I/O patterns.

BDF=$(nvme_bdf 1)
check "an NVMe function is present" [ -n "$BDF" ]
step_out "nvme" aisio devices
step_out "256 reserved" aisio hugepages --reserve 256
step_out "bound to vfio-pci" aisio bind "$BDF" vfio-pci
step_out "^$BDF .* vfio-pci +[0-9]+ " aisio devices
step_out '"driver": "vfio-pci", "iommu_group": [0-9]+' aisio devices --json
io_suite "$BDF"
