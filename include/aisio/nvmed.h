/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * User-space NVMe driver: controller bring-up, synchronous admin commands,
 * asynchronous I/O queue pairs with a callback per command.
 *
 * Ownership: nvmed_ctrl_open returns a controller the caller closes; queue pairs
 * belong to their controller and must be destroyed before it is closed. DMA
 * buffers come from nvmed_dma_alloc and stay valid until nvmed_dma_free or close.
 *
 * Thread-safety: admin calls, reset and queue creation are serialized by the
 * controller's lock (callers may be on any thread). A queue pair has exactly one
 * owner thread: every nvmed_qpair_* call on it comes from that thread, and the hot
 * path (in this header) takes no lock and uses no atomic read-modify-write.
 *
 * Errors: negative errno. A command's callback gets err 0 on success, -EIO with
 * the NVMe status (SCT << 8 | SC, see nvmed_status_str) when the controller
 * failed it, -ETIMEDOUT when it did not complete within the timeout, -ECANCELED
 * when a controller reset aborted it.
 */
#ifndef AISIO_NVMED_H
#define AISIO_NVMED_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <aisio/dma.h>
#include <aisio/nvme_ring.h>
#include <aisio/nvme_spec.h>
#include <aisio/pci.h>

#define NVMED_PAGE_SHIFT 12
#define NVMED_PAGE_SIZE (1u << NVMED_PAGE_SHIFT)
#define NVMED_MAX_NS 16
#define NVMED_MAX_QPAIRS 1024

struct nvmed_ctrl;
struct nvmed_qpair;
struct nvmed_split;

/*
 * Completion callback, called on the owner thread from nvmed_qpair_poll (or from
 * a reset / destroy). err is 0, -EIO (the controller failed the command: see
 * nvmed_cqe_status), -ETIMEDOUT or -ECANCELED. cqe is the completion entry, valid
 * during the call only, or NULL when no completion came (timeout, cancel).
 */
typedef void (*nvmed_cb)(struct nvmed_qpair *qp, void *arg, int err, const struct nvme_cqe *cqe);

/* NVMe status of a completion (SCT << 8 | SC), 0 for none. */
static inline uint16_t nvmed_cqe_status(const struct nvme_cqe *cqe)
{
	return cqe ? NVME_CQE_STATUS(cqe->status) : 0;
}

struct nvmed_ctrl_opts {
	size_t dma_bytes;          /* DMA memory for queues and buffers; 0 = 64 MiB */
	unsigned io_timeout_ms;    /* per I/O command; 0 = 5000 */
	unsigned admin_timeout_ms; /* 0 = 10000 */
	unsigned nr_io_queues;     /* to ask for with Set Features; 0 = as many as the controller has */
	uint32_t max_xfer;         /* largest transfer in bytes; 0 = min(MDTS, 1 MiB). Sizes the PRP lists */
};

/* A namespace as the driver sees it. */
struct nvmed_ns {
	uint32_t nsid;
	uint32_t lba_shift; /* log2 of the LBA data size */
	uint64_t nlba;      /* size in LBAs */
	uint32_t max_lbas;  /* largest transfer in LBAs (MDTS), after the driver's own limit */
};

/* ---- controller ---- */

/* Open a device string (see pci.h), reset and bring up the controller, identify
 * it and its namespaces. */
int nvmed_ctrl_open(struct nvmed_ctrl **out, const char *devstr, const struct nvmed_ctrl_opts *opts);
/* Delete every queue, disable the controller (CC.EN = 0), bus mastering off, free memory. */
void nvmed_ctrl_close(struct nvmed_ctrl *c);

const char *nvmed_ctrl_name(const struct nvmed_ctrl *c);
struct pci_dev *nvmed_ctrl_pci(struct nvmed_ctrl *c);
const struct nvme_id_ctrl *nvmed_ctrl_identify_data(const struct nvmed_ctrl *c);
uint64_t nvmed_ctrl_cap(const struct nvmed_ctrl *c);
/* Largest transfer in bytes (MDTS, capped by the driver's PRP list room). */
uint32_t nvmed_ctrl_max_xfer(const struct nvmed_ctrl *c);
/* I/O queue pairs granted by Number of Queues. */
unsigned nvmed_ctrl_max_qpairs(const struct nvmed_ctrl *c);
/* Highest queue depth an I/O queue may have: the largest power of two up to MQES + 1 (rings are powers of two). */
unsigned nvmed_ctrl_max_qdepth(const struct nvmed_ctrl *c);
/* Number of active namespaces and their descriptions. */
int nvmed_ctrl_ns(const struct nvmed_ctrl *c, uint32_t nsid, struct nvmed_ns *out);
unsigned nvmed_ctrl_ns_count(const struct nvmed_ctrl *c);
/* True when the controller reports fatal status (CSTS.CFS) or is not ready. */
bool nvmed_ctrl_failed(const struct nvmed_ctrl *c);

/*
 * Reset after fatal status or a hang: disable, re-enable, restore the admin queue
 * and every I/O queue pair (same memory and depth). Outstanding commands on every
 * queue pair complete with -ECANCELED, their callbacks called from this thread, so
 * the owners of the queue pairs must not poll them while the reset runs.
 */
int nvmed_ctrl_reset(struct nvmed_ctrl *c);

/*
 * A second DMA region data buffers may lie in besides the controller's own memory: device
 * memory as a dma-buf (dma_mem_from_dmabuf), mapped for the function by its backend (vfio:
 * MAP_DMA of its CPU mapping; uio: imported through aisio-dmabuf). One per controller, before
 * or after queue pairs are made; the caller keeps m until nvmed_ctrl_close, which unmaps it
 * once bus mastering is off. The PRPs of buffers in it come from the same builder, with the
 * PRP lists in the controller's memory.
 */
int nvmed_ctrl_map_data_mem(struct nvmed_ctrl *c, struct dma_mem *m);

/* ---- DMA memory of the controller ---- */
void *nvmed_dma_alloc(struct nvmed_ctrl *c, size_t len);
void nvmed_dma_free(struct nvmed_ctrl *c, void *va);
uint64_t nvmed_dma_iova(const struct nvmed_ctrl *c, const void *va);

/* ---- synchronous admin commands ---- */

/* Run one admin command; buf (may be NULL) is copied through a DMA bounce buffer
 * in the direction the opcode implies. dw0 (may be NULL) receives CQE dword 0.
 * Returns 0, -EIO with *status set, -ETIMEDOUT, or another -errno. */
int nvmed_admin(struct nvmed_ctrl *c, struct nvme_sqe *cmd, void *buf, size_t len, bool to_dev, uint32_t *dw0,
		uint16_t *status);
int nvmed_identify(struct nvmed_ctrl *c, uint8_t cns, uint32_t nsid, void *buf4k);
int nvmed_get_log_page(struct nvmed_ctrl *c, uint8_t lid, uint32_t nsid, void *buf, size_t len);
int nvmed_get_features(struct nvmed_ctrl *c, uint8_t fid, uint32_t cdw11, uint32_t *dw0);
int nvmed_set_features(struct nvmed_ctrl *c, uint8_t fid, uint32_t cdw11, uint32_t *dw0);
/* Raw queue commands, for queues whose memory lives elsewhere (GPU, daemon clients). */
int nvmed_admin_create_cq(struct nvmed_ctrl *c, uint16_t qid, uint32_t depth, uint64_t iova);
int nvmed_admin_create_sq(struct nvmed_ctrl *c, uint16_t qid, uint32_t depth, uint64_t iova, uint16_t cqid);
int nvmed_admin_delete_sq(struct nvmed_ctrl *c, uint16_t qid);
int nvmed_admin_delete_cq(struct nvmed_ctrl *c, uint16_t qid);
/* Reserve / release an I/O queue id without creating a queue pair. */
int nvmed_qid_alloc(struct nvmed_ctrl *c);
void nvmed_qid_free(struct nvmed_ctrl *c, uint16_t qid);

/* Human-readable NVMe status ("LBA Out of Range", ...). */
const char *nvmed_status_str(uint16_t status);

/* ---- I/O queue pairs ---- */

/* Create a queue pair for depth - 1 commands in flight (depth 2..nvmed_ctrl_max_qdepth); its rings have depth
 * rounded up to a power of two entries (aisio/nvme_ring.h says why). */
int nvmed_qpair_create(struct nvmed_ctrl *c, unsigned depth, struct nvmed_qpair **out);
/* Delete SQ then CQ; outstanding commands complete with -ECANCELED. */
int nvmed_qpair_destroy(struct nvmed_qpair *qp);

/*
 * A queue pair whose queues someone else created (the homid daemon, for a client): the rings and
 * PRP list room lie in the caller's DMA memory, the doorbells wherever the caller mapped them.
 * The driver drives it with the same hot path and owns no controller for it.
 */
struct nvmed_qpair_desc {
	const char *name; /* device, for messages; must outlive the queue pair */
	uint16_t qid;
	unsigned depth;   /* command ids + 1 (2..entries) */
	uint32_t entries; /* ring entries, a power of two */
	struct nvme_sqe *sq;
	struct nvme_cqe *cq; /* zeroed by attach */
	volatile uint32_t *sq_db, *cq_db;
	const volatile uint32_t *csts; /* may be NULL */
	struct nvme_dma_map dma;       /* the memory buffers and PRP lists lie in */
	uint8_t *prp_lists;            /* depth * nvme_prp_list_bytes(max_xfer) bytes in dma; NULL when that is 0 */
	uint32_t max_xfer;
	unsigned timeout_ms; /* 0 = 5000 */
	uint32_t nsid;       /* the one namespace this queue pair reads and writes */
	uint32_t lba_shift;
	uint32_t max_lbas;
	int (*health)(void *ctx); /* may be NULL */
	void *health_ctx;
};
int nvmed_qpair_attach(const struct nvmed_qpair_desc *d, struct nvmed_qpair **out);
/* Complete what is in flight with -ECANCELED and free the host side; the caller has had the queues
 * deleted (or the device is gone) before, and frees the rings after. */
void nvmed_qpair_detach(struct nvmed_qpair *qp);

/* Per-command bookkeeping, indexed by command id. The callback pointer doubles as
 * the state: NULL when the cid is free, NVMED_CB_TIMED_OUT while a timed-out
 * command's cid waits for its late completion, the caller's callback while busy;
 * so completion tests and clears one word it loads anyway. */
struct nvmed_req {
	nvmed_cb cb;
	void *arg;
	uint32_t tick; /* qp->tick at submission: for the timeout */
};

#define NVMED_CB_TIMED_OUT ((nvmed_cb)(uintptr_t)1)
/* Pass as the callback of a command whose completion needs no call: it is only
 * counted (qp->completed; failures in qp->errors, qp->timeouts, qp->cancelled).
 * Saves the indirect call per I/O for streams that check counters, not each I/O. */
#define NVMED_CB_COUNT ((nvmed_cb)(uintptr_t)2)
/* A cid is busy when its callback is a real function pointer or NVMED_CB_COUNT. */
#define NVMED_REQ_BUSY(r) ((uintptr_t)(r)->cb > (uintptr_t)NVMED_CB_TIMED_OUT)
/* A callback that is to be called (not a state marker). */
#define NVMED_CB_CALLS(cb) ((uintptr_t)(cb) > (uintptr_t)NVMED_CB_COUNT)

/* Hot fields first: the submit and poll paths touch the first two cache lines. Ring positions are
 * free-running counters (aisio/nvme_ring.h): slot = counter & ring_mask, the CQ phase from the counter's lap. */
struct nvmed_qpair {
	struct nvme_sqe *sq;
	volatile struct nvme_cqe *cq;
	volatile uint32_t *sq_db;
	volatile uint32_t *cq_db;
	struct nvmed_req *reqs;
	uint16_t *free_cids;
	uint32_t sq_tail;
	uint32_t sq_tail_rung; /* tail counter last written to the doorbell */
	uint32_t cq_head;
	uint32_t ring_mask; /* ring entries - 1: entries a power of two, at least depth */
	uint16_t nfree;
	uint16_t depth; /* command ids + 1: at most depth - 1 commands in flight */
	uint16_t qid;
	uint16_t poll_countdown;             /* polls until the next timeout / fatal-status check */
	uint16_t ntimedout;                  /* cids held by timed-out commands until their late completion */
	uint32_t tick;                       /* coarse clock (ms) of the last check */
	uint8_t lba_shift[NVMED_MAX_NS + 1]; /* per nsid; 0 = not active */
	uint32_t max_nlb[NVMED_MAX_NS + 1];  /* per nsid: LBAs per command (transfer limit); 0 = not active */
	struct nvme_dma_map dma;             /* DMA translation of the controller's memory, copied for locality */
	uint32_t max_xfer;
	/* software controller served by our own poll (inline emu), else NULL */
	void (*sw_poll)(void *ctx, uint16_t sqid);
	void *sw_poll_ctx;
	/* cold */
	uint8_t *prp_lists; /* PRP lists: prp_list_bytes per cid */
	uint32_t prp_list_bytes;
	struct nvme_dma_map data_dma; /* a second region buffers may lie in (device memory); len 0: none */
	uint32_t timeout_ms;
	int failed;                    /* -ENXIO once the controller is found dead */
	void *user;                    /* for the owner: per-queue context */
	struct nvmed_ctrl *ctrl;       /* NULL for an attached queue pair (nvmed_qpair_attach) */
	const char *name;              /* device, for messages */
	const volatile uint32_t *csts; /* CSTS, checked for fatal status; NULL when not mapped */
	/* attached queue pairs: asked in the slow path whether the queues still exist (a negative errno
	 * fails the queue pair with it), e.g. whether the daemon that granted them is alive */
	int (*health)(void *ctx);
	void *health_ctx;
	/* Counters of the caller's I/Os: an I/O split into several commands counts once. */
	uint64_t completed;
	uint64_t errors;
	uint64_t timeouts;
	uint64_t cancelled; /* commands failed with -ECANCELED by a reset or destroy */
	/* I/Os over the transfer limit in flight as several commands (nvmed_qpair_rw_split) */
	struct nvmed_split *splits;
	uint16_t *free_splits;
	uint16_t nfree_splits;
	uint16_t nsplits;
};

#define NVMED_POLL_CHECK_INTERVAL 4096

/* Slow path of poll: clock tick, timeouts, controller status. */
int nvmed_qpair_check(struct nvmed_qpair *qp);
/* Slow path of nvmed_qpair_rw: checks what the fast path's one test rejected and
 * splits an I/O over the transfer limit into commands of at most the limit. */
__attribute__((cold)) int nvmed_qpair_rw_split(struct nvmed_qpair *qp, uint8_t opc, uint32_t nsid, uint64_t slba,
					       uint32_t nlb, void *buf, nvmed_cb cb, void *arg);
/* Slow path of nvmed_qpair_set_prps: the PRP list (in the cid's own list area) of a transfer over two pages. */
int nvmed_qpair_prp_list(struct nvmed_qpair *qp, uint16_t cid, struct nvme_sqe *sqe, const uint8_t *buf, uint32_t len);
/* Slow path of nvmed_qpair_set_prps for a buffer outside the controller's memory: in the data
 * region (nvmed_ctrl_map_data_mem), else -EINVAL. */
__attribute__((cold)) int nvmed_qpair_set_prps_data(struct nvmed_qpair *qp, uint16_t cid, struct nvme_sqe *sqe,
						    const uint8_t *buf, uint32_t len);

/* Check that buf/len (len <= max_xfer, so dma.len - len cannot wrap) lies in DMA
 * memory and set the data pointer of sqe (PRP1, PRP2 or a PRP list). */
static inline int nvmed_qpair_set_prps(struct nvmed_qpair *qp, uint16_t cid, struct nvme_sqe *sqe, void *buf,
				       uint32_t len)
{
	size_t off = (size_t)((uint8_t *)buf - qp->dma.va);
	if (__builtin_expect(off > qp->dma.len - len, 0))
		return nvmed_qpair_set_prps_data(qp, cid, sqe, (const uint8_t *)buf, len);
	if (nvme_prp_pair(&qp->dma, buf, len, NVMED_PAGE_SHIFT, &sqe->prp1, &sqe->prp2))
		return nvmed_qpair_prp_list(qp, cid, sqe, buf, len);
	return 0;
}

/* Record the callback of cid and advance the SQ tail (not yet rung). */
static inline int nvmed_qpair_commit(struct nvmed_qpair *qp, uint16_t cid, nvmed_cb cb, void *arg)
{
	struct nvmed_req *r = &qp->reqs[cid];
	r->cb = cb;
	r->arg = arg;
	r->tick = qp->tick;
	qp->sq_tail++;
	return cid;
}

/*
 * Queue a command whose opcode, nsid and cdw10.. are set in *cmd; the driver sets
 * cid and the data pointer (PRPs) for buf/len (buf may be NULL when len is 0). Not
 * visible to the controller until nvmed_qpair_ring. Returns the cid, -EAGAIN when
 * depth - 1 commands are in flight, -EINVAL for a buffer outside DMA memory or
 * over the transfer limit, -ENXIO once the controller has failed.
 */
static inline int nvmed_qpair_submit(struct nvmed_qpair *qp, const struct nvme_sqe *cmd, void *buf, uint32_t len,
				     nvmed_cb cb, void *arg)
{
	/* A failed queue pair has nfree forced to 0, so this one test covers both. */
	if (__builtin_expect(qp->nfree == 0, 0))
		return qp->failed ? qp->failed : -EAGAIN;
	uint16_t cid = qp->free_cids[qp->nfree - 1];
	struct nvme_sqe *sqe = &qp->sq[nvme_ring_slot(qp->sq_tail, qp->ring_mask + 1)];
	*sqe = *cmd;
	sqe->cid = cid;
	if (len) {
		if (__builtin_expect(len > qp->max_xfer, 0))
			return -EINVAL;
		int rc = nvmed_qpair_set_prps(qp, cid, sqe, buf, len);
		if (rc < 0)
			return rc;
	}
	qp->nfree--;
	return nvmed_qpair_commit(qp, cid, cb, arg);
}

/*
 * Read or write nlb blocks at slba of nsid, into or from buf (DMA memory). The
 * SQE is written in place, field by field: the hot path of every benchmark.
 *
 * An I/O over the transfer limit (MDTS, struct nvmed_ns.max_lbas) goes out as
 * several commands of at most the limit, with one callback for the caller when the
 * last one is done, carrying the first failure (err and CQE) or the last CQE. It
 * needs that many free command ids at once: -EAGAIN when fewer are free, -EINVAL
 * when the queue pair could never hold them (more than depth - 1). Returns the cid
 * of the (first) command.
 */
static inline int nvmed_qpair_rw(struct nvmed_qpair *qp, uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb,
				 void *buf, nvmed_cb cb, void *arg)
{
	/* one test covers nlb 0, nlb over the transfer limit and an inactive nsid */
	if (__builtin_expect(nsid > NVMED_MAX_NS || nlb - 1u >= qp->max_nlb[nsid], 0))
		return nvmed_qpair_rw_split(qp, opc, nsid, slba, nlb, buf, cb, arg);
	if (__builtin_expect(qp->nfree == 0, 0))
		return qp->failed ? qp->failed : -EAGAIN;
	uint16_t cid = qp->free_cids[qp->nfree - 1];
	struct nvme_sqe *sqe = &qp->sq[nvme_ring_slot(qp->sq_tail, qp->ring_mask + 1)];
	int rc = nvmed_qpair_set_prps(qp, cid, sqe, buf, nlb << qp->lba_shift[nsid]);
	if (__builtin_expect(rc < 0, 0))
		return rc;
	nvme_sqe_rw(sqe, opc, cid, nsid, slba, nlb);
	qp->nfree--;
	return nvmed_qpair_commit(qp, cid, cb, arg);
}

static inline int nvmed_qpair_read(struct nvmed_qpair *qp, uint32_t nsid, uint64_t slba, uint32_t nlb, void *buf,
				   nvmed_cb cb, void *arg)
{
	return nvmed_qpair_rw(qp, NVME_CMD_READ, nsid, slba, nlb, buf, cb, arg);
}

static inline int nvmed_qpair_write(struct nvmed_qpair *qp, uint32_t nsid, uint64_t slba, uint32_t nlb, void *buf,
				    nvmed_cb cb, void *arg)
{
	return nvmed_qpair_rw(qp, NVME_CMD_WRITE, nsid, slba, nlb, buf, cb, arg);
}

/* Make every queued command visible to the controller: one doorbell write. */
static inline void nvmed_qpair_ring(struct nvmed_qpair *qp)
{
	if (qp->sq_tail != qp->sq_tail_rung) {
		/* The SQEs must be globally visible before the controller sees the tail. */
		__atomic_thread_fence(__ATOMIC_RELEASE);
		*qp->sq_db = nvme_ring_slot(qp->sq_tail, qp->ring_mask + 1);
		qp->sq_tail_rung = qp->sq_tail;
	}
}

/*
 * Reap up to max completions, calling each command's callback (which may submit
 * again). One CQ head doorbell write per reaped batch. Returns the number reaped,
 * or -ENXIO when the controller has failed (see nvmed_ctrl_reset).
 */
static inline int nvmed_qpair_poll(struct nvmed_qpair *qp, unsigned max)
{
	if (qp->sw_poll)
		qp->sw_poll(qp->sw_poll_ctx, qp->qid);
	if (__builtin_expect(--qp->poll_countdown == 0, 0)) {
		int rc = nvmed_qpair_check(qp);
		if (rc < 0)
			return rc;
	}
	unsigned n = 0;
	/* From the head counter: its slot, stepped here (a compare and a rarely taken branch per entry, where
	 * the slot of every counter would cost an AND and a branch-free phase flip more), and the phase a
	 * valid entry has, where it sits in dword 3. */
	uint32_t slot = nvme_ring_slot(qp->cq_head, qp->ring_mask + 1);
	uint32_t phase = nvme_ring_phase(qp->cq_head, qp->ring_mask + 1) ? NVME_CQE_DW3_PHASE : 0;
	while (n < max) {
		const struct nvme_cqe *e = (const struct nvme_cqe *)&qp->cq[slot];
		/* Read the dword holding cid and status (with the phase bit) first, and
		 * only then the rest of the entry: acquire orders the later loads. */
		uint32_t dw3 = __atomic_load_n((const uint32_t *)&e->cid, __ATOMIC_ACQUIRE);
		if ((dw3 & NVME_CQE_DW3_PHASE) != phase)
			break;
		uint16_t cid = nvme_cqe_dw3_cid(dw3);
		if (slot++ == qp->ring_mask) {
			slot = 0; /* a new lap */
			phase ^= NVME_CQE_DW3_PHASE;
		}
		n++;
		struct nvmed_req *r = &qp->reqs[cid];
		nvmed_cb cb = r->cb;
		if (__builtin_expect(cid >= qp->depth || !NVMED_REQ_BUSY(r), 0)) {
			/* A late completion of a timed-out command frees its cid; anything
			 * else is a controller bug we skip. */
			if (cid < qp->depth && cb == NVMED_CB_TIMED_OUT) {
				r->cb = NULL;
				qp->free_cids[qp->nfree++] = cid;
				qp->ntimedout--;
			}
			continue;
		}
		r->cb = NULL;
		qp->free_cids[qp->nfree++] = cid;
		int err = 0;
		if (__builtin_expect(nvme_cqe_dw3_status(dw3) != 0, 0)) {
			err = -EIO;
			qp->errors++;
		}
		if (cb != NVMED_CB_COUNT)
			cb(qp, r->arg, err, e);
	}
	if (n) {
		qp->cq_head += n;
		qp->completed += n;
		*qp->cq_db = slot;
	}
	return (int)n;
}

/* Commands in flight on this queue pair whose callback has not run yet (a split
 * I/O counts each of its commands). */
static inline unsigned nvmed_qpair_inflight(const struct nvmed_qpair *qp)
{
	if (qp->failed)
		return 0;
	return (unsigned)(qp->depth - 1u - qp->nfree - qp->ntimedout);
}

/* Poll until nothing is in flight or timeout_ms passes. Returns 0, -ETIMEDOUT or -ENXIO. */
int nvmed_qpair_drain(struct nvmed_qpair *qp, unsigned timeout_ms);

#endif /* AISIO_NVMED_H */
