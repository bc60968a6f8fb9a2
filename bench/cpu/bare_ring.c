/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The bare ring: the floor the driver is measured against. One thread drives
 * I/O queues of emulated controllers with no driver logic at all: no command-id
 * pool, no callbacks, no timeouts, no bounds checks, no PRP logic. Every SQE is
 * a copy of one 512 B read template with its cid and LBA changed; completions
 * are counted by phase and nothing else is read. The controllers, queues and
 * engine threads are the ones `aisio perf run` uses (the driver brings the
 * controllers up and its admin commands create the queues), so aisio / bare
 * ring is the cost of the driver itself.
 *
 * usage: bare_ring [--runtime S] [--qdepth N] [--cpu C] DEV...
 * Prints one JSON object.
 */
#include <aisio/nvmed.h>

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bare_q {
	struct nvme_sqe *sq;
	volatile struct nvme_cqe *cq;
	volatile uint32_t *sq_db;
	volatile uint32_t *cq_db;
	uint32_t depth;
	uint32_t tail;
	uint32_t head;
	uint16_t phase;
	uint32_t inflight;
	uint64_t done;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int bare_q_open(struct nvmed_ctrl *c, uint32_t depth, struct bare_q *q, uint64_t data_iova)
{
	size_t sq_len = (size_t)depth * sizeof(struct nvme_sqe), cq_len = (size_t)depth * sizeof(struct nvme_cqe);
	void *sq = nvmed_dma_alloc(c, sq_len), *cq = nvmed_dma_alloc(c, cq_len);
	if (!sq || !cq)
		return -ENOMEM;
	memset(sq, 0, sq_len);
	memset(cq, 0, cq_len);
	int qid = nvmed_qid_alloc(c);
	if (qid < 0)
		return qid;
	int rc = nvmed_admin_create_cq(c, (uint16_t)qid, depth, nvmed_dma_iova(c, cq));
	if (rc == 0)
		rc = nvmed_admin_create_sq(c, (uint16_t)qid, depth, nvmed_dma_iova(c, sq), (uint16_t)qid);
	if (rc < 0)
		return rc;
	unsigned dstrd = NVME_CAP_DSTRD(nvmed_ctrl_cap(c));
	volatile uint8_t *bar0 = nvmed_ctrl_pci(c)->bar0;
	*q = (struct bare_q){.sq = sq,
			     .cq = cq,
			     .depth = depth,
			     .phase = 1,
			     .sq_db = (volatile uint32_t *)(bar0 + NVME_SQ_TAIL_DB(qid, dstrd)),
			     .cq_db = (volatile uint32_t *)(bar0 + NVME_CQ_HEAD_DB(qid, dstrd))};
	for (uint32_t i = 0; i < depth; i++) {
		struct nvme_sqe *e = &q->sq[i];
		e->opc = NVME_CMD_READ;
		e->nsid = 1;
		e->prp1 = data_iova;
	}
	return 0;
}

/* Fill the queue to qdepth, ring once; reap what has completed, ring once. */
static inline void bare_q_round(struct bare_q *q, uint32_t qdepth, uint64_t *lba)
{
	uint32_t tail = q->tail, n = qdepth > q->inflight ? qdepth - q->inflight : 0;
	for (uint32_t i = 0; i < n; i++) {
		struct nvme_sqe *e = &q->sq[tail];
		e->cid = (uint16_t)tail;
		e->cdw10 = (uint32_t)*lba;
		*lba = (*lba + 8) & 0xfffff;
		if (++tail == q->depth)
			tail = 0;
	}
	if (n) {
		__atomic_thread_fence(__ATOMIC_RELEASE);
		*q->sq_db = tail;
		q->tail = tail;
		q->inflight += n;
	}
	uint32_t head = q->head, got = 0;
	uint16_t phase = q->phase;
	while ((__atomic_load_n(&q->cq[head].status, __ATOMIC_ACQUIRE) & 1u) == phase) {
		got++;
		if (++head == q->depth) {
			head = 0;
			phase ^= 1;
		}
	}
	if (got) {
		*q->cq_db = head;
		q->head = head;
		q->phase = phase;
		q->inflight -= got;
		q->done += got;
	}
}

int main(int argc, char **argv)
{
	double runtime = 5;
	uint32_t qdepth = 128;
	int cpu = 0, opt;
	static const struct option longopts[] = {{"runtime", required_argument, NULL, 't'},
						 {"qdepth", required_argument, NULL, 'q'},
						 {"cpu", required_argument, NULL, 'c'},
						 {NULL, 0, NULL, 0}};
	while ((opt = getopt_long(argc, argv, "t:q:c:", longopts, NULL)) != -1) {
		switch (opt) {
		case 't': runtime = strtod(optarg, NULL); break;
		case 'q': qdepth = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'c': cpu = atoi(optarg); break;
		default: fprintf(stderr, "usage: bare_ring [--runtime S] [--qdepth N] [--cpu C] DEV...\n"); return 2;
		}
	}
	int ndev = argc - optind;
	if (ndev < 1 || qdepth < 1 || qdepth > 1023 || runtime <= 0) {
		fprintf(stderr, "usage: bare_ring [--runtime S] [--qdepth 1..1023] [--cpu C] DEV...\n");
		return 2;
	}
	struct nvmed_ctrl **ctrl = calloc((size_t)ndev, sizeof(*ctrl));
	struct bare_q *qs = calloc((size_t)ndev, sizeof(*qs));
	if (!ctrl || !qs)
		return 1;
	for (int i = 0; i < ndev; i++) {
		int rc = nvmed_ctrl_open(&ctrl[i], argv[optind + i], NULL);
		if (rc < 0) {
			fprintf(stderr, "bare_ring: %s: %s\n", argv[optind + i], strerror(-rc));
			return 1;
		}
		void *data = nvmed_dma_alloc(ctrl[i], 4096);
		rc = data ? bare_q_open(ctrl[i], qdepth + 1, &qs[i], nvmed_dma_iova(ctrl[i], data)) : -ENOMEM;
		if (rc < 0) {
			fprintf(stderr, "bare_ring: %s: creating the queue: %s\n", argv[optind + i], strerror(-rc));
			return 1;
		}
	}
	/* Pinned after the controllers are up: their engine threads must not inherit the CPU. */
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	uint64_t lba = 0;
	double t0 = now_s(), t1 = t0;
	for (unsigned iter = 0;; iter++) {
		for (int i = 0; i < ndev; i++)
			bare_q_round(&qs[i], qdepth, &lba);
		if ((iter & 1023) == 0 && (t1 = now_s()) - t0 >= runtime)
			break;
	}
	uint64_t done = 0;
	for (int i = 0; i < ndev; i++)
		done += qs[i].done;
	/* Drain (bounded) so the controllers close with nothing in flight. */
	double td = now_s();
	for (int i = 0; i < ndev; i++)
		while (qs[i].inflight && now_s() - td < 5)
			bare_q_round(&qs[i], 0, &lba);
	for (int i = 0; i < ndev; i++)
		nvmed_ctrl_close(ctrl[i]);
	printf("{\"bench\":\"bare_ring\",\"queues\":%d,\"qdepth\":%u,\"iosize\":512,\"seconds\":%.3f,\"ios\":%llu,"
	       "\"iops\":%.0f}\n",
	       ndev, qdepth, t1 - t0, (unsigned long long)done, done / (t1 - t0));
	free(ctrl);
	free(qs);
	return 0;
}
