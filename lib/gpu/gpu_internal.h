/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * GPU layer internals shared by the host C files and the CUDA files: the gpuemu controller's
 * device-visible state and the launchers exported by the .cu files (extern "C").
 */
#ifndef AISIO_GPU_INTERNAL_H
#define AISIO_GPU_INTERNAL_H

#include <stdint.h>

#include <aisio/emu.h>
#include <aisio/gpuemu.h>
#include <aisio/nvme_ring.h>

#ifdef AISIO_GPU_ABLATE
#include "gpu_ablate.h" /* bench/gpu: the engine's ablation switches */
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct emu_admin;
struct gpu_cpu_engine;
struct gpu_remote;

#define GPUEMU_MAX_QUEUES 1024
#define GPUEMU_MAX_WINDOWS 16
#define GPUEMU_MAX_XFER (4u << 20) /* MDTS 0 and the largest MDTS (10): the engine's page tables hold 1025 pages */
#define GPUEMU_PAGE_SHIFT 12

/* One I/O queue pair as the engine sees it (index qid - 1). Host writes the static fields and the
 * initial engine state before it sets enabled; the engine alone writes sq_head..cmds afterwards. */
struct gpuemu_queue {
	uint64_t sq_base; /* bus address = device pointer (UVA) */
	uint64_t cq_base;
	uint32_t sq_size; /* entries */
	uint32_t cq_size;
	uint32_t enabled; /* bit 0: SQ created, bit 1: CQ created; served when both */
	uint32_t sys;     /* rings in host memory: system-scope fences */
	uint32_t sq_head; /* engine-private from here on */
	uint32_t cq_tail;
	uint32_t cq_phase;
	uint32_t pad;
	unsigned long long cmds;
	uint32_t pad2[2];
};
NVME_STATIC_ASSERT(sizeof(struct gpuemu_queue) == 64, "engine queue entry is 64 bytes");

/* Control block in pinned host memory, mapped into the GPU. The GPU writes it with plain stores only
 * (one slot per engine block): system-scope atomics on host memory need PCIe atomics, which a
 * machine may lack (compute-sanitizer reports them as invalid there). */
#define GPUEMU_MAX_BLOCKS 1024
struct gpuemu_ctl_blk {
	uint32_t started; /* the block entered its loop */
	uint32_t exited;
	uint32_t watchdog; /* the block stopped because its lifetime ran out */
	uint32_t pad;
	unsigned long long cmds;
	unsigned long long dropped;
};
struct gpuemu_ctl {
	uint32_t stop; /* the host's stop flag, a plain CPU store (both engines read it) */
	uint32_t pad[3];
	struct gpuemu_ctl_blk blk[GPUEMU_MAX_BLOCKS];
};

struct gpuemu_faults {
	uint64_t err_slba, err_elba; /* elba < slba: off */
	uint64_t drop_slba, drop_elba;
	uint32_t err_status;
	uint32_t pad;
};

/* Engine state (GPU memory for the GPU engine, host memory for the CPU engine). */
struct gpuemu_dev {
	struct gpuemu_queue *q; /* GPUEMU_MAX_QUEUES entries */
	uint8_t *bar;           /* doorbells: offsets from gpu_doorbell_offset() */
	struct gpuemu_ctl *ctl; /* device pointer of the mapped control block */
	uint8_t *ns_data;       /* namespace memory (device pointer), NULL for null */
	uint64_t nsze;
	uint32_t lba_shift;
	uint32_t max_xfer; /* bytes per command (MDTS) */
	uint32_t dstrd;
	uint32_t nq; /* queue entries to look at: highest qid created */
	uint32_t nwin;
	uint32_t warps;       /* per block */
	uint64_t lifetime_ns; /* watchdog: the engine stops by itself after this long */
	uint32_t stop;        /* engine warps leave their loop. Set by warp 0 of each engine
				     * block when it sees ctl->stop (the host's flag): in GPU memory,
				     * because hundreds of warps polling one host-memory word over PCIe
				     * slowed every engine warp down several times (measured) */
	uint32_t fused_done;  /* engine=fused: client blocks of the job that finished */
#ifdef AISIO_GPU_ABLATE
	uint32_t ablate; /* bench/gpu/aisio-ablate only: GPU_ABLATE_E_* */
	uint32_t pad_ablate;
#endif
	struct gpu_dma_window win[GPUEMU_MAX_WINDOWS]; /* memory PRPs may point at (bus == va) */
	struct gpuemu_faults f;
};

#define GPU_MAX_ALLOCS 64

struct gpu_alloc {
	void *p;
	int host; /* cudaFreeHost rather than cudaFree */
};

/* A controller the GPU driver uses: an emulator here (gpuemu), or a client of homid's (remote). */
struct gpu_ctrl {
	char name[160];
	struct emu_opts o;
	uint64_t timeout_ns;
	/* engine state: shadow here, the engine's copy in dev_d (GPU engine) */
	struct gpuemu_dev dev_h;
	struct gpuemu_dev *dev_d;
	struct gpuemu_queue *qtab_h; /* shadow of the engine's queue table */
	struct gpuemu_queue *qtab_e; /* the engine's (device pointer, or host memory for the CPU engine) */
	struct gpuemu_ctl *ctl_h;    /* pinned, mapped */
	uint8_t *bar_h;              /* host view of the emulated BAR (CPU engine) */
	void *ns_host;               /* host view of a host namespace */
	struct gpu_alloc allocs[GPU_MAX_ALLOCS];
	unsigned nallocs;
	struct emu_admin *admin; /* the admin commands' server (lib/emu) */
	uint32_t mdts_bytes;
	/* queues */
	unsigned nq;
	struct gpu_nvme_queue *queues_h;
	struct gpu_nvme_queue *queues_d;
	struct gpu_nvme_ns ns_h;
	struct gpu_nvme_ns *ns_d;
	/* engine */
	void *stream;
	int running;
	unsigned blocks;
	struct gpu_cpu_engine *cpu;
	int faulted;
	unsigned long long fused_cmds; /* engine=fused: commands of the jobs before the last one */
	int fused_jobs;                /* engine=fused: a job was prepared since the engine started */
	/* serving other processes (gpu_ctrl_import): their allocations, mapped here by CUDA IPC */
	struct gpu_import {
		void *p; /* NULL: free slot */
		uint64_t len;
	} imports[GPUEMU_MAX_WINDOWS];
	unsigned long long paused_cmds; /* commands served before the engine was paused for an import */
	/* a client of homid's GPU-resident device (gpu_remote.c) instead of an emulator here */
	struct gpu_remote *remote;
};

/* Where one queue pair of the GPU driver lives (gpu_queue_init). */
struct gpu_queue_place {
	void *sq, *cq;
	uint32_t *sq_db, *cq_db;
	uint8_t *state; /* gpu_queue_state_bytes(depth) of GPU memory: records, id map, ready marks */
	uint64_t *prp;  /* the PRP list areas of its command ids, and their bus address */
	uint64_t prp_bus;
	uint32_t prp_stride;
	uint32_t depth; /* entries, and command ids */
	uint16_t qid;
	uint16_t flags; /* GPU_Q_* */
	uint32_t base;  /* initial counters */
};

/* Shared by the emulator's queue pairs and a homid client's (gpu_remote.c). */
int gpu_queue_depth(struct gpu_ctrl *c, unsigned want, uint32_t mqes, uint32_t *depth);
size_t gpu_queue_state_bytes(uint32_t depth);
uint32_t *gpu_queue_ready_marks(uint32_t depth, uint32_t base); /* malloc'd; the caller frees */
int gpu_queue_init(struct gpu_ctrl *c, struct gpu_nvme_queue *q, const struct gpu_queue_place *p,
		   const uint32_t *ready);
void *gpu_ctrl_dev_alloc(struct gpu_ctrl *c, size_t len); /* cudaMalloc'd, zeroed, freed at close */
int gpu_ctrl_cuda_rc(struct gpu_ctrl *c, int cuda_error, const char *what);

/* A client of homid's GPU-resident device (gpu_remote.c): what gpu_ctrl_open("homi:...") returns. */
int gpu_remote_open(struct gpu_ctrl *c, const char *name, const char *socket, uint32_t nsid);
int gpu_remote_qpairs_create(struct gpu_ctrl *c, const struct gpu_qpair_opts *qo);
void *gpu_remote_buf_alloc(struct gpu_ctrl *c, size_t len);
void gpu_remote_close(struct gpu_ctrl *c); /* the queues released, regions unregistered, disconnected */

/* Launchers (gpuemu_engine.cu). stream is a cudaStream_t. */
int gpuemu_engine_launch(const struct gpuemu_dev *dev_d, unsigned blocks, unsigned warps, void *stream,
			 size_t *smem_out);
/* Blocks of the engine kernel that fit on one SM with the shared memory it takes for commands of up to
 * max_xfer bytes (a page table per warp). */
int gpuemu_engine_occupancy(unsigned warps, uint32_t max_xfer, int *blocks_per_sm);

/* CPU engine (gpu_cpu_engine.c): threads serving queues in pinned host memory. */
struct gpu_cpu_engine;
int gpu_cpu_engine_start(struct gpu_cpu_engine **out, struct gpuemu_dev *dev_host, unsigned threads);
unsigned long long gpu_cpu_engine_stop(struct gpu_cpu_engine *e);

/* Command decode shared by the GPU and the CPU engine: NVMe status (SCT << 8 | SC) and whether the
 * command moves data (*moves) or loses its completion (*drop, fault injection). */
AISIO_HD uint16_t gpuemu_check_cmd(const struct gpuemu_dev *d, const struct gpuemu_faults *f, const struct nvme_sqe *c,
				   int *moves, int *drop)
{
	*moves = 0;
	*drop = 0;
	if (c->nsid != 1)
		return NVME_SC_INVALID_NS;
	if (c->opc == NVME_CMD_FLUSH)
		return NVME_SC_SUCCESS;
	if (c->opc != NVME_CMD_READ && c->opc != NVME_CMD_WRITE && c->opc != NVME_CMD_WRITE_ZEROES)
		return NVME_SC_INVALID_OPCODE;
	uint64_t slba = nvme_sqe_slba(c);
	uint32_t nlb = nvme_sqe_nlb(c);
	if (slba >= d->nsze || nlb > d->nsze - slba)
		return NVME_SC_LBA_RANGE;
	if (c->opc != NVME_CMD_WRITE_ZEROES && ((uint64_t)nlb << d->lba_shift) > d->max_xfer)
		return NVME_SC_INVALID_FIELD;
	uint64_t elba = slba + nlb - 1;
	if (f->drop_elba >= f->drop_slba && slba <= f->drop_elba && elba >= f->drop_slba)
		*drop = 1;
	if (f->err_elba >= f->err_slba && slba <= f->err_elba && elba >= f->err_slba)
		return (uint16_t)f->err_status;
	*moves = d->ns_data != 0;
	return NVME_SC_SUCCESS;
}

/* PRP walker memory for both engines (nvme_prp_walk_next): bus address == device address inside the DMA
 * windows, nothing outside them (the command fails with Data Transfer Error instead of a fault). */
AISIO_HD void *gpuemu_prp_map(const void *ctx, uint64_t bus, uint32_t len)
{
	const struct gpuemu_dev *d = (const struct gpuemu_dev *)ctx;
	uint64_t b;
	return gpu_dma_translate(d->win, d->nwin, bus, len, &b) == 0 ? (void *)(uintptr_t)bus : NULL;
}

#ifdef __cplusplus
}
#endif

#endif
