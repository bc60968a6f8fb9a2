/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark only: the switches of bench/gpu/aisio-ablate, the aisio tool built with -DAISIO_GPU_ABLATE
 * together with its own copy of the GPU layer (bench/gpu/meson.build). Each switch leaves out a piece
 * of per-command work, to measure what it costs (bench/gpu/owned_breakdown.sh, docs/PERFORMANCE.md).
 * The results are not valid I/O (cuda-verify refuses them). The library and the aisio tool have none
 * of this: no switch, no field, no branch.
 *
 * D: the owned-queue driver; REF selects the owned path as it was before its per-round work was cut
 * (gpu_ablate.cuh; the pieces apply to it). E: the gpuemu engine (lib/gpu/gpuemu_engine.cuh, its
 * AISIO_GPU_ABLATE branches).
 */
#ifndef AISIO_BENCH_GPU_ABLATE_H
#define AISIO_BENCH_GPU_ABLATE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GPU_ABLATE_D_SQE 0x1u      /* build and store only opc, cid, nsid, slba, nlb of the SQE */
#define GPU_ABLATE_D_PRP 0x2u      /* no request checks, no DMA-window translation, no PRP build */
#define GPU_ABLATE_D_CPL 0x4u      /* no completion records (write, post, read back, cid match) */
#define GPU_ABLATE_D_FENCE 0x8u    /* no fence between a CQE's phase and the rest of it */
#define GPU_ABLATE_D_SQFENCE 0x10u /* no per-lane fence after the SQE stores (lane 0's stays) */
#define GPU_ABLATE_D_SQHD 0x20u    /* no SQHD read; SQ head from a plain load */
#define GPU_ABLATE_D_REF 0x80u     /* the reference (previous) owned path */
#define GPU_ABLATE_E_FAULTS 0x1u   /* the engine reads no fault settings and checks none */
#define GPU_ABLATE_E_DECODE 0x2u   /* the engine reads only the command id and posts success */
#define GPU_ABLATE_E_SERIALDB 0x4u /* reference: SQ and CQ doorbells read one after the other */

/* --ablate LIST: names, comma separated (ref, sqe, prp, cpl, fence, sqfence, sqhd, driver; faults, decode,
 * serialdb), into driver and engine bits. One driver piece or all six; any driver name sets REF. */
int gpu_ablate_parse(const char *list, uint32_t *driver_bits, uint32_t *engine_bits);

struct gpu_ctrl;
/* Engine work to leave out (GPU_ABLATE_E_*), before gpu_ctrl_engine_start (lib/gpu/gpu_ctrl.c). */
void gpu_ctrl_set_ablate(struct gpu_ctrl *c, uint32_t engine_bits);

#ifdef __cplusplus
}
#endif

#endif /* AISIO_BENCH_GPU_ABLATE_H */
