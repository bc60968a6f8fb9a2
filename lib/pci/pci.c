/* SPDX-License-Identifier: BSD-3-Clause */
/* Opening a device string through its PCI backend; a real function is locked (pci_lock.c) before it is opened. */
#include <aisio/devstr.h>
#include <aisio/pci.h>
#include <aisio/log.h>
#include <aisio/pci_sysfs.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The exclusive lock of a real function (lib/pci/pci_lock.c). */
static int pci_dev_lock(struct pci_dev *dev)
{
	long holder;
	int fd = pci_lock(NULL, dev->bdf, &holder);
	if (fd == -EBUSY) {
		char path[PATH_MAX];
		pci_lock_path(NULL, dev->bdf, path, sizeof(path));
		if (holder)
			aisio_log(AISIO_LOG_ERROR, dev->bdf, "already open in aisio process %ld (lock %s)", holder,
				  path);
		else
			aisio_log(AISIO_LOG_ERROR, dev->bdf, "already open in another aisio process (lock %s)", path);
	}
	if (fd < 0)
		return fd;
	dev->lock_fd = fd;
	return 0;
}

int pci_dev_open(struct pci_dev **out, const char *devstr)
{
	struct devstr ds;
	int rc = devstr_parse(&ds, devstr);
	if (rc < 0)
		return rc;
	if (ds.kind != DEVSTR_PCI && ds.kind != DEVSTR_EMU)
		return devstr_refuse(&ds, "the user-space driver");
	struct pci_dev *dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->lock_fd = -1;
	snprintf(dev->name, sizeof(dev->name), "%s", devstr);
	const char *spec = ds.spec;

	if (ds.kind == DEVSTR_EMU) {
		dev->backend = PCI_BACKEND_EMU;
		dev->ops = &pci_backend_emu;
	} else {
		snprintf(dev->bdf, sizeof(dev->bdf), "%s", ds.pci_addr);
		char drv[64];
		rc = pci_sysfs_driver(NULL, dev->bdf, drv, sizeof(drv));
		if (rc < 0) {
			aisio_log(AISIO_LOG_ERROR, dev->bdf, "no PCI function at this address on this machine");
			goto fail;
		}
		if (strcmp(drv, "vfio-pci") == 0) {
			dev->backend = PCI_BACKEND_VFIO;
			dev->ops = &pci_backend_vfio;
		} else if (strcmp(drv, "uio_pci_generic") == 0) {
			dev->backend = PCI_BACKEND_UIO;
			dev->ops = &pci_backend_uio;
		} else {
			if (drv[0])
				aisio_log(AISIO_LOG_ERROR, dev->bdf,
					  "bound to the kernel driver '%s'; aisio leaves it alone. "
					  "Unbind it first: aisio bind %s vfio-pci",
					  drv, dev->bdf);
			else
				aisio_log(AISIO_LOG_ERROR, dev->bdf,
					  "bound to no driver; bind it first: aisio bind %s vfio-pci", dev->bdf);
			rc = drv[0] ? -EBUSY : -ENODEV;
			goto fail;
		}
		spec = dev->bdf;
		rc = pci_dev_lock(dev);
		if (rc < 0)
			goto fail;
	}
	rc = dev->ops->open(dev, spec);
	if (rc < 0)
		goto fail;
	*out = dev;
	return 0;
fail:
	pci_unlock(dev->lock_fd);
	free(dev);
	return rc;
}

void pci_dev_close(struct pci_dev *dev)
{
	if (!dev)
		return;
	/* No DMA after close: bus mastering off before the backend lets go of memory. */
	if (dev->backend != PCI_BACKEND_EMU)
		pci_dev_bus_master(dev, false);
	dev->ops->close(dev);
	pci_unlock(dev->lock_fd);
	free(dev);
}

int pci_dev_dma_map(struct pci_dev *dev, struct dma_mem *m)
{
	return dev->ops->dma_map(dev, m);
}

void pci_dev_dma_unmap(struct pci_dev *dev, struct dma_mem *m)
{
	dev->ops->dma_unmap(dev, m);
}

int pci_dev_bus_master(struct pci_dev *dev, bool on)
{
	return dev->ops->bus_master(dev, on);
}

int pci_dev_reset(struct pci_dev *dev)
{
	return dev->ops->reset(dev);
}

int pci_dev_doorbells(struct pci_dev *dev, uint16_t qid, unsigned dstrd, struct nvme_db_map *m)
{
	return dev->ops->doorbells ? dev->ops->doorbells(dev, qid, dstrd, m) : -ENOTSUP;
}
