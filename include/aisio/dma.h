/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DMA memory: host memory that a device can reach, with O(1) translation from a
 * virtual address to the bus address (IOVA) the device uses.
 *
 * Three kinds of backing: an ordinary memfd (emulated controllers; shareable with a
 * daemon), hugepages (real devices: physically contiguous per page, never swapped;
 * pinned by the vfio mapping) and a dma-buf (another device's memory, e.g. a GPU's or a
 * BAR; dma_mem_from_dmabuf). A dma-buf is mapped for a device by the backend: vfio maps
 * the exporter's CPU mapping into its container (MAP_DMA, IOVAs); uio, whose function
 * sits in a kernel DMA domain, imports it through the aisio-dmabuf module
 * (dma_mem_dmabuf_import), which attaches it to that function and returns its runs.
 * A dma_mem is mapped for a device by its PCI backend (pci_dev_dma_map), which
 * fills either one contiguous iova_base or a per-page table (physical addresses).
 *
 * Ownership: the caller owns a dma_mem and must unmap it from every device before
 * dma_mem_free. Thread-safety: dma_mem_iova is read-only and safe from any thread;
 * a dma_heap is not thread-safe (one owner, or an outside lock).
 */
#ifndef AISIO_DMA_H
#define AISIO_DMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dma_kind {
	DMA_KIND_MEMFD,    /* ordinary pages in a memfd */
	DMA_KIND_HUGEPAGE, /* 2 MiB hugepages in a MFD_HUGETLB memfd, populated */
	DMA_KIND_DMABUF,   /* a dma-buf: the exporter's memory (device memory, udmabuf) */
};

struct dma_mem {
	uint8_t *va;
	size_t len;
	int fd; /* the memfd behind va; -1 when none */
	enum dma_kind kind;
	unsigned page_shift;  /* log2 of the page size of the backing */
	uint64_t iova_base;   /* bus address of va when the mapping is contiguous */
	uint64_t *iova_pages; /* per-page bus addresses (physical mode, dma-buf import), else NULL */
	bool cpu_access;      /* va reads and writes reach the memory (false: a dma-buf the CPU cannot map) */
	int import_fd;        /* dma-buf import: the open aisio-dmabuf device, valid while import_handle */
	uint32_t import_handle;
};

/* Allocate len bytes (rounded up to the page size) of the given kind. Returns
 * -ENOMEM with a message naming vm.nr_hugepages when no hugepages are reserved. */
int dma_mem_alloc(struct dma_mem *m, size_t len, enum dma_kind kind);
void dma_mem_free(struct dma_mem *m);

/*
 * A dma-buf as DMA memory: dmabuf_fd is duplicated (the caller keeps its own), its size taken
 * with lseek, and it is mapped shared for the CPU; when the exporter refuses a CPU mapping (a
 * CUDA dma-buf), va is an inaccessible reservation of the same size that only names offsets
 * (cpu_access false). page_shift is 12: the NVMe page, whatever the exporter's page size.
 * cpu_fd, when not -1, is a file holding the same memory as ordinary pages (a udmabuf's memfd):
 * it is mapped instead, since vfio pins such pages but refuses a PFN mapping of RAM (how 6.12's
 * udmabuf maps itself).
 */
int dma_mem_from_dmabuf(struct dma_mem *m, int dmabuf_fd, int cpu_fd);

/*
 * Attach the dma-buf of m to the PCI function bdf ("dddd:bb:dd.f") through the aisio-dmabuf
 * module and fill iova_pages from its runs (one lookup per 4 KiB page). Runs must start and
 * end on 4 KiB boundaries (-EINVAL otherwise). -ENOENT with a message saying so when the
 * module is not loaded. dma_mem_dmabuf_release detaches (dma_mem_free does too).
 */
int dma_mem_dmabuf_import(struct dma_mem *m, const char *bdf);
void dma_mem_dmabuf_release(struct dma_mem *m);

/*
 * A dma-buf fd from a source name: "udmabuf[:SIZE]" (a sealed memfd of SIZE bytes, default
 * 8M, through /dev/udmabuf; the memfd in *memfd for dma_mem_from_dmabuf's cpu_fd), "fd:N" (an
 * inherited fd, duplicated) or a device node path whose EXPORT ioctl returns one (the ivshmem
 * test exporter, kmod/test); *memfd is -1 for those two. Returns the fd or -errno with a message.
 */
int dma_buf_open_source(const char *source, int *memfd);

/* Fill iova_pages from /proc/self/pagemap (needs root; hugepage memory, which is never swapped out). */
int dma_mem_phys_map(struct dma_mem *m);

static inline bool dma_mem_contains(const struct dma_mem *m, const void *va, size_t len)
{
	const uint8_t *p = (const uint8_t *)va;
	return p >= m->va && len <= m->len && (size_t)(p - m->va) <= m->len - len;
}

/* Bus address of va, which must lie inside m. */
static inline uint64_t dma_mem_iova(const struct dma_mem *m, const void *va)
{
	size_t off = (size_t)((const uint8_t *)va - m->va);
	if (!m->iova_pages)
		return m->iova_base + off;
	return m->iova_pages[off >> m->page_shift] + (off & (((size_t)1 << m->page_shift) - 1));
}

/*
 * A simple first-fit allocator of 4 KiB chunks inside one dma_mem: queues, PRP
 * list pages and data buffers. Not on the hot path.
 */
struct dma_heap {
	struct dma_mem *mem;
	size_t nchunks;
	uint32_t *alloc_len; /* per chunk: length in chunks of the block starting here, else 0 */
	uint8_t *used;       /* per chunk: 1 if allocated */
};

#define DMA_HEAP_CHUNK 4096u

int dma_heap_init(struct dma_heap *h, struct dma_mem *mem);
void dma_heap_term(struct dma_heap *h);
/* Returns zeroed memory (a dma-buf without CPU access: as it is) aligned to max(align, 4 KiB) or NULL when full. */
void *dma_heap_alloc(struct dma_heap *h, size_t len, size_t align);
void dma_heap_free(struct dma_heap *h, void *va);
size_t dma_heap_free_bytes(const struct dma_heap *h);

#endif /* AISIO_DMA_H */
