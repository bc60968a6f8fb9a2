/* SPDX-License-Identifier: BSD-3-Clause */
/* PCI backend for the software NVMe controller: BAR0 and DMA live in this process. */
#include <aisio/emu.h>
#include <aisio/log.h>
#include <aisio/pci.h>

#include <errno.h>

static int emu_open(struct pci_dev *dev, const char *spec)
{
	struct emu_opts o;
	int rc = emu_opts_parse(&o, DEVSTR_EMU, spec);
	if (rc < 0)
		return rc;
	rc = emu_ctrl_create(&dev->emu, &o);
	if (rc < 0)
		return rc;
	dev->bar0 = emu_ctrl_bar0(dev->emu, &dev->bar0_len);
	if (emu_ctrl_is_inline(dev->emu)) {
		dev->sw_poll = emu_ctrl_serve_sq;
		dev->sw_poll_ctx = dev->emu;
	}
	return 0;
}

static void emu_close(struct pci_dev *dev)
{
	emu_ctrl_destroy(dev->emu);
	dev->emu = NULL;
}

static int emu_dma_map(struct pci_dev *dev, struct dma_mem *m)
{
	if (m->kind == DMA_KIND_DMABUF && !m->cpu_access) {
		/* the emulated controller moves data with the CPU */
		aisio_log(AISIO_LOG_ERROR, dev->name,
			  "the emulated controller cannot reach a dma-buf the CPU cannot map (GPU memory)");
		return -EOPNOTSUPP;
	}
	return emu_ctrl_dma_register(dev->emu, m->va, m->len, &m->iova_base);
}

static void emu_dma_unmap(struct pci_dev *dev, struct dma_mem *m)
{
	emu_ctrl_dma_unregister(dev->emu, m->iova_base);
}

static int emu_bus_master(struct pci_dev *dev, bool on)
{
	return 0;
}

static int emu_reset(struct pci_dev *dev)
{
	return -ENOTSUP;
}

static int emu_doorbells(struct pci_dev *dev, uint16_t qid, unsigned dstrd, struct nvme_db_map *m)
{
	return emu_ctrl_doorbells(dev->emu, qid, m);
}

const struct pci_backend_ops pci_backend_emu = {
	.name = "emu",
	.dma_kind = DMA_KIND_MEMFD,
	.open = emu_open,
	.close = emu_close,
	.dma_map = emu_dma_map,
	.dma_unmap = emu_dma_unmap,
	.bus_master = emu_bus_master,
	.reset = emu_reset,
	.doorbells = emu_doorbells,
};
