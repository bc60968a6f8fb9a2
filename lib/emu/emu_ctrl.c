/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The software controller's life: register file in a memfd, the CC.EN / CSTS.RDY
 * handshake, the control thread (registers and admin queue), engine threads
 * (I/O queues), DMA regions.
 */
#include "emu_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <aisio/clock.h>
#include <aisio/log.h>

static void emu_sleep_us(unsigned us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

static uint32_t *emu_reg(struct emu_ctrl *c, uint32_t off)
{
	return (uint32_t *)(c->bar + off);
}

static uint64_t emu_reg64(struct emu_ctrl *c, uint32_t off)
{
	return (uint64_t)emu_load32(emu_reg(c, off)) | ((uint64_t)emu_load32(emu_reg(c, off + 4)) << 32);
}

void emu_csts_set(struct emu_ctrl *c, uint32_t set, uint32_t clear)
{
	uint32_t *csts = emu_reg(c, NVME_REG_CSTS);
	emu_store32(csts, (emu_load32(csts) & ~clear) | set);
}

/* ---- DMA regions ---- */

int emu_ctrl_dma_register(struct emu_ctrl *c, void *va, size_t len, uint64_t *iova)
{
	if (!len || len >= (1ull << EMU_IOVA_SHIFT))
		return -EINVAL;
	pthread_mutex_lock(&c->region_lock);
	for (unsigned i = 0; i < EMU_MAX_REGIONS; i++) {
		if (c->regions[i].len == 0) {
			c->regions[i].va = va;
			__atomic_store_n(&c->regions[i].len, len, __ATOMIC_RELEASE);
			pthread_mutex_unlock(&c->region_lock);
			*iova = (uint64_t)(i + 1) << EMU_IOVA_SHIFT;
			return 0;
		}
	}
	pthread_mutex_unlock(&c->region_lock);
	return -ENOSPC;
}

void emu_ctrl_dma_unregister(struct emu_ctrl *c, uint64_t iova)
{
	uint64_t idx = (iova >> EMU_IOVA_SHIFT) - 1;
	if (idx >= EMU_MAX_REGIONS)
		return;
	pthread_mutex_lock(&c->region_lock);
	__atomic_store_n(&c->regions[idx].len, 0, __ATOMIC_RELEASE);
	c->regions[idx].va = NULL;
	pthread_mutex_unlock(&c->region_lock);
}

/* Translate a bus address range; NULL when any byte lies outside a registered region. */
void *emu_iova_to_va(const struct emu_ctrl *c, uint64_t iova, size_t len)
{
	uint64_t idx = (iova >> EMU_IOVA_SHIFT) - 1;
	uint64_t off = iova & ((1ull << EMU_IOVA_SHIFT) - 1);
	if (emu_unlikely(idx >= EMU_MAX_REGIONS))
		return NULL;
	size_t rlen = __atomic_load_n(&c->regions[idx].len, __ATOMIC_ACQUIRE);
	if (emu_unlikely(off > rlen || len > rlen - off))
		return NULL;
	return c->regions[idx].va + off;
}

/* ---- queues ---- */

int emu_cq_full(struct emu_cq *cq)
{
	uint32_t next = cq->tail + 1 == cq->size ? 0 : cq->tail + 1;
	if (next != cq->head)
		return 0;
	cq->head = emu_load32(cq->head_db);
	if (cq->head >= cq->size)
		cq->head = 0; /* a bogus doorbell write: keep the ring sane */
	return next == cq->head;
}

void emu_post_cqe(struct emu_cq *cq, struct emu_sq *sq, uint16_t cid, uint32_t dw0, uint16_t status)
{
	struct nvme_cqe *e = &cq->ring[cq->tail];
	e->dw0 = dw0;
	e->dw1 = 0;
	e->sqhd = (uint16_t)sq->head;
	e->sqid = sq->id;
	/* cid and status with the phase bit go last, in one release store: the host
	 * polls that dword, and must see the rest of the entry once it sees the phase. */
	emu_store32((uint32_t *)&e->cid, nvme_cqe_dw3(cid, status, cq->phase));
	if (++cq->tail == cq->size) {
		cq->tail = 0;
		cq->phase ^= 1;
	}
}

static void emu_sq_free(struct emu_sq *sq)
{
	if (!sq)
		return;
	free(sq->delayed);
	free(sq);
}

/* Wait until every engine has begun a new sweep twice: no engine holds a pointer
 * to an SQ removed before the call. Bounded: engines never block for long.
 * A store-load pair on both sides (the removal then the epochs here; an engine's epoch then its
 * nsq) needs a full barrier on both: x86 lets a load pass an earlier store, and an engine whose new
 * sweep reads the old nsq would serve the freed SQ. The engines' side costs nothing per sweep when
 * membarrier(2) issues that barrier on every engine thread from here; where it is not available
 * the engines store their epochs seq_cst (one locked instruction per sweep). */
static void emu_engines_quiesce(struct emu_ctrl *c)
{
	if (c->epoch_sc || syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) < 0)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (int i = 0; i < c->nengines; i++) {
		struct emu_engine *e = &c->engines[i];
		uint64_t start = __atomic_load_n(&e->epoch, __ATOMIC_ACQUIRE);
		uint64_t deadline = aisio_mono_ns() + 5000000000ull;
		while (__atomic_load_n(&e->epoch, __ATOMIC_ACQUIRE) < start + 2 && aisio_mono_ns() < deadline)
			sched_yield();
	}
}

static void emu_engine_add_sq(struct emu_ctrl *c, struct emu_sq *sq)
{
	if (c->nengines == 0)
		return; /* inline: served by emu_ctrl_serve_sq from c->sqs */
	struct emu_engine *e = &c->engines[sq->cq->engine];
	unsigned n = __atomic_load_n(&e->nsq, __ATOMIC_RELAXED);
	e->sqs[n] = sq;
	__atomic_store_n(&e->nsq, n + 1, __ATOMIC_RELEASE);
}

static void emu_engine_remove_sq(struct emu_ctrl *c, struct emu_sq *sq)
{
	if (c->nengines == 0)
		return;
	struct emu_engine *e = &c->engines[sq->cq->engine];
	unsigned n = __atomic_load_n(&e->nsq, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < n; i++) {
		if (e->sqs[i] == sq) {
			__atomic_store_n(&e->sqs[i], e->sqs[n - 1], __ATOMIC_RELEASE);
			__atomic_store_n(&e->nsq, n - 1, __ATOMIC_RELEASE);
			break;
		}
	}
	emu_engines_quiesce(c);
}

void emu_ctrl_serve_sq(void *ctx, uint16_t sqid)
{
	struct emu_ctrl *c = ctx;
	if (emu_unlikely(sqid > c->o.max_qpairs || __atomic_load_n(&c->fatal, __ATOMIC_RELAXED)))
		return;
	struct emu_sq *sq = __atomic_load_n(&c->sqs[sqid], __ATOMIC_ACQUIRE);
	if (sq)
		emu_serve_sq(c, sq, &sq->inline_cnt);
}

/* ---- the admin server's model (emu_admin.h): queues as this controller's engines serve them ---- */

static uint16_t emu_model_xfer(void *ctx, const struct nvme_sqe *sqe, void *buf, uint32_t len, int to_host)
{
	return emu_prp_copy(ctx, sqe->prp1, sqe->prp2, buf, len, to_host);
}

static uint16_t emu_model_cq_create(void *ctx, uint16_t qid, uint32_t size, uint64_t base)
{
	struct emu_ctrl *c = ctx;
	struct nvme_cqe *ring = emu_iova_to_va(c, base, (size_t)size * sizeof(struct nvme_cqe));
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

static uint16_t emu_model_sq_create(void *ctx, uint16_t qid, uint32_t size, uint64_t base, uint16_t cqid)
{
	struct emu_ctrl *c = ctx;
	struct nvme_sqe *ring = emu_iova_to_va(c, base, (size_t)size * sizeof(struct nvme_sqe));
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
	__atomic_store_n(&c->sqs[qid], sq, __ATOMIC_RELEASE);
	emu_engine_add_sq(c, sq);
	return NVME_SC_SUCCESS;
}

static void emu_model_sq_delete(void *ctx, uint16_t qid)
{
	struct emu_ctrl *c = ctx;
	struct emu_sq *sq = c->sqs[qid];
	emu_engine_remove_sq(c, sq);
	__atomic_store_n(&c->sqs[qid], NULL, __ATOMIC_RELEASE);
	/* inline mode: keep what this SQ served for SMART (its poller has stopped) */
	struct emu_counters sum = c->inline_retired;
	emu_counters_add(&sum, &sq->inline_cnt);
	c->inline_retired = sum;
	emu_sq_free(sq);
}

static void emu_model_cq_delete(void *ctx, uint16_t qid)
{
	struct emu_ctrl *c = ctx;
	free(c->cqs[qid]);
	c->cqs[qid] = NULL;
}

static void emu_model_counters(void *ctx, struct emu_counters *sum)
{
	emu_counters_sum(ctx, sum);
}

static const struct emu_admin_model emu_model = {
	.serial = "AISIO-EMU-0001",
	.model = "aisio emulated NVMe controller",
	.oncs = NVME_ONCS_DSM | NVME_ONCS_WRITE_ZEROES,
	.xfer = emu_model_xfer,
	.cq_create = emu_model_cq_create,
	.sq_create = emu_model_sq_create,
	.sq_delete = emu_model_sq_delete,
	.cq_delete = emu_model_cq_delete,
	.counters = emu_model_counters,
};

/* ---- control thread: CC handshake and the admin queue ---- */

static void emu_disable(struct emu_ctrl *c)
{
	emu_admin_reset(c->admin);
	emu_sq_free(c->sqs[0]);
	free(c->cqs[0]);
	c->sqs[0] = NULL;
	c->cqs[0] = NULL;
	c->enabled = 0;
	__atomic_store_n(&c->fatal, 0, __ATOMIC_RELEASE);
	c->fatal_countdown = c->o.fatal_after;
	c->resets++;
}

static int emu_enable(struct emu_ctrl *c)
{
	uint32_t cc = emu_load32(emu_reg(c, NVME_REG_CC));
	uint32_t aqa = emu_load32(emu_reg(c, NVME_REG_AQA));
	uint32_t asqs = (aqa & 0xfff) + 1, acqs = ((aqa >> 16) & 0xfff) + 1;
	uint64_t asq = emu_reg64(c, NVME_REG_ASQ), acq = emu_reg64(c, NVME_REG_ACQ);
	if (((cc >> NVME_CC_MPS_SHIFT) & 0xf) != 0 || ((cc >> NVME_CC_CSS_SHIFT) & 0x7) != 0 || asqs < 2 || acqs < 2 ||
	    (asq & 0xfff) || (acq & 0xfff))
		return -EINVAL;
	struct emu_sq *sq = calloc(1, sizeof(*sq));
	struct emu_cq *cq = calloc(1, sizeof(*cq));
	if (!sq || !cq) {
		free(sq);
		free(cq);
		return -ENOMEM;
	}
	cq->ring = emu_iova_to_va(c, acq, (size_t)acqs * sizeof(struct nvme_cqe));
	sq->ring = emu_iova_to_va(c, asq, (size_t)asqs * sizeof(struct nvme_sqe));
	if (!cq->ring || !sq->ring) {
		free(sq);
		free(cq);
		return -EFAULT;
	}
	cq->size = acqs;
	cq->phase = 1;
	cq->head_db = emu_reg(c, NVME_CQ_HEAD_DB(0, c->o.dstrd));
	sq->size = asqs;
	sq->cq = cq;
	sq->tail_db = emu_reg(c, NVME_SQ_TAIL_DB(0, c->o.dstrd));
	emu_store32(sq->tail_db, 0);
	emu_store32(cq->head_db, 0);
	c->sqs[0] = sq;
	c->cqs[0] = cq;
	c->enabled = 1;
	return 0;
}

static void emu_serve_admin(struct emu_ctrl *c, int *busy)
{
	struct emu_sq *sq = c->sqs[0];
	uint32_t tail = emu_load32(sq->tail_db);
	if (tail >= sq->size)
		return;
	while (sq->head != tail && !emu_cq_full(sq->cq)) {
		struct nvme_sqe sqe = sq->ring[sq->head];
		if (++sq->head == sq->size)
			sq->head = 0;
		uint32_t dw0;
		uint16_t st = emu_admin_cmd(c->admin, &sqe, &dw0);
		c->admin_cmds++;
		emu_post_cqe(sq->cq, sq, sqe.cid, dw0, st);
		*busy = 1;
	}
}

static void *emu_ctl_main(void *arg)
{
	struct emu_ctrl *c = arg;
	unsigned idle = 0;
	while (!__atomic_load_n(&c->ctl_stop, __ATOMIC_ACQUIRE)) {
		int busy = 0;
		uint32_t cc = emu_load32(emu_reg(c, NVME_REG_CC));
		uint32_t csts = emu_load32(emu_reg(c, NVME_REG_CSTS));
		if ((cc & NVME_CC_EN) && !c->enabled && !(csts & NVME_CSTS_CFS)) {
			if (c->o.rdy_delay_ms)
				emu_sleep_us(c->o.rdy_delay_ms * 1000u);
			if (emu_enable(c) == 0)
				emu_csts_set(c, NVME_CSTS_RDY, 0);
			else
				emu_csts_set(c, NVME_CSTS_CFS, 0); /* a bad admin queue setup is fatal */
			busy = 1;
		} else if (!(cc & NVME_CC_EN) && (c->enabled || (csts & (NVME_CSTS_RDY | NVME_CSTS_CFS)))) {
			emu_disable(c);
			if (c->o.rdy_delay_ms)
				emu_sleep_us(c->o.rdy_delay_ms * 1000u);
			emu_csts_set(c, 0, NVME_CSTS_RDY | NVME_CSTS_CFS | NVME_CSTS_SHST_MASK);
			busy = 1;
		}
		if ((cc & NVME_CC_SHN_MASK) && (csts & NVME_CSTS_SHST_MASK) != NVME_CSTS_SHST_CMPLT) {
			emu_csts_set(c, NVME_CSTS_SHST_CMPLT, NVME_CSTS_SHST_MASK);
			busy = 1;
		}
		if (c->enabled && !__atomic_load_n(&c->fatal, __ATOMIC_ACQUIRE))
			emu_serve_admin(c, &busy);
		if (__atomic_load_n(&c->fatal, __ATOMIC_ACQUIRE) && !(csts & NVME_CSTS_CFS))
			emu_csts_set(c, NVME_CSTS_CFS, 0);
		/* Spin briefly after activity (admin commands come in bursts), then sleep. */
		if (busy)
			idle = 0;
		else if (++idle > 2000)
			emu_sleep_us(50);
		else
			sched_yield();
	}
	return NULL;
}

/* ---- create / destroy ---- */

static int emu_ns_init(struct emu_ctrl *c)
{
	uint64_t nlba = c->o.ns_bytes >> c->o.lba_shift;
	for (unsigned i = 1; i <= c->o.nr_ns; i++) {
		struct emu_ns *ns = &c->ns[i];
		ns->nlba = nlba;
		ns->fd = -1;
		if (c->o.ns_type == EMU_NS_RAM) {
			/* Anonymous memory: zero until written, only touched pages cost. */
			void *p = mmap(NULL, c->o.ns_bytes, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			if (p == MAP_FAILED) {
				aisio_log(AISIO_LOG_ERROR, "emu", "no memory for a %llu MiB RAM namespace",
					  (unsigned long long)(c->o.ns_bytes >> 20));
				return -ENOMEM;
			}
			ns->data = p;
		} else if (c->o.ns_type == EMU_NS_FILE) {
			/* Several namespaces over one file each get a slice of it. */
			ns->fd = open(c->o.path, O_RDWR | O_CLOEXEC);
			if (ns->fd < 0) {
				int err = errno;
				aisio_log(AISIO_LOG_ERROR, NULL, "emu:file:%s: %s", c->o.path, strerror(err));
				return -err;
			}
			ns->nlba = nlba / c->o.nr_ns;
		}
	}
	return 0;
}

int emu_ctrl_create(struct emu_ctrl **out, const struct emu_opts *o)
{
	if (o->kind != DEVSTR_EMU)
		return -EINVAL; /* gpuemu: options are for lib/gpu */
	struct emu_ctrl *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	int rc = -ENOMEM;
	c->o = *o;
	c->bar_fd = -1;
	pthread_mutex_init(&c->region_lock, NULL);
	c->db_stride = 4u << o->dstrd;
	c->mdts_bytes = o->mdts ? EMU_PAGE << o->mdts : 0;
	c->fatal_countdown = o->fatal_after;
	c->faults.err_slba = o->err_slba, c->faults.err_elba = o->err_elba, c->faults.err_status = o->err_status;
	c->faults.drop_slba = o->drop_slba, c->faults.drop_elba = o->drop_elba;
	c->faults.delay_slba = o->delay_slba, c->faults.delay_elba = o->delay_elba, c->faults.delay_us = o->delay_us;
	c->faults.any = (o->err_elba >= o->err_slba) | (o->drop_elba >= o->drop_slba) |
			(o->delay_elba >= o->delay_slba && o->delay_us > 0);
	for (unsigned i = 0; i <= EMU_MAX_NS; i++)
		c->ns[i].fd = -1;

	c->sqs = calloc(o->max_qpairs + 1, sizeof(*c->sqs));
	c->cqs = calloc(o->max_qpairs + 1, sizeof(*c->cqs));
	c->db_fds = malloc((o->max_qpairs + 1) * sizeof(*c->db_fds));
	if (!c->sqs || !c->cqs || !c->db_fds)
		goto fail;
	for (unsigned i = 0; i <= o->max_qpairs; i++)
		c->db_fds[i] = -1;

	/* BAR0: 4 KiB of registers, then the doorbells of every queue pair. */
	size_t bar = NVME_REG_DBS + 2 * (o->max_qpairs + 1) * (size_t)c->db_stride;
	c->bar_len = (bar + 4095) & ~(size_t)4095;
	c->bar_fd = memfd_create("aisio-emu-bar0", MFD_CLOEXEC);
	if (c->bar_fd < 0 || ftruncate(c->bar_fd, (off_t)c->bar_len) < 0) {
		rc = -errno;
		goto fail;
	}
	c->bar = mmap(NULL, c->bar_len, PROT_READ | PROT_WRITE, MAP_SHARED, c->bar_fd, 0);
	if (c->bar == MAP_FAILED) {
		c->bar = NULL;
		rc = -errno;
		goto fail;
	}
	uint64_t cap = (uint64_t)o->mqes | (1ull << 16) /* CQR */ | ((uint64_t)o->cap_to << 24) |
		       ((uint64_t)o->dstrd << 32) | ((uint64_t)NVME_CAP_CSS_NVM << 37) | (0ull << 48) | (4ull << 52);
	*emu_reg(c, NVME_REG_CAP) = (uint32_t)cap;
	*emu_reg(c, NVME_REG_CAP + 4) = (uint32_t)(cap >> 32);
	*emu_reg(c, NVME_REG_VS) = 0x00010400; /* 1.4 */

	rc = emu_ns_init(c);
	if (rc < 0)
		goto fail;
	rc = emu_admin_create(&c->admin, &c->o, c->ns[1].nlba, &emu_model, c);
	if (rc < 0)
		goto fail;

	c->nengines = o->threads;
	if (c->nengines) {
		c->engines = calloc((size_t)c->nengines, sizeof(*c->engines));
		if (!c->engines) {
			rc = -ENOMEM;
			goto fail;
		}
		for (int i = 0; i < c->nengines; i++) {
			c->engines[i].c = c;
			c->engines[i].idx = i;
			c->engines[i].sqs = calloc(o->max_qpairs + 1, sizeof(struct emu_sq *));
			if (!c->engines[i].sqs) {
				rc = -ENOMEM;
				goto fail_engines;
			}
		}
		c->epoch_sc = syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) < 0;
		for (int i = 0; i < c->nengines; i++) {
			if (pthread_create(&c->engines[i].thread, NULL, emu_engine_main, &c->engines[i]) != 0) {
				c->nengines = i;
				rc = -EAGAIN;
				goto fail_engines;
			}
		}
	}
	if (pthread_create(&c->ctl_thread, NULL, emu_ctl_main, c) != 0) {
		rc = -EAGAIN;
		goto fail_engines;
	}
	*out = c;
	return 0;

fail_engines:
	for (int i = 0; i < c->nengines; i++) {
		__atomic_store_n(&c->engines[i].stop, 1, __ATOMIC_RELEASE);
		pthread_join(c->engines[i].thread, NULL);
	}
	c->nengines = 0;
fail:
	c->ctl_thread = 0;
	emu_ctrl_destroy(c);
	return rc;
}

void emu_ctrl_destroy(struct emu_ctrl *c)
{
	if (!c)
		return;
	if (c->ctl_thread) {
		__atomic_store_n(&c->ctl_stop, 1, __ATOMIC_RELEASE);
		pthread_join(c->ctl_thread, NULL);
	}
	for (int i = 0; i < c->nengines; i++) {
		__atomic_store_n(&c->engines[i].stop, 1, __ATOMIC_RELEASE);
		pthread_join(c->engines[i].thread, NULL);
	}
	c->nengines = 0;
	if (c->sqs && c->cqs)
		for (unsigned q = 0; q <= c->o.max_qpairs; q++) {
			emu_sq_free(c->sqs[q]);
			free(c->cqs[q]);
		}
	if (c->engines)
		for (int i = 0; i < c->o.threads; i++)
			free(c->engines[i].sqs);
	free(c->engines);
	free(c->sqs);
	free(c->cqs);
	for (unsigned i = 1; i <= EMU_MAX_NS; i++) {
		if (c->ns[i].data)
			munmap(c->ns[i].data, c->o.ns_bytes);
		if (c->ns[i].fd >= 0)
			close(c->ns[i].fd);
	}
	if (c->bar)
		munmap(c->bar, c->bar_len);
	if (c->bar_fd >= 0)
		close(c->bar_fd);
	for (unsigned i = 0; c->db_fds && i <= c->o.max_qpairs; i++)
		if (c->db_fds[i] >= 0)
			close(c->db_fds[i]);
	free(c->db_fds);
	emu_admin_destroy(c->admin);
	pthread_mutex_destroy(&c->region_lock);
	free(c);
}

volatile uint8_t *emu_ctrl_bar0(struct emu_ctrl *c, size_t *len)
{
	if (len)
		*len = c->bar_len;
	return c->bar;
}

int emu_ctrl_doorbells(struct emu_ctrl *c, uint16_t qid, struct nvme_db_map *m)
{
	if (qid == 0 || qid > c->o.max_qpairs)
		return -EINVAL;
	size_t sq = NVME_SQ_TAIL_DB(qid, c->o.dstrd), cq = NVME_CQ_HEAD_DB(qid, c->o.dstrd);
	if (c->db_stride < EMU_PAGE) {
		/* the page(s) around the two doorbells, shared with neighbouring queues */
		m->fd = c->bar_fd;
		m->map_off = sq & ~(uint64_t)(EMU_PAGE - 1);
		m->map_len = ((cq + 4 + EMU_PAGE - 1) & ~(uint64_t)(EMU_PAGE - 1)) - m->map_off;
		m->sq_db_off = (uint32_t)(sq - m->map_off);
		m->cq_db_off = (uint32_t)(cq - m->map_off);
		m->isolated = 0;
		return 0;
	}
	/* A fresh memfd for the two doorbell pages, mapped over them in the BAR: whoever held the
	 * previous one keeps a mapping that no longer reaches this queue. */
	size_t len = 2 * (size_t)c->db_stride;
	int fd = memfd_create("aisio-emu-doorbells", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0 ||
	    mmap(c->bar + sq, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
		int err = -errno;
		close(fd);
		return err;
	}
	if (c->db_fds[qid] >= 0)
		close(c->db_fds[qid]);
	c->db_fds[qid] = fd;
	m->fd = fd;
	m->map_off = 0;
	m->map_len = len;
	m->sq_db_off = 0;
	m->cq_db_off = (uint32_t)(cq - sq);
	m->isolated = 1;
	return 0;
}

int emu_ctrl_is_inline(const struct emu_ctrl *c)
{
	return c->nengines == 0;
}

/* ---- faults and stats ---- */

void emu_ctrl_fault_error(struct emu_ctrl *c, uint64_t slba, uint64_t elba, uint16_t status)
{
	c->faults.err_slba = slba, c->faults.err_status = status;
	__atomic_store_n(&c->faults.err_elba, elba, __ATOMIC_RELEASE);
	__atomic_store_n(&c->faults.any, 1, __ATOMIC_RELEASE);
}

void emu_ctrl_fault_drop(struct emu_ctrl *c, uint64_t slba, uint64_t elba)
{
	c->faults.drop_slba = slba;
	__atomic_store_n(&c->faults.drop_elba, elba, __ATOMIC_RELEASE);
	__atomic_store_n(&c->faults.any, 1, __ATOMIC_RELEASE);
}

void emu_ctrl_fault_delay(struct emu_ctrl *c, uint64_t slba, uint64_t elba, unsigned us)
{
	c->faults.delay_slba = slba, c->faults.delay_elba = elba;
	__atomic_store_n(&c->faults.delay_us, us, __ATOMIC_RELEASE);
	__atomic_store_n(&c->faults.any, 1, __ATOMIC_RELEASE);
}

void emu_ctrl_fault_fatal(struct emu_ctrl *c)
{
	__atomic_store_n(&c->fatal, 1, __ATOMIC_RELEASE);
	emu_csts_set(c, NVME_CSTS_CFS, 0);
}

void emu_ctrl_fault_clear(struct emu_ctrl *c)
{
	__atomic_store_n(&c->faults.any, 0, __ATOMIC_RELEASE);
	/* elba below slba: off */
	c->faults.err_elba = c->faults.drop_elba = c->faults.delay_elba = 0;
	c->faults.err_slba = c->faults.drop_slba = c->faults.delay_slba = 1;
	c->faults.delay_us = 0;
}

void emu_counters_add(struct emu_counters *sum, const struct emu_counters *e)
{
	sum->io_cmds += __atomic_load_n(&e->io_cmds, __ATOMIC_RELAXED);
	sum->reads += __atomic_load_n(&e->reads, __ATOMIC_RELAXED);
	sum->writes += __atomic_load_n(&e->writes, __ATOMIC_RELAXED);
	sum->lbas_read += __atomic_load_n(&e->lbas_read, __ATOMIC_RELAXED);
	sum->lbas_written += __atomic_load_n(&e->lbas_written, __ATOMIC_RELAXED);
}

void emu_counters_sum(const struct emu_ctrl *c, struct emu_counters *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (int i = 0; i < c->nengines; i++)
		emu_counters_add(sum, &c->engines[i].cnt);
	emu_counters_add(sum, &c->inline_retired);
	/* inline mode: the live SQs' own counters (SQs are deleted by the control thread only) */
	if (c->nengines == 0)
		for (unsigned q = 1; q <= c->o.max_qpairs; q++) {
			const struct emu_sq *sq = __atomic_load_n(&c->sqs[q], __ATOMIC_ACQUIRE);
			if (sq)
				emu_counters_add(sum, &sq->inline_cnt);
		}
}

void emu_ctrl_stats(const struct emu_ctrl *c, struct emu_stats *s)
{
	memset(s, 0, sizeof(*s));
	struct emu_counters sum;
	emu_counters_sum(c, &sum);
	s->io_cmds = sum.io_cmds;
	s->admin_cmds = __atomic_load_n(&c->admin_cmds, __ATOMIC_RELAXED);
	s->dropped = __atomic_load_n(&c->dropped, __ATOMIC_RELAXED);
	s->resets = __atomic_load_n(&c->resets, __ATOMIC_RELAXED);
}
