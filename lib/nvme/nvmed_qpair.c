/* SPDX-License-Identifier: BSD-3-Clause */
/* Queue pairs: memory, creation and deletion, the slow path of polling, PRP lists. */
#include "nvmed_internal.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <aisio/log.h>

uint32_t nvmed_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* Reset indices and the cid free list: the queue memory is as new. */
void nvmed_qpair_reinit(struct nvmed_qpair *qp)
{
	memset((void *)qp->cq, 0, ((size_t)qp->ring_mask + 1) * sizeof(struct nvme_cqe));
	qp->sq_tail = qp->sq_tail_rung = qp->cq_head = 0;
	qp->nfree = 0;
	qp->ntimedout = 0;
	/* hand out low cids first: they are the ones whose PRP pages are warm */
	for (int cid = qp->depth - 2; cid >= 0; cid--) {
		qp->reqs[cid].cb = NULL;
		qp->free_cids[qp->nfree++] = (uint16_t)cid;
	}
	qp->nfree_splits = 0;
	for (int i = qp->nsplits - 1; i >= 0; i--)
		qp->free_splits[qp->nfree_splits++] = (uint16_t)i;
	qp->poll_countdown = NVMED_POLL_CHECK_INTERVAL;
	qp->tick = nvmed_now_ms();
	qp->failed = 0;
}

int nvmed_qpair_alloc(struct nvmed_ctrl *c, uint16_t qid, unsigned depth, struct nvmed_qpair **out)
{
	struct nvmed_qpair *qp = aligned_alloc(64, (sizeof(*qp) + 63) & ~(size_t)63);
	if (!qp)
		return -ENOMEM;
	memset(qp, 0, sizeof(*qp));
	qp->ctrl = c;
	qp->qid = qid;
	qp->depth = (uint16_t)depth;
	const uint32_t entries = nvme_ring_entries(depth);
	qp->ring_mask = entries - 1;
	qp->sq_db = (volatile uint32_t *)(c->pci->bar0 + NVME_SQ_TAIL_DB(qid, c->dstrd));
	qp->cq_db = (volatile uint32_t *)(c->pci->bar0 + NVME_CQ_HEAD_DB(qid, c->dstrd));
	qp->timeout_ms = qid ? c->io_timeout_ms : c->admin_timeout_ms;
	qp->name = c->pci->name;
	qp->csts = (const volatile uint32_t *)(c->pci->bar0 + NVME_REG_CSTS);
	qp->max_xfer = c->max_xfer;
	qp->dma.va = c->mem.va;
	qp->dma.len = c->mem.len;
	qp->dma.iova_base = c->mem.iova_base;
	qp->dma.iova_pages = c->mem.iova_pages;
	qp->dma.page_shift = c->mem.page_shift;
	if (c->data_mem)
		nvmed_data_dma(c, &qp->data_dma);
	for (unsigned i = 1; i <= NVMED_MAX_NS; i++) {
		qp->lba_shift[i] = (uint8_t)c->ns[i].lba_shift;
		qp->max_nlb[i] = c->ns[i].max_lbas;
	}
	if (qid) {
		qp->sw_poll = c->pci->sw_poll;
		qp->sw_poll_ctx = c->pci->sw_poll_ctx;
	}
	qp->reqs = calloc(depth, sizeof(*qp->reqs));
	qp->free_cids = calloc(depth, sizeof(*qp->free_cids));
	/* a split I/O holds at least two of the depth - 1 command ids */
	qp->nsplits = qid ? (uint16_t)((depth - 1) / 2) : 0;
	qp->splits = calloc(qp->nsplits + 1u, sizeof(*qp->splits));
	qp->free_splits = calloc(qp->nsplits + 1u, sizeof(*qp->free_splits));
	qp->sq = dma_heap_alloc(&c->heap, (size_t)entries * sizeof(struct nvme_sqe), NVMED_PAGE_SIZE);
	qp->cq = dma_heap_alloc(&c->heap, (size_t)entries * sizeof(struct nvme_cqe), NVMED_PAGE_SIZE);
	/* list areas at multiples of their size, from a page-aligned start: none crosses a page it need not */
	qp->prp_list_bytes = nvme_prp_list_bytes(c->max_xfer, NVMED_PAGE_SHIFT);
	if (qp->prp_list_bytes)
		qp->prp_lists = dma_heap_alloc(&c->heap, (size_t)depth * qp->prp_list_bytes, NVMED_PAGE_SIZE);
	if (!qp->reqs || !qp->free_cids || !qp->splits || !qp->free_splits || !qp->sq || !qp->cq ||
	    (qp->prp_list_bytes && !qp->prp_lists)) {
		aisio_log(AISIO_LOG_ERROR, c->pci->name,
			  "no DMA memory for a queue pair of depth %u (raise the DMA pool size)", depth);
		nvmed_qpair_release(qp);
		return -ENOMEM;
	}
	nvmed_qpair_reinit(qp);
	*out = qp;
	return 0;
}

void nvmed_qpair_release(struct nvmed_qpair *qp)
{
	struct nvmed_ctrl *c = qp->ctrl;
	dma_heap_free(&c->heap, qp->sq);
	dma_heap_free(&c->heap, (void *)qp->cq);
	dma_heap_free(&c->heap, qp->prp_lists);
	free(qp->reqs);
	free(qp->free_cids);
	free(qp->splits);
	free(qp->free_splits);
	free(qp);
}

/* Complete every command in flight with err; the cids are reusable afterwards
 * only once the queue is re-created (reset) or deleted. */
void nvmed_qpair_cancel_all(struct nvmed_qpair *qp, int err)
{
	for (unsigned cid = 0; cid + 1 < qp->depth; cid++) {
		struct nvmed_req *r = &qp->reqs[cid];
		nvmed_cb cb = r->cb;
		r->cb = NULL;
		if ((uintptr_t)cb > (uintptr_t)NVMED_CB_TIMED_OUT)
			qp->cancelled++;
		if (NVMED_CB_CALLS(cb))
			cb(qp, r->arg, err, NULL);
	}
}

static int nvmed_qpair_fail(struct nvmed_qpair *qp, uint32_t csts)
{
	if (!qp->failed)
		aisio_log(AISIO_LOG_ERROR, qp->name,
			  "controller %s (CSTS 0x%x); queue %u stopped, reset the controller",
			  csts == 0xffffffffu ? "is gone" : "reports fatal status", csts, qp->qid);
	qp->failed = -ENXIO;
	qp->nfree = 0; /* makes submit fail fast; reinit rebuilds the free list */
	return -ENXIO;
}

int nvmed_qpair_check(struct nvmed_qpair *qp)
{
	qp->poll_countdown = NVMED_POLL_CHECK_INTERVAL;
	if (qp->failed)
		return qp->failed;
	uint32_t now = nvmed_now_ms();
	uint32_t csts = qp->csts ? *qp->csts : 0;
	if (csts == 0xffffffffu || (csts & NVME_CSTS_CFS))
		return nvmed_qpair_fail(qp, csts);
	if (qp->health) {
		int rc = qp->health(qp->health_ctx);
		if (rc < 0) {
			if (!qp->failed)
				aisio_log(AISIO_LOG_ERROR, qp->name, "queue %u is gone (%s); stopped", qp->qid,
					  strerror(-rc));
			qp->failed = rc;
			qp->nfree = 0;
			return rc;
		}
	}
	if (now == qp->tick)
		return 0;
	qp->tick = now;
	/* Commands older than the timeout complete with -ETIMEDOUT; their cid stays
	 * reserved until a late completion or a reset, so it is never reused early. */
	for (unsigned cid = 0; cid + 1 < qp->depth; cid++) {
		struct nvmed_req *r = &qp->reqs[cid];
		if (NVMED_REQ_BUSY(r) && now - r->tick > qp->timeout_ms) {
			nvmed_cb cb = r->cb;
			r->cb = NVMED_CB_TIMED_OUT;
			qp->timeouts++;
			qp->ntimedout++;
			aisio_log(AISIO_LOG_ERROR, qp->name, "queue %u command %u timed out after %u ms", qp->qid, cid,
				  now - r->tick);
			if (NVMED_CB_CALLS(cb))
				cb(qp, r->arg, -ETIMEDOUT, NULL);
		}
	}
	return 0;
}

int nvmed_qpair_prp_list(struct nvmed_qpair *qp, uint16_t cid, struct nvme_sqe *sqe, const uint8_t *buf, uint32_t len)
{
	uint64_t *list = (uint64_t *)(qp->prp_lists + (size_t)cid * qp->prp_list_bytes);
	int n = nvme_prp_list(&qp->dma, buf, len, NVMED_PAGE_SHIFT, list, &qp->dma, qp->prp_list_bytes, &sqe->prp2);
	return n < 0 ? -EINVAL : 0;
}

int nvmed_qpair_set_prps_data(struct nvmed_qpair *qp, uint16_t cid, struct nvme_sqe *sqe, const uint8_t *buf,
			      uint32_t len)
{
	const struct nvme_dma_map *m = &qp->data_dma;
	size_t off = (size_t)(buf - m->va);
	if (m->len < len || off > m->len - len)
		return -EINVAL;
	if (!nvme_prp_pair(m, buf, len, NVMED_PAGE_SHIFT, &sqe->prp1, &sqe->prp2))
		return 0;
	uint64_t *list = (uint64_t *)(qp->prp_lists + (size_t)cid * qp->prp_list_bytes);
	int n = nvme_prp_list(m, buf, len, NVMED_PAGE_SHIFT, list, &qp->dma, qp->prp_list_bytes, &sqe->prp2);
	return n < 0 ? -EINVAL : 0;
}

/* A command of a split I/O finished; the last one completes the caller's I/O. */
static void nvmed_split_done(struct nvmed_qpair *qp, void *arg, int err, const struct nvme_cqe *cqe)
{
	struct nvmed_split *s = arg;
	s->n_cqe += cqe != NULL;
	s->n_err += err == -EIO;
	s->n_timeout += err == -ETIMEDOUT;
	s->n_cancel += err == -ECANCELED;
	if (err && !s->err) {
		s->err = err;
		s->have_cqe = cqe != NULL;
		if (cqe)
			s->cqe = *cqe;
	} else if (!s->err && cqe) {
		s->cqe = *cqe;
		s->have_cqe = true;
	}
	if (--s->left)
		return;
	/* the counters count the caller's I/O once, by its first failure */
	qp->completed -= s->n_cqe;
	qp->errors -= s->n_err;
	qp->timeouts -= s->n_timeout;
	qp->cancelled -= s->n_cancel;
	qp->completed += s->err == 0 || s->err == -EIO;
	qp->errors += s->err == -EIO;
	qp->timeouts += s->err == -ETIMEDOUT;
	qp->cancelled += s->err == -ECANCELED;
	/* copy out first: the callback may submit again and take this record */
	nvmed_cb cb = s->cb;
	void *cb_arg = s->arg;
	int cb_err = s->err;
	struct nvme_cqe last = s->cqe;
	bool have_cqe = s->have_cqe;
	qp->free_splits[qp->nfree_splits++] = (uint16_t)(s - qp->splits);
	if (NVMED_CB_CALLS(cb))
		cb(qp, cb_arg, cb_err, have_cqe ? &last : NULL);
}

int nvmed_qpair_rw_split(struct nvmed_qpair *qp, uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb, void *buf,
			 nvmed_cb cb, void *arg)
{
	if (nsid == 0 || nsid > NVMED_MAX_NS || qp->max_nlb[nsid] == 0 || nlb == 0)
		return -EINVAL;
	uint32_t per_cmd = qp->max_nlb[nsid];
	uint64_t ncmds = ((uint64_t)nlb + per_cmd - 1) / per_cmd;
	if (ncmds > qp->depth - 1u || qp->nsplits == 0)
		return -EINVAL; /* this queue pair can never hold that many commands at once */
	/* check the whole buffer before queueing any command, so nothing is half sent */
	unsigned shift = qp->lba_shift[nsid];
	const struct nvme_dma_map *m = &qp->dma;
	if ((size_t)((uint8_t *)buf - m->va) > m->len)
		m = &qp->data_dma; /* not in the controller's memory: the data region, if any */
	size_t off = (size_t)((uint8_t *)buf - m->va);
	if (off > m->len || ((uint64_t)nlb << shift) > m->len - off)
		return -EINVAL;
	if (qp->nfree < ncmds || qp->nfree_splits == 0)
		return qp->failed ? qp->failed : -EAGAIN;
	struct nvmed_split *s = &qp->splits[qp->free_splits[--qp->nfree_splits]];
	*s = (struct nvmed_split){.cb = cb, .arg = arg, .left = (uint16_t)ncmds};
	int first_cid = -EINVAL;
	for (uint32_t done = 0; done < nlb;) {
		uint32_t n = nlb - done < per_cmd ? nlb - done : per_cmd;
		/* within the limit and checked above: the fast path takes it */
		int cid = nvmed_qpair_rw(qp, opc, nsid, slba + done, n, (uint8_t *)buf + ((size_t)done << shift),
					 nvmed_split_done, s);
		if (done == 0)
			first_cid = cid;
		done += n;
	}
	return first_cid;
}

int nvmed_qpair_drain(struct nvmed_qpair *qp, unsigned timeout_ms)
{
	uint32_t start = nvmed_now_ms();
	nvmed_qpair_ring(qp);
	if (qp->failed)
		return qp->failed;
	while (nvmed_qpair_inflight(qp)) {
		int rc = nvmed_qpair_poll(qp, qp->depth);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			if (nvmed_now_ms() - start > timeout_ms)
				return -ETIMEDOUT;
			/* make sure the timeout scan runs even when polls are rare */
			if (qp->poll_countdown > 64)
				qp->poll_countdown = 64;
			sched_yield();
		}
	}
	return 0;
}

int nvmed_qpair_create(struct nvmed_ctrl *c, unsigned depth, struct nvmed_qpair **out)
{
	if (depth < 2 || depth > nvmed_ctrl_max_qdepth(c)) {
		aisio_log(AISIO_LOG_ERROR, c->pci->name,
			  "queue depth %u not possible: the controller takes 2..%u entries (MQES)", depth,
			  nvmed_ctrl_max_qdepth(c));
		return -EINVAL;
	}
	int qid = nvmed_qid_alloc(c);
	if (qid < 0) {
		aisio_log(AISIO_LOG_ERROR, c->pci->name, "no I/O queue left: the controller granted %u queue pairs",
			  c->max_qpairs);
		return qid;
	}
	pthread_mutex_lock(&c->lock);
	struct nvmed_qpair *qp;
	int rc = nvmed_qpair_alloc(c, (uint16_t)qid, depth, &qp);
	pthread_mutex_unlock(&c->lock);
	if (rc < 0)
		goto fail_qid;
	rc = nvmed_admin_create_cq(c, (uint16_t)qid, qp->ring_mask + 1, dma_mem_iova(&c->mem, (void *)qp->cq));
	if (rc < 0)
		goto fail_mem;
	rc = nvmed_admin_create_sq(c, (uint16_t)qid, qp->ring_mask + 1, dma_mem_iova(&c->mem, qp->sq), (uint16_t)qid);
	if (rc < 0)
		goto fail_cq;
	pthread_mutex_lock(&c->lock);
	c->qpairs[qid] = qp;
	pthread_mutex_unlock(&c->lock);
	*out = qp;
	return 0;
fail_cq:
	nvmed_admin_delete_cq(c, (uint16_t)qid);
fail_mem:
	pthread_mutex_lock(&c->lock);
	nvmed_qpair_release(qp);
	pthread_mutex_unlock(&c->lock);
fail_qid:
	nvmed_qid_free(c, (uint16_t)qid);
	return rc;
}

int nvmed_qpair_destroy(struct nvmed_qpair *qp)
{
	if (!qp)
		return 0;
	struct nvmed_ctrl *c = qp->ctrl;
	uint16_t qid = qp->qid;
	int rc = 0;
	if (!nvmed_ctrl_failed(c)) {
		/* SQ before CQ: a CQ cannot go while an SQ still posts to it. */
		rc = nvmed_admin_delete_sq(c, qid);
		int rc2 = nvmed_admin_delete_cq(c, qid);
		if (!rc)
			rc = rc2;
	}
	nvmed_qpair_cancel_all(qp, -ECANCELED);
	pthread_mutex_lock(&c->lock);
	c->qpairs[qid] = NULL;
	nvmed_qpair_release(qp);
	pthread_mutex_unlock(&c->lock);
	nvmed_qid_free(c, qid);
	return rc;
}

int nvmed_qpair_attach(const struct nvmed_qpair_desc *d, struct nvmed_qpair **out)
{
	if (d->entries < 2 || (d->entries & (d->entries - 1)) || d->depth < 2 || d->depth > d->entries ||
	    d->depth > 65535 || d->nsid == 0 || d->nsid > NVMED_MAX_NS || !d->sq || !d->cq || !d->sq_db || !d->cq_db ||
	    !d->max_xfer || (nvme_prp_list_bytes(d->max_xfer, NVMED_PAGE_SHIFT) && !d->prp_lists))
		return -EINVAL;
	struct nvmed_qpair *qp = aligned_alloc(64, (sizeof(*qp) + 63) & ~(size_t)63);
	if (!qp)
		return -ENOMEM;
	memset(qp, 0, sizeof(*qp));
	qp->qid = d->qid;
	qp->depth = (uint16_t)d->depth;
	qp->ring_mask = d->entries - 1;
	qp->sq = d->sq;
	qp->cq = d->cq;
	qp->sq_db = d->sq_db;
	qp->cq_db = d->cq_db;
	qp->csts = d->csts;
	qp->name = d->name;
	qp->health = d->health;
	qp->health_ctx = d->health_ctx;
	qp->timeout_ms = d->timeout_ms ? d->timeout_ms : 5000;
	qp->max_xfer = d->max_xfer;
	qp->dma = d->dma;
	qp->lba_shift[d->nsid] = (uint8_t)d->lba_shift;
	qp->max_nlb[d->nsid] = d->max_lbas;
	qp->prp_lists = d->prp_lists;
	qp->prp_list_bytes = nvme_prp_list_bytes(d->max_xfer, NVMED_PAGE_SHIFT);
	qp->reqs = calloc(d->depth, sizeof(*qp->reqs));
	qp->free_cids = calloc(d->depth, sizeof(*qp->free_cids));
	qp->nsplits = (uint16_t)((d->depth - 1) / 2);
	qp->splits = calloc(qp->nsplits + 1u, sizeof(*qp->splits));
	qp->free_splits = calloc(qp->nsplits + 1u, sizeof(*qp->free_splits));
	if (!qp->reqs || !qp->free_cids || !qp->splits || !qp->free_splits) {
		nvmed_qpair_detach(qp);
		return -ENOMEM;
	}
	nvmed_qpair_reinit(qp);
	*out = qp;
	return 0;
}

void nvmed_qpair_detach(struct nvmed_qpair *qp)
{
	if (!qp)
		return;
	if (qp->reqs)
		nvmed_qpair_cancel_all(qp, -ECANCELED);
	free(qp->reqs);
	free(qp->free_cids);
	free(qp->splits);
	free(qp->free_splits);
	free(qp);
}
