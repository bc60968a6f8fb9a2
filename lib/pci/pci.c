/* SPDX-License-Identifier: BSD-3-Clause */
/* Device-string dispatch to a PCI backend, exclusive locking of real functions. */
#include <aisio/pci.h>
#include <aisio/log.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int pci_parse_bdf(const char *s, char out[16])
{
	unsigned dom = 0, bus, dev, fn;
	char tail;
	if (sscanf(s, "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &tail) == 4) {
		/* full form */
	} else if (sscanf(s, "%x:%x.%x%c", &bus, &dev, &fn, &tail) == 3) {
		dom = 0;
	} else {
		return -EINVAL;
	}
	if (dom > 0xffff || bus > 0xff || dev > 0x1f || fn > 7)
		return -EINVAL;
	snprintf(out, 16, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return 0;
}

/* The kernel driver a function is bound to, "" when none. */
static int pci_sysfs_driver(const char *bdf, char *drv, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX];
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	struct stat st;
	if (stat(path, &st) < 0)
		return -ENODEV;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		drv[0] = 0;
		return 0;
	}
	link[n] = 0;
	const char *base = strrchr(link, '/');
	snprintf(drv, len, "%s", base ? base + 1 : link);
	return 0;
}

static int pci_lock(struct pci_dev *dev)
{
	char path[PATH_MAX];
	const char *dir = access("/run/lock", W_OK) == 0 ? "/run/lock" : "/tmp";
	snprintf(path, sizeof(path), "%s/aisio-%s.lock", dir, dev->bdf);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		aisio_log(AISIO_LOG_ERROR, dev->bdf, "already open in another aisio process (lock %s)", path);
		return -EBUSY;
	}
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
		rc = pci_sysfs_driver(dev->bdf, drv, sizeof(drv));
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
		rc = pci_lock(dev);
		if (rc < 0)
			goto fail;
	}
	rc = dev->ops->open(dev, spec);
	if (rc < 0)
		goto fail;
	*out = dev;
	return 0;
fail:
	if (dev->lock_fd >= 0)
		close(dev->lock_fd);
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
	if (dev->lock_fd >= 0)
		close(dev->lock_fd);
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
