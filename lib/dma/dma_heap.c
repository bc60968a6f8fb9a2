/* SPDX-License-Identifier: BSD-3-Clause */
/* First-fit chunk allocator over one dma_mem (queues, PRP lists, buffers; not hot). */
#include <aisio/dma.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int dma_heap_init(struct dma_heap *h, struct dma_mem *mem)
{
	memset(h, 0, sizeof(*h));
	h->mem = mem;
	h->nchunks = mem->len / DMA_HEAP_CHUNK;
	h->alloc_len = calloc(h->nchunks, sizeof(*h->alloc_len));
	h->used = calloc(h->nchunks, 1);
	if (!h->alloc_len || !h->used) {
		dma_heap_term(h);
		return -ENOMEM;
	}
	return 0;
}

void dma_heap_term(struct dma_heap *h)
{
	free(h->alloc_len);
	free(h->used);
	memset(h, 0, sizeof(*h));
}

void *dma_heap_alloc(struct dma_heap *h, size_t len, size_t align)
{
	if (len == 0)
		return NULL;
	size_t n = (len + DMA_HEAP_CHUNK - 1) / DMA_HEAP_CHUNK;
	size_t step = align > DMA_HEAP_CHUNK ? align / DMA_HEAP_CHUNK : 1;
	for (size_t i = 0; i + n <= h->nchunks; i += step) {
		size_t j = 0;
		while (j < n && !h->used[i + j])
			j++;
		if (j < n) {
			/* skip past the used chunk, keeping the alignment */
			size_t next = i + j + 1;
			i = (next + step - 1) / step * step - step;
			continue;
		}
		memset(h->used + i, 1, n);
		h->alloc_len[i] = (uint32_t)n;
		void *va = h->mem->va + i * DMA_HEAP_CHUNK;
		if (h->mem->kind != DMA_KIND_DMABUF || h->mem->cpu_access)
			memset(va, 0, n * DMA_HEAP_CHUNK);
		return va;
	}
	return NULL;
}

void dma_heap_free(struct dma_heap *h, void *va)
{
	if (!va)
		return;
	size_t i = (size_t)((uint8_t *)va - h->mem->va) / DMA_HEAP_CHUNK;
	if (i >= h->nchunks || !h->alloc_len[i])
		abort(); /* freeing what was never allocated is a bug in the caller */
	memset(h->used + i, 0, h->alloc_len[i]);
	h->alloc_len[i] = 0;
}

size_t dma_heap_free_bytes(const struct dma_heap *h)
{
	size_t n = 0;
	for (size_t i = 0; i < h->nchunks; i++)
		n += !h->used[i];
	return n * DMA_HEAP_CHUNK;
}
