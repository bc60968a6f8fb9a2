/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An NVMe queue pair as both drivers and both kinds of emulated controller see it, one definition for host
 * C11 code and CUDA device code (aisio/hostdev.h):
 *
 *   driver side      ring positions (slot, phase), the read/write SQE, CQE dword 3 (cid, status, phase),
 *                    PRP1/PRP2 and PRP lists chained past a page (nvme_prp_pair, nvme_prp_list,
 *                    nvme_prp_build) with their sizing; used by the CPU driver (nvmed.h, lib/nvme) and the
 *                    GPU driver (gpu_nvme.cuh, lib/gpu);
 *   controller side  SQE decoding, the CQE dword 3 a controller writes, and the PRP walker
 *                    (nvme_prp_walk_*), used by emu (lib/emu), gpuemu's GPU engine and its CPU engine.
 *
 * Ring positions. Drivers count positions with free-running 32-bit counters (the SQ tail, the CQ head, the
 * GPU's slot tickets) over rings whose number of entries is a power of two: the slot of counter c is its low
 * bits, and a valid CQE at counter c carries phase 1 on even laps and 0 on odd ones (the lap is the bit
 * above the slot bits). Why this model for both drivers:
 *   - the GPU's many-writer protocol hands out slot tickets with one atomicAdd and compares them by wrapping
 *     differences, which needs a counter that wraps at a multiple of the ring size (2^32 does for a power of
 *     two) and a slot that costs an AND rather than a division (tens of instructions on the GPU);
 *   - the CPU driver pays nothing for it: a submission is one increment and an AND where the other model
 *     compared and reset, the poll loop steps its slot beside the counter (a compare and a rarely taken branch
 *     per entry, as before) and takes the phase from the counter once per call, so no phase is stored; driver
 *     instructions per I/O went from 99.3 to 95.3 (docs/PERFORMANCE.md). Its rings are the asked depth rounded
 *     up to a power of two (at most twice the 80 bytes an entry takes); the number of command ids, and so what
 *     may be in flight, stays depth - 1.
 *   The other model (an index that wraps at any depth, a phase bit kept beside it) cannot hand out slots with
 *   one atomic. Controllers must take every queue size the spec allows (2..MQES + 1), so emu and gpuemu keep
 *   that model on their side.
 *
 * Ownership: plain functions over caller memory. Thread-safety: none needed (no state); the walker's state is
 * one caller's.
 */
#ifndef AISIO_NVME_RING_H
#define AISIO_NVME_RING_H

#include <stddef.h>
#include <stdint.h>

#include <aisio/hostdev.h>
#include <aisio/nvme_spec.h>

/* ------------------------------------------------------------------------------------------------
 * Ring positions (driver side)
 * ---------------------------------------------------------------------------------------------- */

/* Ring entries for a queue of depth entries: the next power of two (depth 2..2^31). */
AISIO_HD uint32_t nvme_ring_entries(uint32_t depth)
{
	uint32_t e = 1;
	while (e < depth)
		e <<= 1;
	return e;
}

/* Slot of counter c in a ring of entries (a power of two): also the value a doorbell takes. */
AISIO_HD uint32_t nvme_ring_slot(uint32_t c, uint32_t entries)
{
	return c & (entries - 1);
}

/* Phase a valid CQE has at CQ counter c: 1 on the first lap (and every even one), 0 on odd laps. */
AISIO_HD uint32_t nvme_ring_phase(uint32_t c, uint32_t entries)
{
	return (c & entries) ? 0u : 1u;
}

/*
 * New SQ head counter from a CQE's SQHD slot. head and tail are counters (tail: entries published with the
 * doorbell); the controller cannot have consumed past the tail, so an SQHD that would move the head beyond
 * it (a stale or bogus value) leaves the head where it was.
 */
AISIO_HD uint32_t nvme_sqhd_advance(uint32_t head, uint32_t tail, uint16_t sqhd, uint32_t entries)
{
	uint32_t d = ((uint32_t)sqhd - head) & (entries - 1);
	return d <= tail - head ? head + d : head;
}

/* ------------------------------------------------------------------------------------------------
 * Entries: the read/write SQE and CQE dword 3
 * ---------------------------------------------------------------------------------------------- */

/* A 64-bit store into an SQE viewed as eight qwords (may alias the struct). */
typedef uint64_t __attribute__((may_alias)) nvme_u64_alias;

/*
 * Every field of a read or write SQE but the PRPs (prp1, prp2 are the caller's): opcode, no fuse, PRP data
 * (PSDT 0), cid, nsid, slba, nlb blocks (1..65536). One 64-bit store per qword, written in place: the hot
 * path of every benchmark.
 */
AISIO_HD void nvme_sqe_rw(struct nvme_sqe *sqe, uint8_t opc, uint16_t cid, uint32_t nsid, uint64_t slba, uint32_t nlb)
{
	nvme_u64_alias *q = (nvme_u64_alias *)sqe;
	q[0] = (uint64_t)opc | ((uint64_t)cid << 16) | ((uint64_t)nsid << 32);
	q[1] = 0;                   /* cdw2, cdw3 */
	q[2] = 0;                   /* mptr */
	q[5] = slba;                /* cdw10, cdw11 */
	q[6] = (uint64_t)(nlb - 1); /* cdw12 (NLB, 0's based), cdw13 */
	q[7] = 0;                   /* cdw14, cdw15 */
}

/* Controller side: the starting LBA and the block count of a read, write or write zeroes. */
AISIO_HD uint64_t nvme_sqe_slba(const struct nvme_sqe *sqe)
{
	return (uint64_t)sqe->cdw10 | ((uint64_t)sqe->cdw11 << 32);
}
AISIO_HD uint32_t nvme_sqe_nlb(const struct nvme_sqe *sqe)
{
	return (sqe->cdw12 & 0xffffu) + 1;
}

/*
 * CQE dword 3: cid (bits 15:0), phase (16), status (SCT << 8 | SC in 27:17). A controller writes it last, in one
 * store, after the rest of the entry (and the data); a driver that loads it sees cid and status with the phase
 * and needs nothing else of the entry.
 */
#define NVME_CQE_DW3_PHASE (1u << 16)

AISIO_HD uint32_t nvme_cqe_dw3(uint16_t cid, uint16_t status, uint32_t phase)
{
	return (uint32_t)cid | ((((uint32_t)status & 0x7ffu) << 1 | (phase & 1u)) << 16);
}
AISIO_HD uint16_t nvme_cqe_dw3_cid(uint32_t dw3)
{
	return (uint16_t)dw3;
}
AISIO_HD uint32_t nvme_cqe_dw3_phase(uint32_t dw3)
{
	return (dw3 >> 16) & 1u;
}
/* SCT << 8 | SC; 0 for success. */
AISIO_HD uint16_t nvme_cqe_dw3_status(uint32_t dw3)
{
	return (uint16_t)((dw3 >> 17) & 0x7ffu);
}

/* ------------------------------------------------------------------------------------------------
 * PRPs, driver side: PRP1, PRP2 and chained PRP lists
 * ---------------------------------------------------------------------------------------------- */

/*
 * How the controller reaches a range of memory: byte off of [va, va + len) is at bus address iova_base + off,
 * or, with a page table, iova_pages[off >> page_shift] + (off & (2^page_shift - 1)). The CPU driver's DMA memory
 * has a table in physical mode (hugepages); the GPU driver's buffers are bus-contiguous (no table).
 */
/* Where another process maps a queue pair's doorbells from (a homid client): mmap map_len bytes of
 * fd at map_off; the SQ tail and CQ head doorbells lie at those offsets in the mapping. */
struct nvme_db_map {
	int fd;
	uint64_t map_off, map_len;
	uint32_t sq_db_off, cq_db_off;
	int isolated; /* fd reaches this queue pair's doorbells and nothing else */
};

struct nvme_dma_map {
	const uint8_t *va;
	uint64_t iova_base;
	const uint64_t *iova_pages;
	uint32_t page_shift;
	size_t len;
};

/* Bus address of va, which lies inside m. */
AISIO_HD uint64_t nvme_dma_iova(const struct nvme_dma_map *m, const void *va)
{
	size_t off = (size_t)((const uint8_t *)va - m->va);
	if (!m->iova_pages)
		return m->iova_base + off;
	return m->iova_pages[off >> m->page_shift] + (off & (((size_t)1 << m->page_shift) - 1));
}

/*
 * PRP1 and PRP2 for len > 0 bytes at va (mapped by m, dword aligned) with memory pages of 2^page_shift bytes:
 * one page: PRP2 is 0; two pages: PRP2 is the second. Returns 0, or 1 when the transfer takes a third page or
 * more: *prp1 is set, and nvme_prp_list builds the list PRP2 points at.
 */
AISIO_HD int nvme_prp_pair(const struct nvme_dma_map *m, const void *va, uint32_t len, uint32_t page_shift,
			   uint64_t *prp1, uint64_t *prp2)
{
	const uint32_t psz = 1u << page_shift;
	uint64_t iova = nvme_dma_iova(m, va);
	uint32_t first = psz - (uint32_t)(iova & (psz - 1));
	*prp1 = iova;
	if (len <= first)
		*prp2 = 0;
	else if (len <= first + psz)
		*prp2 = nvme_dma_iova(m, (const uint8_t *)va + first);
	else
		return 1;
	return 0;
}

/*
 * The PRP list of a transfer that takes three pages or more (nvme_prp_pair returned 1): the bus addresses of
 * pages 1..n-1 go into list (room for list_bytes, mapped by lm; its virtual and bus addresses share their
 * offset within a page) and PRP2 points at it. A list runs to the end of its memory page; when more than one
 * entry is left at the page's last slot, that slot points at the next page of the list instead (chaining),
 * which continues at list's next page. Returns the number of page entries, or -7 (-E2BIG) when list_bytes is
 * too little (nvme_prp_list_bytes says how much a transfer limit needs).
 */
AISIO_HD int nvme_prp_list(const struct nvme_dma_map *m, const void *va, uint32_t len, uint32_t page_shift,
			   uint64_t *list, const struct nvme_dma_map *lm, uint32_t list_bytes, uint64_t *prp2)
{
	const uint32_t psz = 1u << page_shift;
	const uint32_t first = psz - (uint32_t)(nvme_dma_iova(m, va) & (psz - 1));
	const uint32_t entries = (len - first + psz - 1) >> page_shift;
	const uint8_t *p = (const uint8_t *)va + first;
	uint64_t *s = list;
	uint64_t *end = list + list_bytes / 8;
	const uint64_t list_bus = nvme_dma_iova(lm, list);
	/* slots from the list's start to the end of its memory page */
	uint32_t slots = (psz - (uint32_t)(list_bus & (psz - 1))) / 8;
	*prp2 = list_bus;
	for (uint32_t i = 0; i < entries; i++, p += psz) {
		if (slots == 1 && i + 1 < entries) {
			/* the page's last slot, more than one entry to go: it names the next list page */
			if (end - s < 2)
				return -7;
			*s = nvme_dma_iova(lm, s + 1);
			s++;
			slots = psz / 8;
		}
		if (s == end)
			return -7;
		*s++ = nvme_dma_iova(m, p);
		slots--;
	}
	return (int)entries;
}

/*
 * PRP1, PRP2 and (over two pages) the list, for len bytes at va. Returns the number of list entries (0 for
 * none), -7 (-E2BIG) when the list has no room, -22 (-EINVAL) for len 0 or an address off a dword.
 */
AISIO_HD int nvme_prp_build(const struct nvme_dma_map *m, const void *va, uint32_t len, uint32_t page_shift,
			    uint64_t *list, const struct nvme_dma_map *lm, uint32_t list_bytes, uint64_t *prp1,
			    uint64_t *prp2)
{
	if (len == 0 || (nvme_dma_iova(m, va) & 3))
		return -22; /* -EINVAL, spelled out: errno.h is not for every device compile */
	if (!nvme_prp_pair(m, va, len, page_shift, prp1, prp2))
		return 0;
	return nvme_prp_list(m, va, len, page_shift, list, lm, list_bytes, prp2);
}

/*
 * PRP list room for one command of up to max_xfer bytes at any dword-aligned address: 0 when two pages always
 * suffice; within a page, a power of two of bytes (a list at a multiple of its size never crosses a page, so
 * it never chains); beyond, whole pages of which each but the last holds page_size / 8 - 1 entries and the
 * chain slot. The list area of each command must be aligned to this size (at most a page).
 */
AISIO_HD uint32_t nvme_prp_list_bytes(uint32_t max_xfer, uint32_t page_shift)
{
	const uint32_t psz = 1u << page_shift, per_page = psz / 8;
	/* pages after the first, worst case (a buffer that starts just before a page boundary) */
	const uint32_t entries = (uint32_t)(((uint64_t)max_xfer + psz - 1) >> page_shift);
	if (entries <= 1)
		return 0;
	if (entries <= per_page) {
		uint32_t b = 8;
		while (b < entries * 8)
			b <<= 1;
		return b;
	}
	return (entries - 1 + per_page - 2) / (per_page - 1) * psz;
}

/* Memory pages len bytes at bus address bus touch. */
AISIO_HD uint32_t nvme_prp_npages(uint64_t bus, uint32_t len, uint32_t page_shift)
{
	uint64_t off = bus & ((1ull << page_shift) - 1);
	return (uint32_t)((off + len + (1ull << page_shift) - 1) >> page_shift);
}

/* ------------------------------------------------------------------------------------------------
 * PRPs, controller side: the walker
 *
 * Written apart from the builder above on purpose: emu's tests catch driver PRP bugs because the controller
 * reads PRPs by the spec, not by the driver's arithmetic.
 * ---------------------------------------------------------------------------------------------- */

/* Map [bus, bus + len) that a command's PRPs name to memory the controller can touch, or NULL when the range
 * lies outside what the host gave it (the command then fails with Data Transfer Error). */
typedef void *(*nvme_prp_map_fn)(const void *ctx, uint64_t bus, uint32_t len);

/* Chained list pages a command may take before it is failed (a list that chains to itself) */
#define NVME_PRP_MAX_CHAINS 65536u

/* Where a walk through one command's PRPs stands: nvme_prp_walk_init, then nvme_prp_walk_next until
 * nvme_prp_walk_left is 0 or it fails. */
struct nvme_prp_walk {
	uint64_t prp1, prp2;
	uint64_t list;                 /* bus address of the list page part to map next */
	const volatile uint64_t *slot; /* the mapped list slot of the next page, NULL before the first list */
	uint32_t slots_left;           /* page entries mapped at slot */
	uint32_t left;                 /* bytes of the transfer not yet resolved */
	uint32_t page;                 /* index of the next page of the transfer */
	uint32_t chains;
	uint32_t page_shift;
};

AISIO_HD void nvme_prp_walk_init(struct nvme_prp_walk *w, uint64_t prp1, uint64_t prp2, uint32_t len,
				 uint32_t page_shift)
{
	w->prp1 = prp1;
	w->prp2 = prp2;
	w->list = prp2;
	w->slot = NULL;
	w->slots_left = 0;
	w->left = len;
	w->page = 0;
	w->chains = 0;
	w->page_shift = page_shift;
}

/* Bytes of the transfer the walk has not resolved yet. */
AISIO_HD uint32_t nvme_prp_walk_left(const struct nvme_prp_walk *w)
{
	return w->left;
}

/* Bytes of page k of a transfer of len bytes at PRP1 prp1 (page 0 starts at PRP1's offset). */
AISIO_HD uint32_t nvme_prp_page_len(uint64_t prp1, uint32_t len, uint32_t k, uint32_t page_shift)
{
	const uint32_t psz = 1u << page_shift, off = (uint32_t)prp1 & (psz - 1);
	const uint64_t start = k ? (uint64_t)k * psz - off : 0;
	const uint32_t n = k ? psz : psz - off;
	return len - start < n ? (uint32_t)(len - start) : n;
}

/*
 * Resolve the next pages of the transfer, at most max, as the spec reads PRPs: PRP1 with an offset (dword
 * aligned); PRP2 the second page (page aligned) when two pages hold the transfer, else a pointer (qword
 * aligned) to a list whose entries (page aligned) run to the end of its memory page, the last one naming the
 * next list page (qword aligned) when more than one entry is left. seg[i] gets where page i of this call
 * starts in memory (map's pointer; page 0 at PRP1's offset) and *got how many pages were resolved.
 *
 * nlanes > 1: lanes 0..nlanes-1 of a GPU warp run the same walk in step; each maps and checks only the pages
 * i with i % nlanes == lane (it leaves the other seg[] alone) and all follow the list pages.
 *
 * Returns 0, or the status of the first page that failed, with *got its index (the pages before it are in
 * seg[]): PRP Offset Invalid for an address off its alignment or a list that keeps chaining, Data Transfer
 * Error for memory map refuses. Lanes report their own first failure.
 */
AISIO_HD uint16_t nvme_prp_walk_next(struct nvme_prp_walk *w, nvme_prp_map_fn map, const void *ctx, uint64_t *seg,
				     uint32_t max, uint32_t *got, uint32_t lane, uint32_t nlanes)
{
	const uint32_t psz = 1u << w->page_shift, pmask = psz - 1;
	uint32_t i = 0;
	while (i < max && w->left) {
		if (w->page == 0) {
			uint32_t n = psz - ((uint32_t)w->prp1 & pmask);
			if (n > w->left)
				n = w->left;
			if (i % nlanes == lane) {
				void *p = (w->prp1 & 3) ? NULL : map(ctx, w->prp1, n);
				if (!p) {
					*got = i;
					return (w->prp1 & 3) ? NVME_SC_PRP_OFFSET_INVALID : NVME_SC_DATA_XFER_ERROR;
				}
				seg[i] = (uint64_t)(uintptr_t)p;
			}
			w->left -= n;
			w->page = 1;
			i++;
			continue;
		}
		if (w->page == 1 && w->left <= psz) {
			/* two pages: PRP2 is the second */
			if (i % nlanes == lane) {
				void *p = (w->prp2 & pmask) ? NULL : map(ctx, w->prp2, w->left);
				if (!p) {
					*got = i;
					return (w->prp2 & pmask) ? NVME_SC_PRP_OFFSET_INVALID : NVME_SC_DATA_XFER_ERROR;
				}
				seg[i] = (uint64_t)(uintptr_t)p;
			}
			w->left = 0;
			w->page = 2;
			i++;
			continue;
		}
		if (w->slots_left == 0) {
			if (w->slot) {
				/* this list page is used up: its last slot names the next one */
				uint64_t next = *w->slot;
				if ((next & 7) || ++w->chains > NVME_PRP_MAX_CHAINS) {
					*got = i;
					return NVME_SC_PRP_OFFSET_INVALID;
				}
				w->list = next;
			} else if (w->list & 7) {
				*got = i;
				return NVME_SC_PRP_OFFSET_INVALID;
			}
			const uint32_t pages = (w->left + pmask) >> w->page_shift;
			const uint32_t slots = (psz - ((uint32_t)w->list & pmask)) / 8;
			const uint32_t chain = pages > slots;
			const uint32_t take = chain ? slots - 1 : pages;
			const volatile uint64_t *s = (const volatile uint64_t *)map(ctx, w->list, (take + chain) * 8);
			if (!s) {
				*got = i;
				return NVME_SC_DATA_XFER_ERROR;
			}
			w->slot = s;
			w->slots_left = take;
			continue;
		}
		uint32_t t = w->slots_left < max - i ? w->slots_left : max - i;
		for (uint32_t j = (lane + nlanes - i % nlanes) % nlanes; j < t; j += nlanes) {
			const uint64_t e = w->slot[j];
			const uint32_t n = w->left - j * psz < psz ? w->left - j * psz : psz;
			void *p = (e & pmask) ? NULL : map(ctx, e, n);
			if (!p) {
				*got = i + j;
				return (e & pmask) ? NVME_SC_PRP_OFFSET_INVALID : NVME_SC_DATA_XFER_ERROR;
			}
			seg[i + j] = (uint64_t)(uintptr_t)p;
		}
		w->slot += t;
		w->slots_left -= t;
		w->page += t;
		w->left = w->left > t * psz ? w->left - t * psz : 0;
		i += t;
	}
	*got = i;
	return NVME_SC_SUCCESS;
}

#endif /* AISIO_NVME_RING_H */
