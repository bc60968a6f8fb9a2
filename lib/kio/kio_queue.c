/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * io_uring queues for the kernel I/O backends. One ring per queue, one owner
 * thread, a preallocated request record per slot (no malloc per I/O): a slot
 * index travels as the SQE's user_data and comes back in the CQE.
 *
 * Bounds: at most depth commands are queued or in flight, the SQ has at least
 * depth entries and the CQ twice that, so io_uring_get_sqe never fails and the CQ
 * never overflows; -EAGAIN is the only "full" signal the caller sees.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <liburing.h>

#include <aisio/clock.h>
#include <aisio/log.h>

#include "kio_internal.h"

/* The kernel refuses fixed buffers over 1 GiB; larger regions are registered
 * as consecutive 1 GiB pieces, the piece index being the buffer index. */
#define KIO_BUF_PIECE_SHIFT 30
#define KIO_DESTROY_WAIT_MS 5000

_Static_assert(sizeof(struct nvme_uring_cmd) <= 80, "NVMe passthrough command fits the 128-byte SQE's command area");

struct kio_req {
	kio_cb cb; /* NULL while the slot is free */
	void *arg;
	uint32_t len; /* bytes the command should move: a shorter result is an error */
};

/* Hot fields first: rw and poll touch the ring, the slots and the limits. */
struct kio_queue {
	struct io_uring ring;
	struct kio_req *reqs;
	uint32_t *free_slots;
	uint32_t nfree;
	uint32_t depth;
	uint32_t queued; /* prepared since the last submit */
	uint32_t max_nlb;
	uint64_t nlba;
	unsigned lba_shift;
	uint32_t nsid;
	int sqe_fd;        /* 0 (registered file index) or the raw fd */
	uint8_t sqe_flags; /* IOSQE_FIXED_FILE when the file is registered */
	bool passthru;
	bool iopoll;
	bool ext_arg;      /* the kernel takes a timeout with the wait (IORING_FEAT_EXT_ARG) */
	uint8_t *buf_base; /* registered region, NULL if none */
	size_t buf_len;
	void *user;
	struct kio_dev *dev;
	struct kio_queue_stats stats;
};

bool kio_backend_built(void)
{
	return true;
}

int kio_queue_create(struct kio_dev *d, unsigned depth, struct kio_queue **out)
{
	*out = NULL;
	if (depth == 0 || depth > KIO_MAX_DEPTH)
		return -EINVAL;
	struct kio_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->dev = d;
	q->depth = depth;
	q->passthru = d->kind == KIO_DEV_NVME_CHAR;
	q->iopoll = d->opts.iopoll;
	q->lba_shift = d->lba_shift;
	q->nlba = d->nlba;
	q->max_nlb = d->max_xfer >> d->lba_shift;
	q->nsid = d->nsid;
	q->reqs = calloc(depth, sizeof(*q->reqs));
	q->free_slots = malloc(depth * sizeof(*q->free_slots));
	if (!q->reqs || !q->free_slots) {
		free(q->reqs);
		free(q->free_slots);
		free(q);
		return -ENOMEM;
	}
	/* popped from the end: slot 0 first */
	for (uint32_t i = 0; i < depth; i++)
		q->free_slots[i] = depth - 1 - i;
	q->nfree = depth;

	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	if (q->passthru)
		p.flags |= IORING_SETUP_SQE128 | IORING_SETUP_CQE32;
	if (d->opts.iopoll)
		p.flags |= IORING_SETUP_IOPOLL;
	if (d->opts.sqpoll) {
		p.flags |= IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 1000;
		if (d->opts.sqpoll_cpu >= 0) {
			p.flags |= IORING_SETUP_SQ_AFF;
			p.sq_thread_cpu = (uint32_t)d->opts.sqpoll_cpu;
		}
	}
	/* Without SQPOLL, let completions wait for our next kernel entry instead of
	 * interrupting the polling thread; TASKRUN_FLAG tells poll when to enter.
	 * (SINGLE_ISSUER is left out: a queue may be created on one thread and then
	 * handed to its owner.) */
	unsigned coop = d->opts.sqpoll ? 0 : IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
	struct io_uring_params p2 = p;
	p2.flags |= coop;
	int rc = io_uring_queue_init_params(depth, &q->ring, &p2);
	if (rc == -EINVAL && coop) {
		p2 = p;
		rc = io_uring_queue_init_params(depth, &q->ring, &p2);
	}
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, d->path, "io_uring setup (depth %u%s%s%s) failed: %s", depth,
			  q->passthru ? ", 128-byte SQEs" : "", d->opts.sqpoll ? ", SQPOLL" : "",
			  d->opts.iopoll ? ", IOPOLL" : "", strerror(-rc));
		free(q->reqs);
		free(q->free_slots);
		free(q);
		return rc;
	}
	q->ext_arg = (p2.features & IORING_FEAT_EXT_ARG) != 0;
	/* A registered file saves a file-table lookup and reference per I/O. */
	if (io_uring_register_files(&q->ring, &d->fd, 1) == 0) {
		q->sqe_fd = 0;
		q->sqe_flags = IOSQE_FIXED_FILE;
	} else {
		q->sqe_fd = d->fd;
		q->sqe_flags = 0;
	}
	*out = q;
	return 0;
}

/* Every free-standing SQE field we do not set per command is zeroed here, so
 * the hot path writes each byte of the first 64 exactly once. */
static inline void sqe_head(struct kio_queue *q, struct io_uring_sqe *sqe, uint8_t opcode, uint32_t slot)
{
	sqe->opcode = opcode;
	sqe->flags = q->sqe_flags;
	sqe->ioprio = 0;
	sqe->fd = q->sqe_fd;
	sqe->user_data = slot;
	sqe->buf_index = 0;
	sqe->personality = 0;
	sqe->file_index = 0;
	sqe->addr3 = 0;
	sqe->__pad2[0] = 0;
}

static inline struct io_uring_sqe *take_slot(struct kio_queue *q, uint32_t *slot, kio_cb cb, void *arg, uint32_t len)
{
	*slot = q->free_slots[--q->nfree];
	struct kio_req *r = &q->reqs[*slot];
	r->cb = cb;
	r->arg = arg;
	r->len = len;
	q->queued++;
	/* cannot be NULL: at most depth SQEs are outstanding and the SQ holds depth */
	return io_uring_get_sqe(&q->ring);
}

/* Passthrough SQE: the NVMe command goes in the 80-byte area of the 128-byte SQE. */
static inline struct nvme_uring_cmd *sqe_uring_cmd(struct kio_queue *q, struct io_uring_sqe *sqe, uint32_t slot,
						   int buf_index)
{
	sqe_head(q, sqe, IORING_OP_URING_CMD, slot);
	sqe->cmd_op = NVME_URING_CMD_IO;
	sqe->__pad1 = 0;
	sqe->addr = 0;
	sqe->len = 0;
	sqe->uring_cmd_flags = 0;
#ifdef IORING_URING_CMD_FIXED
	if (buf_index >= 0) {
		sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
		sqe->buf_index = (uint16_t)buf_index;
	}
#endif
	/* the 8 bytes after the 72-byte command, so no stale data reaches the driver */
	memset(sqe->cmd + sizeof(struct nvme_uring_cmd), 0, 80 - sizeof(struct nvme_uring_cmd));
	return (struct nvme_uring_cmd *)sqe->cmd;
}

/* Buffer index of buf/len in the registered region, -1 when outside it. */
static inline int fixed_index(const struct kio_queue *q, const void *buf, uint32_t len)
{
	size_t off = (size_t)((const uint8_t *)buf - q->buf_base);
	if (off >= q->buf_len || len > q->buf_len - off)
		return -1;
	if ((off >> KIO_BUF_PIECE_SHIFT) != ((off + len - 1) >> KIO_BUF_PIECE_SHIFT))
		return -1;
	return (int)(off >> KIO_BUF_PIECE_SHIFT);
}

int kio_queue_rw(struct kio_queue *q, bool write, uint64_t slba, uint32_t nlb, void *buf, kio_cb cb, void *arg)
{
	if (__builtin_expect(nlb - 1u >= q->max_nlb, 0))
		return -EINVAL;
	if (__builtin_expect(slba >= q->nlba || nlb > q->nlba - slba, 0))
		return -ERANGE;
	if (__builtin_expect(q->nfree == 0, 0))
		return -EAGAIN;
	uint32_t len = nlb << q->lba_shift;
	int bi = fixed_index(q, buf, len);
	uint32_t slot;
	struct io_uring_sqe *sqe = take_slot(q, &slot, cb, arg, len);
	if (bi >= 0)
		q->stats.fixed_ios++;
	if (q->passthru) {
		struct nvme_uring_cmd *c = sqe_uring_cmd(q, sqe, slot, bi);
		kio_nvme_rw_fill(c, write, q->nsid, slba, nlb, (uint64_t)(uintptr_t)buf, len);
		return 0;
	}
	uint8_t op = write ? (bi >= 0 ? IORING_OP_WRITE_FIXED : IORING_OP_WRITE)
			   : (bi >= 0 ? IORING_OP_READ_FIXED : IORING_OP_READ);
	sqe_head(q, sqe, op, slot);
	sqe->off = slba << q->lba_shift;
	sqe->addr = (uint64_t)(uintptr_t)buf;
	sqe->len = len;
	sqe->rw_flags = 0;
	if (bi >= 0)
		sqe->buf_index = (uint16_t)bi;
	return 0;
}

int kio_queue_flush(struct kio_queue *q, kio_cb cb, void *arg)
{
	if (q->nfree == 0)
		return -EAGAIN;
	uint32_t slot;
	struct io_uring_sqe *sqe = take_slot(q, &slot, cb, arg, 0);
	if (q->passthru) {
		static const uint32_t cdw[6];
		kio_nvme_cmd_fill(sqe_uring_cmd(q, sqe, slot, -1), 0x00, q->nsid, cdw, 0, 0);
		return 0;
	}
	sqe_head(q, sqe, IORING_OP_FSYNC, slot);
	sqe->off = 0;
	sqe->addr = 0;
	sqe->len = 0;
	sqe->fsync_flags = 0;
	return 0;
}

int kio_queue_nvme_cmd(struct kio_queue *q, uint8_t opcode, const uint32_t cdw[6], void *buf, uint32_t len, kio_cb cb,
		       void *arg)
{
	if (!q->passthru)
		return -ENOTSUP;
	if (len > q->dev->max_xfer)
		return -EINVAL;
	if (q->nfree == 0)
		return -EAGAIN;
	uint32_t slot;
	int bi = len ? fixed_index(q, buf, len) : -1;
	struct io_uring_sqe *sqe = take_slot(q, &slot, cb, arg, len);
	kio_nvme_cmd_fill(sqe_uring_cmd(q, sqe, slot, bi), opcode, q->nsid, cdw, (uint64_t)(uintptr_t)buf, len);
	return 0;
}

int kio_queue_submit(struct kio_queue *q)
{
	if (q->queued == 0)
		return 0;
	int rc = io_uring_submit(&q->ring);
	if (__builtin_expect(rc < 0, 0)) {
		/* -EAGAIN / -EBUSY: the kernel is short of resources or completions must
		 * be reaped first; the SQEs stay in the ring for the next submit. */
		return rc;
	}
	q->stats.submit_calls++;
	q->queued = (uint32_t)rc >= q->queued ? 0 : q->queued - (uint32_t)rc;
	return rc;
}

int kio_queue_poll(struct kio_queue *q, unsigned max)
{
	struct io_uring *ring = &q->ring;
	/* Completions may be waiting as task work (COOP_TASKRUN), in the overflow
	 * list, or (IOPOLL) on the device itself: those need one non-blocking kernel
	 * entry. Otherwise reaping is reading shared memory. */
	if (__builtin_expect(q->iopoll, 0)) {
		if (q->nfree != q->depth && io_uring_cq_ready(ring) == 0)
			io_uring_get_events(ring);
	} else if (__builtin_expect(IO_URING_READ_ONCE(*ring->sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW),
				    0)) {
		io_uring_get_events(ring);
	}
	unsigned head, n = 0;
	struct io_uring_cqe *cqe;
	io_uring_for_each_cqe(ring, head, cqe)
	{
		if (n == max)
			break;
		n++;
		uint32_t slot = (uint32_t)cqe->user_data;
		int res = cqe->res;
		struct kio_req *r = &q->reqs[slot];
		kio_cb cb = r->cb;
		void *arg = r->arg;
		r->cb = NULL;
		q->free_slots[q->nfree++] = slot;
		int err;
		uint16_t status = 0;
		if (q->passthru)
			err = kio_nvme_res_to_err(res, &status);
		else
			err = res == (int)r->len ? 0 : res < 0 ? res : -EIO;
		if (__builtin_expect(err != 0, 0))
			q->stats.errors++;
		cb(q, arg, err, status);
	}
	if (n) {
		io_uring_cq_advance(ring, n);
		q->stats.completed += n;
	}
	return (int)n;
}

int kio_queue_wait(struct kio_queue *q, unsigned min, unsigned timeout_ms)
{
	int rc;
	unsigned inflight = q->depth - q->nfree;
	if (min > inflight)
		min = inflight;
	uint64_t deadline = aisio_mono_ms() + timeout_ms;
	unsigned got = 0;
	for (;;) {
		rc = kio_queue_poll(q, UINT_MAX);
		if (rc < 0)
			return rc;
		got += (unsigned)rc;
		uint64_t now = got >= min ? 0 : aisio_mono_ms();
		if (got >= min || now >= deadline) {
			/* what is still queued goes out even when nothing needs waiting for */
			rc = kio_queue_submit(q);
			if (rc < 0)
				return rc;
			return got >= min ? (int)got : -ETIMEDOUT;
		}
		uint64_t left = deadline - now;
		if (q->iopoll || !q->ext_arg) {
			/* Queued commands (ours or the callbacks') go out before we spin or nap. */
			rc = kio_queue_submit(q);
			if (rc < 0)
				return rc;
		}
		if (q->iopoll)
			continue; /* poll entered the kernel to poll the device; keep spinning until the deadline */
		if (!q->ext_arg) {
			/* Without EXT_ARG liburing would add a timeout SQE of its own,
			 * whose completion we would not recognise: nap instead. */
			struct timespec nap = {0, 50000};
			nanosleep(&nap, NULL);
			continue;
		}
		struct __kernel_timespec ts = {.tv_sec = (long long)(left / 1000),
					       .tv_nsec = (long long)(left % 1000) * 1000000};
		struct io_uring_cqe *cqe;
		if (q->queued) {
			/* submit and wait in one kernel entry */
			rc = io_uring_submit_and_wait_timeout(&q->ring, &cqe, min - got, &ts, NULL);
			if (rc >= 0 || rc == -ETIME || rc == -EINTR) {
				q->queued = 0;
				q->stats.submit_calls++;
			}
		} else {
			rc = io_uring_wait_cqes(&q->ring, &cqe, min - got, &ts, NULL);
		}
		if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
			return rc;
	}
}

void kio_queue_destroy(struct kio_queue *q)
{
	if (!q)
		return;
	unsigned inflight = q->depth - q->nfree;
	if (inflight) {
		kio_queue_wait(q, inflight, KIO_DESTROY_WAIT_MS);
		inflight = q->depth - q->nfree;
	}
	if (inflight) {
		aisio_log(AISIO_LOG_WARNING, q->dev->path, "%u commands still in flight after %u ms; cancelling them",
			  inflight, KIO_DESTROY_WAIT_MS);
		for (uint32_t i = 0; i < q->depth; i++) {
			struct kio_req *r = &q->reqs[i];
			if (r->cb) {
				kio_cb cb = r->cb;
				r->cb = NULL;
				cb(q, r->arg, -ECANCELED, 0);
			}
		}
	}
	/* Closing the ring makes the kernel cancel and reap whatever is left. */
	io_uring_queue_exit(&q->ring);
	free(q->reqs);
	free(q->free_slots);
	free(q);
}

int kio_queue_register_buffer(struct kio_queue *q, void *base, size_t len)
{
	if (q->nfree != q->depth)
		return -EBUSY;
	if (q->buf_base) {
		io_uring_unregister_buffers(&q->ring);
		q->buf_base = NULL;
		q->buf_len = 0;
	}
	if (!base || !len)
		return 0;
	size_t piece = (size_t)1 << KIO_BUF_PIECE_SHIFT;
	size_t n = (len + piece - 1) / piece;
	if (n > 1024)
		return -EINVAL;
	struct iovec *iov = calloc(n, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		iov[i].iov_base = (uint8_t *)base + i * piece;
		iov[i].iov_len = i + 1 < n ? piece : len - i * piece;
	}
	int rc = io_uring_register_buffers(&q->ring, iov, (unsigned)n);
	free(iov);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, q->dev->path, "registering %zu bytes of buffers failed: %s%s", len,
			  strerror(-rc), rc == -ENOMEM ? " (RLIMIT_MEMLOCK?)" : "");
		return rc;
	}
	q->buf_base = base;
	q->buf_len = len;
	return 0;
}

void *kio_queue_buffer(const struct kio_queue *q, size_t *len)
{
	if (len)
		*len = q->buf_len;
	return q->buf_base;
}

unsigned kio_queue_inflight(const struct kio_queue *q)
{
	return q->depth - q->nfree;
}

unsigned kio_queue_depth(const struct kio_queue *q)
{
	return q->depth;
}

struct kio_dev *kio_queue_dev(const struct kio_queue *q)
{
	return q->dev;
}

void *kio_queue_user(const struct kio_queue *q)
{
	return q->user;
}

void kio_queue_set_user(struct kio_queue *q, void *user)
{
	q->user = user;
}

void kio_queue_stats(const struct kio_queue *q, struct kio_queue_stats *out)
{
	*out = q->stats;
}
