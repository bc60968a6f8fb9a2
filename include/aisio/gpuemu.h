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

#ifdef __cplusplus
}
#endif

#endif /* AISIO_GPUEMU_H */
