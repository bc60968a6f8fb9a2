/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the kio tests: LBA stamps and synchronous I/O through a queue. */
#ifndef AISIO_KIO_TEST_H
#define AISIO_KIO_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <aisio/kio.h>

/* Every 8-byte word of an LBA carries (seed, lba, word), so a block read from the
 * wrong place or a torn transfer shows. */
static inline uint64_t kt_stamp_word(uint64_t seed, uint64_t lba, uint64_t w)
{
	uint64_t x = seed ^ (lba * 0x9e3779b97f4a7c15ull) ^ (w << 48) ^ w;
	x ^= x >> 31;
	return x * 0xbf58476d1ce4e5b9ull;
}

static inline void kt_stamp(void *buf, uint64_t slba, uint32_t nlb, unsigned lba_shift, uint64_t seed)
{
	uint64_t *p = buf;
	size_t words = ((size_t)1 << lba_shift) / 8;
	for (uint32_t b = 0; b < nlb; b++)
		for (size_t w = 0; w < words; w++)
			*p++ = kt_stamp_word(seed, slba + b, w);
}

/* Number of blocks that differ from their stamp. */
static inline unsigned kt_check(const void *buf, uint64_t slba, uint32_t nlb, unsigned lba_shift, uint64_t seed)
{
	const uint64_t *p = buf;
	size_t words = ((size_t)1 << lba_shift) / 8;
	unsigned bad = 0;
	for (uint32_t b = 0; b < nlb; b++) {
		bool ok = true;
		for (size_t w = 0; w < words; w++)
			ok &= p[w] == kt_stamp_word(seed, slba + b, w);
		bad += !ok;
		p += words;
	}
	return bad;
}

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
static inline int kt_sync_rw(struct kio_queue *q, bool write, uint64_t slba, uint32_t nlb, void *buf,
			     uint16_t *status)
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
static inline int kt_stream(struct kio_queue *q, bool write, uint64_t slba, uint64_t nlba, uint32_t chunk,
			    uint8_t *buf, unsigned lba_shift)
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
