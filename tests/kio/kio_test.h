/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the kio tests: synchronous I/O through a queue (LBA stamps: aisio/stamp.h). */
#ifndef AISIO_KIO_TEST_H
#define AISIO_KIO_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <aisio/kio.h>
#include <aisio/stamp.h>

struct kt_done {
	int err;
	uint16_t status;
	unsigned calls;
};

static inline void kt_cb(struct kio_queue *q, void *arg, int err, uint16_t nvme_status)
{
	struct kt_done *d = arg;
	d->err = err;
	d->status = nvme_status;
	d->calls++;
}

/* One command, submitted and waited for (5 s at most). Returns the queue's error
 * (-EINVAL, -ERANGE, -ETIMEDOUT ...) or the callback's. */
static inline int kt_sync_rw(struct kio_queue *q, bool write, uint64_t slba, uint32_t nlb, void *buf, uint16_t *status)
{
	struct kt_done d = {0};
	int rc = kio_queue_rw(q, write, slba, nlb, buf, kt_cb, &d);
	if (rc < 0)
		return rc;
	rc = kio_queue_wait(q, 1, 5000);
	if (rc < 0)
		return rc;
	if (d.calls != 1)
		return -EPROTO;
	if (status)
		*status = d.status;
	return d.err;
}

static inline int kt_sync_flush(struct kio_queue *q)
{
	struct kt_done d = {0};
	int rc = kio_queue_flush(q, kt_cb, &d);
	if (rc < 0)
		return rc;
	rc = kio_queue_wait(q, 1, 5000);
	return rc < 0 ? rc : d.calls == 1 ? d.err : -EPROTO;
}

/* Counts completions of a batch and records the first error. */
struct kt_batch {
	unsigned done;
	unsigned errors;
	int first_err;
};

static inline void kt_batch_cb(struct kio_queue *q, void *arg, int err, uint16_t nvme_status)
{
	struct kt_batch *b = arg;
	b->done++;
	if (err) {
		if (!b->errors)
			b->first_err = err;
		b->errors++;
	}
}

/* Move nlba blocks from slba in chunks of chunk LBAs through q, filling the queue
 * until -EAGAIN before each submit, as a benchmark loop would. buf covers the
 * whole range. Returns 0 or the first error. */
static inline int kt_stream(struct kio_queue *q, bool write, uint64_t slba, uint64_t nlba, uint32_t chunk, uint8_t *buf,
			    unsigned lba_shift)
{
	struct kt_batch b = {0};
	uint64_t next = 0, ncmds = (nlba + chunk - 1) / chunk, issued = 0;
	while (b.done < ncmds) {
		while (issued < ncmds) {
			uint64_t lba = next;
			uint32_t n = (uint32_t)(nlba - lba < chunk ? nlba - lba : chunk);
			int rc = kio_queue_rw(q, write, slba + lba, n, buf + (lba << lba_shift), kt_batch_cb, &b);
			if (rc == -EAGAIN)
				break;
			if (rc < 0)
				return rc;
			next += n;
			issued++;
		}
		int rc = kio_queue_submit(q);
		if (rc < 0)
			return rc;
		rc = kio_queue_wait(q, 1, 5000);
		if (rc < 0)
			return rc;
	}
	return b.errors ? b.first_err : 0;
}

static inline void *kt_alloc(size_t len)
{
	void *p = NULL;
	if (posix_memalign(&p, 4096, len))
		return NULL;
	memset(p, 0, len);
	return p;
}

#endif /* AISIO_KIO_TEST_H */
