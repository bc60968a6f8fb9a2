/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CPU engine of the emulated controller: host threads serve I/O queues whose rings, doorbells and
 * data buffers live in pinned host memory that GPU threads write through the mapping. This is the
 * system-scope half of the ordering story: the GPU fences with __threadfence_system() before its
 * doorbell writes, and this side loads doorbells with acquire and stores each CQE's phase word with
 * release, after the entry body and the data.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_internal.h"

struct gpu_cpu_engine {
	struct gpuemu_dev *d;
	unsigned nthreads;
	pthread_t *tid;
	unsigned *idx;
	unsigned long long cmds;
	int stop;
};

struct cpu_worker {
	struct gpu_cpu_engine *e;
	unsigned id;
};

static int cpu_in_window(const struct gpuemu_dev *d, uint64_t a, uint64_t len)
{
	uint64_t bus;
	return gpu_dma_translate(d->win, d->nwin, a, len, &bus) == 0;
}

/* PRP walk (with chained lists) calling copy for each piece. Returns an NVMe status. */
static uint16_t cpu_move(const struct gpuemu_dev *d, const struct nvme_sqe *c, uint8_t *nsp, uint64_t bytes, int to_ns)
{
	const uint64_t psz = 1ull << GPUEMU_PAGE_SHIFT, pmask = psz - 1;
	uint64_t prp1 = c->prp1;
	if (prp1 & 3)
		return NVME_SC_PRP_OFFSET_INVALID;
	uint32_t n = gpu_prp_npages(prp1, (uint32_t)bytes, GPUEMU_PAGE_SHIFT);
	uint64_t done = 0, lp = c->prp2;
	uint32_t li = 0, cap = 0;
	for (uint32_t k = 0; k < n; k++) {
		uint64_t a;
		if (k == 0) {
			a = prp1;
		} else if (n == 2) {
			a = c->prp2;
		} else {
			if (k == 1 || li == cap) {
				if (k > 1) /* the slot after the last entry we used chains to the next list page */
					lp = *(const uint64_t *)(uintptr_t)(lp + 8ull * li);
				if ((lp & 7) || !cpu_in_window(d, lp, 8))
					return NVME_SC_DATA_XFER_ERROR;
				uint32_t room = (uint32_t)((psz - (lp & pmask)) >> 3);
				cap = n - k <= room ? n - k : room - 1;
				li = 0;
			}
			a = *(const uint64_t *)(uintptr_t)(lp + 8ull * li++);
			if (a & pmask)
				return NVME_SC_PRP_OFFSET_INVALID;
		}
		uint64_t len = psz - (a & pmask);
		if (len > bytes - done)
			len = bytes - done;
		if (!cpu_in_window(d, a, len))
			return NVME_SC_DATA_XFER_ERROR;
		if (to_ns)
			memcpy(nsp + done, (const void *)(uintptr_t)a, len);
		else
			memcpy((void *)(uintptr_t)a, nsp + done, len);
		done += len;
	}
	return NVME_SC_SUCCESS;
}

static int cpu_serve(struct gpu_cpu_engine *e, uint32_t qi, unsigned long long *cmds)
{
	struct gpuemu_dev *d = e->d;
	struct gpuemu_queue *Q = &d->q[qi];
	if (__atomic_load_n(&Q->enabled, __ATOMIC_ACQUIRE) != 3)
		return 0;
	const uint16_t qid = (uint16_t)(qi + 1);
	uint32_t *sqdb = (uint32_t *)(d->bar + gpu_doorbell_offset(qid, 0, d->dstrd));
	uint32_t *cqdb = (uint32_t *)(d->bar + gpu_doorbell_offset(qid, 1, d->dstrd));
	/* acquire: the GPU fenced (system scope) between its SQE stores and this doorbell store */
	uint32_t tail = __atomic_load_n(sqdb, __ATOMIC_ACQUIRE);
	uint32_t head = Q->sq_head;
	if (tail >= Q->sq_size || tail == head)
		return 0;
	uint32_t cqh = __atomic_load_n(cqdb, __ATOMIC_ACQUIRE);
	uint32_t room = Q->cq_size - 1 - (Q->cq_tail + Q->cq_size - cqh) % Q->cq_size;
	int did = 0;
	while (head != tail && room) {
		struct nvme_sqe c;
		memcpy(&c, (const void *)(uintptr_t)(Q->sq_base + (uint64_t)head * 64), sizeof(c));
		head = (head + 1) % Q->sq_size;
		int moves, drop;
		uint16_t st = gpuemu_check_cmd(d, &d->f, &c, &moves, &drop);
		if (st == 0 && moves) {
			uint64_t slba = c.cdw10 | ((uint64_t)c.cdw11 << 32);
			uint64_t bytes = (uint64_t)((c.cdw12 & 0xffff) + 1) << d->lba_shift;
			uint8_t *nsp = d->ns_data + (slba << d->lba_shift);
			if (c.opc == NVME_CMD_WRITE_ZEROES)
				memset(nsp, 0, bytes);
			else
				st = cpu_move(d, &c, nsp, bytes, c.opc == NVME_CMD_WRITE);
		}
		(*cmds)++;
		did = 1;
		if (drop)
			continue;
		uint32_t *ce = (uint32_t *)(uintptr_t)(Q->cq_base + (uint64_t)Q->cq_tail * 16);
		ce[0] = 0;
		ce[1] = 0;
		ce[2] = head | ((uint32_t)qid << 16);
		/* release: data and entry body before the phase bit the GPU polls */
		__atomic_store_n(&ce[3], (uint32_t)c.cid | ((uint32_t)((uint32_t)st << 1 | Q->cq_phase) << 16),
				 __ATOMIC_RELEASE);
		if (++Q->cq_tail == Q->cq_size) {
			Q->cq_tail = 0;
			Q->cq_phase ^= 1;
		}
		room--;
	}
	Q->sq_head = head;
	return did;
}

static void *cpu_worker_main(void *arg)
{
	struct cpu_worker *w = arg;
	struct gpu_cpu_engine *e = w->e;
	unsigned long long cmds = 0;
	uint64_t idle = 0;
	while (!__atomic_load_n(&e->stop, __ATOMIC_ACQUIRE) && !__atomic_load_n(&e->d->ctl->stop, __ATOMIC_ACQUIRE)) {
		int busy = 0;
		uint32_t nq = __atomic_load_n(&e->d->nq, __ATOMIC_ACQUIRE);
		for (uint32_t qi = w->id; qi < nq; qi += e->nthreads)
			busy |= cpu_serve(e, qi, &cmds);
		if (!busy && ++idle > 4096) {
			/* no GPU doorbell moved in a while: stay responsive but give the core back now and then */
			sched_yield();
			idle = 0;
		}
	}
	__atomic_fetch_add(&e->cmds, cmds, __ATOMIC_RELAXED);
	free(w);
	return NULL;
}

int gpu_cpu_engine_start(struct gpu_cpu_engine **out, struct gpuemu_dev *dev_host, unsigned threads)
{
	struct gpu_cpu_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->d = dev_host;
	e->nthreads = threads ? threads : 1;
	e->tid = calloc(e->nthreads, sizeof(*e->tid));
	if (!e->tid) {
		free(e);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < e->nthreads; i++) {
		struct cpu_worker *w = malloc(sizeof(*w));
		int rc = ENOMEM;
		if (w) {
			w->e = e;
			w->id = i;
			rc = pthread_create(&e->tid[i], NULL, cpu_worker_main, w);
		}
		if (rc) {
			free(w);
			e->nthreads = i;
			gpu_cpu_engine_stop(e);
			return -rc;
		}
	}
	*out = e;
	return 0;
}

unsigned long long gpu_cpu_engine_stop(struct gpu_cpu_engine *e)
{
	if (!e)
		return 0;
	__atomic_store_n(&e->stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < e->nthreads; i++)
		pthread_join(e->tid[i], NULL);
	unsigned long long n = e->cmds;
	free(e->tid);
	free(e);
	return n;
}
