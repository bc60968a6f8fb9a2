/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The emulated controllers' admin server over a model shaped like gpuemu's (data at PRP1 in this
 * process's memory, SQ n posts to CQ n only): what gpu_ctrl.c relies on, checked without a GPU.
 * emu's own model runs under every emu test.
 */
#include <aisio/emu_admin.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

struct model {
	char calls[64][16]; /* "cq+3", "sq-3", ... in order */
	unsigned ncalls;
	struct emu_counters counters;
};

static void note(struct model *m, char op, char sign, uint16_t qid)
{
	if (m->ncalls < 64)
		snprintf(m->calls[m->ncalls++], sizeof(m->calls[0]), "%cq%c%u", op, sign, qid);
}

/* The data at PRP1, in this process's memory; a page at most in these tests. */
static uint16_t m_xfer(void *ctx, const struct nvme_sqe *sqe, void *buf, uint32_t len, int to_host)
{
	if (!sqe->prp1)
		return NVME_SC_DATA_XFER_ERROR;
	memcpy(to_host ? (void *)(uintptr_t)sqe->prp1 : buf, to_host ? buf : (void *)(uintptr_t)sqe->prp1, len);
	return 0;
}

static uint16_t m_cq_create(void *ctx, uint16_t qid, uint32_t size, uint64_t base)
{
	note(ctx, 'c', '+', qid);
	return 0;
}

static uint16_t m_sq_create(void *ctx, uint16_t qid, uint32_t size, uint64_t base, uint16_t cqid)
{
	if (cqid != qid)
		return NVME_SC_INVALID_FIELD;
	note(ctx, 's', '+', qid);
	return 0;
}

static void m_sq_delete(void *ctx, uint16_t qid)
{
	note(ctx, 's', '-', qid);
}

static void m_cq_delete(void *ctx, uint16_t qid)
{
	note(ctx, 'c', '-', qid);
}

static void m_counters(void *ctx, struct emu_counters *sum)
{
	*sum = ((struct model *)ctx)->counters;
}

static const struct emu_admin_model model_ops = {
	.serial = "TEST-0001",
	.model = "test model",
	.oncs = NVME_ONCS_WRITE_ZEROES,
	.xfer = m_xfer,
	.cq_create = m_cq_create,
	.sq_create = m_sq_create,
	.sq_delete = m_sq_delete,
	.cq_delete = m_cq_delete,
	.counters = m_counters,
};

struct env {
	struct emu_opts o;
	struct model m;
	struct emu_admin *a;
	uint8_t *page;
	uint64_t ring; /* a page-aligned bus address for queues: the model never touches it */
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	assert_int_equal(emu_opts_parse(&e->o, DEVSTR_GPUEMU, "hbm:64M,qpairs=4,mqes=63,mdts=6,lba=4096"), 0);
	assert_int_equal(emu_admin_create(&e->a, &e->o, e->o.ns_bytes >> e->o.lba_shift, &model_ops, &e->m), 0);
	e->page = aligned_alloc(4096, 4096);
	assert_non_null(e->page);
	e->ring = 0x100000;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	emu_admin_destroy(e->a);
	free(e->page);
	free(e);
	return 0;
}

static uint16_t cmd(struct env *e, uint8_t opc, uint32_t nsid, uint32_t cdw10, uint32_t cdw11, uint64_t prp1,
		    uint32_t *dw0)
{
	struct nvme_sqe s;
	memset(&s, 0, sizeof(s));
	s.opc = opc;
	s.cid = 7;
	s.nsid = nsid;
	s.cdw10 = cdw10;
	s.cdw11 = cdw11;
	s.prp1 = prp1;
	uint32_t d;
	uint16_t st = emu_admin_cmd(e->a, &s, &d);
	if (dw0)
		*dw0 = d;
	return st;
}

static uint16_t create_cq(struct env *e, uint16_t qid, uint32_t size, uint32_t flags, uint64_t base)
{
	return cmd(e, NVME_ADMIN_CREATE_CQ, 0, qid | ((size - 1) << 16), flags, base, NULL);
}

static uint16_t create_sq(struct env *e, uint16_t qid, uint32_t size, uint16_t cqid)
{
	return cmd(e, NVME_ADMIN_CREATE_SQ, 0, qid | ((size - 1) << 16),
		   NVME_QUEUE_PHYS_CONTIG | ((uint32_t)cqid << 16), e->ring, NULL);
}

static void test_identify(void **state)
{
	struct env *e = *state;
	uint64_t page = (uint64_t)(uintptr_t)e->page;
	assert_int_equal(cmd(e, NVME_ADMIN_IDENTIFY, 0, NVME_ID_CNS_CTRL, 0, page, NULL), 0);
	const struct nvme_id_ctrl *id = (const void *)e->page;
	assert_memory_equal(id->sn, "TEST-0001 ", 10);
	assert_memory_equal(id->mn, "test model ", 11);
	assert_int_equal(id->mdts, 6);
	assert_int_equal(id->nn, 1);
	assert_int_equal(id->oncs, NVME_ONCS_WRITE_ZEROES);
	assert_int_equal(id->vwc, 0);
	assert_string_equal(id->subnqn, "nqn.2026-11.org.aisio:gpuemu");
	assert_int_equal(cmd(e, NVME_ADMIN_IDENTIFY, 1, NVME_ID_CNS_NS, 0, page, NULL), 0);
	const struct nvme_id_ns *ns = (const void *)e->page;
	assert_int_equal(ns->nsze, (64u << 20) / 4096);
	assert_int_equal(ns->lbaf[NVME_NS_FLBAS_INDEX(ns->flbas)].ds, 12);
	assert_int_equal(cmd(e, NVME_ADMIN_IDENTIFY, 2, NVME_ID_CNS_NS, 0, page, NULL), NVME_SC_INVALID_NS);
	assert_int_equal(cmd(e, NVME_ADMIN_IDENTIFY, 0, NVME_ID_CNS_NS_ACTIVE_LIST, 0, page, NULL), 0);
	const uint32_t *list = (const void *)e->page;
	assert_true(list[0] == 1 && list[1] == 0);
	/* data the model cannot place: its status comes back */
	assert_int_equal(cmd(e, NVME_ADMIN_IDENTIFY, 0, NVME_ID_CNS_CTRL, 0, 0, NULL), NVME_SC_DATA_XFER_ERROR);
	assert_int_equal(cmd(e, NVME_ADMIN_IDENTIFY, 0, 0x55, 0, page, NULL), NVME_SC_INVALID_FIELD);
	assert_int_equal(cmd(e, 0x7f, 0, 0, 0, page, NULL), NVME_SC_INVALID_OPCODE);
}

static void test_queues(void **state)
{
	struct env *e = *state;
	uint32_t dw0;
	assert_int_equal(cmd(e, NVME_ADMIN_GET_FEATURES, 0, NVME_FEAT_NUM_QUEUES, 0, 0, &dw0), 0);
	assert_int_equal(dw0, 3 | (3u << 16));
	assert_int_equal(cmd(e, NVME_ADMIN_SET_FEATURES, 0, NVME_FEAT_NUM_QUEUES, 1 | (1u << 16), 0, &dw0), 0);
	assert_int_equal(dw0, 1 | (1u << 16)); /* two granted */

	const uint32_t pc = NVME_QUEUE_PHYS_CONTIG;
	assert_int_equal(create_cq(e, 3, 64, pc, e->ring), NVME_SC_QID_INVALID); /* beyond what was granted */
	assert_int_equal(create_cq(e, 0, 64, pc, e->ring), NVME_SC_QID_INVALID);
	assert_int_equal(create_cq(e, 1, 65, pc, e->ring), NVME_SC_QUEUE_SIZE); /* MQES 63 */
	assert_int_equal(create_cq(e, 1, 1, pc, e->ring), NVME_SC_QUEUE_SIZE);
	assert_int_equal(create_cq(e, 1, 64, 0, e->ring), NVME_SC_INVALID_FIELD);
	assert_int_equal(create_cq(e, 1, 64, pc, e->ring + 512), NVME_SC_PRP_OFFSET_INVALID);
	assert_int_equal(e->m.ncalls, 0); /* nothing refused reached the model */
	assert_int_equal(create_sq(e, 1, 64, 1), NVME_SC_CQ_INVALID);
	assert_int_equal(create_cq(e, 1, 64, pc, e->ring), 0);
	assert_int_equal(create_cq(e, 1, 64, pc, e->ring), NVME_SC_QID_INVALID); /* exists */
	assert_int_equal(create_cq(e, 2, 64, pc, e->ring), 0);
	assert_int_equal(create_sq(e, 2, 64, 1), NVME_SC_INVALID_FIELD); /* the model refuses: SQ n to CQ n */
	assert_int_equal(create_sq(e, 1, 64, 1), 0);
	assert_int_equal(create_sq(e, 1, 64, 1), NVME_SC_QID_INVALID);
	assert_int_equal(create_sq(e, 2, 64, 2), 0);
	/* Number of Queues only before any I/O queue */
	assert_int_equal(cmd(e, NVME_ADMIN_SET_FEATURES, 0, NVME_FEAT_NUM_QUEUES, 0, 0, &dw0), NVME_SC_CMD_SEQ_ERROR);

	assert_int_equal(cmd(e, NVME_ADMIN_DELETE_CQ, 0, 1, 0, 0, NULL), NVME_SC_INVALID_QUEUE_DELETE);
	assert_int_equal(cmd(e, NVME_ADMIN_DELETE_SQ, 0, 1, 0, 0, NULL), 0);
	assert_int_equal(cmd(e, NVME_ADMIN_DELETE_SQ, 0, 1, 0, 0, NULL), NVME_SC_QID_INVALID);
	assert_int_equal(cmd(e, NVME_ADMIN_DELETE_CQ, 0, 1, 0, 0, NULL), 0);
	assert_int_equal(cmd(e, NVME_ADMIN_DELETE_CQ, 0, 1, 0, 0, NULL), NVME_SC_QID_INVALID);
	assert_int_equal(cmd(e, NVME_ADMIN_DELETE_CQ, 0, 9, 0, 0, NULL), NVME_SC_QID_INVALID);

	static const char *const want[] = {"cq+1", "cq+2", "sq+1", "sq+2", "sq-1", "cq-1"};
	assert_int_equal(e->m.ncalls, 6);
	for (unsigned i = 0; i < 6; i++)
		assert_string_equal(e->m.calls[i], want[i]);

	/* reset: SQs before CQs, and the grant forgotten (all four queue ids usable again) */
	emu_admin_reset(e->a);
	assert_int_equal(e->m.ncalls, 8);
	assert_string_equal(e->m.calls[6], "sq-2");
	assert_string_equal(e->m.calls[7], "cq-2");
	assert_int_equal(create_cq(e, 4, 64, pc, e->ring), 0);
	assert_int_equal(create_sq(e, 4, 64, 4), 0);
	emu_admin_reset(e->a);
}

static void test_features_and_logs(void **state)
{
	struct env *e = *state;
	uint32_t dw0;
	uint64_t page = (uint64_t)(uintptr_t)e->page;
	assert_int_equal(cmd(e, NVME_ADMIN_SET_FEATURES, 0, NVME_FEAT_ARBITRATION, 0x33, 0, &dw0), 0);
	assert_int_equal(cmd(e, NVME_ADMIN_GET_FEATURES, 0, NVME_FEAT_ARBITRATION, 0, 0, &dw0), 0);
	assert_int_equal(dw0, 0x33);
	/* no volatile write cache on a hbm namespace */
	assert_int_equal(cmd(e, NVME_ADMIN_SET_FEATURES, 0, NVME_FEAT_VOLATILE_WC, 1, 0, &dw0), NVME_SC_INVALID_FIELD);

	/* failed commands land in the error log, newest first */
	assert_int_equal(cmd(e, 0x7f, 0, 0, 0, 0, NULL), NVME_SC_INVALID_OPCODE);
	emu_admin_log_error(e->a, 3, 9, NVME_SC_READ_ERROR, 1234, 1);
	uint32_t numd = 2 * sizeof(struct nvme_error_log) / 4 - 1;
	assert_int_equal(cmd(e, NVME_ADMIN_GET_LOG_PAGE, 0, NVME_LOG_ERROR | (numd << 16), 0, page, NULL), 0);
	const struct nvme_error_log *log = (const void *)e->page;
	assert_int_equal(log[0].sqid, 3);
	assert_int_equal(log[0].lba, 1234);
	assert_int_equal(log[0].status_field >> 1, NVME_SC_READ_ERROR);
	assert_int_equal(log[1].sqid, 0);
	assert_int_equal(log[1].cmdid, 7);
	assert_int_equal(log[1].status_field >> 1, NVME_SC_INVALID_OPCODE);
	assert_true(log[0].error_count > log[1].error_count);

	e->m.counters.reads = 5;
	e->m.counters.lbas_read = 1000; /* 4 KiB LBAs: 8000 units of 512 bytes = 8 data units */
	numd = sizeof(struct nvme_smart_log) / 4 - 1;
	assert_int_equal(cmd(e, NVME_ADMIN_GET_LOG_PAGE, 0, NVME_LOG_SMART | (numd << 16), 0, page, NULL), 0);
	const struct nvme_smart_log *smart = (const void *)e->page;
	assert_int_equal(smart->host_reads[0], 5);
	assert_int_equal(smart->data_units_read[0], 8);
	assert_true(smart->num_err_log_entries[0] >= 2);
	assert_int_equal(cmd(e, NVME_ADMIN_GET_LOG_PAGE, 0, 0x7e | (numd << 16), 0, page, NULL),
			 NVME_SC_INVALID_LOG_PAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_features_and_logs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
