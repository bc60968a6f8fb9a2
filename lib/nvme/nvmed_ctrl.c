/* SPDX-License-Identifier: BSD-3-Clause */
/* Controller bring-up, admin commands, reset and recovery, shutdown. */
#include "nvmed_internal.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <aisio/log.h>

#define NVMED_DEFAULT_DMA_BYTES (64u << 20)
#define NVMED_DEFAULT_MAX_XFER (1u << 20)
#define NVMED_ADMIN_BOUNCE 16384u

static void nvmed_sleep_us(unsigned us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

static uint32_t csts_read(struct nvmed_ctrl *c)
{
	return pci_mmio_read32(c->pci, NVME_REG_CSTS);
}

/* Wait for CSTS.RDY to equal rdy, bounded by CAP.TO. */
static int nvmed_wait_ready(struct nvmed_ctrl *c, int rdy)
{
	uint32_t start = nvmed_now_ms();
	for (;;) {
		uint32_t csts = csts_read(c);
		if (csts == 0xffffffffu) {
			aisio_log(AISIO_LOG_ERROR, c->pci->name,
				  "controller does not answer (registers read all ones)");
			return -ENODEV;
		}
		if (!!(csts & NVME_CSTS_RDY) == rdy)
			return 0;
		if (rdy && (csts & NVME_CSTS_CFS)) {
			aisio_log(AISIO_LOG_ERROR, c->pci->name, "controller fatal status while enabling");
			return -EIO;
		}
		if (nvmed_now_ms() - start > c->ready_timeout_ms) {
			aisio_log(AISIO_LOG_ERROR, c->pci->name, "CSTS.RDY did not become %d within CAP.TO (%u ms)",
				  rdy, c->ready_timeout_ms);
			return -ETIMEDOUT;
		}
		nvmed_sleep_us(100);
	}
}

static int nvmed_disable(struct nvmed_ctrl *c)
{
	uint32_t cc = pci_mmio_read32(c->pci, NVME_REG_CC);
	if (cc & NVME_CC_EN)
		pci_mmio_write32(c->pci, NVME_REG_CC, cc & ~NVME_CC_EN);
	/* On CFS with EN already 0 the controller still needs EN=0 acknowledged: wait for RDY=0 either way. */
	return nvmed_wait_ready(c, 0);
}

static int nvmed_enable(struct nvmed_ctrl *c)
{
	struct nvmed_qpair *aq = c->admin;
	nvmed_qpair_reinit(aq);
	pci_mmio_write32(c->pci, NVME_REG_AQA, NVME_AQA(aq->ring_mask, aq->ring_mask));
	pci_mmio_write64(c->pci, NVME_REG_ASQ, dma_mem_iova(&c->mem, aq->sq));
	pci_mmio_write64(c->pci, NVME_REG_ACQ, dma_mem_iova(&c->mem, (void *)aq->cq));
	uint32_t cc = NVME_CC_EN | (0u << NVME_CC_CSS_SHIFT) | (0u << NVME_CC_MPS_SHIFT) |
		      (6u << NVME_CC_IOSQES_SHIFT) | (4u << NVME_CC_IOCQES_SHIFT);
	pci_mmio_write32(c->pci, NVME_REG_CC, cc);
	return nvmed_wait_ready(c, 1);
}

/* ---- admin ---- */

struct nvmed_sync {
	int done;
	int err;
	uint16_t status;
	uint32_t dw0;
};

static void nvmed_sync_cb(struct nvmed_qpair *qp, void *arg, int err, const struct nvme_cqe *cqe)
{
	struct nvmed_sync *s = arg;
	s->err = err;
	s->status = nvmed_cqe_status(cqe);
	s->dw0 = cqe ? cqe->dw0 : 0;
	s->done = 1;
}

/* Submit on the admin queue and wait; caller holds c->lock. */
static int nvmed_admin_locked(struct nvmed_ctrl *c, struct nvme_sqe *cmd, void *dma_buf, uint32_t len, uint32_t *dw0,
			      uint16_t *status)
{
	struct nvmed_qpair *aq = c->admin;
	struct nvmed_sync s = {0};
	int rc = nvmed_qpair_submit(aq, cmd, dma_buf, len, nvmed_sync_cb, &s);
	if (rc < 0)
		return rc;
	nvmed_qpair_ring(aq);
	/* Bounded twice over: the queue's own timeout, and a hard stop just past it. */
	uint32_t start = nvmed_now_ms();
	unsigned spins = 0;
	while (!s.done) {
		rc = nvmed_qpair_poll(aq, 1);
		if (rc < 0)
			return rc;
		if (rc == 0 && ++spins > 64) {
			aq->poll_countdown = 1; /* run the timeout check on the next poll */
			nvmed_sleep_us(20);
			if (nvmed_now_ms() - start > c->admin_timeout_ms + 1000u)
				return -ETIMEDOUT;
		}
	}
	if (status)
		*status = s.status;
	if (dw0)
		*dw0 = s.dw0;
	return s.err;
}

int nvmed_admin(struct nvmed_ctrl *c, struct nvme_sqe *cmd, void *buf, size_t len, bool to_dev, uint32_t *dw0,
		uint16_t *status)
{
	if (len > NVMED_ADMIN_BOUNCE)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	if (buf && len && to_dev)
		memcpy(c->admin_bounce, buf, len);
	else if (len)
		memset(c->admin_bounce, 0, len);
	int rc = nvmed_admin_locked(c, cmd, len ? c->admin_bounce : NULL, (uint32_t)len, dw0, status);
	if (rc == 0 && buf && len && !to_dev)
		memcpy(buf, c->admin_bounce, len);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int nvmed_identify(struct nvmed_ctrl *c, uint8_t cns, uint32_t nsid, void *buf4k)
{
	struct nvme_sqe cmd = {.opc = NVME_ADMIN_IDENTIFY, .nsid = nsid, .cdw10 = cns};
	uint16_t st = 0;
	int rc = nvmed_admin(c, &cmd, buf4k, 4096, false, NULL, &st);
	if (rc == -EIO)
		aisio_log(AISIO_LOG_ERROR, c->pci->name, "identify cns %u nsid %u failed: %s", cns, nsid,
			  nvmed_status_str(st));
	return rc;
}

int nvmed_get_log_page(struct nvmed_ctrl *c, uint8_t lid, uint32_t nsid, void *buf, size_t len)
{
	if (len == 0 || len % 4 || len > NVMED_ADMIN_BOUNCE)
		return -EINVAL;
	uint32_t numd = (uint32_t)(len / 4 - 1);
	struct nvme_sqe cmd = {.opc = NVME_ADMIN_GET_LOG_PAGE,
			       .nsid = nsid,
			       .cdw10 = lid | ((numd & 0xfff) << 16),
			       .cdw11 = numd >> 16};
	uint16_t st = 0;
	int rc = nvmed_admin(c, &cmd, buf, len, false, NULL, &st);
	if (rc == -EIO)
		aisio_log(AISIO_LOG_ERROR, c->pci->name, "get log page 0x%x failed: %s", lid, nvmed_status_str(st));
	return rc;
}

int nvmed_get_features(struct nvmed_ctrl *c, uint8_t fid, uint32_t cdw11, uint32_t *dw0)
{
	struct nvme_sqe cmd = {.opc = NVME_ADMIN_GET_FEATURES, .cdw10 = fid, .cdw11 = cdw11};
	return nvmed_admin(c, &cmd, NULL, 0, false, dw0, NULL);
}

int nvmed_set_features(struct nvmed_ctrl *c, uint8_t fid, uint32_t cdw11, uint32_t *dw0)
{
	struct nvme_sqe cmd = {.opc = NVME_ADMIN_SET_FEATURES, .cdw10 = fid, .cdw11 = cdw11};
	return nvmed_admin(c, &cmd, NULL, 0, false, dw0, NULL);
}

static int nvmed_queue_cmd(struct nvmed_ctrl *c, struct nvme_sqe *cmd, const char *what, uint16_t qid)
{
	uint16_t st = 0;
	int rc = nvmed_admin(c, cmd, NULL, 0, false, NULL, &st);
	if (rc == -EIO)
		aisio_log(AISIO_LOG_ERROR, c->pci->name, "%s %u failed: %s", what, qid, nvmed_status_str(st));
	else if (rc < 0)
		aisio_log(AISIO_LOG_ERROR, c->pci->name, "%s %u failed: %s", what, qid, strerror(-rc));
	return rc;
}

int nvmed_admin_create_cq(struct nvmed_ctrl *c, uint16_t qid, uint32_t depth, uint64_t iova)
{
	struct nvme_sqe cmd = {.opc = NVME_ADMIN_CREATE_CQ,
			       .prp1 = iova,
			       .cdw10 = qid | ((depth - 1) << 16),
			       .cdw11 = NVME_QUEUE_PHYS_CONTIG};
	return nvmed_queue_cmd(c, &cmd, "create I/O CQ", qid);
}

int nvmed_admin_create_sq(struct nvmed_ctrl *c, uint16_t qid, uint32_t depth, uint64_t iova, uint16_t cqid)
{
	struct nvme_sqe cmd = {.opc = NVME_ADMIN_CREATE_SQ,
			       .prp1 = iova,
			       .cdw10 = qid | ((depth - 1) << 16),
			       .cdw11 = NVME_QUEUE_PHYS_CONTIG | ((uint32_t)cqid << 16)};
	return nvmed_queue_cmd(c, &cmd, "create I/O SQ", qid);
}

int nvmed_admin_delete_sq(struct nvmed_ctrl *c, uint16_t qid)
{
	struct nvme_sqe cmd = {.opc = NVME_ADMIN_DELETE_SQ, .cdw10 = qid};
	return nvmed_queue_cmd(c, &cmd, "delete I/O SQ", qid);
}

int nvmed_admin_delete_cq(struct nvmed_ctrl *c, uint16_t qid)
{
	struct nvme_sqe cmd = {.opc = NVME_ADMIN_DELETE_CQ, .cdw10 = qid};
	return nvmed_queue_cmd(c, &cmd, "delete I/O CQ", qid);
}

int nvmed_qid_alloc(struct nvmed_ctrl *c)
{
	pthread_mutex_lock(&c->lock);
	int qid = -ENOSPC;
	for (unsigned q = 1; q <= c->max_qpairs && q <= NVMED_MAX_QPAIRS; q++) {
		if (!c->qid_used[q]) {
			c->qid_used[q] = 1;
			qid = (int)q;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return qid;
}

void nvmed_qid_free(struct nvmed_ctrl *c, uint16_t qid)
{
	pthread_mutex_lock(&c->lock);
	if (qid <= NVMED_MAX_QPAIRS)
		c->qid_used[qid] = 0;
	pthread_mutex_unlock(&c->lock);
}

/* ---- bring-up ---- */

static int nvmed_check_cap(struct nvmed_ctrl *c)
{
	uint64_t cap = c->cap;
	const char *why = NULL;
	if (cap == ~0ull)
		why = "registers read all ones (device gone or BAR not mapped)";
	else if (NVME_CAP_MQES(cap) < 1)
		why = "CAP.MQES is 0";
	else if (!(NVME_CAP_CSS(cap) & NVME_CAP_CSS_NVM))
		why = "the NVM command set is not supported (CAP.CSS)";
	else if (NVME_CAP_MPSMIN(cap) > 0)
		why = "4 KiB pages are not supported (CAP.MPSMIN > 0)";
	else if (NVME_CAP_MPSMAX(cap) < NVME_CAP_MPSMIN(cap))
		why = "CAP.MPSMAX < CAP.MPSMIN";
	else if (NVME_CAP_TO(cap) == 0)
		why = "CAP.TO is 0";
	else if (NVME_REG_DBS + 2u * (4u << NVME_CAP_DSTRD(cap)) > c->pci->bar0_len)
		why = "BAR0 too small for the doorbells";
	if (why) {
		aisio_log(AISIO_LOG_ERROR, c->pci->name, "unusable controller: %s (CAP 0x%016llx)", why,
			  (unsigned long long)cap);
		return -ENODEV;
	}
	c->mqes = NVME_CAP_MQES(cap);
	c->dstrd = NVME_CAP_DSTRD(cap);
	c->ready_timeout_ms = NVME_CAP_TO(cap) * 500u;
	return 0;
}

static int nvmed_identify_all(struct nvmed_ctrl *c)
{
	int rc = nvmed_identify(c, NVME_ID_CNS_CTRL, 0, &c->idc);
	if (rc < 0)
		return rc;
	uint64_t mdts = c->idc.mdts ? (uint64_t)NVMED_PAGE_SIZE << c->idc.mdts : UINT32_MAX;
	if (c->max_xfer == 0)
		c->max_xfer = NVMED_DEFAULT_MAX_XFER;
	if (mdts < c->max_xfer)
		c->max_xfer = (uint32_t)mdts;

	uint32_t *list = malloc(4096);
	struct nvme_id_ns *idns = malloc(sizeof(*idns));
	if (!list || !idns) {
		free(list);
		free(idns);
		return -ENOMEM;
	}
	rc = nvmed_identify(c, NVME_ID_CNS_NS_ACTIVE_LIST, 0, list);
	for (unsigned i = 0; rc == 0 && i < 1024 && list[i]; i++) {
		uint32_t nsid = list[i];
		if (nsid > NVMED_MAX_NS)
			continue; /* beyond what the driver tracks */
		rc = nvmed_identify(c, NVME_ID_CNS_NS, nsid, idns);
		if (rc < 0)
			break;
		unsigned fmt = NVME_NS_FLBAS_INDEX(idns->flbas);
		unsigned shift = idns->lbaf[fmt].ds;
		if (shift < 9 || shift > 16 || idns->nsze == 0)
			continue; /* inactive or unusable format */
		struct nvmed_ns *ns = &c->ns[nsid];
		ns->nsid = nsid;
		ns->lba_shift = shift;
		ns->nlba = idns->nsze;
		ns->max_lbas = c->max_xfer >> shift;
		if (ns->max_lbas > 65536)
			ns->max_lbas = 65536; /* NLB is a 16-bit field */
		c->nr_ns++;
	}
	free(list);
	free(idns);
	return rc;
}

static int nvmed_set_queue_count(struct nvmed_ctrl *c)
{
	unsigned want = c->nr_io_queues_wanted ? c->nr_io_queues_wanted : NVMED_MAX_QPAIRS;
	uint32_t dw0 = 0;
	int rc = nvmed_set_features(c, NVME_FEAT_NUM_QUEUES, (want - 1) | ((want - 1) << 16), &dw0);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, c->pci->name, "Set Features (Number of Queues) failed");
		return rc;
	}
	unsigned nsq = (dw0 & 0xffff) + 1, ncq = (dw0 >> 16) + 1;
	c->max_qpairs = nsq < ncq ? nsq : ncq;
	if (c->max_qpairs > want)
		c->max_qpairs = want;
	return 0;
}

/* Disable, enable with a fresh admin queue, Number of Queues. Caller holds no lock. */
static int nvmed_bring_up(struct nvmed_ctrl *c)
{
	int rc = nvmed_disable(c);
	if (rc < 0)
		return rc;
	rc = nvmed_enable(c);
	if (rc < 0)
		return rc;
	return nvmed_set_queue_count(c);
}

int nvmed_ctrl_open(struct nvmed_ctrl **out, const char *devstr, const struct nvmed_ctrl_opts *opts)
{
	struct nvmed_ctrl_opts o = {0};
	if (opts)
		o = *opts;
	struct nvmed_ctrl *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->mem.fd = -1;
	c->io_timeout_ms = o.io_timeout_ms ? o.io_timeout_ms : 5000;
	c->admin_timeout_ms = o.admin_timeout_ms ? o.admin_timeout_ms : 10000;
	c->nr_io_queues_wanted = o.nr_io_queues;
	c->max_xfer = o.max_xfer;
	if (c->max_xfer && c->max_xfer < NVMED_PAGE_SIZE)
		c->max_xfer = NVMED_PAGE_SIZE;

	int rc = pci_dev_open(&c->pci, devstr);
	if (rc < 0)
		goto fail;
	c->cap = pci_mmio_read64(c->pci, NVME_REG_CAP);
	rc = nvmed_check_cap(c);
	if (rc < 0)
		goto fail_pci;

	rc = dma_mem_alloc(&c->mem, o.dma_bytes ? o.dma_bytes : NVMED_DEFAULT_DMA_BYTES, c->pci->ops->dma_kind);
	if (rc < 0)
		goto fail_pci;
	rc = pci_dev_dma_map(c->pci, &c->mem);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, devstr, "mapping DMA memory for the device failed: %s", strerror(-rc));
		goto fail_mem;
	}
	c->mem_mapped = 1;
	rc = dma_heap_init(&c->heap, &c->mem);
	if (rc < 0)
		goto fail_mem;
	c->admin_bounce = dma_heap_alloc(&c->heap, NVMED_ADMIN_BOUNCE, NVMED_PAGE_SIZE);
	/* the admin queue never moves data beyond the bounce buffer: no PRP lists */
	uint32_t max_xfer = c->max_xfer;
	c->max_xfer = NVMED_ADMIN_BOUNCE;
	rc = nvmed_qpair_alloc(c, 0, NVMED_ADMIN_DEPTH, &c->admin);
	c->max_xfer = max_xfer;
	if (rc < 0 || !c->admin_bounce) {
		rc = -ENOMEM;
		goto fail_heap;
	}
	c->admin->timeout_ms = c->admin_timeout_ms;
	c->admin->max_xfer = NVMED_ADMIN_BOUNCE;

	rc = pci_dev_bus_master(c->pci, true);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, devstr, "cannot enable bus mastering: %s", strerror(-rc));
		goto fail_admin;
	}
	/* A process that died without closing leaves its controller enabled, and the
	 * bring-up resets it: say so, since that process's queues are gone with it. */
	uint32_t cc = pci_mmio_read32(c->pci, NVME_REG_CC);
	if (cc != 0xffffffffu && (cc & NVME_CC_EN))
		aisio_log(AISIO_LOG_WARNING, c->pci->name,
			  "the controller was left enabled (CSTS 0x%x; by a process that did not close "
			  "it, or the driver it was bound to before); resetting it",
			  csts_read(c));
	rc = nvmed_bring_up(c);
	if (rc < 0)
		goto fail_enabled;
	rc = nvmed_identify_all(c);
	if (rc < 0)
		goto fail_enabled;
	*out = c;
	return 0;

fail_enabled:
	nvmed_disable(c);
	pci_dev_bus_master(c->pci, false);
fail_admin:
	nvmed_qpair_release(c->admin);
fail_heap:
	dma_heap_term(&c->heap);
fail_mem:
	if (c->mem_mapped)
		pci_dev_dma_unmap(c->pci, &c->mem);
	dma_mem_free(&c->mem);
fail_pci:
	pci_dev_close(c->pci);
fail:
	pthread_mutex_destroy(&c->lock);
	free(c);
	return rc;
}

void nvmed_ctrl_close(struct nvmed_ctrl *c)
{
	if (!c)
		return;
	for (unsigned q = 1; q <= NVMED_MAX_QPAIRS; q++)
		if (c->qpairs[q])
			nvmed_qpair_destroy(c->qpairs[q]);
	/* Normal shutdown notification, bounded; then disable. */
	uint32_t cc = pci_mmio_read32(c->pci, NVME_REG_CC);
	if ((cc & NVME_CC_EN) && !nvmed_ctrl_failed(c)) {
		pci_mmio_write32(c->pci, NVME_REG_CC, (cc & ~NVME_CC_SHN_MASK) | NVME_CC_SHN_NORMAL);
		uint32_t start = nvmed_now_ms();
		while ((csts_read(c) & NVME_CSTS_SHST_MASK) != NVME_CSTS_SHST_CMPLT &&
		       nvmed_now_ms() - start < c->ready_timeout_ms)
			nvmed_sleep_us(100);
	}
	nvmed_disable(c);
	/* No DMA after this point: bus mastering off before any memory is returned. */
	pci_dev_bus_master(c->pci, false);
	nvmed_qpair_release(c->admin);
	dma_heap_term(&c->heap);
	if (c->data_mem)
		pci_dev_dma_unmap(c->pci, c->data_mem);
	pci_dev_dma_unmap(c->pci, &c->mem);
	dma_mem_free(&c->mem);
	pci_dev_close(c->pci);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int nvmed_ctrl_reset(struct nvmed_ctrl *c)
{
	int rc = nvmed_bring_up(c);
	if (rc < 0)
		return rc;
	/* Outstanding commands are lost with the old queues: fail them, then
	 * re-create every queue pair in place. */
	for (unsigned q = 1; q <= NVMED_MAX_QPAIRS; q++) {
		struct nvmed_qpair *qp = c->qpairs[q];
		if (!qp)
			continue;
		nvmed_qpair_cancel_all(qp, -ECANCELED);
		nvmed_qpair_reinit(qp);
		if (q > c->max_qpairs) {
			aisio_log(AISIO_LOG_ERROR, c->pci->name,
				  "queue %u lost: the controller now grants %u queue pairs", q, c->max_qpairs);
			qp->failed = -ENXIO;
			qp->nfree = 0;
			rc = -ENXIO;
			continue;
		}
		int r = nvmed_admin_create_cq(c, (uint16_t)q, qp->ring_mask + 1, dma_mem_iova(&c->mem, (void *)qp->cq));
		if (r == 0)
			r = nvmed_admin_create_sq(c, (uint16_t)q, qp->ring_mask + 1, dma_mem_iova(&c->mem, qp->sq),
						  (uint16_t)q);
		if (r < 0) {
			qp->failed = -ENXIO;
			qp->nfree = 0;
			rc = r;
		}
	}
	return rc;
}

bool nvmed_ctrl_failed(const struct nvmed_ctrl *c)
{
	uint32_t csts = pci_mmio_read32(c->pci, NVME_REG_CSTS);
	return csts == 0xffffffffu || (csts & NVME_CSTS_CFS) || !(csts & NVME_CSTS_RDY);
}

const char *nvmed_ctrl_name(const struct nvmed_ctrl *c)
{
	return c->pci->name;
}
struct pci_dev *nvmed_ctrl_pci(struct nvmed_ctrl *c)
{
	return c->pci;
}
const struct nvme_id_ctrl *nvmed_ctrl_identify_data(const struct nvmed_ctrl *c)
{
	return &c->idc;
}
uint64_t nvmed_ctrl_cap(const struct nvmed_ctrl *c)
{
	return c->cap;
}
uint32_t nvmed_ctrl_max_xfer(const struct nvmed_ctrl *c)
{
	return c->max_xfer;
}
unsigned nvmed_ctrl_max_qpairs(const struct nvmed_ctrl *c)
{
	return c->max_qpairs;
}
unsigned nvmed_ctrl_max_qdepth(const struct nvmed_ctrl *c)
{
	/* the largest power of two up to MQES + 1: a deeper queue's ring would not fit the controller */
	unsigned d = 1;
	while (2 * d <= c->mqes + 1u)
		d *= 2;
	return d;
}
unsigned nvmed_ctrl_ns_count(const struct nvmed_ctrl *c)
{
	return c->nr_ns;
}

int nvmed_ctrl_ns(const struct nvmed_ctrl *c, uint32_t nsid, struct nvmed_ns *out)
{
	if (nsid == 0 || nsid > NVMED_MAX_NS || c->ns[nsid].lba_shift == 0)
		return -ENOENT;
	*out = c->ns[nsid];
	return 0;
}

void nvmed_data_dma(const struct nvmed_ctrl *c, struct nvme_dma_map *out)
{
	const struct dma_mem *m = c->data_mem;
	*out = (struct nvme_dma_map){.va = m->va,
				     .len = m->len,
				     .iova_base = m->iova_base,
				     .iova_pages = m->iova_pages,
				     .page_shift = m->page_shift};
}

int nvmed_ctrl_map_data_mem(struct nvmed_ctrl *c, struct dma_mem *m)
{
	if (c->data_mem)
		return -EBUSY;
	int rc = pci_dev_dma_map(c->pci, m);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&c->lock);
	c->data_mem = m;
	for (unsigned q = 1; q <= NVMED_MAX_QPAIRS; q++)
		if (c->qpairs[q])
			nvmed_data_dma(c, &c->qpairs[q]->data_dma);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void *nvmed_dma_alloc(struct nvmed_ctrl *c, size_t len)
{
	pthread_mutex_lock(&c->lock);
	void *p = dma_heap_alloc(&c->heap, len, NVMED_PAGE_SIZE);
	pthread_mutex_unlock(&c->lock);
	return p;
}

void nvmed_dma_free(struct nvmed_ctrl *c, void *va)
{
	pthread_mutex_lock(&c->lock);
	dma_heap_free(&c->heap, va);
	pthread_mutex_unlock(&c->lock);
}

uint64_t nvmed_dma_iova(const struct nvmed_ctrl *c, const void *va)
{
	return dma_mem_iova(&c->mem, va);
}
