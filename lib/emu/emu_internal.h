/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal state of the software NVMe controller, shared by its source files. */
#ifndef AISIO_EMU_INTERNAL_H
#define AISIO_EMU_INTERNAL_H

#include <aisio/emu.h>
#include <aisio/nvme_ring.h>
#include <aisio/emu_admin.h>
#include <aisio/nvme_spec.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define EMU_MAX_NS 16
#define EMU_MAX_REGIONS 256
#define EMU_IOVA_SHIFT 40 /* iova = (region + 1) << 40 | offset */
#define EMU_MAX_ENGINES 64
#define EMU_PAGE_SHIFT 12
#define EMU_PAGE (1u << EMU_PAGE_SHIFT)

#define emu_load32(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define emu_store32(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define emu_unlikely(x) __builtin_expect(!!(x), 0)

struct emu_region {
	uint8_t *va;
	size_t len; /* 0 = free slot */
};

struct emu_ns {
	uint64_t nlba;
	uint8_t *data; /* RAM namespaces */
	int fd;        /* file namespaces */
};

struct emu_cq {
	struct nvme_cqe *ring;
	volatile uint32_t *head_db;
	uint32_t size;
	uint32_t tail;
	uint32_t head; /* last head read from the doorbell */
	uint16_t phase;
	uint16_t id;
	int engine;
};

struct emu_delayed {
	struct nvme_cqe cqe;
	uint64_t due_ns;
};

struct emu_sq {
	struct nvme_sqe *ring;
	volatile uint32_t *tail_db;
	struct emu_cq *cq;
	uint32_t size;
	uint32_t head;
	uint16_t id;
	struct emu_delayed *delayed; /* held back completions (delay fault) */
	unsigned ndelayed;
	struct emu_counters inline_cnt; /* inline mode: written by the one thread that polls this SQ (one writer) */
};

struct emu_engine {
	struct emu_ctrl *c;
	pthread_t thread;
	int idx;
	struct emu_sq **sqs;     /* max_qpairs slots */
	unsigned nsq;            /* published with release */
	uint64_t epoch;          /* bumped every sweep: safe-to-free point for the control thread */
	struct emu_counters cnt; /* I/O counters, written by this engine only */
	int stop;
};

struct emu_faults {
	int any;
	uint64_t err_slba, err_elba;
	uint16_t err_status;
	uint64_t drop_slba, drop_elba;
	uint64_t delay_slba, delay_elba;
	unsigned delay_us;
};

struct emu_ctrl {
	struct emu_opts o;
	/* register file */
	int bar_fd;
	uint8_t *bar;
	size_t bar_len;
	uint32_t db_stride;  /* bytes */
	int *db_fds;         /* per qid: the memfd of its doorbell pages once handed out (stride >= a page), else -1 */
	uint32_t mdts_bytes; /* 0 = no limit */
	/* namespaces */
	struct emu_ns ns[EMU_MAX_NS + 1];
	/* DMA regions */
	struct emu_region regions[EMU_MAX_REGIONS];
	pthread_mutex_t region_lock;
	/* queues: index 0 is the admin queue; the admin server decides which exist */
	struct emu_sq **sqs;
	struct emu_cq **cqs;
	struct emu_admin *admin;
	/* threads */
	pthread_t ctl_thread;
	int ctl_stop;
	struct emu_engine *engines;
	int nengines;
	/* state */
	int epoch_sc; /* engines store their epochs seq_cst: no membarrier(2) here (emu_engines_quiesce) */
	int enabled;  /* seen CC.EN = 1 and set up the admin queue */
	int fatal;    /* CSTS.CFS set: no queue is served */
	uint64_t fatal_countdown;
	struct emu_faults faults;
	/* counters for logs */
	struct emu_counters inline_retired; /* inline mode: counters of deleted SQs (control thread) */
	uint64_t admin_cmds;
	uint64_t dropped;
	uint64_t resets;
};

/* emu_ctrl.c */
void *emu_iova_to_va(const struct emu_ctrl *c, uint64_t iova, size_t len);
void emu_csts_set(struct emu_ctrl *c, uint32_t set, uint32_t clear);
void emu_post_cqe(struct emu_cq *cq, struct emu_sq *sq, uint16_t cid, uint32_t dw0, uint16_t status);
int emu_cq_full(struct emu_cq *cq);

/* emu_io.c */
typedef int (*emu_seg_fn)(void *ctx, uint8_t *va, uint32_t len);
uint16_t emu_prp_for_each(struct emu_ctrl *c, uint64_t prp1, uint64_t prp2, uint32_t len, emu_seg_fn fn, void *ctx);
uint16_t emu_prp_copy(struct emu_ctrl *c, uint64_t prp1, uint64_t prp2, void *buf, uint32_t len, int to_host);
unsigned emu_serve_sq(struct emu_ctrl *c, struct emu_sq *sq, struct emu_counters *cnt);
void emu_counters_sum(const struct emu_ctrl *c, struct emu_counters *sum);
void emu_counters_add(struct emu_counters *sum, const struct emu_counters *e);
void *emu_engine_main(void *arg);

#endif
