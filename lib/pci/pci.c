/* SPDX-License-Identifier: BSD-3-Clause */
/* Device-string dispatch to a PCI backend; a real function is locked (pci_lock.c) before it is opened. */
#include <aisio/pci.h>
#include <aisio/log.h>
#include <aisio/pci_sysfs.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1..max hex digits at *p, then the separator sep (0: the end of the string). */
static int bdf_field(const char **p, unsigned max, char sep, unsigned *out)
{
	unsigned v = 0, n = 0;
	for (; n < max && isxdigit((unsigned char)**p); n++, (*p)++) {
		int c = tolower((unsigned char)**p);
		v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
	}
	if (n == 0 || **p != sep)
		return -EINVAL;
	if (sep)
		(*p)++;
	*out = v;
	return 0;
}

int pci_parse_bdf(const char *s, char out[16])
{
	/* strictly [dddd:]bb:dd.f in hex: the result names sysfs entries and lock files */
	unsigned dom = 0, bus, dev, fn;
	const char *p = s;
	int colons = 0;
	for (const char *c = s; *c; c++)
		colons += *c == ':';
	if (colons == 2 && bdf_field(&p, 4, ':', &dom) < 0)
		return -EINVAL;
	if ((colons != 1 && colons != 2) || bdf_field(&p, 2, ':', &bus) < 0 || bdf_field(&p, 2, '.', &dev) < 0 ||
	    bdf_field(&p, 1, 0, &fn) < 0)
		return -EINVAL;
	if (dev > 0x1f || fn > 7)
		return -EINVAL;
	snprintf(out, 16, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return 0;
}

/* The exclusive lock of a real function (lib/pci/pci_lock.c). */
static int pci_dev_lock(struct pci_dev *dev)
{
	long holder;
	int fd = pci_lock(NULL, dev->bdf, &holder);
	if (fd == -EBUSY) {
		char path[PATH_MAX];
		pci_lock_path(NULL, dev->bdf, path, sizeof(path));
		if (holder)
			aisio_log(AISIO_LOG_ERROR, dev->bdf, "already open in aisio process %ld (lock %s)", holder, path);
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
	struct pci_dev *dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->lock_fd = -1;
	snprintf(dev->name, sizeof(dev->name), "%s", devstr);
	const char *spec = devstr;
	int rc;

	if (strncmp(devstr, "emu:", 4) == 0) {
		dev->backend = PCI_BACKEND_EMU;
		dev->ops = &pci_backend_emu;
		spec = devstr + 4;
	} else {
		if (pci_parse_bdf(devstr, dev->bdf) < 0) {
			aisio_log(AISIO_LOG_ERROR, NULL,
				  "'%s' is not a device: expected a PCI address (0000:01:00.0), "
				  "an emulated controller (emu:null, emu:ram:256M, emu:file:PATH) "
				  "or a path (/dev/nvme0n1, /dev/ng0n1, a file)",
				  devstr);
			rc = -EINVAL;
			goto fail;
		}
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
