/* SPDX-License-Identifier: BSD-3-Clause */
/* Data path against emu: every PRP shape, I/O commands, namespaces, file backing, wrap-around. */
#include "emu_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* Write then read back len bytes at slba through buffers at the given page offsets. */
static void roundtrip(struct nvmed_ctrl *c, struct nvmed_qpair *qp, uint32_t nsid, uint64_t slba, uint32_t len,
		      size_t woff, size_t roff, uint32_t seed)
{
	struct nvmed_ns ns;
	assert_int_equal(nvmed_ctrl_ns(c, nsid, &ns), 0);
	uint8_t *w = nvmed_dma_alloc(c, len + 8192), *r = nvmed_dma_alloc(c, len + 8192);
	assert_non_null(w);
	assert_non_null(r);
	fill_pattern(w + woff, len, seed);
	memset(r, 0xee, len + 8192);
	uint32_t nlb = len >> ns.lba_shift;
	assert_int_equal(sync_rw(qp, NVME_CMD_WRITE, nsid, slba, nlb, w + woff, NULL), 0);
	assert_int_equal(sync_rw(qp, NVME_CMD_READ, nsid, slba, nlb, r + roff, NULL), 0);
	assert_memory_equal(w + woff, r + roff, len);
	/* nothing written around the buffer */
	for (size_t i = 0; i < roff; i++)
		assert_int_equal(r[i], 0xee);
	assert_int_equal(r[roff + len], 0xee);
	nvmed_dma_free(c, w);
	nvmed_dma_free(c, r);
}

static void test_prp_shapes(void **state)
{
	struct nvmed_ctrl *c;
	struct nvmed_ctrl_opts o = {.max_xfer = 4u << 20, .dma_bytes = 64u << 20};
	assert_int_equal(nvmed_ctrl_open(&c, "emu:ram:64M,mdts=10", &o), 0);
	assert_int_equal(nvmed_ctrl_max_xfer(c), 4u << 20);
	struct nvmed_qpair *qp;
	assert_int_equal(nvmed_qpair_create(c, 8, &qp), 0);
	/* PRP1 only: inside one page, with and without an offset */
	roundtrip(c, qp, 1, 0, 512, 0, 0, 1);
	roundtrip(c, qp, 1, 8, 512, 3584, 1024, 2);
	/* PRP1 + PRP2: two pages, page-aligned and straddling */
	roundtrip(c, qp, 1, 16, 8192, 0, 0, 3);
	roundtrip(c, qp, 1, 40, 4096, 512, 2048, 4);
	/* three pages from an offset buffer: 3584 + 4096 + 512 bytes, just past what PRP2 alone covers */
	roundtrip(c, qp, 1, 80, 8192, 512, 512, 10);
	/* PRP list: three to many pages */
	roundtrip(c, qp, 1, 64, 12288, 0, 0, 5);
	roundtrip(c, qp, 1, 128, 128u << 10, 512, 0, 6);
	/* exactly 512 list entries (2 MiB + page offset): fills one list page, no chain */
	roundtrip(c, qp, 1, 4096, 2u << 20, 0, 512, 7);
	/* chained list pages: 4 MiB from an offset buffer needs 1024 entries = 3 list pages */
	roundtrip(c, qp, 1, 16384, 4u << 20, 512, 1536, 8);
	roundtrip(c, qp, 1, 32768, (4u << 20) - 4096, 0, 0, 9);
	/* beyond the transfer limit: split by the driver into two commands (the second one LBA) */
	roundtrip(c, qp, 1, 65536, (4u << 20) + 512, 512, 0, 11);
	uint8_t *big = nvmed_dma_alloc(c, (4u << 20) + 4096);
	/* a buffer outside DMA memory is refused */
	uint8_t stack[512];
	assert_int_equal(nvmed_qpair_read(qp, 1, 0, 1, stack, io_result_cb, NULL), -EINVAL);
	/* a namespace that does not exist */
	assert_int_equal(nvmed_qpair_read(qp, 2, 0, 1, big, io_result_cb, NULL), -EINVAL);
	nvmed_dma_free(c, big);
	assert_int_equal(nvmed_qpair_destroy(qp), 0);
	nvmed_ctrl_close(c);
}

/* The controller enforces MDTS itself: lift the driver's own limit to reach it. */
static void test_mdts_at_controller(void **state)
{
	struct nvmed_ctrl *c;
	assert_int_equal(nvmed_ctrl_open(&c, "emu:ram:8M,mdts=1", NULL), 0);
	assert_int_equal(nvmed_ctrl_max_xfer(c), 8192);
	struct nvmed_qpair *qp;
	assert_int_equal(nvmed_qpair_create(c, 4, &qp), 0);
	uint8_t *buf = nvmed_dma_alloc(c, 16384);
	qp->max_xfer = 12288;
	qp->max_nlb[1] = 24;
	uint16_t st = 0;
	assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, 0, 24, buf, &st), -EIO);
	assert_int_equal(st, NVME_SC_INVALID_FIELD);
	qp->max_xfer = 8192;
	qp->max_nlb[1] = 16;
	assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, 0, 16, buf, NULL), 0);
	nvmed_dma_free(c, buf);
	nvmed_qpair_destroy(qp);
	nvmed_ctrl_close(c);
}

/* Count callbacks and keep the first failure, for I/Os in flight together. */
struct split_result {
	int done;
	int err;
	uint16_t status;
};

static void split_cb(struct nvmed_qpair *qp, void *arg, int err, const struct nvme_cqe *cqe)
{
	struct split_result *r = arg;
	r->done++;
	r->err = err;
	r->status = nvmed_cqe_status(cqe);
	if (err != -ECANCELED && err != -ETIMEDOUT)
		assert_non_null(cqe); /* the controller answered: a CQE to show */
}

/* An I/O over MDTS goes out as MDTS-sized commands with one completion for the caller. */
static void test_split_over_mdts(void **state)
{
	struct nvmed_ctrl *c;
	/* mdts=1: 8 KiB = 16 LBAs per command; an error injected at LBA 40 (in the third command of 0..47) */
	assert_int_equal(nvmed_ctrl_open(&c, "emu:ram:8M,mdts=1,err=40-40", NULL), 0);
	struct nvmed_ns ns;
	assert_int_equal(nvmed_ctrl_ns(c, 1, &ns), 0);
	assert_int_equal(ns.max_lbas, 16);
	struct nvmed_qpair *qp;
	assert_int_equal(nvmed_qpair_create(c, 8, &qp), 0); /* 7 command ids */
	uint32_t len = 40u << 9;                            /* 40 LBAs: 16 + 16 + 8 */
	uint8_t *w = nvmed_dma_alloc(c, 3 * 65536), *r = w + 65536, *r2 = w + 2 * 65536;
	assert_non_null(w);
	/* from a buffer off a page boundary, so each command has its own PRP shape */
	fill_pattern(w + 512, len, 77);
	memset(r, 0, 65536);
	uint64_t completed = qp->completed;
	assert_int_equal(sync_rw(qp, NVME_CMD_WRITE, 1, 100, 40, w + 512, NULL), 0);
	assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, 100, 40, r + 1024, NULL), 0);
	assert_memory_equal(w + 512, r + 1024, len);
	assert_int_equal(qp->completed - completed, 2); /* counters count the caller's I/Os */
	/* the same data read back in commands of the limit and less */
	memset(r2, 0, 65536);
	assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, 100, 16, r2, NULL), 0);
	assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, 116, 24, r2 + 8192, NULL), 0);
	assert_memory_equal(w + 512, r2, len);

	/* two 3-command I/Os take 6 of the 7 ids; a third must wait (-EAGAIN) and leaves nothing queued */
	struct split_result a = {0}, b = {0}, d = {0};
	assert_true(nvmed_qpair_read(qp, 1, 200, 48, r, split_cb, &a) >= 0);
	assert_true(nvmed_qpair_read(qp, 1, 300, 48, r2, split_cb, &b) >= 0);
	assert_int_equal(nvmed_qpair_inflight(qp), 6);
	uint16_t tail = qp->sq_tail;
	assert_int_equal(nvmed_qpair_read(qp, 1, 400, 48, w, split_cb, &d), -EAGAIN);
	assert_int_equal(qp->sq_tail, tail);
	/* one command still fits */
	assert_true(nvmed_qpair_read(qp, 1, 400, 16, w, split_cb, &d) >= 0);
	assert_int_equal(nvmed_qpair_drain(qp, 10000), 0);
	assert_int_equal(a.done, 1);
	assert_int_equal(b.done, 1);
	assert_int_equal(d.done, 1);
	assert_int_equal(a.err | b.err | d.err, 0);

	/* a failure in one command fails the I/O once, with that command's status */
	struct split_result e = {0};
	uint64_t errors = qp->errors;
	assert_true(nvmed_qpair_read(qp, 1, 0, 48, r, split_cb, &e) >= 0);
	assert_int_equal(nvmed_qpair_drain(qp, 10000), 0);
	assert_int_equal(e.done, 1);
	assert_int_equal(e.err, -EIO);
	assert_int_equal(e.status, NVME_SC_READ_ERROR);
	assert_int_equal(qp->errors - errors, 1);

	/* more commands than the queue pair could ever hold, a buffer running out of DMA
	 * memory, nlb 0, a missing namespace: refused, nothing queued */
	tail = qp->sq_tail;
	assert_int_equal(nvmed_qpair_read(qp, 1, 0, 128, w, split_cb, &e), -EINVAL);
	uint8_t stack[512];
	assert_int_equal(nvmed_qpair_read(qp, 1, 0, 32, stack, split_cb, &e), -EINVAL);
	assert_int_equal(nvmed_qpair_read(qp, 1, 0, 0, w, split_cb, &e), -EINVAL);
	assert_int_equal(nvmed_qpair_read(qp, 2, 0, 32, w, split_cb, &e), -EINVAL);
	assert_int_equal(nvmed_qpair_read(qp, NVMED_MAX_NS + 1, 0, 32, w, split_cb, &e), -EINVAL);
	assert_int_equal(qp->sq_tail, tail);
	assert_int_equal(e.done, 1);

	/* I/Os in flight when the queue pair is destroyed complete once, cancelled */
	struct split_result f = {0};
	assert_true(nvmed_qpair_read(qp, 1, 500, 48, r, split_cb, &f) >= 0);
	nvmed_qpair_ring(qp);
	assert_int_equal(nvmed_qpair_destroy(qp), 0);
	assert_int_equal(f.done, 1);
	assert_int_equal(f.err, -ECANCELED);
	nvmed_dma_free(c, w);
	nvmed_ctrl_close(c);
}

static void test_commands(void **state)
{
	struct nvmed_ctrl *c;
	assert_int_equal(nvmed_ctrl_open(&c, "emu:ram:16M,lba=4096", NULL), 0);
	struct nvmed_qpair *qp;
	assert_int_equal(nvmed_qpair_create(c, 16, &qp), 0);
	uint8_t *buf = nvmed_dma_alloc(c, 65536);
	fill_pattern(buf, 65536, 42);
	assert_int_equal(sync_rw(qp, NVME_CMD_WRITE, 1, 100, 16, buf, NULL), 0);
	/* flush */
	struct nvme_sqe flush = {.opc = NVME_CMD_FLUSH, .nsid = 1};
	assert_int_equal(sync_cmd(qp, &flush, NULL, 0, NULL), 0);
	/* write zeroes over blocks 102..103 */
	struct nvme_sqe wz = {.opc = NVME_CMD_WRITE_ZEROES, .nsid = 1, .cdw10 = 102, .cdw12 = 1};
	assert_int_equal(sync_cmd(qp, &wz, NULL, 0, NULL), 0);
	/* deallocate 105 and 110..111 with one DSM */
	struct nvme_dsm_range *r = nvmed_dma_alloc(c, 4096);
	r[0] = (struct nvme_dsm_range){.nlb = 1, .slba = 105};
	r[1] = (struct nvme_dsm_range){.nlb = 2, .slba = 110};
	struct nvme_sqe dsm = {.opc = NVME_CMD_DSM, .nsid = 1, .cdw10 = 1, .cdw11 = NVME_DSM_ATTR_DEALLOCATE};
	assert_int_equal(sync_cmd(qp, &dsm, r, 4096, NULL), 0);
	uint8_t *rd = nvmed_dma_alloc(c, 65536);
	assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, 100, 16, rd, NULL), 0);
	static const uint8_t zero[4096];
	for (unsigned b = 0; b < 16; b++) {
		unsigned lba = 100 + b;
		if (lba == 102 || lba == 103 || lba == 105 || lba == 110 || lba == 111)
			assert_memory_equal(rd + b * 4096, zero, 4096);
		else
			assert_memory_equal(rd + b * 4096, buf + b * 4096, 4096);
	}
	/* out of range, unknown opcode, bad namespace: status reaches the caller */
	uint16_t st;
	struct nvmed_ns ns;
	nvmed_ctrl_ns(c, 1, &ns);
	assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, ns.nlba - 1, 2, rd, &st), -EIO);
	assert_int_equal(st, NVME_SC_LBA_RANGE);
	struct nvme_sqe bad = {.opc = 0x7e, .nsid = 1};
	assert_int_equal(sync_cmd(qp, &bad, NULL, 0, &st), -EIO);
	assert_int_equal(st, NVME_SC_INVALID_OPCODE);
	struct nvme_sqe badns = {.opc = NVME_CMD_FLUSH, .nsid = 7};
	assert_int_equal(sync_cmd(qp, &badns, NULL, 0, &st), -EIO);
	assert_int_equal(st, NVME_SC_INVALID_NS);
	assert_int_equal(qp->errors, 3);
	nvmed_dma_free(c, r);
	nvmed_dma_free(c, buf);
	nvmed_dma_free(c, rd);
	nvmed_qpair_destroy(qp);
	nvmed_ctrl_close(c);
}

static void test_namespaces(void **state)
{
	struct nvmed_ctrl *c;
	assert_int_equal(nvmed_ctrl_open(&c, "emu:ram:4M,ns=4", NULL), 0);
	struct nvmed_qpair *qp;
	assert_int_equal(nvmed_qpair_create(c, 8, &qp), 0);
	for (uint32_t n = 1; n <= 4; n++)
		roundtrip(c, qp, n, 0, 4096, 0, 0, n * 100);
	/* each namespace kept its own data */
	uint8_t *rd = nvmed_dma_alloc(c, 4096);
	uint8_t expect[4096];
	for (uint32_t n = 1; n <= 4; n++) {
		assert_int_equal(sync_rw(qp, NVME_CMD_READ, n, 0, 8, rd, NULL), 0);
		fill_pattern(expect, 4096, n * 100);
		assert_memory_equal(rd, expect, 4096);
	}
	nvmed_dma_free(c, rd);
	nvmed_qpair_destroy(qp);
	nvmed_ctrl_close(c);
}

static void test_file_namespace(void **state)
{
	char path[] = "/tmp/aisio-test-nsXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8u << 20), 0);
	char dev[128];
	snprintf(dev, sizeof(dev), "emu:file:%s", path);
	struct nvmed_ctrl *c;
	assert_int_equal(nvmed_ctrl_open(&c, dev, NULL), 0);
	struct nvmed_qpair *qp;
	assert_int_equal(nvmed_qpair_create(c, 8, &qp), 0);
	roundtrip(c, qp, 1, 2048, 65536, 0, 0, 77);
	nvmed_qpair_destroy(qp);
	nvmed_ctrl_close(c);
	/* the data is in the file at LBA * 512 */
	uint8_t got[65536], expect[65536];
	fill_pattern(expect, sizeof(expect), 77);
	assert_int_equal(pread(fd, got, sizeof(got), 2048 * 512), (ssize_t)sizeof(got));
	assert_memory_equal(got, expect, sizeof(got));
	close(fd);
	unlink(path);
}

struct wrap_ctx {
	unsigned done, failed;
};

static void wrap_cb(struct nvmed_qpair *qp, void *arg, int err, const struct nvme_cqe *cqe)
{
	struct wrap_ctx *w = qp->user;
	w->done++;
	w->failed += err != 0;
}

/* Many passes over a tiny queue: SQ tail, CQ head and the phase bit wrap many times. */
static void test_wraparound(void **state)
{
	static const char *devs[] = {"emu:ram:4M,mqes=3", "emu:ram:4M,mqes=3,threads=0"};
	for (int d = 0; d < 2; d++) {
		struct nvmed_ctrl *c;
		assert_int_equal(nvmed_ctrl_open(&c, devs[d], NULL), 0);
		struct nvmed_qpair *qp;
		assert_int_equal(nvmed_qpair_create(c, 4, &qp), 0);
		struct wrap_ctx w = {0};
		qp->user = &w;
		uint8_t *buf = nvmed_dma_alloc(c, 4096);
		unsigned submitted = 0;
		while (submitted < 5000) {
			int rc = nvmed_qpair_read(qp, 1, submitted % 1000, 1, buf, wrap_cb, NULL);
			if (rc == -EAGAIN) {
				nvmed_qpair_ring(qp);
				assert_true(nvmed_qpair_poll(qp, 4) >= 0);
				continue;
			}
			assert_true(rc >= 0);
			assert_true(nvmed_qpair_inflight(qp) <= 3);
			submitted++;
		}
		assert_int_equal(nvmed_qpair_drain(qp, 10000), 0);
		assert_int_equal(w.done, 5000);
		assert_int_equal(w.failed, 0);
		nvmed_dma_free(c, buf);
		nvmed_qpair_destroy(qp);
		nvmed_ctrl_close(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prp_shapes),      cmocka_unit_test(test_mdts_at_controller),
		cmocka_unit_test(test_split_over_mdts), cmocka_unit_test(test_commands),
		cmocka_unit_test(test_namespaces),      cmocka_unit_test(test_file_namespace),
		cmocka_unit_test(test_wraparound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
