/* SPDX-License-Identifier: BSD-3-Clause */
/* I/O command execution, PRP walking and the engine threads that serve I/O queues. */
#include <aisio/clock.h>
#include "emu_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One writer per counter; relaxed stores so readers on other threads see whole values. */
#define EMU_COUNT(field, n) __atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)

/* PRPs name IOVAs of registered DMA regions; anything else is a Data Transfer Error. */
static void *emu_prp_map(const void *ctx, uint64_t bus, uint32_t len)
{
	return emu_iova_to_va(ctx, bus, len);
}

/* Pages resolved per step of the walk: a page's worth of pointers on the stack. */
#define EMU_PRP_CHUNK 512

/*
 * Call fn on each piece of memory the PRPs of len bytes name, in order, as the
 * spec walks them (nvme_prp_walk_next: PRP1 with its offset, PRP2 as the second
 * page or a list pointer, lists chained through their last entry). Data before a
 * bad entry is moved, as a controller that fetches in order would.
 */
uint16_t emu_prp_for_each(struct emu_ctrl *c, uint64_t prp1, uint64_t prp2, uint32_t len, emu_seg_fn fn, void *ctx)
{
	struct nvme_prp_walk w;
	uint64_t seg[EMU_PRP_CHUNK];
	nvme_prp_walk_init(&w, prp1, prp2, len, EMU_PAGE_SHIFT);
	for (uint32_t page = 0;;) {
		uint32_t got;
		uint16_t st = nvme_prp_walk_next(&w, emu_prp_map, c, seg, EMU_PRP_CHUNK, &got, 0, 1);
		for (uint32_t i = 0; i < got; i++, page++)
			if (fn(ctx, (uint8_t *)(uintptr_t)seg[i], nvme_prp_page_len(prp1, len, page, EMU_PAGE_SHIFT)))
				return NVME_SC_INTERNAL;
		if (st || !nvme_prp_walk_left(&w))
			return st;
	}
}

struct emu_copy {
	uint8_t *buf; /* RAM: namespace bytes; admin: bounce buffer */
	int fd;       /* file namespaces, else -1 */
	uint64_t off; /* file offset */
	int to_host;
};

static int emu_copy_seg(void *ctx, uint8_t *va, uint32_t len)
{
	struct emu_copy *x = ctx;
	if (x->fd >= 0) {
		ssize_t r = x->to_host ? pread(x->fd, va, len, (off_t)x->off) : pwrite(x->fd, va, len, (off_t)x->off);
		if (r < 0)
			return -1;
		if (x->to_host && (uint32_t)r < len)
			memset(va + r, 0, len - (uint32_t)r); /* past the end of a sparse file */
		else if (!x->to_host && (uint32_t)r < len)
			return -1;
		x->off += len;
		return 0;
	}
	if (x->to_host)
		memcpy(va, x->buf, len);
	else
		memcpy(x->buf, va, len);
	x->buf += len;
	return 0;
}

uint16_t emu_prp_copy(struct emu_ctrl *c, uint64_t prp1, uint64_t prp2, void *buf, uint32_t len, int to_host)
{
	struct emu_copy x = {.buf = buf, .fd = -1, .to_host = to_host};
	return emu_prp_for_each(c, prp1, prp2, len, emu_copy_seg, &x);
}

static void emu_zero_range(struct emu_ctrl *c, struct emu_ns *ns, uint64_t slba, uint64_t nlb)
{
	uint64_t off = slba << c->o.lba_shift, len = nlb << c->o.lba_shift;
	if (ns->data) {
		memset(ns->data + off, 0, len);
	} else if (ns->fd >= 0) {
		uint32_t nsidx = (uint32_t)(ns - c->ns) - 1;
		off += (uint64_t)nsidx * (ns->nlba << c->o.lba_shift);
		if (fallocate(ns->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0) {
			static const uint8_t zero[4096];
			for (uint64_t done = 0; done < len;) {
				size_t n = len - done < sizeof(zero) ? (size_t)(len - done) : sizeof(zero);
				if (pwrite(ns->fd, zero, n, (off_t)(off + done)) <= 0)
					break;
				done += n;
			}
		}
	}
}

/* [a, b] is off when b < a. */
static int emu_overlaps(uint64_t slba, uint64_t nlb, uint64_t a, uint64_t b)
{
	return a <= b && slba <= b && slba + nlb - 1 >= a;
}

/* Fault rules for an LBA range: returns an error status, or sets *drop / *delay_us. */
static uint16_t emu_faults_check(struct emu_ctrl *c, uint64_t slba, uint64_t nlb, int *drop, unsigned *delay_us)
{
	struct emu_faults *f = &c->faults;
	if (emu_overlaps(slba, nlb, f->err_slba, __atomic_load_n(&f->err_elba, __ATOMIC_ACQUIRE)))
		return f->err_status;
	if (emu_overlaps(slba, nlb, f->drop_slba, __atomic_load_n(&f->drop_elba, __ATOMIC_ACQUIRE)))
		*drop = 1;
	if (emu_overlaps(slba, nlb, f->delay_slba, f->delay_elba))
		*delay_us = __atomic_load_n(&f->delay_us, __ATOMIC_ACQUIRE);
	return 0;
}

static uint16_t emu_dsm(struct emu_ctrl *c, struct emu_ns *ns, const struct nvme_sqe *sqe)
{
	uint32_t nr = (sqe->cdw10 & 0xff) + 1;
	struct nvme_dsm_range r[256];
	uint16_t st = emu_prp_copy(c, sqe->prp1, sqe->prp2, r, nr * (uint32_t)sizeof(r[0]), 0);
	if (st)
		return st;
	for (uint32_t i = 0; i < nr; i++)
		if (r[i].slba + r[i].nlb > ns->nlba || r[i].slba + r[i].nlb < r[i].slba)
			return NVME_SC_LBA_RANGE;
	if (sqe->cdw11 & NVME_DSM_ATTR_DEALLOCATE)
		for (uint32_t i = 0; i < nr; i++)
			if (r[i].nlb)
				emu_zero_range(c, ns, r[i].slba, r[i].nlb); /* deallocated blocks read as zeroes */
	return NVME_SC_SUCCESS;
}

/* Execute one I/O command. *drop / *delay_us report injected completion faults. */
static inline uint16_t emu_io_cmd(struct emu_ctrl *c, const struct nvme_sqe *sqe, struct emu_counters *cnt, int *drop,
				  unsigned *delay_us)
{
	uint8_t opc = sqe->opc;
	uint32_t nsid = sqe->nsid;
	if (emu_unlikely(nsid == 0 || nsid > c->o.nr_ns))
		return NVME_SC_INVALID_NS;
	struct emu_ns *ns = &c->ns[nsid];
	if (emu_unlikely(sqe->flags & 0xc0))
		return NVME_SC_INVALID_FIELD; /* SGLs not supported */

	if (opc == NVME_CMD_READ || opc == NVME_CMD_WRITE || opc == NVME_CMD_WRITE_ZEROES) {
		uint64_t slba = nvme_sqe_slba(sqe);
		uint32_t nlb = nvme_sqe_nlb(sqe);
		if (emu_unlikely(slba >= ns->nlba || nlb > ns->nlba - slba))
			return NVME_SC_LBA_RANGE;
		if (emu_unlikely(c->faults.any)) {
			uint16_t st = emu_faults_check(c, slba, nlb, drop, delay_us);
			if (st)
				return st;
		}
		if (opc == NVME_CMD_WRITE_ZEROES) {
			emu_zero_range(c, ns, slba, nlb);
			return NVME_SC_SUCCESS;
		}
		uint32_t len = nlb << c->o.lba_shift;
		if (emu_unlikely(c->mdts_bytes && len > c->mdts_bytes))
			return NVME_SC_INVALID_FIELD;
		int to_host = opc == NVME_CMD_READ;
		if (to_host) {
			EMU_COUNT(cnt->reads, 1);
			EMU_COUNT(cnt->lbas_read, nlb);
		} else {
			EMU_COUNT(cnt->writes, 1);
			EMU_COUNT(cnt->lbas_written, nlb);
		}
		if (!ns->data && ns->fd < 0)
			return NVME_SC_SUCCESS; /* null namespace: no data moves */
		struct emu_copy x = {.fd = ns->fd, .to_host = to_host};
		if (ns->data)
			x.buf = ns->data + (slba << c->o.lba_shift);
		else
			x.off = ((uint64_t)(nsid - 1) * ns->nlba + slba) << c->o.lba_shift;
		return emu_prp_for_each(c, sqe->prp1, sqe->prp2, len, emu_copy_seg, &x);
	}
	if (opc == NVME_CMD_FLUSH) {
		if (ns->fd >= 0 && fdatasync(ns->fd) < 0)
			return NVME_SC_WRITE_FAULT;
		return NVME_SC_SUCCESS;
	}
	if (opc == NVME_CMD_DSM)
		return emu_dsm(c, ns, sqe);
	return NVME_SC_INVALID_OPCODE;
}

static void emu_post_delayed(struct emu_sq *sq, uint64_t now)
{
	for (unsigned i = 0; i < sq->ndelayed;) {
		struct emu_delayed *d = &sq->delayed[i];
		if (d->due_ns > now || emu_cq_full(sq->cq)) {
			i++;
			continue;
		}
		emu_post_cqe(sq->cq, sq, d->cqe.cid, d->cqe.dw0, NVME_CQE_STATUS(d->cqe.status));
		sq->delayed[i] = sq->delayed[--sq->ndelayed];
	}
}

/* Serve every new entry of one SQ (as far as its CQ has room). Returns entries consumed. */
unsigned emu_serve_sq(struct emu_ctrl *c, struct emu_sq *sq, struct emu_counters *cnt)
{
	if (emu_unlikely(sq->ndelayed))
		emu_post_delayed(sq, aisio_mono_ns());
	uint32_t tail = emu_load32(sq->tail_db);
	if (tail == sq->head || emu_unlikely(tail >= sq->size))
		return 0;
	struct emu_cq *cq = sq->cq;
	unsigned n = 0;
	while (sq->head != tail) {
		if (emu_unlikely(emu_cq_full(cq)))
			break;
		const struct nvme_sqe *sqe = &sq->ring[sq->head];
		uint16_t cid = sqe->cid;
		int drop = 0;
		unsigned delay_us = 0;
		uint16_t st = emu_io_cmd(c, sqe, cnt, &drop, &delay_us);
		if (++sq->head == sq->size)
			sq->head = 0;
		n++;
		if (emu_unlikely(c->o.fatal_after) && __atomic_load_n(&c->fatal_countdown, __ATOMIC_RELAXED) &&
		    __atomic_sub_fetch(&c->fatal_countdown, 1, __ATOMIC_RELAXED) == 0) {
			/* everything from here on is lost, as on a controller that died */
			emu_ctrl_fault_fatal(c);
			break;
		}
		if (emu_unlikely(st != 0))
			emu_admin_log_error(c->admin, sq->id, cid, st, nvme_sqe_slba(sqe), sqe->nsid);
		if (emu_unlikely(drop)) {
			__atomic_fetch_add(&c->dropped, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (emu_unlikely(delay_us) && sq->ndelayed < sq->size) {
			struct emu_delayed *d = &sq->delayed[sq->ndelayed++];
			d->cqe.cid = cid;
			d->cqe.dw0 = 0;
			d->cqe.status = (uint16_t)(st << 1);
			d->due_ns = aisio_mono_ns() + (uint64_t)delay_us * 1000u;
			continue;
		}
		emu_post_cqe(cq, sq, cid, 0, st);
	}
	EMU_COUNT(cnt->io_cmds, n);
	return n;
}

static void emu_engine_nap(unsigned us)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)us * 1000};
	nanosleep(&ts, NULL);
}

void *emu_engine_main(void *arg)
{
	struct emu_engine *e = arg;
	struct emu_ctrl *c = e->c;
	unsigned idle = 0;
	while (!__atomic_load_n(&e->stop, __ATOMIC_RELAXED)) {
		/* the nsq read below must come after this store is seen: a barrier from membarrier(2) in
		 * emu_engines_quiesce, or this store seq_cst where that is not available */
		if (__builtin_expect(c->epoch_sc, 0))
			__atomic_store_n(&e->epoch, e->epoch + 1, __ATOMIC_SEQ_CST);
		else
			__atomic_store_n(&e->epoch, e->epoch + 1, __ATOMIC_RELEASE);
		unsigned work = 0;
		if (!__atomic_load_n(&c->fatal, __ATOMIC_ACQUIRE)) {
			unsigned nsq = __atomic_load_n(&e->nsq, __ATOMIC_ACQUIRE);
			for (unsigned i = 0; i < nsq; i++) {
				struct emu_sq *sq = __atomic_load_n(&e->sqs[i], __ATOMIC_ACQUIRE);
				work += emu_serve_sq(c, sq, &e->cnt);
				work += sq->ndelayed;
			}
		}
		/* Spin while there is work; after ~1M empty sweeps nap, so idle engines
		 * leave the CPU to others (tests on small machines). */
		if (work)
			idle = 0;
		else if (++idle > (1u << 20))
			emu_engine_nap(20);
		else if ((idle & 0xffff) == 0)
			sched_yield();
	}
	return NULL;
}
