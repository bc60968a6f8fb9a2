/* SPDX-License-Identifier: BSD-3-Clause */
/* Bring-up, identify, features, log pages and queue management against emu. */
#include "emu_test.h"

#include <stdio.h>

static void test_open_identify(void **state)
{
	struct nvmed_ctrl *c;
	assert_int_equal(nvmed_ctrl_open(&c, "emu:ram:64M,ns=3,lba=4096,mdts=6,qpairs=8,mqes=127", NULL), 0);
	const struct nvme_id_ctrl *id = nvmed_ctrl_identify_data(c);
	assert_memory_equal(id->mn, "aisio emulated", 14);
	assert_int_equal(id->nn, 3);
	assert_int_equal(id->mdts, 6);
	assert_int_equal(nvmed_ctrl_max_xfer(c), 4096u << 6);
	assert_int_equal(nvmed_ctrl_ns_count(c), 3);
	assert_int_equal(nvmed_ctrl_max_qpairs(c), 8);
	assert_int_equal(nvmed_ctrl_max_qdepth(c), 128);
	struct nvmed_ns ns;
	for (uint32_t n = 1; n <= 3; n++) {
		assert_int_equal(nvmed_ctrl_ns(c, n, &ns), 0);
		assert_int_equal(ns.lba_shift, 12);
		assert_int_equal(ns.nlba, (64u << 20) / 4096);
		assert_int_equal(ns.max_lbas, 64);
	}
	assert_int_equal(nvmed_ctrl_ns(c, 4, &ns), -ENOENT);
	assert_int_equal(nvmed_ctrl_ns(c, 0, &ns), -ENOENT);
	/* identify namespace 9 directly: Invalid Namespace */
	uint8_t buf[4096];
	assert_int_equal(nvmed_identify(c, NVME_ID_CNS_NS, 9, buf), -EIO);
	/* unknown CNS */
	struct nvme_sqe cmd = {.opc = NVME_ADMIN_IDENTIFY, .cdw10 = 0x55};
	uint16_t st = 0;
	assert_int_equal(nvmed_admin(c, &cmd, buf, 4096, false, NULL, &st), -EIO);
	assert_int_equal(st, NVME_SC_INVALID_FIELD);
	/* unknown admin opcode */
	struct nvme_sqe bad = {.opc = 0x7f};
	assert_int_equal(nvmed_admin(c, &bad, NULL, 0, false, NULL, &st), -EIO);
	assert_int_equal(st, NVME_SC_INVALID_OPCODE);
	assert_false(nvmed_ctrl_failed(c));
	nvmed_ctrl_close(c);
}

static void test_features_logs(void **state)
{
	struct nvmed_ctrl *c;
	assert_int_equal(nvmed_ctrl_open(&c, "emu:ram:16M,qpairs=4", NULL), 0);
	uint32_t dw0 = 0;
	assert_int_equal(nvmed_get_features(c, NVME_FEAT_NUM_QUEUES, 0, &dw0), 0);
	assert_int_equal(dw0, 3u | (3u << 16));
	assert_int_equal(nvmed_set_features(c, NVME_FEAT_ARBITRATION, 0x3, &dw0), 0);
	assert_int_equal(nvmed_get_features(c, NVME_FEAT_ARBITRATION, 0, &dw0), 0);
	assert_int_equal(dw0, 3);
	assert_int_equal(nvmed_get_features(c, 0x77, 0, &dw0), -EIO);
	/* Number of Queues cannot change once I/O queues exist */
	struct nvmed_qpair *qp;
	assert_int_equal(nvmed_qpair_create(c, 8, &qp), 0);
	assert_int_equal(nvmed_set_features(c, NVME_FEAT_NUM_QUEUES, 0, &dw0), -EIO);

	/* an out-of-range read lands in the error log and the SMART counters */
	uint8_t *buf = nvmed_dma_alloc(c, 4096);
	uint16_t st = 0;
	assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, (16u << 20) / 512, 1, buf, &st), -EIO);
	assert_int_equal(st, NVME_SC_LBA_RANGE);
	assert_int_equal(sync_rw(qp, NVME_CMD_WRITE, 1, 0, 8, buf, NULL), 0);
	assert_int_equal(sync_rw(qp, NVME_CMD_READ, 1, 0, 8, buf, NULL), 0);

	struct nvme_error_log log[4];
	assert_int_equal(nvmed_get_log_page(c, NVME_LOG_ERROR, 0, log, sizeof(log)), 0);
	assert_true(log[0].error_count >= 1);
	assert_int_equal(log[0].sqid, qp->qid);
	assert_int_equal((log[0].status_field >> 1) & 0x7ff, NVME_SC_LBA_RANGE);
	assert_int_equal(log[0].lba, (16u << 20) / 512);
	struct nvme_smart_log smart;
	assert_int_equal(nvmed_get_log_page(c, NVME_LOG_SMART, 0xffffffff, &smart, sizeof(smart)), 0);
	assert_int_equal(smart.host_writes[0], 1);
	assert_int_equal(smart.host_reads[0], 1);
	assert_int_equal(smart.data_units_written[0], 1);
	assert_int_equal(smart.avail_spare, 100);
	assert_int_equal(nvmed_get_log_page(c, 0x42, 0, &smart, sizeof(smart)), -EIO);
	nvmed_dma_free(c, buf);
	assert_int_equal(nvmed_qpair_destroy(qp), 0);
	nvmed_ctrl_close(c);
}

static void test_queue_limits(void **state)
{
	struct nvmed_ctrl *c;
	assert_int_equal(nvmed_ctrl_open(&c, "emu:null,qpairs=3,mqes=63", NULL), 0);
	struct nvmed_qpair *qp[4];
	/* depth beyond MQES + 1 and below 2 are refused before reaching the controller */
	assert_int_equal(nvmed_qpair_create(c, 65, &qp[0]), -EINVAL);
	assert_int_equal(nvmed_qpair_create(c, 1, &qp[0]), -EINVAL);
	for (int i = 0; i < 3; i++)
		assert_int_equal(nvmed_qpair_create(c, 64, &qp[i]), 0);
	/* a fourth queue pair: the controller granted three */
	assert_int_equal(nvmed_qpair_create(c, 64, &qp[3]), -ENOSPC);
	/* the controller's own checks, through raw admin commands */
	uint64_t iova = nvmed_dma_iova(c, (void *)qp[0]->cq);
	assert_int_equal(nvmed_admin_create_cq(c, 1, 8, iova), -EIO); /* qid in use */
	assert_int_equal(nvmed_admin_create_cq(c, 9, 8, iova), -EIO); /* qid beyond grant */
	assert_int_equal(nvmed_admin_create_sq(c, 9, 8, iova, 1), -EIO);
	assert_int_equal(nvmed_admin_delete_cq(c, 2), -EIO); /* its SQ still exists */
	assert_int_equal(nvmed_admin_delete_sq(c, 7), -EIO); /* no such SQ */
	/* size above MQES at the controller */
	assert_int_equal(nvmed_admin_delete_sq(c, 3), 0);
	assert_int_equal(nvmed_admin_delete_cq(c, 3), 0);
	assert_int_equal(nvmed_admin_create_cq(c, 3, 65, iova), -EIO);
	uint16_t st = 0;
	struct nvme_sqe cmd = {.opc = NVME_ADMIN_CREATE_CQ, .prp1 = iova, .cdw10 = 3 | (64u << 16), .cdw11 = 1};
	assert_int_equal(nvmed_admin(c, &cmd, NULL, 0, false, NULL, &st), -EIO);
	assert_int_equal(st, NVME_SC_QUEUE_SIZE);
	/* SQ on a CQ that does not exist */
	struct nvme_sqe sq = {
		.opc = NVME_ADMIN_CREATE_SQ, .prp1 = iova, .cdw10 = 3 | (7u << 16), .cdw11 = 1 | (3u << 16)};
	assert_int_equal(nvmed_admin(c, &sq, NULL, 0, false, NULL, &st), -EIO);
	assert_int_equal(st, NVME_SC_CQ_INVALID);
	/* put queue 3 back so destroy finds it */
	assert_int_equal(nvmed_admin_create_cq(c, 3, 64, nvmed_dma_iova(c, (void *)qp[2]->cq)), 0);
	assert_int_equal(nvmed_admin_create_sq(c, 3, 64, nvmed_dma_iova(c, qp[2]->sq), 3), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(nvmed_qpair_destroy(qp[i]), 0);
	/* ids are reusable after destroy */
	assert_int_equal(nvmed_qpair_create(c, 2, &qp[0]), 0);
	assert_int_equal(qp[0]->qid, 1);
	nvmed_ctrl_close(c);
}

/* Each doorbell stride and the inline mode bring up and move data. */
static void test_strides_and_inline(void **state)
{
	static const char *devs[] = {"emu:ram:8M,dstrd=0", "emu:ram:8M,dstrd=2", "emu:ram:8M,dstrd=8,qpairs=4",
				     "emu:ram:8M,threads=0", "emu:ram:8M,threads=3,qpairs=6"};
	for (size_t d = 0; d < sizeof(devs) / sizeof(devs[0]); d++) {
		struct nvmed_ctrl *c;
		assert_int_equal(nvmed_ctrl_open(&c, devs[d], NULL), 0);
		struct nvmed_qpair *qp[3];
		uint8_t *buf = nvmed_dma_alloc(c, 8192);
		for (int q = 0; q < 3; q++) {
			assert_int_equal(nvmed_qpair_create(c, 16, &qp[q]), 0);
			fill_pattern(buf, 4096, (uint32_t)(d * 10 + q));
			assert_int_equal(sync_rw(qp[q], NVME_CMD_WRITE, 1, (uint64_t)q * 8, 8, buf, NULL), 0);
		}
		for (int q = 0; q < 3; q++) {
			uint8_t expect[4096];
			fill_pattern(expect, 4096, (uint32_t)(d * 10 + q));
			memset(buf, 0, 4096);
			/* read through another queue than the one that wrote */
			assert_int_equal(sync_rw(qp[(q + 1) % 3], NVME_CMD_READ, 1, (uint64_t)q * 8, 8, buf, NULL), 0);
			assert_memory_equal(buf, expect, 4096);
		}
		/* SMART counts every command, inline or by engines, before and after the queues go */
		struct nvme_smart_log smart;
		assert_int_equal(nvmed_get_log_page(c, NVME_LOG_SMART, 0xffffffff, &smart, sizeof(smart)), 0);
		assert_int_equal(smart.host_writes[0], 3);
		assert_int_equal(smart.host_reads[0], 3);
		for (int q = 0; q < 3; q++)
			assert_int_equal(nvmed_qpair_destroy(qp[q]), 0);
		assert_int_equal(nvmed_get_log_page(c, NVME_LOG_SMART, 0xffffffff, &smart, sizeof(smart)), 0);
		assert_int_equal(smart.host_writes[0], 3);
		assert_int_equal(smart.host_reads[0], 3);
		nvmed_dma_free(c, buf);
		nvmed_ctrl_close(c);
	}
}

/* CSTS.RDY slower than CAP.TO allows: open gives up with -ETIMEDOUT, bounded. */
static void test_ready_timeout(void **state)
{
	struct nvmed_ctrl *c;
	assert_int_equal(nvmed_ctrl_open(&c, "emu:null,to=1,rdy_delay=1500", NULL), -ETIMEDOUT);
	/* within CAP.TO it comes up */
	assert_int_equal(nvmed_ctrl_open(&c, "emu:null,to=2,rdy_delay=300", NULL), 0);
	nvmed_ctrl_close(c);
}

static void test_bad_device_strings(void **state)
{
	struct nvmed_ctrl *c;
	assert_int_equal(nvmed_ctrl_open(&c, "emu:disk", NULL), -EINVAL);
	assert_int_equal(nvmed_ctrl_open(&c, "nonsense", NULL), -EINVAL);
	assert_true(nvmed_ctrl_open(&c, "0000:ff:1f.7", NULL) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_identify), cmocka_unit_test(test_features_logs),
		cmocka_unit_test(test_queue_limits),  cmocka_unit_test(test_strides_and_inline),
		cmocka_unit_test(test_ready_timeout), cmocka_unit_test(test_bad_device_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
