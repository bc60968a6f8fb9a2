/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Address arithmetic of the GPU driver (doorbells, DMA windows for dma-buf imported GPU memory,
 * PRPs, SQ head and CQ phase counters), latency buckets and gpuemu device strings. The same inline
 * functions run on the GPU; this test needs no GPU and no CUDA, so it runs on every machine.
 */
#include <inttypes.h>
#include <stdio.h>

#include <aisio/gpu.h>
#include <aisio/strparse.h>

#include "gpu_test.h"

static int failures;

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
		      bus == 0x1000000ull + (1ull << 20) - 512, "window 1 end");
	CHECK(gpu_dma_translate(w, 2, 0x7f8000000000ull + (1ull << 20) - 512, 1024, &bus) != 0, "past the end");
	CHECK(gpu_dma_translate(w, 2, 0x7effffffff00ull, 512, &bus) != 0, "before the start");
	CHECK(gpu_dma_translate(w, 2, 0x7f0000000000ull + (1ull << 30), 1, &bus) != 0, "just past");

	/* PRPs */
	uint64_t list[16], p1, p2;
	CHECK(gpu_prp_build(0x10000, 4096, 12, list, 0x9000, 16, &p1, &p2) == 0 && p1 == 0x10000 && p2 == 0, "1 page");
	CHECK(gpu_prp_build(0x10200, 512, 12, list, 0x9000, 16, &p1, &p2) == 0 && p1 == 0x10200 && p2 == 0,
	      "in-page offset");
	CHECK(gpu_prp_build(0x10e00, 1024, 12, list, 0x9000, 16, &p1, &p2) == 0 && p1 == 0x10e00 && p2 == 0x11000,
	      "2 pages across a boundary");
	CHECK(gpu_prp_build(0x10000, 8192, 12, list, 0x9000, 16, &p1, &p2) == 0 && p2 == 0x11000, "2 pages");
	int n = gpu_prp_build(0x10200, 16384, 12, list, 0x9000, 16, &p1, &p2);
	CHECK(n == 4 && p1 == 0x10200 && p2 == 0x9000 && list[0] == 0x11000 && list[3] == 0x14000, "list n=%d", n);
	CHECK(gpu_prp_build(0x10000, 65536 + 4096, 12, list, 0x9000, 16, &p1, &p2) == 16, "list exactly full");
	CHECK(gpu_prp_build(0x10000, 65536 + 8192, 12, list, 0x9000, 16, &p1, &p2) == -7, "list too small: -E2BIG");
	CHECK(gpu_prp_build(0x10002, 512, 12, list, 0x9000, 16, &p1, &p2) == -22, "not dword aligned");
	CHECK(gpu_prp_build(0x10000, 0, 12, list, 0x9000, 16, &p1, &p2) == -22, "zero length");
	CHECK(gpu_prp_npages(0x10fff, 2, 12) == 2 && gpu_prp_npages(0x10000, 4096, 12) == 1, "npages");

	/* SQ head from SQHD */
	CHECK(gpu_sqhd_advance(100, 110, (uint16_t)(105 & 63), 64) == 105, "advance");
	CHECK(gpu_sqhd_advance(100, 110, (uint16_t)(100 & 63), 64) == 100, "no move");
	CHECK(gpu_sqhd_advance(100, 110, (uint16_t)(112 & 63), 64) == 100, "beyond the tail: ignored");
	CHECK(gpu_sqhd_advance(0xfffffff0u, 0x10u, 5, 64) == 5, "across 2^32");
	CHECK(gpu_sqhd_advance(100, 110, (uint16_t)(99 & 63), 64) == 100, "stale SQHD: ignored");

	/* CQ phase by lap */
	CHECK(gpu_cq_phase(0, 64) == 1 && gpu_cq_phase(63, 64) == 1 && gpu_cq_phase(64, 64) == 0 &&
		      gpu_cq_phase(128, 64) == 1,
	      "phase");
	CHECK(gpu_cq_phase(0xffffffc0u, 64) == 0 && gpu_cq_phase(0, 64) == 1, "phase across 2^32 (even laps)");

	/* latency buckets: monotonic, and the inverse brackets the value */
	uint32_t prev = 0;
	for (uint64_t v = 0; v < (1ull << 36); v = v * 5 / 4 + 1) {
		uint32_t b = gpu_lat_bucket(v);
		CHECK(b >= prev && gpu_lat_bucket_low(b) <= v && v < gpu_lat_bucket_low(b + 1), "bucket of %" PRIu64, v);
		prev = b;
	}

	/* device strings */
	struct gpu_emu_opts o;
	CHECK(gpu_emu_opts_parse(&o, "null") == 0 && o.ns_kind == GPU_NS_NULL && o.ns_bytes == 1ull << 40, "null");
	CHECK(gpu_emu_opts_parse(&o, "hbm:1G,lba=4096,qpairs=64,mqes=1023,mdts=5,sms=4,warps=4,dstrd=1") == 0 &&
		      o.ns_kind == GPU_NS_HBM && o.ns_bytes == 1ull << 30 && o.lba_shift == 12 && o.max_qpairs == 64 &&
		      o.mqes == 1023 && o.mdts == 5 && o.sms == 4 && o.warps == 4 && o.dstrd == 1,
	      "hbm options");
	CHECK(gpu_emu_opts_parse(&o, "host:64M,engine=cpu,threads=3,err_slba=10,err_elba=20,err_status=0x281") == 0 &&
		      o.engine == GPU_ENGINE_CPU && o.threads == 3 && o.err_slba == 10 && o.err_elba == 20 &&
		      o.err_status == 0x281,
	      "host options");
	CHECK(gpu_emu_opts_parse(&o, "hbm:64M,err=10-20:282,drop=30-31") == 0 && o.err_slba == 10 && o.err_elba == 20 &&
		      o.err_status == 0x282 && o.drop_slba == 30 && o.drop_elba == 31,
	      "fault ranges as for emu:");
	CHECK(gpu_emu_opts_parse(&o, "hbm:64M,err=10-20") == 0 && o.err_status == NVME_SC_READ_ERROR, "err default status");
	fprintf(stderr, "(the errors printed next are expected)\n");
	CHECK(gpu_emu_opts_parse(&o, "hbm:64M,err=20-10") != 0, "err range backwards");
	CHECK(gpu_emu_opts_parse(&o, "hbm:64M,drop=1-2:5") != 0, "drop takes no status");
	CHECK(gpu_emu_opts_parse(&o, "ram:1G") != 0, "unknown type");
	CHECK(gpu_emu_opts_parse(&o, "hbm:1G,lba=1000") != 0, "bad lba");
	CHECK(gpu_emu_opts_parse(&o, "hbm:1000") != 0, "size not a multiple of the LBA");
	uint64_t sz;
	CHECK(strparse_size("64K", &sz) == 0 && sz == 65536, "64K");
	CHECK(strparse_size("2MiB", &sz) == 0 && sz == 2u << 20, "2MiB");
	CHECK(strparse_size("x", &sz) != 0, "x");

	/* stamps differ by LBA, word and seed */
	CHECK(gpu_stamp_word(1, 0, 0) != gpu_stamp_word(1, 1, 0) && gpu_stamp_word(1, 0, 0) != gpu_stamp_word(1, 0, 1) &&
		      gpu_stamp_word(1, 0, 0) != gpu_stamp_word(2, 0, 0),
	      "stamps");
}

int main(void)
{
	test_unit();
	printf("gpu unit: %d failures\n", failures);
	return failures ? 1 : 0;
}
