/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aisio-gpu's work lists, shared by its host side (fil_gpu.c) and its kernels (fil_gpu.cu): the
 * host turns a part of a batch into read commands and zero ranges in pinned host memory mapped
 * into the GPU; the GPU reads them, and writes each command's result back beside it.
 */
#ifndef AISIO_FIL_GPU_INTERNAL_H
#define AISIO_FIL_GPU_INTERNAL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gpu_nvme_ns;

struct fil_gpu_read {
	uint64_t dst;  /* byte offset in the batch buffer */
	uint64_t slba; /* NVMe read of nlb LBAs */
	uint32_t nlb;
	int32_t rc;      /* written by the GPU: 0 or the device API's negative errno */
	uint16_t status; /* NVMe status (SCT << 8 | SC) when rc is -EIO */
	uint16_t rsvd[3];
};

struct fil_gpu_zero {
	uint64_t dst; /* byte offset in the batch buffer */
	uint64_t len;
};

/* Launch the reads on stream: warp w takes per_warp (1..32) consecutive commands on queue (q0 + w) %
 * nqueues; grid blocks of 256 threads (8 warps) go round until all n are done. 0, or -EIO when the launch
 * failed. */
int fil_gpu_launch_reads(const struct gpu_nvme_ns *ns, uint8_t *buf, struct fil_gpu_read *cmds, uint32_t n,
			 uint32_t per_warp, uint32_t q0, unsigned grid, void *stream);
/* Zero the ranges (after the reads, on the same stream). */
int fil_gpu_launch_zero(uint8_t *buf, const struct fil_gpu_zero *z, uint32_t n, void *stream);
/* Load both kernels' code now: where CUDA started before gpu_probe could ask for eager loading (torch in
 * the same process), a kernel loaded lazily while the gpuemu engine's persistent kernel runs would wait
 * for it forever. Call before the engine starts. */
int fil_gpu_kernels_load(void);
/* Blocks of 256 threads of the read kernel resident per SM. */
int fil_gpu_read_occupancy(int *blocks_per_sm);

#ifdef __cplusplus
}
#endif

#endif
