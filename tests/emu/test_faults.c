/* SPDX-License-Identifier: BSD-3-Clause */
/* Every injected fault: the right error reaches the caller, nothing hangs, the
 * queue and controller stay usable or come back after a reset. */
#include "emu_test.h"

#include <stdio.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void test_error_status(void **state)
{
	struct nvmed_ctrl *c;
	assert_int_equal(nvmed_ctrl_open(&c, "emu:ram:8M,err=1000-1007", NULL), 0);
	struct nvmed_qpair *qp;
	assert_int_equal(nvmed_qpair_create(c, 8, &qp), 0);
	uint8_t *buf = nvmed_dma_alloc(c, 8192);
	uint16_t st = 0;
	assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, 1004, 1, buf, &st), -EIO);
	assert_int_equal(st, NVME_SC_READ_ERROR);
	assert_string_equal(nvmed_status_str(st), "Unrecovered Read Error");
	/* overlapping the range from below */
	assert_int_equal(sync_rw(qp, NVME_CMD_WRITE, 1, 996, 8, buf, &st), -EIO);
	/* outside the range the same queue still works */
	assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, 1008, 8, buf, NULL), 0);
	assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, 990, 8, buf, NULL), 0);
	/* set at run time, with another status, then cleared */
	struct emu_ctrl *emu = nvmed_ctrl_pci(c)->emu;
	emu_ctrl_fault_error(emu, 5, 5, NVME_SC_WRITE_FAULT);
	assert_int_equal(sync_rw(qp, NVME_CMD_WRITE, 1, 5, 1, buf, &st), -EIO);
	assert_int_equal(st, NVME_SC_WRITE_FAULT);
	emu_ctrl_fault_clear(emu);
	assert_int_equal(sync_rw(qp, NVME_CMD_WRITE, 1, 5, 1, buf, NULL), 0);
	assert_int_equal(qp->errors, 3);
	nvmed_dma_free(c, buf);
	nvmed_qpair_destroy(qp);
	nvmed_ctrl_close(c);
}

/* A completion that never comes: -ETIMEDOUT within the timeout, the cid stays
 * reserved, the rest of the queue goes on. */
static void test_dropped_completion(void **state)
{
	static const char *devs[] = {"emu:ram:8M,drop=100-100", "emu:ram:8M,drop=100-100,threads=0"};
	for (int d = 0; d < 2; d++) {
		struct nvmed_ctrl *c;
		struct nvmed_ctrl_opts o = {.io_timeout_ms = 300};
		assert_int_equal(nvmed_ctrl_open(&c, devs[d], &o), 0);
		struct nvmed_qpair *qp;
		assert_int_equal(nvmed_qpair_create(c, 4, &qp), 0);
		uint8_t *buf = nvmed_dma_alloc(c, 4096);
		double t0 = now_s();
		assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, 100, 1, buf, NULL), -ETIMEDOUT);
		double dt = now_s() - t0;
		assert_true(dt >= 0.25 && dt < 3.0);
		assert_int_equal(qp->timeouts, 1);
		assert_int_equal(qp->ntimedout, 1);
		assert_int_equal(nvmed_qpair_inflight(qp), 0);
		/* two cids left of three: both usable, repeatedly */
		for (int i = 0; i < 50; i++)
			assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, 200 + (uint64_t)i, 1, buf, NULL), 0);
		struct emu_stats s;
		emu_ctrl_stats(nvmed_ctrl_pci(c)->emu, &s);
		assert_int_equal(s.dropped, 1);
		nvmed_dma_free(c, buf);
		nvmed_qpair_destroy(qp);
		nvmed_ctrl_close(c);
	}
}

/* Late completions: within the timeout they succeed; past it the command times
 * out and the late completion afterwards frees its cid. */
static void test_delayed_completion(void **state)
{
	struct nvmed_ctrl *c;
	struct nvmed_ctrl_opts o = {.io_timeout_ms = 500};
	assert_int_equal(nvmed_ctrl_open(&c, "emu:ram:8M,delay=10-10:150000", &o), 0);
	struct nvmed_qpair *qp;
	assert_int_equal(nvmed_qpair_create(c, 4, &qp), 0);
	uint8_t *buf = nvmed_dma_alloc(c, 4096);
	double t0 = now_s();
	assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, 10, 1, buf, NULL), 0);
	assert_true(now_s() - t0 >= 0.14);
	/* now a delay longer than the timeout */
	emu_ctrl_fault_delay(nvmed_ctrl_pci(c)->emu, 20, 20, 1200000);
	assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, 20, 1, buf, NULL), -ETIMEDOUT);
	assert_int_equal(qp->ntimedout, 1);
	/* keep polling: the late completion arrives and releases the cid */
	double deadline = now_s() + 5;
	while (qp->ntimedout && now_s() < deadline)
		assert_true(nvmed_qpair_poll(qp, 4) >= 0);
	assert_int_equal(qp->ntimedout, 0);
	assert_int_equal(qp->nfree, 3);
	assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, 30, 1, buf, NULL), 0);
	nvmed_dma_free(c, buf);
	nvmed_qpair_destroy(qp);
	nvmed_ctrl_close(c);
}

struct count_ctx {
	unsigned ok, canceled, other;
};

static void count_cb(struct nvmed_qpair *qp, void *arg, int err, const struct nvme_cqe *cqe)
{
	struct count_ctx *x = arg;
	if (err == 0)
		x->ok++;
	else if (err == -ECANCELED)
		x->canceled++;
	else
		x->other++;
}

/* Controller fatal status: polls and submits fail with -ENXIO, a reset cancels
 * what was in flight and the controller and queues come back. */
static void fatal_and_recover(const char *dev, int runtime_fault)
{
	struct nvmed_ctrl *c;
	assert_int_equal(nvmed_ctrl_open(&c, dev, NULL), 0);
	struct nvmed_qpair *qp[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(nvmed_qpair_create(c, 32, &qp[i]), 0);
	uint8_t *buf = nvmed_dma_alloc(c, 4096);
	struct count_ctx x = {0};
	if (runtime_fault)
		emu_ctrl_fault_fatal(nvmed_ctrl_pci(c)->emu);
	for (int i = 0; i < 24; i++)
		assert_true(nvmed_qpair_read(qp[0], 1, (uint64_t)i, 1, buf, count_cb, &x) >= 0);
	nvmed_qpair_ring(qp[0]);
	int rc = 0;
	double deadline = now_s() + 10;
	while (rc >= 0 && now_s() < deadline)
		rc = nvmed_qpair_poll(qp[0], 32);
	assert_int_equal(rc, -ENXIO);
	assert_true(nvmed_ctrl_failed(c));
	assert_int_equal(nvmed_qpair_read(qp[0], 1, 0, 1, buf, count_cb, &x), -ENXIO);
	assert_int_equal(nvmed_qpair_drain(qp[0], 1000), -ENXIO);
	/* admin commands fail fast too */
	uint32_t dw0;
	assert_true(nvmed_get_features(c, NVME_FEAT_NUM_QUEUES, 0, &dw0) < 0);
	assert_int_equal(x.ok + x.canceled + x.other, x.ok); /* nothing canceled before the reset */
	assert_true(x.ok < 24);

	assert_int_equal(nvmed_ctrl_reset(c), 0);
	assert_false(nvmed_ctrl_failed(c));
	assert_int_equal(x.ok + x.canceled, 24);
	assert_int_equal(x.other, 0);
	/* both queues work again */
	for (int i = 0; i < 2; i++) {
		fill_pattern(buf, 4096, (uint32_t)i);
		assert_int_equal(sync_rw(qp[i], NVME_CMD_WRITE, 1, 64, 8, buf, NULL), 0);
		assert_int_equal(sync_rw(qp[i], NVME_CMD_READ, 1, 64, 8, buf, NULL), 0);
	}
	struct emu_stats s;
	emu_ctrl_stats(nvmed_ctrl_pci(c)->emu, &s);
	assert_true(s.resets >= 1);
	nvmed_dma_free(c, buf);
	for (int i = 0; i < 2; i++)
		assert_int_equal(nvmed_qpair_destroy(qp[i]), 0);
	nvmed_ctrl_close(c);
}

static void test_fatal_after(void **state)
{
	fatal_and_recover("emu:ram:8M,fatal_after=10", 0);
	fatal_and_recover("emu:ram:8M,fatal_after=10,threads=0", 0);
}

static void test_fatal_runtime(void **state)
{
	fatal_and_recover("emu:ram:8M", 1);
}

/* A queue pair destroyed with commands in flight: callbacks run with -ECANCELED. */
static void test_destroy_inflight(void **state)
{
	struct nvmed_ctrl *c;
	struct nvmed_ctrl_opts o = {.io_timeout_ms = 10000};
	assert_int_equal(nvmed_ctrl_open(&c, "emu:ram:8M,drop=0-99", &o), 0);
	struct nvmed_qpair *qp;
	assert_int_equal(nvmed_qpair_create(c, 8, &qp), 0);
	uint8_t *buf = nvmed_dma_alloc(c, 4096);
	struct count_ctx x = {0};
	for (int i = 0; i < 5; i++)
		assert_true(nvmed_qpair_read(qp, 1, (uint64_t)i, 1, buf, count_cb, &x) >= 0);
	nvmed_qpair_ring(qp);
	for (int i = 0; i < 1000; i++)
		nvmed_qpair_poll(qp, 8);
	assert_int_equal(nvmed_qpair_destroy(qp), 0);
	assert_int_equal(x.canceled, 5);
	nvmed_dma_free(c, buf);
	nvmed_ctrl_close(c);
}

/* Commands submitted with NVMED_CB_COUNT: no callback runs; successes, errors,
 * timeouts and cancellations are all counted on the queue pair. */
static void test_count_only(void **state)
{
	struct nvmed_ctrl *c;
	struct nvmed_ctrl_opts o = {.io_timeout_ms = 300};
	assert_int_equal(nvmed_ctrl_open(&c, "emu:ram:8M,err=1000-1001,drop=2000-2003", &o), 0);
	struct nvmed_qpair *qp;
	assert_int_equal(nvmed_qpair_create(c, 32, &qp), 0);
	uint8_t *buf = nvmed_dma_alloc(c, 4096);
	for (int i = 0; i < 10; i++)
		assert_true(nvmed_qpair_read(qp, 1, (uint64_t)i, 1, buf, NVMED_CB_COUNT, NULL) >= 0);
	for (int i = 0; i < 2; i++)
		assert_true(nvmed_qpair_read(qp, 1, 1000 + (uint64_t)i, 1, buf, NVMED_CB_COUNT, NULL) >= 0);
	assert_true(nvmed_qpair_read(qp, 1, 2000, 1, buf, NVMED_CB_COUNT, NULL) >= 0);
	assert_int_equal(nvmed_qpair_drain(qp, 5000), 0);
	assert_int_equal(qp->completed, 12);
	assert_int_equal(qp->errors, 2);
	assert_int_equal(qp->timeouts, 1);
	assert_int_equal(qp->cancelled, 0);
	/* in flight when the controller fails: cancelled by the reset */
	for (int i = 1; i < 4; i++)
		assert_true(nvmed_qpair_read(qp, 1, 2000 + (uint64_t)i, 1, buf, NVMED_CB_COUNT, NULL) >= 0);
	nvmed_qpair_ring(qp);
	emu_ctrl_fault_fatal(nvmed_ctrl_pci(c)->emu);
	int rc = 0;
	double deadline = now_s() + 10;
	while (rc >= 0 && now_s() < deadline)
		rc = nvmed_qpair_poll(qp, 32);
	assert_int_equal(rc, -ENXIO);
	assert_int_equal(nvmed_ctrl_reset(c), 0);
	assert_int_equal(qp->cancelled, 3);
	assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, 5, 1, buf, NULL), 0);
	nvmed_dma_free(c, buf);
	assert_int_equal(nvmed_qpair_destroy(qp), 0);
	nvmed_ctrl_close(c);
}

/* A split I/O (over MDTS) with one command dropped: the I/O times out once, the counters
 * count it once, and its cids come back to the queue. NVMED_CB_COUNT splits count the same. */
static void test_split_timeout(void **state)
{
	struct nvmed_ctrl *c;
	struct nvmed_ctrl_opts o = {.io_timeout_ms = 300};
	/* mdts=1: 16 LBAs per command; LBA 20 is in the second of three commands */
	assert_int_equal(nvmed_ctrl_open(&c, "emu:ram:8M,mdts=1,drop=20-20", &o), 0);
	struct nvmed_qpair *qp;
	assert_int_equal(nvmed_qpair_create(c, 8, &qp), 0);
	uint8_t *buf = nvmed_dma_alloc(c, 65536);
	struct io_result r = {0};
	assert_true(nvmed_qpair_read(qp, 1, 0, 48, buf, io_result_cb, &r) >= 0);
	double deadline = now_s() + 10;
	while (r.done == 0 && now_s() < deadline) {
		nvmed_qpair_ring(qp);
		assert_true(nvmed_qpair_poll(qp, 8) >= 0);
		if (qp->poll_countdown > 64)
			qp->poll_countdown = 64;
	}
	assert_int_equal(r.done, 1);
	assert_int_equal(r.err, -ETIMEDOUT);
	assert_int_equal(qp->timeouts, 1);
	assert_int_equal(qp->completed, 0);
	/* the dropped command's cid stays reserved; the other two are free again */
	assert_int_equal(qp->nfree, 6);
	assert_int_equal(nvmed_qpair_inflight(qp), 0);
	/* counted-only split I/Os: one success and one timeout, counted once each */
	assert_true(nvmed_qpair_read(qp, 1, 100, 48, buf, NVMED_CB_COUNT, NULL) >= 0);
	assert_int_equal(nvmed_qpair_drain(qp, 5000), 0);
	assert_int_equal(qp->completed, 1);
	assert_true(nvmed_qpair_read(qp, 1, 10, 20, buf, NVMED_CB_COUNT, NULL) >= 0);
	assert_int_equal(nvmed_qpair_drain(qp, 5000), 0);
	assert_int_equal(qp->completed, 1);
	assert_int_equal(qp->timeouts, 2);
	assert_int_equal(r.done, 1);
	nvmed_dma_free(c, buf);
	assert_int_equal(nvmed_qpair_destroy(qp), 0);
	nvmed_ctrl_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_status),       cmocka_unit_test(test_dropped_completion),
		cmocka_unit_test(test_delayed_completion), cmocka_unit_test(test_fatal_after),
		cmocka_unit_test(test_fatal_runtime),      cmocka_unit_test(test_destroy_inflight),
		cmocka_unit_test(test_count_only),         cmocka_unit_test(test_split_timeout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
