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

/* Pages resolved per step of the PRP walk. */
#define CPU_PRP_CHUNK 512

/* Move one command's data between the namespace and the pages its PRPs name (the shared walker, chained lists
 * included). Returns an NVMe status. */
static uint16_t cpu_move(const struct gpuemu_dev *d, const struct nvme_sqe *c, uint8_t *nsp, uint32_t bytes, int to_ns)
{
	struct nvme_prp_walk w;
	uint64_t seg[CPU_PRP_CHUNK];
	uint32_t done = 0, page = 0;
	nvme_prp_walk_init(&w, c->prp1, c->prp2, bytes, GPUEMU_PAGE_SHIFT);
	for (;;) {
		uint32_t got;
		uint16_t st = nvme_prp_walk_next(&w, gpuemu_prp_map, d, seg, CPU_PRP_CHUNK, &got, 0, 1);
		for (uint32_t i = 0; i < got; i++, page++) {
			uint32_t len = nvme_prp_page_len(c->prp1, bytes, page, GPUEMU_PAGE_SHIFT);
			void *host = (void *)(uintptr_t)seg[i];
			if (to_ns)
				memcpy(nsp + done, host, len);
			else
				memcpy(host, nsp + done, len);
			done += len;
		}
		if (st || !nvme_prp_walk_left(&w))
			return st;
	}
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
			uint64_t slba = nvme_sqe_slba(&c);
			uint32_t bytes = nvme_sqe_nlb(&c) << d->lba_shift;
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
		__atomic_store_n(&ce[3], nvme_cqe_dw3(c.cid, st, Q->cq_phase), __ATOMIC_RELEASE);
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
