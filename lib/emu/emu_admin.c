/* SPDX-License-Identifier: BSD-3-Clause */
/* Admin commands of the software controller: identify, queues, features, log pages. */
#include "emu_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void emu_fill_str(char *dst, size_t len, const char *src)
{
	memset(dst, ' ', len);  /* identify strings are space padded, not NUL terminated */
	size_t n = strlen(src);
	memcpy(dst, src, n < len ? n : len);
}

void emu_identify_init(struct emu_ctrl *c)
{
	struct nvme_id_ctrl *id = &c->idc;
	memset(id, 0, sizeof(*id));
	id->vid = 0x1b36;
	id->ssvid = 0x1af4;
	emu_fill_str(id->sn, sizeof(id->sn), "AISIO-EMU-0001");
	emu_fill_str(id->mn, sizeof(id->mn), "aisio emulated NVMe controller");
	emu_fill_str(id->fr, sizeof(id->fr), "0.1");
	id->mdts = (uint8_t)c->o.mdts;
	id->cntlid = 1;
	id->ver = 0x00010400;
	id->elpe = EMU_ERRLOG_ENTRIES - 1;
	id->lpa = 0;
	id->sqes = 0x66;
	id->cqes = 0x44;
	id->nn = c->o.nr_ns;
	id->oncs = NVME_ONCS_DSM | NVME_ONCS_WRITE_ZEROES;
	id->vwc = c->o.ns_type == EMU_NS_FILE ? 1 : 0;
	id->wctemp = 343;
	id->cctemp = 353;
	snprintf(id->subnqn, sizeof(id->subnqn), "nqn.2026-11.org.aisio:emu");
}

static void emu_identify_ns(struct emu_ctrl *c, uint32_t nsid, struct nvme_id_ns *ns)
{
	memset(ns, 0, sizeof(*ns));
	ns->nsze = ns->ncap = ns->nuse = c->ns[nsid].nlba;
	ns->nlbaf = 1;              /* two formats (0's based): 512 and 4096 */
	ns->lbaf[0].ds = 9;
	ns->lbaf[1].ds = 12;
	ns->flbas = c->o.lba_shift == 12 ? 1 : 0;
	ns->dlfeat = 1 | (1u << 3); /* deallocated blocks read as zeroes */
	ns->eui64[0] = 0xa1;
	ns->eui64[7] = (uint8_t)nsid;
}

static uint16_t emu_identify(struct emu_ctrl *c, const struct nvme_sqe *sqe)
{
	uint8_t cns = sqe->cdw10 & 0xff;
	union {
		struct nvme_id_ctrl ctrl;
		struct nvme_id_ns ns;
		uint32_t list[1024];
	} buf;
	switch (cns) {
	case NVME_ID_CNS_CTRL:
		buf.ctrl = c->idc;
		break;
	case NVME_ID_CNS_NS:
		if (sqe->nsid == 0 || sqe->nsid > c->o.nr_ns)
			return NVME_SC_INVALID_NS;
		emu_identify_ns(c, sqe->nsid, &buf.ns);
		break;
	case NVME_ID_CNS_NS_ACTIVE_LIST: {
		memset(&buf, 0, sizeof(buf));
		if (sqe->nsid >= 0xfffffffe)
			return NVME_SC_INVALID_NS;
		unsigned n = 0;
		for (uint32_t i = sqe->nsid + 1; i <= c->o.nr_ns; i++)
			buf.list[n++] = i;
		break;
	}
	default:
		return NVME_SC_INVALID_FIELD;
	}
	return emu_prp_copy(c, sqe->prp1, sqe->prp2, &buf, 4096, 1);
}

/* Queue ids usable now: what Number of Queues granted, or all when it was never set. */
static unsigned emu_qpairs_allowed(const struct emu_ctrl *c)
{
	return c->nr_qpairs_granted ? c->nr_qpairs_granted : c->o.max_qpairs;
}

static uint16_t emu_create_cq(struct emu_ctrl *c, const struct nvme_sqe *sqe)
{
	uint16_t qid = sqe->cdw10 & 0xffff;
	uint32_t size = (sqe->cdw10 >> 16) + 1;
	if (qid == 0 || qid > emu_qpairs_allowed(c) || c->cqs[qid])
		return NVME_SC_QID_INVALID;
	if (size < 2 || size > c->o.mqes + 1u)
		return NVME_SC_QUEUE_SIZE;
	if (!(sqe->cdw11 & NVME_QUEUE_PHYS_CONTIG))
		return NVME_SC_INVALID_FIELD; /* CAP.CQR: contiguous queues required */
	if (sqe->prp1 & (EMU_PAGE - 1))
		return NVME_SC_PRP_OFFSET_INVALID;
	struct nvme_cqe *ring = emu_iova_to_va(c, sqe->prp1, (size_t)size * sizeof(struct nvme_cqe));
	if (!ring)
		return NVME_SC_DATA_XFER_ERROR;
	struct emu_cq *cq = calloc(1, sizeof(*cq));
	if (!cq)
		return NVME_SC_INTERNAL;
	cq->ring = ring;
	cq->size = size;
	cq->phase = 1;
	cq->id = qid;
	cq->head_db = (volatile uint32_t *)(c->bar + NVME_CQ_HEAD_DB(qid, c->o.dstrd));
	emu_store32((uint32_t *)cq->head_db, 0);
	cq->engine = c->nengines ? (qid - 1) % c->nengines : 0;
	c->cqs[qid] = cq;
	return NVME_SC_SUCCESS;
}

static uint16_t emu_create_sq(struct emu_ctrl *c, const struct nvme_sqe *sqe)
{
	uint16_t qid = sqe->cdw10 & 0xffff;
	uint32_t size = (sqe->cdw10 >> 16) + 1;
	uint16_t cqid = (uint16_t)(sqe->cdw11 >> 16);
	if (qid == 0 || qid > emu_qpairs_allowed(c) || c->sqs[qid])
		return NVME_SC_QID_INVALID;
	if (cqid == 0 || cqid > c->o.max_qpairs || !c->cqs[cqid])
		return NVME_SC_CQ_INVALID;
	if (size < 2 || size > c->o.mqes + 1u)
		return NVME_SC_QUEUE_SIZE;
	if (!(sqe->cdw11 & NVME_QUEUE_PHYS_CONTIG))
		return NVME_SC_INVALID_FIELD;
	if (sqe->prp1 & (EMU_PAGE - 1))
		return NVME_SC_PRP_OFFSET_INVALID;
	struct nvme_sqe *ring = emu_iova_to_va(c, sqe->prp1, (size_t)size * sizeof(struct nvme_sqe));
	if (!ring)
		return NVME_SC_DATA_XFER_ERROR;
	struct emu_sq *sq = calloc(1, sizeof(*sq));
	struct emu_delayed *delayed = calloc(size, sizeof(*delayed));
	if (!sq || !delayed) {
		free(sq);
		free(delayed);
		return NVME_SC_INTERNAL;
	}
	sq->ring = ring;
	sq->size = size;
	sq->id = qid;
	sq->cq = c->cqs[cqid];
	sq->delayed = delayed;
	sq->tail_db = (volatile uint32_t *)(c->bar + NVME_SQ_TAIL_DB(qid, c->o.dstrd));
	emu_store32((uint32_t *)sq->tail_db, 0);
	sq->cq->nsq++;
	__atomic_store_n(&c->sqs[qid], sq, __ATOMIC_RELEASE);
	emu_engine_add_sq(c, sq);
	return NVME_SC_SUCCESS;
}

static void emu_sq_delete(struct emu_ctrl *c, uint16_t qid)
{
	struct emu_sq *sq = c->sqs[qid];
	emu_engine_remove_sq(c, sq);
	__atomic_store_n(&c->sqs[qid], NULL, __ATOMIC_RELEASE);
	/* inline mode: keep what this SQ served for SMART (its poller has stopped) */
	struct emu_counters sum = c->inline_retired;
	emu_counters_add(&sum, &sq->inline_cnt);
	c->inline_retired = sum;
	sq->cq->nsq--;
	emu_sq_free(sq);
}

static uint16_t emu_delete_sq(struct emu_ctrl *c, const struct nvme_sqe *sqe)
{
	uint16_t qid = sqe->cdw10 & 0xffff;
	if (qid == 0 || qid > c->o.max_qpairs || !c->sqs[qid])
		return NVME_SC_QID_INVALID;
	emu_sq_delete(c, qid);
	return NVME_SC_SUCCESS;
}

static uint16_t emu_delete_cq(struct emu_ctrl *c, const struct nvme_sqe *sqe)
{
	uint16_t qid = sqe->cdw10 & 0xffff;
	if (qid == 0 || qid > c->o.max_qpairs || !c->cqs[qid])
		return NVME_SC_QID_INVALID;
	if (c->cqs[qid]->nsq)
		return NVME_SC_INVALID_QUEUE_DELETE;
	free(c->cqs[qid]);
	c->cqs[qid] = NULL;
	return NVME_SC_SUCCESS;
}

void emu_delete_all_io_queues(struct emu_ctrl *c)
{
	for (unsigned q = 1; q <= c->o.max_qpairs; q++)
		if (c->sqs[q])
			emu_sq_delete(c, (uint16_t)q);
	for (unsigned q = 1; q <= c->o.max_qpairs; q++) {
		free(c->cqs[q]);
		c->cqs[q] = NULL;
	}
}

static uint16_t emu_features(struct emu_ctrl *c, const struct nvme_sqe *sqe, uint32_t *dw0, int set)
{
	uint8_t fid = sqe->cdw10 & 0xff;
	switch (fid) {
	case NVME_FEAT_NUM_QUEUES: {
		if (set) {
			for (unsigned q = 1; q <= c->o.max_qpairs; q++)
				if (c->cqs[q] || c->sqs[q])
					return NVME_SC_CMD_SEQ_ERROR; /* only before any I/O queue exists */
			uint32_t nsq = (sqe->cdw11 & 0xffff) + 1, ncq = (sqe->cdw11 >> 16) + 1;
			if (nsq == 0x10000 || ncq == 0x10000)
				return NVME_SC_INVALID_FIELD;
			uint32_t n = nsq < ncq ? nsq : ncq;
			c->nr_qpairs_granted = n < c->o.max_qpairs ? n : c->o.max_qpairs;
		}
		/* Report what the controller allocated (set) or can allocate (get). */
		uint32_t n = set || c->nr_qpairs_granted ? c->nr_qpairs_granted : c->o.max_qpairs;
		*dw0 = (n - 1) | ((n - 1) << 16);
		return NVME_SC_SUCCESS;
	}
	case NVME_FEAT_ARBITRATION:
		if (set)
			c->feat_arbitration = sqe->cdw11;
		*dw0 = c->feat_arbitration;
		return NVME_SC_SUCCESS;
	case NVME_FEAT_POWER_MGMT:
		if (set)
			c->feat_power = sqe->cdw11 & 0x1f;
		*dw0 = c->feat_power;
		return NVME_SC_SUCCESS;
	case NVME_FEAT_VOLATILE_WC:
		if (set) {
			if (!c->idc.vwc)
				return NVME_SC_INVALID_FIELD;
			c->feat_vwc = sqe->cdw11 & 1;
		}
		*dw0 = c->feat_vwc;
		return NVME_SC_SUCCESS;
	default:
		return NVME_SC_INVALID_FIELD;
	}
}

void emu_log_error(struct emu_ctrl *c, uint16_t sqid, uint16_t cid, uint16_t status, uint64_t lba, uint32_t nsid)
{
	pthread_mutex_lock(&c->log_lock);
	uint64_t n = ++c->error_count;
	struct nvme_error_log *e = &c->errlog[(n - 1) % EMU_ERRLOG_ENTRIES];
	memset(e, 0, sizeof(*e));
	e->error_count = n;
	e->sqid = sqid;
	e->cmdid = cid;
	e->status_field = (uint16_t)(status << 1);
	e->parm_error_location = 0xffff;
	e->lba = lba;
	e->nsid = nsid;
	pthread_mutex_unlock(&c->log_lock);
}

static void emu_u128(uint8_t out[16], uint64_t v)
{
	memset(out, 0, 16);
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t emu_get_log_page(struct emu_ctrl *c, const struct nvme_sqe *sqe)
{
	uint8_t lid = sqe->cdw10 & 0xff;
	uint32_t numd = ((sqe->cdw10 >> 16) & 0xfff) | ((sqe->cdw11 & 0xffff) << 16);
	uint64_t len = ((uint64_t)numd + 1) * 4;
	uint64_t off = (uint64_t)sqe->cdw12 | ((uint64_t)sqe->cdw13 << 32);
	static const size_t max = sizeof(struct nvme_error_log) * EMU_ERRLOG_ENTRIES;
	uint8_t buf[sizeof(struct nvme_error_log) * EMU_ERRLOG_ENTRIES];
	size_t have;
	memset(buf, 0, sizeof(buf));
	if (lid == NVME_LOG_ERROR) {
		/* newest first */
		pthread_mutex_lock(&c->log_lock);
		struct nvme_error_log *out = (struct nvme_error_log *)buf;
		uint64_t n = c->error_count < EMU_ERRLOG_ENTRIES ? c->error_count : EMU_ERRLOG_ENTRIES;
		for (uint64_t i = 0; i < n; i++)
			out[i] = c->errlog[(c->error_count - 1 - i) % EMU_ERRLOG_ENTRIES];
		pthread_mutex_unlock(&c->log_lock);
		have = max;
	} else if (lid == NVME_LOG_SMART) {
		struct nvme_smart_log *s = (struct nvme_smart_log *)buf;
		struct emu_counters sum;
		emu_counters_sum(c, &sum);
		s->temperature[0] = 300 & 0xff;
		s->temperature[1] = 300 >> 8;
		s->avail_spare = 100;
		s->spare_thresh = 10;
		/* data units are thousands of 512-byte units, rounded up */
		uint64_t shift = c->o.lba_shift - 9;
		emu_u128(s->data_units_read, ((sum.lbas_read << shift) + 999) / 1000);
		emu_u128(s->data_units_written, ((sum.lbas_written << shift) + 999) / 1000);
		emu_u128(s->host_reads, sum.reads);
		emu_u128(s->host_writes, sum.writes);
		emu_u128(s->power_cycles, 1);
		emu_u128(s->num_err_log_entries, c->error_count);
		have = sizeof(*s);
	} else {
		return NVME_SC_INVALID_LOG_PAGE;
	}
	if (off & 3 || off > have)
		return NVME_SC_INVALID_FIELD;
	if (len > 16384)
		return NVME_SC_INVALID_FIELD;
	uint8_t out[16384];
	memset(out, 0, (size_t)len);
	size_t n = have - off < len ? have - off : (size_t)len;
	memcpy(out, buf + off, n);
	return emu_prp_copy(c, sqe->prp1, sqe->prp2, out, (uint32_t)len, 1);
}

uint16_t emu_admin_cmd(struct emu_ctrl *c, const struct nvme_sqe *sqe, uint32_t *dw0)
{
	switch (sqe->opc) {
	case NVME_ADMIN_IDENTIFY:
		return emu_identify(c, sqe);
	case NVME_ADMIN_CREATE_CQ:
		return emu_create_cq(c, sqe);
	case NVME_ADMIN_CREATE_SQ:
		return emu_create_sq(c, sqe);
	case NVME_ADMIN_DELETE_SQ:
		return emu_delete_sq(c, sqe);
	case NVME_ADMIN_DELETE_CQ:
		return emu_delete_cq(c, sqe);
	case NVME_ADMIN_GET_FEATURES:
		return emu_features(c, sqe, dw0, 0);
	case NVME_ADMIN_SET_FEATURES:
		return emu_features(c, sqe, dw0, 1);
	case NVME_ADMIN_GET_LOG_PAGE:
		return emu_get_log_page(c, sqe);
	default:
		return NVME_SC_INVALID_OPCODE;
	}
}
