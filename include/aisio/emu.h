/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Software NVMe controller. Its BAR0 (registers and doorbells) is ordinary
 * memory in a memfd; a control thread watches CC and serves the admin queue,
 * engine threads serve the I/O queues (or, in inline mode, the driver's poll does).
 * DMA addresses are IOVAs handed out by emu_ctrl_dma_register.
 *
 * Spec string (what follows "emu:"):  TYPE[:SIZE][,opt=val]...
 *   TYPE   null (no data moves; default size 1T), ram (default 256M), file:PATH (size of the file)
 *   opts   see emu_opts_help()
 * The same parser and key table serve the GPU-resident controller's strings (gpuemu:, lib/gpu).
 *
 * Ownership: emu_ctrl_create returns a controller the caller destroys.
 * Thread-safety: registers and doorbells are written by one host thread each as
 * on real hardware; emu_ctrl_serve_sq only by the owner of that queue; the fault
 * setters from any thread.
 */
#ifndef AISIO_EMU_H
#define AISIO_EMU_H

#include <stddef.h>
#include <stdint.h>

#include <aisio/devstr.h>
#include <aisio/nvme_ring.h>

#ifdef __cplusplus
extern "C" {
#endif

struct emu_ctrl;

/* qpairs= of either model goes up to this. */
#define EMU_MAX_QPAIRS 1024

/* Namespace types: null for both models; ram, file for emu:; hbm (GPU memory), host (pinned host
 * memory) for gpuemu:. */
enum emu_ns_type { EMU_NS_NULL, EMU_NS_RAM, EMU_NS_FILE, EMU_NS_HBM, EMU_NS_HOST };
/* gpuemu: who serves the I/O queues (lib/gpu, docs/GPU.md). GPU: a persistent kernel beside the
 * clients' kernels; CPU: host threads; FUSED: the engine's blocks run inside each job's own launch and
 * stop when the job's blocks are done (for tools that serialize kernels or block on launches, such as
 * compute-sanitizer: nothing then runs beside the job). */
enum emu_engine_kind { EMU_ENGINE_GPU, EMU_ENGINE_CPU, EMU_ENGINE_FUSED };

/* Options of an emu: or gpuemu: string; also settable in code before create. Fields one model
 * does not use keep their defaults. */
struct emu_opts {
	enum devstr_kind kind; /* DEVSTR_EMU or DEVSTR_GPUEMU: the model the string is for */
	int ns_type;           /* enum emu_ns_type */
	uint64_t ns_bytes;     /* per namespace */
	char path[256];        /* file namespaces */
	unsigned lba_shift;    /* 9 or 12 */
	unsigned nr_ns;        /* namespaces 1..16 (gpuemu: 1) */
	unsigned mdts;         /* 2^mdts * 4 KiB; 0 = no limit */
	unsigned max_qpairs;   /* I/O queue pairs the controller grants */
	unsigned mqes;         /* 0's based max queue entries */
	int threads;           /* CPU engine threads; emu: 0 = inline; -1 = choose (before parse only) */
	unsigned dstrd;        /* doorbell stride 2^(2+dstrd) */
	unsigned cap_to;       /* emu: CAP.TO, 500 ms units */
	unsigned rdy_delay_ms; /* emu: how long CSTS.RDY takes to follow CC.EN */
	/* fault injection; a range whose elba is below its slba is off */
	uint64_t err_slba, err_elba;     /* commands touching [slba, elba] fail ... */
	uint16_t err_status;             /* ... with this status (SCT << 8 | SC) */
	uint64_t drop_slba, drop_elba;   /* completions for these LBAs never come */
	uint64_t delay_slba, delay_elba; /* emu: completions for these LBAs come late ... */
	unsigned delay_us;               /* ... by this much */
	uint64_t fatal_after;            /* emu: set CSTS.CFS after this many I/O commands; 0 = never */
	/* gpuemu only */
	int engine;     /* enum emu_engine_kind */
	unsigned sms;   /* engine blocks, one per SM (engine=gpu|fused) */
	unsigned warps; /* warps per engine block */
};

/* Parse the spec of a kind (DEVSTR_EMU or DEVSTR_GPUEMU: what follows "emu:" or "gpuemu:") into
 * opts, defaults filled first. -EINVAL with a message naming the kind on error. */
int emu_opts_parse(struct emu_opts *o, enum devstr_kind kind, const char *spec);
/* The grammar and every option of a kind with its range and default, for --help, written into buf
 * as snprintf does; returns the length of the whole text. */
size_t emu_opts_help(enum devstr_kind kind, char *buf, size_t len);

int emu_ctrl_create(struct emu_ctrl **out, const struct emu_opts *o);
void emu_ctrl_destroy(struct emu_ctrl *c);

/* The register file: BAR0 as the host sees it. */
volatile uint8_t *emu_ctrl_bar0(struct emu_ctrl *c, size_t *len);
/* Where another process maps the doorbells of I/O queue qid from. With a stride of a page or more
 * (dstrd >= 10) a fresh memfd of this queue's two doorbell pages, mapped into the BAR in their place,
 * so an earlier holder of the qid loses them; with a smaller stride the BAR's own memfd (every
 * register). The fd stays the controller's. Call before the queue is created. */
int emu_ctrl_doorbells(struct emu_ctrl *c, uint16_t qid, struct nvme_db_map *m);
/* True when no engine threads run: the host's poll must call emu_ctrl_serve_sq. */
int emu_ctrl_is_inline(const struct emu_ctrl *c);
/* Serve one I/O submission queue from the caller's thread (inline mode). */
void emu_ctrl_serve_sq(void *c, uint16_t sqid);

/* Make host memory reachable by the controller; returns its IOVA. */
int emu_ctrl_dma_register(struct emu_ctrl *c, void *va, size_t len, uint64_t *iova);
void emu_ctrl_dma_unregister(struct emu_ctrl *c, uint64_t iova);

/* Fault injection at run time (same meaning as the options). */
void emu_ctrl_fault_error(struct emu_ctrl *c, uint64_t slba, uint64_t elba, uint16_t status);
void emu_ctrl_fault_drop(struct emu_ctrl *c, uint64_t slba, uint64_t elba);
void emu_ctrl_fault_delay(struct emu_ctrl *c, uint64_t slba, uint64_t elba, unsigned us);
void emu_ctrl_fault_fatal(struct emu_ctrl *c); /* set CSTS.CFS now */
void emu_ctrl_fault_clear(struct emu_ctrl *c);

/* Counters for tests; not to be called while I/O queues are being deleted. */
struct emu_stats {
	uint64_t io_cmds;
	uint64_t admin_cmds;
	uint64_t dropped;
	uint64_t resets;
};
void emu_ctrl_stats(const struct emu_ctrl *c, struct emu_stats *s);

#ifdef __cplusplus
}
#endif

#endif /* AISIO_EMU_H */
