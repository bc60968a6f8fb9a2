/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * GPU layer, host side of the device-initiated driver: controllers driven by GPU threads, the I/O
 * queue pairs those threads use, and the mappings a real controller needs (BAR0, dma-buf).
 *
 * The device-side driver (what GPU threads call) is include/aisio/gpu_nvme.cuh;
 * this header holds what both sides share: the queue and namespace descriptors
 * that live in GPU memory, and the address arithmetic (doorbells, DMA windows)
 * as inline functions that compile for host and device alike, so the host unit
 * tests check exactly what the GPU runs. Ring counters, SQE/CQE fields and PRPs
 * are the CPU driver's too: aisio/nvme_ring.h. The GPU-resident emulated
 * controller (gpuemu: options, engine, faults, namespace stamps) is aisio/gpuemu.h.
 *
 * Ownership: gpu_ctrl_open returns a controller the caller closes; queue pairs,
 * buffers and the engine belong to it and are released by gpu_ctrl_close.
 * Thread-safety: one host thread drives a gpu_ctrl; GPU threads use the device
 * descriptors concurrently as gpu_nvme.cuh describes.
 * Errors: negative errno; a message naming the device through the log hook (aisio/log.h).
 */
#ifndef AISIO_GPU_H
#define AISIO_GPU_H

#include <stddef.h>
#include <stdint.h>

#include <aisio/hostdev.h>
#include <aisio/nvme_spec.h>

#ifdef __cplusplus
#include <cstddef>
#define GPU_OFFSET_ASSERT(t, f, off) static_assert(offsetof(t, f) == (off), #t "." #f " offset")
extern "C" {
#else
#define GPU_OFFSET_ASSERT(t, f, off) _Static_assert(offsetof(t, f) == (off), #t "." #f " offset")
#endif

/* ------------------------------------------------------------------------------------------------
 * Shared descriptors (GPU memory). Layout is identical for C and CUDA C++: fixed-width fields,
 * explicit padding, offsets asserted.
 * ---------------------------------------------------------------------------------------------- */

/* Completion record, one per command id. The reaper writes status and dw0, then moves state
 * INFLIGHT -> DONE; the waiter reads them and releases the id. A waiter that times out moves
 * INFLIGHT -> ABANDONED: the id then stays taken until the controller completes it late, when
 * the reaper frees it (NVMe forbids reusing the id of a command that may still complete). */
enum gpu_cpl_state { GPU_CPL_FREE = 0, GPU_CPL_INFLIGHT = 1, GPU_CPL_DONE = 2, GPU_CPL_ABANDONED = 3 };

struct gpu_nvme_cpl {
	uint32_t state;
	uint16_t status; /* SCT << 8 | SC */
	uint16_t rsvd;
	uint32_t dw0;
	uint32_t rsvd2;
};

/* Queue flags */
#define GPU_Q_SYS_SCOPE 0x1u /* rings or doorbells outside this GPU's memory: system-scope fences */
#define GPU_Q_OWNED 0x2u     /* one warp owns the queue (gpu_nvme_owned_* API): no locks, no atomics */

/*
 * One I/O queue pair as the GPU driver sees it. Counters (ticket, tail, head) run over all
 * 2^32 values; depth is a power of two, the slot of counter c is nvme_ring_slot(c, depth) and
 * the phase a valid CQE has there nvme_ring_phase(c, depth) (aisio/nvme_ring.h).
 */
struct gpu_nvme_queue {
	/* set by the host, constant while the queue is in use */
	struct nvme_sqe *sq;      /* SQ ring (device pointer) */
	struct nvme_cqe *cq;      /* CQ ring */
	uint32_t *sq_db;          /* SQ tail doorbell (device pointer into BAR0 or emulated BAR) */
	uint32_t *cq_db;          /* CQ head doorbell */
	struct gpu_nvme_cpl *cpl; /* ncid completion records */
	uint32_t *cid_map;        /* ncid / 32 words; bit set = id in use */
	uint32_t *sq_ready;       /* depth words: the ticket whose SQE sits in that slot */
	uint64_t *prp;            /* ncid PRP lists of prp_stride bytes each (device pointer, page aligned) */
	uint64_t prp_bus;         /* bus address of prp[0] */
	uint32_t prp_stride;      /* bytes of PRP list per command id (nvme_prp_list_bytes); 0 = no lists */
	uint32_t depth;           /* SQ and CQ entries, power of two */
	uint32_t ncid;            /* command ids, power of two, >= 32 */
	uint16_t qid;
	uint16_t flags;      /* GPU_Q_* */
	uint64_t timeout_ns; /* every bounded wait on this queue */
	uint32_t pad0[8];
	/* submission: many writers; each group on its own 128-byte line */
	uint32_t sq_ticket; /* next slot ticket */
	uint32_t pad1[31];
	uint32_t sq_tail; /* tickets below this are covered by a doorbell write */
	uint32_t db_lock; /* held by the thread writing the doorbell */
	uint32_t pad2[30];
	/* completion */
	uint32_t sq_head;                /* SQ entries the controller has consumed (from CQE SQHD) */
	uint32_t cq_head;                /* CQEs consumed */
	uint32_t cq_lock;                /* held by the thread reaping the CQ */
	int32_t failed;                  /* negative errno once the queue is unusable */
	unsigned long long sq_doorbells; /* statistics, written under the locks */
	unsigned long long cq_doorbells;
	unsigned long long completions;
	unsigned long long stray; /* CQEs with an unknown or idle command id */
	uint32_t pad3[20];
};
GPU_OFFSET_ASSERT(struct gpu_nvme_queue, sq_ticket, 128);
GPU_OFFSET_ASSERT(struct gpu_nvme_queue, sq_tail, 256);
GPU_OFFSET_ASSERT(struct gpu_nvme_queue, sq_head, 384);
NVME_STATIC_ASSERT(sizeof(struct gpu_nvme_queue) == 512, "queue descriptor is 512 bytes");

/* A contiguous range of memory the controller reaches at bus address bus + (va - this.va). */
struct gpu_dma_window {
	uint64_t va;
	uint64_t bus;
	uint64_t len;
};
#define GPU_MAX_WINDOWS 8

/* A namespace and the queues that reach it, as GPU threads see it (GPU memory). */
struct gpu_nvme_ns {
	struct gpu_nvme_queue *queues; /* nqueues descriptors (device pointer) */
	uint32_t nqueues;
	uint32_t nsid;
	uint32_t lba_shift;  /* log2 LBA data size */
	uint32_t page_shift; /* controller memory page size (CC.MPS), 12 */
	uint64_t nsze;       /* LBAs */
	uint32_t max_xfer;   /* bytes per command: MDTS and the PRP list room */
	uint32_t nwin;
	struct gpu_dma_window win[GPU_MAX_WINDOWS];
};

/* ------------------------------------------------------------------------------------------------
 * Address arithmetic shared by host and device (unit-tested on the host: tests/gpu/gpu_unit.c)
 * ---------------------------------------------------------------------------------------------- */

/* BAR0 offset of a queue's doorbell: SQ tail (cq = 0) or CQ head (cq = 1), stride 4 << dstrd. */
AISIO_HD uint32_t gpu_doorbell_offset(uint16_t qid, int cq, uint32_t dstrd)
{
	return cq ? NVME_CQ_HEAD_DB(qid, dstrd) : NVME_SQ_TAIL_DB(qid, dstrd);
}

/* Bytes of emulated or real BAR0 needed for doorbells of queues 0..max_qid. */
AISIO_HD uint32_t gpu_bar_len(uint16_t max_qid, uint32_t dstrd)
{
	return gpu_doorbell_offset(max_qid, 1, dstrd) + 4u;
}

/* Bus address of [va, va + len) through the windows; 0 when no single window holds it all. */
AISIO_HD int gpu_dma_translate(const struct gpu_dma_window *win, uint32_t nwin, uint64_t va, uint64_t len,
			       uint64_t *bus)
{
	for (uint32_t i = 0; i < nwin; i++) {
		const struct gpu_dma_window *w = &win[i];
		if (va >= w->va && len <= w->len && va - w->va <= w->len - len) {
			*bus = w->bus + (va - w->va);
			return 0;
		}
	}
	return -14; /* -EFAULT, spelled out: errno.h is not for every device compile */
}

/* ------------------------------------------------------------------------------------------------
 * Host API
 * ---------------------------------------------------------------------------------------------- */

/* 0 when a CUDA device is usable; otherwise -ENODEV and a reason in why (e.g. "no GPU: CUDA driver
 * not found"). Never aborts on a machine without a GPU or driver. */
int gpu_probe(char *why, size_t len);
/* One line naming the GPU (e.g. "NVIDIA H200, 132 SMs, driver 13.0"); "" when none. */
const char *gpu_name(void);

enum gpu_mem_place { GPU_PLACE_GPU = 0, GPU_PLACE_HOST = 1 };

struct gpu_ctrl;

struct gpu_qpair_opts {
	unsigned nqueues;      /* queue pairs to create */
	unsigned depth;        /* entries per queue, power of two (rounded up), 64 .. MQES + 1 */
	int place;             /* GPU_PLACE_*: SQ/CQ rings in GPU memory or pinned host memory */
	unsigned owned;        /* 1: queues for the per-warp-owned API (GPU_Q_OWNED) */
	uint32_t counter_base; /* initial ticket/head counters (a multiple of depth): tests use it to wrap 2^32 */
	uint32_t max_xfer;     /* largest command in bytes; 0 = the controller's limit, at most 1 MiB */
};

/* Open "gpuemu:..." (a PCI address: -EOPNOTSUPP for now, see docs/GPU.md; other kinds, homi:
 * among them: -EINVAL). */
int gpu_ctrl_open(struct gpu_ctrl **out, const char *devstr);
/* Stop the engine, delete the queues (SQ before CQ), free all memory. Safe after a GPU fault. */
void gpu_ctrl_close(struct gpu_ctrl *c);
const char *gpu_ctrl_name(const struct gpu_ctrl *c);
uint64_t gpu_ctrl_nsze(const struct gpu_ctrl *c);
unsigned gpu_ctrl_lba_shift(const struct gpu_ctrl *c);
/* Largest command in bytes the controller takes (MDTS). */
uint32_t gpu_ctrl_mdts_bytes(const struct gpu_ctrl *c);

/* Create I/O queue pairs through the controller's admin queue (Create I/O CQ, Create I/O SQ). */
int gpu_ctrl_qpairs_create(struct gpu_ctrl *c, const struct gpu_qpair_opts *o);
/* Device pointer of the namespace descriptor (nsid 1) with the queues; NULL before qpairs_create. */
const struct gpu_nvme_ns *gpu_ctrl_ns(const struct gpu_ctrl *c);
/* Host copy of the namespace descriptor (for sizes and limits). */
const struct gpu_nvme_ns *gpu_ctrl_ns_host(const struct gpu_ctrl *c);
/* Sum the queues' statistics (copies the descriptors back). */
int gpu_ctrl_queue_stats(struct gpu_ctrl *c, unsigned long long *sq_db, unsigned long long *cq_db,
			 unsigned long long *cpls, unsigned long long *stray, int *failed_queues);

/* Data buffer the controller can reach: GPU memory, or pinned host memory mapped into the GPU when the
 * controller's engine is the CPU. Freed by gpu_ctrl_close. */
void *gpu_ctrl_buf_alloc(struct gpu_ctrl *c, size_t len);

/* Engine and job steps of the host side: one timestamped message at debug level (include/aisio/log.h). */
void gpu_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* I/O timeout of every bounded GPU wait, ns: base (default 5 s) times AISIO_TIMEOUT_SCALE. */
uint64_t gpu_timeout_ns(uint64_t base_ns);

/* ---- real controllers (not yet run on hardware; docs/GPU.md) ---- */

/* Register a controller's BAR0 mapping (from pci/vfio) for GPU access (cudaHostRegister with
 * IoMemory) and return the doorbell device pointer of a queue. */
int gpu_bar_register(void *bar0, size_t len, void **dev_bar0);
void gpu_bar_unregister(void *bar0);
/* Export GPU memory [dptr, dptr + len) as a dma-buf fd (cuMemGetHandleForAddressRange), for the
 * kernel module that returns its bus address. */
int gpu_dmabuf_export(void *dptr, size_t len, int *fd);
/* cudaMalloc len bytes (rounded up to 2 MiB) and export them as a dma-buf fd (aisio perf --mem
 * cuda: data buffers of the CPU-driven NVMe driver in GPU memory); gpu_dmabuf_free after the fd's
 * users are done. */
int gpu_dmabuf_alloc(size_t len, void **dptr, int *fd);
void gpu_dmabuf_free(void *dptr);

#ifdef __cplusplus
}
#endif

#endif /* AISIO_GPU_H */
