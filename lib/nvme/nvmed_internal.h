/* SPDX-License-Identifier: BSD-3-Clause */
/* Driver state shared by the nvmed source files. */
#ifndef AISIO_NVMED_INTERNAL_H
#define AISIO_NVMED_INTERNAL_H

#include <aisio/nvmed.h>

#include <pthread.h>
#include <stdbool.h>

#define NVMED_ADMIN_DEPTH 32

struct nvmed_ctrl {
	struct pci_dev *pci;
	pthread_mutex_t lock; /* admin queue, heap, qid map, qpair list */
	uint64_t cap;
	unsigned dstrd;
	unsigned mqes;
	unsigned ready_timeout_ms; /* CAP.TO */
	unsigned io_timeout_ms;
	unsigned admin_timeout_ms;
	unsigned nr_io_queues_wanted;
	unsigned max_qpairs; /* granted by Number of Queues */
	uint32_t max_xfer;
	struct dma_mem mem;
	struct dma_heap heap;
	int mem_mapped;
	struct nvmed_qpair *admin;
	void *admin_bounce; /* 16 KiB for admin data */
	struct nvme_id_ctrl idc;
	struct nvmed_ns ns[NVMED_MAX_NS + 1];
	unsigned nr_ns;
	uint8_t qid_used[NVMED_MAX_QPAIRS + 1];
	struct nvmed_qpair *qpairs[NVMED_MAX_QPAIRS + 1]; /* driver-owned queue pairs by qid */
	struct dma_mem *data_mem;                         /* the caller's data region, mapped; NULL when none */
};

/* The data region's translation, as queue pairs keep it. */
void nvmed_data_dma(const struct nvmed_ctrl *c, struct nvme_dma_map *out);

/* One caller I/O sent as several commands: its commands complete here, the caller once. */
struct nvmed_split {
	nvmed_cb cb;
	void *arg;
	int err;       /* the first failure */
	uint16_t left; /* commands not completed yet */
	/* what the commands added to the queue pair's counters, taken back at the end */
	uint16_t n_cqe, n_err, n_timeout, n_cancel;
	bool have_cqe;
	struct nvme_cqe cqe; /* of the first failure, else of the last command */
};

uint32_t nvmed_now_ms(void);
int nvmed_qpair_alloc(struct nvmed_ctrl *c, uint16_t qid, unsigned depth, struct nvmed_qpair **out);
void nvmed_qpair_release(struct nvmed_qpair *qp);
void nvmed_qpair_reinit(struct nvmed_qpair *qp);
void nvmed_qpair_cancel_all(struct nvmed_qpair *qp, int err);

#endif
