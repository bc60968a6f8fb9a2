/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The GPU-resident emulated NVMe controller (gpuemu), host side: the options of a "gpuemu:..." device
 * string, the engine that serves the I/O queues (a persistent GPU kernel, host threads, or blocks
 * fused into a job's own launch), fault injection, and the host CPU's stamping and checking of the
 * namespace. A gpuemu controller is a struct gpu_ctrl (aisio/gpu.h): it is opened, given queue pairs
 * and closed like any controller the GPU driver uses; what is here is what only the emulator has.
 *
 * Ownership, thread-safety and errors as in aisio/gpu.h: one host thread drives a gpu_ctrl; negative
 * errno, a message naming the device through the log hook (aisio/log.h).
 */
#ifndef AISIO_GPUEMU_H
#define AISIO_GPUEMU_H

#include <stdint.h>

#include <aisio/gpu.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A gpuemu string's options (namespace type, engine, queues, faults) are a struct emu_opts, parsed by
 * the emulated controllers' one parser (emu.h: emu_opts_parse, emu_opts_help with DEVSTR_GPUEMU). */
struct emu_opts;
const struct emu_opts *gpu_ctrl_emu_opts(const struct gpu_ctrl *c);

/* Start and stop the engine that serves the I/O queues. start waits until every engine block runs;
 * stop returns its command count. Bounded. */
int gpu_ctrl_engine_start(struct gpu_ctrl *c);
int gpu_ctrl_engine_stop(struct gpu_ctrl *c, unsigned long long *cmds);
/* engine=fused: the engine blocks a client's launch carries. The launch runs blocks [0, blocks) as
 * engine blocks on dev (the engine's state, a device pointer; lib/gpu/gpuemu_engine.cuh's
 * gpuemu_engine_block) with smem bytes of dynamic shared memory, and its own blocks after them. */
struct gpu_fused_engine {
	const void *dev;
	uint32_t blocks;
	uint32_t smem;
};
/* Before each launch of a client grid of grid blocks of block threads (whole warps): with engine=fused,
 * reset the engine's counts and fill *e; otherwise zero *e (nothing to carry). Call with no job running. */
int gpu_ctrl_fused_prepare(struct gpu_ctrl *c, unsigned grid, unsigned block, struct gpu_fused_engine *e);

/* Fault injection at run time: same meaning as the options. */
int gpu_ctrl_fault_error(struct gpu_ctrl *c, uint64_t slba, uint64_t elba, uint16_t status);
int gpu_ctrl_fault_drop(struct gpu_ctrl *c, uint64_t slba, uint64_t elba);
int gpu_ctrl_fault_clear(struct gpu_ctrl *c);

/* The host CPU writes the verify stamp of seed (aisio/stamp.h) into every LBA of the namespace (hbm: through
 * a staging buffer; host: in place), for reads before writes and for data written off the GPU path. Nothing
 * for a null namespace. Call with the engine stopped. */
int gpu_ctrl_ns_stamp(struct gpu_ctrl *c, uint64_t seed);
/* The host CPU checks nlb LBAs from slba of the namespace against the stamp of seed: the number of LBAs that
 * differ (first in *first_bad, may be NULL), or a negative errno. Call with no job running. */
long long gpu_ctrl_ns_check(struct gpu_ctrl *c, uint64_t seed, uint64_t slba, uint64_t nlb, uint64_t *first_bad);

/*
 * Serving another process's queues (homid's GPU-resident devices, engine=gpu only): the client's rings,
 * PRP lists and buffers are its own GPU memory, imported here by CUDA IPC; its doorbells are this
 * device's emulated BAR, which it imports. Bus addresses are this process's device addresses.
 * Releasing an import pauses the engine (bounded; CUDA's close waits for running kernels): other
 * clients' commands wait through the pause.
 */
struct gpu_ipc_handle {
	uint8_t bytes[64]; /* cudaIpcMemHandle_t */
};
/* 0 when this controller can serve other processes, else -EINVAL with the reason logged. */
int gpu_ctrl_serve_check(const struct gpu_ctrl *c);
int gpu_ctrl_bar_export(struct gpu_ctrl *c, struct gpu_ipc_handle *h, uint64_t *len, uint32_t *dstrd);
/* Import len bytes from the start of another process's allocation (-EINVAL when the handle is bad or
 * the allocation is shorter); *bus is where the controller reaches it. */
int gpu_ctrl_import(struct gpu_ctrl *c, const struct gpu_ipc_handle *h, uint64_t len, uint64_t *bus);
/* Release an import (delete the queues whose rings are there first). */
int gpu_ctrl_unimport(struct gpu_ctrl *c, uint64_t bus);
/* Create I/O queue pair qid (its CQ, then its SQ) through the admin queue, rings at bus addresses of an
 * import; remove deletes the SQ, then the CQ. */
int gpu_ctrl_qpair_add(struct gpu_ctrl *c, uint16_t qid, uint32_t entries, uint64_t sq_bus, uint64_t cq_bus);
int gpu_ctrl_qpair_remove(struct gpu_ctrl *c, uint16_t qid);
unsigned gpu_ctrl_max_qpairs(const struct gpu_ctrl *c);
unsigned gpu_ctrl_max_qdepth(const struct gpu_ctrl *c);
/* 1 while the engine serves (engine=gpu: its kernel still runs), 0 once it stopped or ended (its
 * watchdog, a fault). */
int gpu_ctrl_engine_running(const struct gpu_ctrl *c);

#ifdef __cplusplus
}
#endif

#endif /* AISIO_GPUEMU_H */
