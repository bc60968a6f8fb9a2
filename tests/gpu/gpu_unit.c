/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Address arithmetic of the GPU driver (doorbells, DMA windows for dma-buf imported GPU memory),
 * the shared ring header as the GPU side uses it (counters wrapping 2^32, PRPs built from one
 * bus-contiguous buffer into a command id's list area, chained past a page, and walked back the way
 * gpuemu's engines walk them, 32 lanes at once), the verify stamp, latency buckets. The same inline functions run on the GPU; this test needs no GPU and no CUDA, so it runs on
 * every machine.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aisio/gpu.h>
#include <aisio/gpuemu.h>
#include <aisio/nvme_ring.h>
#include <aisio/stamp.h>
#include <aisio/strparse.h>

#include "../../lib/gpu/gpu_internal.h"
#include "../../tools/gpu_perf.h"
#include "gpu_test.h"

static int failures;

/* The engine's walk as 32 lanes run it (here one after another): pages[] as the engine's copy uses them. */
static uint16_t engine_walk(const struct gpuemu_dev *d, uint64_t prp1, uint64_t prp2, uint32_t bytes, uint64_t *pages)
{
	const uint32_t n = nvme_prp_npages(prp1, bytes, GPUEMU_PAGE_SHIFT);
	uint32_t first = 0xffffffffu;
	for (uint32_t lane = 0; lane < 32; lane++) {
		struct nvme_prp_walk w;
		uint32_t at = 0;
		nvme_prp_walk_init(&w, prp1, prp2, bytes, GPUEMU_PAGE_SHIFT);
		uint16_t st = nvme_prp_walk_next(&w, gpuemu_prp_map, d, pages, n, &at, lane, 32);
		uint32_t key = st ? (at << 16) | st : 0xffffffffu;
		if (key < first)
			first = key;
	}
	return first == 0xffffffffu ? 0 : (uint16_t)first;
}

/* The largest gpuemu command (4 MiB, MDTS 10) from 512 bytes into a page, as gpu_nvme_prps builds it: 1024
 * entries in three list pages of the command id's list area, two of them chained; then walked back. */
static void prp_chains(void)
{
	const uint32_t xfer = GPUEMU_MAX_XFER, stride = nvme_prp_list_bytes(xfer, 12);
	CHECK(stride == 3 * 4096, "list room per command id for 4 MiB: %u", stride);
	const size_t len = (size_t)xfer + 8192 + 2 * (size_t)stride;
	uint8_t *mem = aligned_alloc(4096, len);
	uint8_t *buf = mem + 512;
	uint64_t *lists = (uint64_t *)(mem + xfer + 8192);
	struct gpuemu_dev d;
	memset(&d, 0, sizeof(d));
	d.nwin = 1;
	d.win[0].va = d.win[0].bus = (uint64_t)(uintptr_t)mem;
	d.win[0].len = len;
	uint64_t *pages = calloc(1100, sizeof(*pages));
	for (uint16_t cid = 0; cid < 2; cid++) {
		uint64_t *list = lists + (size_t)cid * (stride / 8);
		const struct nvme_dma_map data = {buf, (uint64_t)(uintptr_t)buf, NULL, 0, xfer};
		const struct nvme_dma_map lm = {(const uint8_t *)list, (uint64_t)(uintptr_t)list, NULL, 0, stride};
		uint64_t p1 = 0, p2 = 0;
		int n = nvme_prp_build(&data, buf, xfer, 12, list, &lm, stride, &p1, &p2);
		CHECK(n == 1024 && p1 == (uint64_t)(uintptr_t)buf && p2 == (uint64_t)(uintptr_t)list,
		      "4 MiB: %d entries", n);
		CHECK(list[511] == (uint64_t)(uintptr_t)(list + 512) &&
			      list[1023] == (uint64_t)(uintptr_t)(list + 1024),
		      "two chain slots");
		memset(pages, 0, 1100 * sizeof(*pages));
		uint16_t st = engine_walk(&d, p1, p2, xfer, pages);
		int bad = 0;
		for (uint32_t k = 0; k < 1025; k++)
			bad += pages[k] != (uint64_t)(uintptr_t)(mem + (size_t)k * 4096 + (k ? 0 : 512));
		CHECK(st == 0 && bad == 0, "engine walk of the chained list: status 0x%x, %d pages wrong", st, bad);
	}
	/* a list page outside the windows: Data Transfer Error, at the first page it holds */
	d.win[0].len = xfer + 8192 + 4096;
	uint64_t p1 = (uint64_t)(uintptr_t)buf, p2 = (uint64_t)(uintptr_t)lists;
	CHECK(engine_walk(&d, p1, p2, xfer, pages) == NVME_SC_DATA_XFER_ERROR, "list page out of the window");
	d.win[0].len = len;
	/* a chain slot off a qword: PRP Offset Invalid */
	lists[511] += 4;
	CHECK(engine_walk(&d, p1, p2, xfer, pages) == NVME_SC_PRP_OFFSET_INVALID, "chain slot off a qword");
	lists[511] -= 4;
	/* a data entry off a page on some lane: the earliest failing page's status wins */
	lists[700] += 512;
	lists[900] = 0x1000;
	CHECK(engine_walk(&d, p1, p2, xfer, pages) == NVME_SC_PRP_OFFSET_INVALID, "earliest failure");
	free(pages);
	free(mem);
}

/* Within a page, list areas are powers of two at multiples of their size: none crosses a page, none chains. */
static void prp_small(void)
{
	const uint32_t xfer = 64u << 10, stride = nvme_prp_list_bytes(xfer, 12);
	CHECK(stride == 128, "list room per command id for 64 KiB: %u", stride);
	uint8_t *mem = aligned_alloc(4096, (size_t)xfer + 8192 + 4096);
	uint64_t *lists = (uint64_t *)(mem + xfer + 8192);
	for (uint16_t cid = 0; cid < 4096 / 128; cid++) {
		uint8_t *buf = mem + 4092; /* worst case: 17 pages, 16 entries */
		uint64_t *list = lists + (size_t)cid * (stride / 8);
		const struct nvme_dma_map data = {buf, (uint64_t)(uintptr_t)buf, NULL, 0, xfer};
		const struct nvme_dma_map lm = {(const uint8_t *)list, (uint64_t)(uintptr_t)list, NULL, 0, stride};
		uint64_t p1 = 0, p2 = 0;
		int n = nvme_prp_build(&data, buf, xfer, 12, list, &lm, stride, &p1, &p2);
		CHECK(n == 16 && list[15] == (uint64_t)(uintptr_t)(mem + 16 * 4096), "cid %u: %d entries", cid, n);
	}
	free(mem);
}

static void test_unit(void)
{
	/* doorbells: 0x1000 + (2 qid + cq) * (4 << dstrd) */
	CHECK(gpu_doorbell_offset(0, 0, 0) == 0x1000, "admin SQ");
	CHECK(gpu_doorbell_offset(0, 1, 0) == 0x1004, "admin CQ");
	CHECK(gpu_doorbell_offset(1, 0, 0) == 0x1008, "SQ1");
	CHECK(gpu_doorbell_offset(5, 1, 0) == 0x1000 + 11 * 4, "CQ5");
	CHECK(gpu_doorbell_offset(3, 0, 2) == 0x1000 + 6 * 16, "SQ3 dstrd 2");
	CHECK(gpu_doorbell_offset(3, 1, 2) == 0x1000 + 7 * 16, "CQ3 dstrd 2");
	CHECK(gpu_bar_len(1023, 0) == 0x1000 + 2047 * 4 + 4, "bar len %u", gpu_bar_len(1023, 0));

	/* a real controller: BAR0 registered for the GPU at some device address, doorbell pointer */
	uint64_t dev_bar0 = 0x7f1234560000ull;
	CHECK(dev_bar0 + gpu_doorbell_offset(17, 0, 1) == 0x7f1234560000ull + 0x1000 + 34 * 8, "BAR doorbell");

	/* DMA windows: GPU memory exported as a dma-buf, imported at a bus address */
	struct gpu_dma_window w[2] = {{0x7f0000000000ull, 0x3800000000ull, 1ull << 30},
				      {0x7f8000000000ull, 0x1000000ull, 1ull << 20}};
	uint64_t bus = 0;
	CHECK(gpu_dma_translate(w, 2, 0x7f0000001000ull, 4096, &bus) == 0 && bus == 0x3800001000ull, "window 0");
	CHECK(gpu_dma_translate(w, 2, 0x7f8000000000ull + (1ull << 20) - 512, 512, &bus) == 0 &&
		      bus == 0x1000000ull + (1ull << 20) - 512,
	      "window 1 end");
	CHECK(gpu_dma_translate(w, 2, 0x7f8000000000ull + (1ull << 20) - 512, 1024, &bus) != 0, "past the end");
	CHECK(gpu_dma_translate(w, 2, 0x7effffffff00ull, 512, &bus) != 0, "before the start");
	CHECK(gpu_dma_translate(w, 2, 0x7f0000000000ull + (1ull << 30), 1, &bus) != 0, "just past");

	/* ring counters as the GPU queues run them: over 2^32, power-of-two depths */
	CHECK(nvme_sqhd_advance(0xfffffff0u, 0x10u, 5, 64) == 5, "SQ head across 2^32");
	CHECK(nvme_sqhd_advance(100, 110, (uint16_t)(112 & 63), 64) == 100, "SQHD beyond the tail: ignored");
	CHECK(nvme_ring_phase(0xffffffc0u, 64) == 0 && nvme_ring_phase(0, 64) == 1, "phase across 2^32 (even laps)");
	CHECK(nvme_ring_slot(0xffffffffu, 4096) == 4095 && nvme_ring_slot(0x100000000ull & 0xffffffffu, 4096) == 0,
	      "slot across 2^32");

	prp_chains();
	prp_small();

	/* the verify stamp: distinct by LBA, word and seed, and fixed (data written by an older build still checks) */
	CHECK(stamp_word(1, 0, 0) != stamp_word(1, 1, 0) && stamp_word(1, 0, 0) != stamp_word(1, 0, 1) &&
		      stamp_word(1, 0, 0) != stamp_word(2, 0, 0),
	      "stamps");
	CHECK(stamp_word(1, 0, 0) == 0x642b3651143776feull && stamp_word(7, 123456789, 63) == 0x4c8f9df643789d88ull,
	      "stamp values");
	uint64_t blk[2 * 512 / 8], first = 0;
	stamp_fill(blk, 9, 1000, 2, 9);
	CHECK(stamp_check(blk, 9, 1000, 2, 9, &first) == 0, "stamp round trip");
	blk[64 + 3] ^= 1;
	CHECK(stamp_check(blk, 9, 1000, 2, 9, &first) == 1 && first == 1001, "stamp: the changed LBA found");

	/* latency buckets: monotonic, and the inverse brackets the value */
	uint32_t prev = 0;
	for (uint64_t v = 0; v < (1ull << 36); v = v * 5 / 4 + 1) {
		uint32_t b = gpu_lat_bucket(v);
		CHECK(b >= prev && gpu_lat_bucket_low(b) <= v && v < gpu_lat_bucket_low(b + 1), "bucket of %" PRIu64,
		      v);
		prev = b;
	}

	/* sizes as device strings and flags write them (the gpuemu: options: tests/unit/test_emu_opts.c) */
	uint64_t sz;
	CHECK(strparse_size("64K", &sz) == 0 && sz == 65536, "64K");
	CHECK(strparse_size("2MiB", &sz) == 0 && sz == 2u << 20, "2MiB");
	CHECK(strparse_size("x", &sz) != 0, "x");
}

int main(void)
{
	test_unit();
	printf("gpu unit: %d failures\n", failures);
	return failures ? 1 : 0;
}
