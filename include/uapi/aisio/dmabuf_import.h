/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause */
/*
 * aisio-dmabuf: a dma-buf importer for a user-space NVMe driver. The one definition of its
 * ioctls, shared by kmod/aisio_dmabuf.c and lib/dma (the layout is fixed: a unit test checks
 * sizes and offsets, the module checks them at build time).
 *
 * ATTACH attaches a dma-buf to the PCI function that will DMA to it (the NVMe controller,
 * not this misc device) and maps it pinned, so the addresses in GET_MAP are the ones that
 * function must use wherever it sits in a kernel DMA domain (no IOMMU, or IOMMU passthrough).
 * Attachments belong to the open file: DETACH, close and process exit release them.
 */
#ifndef AISIO_UAPI_DMABUF_IMPORT_H
#define AISIO_UAPI_DMABUF_IMPORT_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define AISIO_DMABUF_DEVICE "/dev/aisio-dmabuf"
#define AISIO_DMABUF_PCI_ADDR_LEN 16 /* "dddd:bb:dd.f" and its NUL, zero-padded */
#define AISIO_DMABUF_MAX_RUNS 65536u /* an attachment mapped in more pieces is refused (-E2BIG) */

/* ATTACH: in fd, pci_addr (flags must be 0); out handle, nr_runs, size. */
struct aisio_dmabuf_attach {
	__s32 fd;
	__u32 flags;
	char pci_addr[AISIO_DMABUF_PCI_ADDR_LEN];
	__u64 size;    /* bytes of the dma-buf */
	__u32 handle;  /* names the attachment in GET_MAP and DETACH; never 0 */
	__u32 nr_runs; /* (addr, len) runs of its mapping */
};

struct aisio_dmabuf_run {
	__u64 addr; /* bus address for the importing function */
	__u64 len;  /* bytes */
};

/* GET_MAP: in handle, nr_runs (capacity of runs), runs (user pointer to that many entries);
 * out nr_runs (the attachment's count; -ENOSPC when the capacity is smaller, nothing copied). */
struct aisio_dmabuf_get_map {
	__u32 handle;
	__u32 nr_runs;
	__u64 runs;
};

struct aisio_dmabuf_detach {
	__u32 handle;
	__u32 flags; /* must be 0 */
};

#define AISIO_DMABUF_IOC_MAGIC 0xA1
#define AISIO_DMABUF_ATTACH _IOWR(AISIO_DMABUF_IOC_MAGIC, 1, struct aisio_dmabuf_attach)
#define AISIO_DMABUF_GET_MAP _IOWR(AISIO_DMABUF_IOC_MAGIC, 2, struct aisio_dmabuf_get_map)
#define AISIO_DMABUF_DETACH _IOW(AISIO_DMABUF_IOC_MAGIC, 3, struct aisio_dmabuf_detach)

/*
 * The test exporter (kmod/test/aisio_ivshmem_export.c): /dev/aisio-ivshmem-export hands out
 * the BAR2 of a QEMU ivshmem-plain device as a dma-buf; EXPORT returns its fd (O_CLOEXEC).
 */
#define AISIO_IVSHMEM_EXPORT_DEVICE "/dev/aisio-ivshmem-export"
#define AISIO_IVSHMEM_EXPORT _IO(AISIO_DMABUF_IOC_MAGIC, 0x10)

/* Sizes every user of this header may rely on (checked by the module and a unit test). */
#define AISIO_DMABUF_ATTACH_SIZE 40
#define AISIO_DMABUF_RUN_SIZE 16
#define AISIO_DMABUF_GET_MAP_SIZE 16
#define AISIO_DMABUF_DETACH_SIZE 8

#endif /* AISIO_UAPI_DMABUF_IMPORT_H */
