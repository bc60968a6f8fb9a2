/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * homid's ublk server: a namespace of a daemon-owned controller served to the kernel as
 * /dev/ublkb<ublk_id>, so a file system stays mounted on it while clients use other queue pairs of
 * the same controller (docs/ARCHITECTURE.md, "ublk").
 *
 * One thread per ublk queue, each owning one NVMe queue pair and one io_uring: it fetches requests
 * from /dev/ublkcN (FETCH_REQ, COMMIT_AND_FETCH_REQ), turns each into one NVMe command on its queue
 * pair and commits the result when the command completes; no locks on that path. Each tag's buffer
 * is DMA memory of the controller: the kernel copies bio pages into it (writes) or out of it (reads),
 * the controller DMAs straight to or from it, the server copies nothing.
 *
 * The main thread does the control commands on /dev/ublk-control (io_uring, SQE128): a device left
 * quiesced by a daemon that died (UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE: the kernel
 * holds and later reissues its requests) is re-attached with START_USER_RECOVERY, queues,
 * END_USER_RECOVERY; otherwise ADD_DEV, SET_PARAMS, queues, START_DEV. Stop: STOP_DEV, queues
 * joined (bounded), DEL_DEV.
 */
#include "homid.h"
#include "homid_ublk_abi.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define UBLK_CONTROL "/dev/ublk-control"
#define UBLK_MAX_IO (256u << 10)      /* per request; the controller's transfer limit may make it less */
#define UBLK_CTRL_TIMEOUT_MS 10000    /* one control command */
#define UBLK_READY_TIMEOUT_MS 10000   /* queue threads to have fetched every tag */
#define UBLK_QUIESCE_TIMEOUT_MS 30000 /* a dead daemon's device to become quiesced (6.1 looks every 5 s) */
#define UBLK_JOIN_TIMEOUT_MS 10000    /* a queue thread to finish */
#define UBLK_IDLE_WAIT_MS 100         /* a queue thread's wait for a request when no NVMe command is out */
#define UBLK_DESC_STRIDE (((UBLK_MAX_QUEUE_DEPTH * sizeof(struct ublksrv_io_desc)) + 4095) & ~(size_t)4095)

struct ublk_tag {
	struct ublk_queue *q;
	uint16_t tag;
	bool fetching; /* a FETCH or COMMIT_AND_FETCH is with the kernel */
	bool nvme_busy;
	int result; /* to commit with the next COMMIT_AND_FETCH */
};

struct ublk_queue {
	struct homid_ublk *u;
	uint16_t id;
	pthread_t thread;
	bool thread_started;
	struct io_uring ring;
	bool ring_ready;
	struct nvmed_qpair *qp;
	const struct ublksrv_io_desc *descs; /* the kernel's request descriptors, read-only */
	size_t descs_len;
	uint8_t *bufs; /* depth * max_io bytes of DMA memory */
	struct ublk_tag *tags;
	unsigned fetching;    /* tags whose command is with the kernel */
	int ready;            /* set by the thread: 1 every tag fetched, < 0 failed */
	int stop;             /* set by the main thread */
	uint64_t ios, errors; /* written by the queue's thread (relaxed), read for STATUS */
};

struct homid_ublk {
	struct homid *hd;
	struct homid_dev *dev;
	struct homid_ublk_abi abi;
	int ctrl_fd;
	struct io_uring ctrl;
	bool ctrl_ready;
	int cdev_fd;
	int id;
	uint32_t nsid, lba_shift, max_io;
	uint64_t nlba;
	unsigned nq, depth;
	bool added;     /* ours to delete */
	bool started;   /* live: stop it */
	bool recovered; /* re-attached to a device a killed daemon left */
	struct ublk_queue *queues;
};

static unsigned ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (unsigned)((t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

size_t homid_ublk_dma_bytes(const struct homid_dev_conf *dc)
{
	if (!dc->ublk_nsid)
		return 0;
	/* per queue: the tags' buffers, and for the queue pair's rings and PRP lists a MiB each */
	size_t per_queue = (size_t)dc->ublk_depth * UBLK_MAX_IO + (2u << 20);
	return dc->ublk_queues * per_queue;
}

/* ---- control commands ---- */

static const char *ctrl_name(unsigned nr)
{
	switch (nr) {
	case UBLK_CMD_GET_DEV_INFO: return "GET_DEV_INFO";
	case UBLK_CMD_ADD_DEV: return "ADD_DEV";
	case UBLK_CMD_DEL_DEV: return "DEL_DEV";
	case UBLK_CMD_START_DEV: return "START_DEV";
	case UBLK_CMD_STOP_DEV: return "STOP_DEV";
	case UBLK_CMD_SET_PARAMS: return "SET_PARAMS";
	case UBLK_CMD_START_USER_RECOVERY: return "START_USER_RECOVERY";
	case UBLK_CMD_END_USER_RECOVERY: return "END_USER_RECOVERY";
	case UBLK_CMD_GET_FEATURES: return "GET_FEATURES";
	default: return "?";
	}
}

/* One control command, its result (cqe res): 0 or -errno; bounded. */
static int ctrl_cmd(struct homid_ublk *u, unsigned nr, uint32_t op, void *buf, uint16_t len, uint64_t data0)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ctrl);
	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 128); /* an SQE128 ring's entry */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = u->ctrl_fd;
	sqe->cmd_op = op;
	struct ublksrv_ctrl_cmd *c = (struct ublksrv_ctrl_cmd *)sqe->cmd;
	c->dev_id = (uint32_t)u->id;
	c->queue_id = (uint16_t)-1;
	c->addr = (uint64_t)(uintptr_t)buf;
	c->len = len;
	c->data[0] = data0;
	int rc = io_uring_submit(&u->ctrl);
	if (rc < 0)
		return rc;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = {.tv_sec = UBLK_CTRL_TIMEOUT_MS / 1000};
	rc = io_uring_wait_cqe_timeout(&u->ctrl, &cqe, &ts);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, u->dev->conf.name, "ublk %d: %s got no answer: %s", u->id, ctrl_name(nr),
			  strerror(-rc));
		return rc == -ETIME ? -ETIMEDOUT : rc;
	}
	rc = cqe->res;
	io_uring_cqe_seen(&u->ctrl, cqe);
	return rc;
}

static int ctrl(struct homid_ublk *u, unsigned nr, void *buf, uint16_t len, uint64_t data0)
{
	return ctrl_cmd(u, nr, homid_ublk_ctrl_op(&u->abi, nr), buf, len, data0);
}

static int ctrl_open(struct homid_ublk *u)
{
	u->ctrl_fd = open(UBLK_CONTROL, O_RDWR | O_CLOEXEC);
	if (u->ctrl_fd < 0) {
		int err = errno;
		aisio_log(AISIO_LOG_ERROR, u->dev->conf.name,
			  "ublk: cannot open %s: %s (is ublk_drv loaded? modprobe ublk_drv)", UBLK_CONTROL,
			  strerror(err));
		return -err;
	}
	int rc = io_uring_queue_init(4, &u->ctrl, IORING_SETUP_SQE128);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, u->dev->conf.name, "ublk: io_uring for control commands: %s", strerror(-rc));
		return rc;
	}
	u->ctrl_ready = true;
	uint64_t features = 0;
	rc = ctrl_cmd(u, UBLK_CMD_GET_FEATURES, homid_ublk_get_features_op(), &features, sizeof(features), 0);
	int chosen = homid_ublk_abi_choose(&u->abi, rc, features);
	if (chosen < 0) {
		aisio_log(AISIO_LOG_ERROR, u->dev->conf.name, "ublk: GET_FEATURES failed: %s", strerror(-chosen));
		return chosen;
	}
	if (rc >= 0 && !(features & UBLK_F_USER_RECOVERY_REISSUE)) {
		aisio_log(AISIO_LOG_ERROR, u->dev->conf.name,
			  "ublk: the kernel offers no user recovery with reissue (features 0x%llx)",
			  (unsigned long long)features);
		return -EOPNOTSUPP;
	}
	aisio_log(AISIO_LOG_INFO, u->dev->conf.name, "ublk: %s (features 0x%llx): %s command numbers",
		  rc >= 0 ? "GET_FEATURES answered" : "no GET_FEATURES", (unsigned long long)features,
		  u->abi.ioctl_encode ? "ioctl-encoded" : "plain");
	return 0;
}

/* ---- the queue threads ---- */

/* One more, by the queue's own thread: a plain store the main thread may read (STATUS) */
static void count(uint64_t *c)
{
	__atomic_store_n(c, *c + 1, __ATOMIC_RELAXED);
}

static void tag_queue_cmd(struct ublk_queue *q, struct ublk_tag *t, unsigned nr)
{
	/* at most one command per tag is out and the ring has a slot per tag: never full */
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
	if (!sqe) {
		io_uring_submit(&q->ring);
		sqe = io_uring_get_sqe(&q->ring);
	}
	if (!sqe)
		return;
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = q->u->cdev_fd;
	sqe->cmd_op = homid_ublk_io_op(&q->u->abi, nr);
	sqe->user_data = t->tag;
	struct ublksrv_io_cmd *c = (struct ublksrv_io_cmd *)sqe->cmd;
	c->q_id = q->id;
	c->tag = t->tag;
	c->result = t->result;
	c->addr = (uint64_t)(uintptr_t)(q->bufs + (size_t)t->tag * q->u->max_io);
	t->fetching = true;
	q->fetching++;
}

static void nvme_done(struct nvmed_qpair *qp, void *arg, int err, const struct nvme_cqe *cqe)
{
	struct ublk_tag *t = arg;
	struct ublk_queue *q = t->q;
	if (!t->nvme_busy)
		return; /* already failed with its queue pair (fail_nvme_busy) */
	t->nvme_busy = false;
	if (err < 0) {
		count(&q->errors);
		const struct ublksrv_io_desc *d = &q->descs[t->tag];
		aisio_log(AISIO_LOG_ERROR, q->u->dev->conf.name,
			  "ublk %d queue %u: op %u at sector %llu (%u sectors) failed: %s%s%s", q->u->id, q->id,
			  ublksrv_get_op(d), (unsigned long long)d->start_sector, d->nr_sectors, strerror(-err),
			  cqe ? ", " : "", cqe ? nvmed_status_str(nvmed_cqe_status(cqe)) : "");
		t->result = err == -ETIMEDOUT || err == -ECANCELED || err == -ENXIO ? -EIO : err;
	}
	tag_queue_cmd(q, t, UBLK_IO_COMMIT_AND_FETCH_REQ);
}

/* Start the NVMe command of the request tag holds; on a failure to start, commit the error. */
static void tag_request(struct ublk_queue *q, struct ublk_tag *t)
{
	struct homid_ublk *u = q->u;
	const struct ublksrv_io_desc *d = &q->descs[t->tag];
	unsigned shift = u->lba_shift - 9;
	uint64_t slba = d->start_sector >> shift;
	uint32_t nlb = d->nr_sectors >> shift;
	void *buf = q->bufs + (size_t)t->tag * u->max_io;
	struct nvme_sqe cmd = {.nsid = u->nsid};
	int rc;
	count(&q->ios);
	t->result = (int)(d->nr_sectors << 9);
	switch (ublksrv_get_op(d)) {
	case UBLK_IO_OP_READ: rc = nvmed_qpair_read(q->qp, u->nsid, slba, nlb, buf, nvme_done, t); break;
	case UBLK_IO_OP_WRITE: rc = nvmed_qpair_write(q->qp, u->nsid, slba, nlb, buf, nvme_done, t); break;
	case UBLK_IO_OP_FLUSH:
		cmd.opc = NVME_CMD_FLUSH;
		t->result = 0;
		rc = nvmed_qpair_submit(q->qp, &cmd, NULL, 0, nvme_done, t);
		break;
	case UBLK_IO_OP_DISCARD: {
		/* one range (max_discard_segments = 1), in the tag's buffer: no data moves for a discard */
		struct nvme_dsm_range *r = buf;
		*r = (struct nvme_dsm_range){.nlb = nlb, .slba = slba};
		cmd.opc = NVME_CMD_DSM;
		cmd.cdw11 = NVME_DSM_ATTR_DEALLOCATE;
		t->result = 0;
		rc = nvmed_qpair_submit(q->qp, &cmd, buf, sizeof(*r), nvme_done, t);
		break;
	}
	case UBLK_IO_OP_WRITE_ZEROES:
		cmd.opc = NVME_CMD_WRITE_ZEROES;
		cmd.cdw10 = (uint32_t)slba;
		cmd.cdw11 = (uint32_t)(slba >> 32);
		cmd.cdw12 = nlb - 1; /* max_write_zeroes_sectors keeps it within 16 bits */
		t->result = 0;
		rc = nvmed_qpair_submit(q->qp, &cmd, NULL, 0, nvme_done, t);
		break;
	default: rc = -EOPNOTSUPP; break;
	}
	if (rc >= 0) {
		t->nvme_busy = true;
		return;
	}
	count(&q->errors);
	aisio_log(AISIO_LOG_ERROR, u->dev->conf.name, "ublk %d queue %u: op %u at sector %llu not started: %s", u->id,
		  q->id, ublksrv_get_op(d), (unsigned long long)d->start_sector, strerror(-rc));
	t->result = rc == -ENXIO ? -EIO : rc;
	tag_queue_cmd(q, t, UBLK_IO_COMMIT_AND_FETCH_REQ);
}

static void ublk_cqe(struct ublk_queue *q, const struct io_uring_cqe *cqe)
{
	if (cqe->user_data >= q->u->depth)
		return;
	struct ublk_tag *t = &q->tags[cqe->user_data];
	t->fetching = false;
	q->fetching--;
	if (cqe->res == UBLK_IO_RES_OK) {
		tag_request(q, t);
		return;
	}
	/* ABORT: the device is going away (stop, or the queue's daemon gone): no new fetch */
	if (cqe->res != UBLK_IO_RES_ABORT)
		aisio_log(AISIO_LOG_ERROR, q->u->dev->conf.name, "ublk %d queue %u tag %u: the kernel answered %s",
			  q->u->id, q->id, t->tag, strerror(-cqe->res));
}

/* Reap what the kernel answered; new requests start their NVMe commands (rung once). */
static unsigned reap_ublk(struct ublk_queue *q)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	io_uring_for_each_cqe(&q->ring, head, cqe)
	{
		ublk_cqe(q, cqe);
		n++;
	}
	io_uring_cq_advance(&q->ring, n);
	if (n)
		nvmed_qpair_ring(q->qp);
	return n;
}

/* The controller failed (reset, gone): every request it held gets an error, never a hang. */
static void fail_nvme_busy(struct ublk_queue *q, int err)
{
	for (unsigned i = 0; i < q->u->depth; i++) {
		struct ublk_tag *t = &q->tags[i];
		if (!t->nvme_busy)
			continue;
		t->nvme_busy = false;
		t->result = -EIO;
		count(&q->errors);
		tag_queue_cmd(q, t, UBLK_IO_COMMIT_AND_FETCH_REQ);
	}
	aisio_log(AISIO_LOG_ERROR, q->u->dev->conf.name, "ublk %d queue %u: the controller failed (%s)", q->u->id,
		  q->id, strerror(-err));
}

static void *queue_thread(void *arg)
{
	struct ublk_queue *q = arg;
	struct homid_ublk *u = q->u;
	char name[16];
	snprintf(name, sizeof(name), "homid-ublk%d:%u", u->id, q->id);
	pthread_setname_np(pthread_self(), name);
	/* The ring is this thread's alone (created here: SINGLE_ISSUER), and the kernel's completions run
	 * as this thread's work only when it asks for events (DEFER_TASKRUN), never as task work that
	 * interrupts it. Kernels before 6.1 lack those flags: a plain ring then. */
	int rc = io_uring_queue_init(u->depth, &q->ring,
				     IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER |
					     IORING_SETUP_DEFER_TASKRUN);
	if (rc == -EINVAL)
		rc = io_uring_queue_init(u->depth, &q->ring, 0);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, u->dev->conf.name, "ublk %d queue %u: io_uring: %s", u->id, q->id,
			  strerror(-rc));
		__atomic_store_n(&q->ready, rc, __ATOMIC_RELEASE);
		return NULL;
	}
	q->ring_ready = true;
	for (unsigned i = 0; i < u->depth; i++)
		tag_queue_cmd(q, &q->tags[i], UBLK_IO_FETCH_REQ);
	rc = io_uring_submit(&q->ring);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, u->dev->conf.name, "ublk %d queue %u: FETCH_REQ: %s", u->id, q->id,
			  strerror(-rc));
		__atomic_store_n(&q->ready, rc, __ATOMIC_RELEASE);
		return NULL;
	}
	__atomic_store_n(&q->ready, 1, __ATOMIC_RELEASE);
	bool failed = false;
	while (!__atomic_load_n(&q->stop, __ATOMIC_ACQUIRE)) {
		if (q->fetching == 0 && nvmed_qpair_inflight(q->qp) == 0)
			break; /* every tag aborted: the device is gone */
		if (nvmed_qpair_inflight(q->qp) && !failed) {
			/* commands out: poll the controller and the kernel in turn */
			int n = nvmed_qpair_poll(q->qp, u->depth);
			if (n < 0) {
				failed = true;
				fail_nvme_busy(q, n);
			}
			/* commits out, and the kernel's answers in (its completions run here) */
			io_uring_submit_and_get_events(&q->ring);
			if (reap_ublk(q) == 0 && n == 0)
				sched_yield();
			continue;
		}
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = {.tv_nsec = UBLK_IDLE_WAIT_MS * 1000000L};
		rc = io_uring_submit_and_wait_timeout(&q->ring, &cqe, 1, &ts, NULL);
		if (rc < 0 && rc != -ETIME && rc != -EINTR) {
			aisio_log(AISIO_LOG_ERROR, u->dev->conf.name, "ublk %d queue %u: io_uring: %s", u->id, q->id,
				  strerror(-rc));
			break;
		}
		reap_ublk(q); /* on a failed queue pair new requests fail at once (-ENXIO) */
	}
	/* what the controller still holds completes or times out here (bounded by the driver) */
	nvmed_qpair_drain(q->qp, UBLK_JOIN_TIMEOUT_MS / 2);
	if (io_uring_sq_ready(&q->ring))
		io_uring_submit(&q->ring);
	return NULL;
}

static int queue_setup(struct homid_ublk *u, struct ublk_queue *q)
{
	struct homid_dev *dev = u->dev;
	const char *name = dev->conf.name;
	q->u = u;
	q->tags = calloc(u->depth, sizeof(*q->tags));
	if (!q->tags)
		return -ENOMEM;
	for (unsigned i = 0; i < u->depth; i++)
		q->tags[i] = (struct ublk_tag){.q = q, .tag = (uint16_t)i};
	q->bufs = nvmed_dma_alloc(dev->ctrl, (size_t)u->depth * u->max_io);
	if (!q->bufs) {
		aisio_log(AISIO_LOG_ERROR, name, "ublk %d queue %u: no DMA memory for %u buffers of %u bytes", u->id,
			  q->id, u->depth, u->max_io);
		return -ENOMEM;
	}
	int rc = nvmed_qpair_create(dev->ctrl, u->depth + 1, &q->qp);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, name, "ublk %d queue %u: no NVMe queue pair: %s", u->id, q->id,
			  strerror(-rc));
		q->qp = NULL;
		return rc;
	}
	q->descs_len = ((size_t)u->depth * sizeof(struct ublksrv_io_desc) + 4095) & ~(size_t)4095;
	void *m = mmap(NULL, q->descs_len, PROT_READ, MAP_SHARED | MAP_POPULATE, u->cdev_fd,
		       UBLKSRV_CMD_BUF_OFFSET + (off_t)q->id * (off_t)UBLK_DESC_STRIDE);
	if (m == MAP_FAILED) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, name, "ublk %d queue %u: cannot map the request descriptors: %s", u->id,
			  q->id, strerror(-rc));
		return rc;
	}
	q->descs = m;
	rc = pthread_create(&q->thread, NULL, queue_thread, q);
	if (rc) {
		aisio_log(AISIO_LOG_ERROR, name, "ublk %d queue %u: no thread: %s", u->id, q->id, strerror(rc));
		return -rc;
	}
	q->thread_started = true;
	return 0;
}

/* Every queue thread has its FETCH_REQs with the kernel (START_DEV and END_USER_RECOVERY wait for that). */
static int queues_ready(struct homid_ublk *u)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < u->nq; i++) {
		int r;
		while ((r = __atomic_load_n(&u->queues[i].ready, __ATOMIC_ACQUIRE)) == 0) {
			if (ms_since(&t0) > UBLK_READY_TIMEOUT_MS)
				return -ETIMEDOUT;
			sleep_ms(1);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static void queues_stop(struct homid_ublk *u)
{
	for (unsigned i = 0; u->queues && i < u->nq; i++)
		__atomic_store_n(&u->queues[i].stop, 1, __ATOMIC_RELEASE);
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += UBLK_JOIN_TIMEOUT_MS / 1000;
	for (unsigned i = 0; u->queues && i < u->nq; i++) {
		struct ublk_queue *q = &u->queues[i];
		if (q->thread_started) {
			int rc = pthread_timedjoin_np(q->thread, NULL, &deadline);
			if (rc) {
				/* it still drives its queue pair: leave its memory to the process's end */
				aisio_log(AISIO_LOG_ERROR, u->dev->conf.name,
					  "ublk %d queue %u: thread did not stop: %s", u->id, q->id, strerror(rc));
				continue;
			}
			q->thread_started = false;
			aisio_log(AISIO_LOG_INFO, u->dev->conf.name, "ublk %d queue %u: %llu requests, %llu failed",
				  u->id, q->id, (unsigned long long)q->ios, (unsigned long long)q->errors);
		}
		if (q->descs)
			munmap((void *)q->descs, q->descs_len);
		if (q->ring_ready)
			io_uring_queue_exit(&q->ring);
		if (q->qp)
			nvmed_qpair_destroy(q->qp);
		if (q->bufs)
			nvmed_dma_free(u->dev->ctrl, q->bufs);
		free(q->tags);
		memset(q, 0, sizeof(*q));
	}
}

/* ---- one device ---- */

static int cdev_open(struct homid_ublk *u)
{
	char path[32];
	snprintf(path, sizeof(path), "/dev/ublkc%d", u->id);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* devtmpfs makes the node shortly after ADD_DEV */
	while ((u->cdev_fd = open(path, O_RDWR | O_CLOEXEC)) < 0 && errno == ENOENT && ms_since(&t0) < 5000)
		sleep_ms(10);
	if (u->cdev_fd < 0) {
		int err = errno;
		aisio_log(AISIO_LOG_ERROR, u->dev->conf.name, "ublk: cannot open %s: %s", path, strerror(err));
		return -err;
	}
	return 0;
}

static void params_fill(const struct homid_ublk *u, struct ublk_params *p)
{
	const struct nvme_id_ctrl *id = nvmed_ctrl_identify_data(u->dev->ctrl);
	unsigned shift = u->lba_shift - 9;
	memset(p, 0, sizeof(*p));
	p->len = sizeof(*p);
	p->types = UBLK_PARAM_TYPE_BASIC;
	p->basic = (struct ublk_param_basic){
		.attrs = (id->vwc & 1) ? UBLK_ATTR_VOLATILE_CACHE : 0,
		.logical_bs_shift = (uint8_t)u->lba_shift,
		.physical_bs_shift = (uint8_t)u->lba_shift,
		.io_min_shift = (uint8_t)u->lba_shift,
		.io_opt_shift = 12,
		.max_sectors = u->max_io >> 9,
		.dev_sectors = u->nlba << shift,
	};
	if (id->oncs & NVME_ONCS_DSM) {
		p->types |= UBLK_PARAM_TYPE_DISCARD;
		p->discard = (struct ublk_param_discard){
			.discard_granularity = 1u << u->lba_shift,
			.max_discard_sectors = (1u << 22), /* 2 GiB: NLB is 32 bits, no need for more */
			.max_discard_segments = 1,
			/* Write Zeroes: NLB is 16 bits */
			.max_write_zeroes_sectors = (id->oncs & NVME_ONCS_WRITE_ZEROES) ? (65536u << shift) : 0,
		};
		if (p->discard.max_write_zeroes_sectors > (1u << 22))
			p->discard.max_write_zeroes_sectors = 1u << 22;
	}
}

static bool pid_alive(int pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/*
 * What the kernel has under our id: -ENODEV (nothing: add one), 0 with *quiesced (a killed daemon's
 * device to recover, once the kernel has quiesced it), or an error (another live server has it).
 */
static int existing_dev(struct homid_ublk *u, struct ublksrv_ctrl_dev_info *info, bool *quiesced)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	*quiesced = false;
	for (;;) {
		int rc = ctrl(u, UBLK_CMD_GET_DEV_INFO, info, sizeof(*info), 0);
		if (rc < 0)
			return rc;
		if (info->state == UBLK_S_DEV_QUIESCED) {
			*quiesced = true;
			return 0;
		}
		if (info->state == UBLK_S_DEV_DEAD)
			return 0; /* added, never started (or stopped): deleted and added again */
		if (pid_alive(info->ublksrv_pid) && info->ublksrv_pid != getpid()) {
			aisio_log(AISIO_LOG_ERROR, u->dev->conf.name, "ublk %d is live, served by pid %d", u->id,
				  info->ublksrv_pid);
			return -EBUSY;
		}
		if (!(info->flags & UBLK_F_USER_RECOVERY)) {
			aisio_log(AISIO_LOG_ERROR, u->dev->conf.name,
				  "ublk %d: its server (pid %d) is gone and it was added without user recovery; "
				  "delete it first",
				  u->id, info->ublksrv_pid);
			return -EBUSY;
		}
		/* its server is gone: the kernel quiesces it soon (6.1 looks every 5 s) */
		if (ms_since(&t0) > UBLK_QUIESCE_TIMEOUT_MS) {
			aisio_log(AISIO_LOG_ERROR, u->dev->conf.name,
				  "ublk %d: its server (pid %d) is gone but the kernel did not quiesce it in %u s",
				  u->id, info->ublksrv_pid, UBLK_QUIESCE_TIMEOUT_MS / 1000);
			return -ETIMEDOUT;
		}
		sleep_ms(100);
	}
}

static int queues_start(struct homid_ublk *u)
{
	u->queues = calloc(u->nq, sizeof(*u->queues));
	if (!u->queues)
		return -ENOMEM;
	for (unsigned i = 0; i < u->nq; i++) {
		u->queues[i].id = (uint16_t)i;
		int rc = queue_setup(u, &u->queues[i]);
		if (rc < 0)
			return rc;
	}
	int rc = queues_ready(u);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, u->dev->conf.name, "ublk %d: queues not ready: %s", u->id, strerror(-rc));
		return rc;
	}
	/* the rings' last references go to the keeper: released only after a killed daemon is all gone */
	for (unsigned i = 0; i < u->nq; i++) {
		int krc = homid_ring_keeper_hold(u->hd, u->queues[i].ring.ring_fd);
		if (krc < 0 && krc != -ENOTCONN)
			aisio_log(AISIO_LOG_WARNING, u->dev->conf.name, "ublk %d queue %u: ring keeper: %s", u->id, i,
				  strerror(-krc));
	}
	return 0;
}

static int recover(struct homid_ublk *u, const struct ublksrv_ctrl_dev_info *info)
{
	const char *name = u->dev->conf.name;
	if (info->nr_hw_queues != u->nq || info->queue_depth != u->depth) {
		aisio_log(AISIO_LOG_ERROR, name,
			  "ublk %d was set up with %u queues of depth %u, the configuration says %u of %u; stop it "
			  "(or configure those) first",
			  u->id, info->nr_hw_queues, info->queue_depth, u->nq, u->depth);
		return -EINVAL;
	}
	if (info->max_io_buf_bytes < u->max_io)
		u->max_io = info->max_io_buf_bytes;
	/* the dead daemon's /dev/ublkcN may still be closing: bounded retries on -EBUSY */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc;
	while ((rc = ctrl(u, UBLK_CMD_START_USER_RECOVERY, NULL, 0, 0)) == -EBUSY &&
	       ms_since(&t0) < UBLK_QUIESCE_TIMEOUT_MS)
		sleep_ms(100);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, name, "ublk %d: START_USER_RECOVERY: %s", u->id, strerror(-rc));
		return rc;
	}
	rc = cdev_open(u);
	if (rc == 0)
		rc = queues_start(u);
	if (rc == 0) {
		rc = ctrl(u, UBLK_CMD_END_USER_RECOVERY, NULL, 0, (uint64_t)getpid());
		if (rc < 0)
			aisio_log(AISIO_LOG_ERROR, name, "ublk %d: END_USER_RECOVERY: %s", u->id, strerror(-rc));
	}
	if (rc < 0)
		return rc;
	u->added = u->started = u->recovered = true;
	return 0;
}

static int add(struct homid_ublk *u)
{
	const char *name = u->dev->conf.name;
	struct ublksrv_ctrl_dev_info info = {
		.nr_hw_queues = (uint16_t)u->nq,
		.queue_depth = (uint16_t)u->depth,
		.max_io_buf_bytes = u->max_io,
		.dev_id = (uint32_t)u->id,
		.ublksrv_pid = getpid(),
		.flags = UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE |
			 (u->abi.ioctl_encode ? UBLK_F_CMD_IOCTL_ENCODE : 0),
	};
	int rc = ctrl(u, UBLK_CMD_ADD_DEV, &info, sizeof(info), 0);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, name, "ublk %d: ADD_DEV: %s", u->id, strerror(-rc));
		return rc;
	}
	u->added = true;
	/* the kernel may have lowered the buffer size */
	if (info.max_io_buf_bytes && info.max_io_buf_bytes < u->max_io)
		u->max_io = info.max_io_buf_bytes & ~((1u << u->lba_shift) - 1);
	struct ublk_params p;
	params_fill(u, &p);
	rc = ctrl(u, UBLK_CMD_SET_PARAMS, &p, sizeof(p), 0);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, name, "ublk %d: SET_PARAMS: %s", u->id, strerror(-rc));
		return rc;
	}
	rc = cdev_open(u);
	if (rc == 0)
		rc = queues_start(u);
	if (rc == 0) {
		rc = ctrl(u, UBLK_CMD_START_DEV, NULL, 0, (uint64_t)getpid());
		if (rc < 0)
			aisio_log(AISIO_LOG_ERROR, name, "ublk %d: START_DEV: %s", u->id, strerror(-rc));
	}
	if (rc < 0)
		return rc;
	u->started = true;
	return 0;
}

/*
 * remove (a clean stop): STOP_DEV (the queue threads serve what the kernel still flushes until it
 * returns), the queues, DEL_DEV: /dev/ublkbN is gone. Otherwise (a failed start, a daemon stopping on
 * an error) a started device is left to the kernel, which holds it quiesced until a later daemon
 * recovers it: only the queues go; one added and never started is deleted. In two parts: the ring
 * keeper lets go of the rings between them.
 */
static void dev_release_queues(struct homid_ublk *u, bool remove)
{
	const char *name = u->dev->conf.name;
	if (remove && u->started) {
		int rc = ctrl(u, UBLK_CMD_STOP_DEV, NULL, 0, 0);
		if (rc < 0)
			aisio_log(AISIO_LOG_ERROR, name, "ublk %d: STOP_DEV: %s", u->id, strerror(-rc));
	}
	queues_stop(u);
	free(u->queues);
	u->queues = NULL;
	if (u->cdev_fd >= 0)
		close(u->cdev_fd); /* before DEL_DEV, which waits for the last reference */
	u->cdev_fd = -1;
}

static void dev_release_dev(struct homid_ublk *u, bool remove)
{
	const char *name = u->dev->conf.name;
	if (u->added && (remove || !u->started)) {
		int rc = ctrl(u, UBLK_CMD_DEL_DEV, NULL, 0, 0);
		if (rc < 0)
			aisio_log(AISIO_LOG_ERROR, name, "ublk %d: DEL_DEV: %s", u->id, strerror(-rc));
		else
			aisio_log(AISIO_LOG_INFO, name, "ublk %d: /dev/ublkb%d removed", u->id, u->id);
	}
	if (u->ctrl_ready)
		io_uring_queue_exit(&u->ctrl);
	if (u->ctrl_fd >= 0)
		close(u->ctrl_fd);
	free(u);
}

static void dev_release(struct homid_ublk *u, bool remove)
{
	dev_release_queues(u, remove);
	dev_release_dev(u, remove);
}

static int dev_start(struct homid *hd, struct homid_dev *d)
{
	const struct homid_dev_conf *c = &d->conf;
	struct nvmed_ns ns;
	if (nvmed_ctrl_ns(d->ctrl, c->ublk_nsid, &ns) < 0) {
		aisio_log(AISIO_LOG_ERROR, c->name, "ublk = %u: no such active namespace", c->ublk_nsid);
		return -ENODEV;
	}
	if (c->ublk_depth + 1 > nvmed_ctrl_max_qdepth(d->ctrl) || c->ublk_queues > nvmed_ctrl_max_qpairs(d->ctrl)) {
		aisio_log(AISIO_LOG_ERROR, c->name,
			  "ublk_queues = %u, ublk_depth = %u: the controller has %u queue pairs of up to %u - 1 "
			  "commands",
			  c->ublk_queues, c->ublk_depth, nvmed_ctrl_max_qpairs(d->ctrl),
			  nvmed_ctrl_max_qdepth(d->ctrl));
		return -EINVAL;
	}
	struct homid_ublk *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	*u = (struct homid_ublk){.hd = hd,
				 .dev = d,
				 .ctrl_fd = -1,
				 .cdev_fd = -1,
				 .id = c->ublk_id,
				 .nsid = c->ublk_nsid,
				 .lba_shift = ns.lba_shift,
				 .nlba = ns.nlba,
				 .nq = c->ublk_queues,
				 .depth = c->ublk_depth};
	uint32_t max_io = nvmed_ctrl_max_xfer(d->ctrl);
	u->max_io = max_io < UBLK_MAX_IO ? max_io : UBLK_MAX_IO;
	int rc = ctrl_open(u);
	struct ublksrv_ctrl_dev_info info;
	bool quiesced = false;
	if (rc == 0) {
		rc = existing_dev(u, &info, &quiesced);
		if (rc == 0 && !quiesced) {
			aisio_log(AISIO_LOG_INFO, c->name, "ublk %d exists, not started: deleting it", u->id);
			rc = ctrl(u, UBLK_CMD_DEL_DEV, NULL, 0, 0);
			rc = rc < 0 ? rc : -ENODEV;
		}
		if (rc == 0)
			rc = recover(u, &info);
		else if (rc == -ENODEV)
			rc = add(u);
	}
	if (rc < 0) {
		dev_release(u, false);
		return rc;
	}
	d->ublk = u;
	aisio_log(AISIO_LOG_INFO, c->name,
		  "ublk %d: namespace %u as /dev/ublkb%d (%s): %u queue(s) of %u, %u-byte I/Os", u->id, u->nsid, u->id,
		  u->recovered ? "re-attached after a restart" : "added", u->nq, u->depth, u->max_io);
	return 0;
}

unsigned homid_ublk_status(struct homid *hd, struct homi_status_ublk *out, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < hd->ndev && n < max; i++) {
		struct homid_ublk *u = hd->devs[i].ublk;
		if (!u)
			continue;
		struct homi_status_ublk *s = &out[n++];
		*s = (struct homi_status_ublk){.dev = i,
					       .ublk_id = u->id,
					       .nsid = u->nsid,
					       .queues = (uint16_t)u->nq,
					       .depth = (uint16_t)u->depth,
					       .recovered = u->recovered,
					       .max_io = u->max_io};
		for (unsigned k = 0; k < u->nq; k++) {
			s->requests += __atomic_load_n(&u->queues[k].ios, __ATOMIC_RELAXED);
			s->errors += __atomic_load_n(&u->queues[k].errors, __ATOMIC_RELAXED);
		}
		struct ublksrv_ctrl_dev_info info;
		if (ctrl(u, UBLK_CMD_GET_DEV_INFO, &info, sizeof(info), 0) == 0)
			s->state = info.state == UBLK_S_DEV_LIVE       ? HOMI_UBLK_LIVE
				   : info.state == UBLK_S_DEV_QUIESCED ? HOMI_UBLK_QUIESCED
								       : HOMI_UBLK_DEAD;
	}
	return n;
}

int homid_ublk_start(struct homid *hd)
{
	for (unsigned i = 0; i < hd->ndev; i++) {
		if (!hd->devs[i].conf.ublk_nsid)
			continue;
		int rc = dev_start(hd, &hd->devs[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void homid_ublk_stop(struct homid *hd, bool remove)
{
	for (unsigned i = 0; i < hd->ndev; i++)
		if (hd->devs[i].ublk)
			dev_release_queues(hd->devs[i].ublk, remove);
	/* a clean stop: STOP_DEV has completed every command, the rings can go now; otherwise the keeper
	 * lets go once this process is gone (the kernel then quiesces the devices for the next daemon) */
	homid_ring_keeper_stop(hd, remove);
	for (unsigned i = 0; i < hd->ndev; i++) {
		if (hd->devs[i].ublk)
			dev_release_dev(hd->devs[i].ublk, remove);
		hd->devs[i].ublk = NULL;
	}
}
