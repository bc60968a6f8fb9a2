/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NVMe ring header both drivers and the emulated controllers share (aisio/nvme_ring.h): ring counters,
 * SQE and CQE fields, and PRPs built by the driver side and walked by the controller side, over memory whose
 * pages are scattered in bus space (as hugepages in physical mode are), with lists that start mid-page and
 * chain, in one walk and in steps, on one lane and on 32.
 */
#include <aisio/nvme_ring.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_counters(void **state)
{
	assert_int_equal(nvme_ring_entries(2), 2);
	assert_int_equal(nvme_ring_entries(3), 4);
	assert_int_equal(nvme_ring_entries(129), 256);
	assert_int_equal(nvme_ring_entries(65536), 65536);
	assert_int_equal(nvme_ring_slot(70, 64), 6);
	assert_int_equal(nvme_ring_slot(0xffffffffu, 64), 63);
	/* phase 1 on even laps, across 2^32 (a multiple of every ring size) */
	assert_int_equal(nvme_ring_phase(0, 64), 1);
	assert_int_equal(nvme_ring_phase(63, 64), 1);
	assert_int_equal(nvme_ring_phase(64, 64), 0);
	assert_int_equal(nvme_ring_phase(128, 64), 1);
	assert_int_equal(nvme_ring_phase(0xffffffc0u, 64), 0);
	assert_int_equal(nvme_ring_phase(65536, 65536), 0);
	/* SQ head from SQHD */
	assert_int_equal(nvme_sqhd_advance(100, 110, 105 & 63, 64), 105);
	assert_int_equal(nvme_sqhd_advance(100, 110, 100 & 63, 64), 100);
	assert_int_equal(nvme_sqhd_advance(100, 110, 112 & 63, 64), 100); /* beyond the tail: ignored */
	assert_int_equal(nvme_sqhd_advance(100, 110, 99 & 63, 64), 100);  /* stale: ignored */
	assert_int_equal(nvme_sqhd_advance(0xfffffff0u, 0x10u, 5, 64), 5);
}

static void test_entries(void **state)
{
	struct nvme_sqe e;
	memset(&e, 0xff, sizeof(e));
	nvme_sqe_rw(&e, NVME_CMD_WRITE, 0x1234, 7, 0x123456789abull, 65536);
	assert_int_equal(e.opc, NVME_CMD_WRITE);
	assert_int_equal(e.flags, 0);
	assert_int_equal(e.cid, 0x1234);
	assert_int_equal(e.nsid, 7);
	assert_int_equal(e.cdw2 | e.cdw3 | e.cdw13 | e.cdw14 | e.cdw15, 0);
	assert_int_equal(e.mptr, 0);
	assert_true(e.prp1 == ~0ull && e.prp2 == ~0ull); /* the caller's */
	assert_int_equal(e.cdw10, 0x456789ab);
	assert_int_equal(e.cdw11, 0x123);
	assert_int_equal(e.cdw12, 65535);
	assert_true(nvme_sqe_slba(&e) == 0x123456789abull);
	assert_int_equal(nvme_sqe_nlb(&e), 65536);

	uint32_t dw3 = nvme_cqe_dw3(0xbeef, NVME_SC_PRP_OFFSET_INVALID, 1);
	assert_int_equal(nvme_cqe_dw3_cid(dw3), 0xbeef);
	assert_int_equal(nvme_cqe_dw3_phase(dw3), 1);
	assert_int_equal(nvme_cqe_dw3_status(dw3), NVME_SC_PRP_OFFSET_INVALID);
	assert_int_equal(dw3 & NVME_CQE_DW3_PHASE, NVME_CQE_DW3_PHASE);
	dw3 = nvme_cqe_dw3(1, NVME_SC_UNWRITTEN_BLOCK, 0);
	assert_int_equal(nvme_cqe_dw3_status(dw3), NVME_SC_UNWRITTEN_BLOCK);
	assert_int_equal(nvme_cqe_dw3_phase(dw3), 0);
	/* the same bits as the spec's 16-bit status field */
	struct nvme_cqe c;
	memset(&c, 0, sizeof(c));
	memcpy(&c.cid, &dw3, 4);
	assert_int_equal(NVME_CQE_STATUS(c.status), NVME_SC_UNWRITTEN_BLOCK);
	assert_int_equal(NVME_CQE_PHASE(c.status), 0);
}

/* ---- PRPs over scattered pages ---- */

#define PAGES 4096u /* 16 MiB of 4 KiB pages */
#define BUS0 0x5000000000ull

struct arena {
	uint8_t *va;
	uint64_t pages[PAGES]; /* bus address of each page */
	uint32_t inv[PAGES];   /* page of the arena at bus page k */
	struct nvme_dma_map map;
	int maps; /* map calls */
};

static struct arena *arena_new(void)
{
	struct arena *a = calloc(1, sizeof(*a));
	a->va = aligned_alloc(4096, (size_t)PAGES * 4096);
	/* a fixed scramble of the pages in bus space: 1237 is prime to 4096 */
	for (uint32_t k = 0; k < PAGES; k++) {
		uint32_t b = (k * 1237u + 11u) % PAGES;
		a->pages[k] = BUS0 + (uint64_t)b * 4096;
		a->inv[b] = k;
	}
	a->map = (struct nvme_dma_map){
		.va = a->va, .iova_pages = a->pages, .page_shift = 12, .len = (size_t)PAGES * 4096};
	return a;
}

static void arena_free(struct arena *a)
{
	free(a->va);
	free(a);
}

/* The controller's view: a bus range inside one bus page of the arena, else nothing. */
static void *arena_map(const void *ctx, uint64_t bus, uint32_t len)
{
	struct arena *a = (struct arena *)ctx;
	a->maps++;
	if (bus < BUS0 || bus >= BUS0 + (uint64_t)PAGES * 4096 || len == 0)
		return NULL;
	uint64_t off = bus - BUS0;
	if ((off & 4095) + len > 4096)
		return NULL;
	return a->va + (size_t)a->inv[off >> 12] * 4096 + (off & 4095);
}

/* Walk the PRPs and check that page i names byte (page start) of buf; steps of step pages, lanes lanes. */
static void walk_and_check(struct arena *a, uint64_t prp1, uint64_t prp2, const uint8_t *buf, uint32_t len,
			   uint32_t step, uint32_t lanes)
{
	const uint32_t n = nvme_prp_npages(nvme_dma_iova(&a->map, buf), len, 12);
	uint64_t *seg = calloc(n + 64, sizeof(*seg));
	struct nvme_prp_walk w[32];
	uint32_t done = 0;
	for (uint32_t l = 0; l < lanes; l++)
		nvme_prp_walk_init(&w[l], prp1, prp2, len, 12);
	while (nvme_prp_walk_left(&w[0])) {
		uint32_t got0 = 0;
		for (uint32_t l = 0; l < lanes; l++) {
			uint32_t got = 0;
			assert_int_equal(nvme_prp_walk_next(&w[l], arena_map, a, seg + done, step, &got, l, lanes), 0);
			if (l == 0)
				got0 = got;
			assert_int_equal(got, got0); /* the lanes walk in step */
		}
		assert_true(got0 > 0 && got0 <= step);
		done += got0;
	}
	assert_int_equal(done, n);
	const uint32_t off = (uint32_t)((uintptr_t)buf & 4095);
	uint32_t bytes = 0;
	for (uint32_t k = 0; k < n; k++) {
		const uint8_t *want = k ? buf - off + (size_t)k * 4096 : buf;
		assert_ptr_equal((void *)(uintptr_t)seg[k], want);
		bytes += nvme_prp_page_len(prp1, len, k, 12);
	}
	assert_int_equal(bytes, len);
	free(seg);
}

/* Build the PRPs of len bytes at buf offset boff with the list at arena offset loff (room list_bytes), walk
 * them back. Returns the number of list entries. */
static int roundtrip(struct arena *a, size_t boff, uint32_t len, size_t loff, uint32_t list_bytes)
{
	const uint8_t *buf = a->va + boff;
	uint64_t *list = (uint64_t *)(a->va + loff);
	uint64_t prp1 = 0, prp2 = 0;
	int n = nvme_prp_build(&a->map, buf, len, 12, list, &a->map, list_bytes, &prp1, &prp2);
	assert_true(n >= 0);
	assert_true(prp1 == nvme_dma_iova(&a->map, buf));
	walk_and_check(a, prp1, prp2, buf, len, 1u << 20, 1);
	walk_and_check(a, prp1, prp2, buf, len, 3, 1);
	walk_and_check(a, prp1, prp2, buf, len, 1u << 20, 32);
	walk_and_check(a, prp1, prp2, buf, len, 100, 32);
	return n;
}

static void test_prp_roundtrip(void **state)
{
	struct arena *a = arena_new();
	const size_t L = (size_t)3000 * 4096; /* list area, past the data */
	assert_int_equal(roundtrip(a, 0, 512, L, 0), 0);
	assert_int_equal(roundtrip(a, 4092, 4, L, 0), 0);
	assert_int_equal(roundtrip(a, 4092, 8, L, 0), 0); /* two pages: PRP2 */
	assert_int_equal(roundtrip(a, 0, 8192, L, 0), 0);
	assert_int_equal(roundtrip(a, 512, 8192, L, 4096), 2); /* three pages: a list */
	assert_int_equal(roundtrip(a, 0, 128u << 10, L, 4096), 31);
	assert_int_equal(roundtrip(a, 512, 2u << 20, L, 4096), 512);        /* one full list page, no chain */
	assert_int_equal(roundtrip(a, 0, (2u << 20) + 8192, L, 8192), 513); /* 511 + chain, then 2 */
	assert_int_equal(roundtrip(a, 512, 4u << 20, L, 12288), 1024);      /* three list pages */
	/* a list that starts 16 bytes before the end of its page: one entry, then the chain */
	assert_int_equal(roundtrip(a, 0, 64u << 10, L + 4096 - 16, 4096), 15);
	/* a list ending exactly at its page's last slot takes no chain */
	assert_int_equal(roundtrip(a, 0, 12288, L + 4096 - 16, 16), 2);
	arena_free(a);
}

static void test_prp_build_refusals(void **state)
{
	struct arena *a = arena_new();
	uint64_t *list = (uint64_t *)(a->va + (size_t)3000 * 4096);
	uint64_t p1 = 0, p2 = 0;
	assert_int_equal(nvme_prp_build(&a->map, a->va + 2, 512, 12, list, &a->map, 4096, &p1, &p2), -22);
	assert_int_equal(nvme_prp_build(&a->map, a->va, 0, 12, list, &a->map, 4096, &p1, &p2), -22);
	assert_int_equal(nvme_prp_build(&a->map, a->va, 65536 + 4096, 12, list, &a->map, 128, &p1, &p2), 16);
	assert_int_equal(nvme_prp_build(&a->map, a->va, 65536 + 8192, 12, list, &a->map, 128, &p1, &p2), -7);
	/* room for 512 slots but a chain is needed: 513 entries */
	assert_int_equal(nvme_prp_build(&a->map, a->va, (2u << 20) + 8192, 12, list, &a->map, 4096, &p1, &p2), -7);
	assert_int_equal(nvme_prp_build(&a->map, a->va, 8192, 12, list, &a->map, 0, &p1, &p2), 0);
	assert_int_equal(nvme_prp_build(&a->map, a->va, 12288, 12, list, &a->map, 0, &p1, &p2), -7);
	arena_free(a);
}

/* nvme_prp_list_bytes holds the worst case of every transfer limit (a buffer 4 bytes before a page end) */
static void test_prp_list_bytes(void **state)
{
	assert_int_equal(nvme_prp_list_bytes(4096, 12), 0);
	assert_int_equal(nvme_prp_list_bytes(8192, 12), 16);
	assert_int_equal(nvme_prp_list_bytes(64u << 10, 12), 128);
	assert_int_equal(nvme_prp_list_bytes(1u << 20, 12), 2048);
	assert_int_equal(nvme_prp_list_bytes(2u << 20, 12), 4096);
	assert_int_equal(nvme_prp_list_bytes((2u << 20) + 4096, 12), 8192);
	assert_int_equal(nvme_prp_list_bytes(4u << 20, 12), 12288);
	struct arena *a = arena_new();
	static const uint32_t limits[] = {8192, 12288, 65536, 1u << 20, 2u << 20, (2u << 20) + 4096, 4u << 20};
	for (unsigned i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		uint32_t lb = nvme_prp_list_bytes(limits[i], 12);
		for (size_t boff = 0; boff < 4096; boff += 1020) {
			uint64_t *list = (uint64_t *)(a->va + (size_t)3000 * 4096);
			uint64_t p1 = 0, p2 = 0;
			assert_true(nvme_prp_build(&a->map, a->va + boff, limits[i], 12, list, &a->map, lb, &p1, &p2) >=
				    0);
			walk_and_check(a, p1, p2, a->va + boff, limits[i], 1u << 20, 1);
		}
	}
	arena_free(a);
}

/* What the controller says about broken PRPs, and at which page. */
static uint16_t walk_status(struct arena *a, uint64_t prp1, uint64_t prp2, uint32_t len, uint32_t *at)
{
	struct nvme_prp_walk w;
	uint64_t seg[1100];
	nvme_prp_walk_init(&w, prp1, prp2, len, 12);
	uint32_t base = 0;
	for (;;) {
		uint32_t got = 0;
		uint16_t st = nvme_prp_walk_next(&w, arena_map, a, seg, 1100, &got, 0, 1);
		if (st || !nvme_prp_walk_left(&w)) {
			*at = base + got;
			return st;
		}
		base += got;
	}
}

static void test_prp_walk_refusals(void **state)
{
	struct arena *a = arena_new();
	uint64_t *list = (uint64_t *)(a->va + (size_t)3000 * 4096);
	const uint64_t lbus = nvme_dma_iova(&a->map, list);
	const uint64_t b0 = nvme_dma_iova(&a->map, a->va), b1 = nvme_dma_iova(&a->map, a->va + 4096);
	uint32_t at = 0;
	assert_int_equal(walk_status(a, b0 + 2, 0, 512, &at), NVME_SC_PRP_OFFSET_INVALID);
	assert_int_equal(at, 0);
	assert_int_equal(walk_status(a, 0x1000, 0, 512, &at), NVME_SC_DATA_XFER_ERROR);
	assert_int_equal(walk_status(a, b0, b1 + 8, 8192, &at), NVME_SC_PRP_OFFSET_INVALID);
	assert_int_equal(at, 1);
	assert_int_equal(walk_status(a, b0, 0x2000, 8192, &at), NVME_SC_DATA_XFER_ERROR);
	assert_int_equal(walk_status(a, b0, b1, 8192, &at), 0);
	/* list pointer off a qword; list outside memory */
	assert_int_equal(walk_status(a, b0, lbus + 4, 12288, &at), NVME_SC_PRP_OFFSET_INVALID);
	assert_int_equal(walk_status(a, b0, 0x3000, 12288, &at), NVME_SC_DATA_XFER_ERROR);
	/* a good list of 10 pages, then entries broken one at a time */
	for (uint32_t k = 0; k < 10; k++)
		list[k] = nvme_dma_iova(&a->map, a->va + (size_t)(k + 1) * 4096);
	assert_int_equal(walk_status(a, b0, lbus, 11 * 4096, &at), 0);
	list[6] += 512;
	assert_int_equal(walk_status(a, b0, lbus, 11 * 4096, &at), NVME_SC_PRP_OFFSET_INVALID);
	assert_int_equal(at, 7);
	list[6] = 0x7000;
	assert_int_equal(walk_status(a, b0, lbus, 11 * 4096, &at), NVME_SC_DATA_XFER_ERROR);
	assert_int_equal(at, 7);
	/* the chain slot off a qword; a list page that chains to itself */
	uint64_t p1 = 0, p2 = 0;
	assert_int_equal(nvme_prp_build(&a->map, a->va, (2u << 20) + 8192, 12, list, &a->map, 8192, &p1, &p2), 513);
	assert_int_equal(walk_status(a, p1, p2, (2u << 20) + 8192, &at), 0);
	list[511] += 4;
	assert_int_equal(walk_status(a, p1, p2, (2u << 20) + 8192, &at), NVME_SC_PRP_OFFSET_INVALID);
	assert_int_equal(at, 512);
	uint64_t *last = (uint64_t *)(a->va + (size_t)3001 * 4096 - 8);
	*last = nvme_dma_iova(&a->map, last);
	a->maps = 0;
	assert_int_equal(walk_status(a, b0, *last, 12288, &at), NVME_SC_PRP_OFFSET_INVALID);
	assert_true(a->maps > (int)NVME_PRP_MAX_CHAINS); /* it followed the chain to the limit */
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters),       cmocka_unit_test(test_entries),
		cmocka_unit_test(test_prp_roundtrip),  cmocka_unit_test(test_prp_build_refusals),
		cmocka_unit_test(test_prp_list_bytes), cmocka_unit_test(test_prp_walk_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
