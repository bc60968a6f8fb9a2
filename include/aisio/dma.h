/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DMA memory: host memory that a device can reach, with O(1) translation from a
 * virtual address to the bus address (IOVA) the device uses.
 *
 * Two kinds of backing: an ordinary memfd (emulated controllers; shareable with a
 * daemon) and hugepages (real devices: physically contiguous per page, never swapped;
 * pinned by the vfio mapping).
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
};

struct dma_mem {
	uint8_t *va;
	size_t len;
	int fd; /* the memfd behind va; -1 when none */
	enum dma_kind kind;
	unsigned page_shift;  /* log2 of the page size of the backing */
	uint64_t iova_base;   /* bus address of va when the mapping is contiguous */
	uint64_t *iova_pages; /* per-page bus addresses (physical mode), else NULL */
};

/* Allocate len bytes (rounded up to the page size) of the given kind. Returns
 * -ENOMEM with a message naming vm.nr_hugepages when no hugepages are reserved. */
int dma_mem_alloc(struct dma_mem *m, size_t len, enum dma_kind kind);
void dma_mem_free(struct dma_mem *m);

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
/* Returns zeroed memory aligned to max(align, 4 KiB) or NULL when full. */
void *dma_heap_alloc(struct dma_heap *h, size_t len, size_t align);
void dma_heap_free(struct dma_heap *h, void *va);
size_t dma_heap_free_bytes(const struct dma_heap *h);

#endif /* AISIO_DMA_H */
