/* SPDX-License-Identifier: BSD-3-Clause */
/* Admin commands of the emulated controllers (emu: and gpuemu:): identify, queues, features, log pages. */
#include <aisio/emu_admin.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMU_ERRLOG_ENTRIES 64
#define EMU_ADMIN_PAGE 4096u

struct emu_admin {
	const struct emu_opts *o;
	const struct emu_admin_model *m;
	void *ctx;
	uint64_t nlba;
	struct nvme_id_ctrl idc;
	/* queues, index qid (0, the admin queue, is the model's own) */
	uint16_t *sq_cqid; /* the CQ an SQ posts to; 0 = no such SQ */
	uint8_t *cq_live;
	uint16_t *cq_nsq;           /* SQs posting to the CQ */
	unsigned nr_qpairs_granted; /* Number of Queues; 0 = never set */
	/* features */
	uint32_t feat_arbitration, feat_power, feat_vwc;
	/* error log: written by I/O engines too */
	struct nvme_error_log errlog[EMU_ERRLOG_ENTRIES];
	uint64_t error_count;
	pthread_mutex_t log_lock;
};

static void emu_fill_str(char *dst, size_t len, const char *src)
{
	memset(dst, ' ', len); /* identify strings are space padded, not NUL terminated */
	size_t n = strlen(src);
	memcpy(dst, src, n < len ? n : len);
}

static void emu_identify_init(struct emu_admin *a)
{
	struct nvme_id_ctrl *id = &a->idc;
	memset(id, 0, sizeof(*id));
	id->vid = 0x1b36;
	id->ssvid = 0x1af4;
	emu_fill_str(id->sn, sizeof(id->sn), a->m->serial);
	emu_fill_str(id->mn, sizeof(id->mn), a->m->model);
	emu_fill_str(id->fr, sizeof(id->fr), "0.1");
	id->mdts = (uint8_t)a->o->mdts;
	id->cntlid = 1;
	id->ver = 0x00010400;
	id->elpe = EMU_ERRLOG_ENTRIES - 1;
	id->lpa = 0;
	id->sqes = 0x66;
	id->cqes = 0x44;
	id->nn = a->o->nr_ns;
	id->oncs = a->m->oncs;
	id->vwc = a->o->ns_type == EMU_NS_FILE ? 1 : 0;
	id->wctemp = 343;
	id->cctemp = 353;
	snprintf(id->subnqn, sizeof(id->subnqn), "nqn.2026-11.org.aisio:%s", devstr_kind_name(a->o->kind));
}

int emu_admin_create(struct emu_admin **out, const struct emu_opts *o, uint64_t nlba,
		     const struct emu_admin_model *model, void *ctx)
{
	struct emu_admin *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->o = o;
	a->m = model;
	a->ctx = ctx;
	a->nlba = nlba;
	pthread_mutex_init(&a->log_lock, NULL);
	a->sq_cqid = calloc(o->max_qpairs + 1, sizeof(*a->sq_cqid));
	a->cq_live = calloc(o->max_qpairs + 1, sizeof(*a->cq_live));
	a->cq_nsq = calloc(o->max_qpairs + 1, sizeof(*a->cq_nsq));
	if (!a->sq_cqid || !a->cq_live || !a->cq_nsq) {
		emu_admin_destroy(a);
		return -ENOMEM;
	}
	emu_identify_init(a);
	*out = a;
	return 0;
}

void emu_admin_destroy(struct emu_admin *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->log_lock);
	free(a->sq_cqid);
	free(a->cq_live);
	free(a->cq_nsq);
	free(a);
}

static void emu_identify_ns(struct emu_admin *a, uint32_t nsid, struct nvme_id_ns *ns)
{
	memset(ns, 0, sizeof(*ns));
	ns->nsze = ns->ncap = ns->nuse = a->nlba;
	ns->nlbaf = 1; /* two formats (0's based): 512 and 4096 */
	ns->lbaf[0].ds = 9;
	ns->lbaf[1].ds = 12;
	ns->flbas = a->o->lba_shift == 12 ? 1 : 0;
	ns->dlfeat = 1 | (1u << 3); /* deallocated blocks read as zeroes */
	ns->eui64[0] = 0xa1;
	ns->eui64[7] = (uint8_t)nsid;
}

static uint16_t emu_identify(struct emu_admin *a, const struct nvme_sqe *sqe)
{
	uint8_t cns = sqe->cdw10 & 0xff;
	union {
		struct nvme_id_ctrl ctrl;
		struct nvme_id_ns ns;
		uint32_t list[1024];
	} buf;
	switch (cns) {
	case NVME_ID_CNS_CTRL: buf.ctrl = a->idc; break;
	case NVME_ID_CNS_NS:
		if (sqe->nsid == 0 || sqe->nsid > a->o->nr_ns)
			return NVME_SC_INVALID_NS;
		emu_identify_ns(a, sqe->nsid, &buf.ns);
		break;
	case NVME_ID_CNS_NS_ACTIVE_LIST: {
		memset(&buf, 0, sizeof(buf));
		if (sqe->nsid >= 0xfffffffe)
			return NVME_SC_INVALID_NS;
		unsigned n = 0;
		for (uint32_t i = sqe->nsid + 1; i <= a->o->nr_ns; i++)
			buf.list[n++] = i;
		break;
	}
	default: return NVME_SC_INVALID_FIELD;
	}
	return a->m->xfer(a->ctx, sqe, &buf, 4096, 1);
}

/* Queue ids usable now: what Number of Queues granted, or all when it was never set. */
static unsigned emu_qpairs_allowed(const struct emu_admin *a)
{
	return a->nr_qpairs_granted ? a->nr_qpairs_granted : a->o->max_qpairs;
}

/* The checks Create I/O CQ and SQ share: queue id free and allowed, size, contiguity, alignment. */
static uint16_t emu_queue_check(struct emu_admin *a, const struct nvme_sqe *sqe, int exists)
{
	uint16_t qid = sqe->cdw10 & 0xffff;
	uint32_t size = (sqe->cdw10 >> 16) + 1;
	if (qid == 0 || qid > emu_qpairs_allowed(a) || exists)
		return NVME_SC_QID_INVALID;
	if (size < 2 || size > a->o->mqes + 1u)
		return NVME_SC_QUEUE_SIZE;
	if (!(sqe->cdw11 & NVME_QUEUE_PHYS_CONTIG))
		return NVME_SC_INVALID_FIELD; /* CAP.CQR: contiguous queues required */
	if (sqe->prp1 & (EMU_ADMIN_PAGE - 1))
		return NVME_SC_PRP_OFFSET_INVALID;
	return NVME_SC_SUCCESS;
}

static uint16_t emu_create_cq(struct emu_admin *a, const struct nvme_sqe *sqe)
{
	uint16_t qid = sqe->cdw10 & 0xffff;
	uint16_t st = emu_queue_check(a, sqe, qid <= a->o->max_qpairs && a->cq_live[qid]);
	if (st == NVME_SC_SUCCESS)
		st = a->m->cq_create(a->ctx, qid, (sqe->cdw10 >> 16) + 1, sqe->prp1);
	if (st == NVME_SC_SUCCESS)
		a->cq_live[qid] = 1;
	return st;
}

static uint16_t emu_create_sq(struct emu_admin *a, const struct nvme_sqe *sqe)
{
	uint16_t qid = sqe->cdw10 & 0xffff;
	uint16_t cqid = (uint16_t)(sqe->cdw11 >> 16);
	if (qid == 0 || qid > emu_qpairs_allowed(a) || a->sq_cqid[qid])
		return NVME_SC_QID_INVALID;
	if (cqid == 0 || cqid > a->o->max_qpairs || !a->cq_live[cqid])
		return NVME_SC_CQ_INVALID;
	uint16_t st = emu_queue_check(a, sqe, 0);
	if (st == NVME_SC_SUCCESS)
		st = a->m->sq_create(a->ctx, qid, (sqe->cdw10 >> 16) + 1, sqe->prp1, cqid);
	if (st == NVME_SC_SUCCESS) {
		a->sq_cqid[qid] = cqid;
		a->cq_nsq[cqid]++;
	}
	return st;
}

static void emu_sq_delete(struct emu_admin *a, uint16_t qid)
{
	a->m->sq_delete(a->ctx, qid);
	a->cq_nsq[a->sq_cqid[qid]]--;
	a->sq_cqid[qid] = 0;
}

static uint16_t emu_delete_sq(struct emu_admin *a, const struct nvme_sqe *sqe)
{
	uint16_t qid = sqe->cdw10 & 0xffff;
	if (qid == 0 || qid > a->o->max_qpairs || !a->sq_cqid[qid])
		return NVME_SC_QID_INVALID;
	emu_sq_delete(a, qid);
	return NVME_SC_SUCCESS;
}

static uint16_t emu_delete_cq(struct emu_admin *a, const struct nvme_sqe *sqe)
{
	uint16_t qid = sqe->cdw10 & 0xffff;
	if (qid == 0 || qid > a->o->max_qpairs || !a->cq_live[qid])
		return NVME_SC_QID_INVALID;
	if (a->cq_nsq[qid])
		return NVME_SC_INVALID_QUEUE_DELETE;
	a->m->cq_delete(a->ctx, qid);
	a->cq_live[qid] = 0;
	return NVME_SC_SUCCESS;
}

void emu_admin_reset(struct emu_admin *a)
{
	for (unsigned q = 1; q <= a->o->max_qpairs; q++)
		if (a->sq_cqid[q])
			emu_sq_delete(a, (uint16_t)q);
	for (unsigned q = 1; q <= a->o->max_qpairs; q++)
		if (a->cq_live[q]) {
			a->m->cq_delete(a->ctx, (uint16_t)q);
			a->cq_live[q] = 0;
		}
	a->nr_qpairs_granted = 0;
}

static uint16_t emu_features(struct emu_admin *a, const struct nvme_sqe *sqe, uint32_t *dw0, int set)
{
	uint8_t fid = sqe->cdw10 & 0xff;
	switch (fid) {
	case NVME_FEAT_NUM_QUEUES: {
		if (set) {
			for (unsigned q = 1; q <= a->o->max_qpairs; q++)
				if (a->cq_live[q] || a->sq_cqid[q])
					return NVME_SC_CMD_SEQ_ERROR; /* only before any I/O queue exists */
			uint32_t nsq = (sqe->cdw11 & 0xffff) + 1, ncq = (sqe->cdw11 >> 16) + 1;
			if (nsq == 0x10000 || ncq == 0x10000)
				return NVME_SC_INVALID_FIELD;
			uint32_t n = nsq < ncq ? nsq : ncq;
			a->nr_qpairs_granted = n < a->o->max_qpairs ? n : a->o->max_qpairs;
		}
		/* Report what the controller allocated (set) or can allocate (get). */
		uint32_t n = set || a->nr_qpairs_granted ? a->nr_qpairs_granted : a->o->max_qpairs;
		*dw0 = (n - 1) | ((n - 1) << 16);
		return NVME_SC_SUCCESS;
	}
	case NVME_FEAT_ARBITRATION:
		if (set)
			a->feat_arbitration = sqe->cdw11;
		*dw0 = a->feat_arbitration;
		return NVME_SC_SUCCESS;
	case NVME_FEAT_POWER_MGMT:
		if (set)
			a->feat_power = sqe->cdw11 & 0x1f;
		*dw0 = a->feat_power;
		return NVME_SC_SUCCESS;
	case NVME_FEAT_VOLATILE_WC:
		if (set) {
			if (!a->idc.vwc)
				return NVME_SC_INVALID_FIELD;
			a->feat_vwc = sqe->cdw11 & 1;
		}
		*dw0 = a->feat_vwc;
		return NVME_SC_SUCCESS;
	default: return NVME_SC_INVALID_FIELD;
	}
}

void emu_admin_log_error(struct emu_admin *a, uint16_t sqid, uint16_t cid, uint16_t status, uint64_t lba, uint32_t nsid)
{
	pthread_mutex_lock(&a->log_lock);
	uint64_t n = ++a->error_count;
	struct nvme_error_log *e = &a->errlog[(n - 1) % EMU_ERRLOG_ENTRIES];
	memset(e, 0, sizeof(*e));
	e->error_count = n;
	e->sqid = sqid;
	e->cmdid = cid;
	e->status_field = (uint16_t)(status << 1);
	e->parm_error_location = 0xffff;
	e->lba = lba;
	e->nsid = nsid;
	pthread_mutex_unlock(&a->log_lock);
}

static void emu_u128(uint8_t out[16], uint64_t v)
{
	memset(out, 0, 16);
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t emu_get_log_page(struct emu_admin *a, const struct nvme_sqe *sqe)
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
		pthread_mutex_lock(&a->log_lock);
		struct nvme_error_log *out = (struct nvme_error_log *)buf;
		uint64_t n = a->error_count < EMU_ERRLOG_ENTRIES ? a->error_count : EMU_ERRLOG_ENTRIES;
		for (uint64_t i = 0; i < n; i++)
			out[i] = a->errlog[(a->error_count - 1 - i) % EMU_ERRLOG_ENTRIES];
		pthread_mutex_unlock(&a->log_lock);
		have = max;
	} else if (lid == NVME_LOG_SMART) {
		struct nvme_smart_log *s = (struct nvme_smart_log *)buf;
		struct emu_counters sum = {0};
		if (a->m->counters)
			a->m->counters(a->ctx, &sum);
		s->temperature[0] = 300 & 0xff;
		s->temperature[1] = 300 >> 8;
		s->avail_spare = 100;
		s->spare_thresh = 10;
		/* data units are thousands of 512-byte units, rounded up */
		uint64_t shift = a->o->lba_shift - 9;
		emu_u128(s->data_units_read, ((sum.lbas_read << shift) + 999) / 1000);
		emu_u128(s->data_units_written, ((sum.lbas_written << shift) + 999) / 1000);
		emu_u128(s->host_reads, sum.reads);
		emu_u128(s->host_writes, sum.writes);
		emu_u128(s->power_cycles, 1);
		pthread_mutex_lock(&a->log_lock);
		emu_u128(s->num_err_log_entries, a->error_count);
		pthread_mutex_unlock(&a->log_lock);
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
	return a->m->xfer(a->ctx, sqe, out, (uint32_t)len, 1);
}

static uint16_t emu_admin_exec(struct emu_admin *a, const struct nvme_sqe *sqe, uint32_t *dw0)
{
	switch (sqe->opc) {
	case NVME_ADMIN_IDENTIFY: return emu_identify(a, sqe);
	case NVME_ADMIN_CREATE_CQ: return emu_create_cq(a, sqe);
	case NVME_ADMIN_CREATE_SQ: return emu_create_sq(a, sqe);
	case NVME_ADMIN_DELETE_SQ: return emu_delete_sq(a, sqe);
	case NVME_ADMIN_DELETE_CQ: return emu_delete_cq(a, sqe);
	case NVME_ADMIN_GET_FEATURES: return emu_features(a, sqe, dw0, 0);
	case NVME_ADMIN_SET_FEATURES: return emu_features(a, sqe, dw0, 1);
	case NVME_ADMIN_GET_LOG_PAGE: return emu_get_log_page(a, sqe);
	default: return NVME_SC_INVALID_OPCODE;
	}
}

uint16_t emu_admin_cmd(struct emu_admin *a, const struct nvme_sqe *sqe, uint32_t *dw0)
{
	*dw0 = 0;
	uint16_t st = emu_admin_exec(a, sqe, dw0);
	if (st)
		emu_admin_log_error(a, 0, sqe->cid, st, 0, sqe->nsid);
	return st;
}
