/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A PCI function as the NVMe driver sees it: BAR0, DMA mappings, bus mastering,
 * function reset. The backend is chosen by the device string (classified by devstr.h):
 *
 *   0000:01:00.0 / 01:00.0   whichever of vfio-pci / uio_pci_generic the function is bound to
 *   emu:<namespace spec>     the software NVMe controller (lib/emu), see emu.h
 * Other kinds are refused with the layer that opens them (devstr_refuse).
 *
 * Opening a real function takes aisio's exclusive lock on it (pci_lock in pci_sysfs.h;
 * a second open fails with -EBUSY). Closing turns bus mastering off before returning, so no DMA lands in
 * memory freed afterwards; the NVMe layer disables the controller before that.
 *
 * Ownership: the caller owns the pci_dev until pci_dev_close. Thread-safety: open,
 * close, map and unmap from one thread; BAR0 accesses from any thread.
 */
#ifndef AISIO_PCI_H
#define AISIO_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <aisio/dma.h>
#include <aisio/nvme_ring.h>

enum pci_backend {
	PCI_BACKEND_VFIO,
	PCI_BACKEND_UIO,
	PCI_BACKEND_EMU,
};

struct pci_dev;
struct emu_ctrl;

/* Operations a backend implements; pci_dev_open picks one by the device string's kind. */
struct pci_backend_ops {
	const char *name;
	enum dma_kind dma_kind; /* which memory the backend can map */
	int (*open)(struct pci_dev *dev, const char *spec);
	void (*close)(struct pci_dev *dev);
	int (*dma_map)(struct pci_dev *dev, struct dma_mem *m);
	void (*dma_unmap)(struct pci_dev *dev, struct dma_mem *m);
	int (*bus_master)(struct pci_dev *dev, bool on);
	int (*reset)(struct pci_dev *dev); /* function level reset; -ENOTSUP if none */
	/* where another process maps queue qid's doorbells from; -ENOTSUP if it cannot */
	int (*doorbells)(struct pci_dev *dev, uint16_t qid, unsigned dstrd, struct nvme_db_map *m);
};

struct pci_dev {
	char name[128]; /* the device string as opened */
	char bdf[16];   /* domain:bus:dev.fn for real functions, else "" */
	enum pci_backend backend;
	const struct pci_backend_ops *ops;
	volatile uint8_t *bar0;
	size_t bar0_len;
	void *priv;  /* backend state */
	int lock_fd; /* exclusive lock of a real function, else -1 */
	/*
	 * Software devices only: a function the driver calls when it polls an I/O
	 * queue, so that the poller itself serves the queue (emu inline mode). NULL
	 * for real devices and for emulated ones with engine threads.
	 */
	void (*sw_poll)(void *ctx, uint16_t sqid);
	void *sw_poll_ctx;
	struct emu_ctrl *emu; /* the emulated controller, or NULL */
};

/* Open a device string. On failure prints why to stderr and returns -errno:
 * -ENODEV no such function, -EBUSY bound to a kernel driver or already open,
 * -EINVAL a malformed string or one another layer opens (homi:, gpuemu:, kernel paths). */
int pci_dev_open(struct pci_dev **out, const char *devstr);
void pci_dev_close(struct pci_dev *dev);

int pci_dev_dma_map(struct pci_dev *dev, struct dma_mem *m);
void pci_dev_dma_unmap(struct pci_dev *dev, struct dma_mem *m);
int pci_dev_bus_master(struct pci_dev *dev, bool on);
int pci_dev_reset(struct pci_dev *dev);
/* For a daemon handing queue qid to a client: the file and range that hold its doorbells (aisio/nvme_ring.h).
 * emu: the queue's own pages when the stride allows (emu_ctrl_doorbells); vfio: the device fd's
 * BAR0 region, which reaches every register (not isolated). The fd stays the device's. */
int pci_dev_doorbells(struct pci_dev *dev, uint16_t qid, unsigned dstrd, struct nvme_db_map *m);

/* Backends. vfio and uio are Linux-only and need root. */
extern const struct pci_backend_ops pci_backend_emu;
extern const struct pci_backend_ops pci_backend_vfio;
extern const struct pci_backend_ops pci_backend_uio;

/* 32/64-bit register access: one MMIO operation each, nothing else. */
static inline uint32_t pci_mmio_read32(const struct pci_dev *dev, uint32_t off)
{
	return *(const volatile uint32_t *)(dev->bar0 + off);
}

static inline void pci_mmio_write32(const struct pci_dev *dev, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(dev->bar0 + off) = v;
}

/* Two 32-bit accesses, low first: some controllers do not take 64-bit MMIO. */
static inline uint64_t pci_mmio_read64(const struct pci_dev *dev, uint32_t off)
{
	uint64_t lo = pci_mmio_read32(dev, off);
	uint64_t hi = pci_mmio_read32(dev, off + 4);
	return lo | (hi << 32);
}

static inline void pci_mmio_write64(const struct pci_dev *dev, uint32_t off, uint64_t v)
{
	pci_mmio_write32(dev, off, (uint32_t)v);
	pci_mmio_write32(dev, off + 4, (uint32_t)(v >> 32));
}

#endif /* AISIO_PCI_H */
