/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PCI backend for functions bound to uio_pci_generic: no IOMMU, so the device
 * DMAs to physical addresses.
 *
 * BAR0 is the sysfs resource0 file mapped into the process; config space is the
 * sysfs config file; function reset is the sysfs reset file (when the kernel
 * offers one). DMA memory must be hugepages (pinned, physically contiguous per
 * 2 MiB page); its physical addresses come from /proc/self/pagemap, which needs
 * root. Nothing confines the device: the NVMe layer must disable the controller
 * before the memory goes back, and pci_dev_close turns bus mastering off. Open
 * turns bus mastering off and resets the function, for a previous owner that died.
 */
#include <aisio/log.h>
#include <aisio/nvme_spec.h>
#include <aisio/pci.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4

struct uio_state {
	int cfg_fd; /* /sys/bus/pci/devices/<bdf>/config */
	int res_fd; /* resource0 */
	void *bar0_map;
	size_t bar0_map_len;
};

static int uio_bus_master(struct pci_dev *dev, bool on);
static int uio_reset(struct pci_dev *dev);

static void uio_state_free(struct uio_state *st)
{
	if (st->bar0_map)
		munmap(st->bar0_map, st->bar0_map_len);
	if (st->res_fd >= 0)
		close(st->res_fd);
	if (st->cfg_fd >= 0)
		close(st->cfg_fd);
	free(st);
}

static int uio_open(struct pci_dev *dev, const char *bdf)
{
	struct uio_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->cfg_fd = st->res_fd = -1;
	char path[PATH_MAX];
	int rc;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	st->cfg_fd = open(path, O_RDWR | O_CLOEXEC);
	if (st->cfg_fd < 0) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, bdf, "cannot open config space %s: %s%s", path, strerror(-rc),
			  rc == -EACCES ? " (needs root)" : "");
		goto fail;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", bdf);
	st->res_fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
	if (st->res_fd < 0) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, bdf, "cannot open BAR0 %s: %s%s", path, strerror(-rc),
			  rc == -EACCES ? " (needs root)" : "");
		goto fail;
	}
	struct stat sb;
	if (fstat(st->res_fd, &sb) < 0 || sb.st_size <= 0) {
		rc = -ENODEV;
		aisio_log(AISIO_LOG_ERROR, bdf, "BAR0 (%s) has no size: not a memory BAR", path);
		goto fail;
	}
	st->bar0_map_len = (size_t)sb.st_size;
	void *va = mmap(NULL, st->bar0_map_len, PROT_READ | PROT_WRITE, MAP_SHARED, st->res_fd, 0);
	if (va == MAP_FAILED) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, bdf, "mmap of BAR0 (%zu bytes) failed: %s", st->bar0_map_len, strerror(-rc));
		goto fail;
	}
	st->bar0_map = va;
	dev->bar0 = va;
	dev->bar0_len = st->bar0_map_len;
	dev->priv = st;
	/*
	 * Nothing stopped the controller when a previous owner died (no IOMMU, no kernel
	 * driver to clean up): it may still DMA to physical pages that are now someone
	 * else's. Stop its DMA now and reset the function before the driver takes over.
	 */
	uint32_t cc = pci_mmio_read32(dev, NVME_REG_CC);
	if (cc != 0xffffffffu && (cc & NVME_CC_EN))
		aisio_log(AISIO_LOG_WARNING, bdf,
			  "the controller was left enabled (by a process that did not close it, or "
			  "the driver it was bound to before); stopping its DMA and resetting it");
	rc = uio_bus_master(dev, false);
	if (rc < 0)
		goto fail_opened;
	rc = uio_reset(dev);
	if (rc < 0 && rc != -ENOTSUP)
		goto fail_opened;
	return 0;
fail_opened:
	dev->priv = NULL;
	dev->bar0 = NULL;
	dev->bar0_len = 0;
fail:
	uio_state_free(st);
	return rc;
}

static void uio_close(struct pci_dev *dev)
{
	struct uio_state *st = dev->priv;
	if (!st)
		return;
	uio_state_free(st);
	dev->priv = NULL;
	dev->bar0 = NULL;
	dev->bar0_len = 0;
}

static int uio_dma_map(struct pci_dev *dev, struct dma_mem *m)
{
	/* The function sits in a kernel DMA domain (no IOMMU, or passthrough): the dma-buf is
	 * attached to it in the kernel, and the addresses that attachment gets are the ones to use. */
	if (m->kind == DMA_KIND_DMABUF)
		return dma_mem_dmabuf_import(m, dev->bdf);
	if (m->kind != DMA_KIND_HUGEPAGE) {
		/* Ordinary pages can move (compaction, migration): no stable physical address. */
		aisio_log(AISIO_LOG_ERROR, dev->bdf, "uio DMA needs hugepage memory");
		return -EINVAL;
	}
	int rc = dma_mem_phys_map(m);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, dev->bdf, "cannot find the physical addresses of DMA memory: %s",
			  strerror(-rc));
		return rc;
	}
	m->iova_base = 0;
	return 0;
}

static void uio_dma_unmap(struct pci_dev *dev, struct dma_mem *m)
{
	if (m->kind == DMA_KIND_DMABUF) {
		dma_mem_dmabuf_release(m);
		return;
	}
	free(m->iova_pages);
	m->iova_pages = NULL;
}

static int uio_bus_master(struct pci_dev *dev, bool on)
{
	struct uio_state *st = dev->priv;
	if (!st)
		return -ENODEV;
	uint16_t cmd;
	if (pread(st->cfg_fd, &cmd, sizeof(cmd), PCI_COMMAND) != sizeof(cmd)) {
		int err = errno ? errno : EIO;
		aisio_log(AISIO_LOG_ERROR, dev->bdf, "reading the PCI command register failed: %s", strerror(err));
		return -err;
	}
	uint16_t want = on ? (uint16_t)(cmd | PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY)
			   : (uint16_t)(cmd & ~PCI_COMMAND_MASTER);
	if (want == cmd)
		return 0;
	if (pwrite(st->cfg_fd, &want, sizeof(want), PCI_COMMAND) != sizeof(want)) {
		int err = errno ? errno : EIO;
		aisio_log(AISIO_LOG_ERROR, dev->bdf, "writing the PCI command register failed: %s", strerror(err));
		return -err;
	}
	return 0;
}

static int uio_reset(struct pci_dev *dev)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset", dev->bdf);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOTSUP : -errno;
	int rc = 0;
	/* The kernel saves and restores config space (BARs, command register) around the reset. */
	if (write(fd, "1", 1) != 1) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, dev->bdf, "function reset through %s failed: %s", path, strerror(-rc));
	}
	close(fd);
	return rc;
}

const struct pci_backend_ops pci_backend_uio = {
	.name = "uio",
	.dma_kind = DMA_KIND_HUGEPAGE,
	.open = uio_open,
	.close = uio_close,
	.dma_map = uio_dma_map,
	.dma_unmap = uio_dma_unmap,
	.bus_master = uio_bus_master,
	.reset = uio_reset,
};
