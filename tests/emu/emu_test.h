/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers for tests that drive the driver against the emulated controller. */
#ifndef AISIO_TESTS_EMU_TEST_H
#define AISIO_TESTS_EMU_TEST_H

#include <aisio/emu.h>
#include <aisio/nvmed.h>

#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

struct io_result {
	int done;
	int err;
	uint16_t status;
};

static inline void io_result_cb(struct nvmed_qpair *qp, void *arg, int err, const struct nvme_cqe *cqe)
{
	struct io_result *r = arg;
	r->done++;
	r->err = err;
	r->status = nvmed_cqe_status(cqe);
}

/* Wait for the one command just submitted (rc is what the submit returned). */
static inline int sync_wait(struct nvmed_qpair *qp, int rc, const struct io_result *r, uint16_t *status)
{
	if (rc < 0)
		return rc;
	rc = nvmed_qpair_drain(qp, 30000);
	if (rc < 0)
		return rc;
	if (status)
		*status = r->status;
	return r->done == 1 ? r->err : -EPROTO;
}

/* Submit one read/write and wait for it (bounded by the queue's timeout). */
static inline int sync_rw(struct nvmed_qpair *qp, uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb, void *buf,
			  uint16_t *status)
{
	struct io_result r = {0};
	return sync_wait(qp, nvmed_qpair_rw(qp, opc, nsid, slba, nlb, buf, io_result_cb, &r), &r, status);
}

/* Submit any command and wait for it. */
static inline int sync_cmd(struct nvmed_qpair *qp, struct nvme_sqe *cmd, void *buf, uint32_t len, uint16_t *status)
{
	struct io_result r = {0};
	return sync_wait(qp, nvmed_qpair_submit(qp, cmd, buf, len, io_result_cb, &r), &r, status);
}

static inline void fill_pattern(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131u + seed * 7u + (i >> 9)) ^ (seed >> 3));
}

#endif
