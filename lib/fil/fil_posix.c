/* SPDX-License-Identifier: BSD-3-Clause */
/* fil's posix backends: buffered pread, O_DIRECT pread, io_uring O_DIRECT (one ring per worker). */
#include "fil_internal.h"

#include <aisio/log.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef FIL_HAVE_URING
#include <liburing.h>
#endif

#define DIRECT_ALIGN 4096u
#define PIECE (1u << 20) /* io_uring: bytes per read command */

static int buffered_read(struct fil_worker *w, struct fil_slot *s, unsigned first, unsigned count)
{
	for (unsigned i = first; i < first + count; i++) {
		int rc = fil_read_buffered(w, s, i);
		if (rc < 0)
			return rc;
	}
	return 0;
}

const struct fil_backend_ops fil_posix_buffered_ops = {
	.name = "posix-buffered",
	.align = 64,
	.buf_alloc = fil_host_buf_alloc,
	.buf_free = fil_host_buf_free,
	.read = buffered_read,
};

/* O_DIRECT, or buffered where the file system has no O_DIRECT (tmpfs): the bytes are the same. */
static int open_direct(struct fil_worker *w, unsigned at, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_DIRECT);
	if (fd < 0 && errno == EINVAL)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return fil_fail(w, at, -errno, "%s: %s", path, strerror(errno));
	return fd;
}

/* The whole aligned length lands in the slot (it has room up to the aligned end), so the
 * tail needs no bounce buffer; the bytes past the end of the file are zeroed afterwards. */
static int direct_file(struct fil_worker *w, struct fil_slot *s, unsigned at)
{
	const char *path = s->paths[at];
	int fd = open_direct(w, at, path);
	if (fd < 0)
		return fd;
	int rc = fil_check_fd(w, s, at, fd);
	if (rc == 0)
		rc = fil_pread_span(w, s, at, fd, s->buf + s->offsets[at], fil_round_up(s->lengths[at], DIRECT_ALIGN),
				    DIRECT_ALIGN);
	if (rc == 0)
		rc = fil_check_fd(w, s, at, fd);
	close(fd);
	if (rc == 0)
		fil_zero_tail(w->ds, s, at);
	return rc;
}

static int direct_read(struct fil_worker *w, struct fil_slot *s, unsigned first, unsigned count)
{
	for (unsigned i = first; i < first + count; i++) {
		int rc = direct_file(w, s, i);
		if (rc < 0)
			return rc;
	}
	return 0;
}

const struct fil_backend_ops fil_posix_direct_ops = {
	.name = "posix-direct",
	.align = DIRECT_ALIGN,
	.buf_alloc = fil_host_buf_alloc,
	.buf_free = fil_host_buf_free,
	.read = direct_read,
};

/* ---- io_uring ---- */

#ifdef FIL_HAVE_URING
struct uring_worker {
	struct io_uring ring;
	bool ring_ok;
	unsigned depth;
	int *fds;
	int *errs;
	char (*msgs)[FIL_MSG_LEN];
};

static int uring_worker_init(struct fil_worker *w)
{
	struct fil_dataset *ds = w->ds;
	struct uring_worker *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	w->be = u;
	u->depth = ds->o.queue_depth;
	u->fds = calloc(ds->o.batch_size, sizeof(*u->fds));
	u->errs = calloc(ds->o.batch_size, sizeof(*u->errs));
	u->msgs = calloc(ds->o.batch_size, sizeof(*u->msgs));
	if (!u->fds || !u->errs || !u->msgs)
		return -ENOMEM;
	int rc = io_uring_queue_init(u->depth, &u->ring, 0);
	if (rc < 0) {
		fil_fail(w, 0, rc, "io_uring_queue_init(%u): %s", u->depth, strerror(-rc));
		aisio_log(AISIO_LOG_ERROR, "fil", "%s", w->msg);
		return rc;
	}
	u->ring_ok = true;
	return 0;
}

static void uring_worker_fini(struct fil_worker *w)
{
	struct uring_worker *u = w->be;
	if (!u)
		return;
	if (u->ring_ok)
		io_uring_queue_exit(&u->ring);
	free(u->fds);
	free(u->errs);
	free(u->msgs);
	free(u);
	w->be = NULL;
}

static int uring_read(struct fil_worker *w, struct fil_slot *s, unsigned first, unsigned count)
{
	struct fil_dataset *ds = w->ds;
	struct uring_worker *u = w->be;
	int rc = 0;
	for (unsigned k = 0; k < count; k++) {
		u->fds[k] = -1;
		u->errs[k] = 0;
	}
	/* open and check every file first: a failure then stops the batch before any I/O */
	for (unsigned k = 0; k < count && rc == 0; k++) {
		u->fds[k] = open_direct(w, first + k, s->paths[first + k]);
		rc = u->fds[k] < 0 ? u->fds[k] : fil_check_fd(w, s, first + k, u->fds[k]);
	}
	/* one read per PIECE of each file's aligned length; user_data: file << 32 | piece */
	unsigned k = 0, inflight = 0;
	uint64_t off = 0;
	bool broken = false;
	while (rc == 0 && (k < count || inflight)) {
		while (k < count && inflight < u->depth) {
			uint64_t aligned = fil_round_up(s->lengths[first + k], DIRECT_ALIGN);
			if (off >= aligned) {
				k++;
				off = 0;
				continue;
			}
			struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
			if (!sqe)
				break;
			unsigned n = aligned - off > PIECE ? PIECE : (unsigned)(aligned - off);
			io_uring_prep_read(sqe, u->fds[k], s->buf + s->offsets[first + k] + off, n, off);
			w->ios++;
			io_uring_sqe_set_data64(sqe, (uint64_t)k << 32 | (off / PIECE));
			inflight++;
			off += n;
		}
		if (!inflight)
			break;
		int r = io_uring_submit(&u->ring);
		if (r < 0 && r != -EINTR && r != -EAGAIN) {
			rc = fil_fail(w, first, r, "%s: io_uring_submit: %s", s->paths[first], strerror(-r));
			broken = true;
			break;
		}
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = {.tv_sec = ds->o.timeout_ms / 1000,
					       .tv_nsec = (long long)(ds->o.timeout_ms % 1000) * 1000000};
		r = io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts);
		if (r == -EINTR)
			continue;
		if (r < 0) {
			rc = fil_fail(w, first, r, "%s: io_uring wait: %s", s->paths[first], strerror(-r));
			broken = true;
			break;
		}
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&u->ring, head, cqe)
		{
			unsigned fk = (unsigned)(cqe->user_data >> 32);
			uint64_t poff = (cqe->user_data & 0xffffffffu) * (uint64_t)PIECE;
			uint64_t len = s->lengths[first + fk];
			uint64_t want = len - poff < PIECE ? len - poff : PIECE;
			const char *path = s->paths[first + fk];
			if (cqe->res < 0 && !u->errs[fk]) {
				u->errs[fk] = cqe->res;
				snprintf(u->msgs[fk], FIL_MSG_LEN, "%s: read at %" PRIu64 ": %s", path, poff,
					 strerror(-cqe->res));
			} else if (cqe->res >= 0 && (uint64_t)cqe->res != want && !u->errs[fk]) {
				u->errs[fk] = -ESTALE;
				snprintf(u->msgs[fk], FIL_MSG_LEN,
					 "%s: read at %" PRIu64 " gave %d bytes of %" PRIu64 " (size changed?)", path,
					 poff, cqe->res, want);
			}
			seen++;
		}
		io_uring_cq_advance(&u->ring, seen);
		inflight -= seen;
	}
	if (broken) {
		/* commands may still be in flight into the slot: a fresh ring cancels and waits for them */
		io_uring_queue_exit(&u->ring);
		u->ring_ok = io_uring_queue_init(u->depth, &u->ring, 0) == 0;
	}
	for (unsigned j = 0; j < count && rc == 0; j++) {
		if (u->errs[j]) {
			rc = u->errs[j];
			w->err_at = first + j;
			snprintf(w->msg, sizeof(w->msg), "%s", u->msgs[j]);
			break;
		}
		rc = fil_check_fd(w, s, first + j, u->fds[j]);
		if (rc == 0)
			fil_zero_tail(ds, s, first + j);
	}
	for (unsigned j = 0; j < count; j++)
		if (u->fds[j] >= 0)
			close(u->fds[j]);
	return rc;
}

#define uring_open NULL
#else
static int uring_open(struct fil_dataset *ds)
{
	aisio_log(AISIO_LOG_ERROR, "fil", "posix-uring: built without liburing (liburing-dev)");
	return -ENOTSUP;
}
#define uring_worker_init NULL
#define uring_worker_fini NULL
#define uring_read NULL
#endif

const struct fil_backend_ops fil_posix_uring_ops = {
	.name = "posix-uring",
	.align = DIRECT_ALIGN,
	.open = uring_open,
	.buf_alloc = fil_host_buf_alloc,
	.buf_free = fil_host_buf_free,
	.worker_init = uring_worker_init,
	.worker_fini = uring_worker_fini,
	.read = uring_read,
};
