/* SPDX-License-Identifier: BSD-3-Clause */
/* aisio-gpu's kernels: GPU threads submit the batch's NVMe reads themselves, then zero its gaps. */
#include <cuda_runtime.h>

#include <aisio/gpu_nvme.cuh>

#include "fil_gpu.h"

#define FIL_GPU_BLOCK 256

/* Warp w takes per_warp consecutive commands (one per lane) on queue (q0 + w) % nqueues: the warp API
 * submits them with one doorbell and reaps them together. A queue is served by one engine warp (and on
 * a real controller by one SQ fetch stream), so the host picks per_warp to spread a launch's commands
 * over the queues rather than filling one queue's 32 lanes. */
__global__ void __launch_bounds__(FIL_GPU_BLOCK)
	fil_gpu_read_kernel(const struct gpu_nvme_ns *ns, uint8_t *buf, struct fil_gpu_read *cmds, uint32_t n,
			    uint32_t per_warp, uint32_t q0)
{
	const uint32_t lane = threadIdx.x & 31;
	const uint64_t warp = ((uint64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
	const uint64_t warps = (uint64_t)gridDim.x * blockDim.x / 32;
	for (uint64_t w = warp; w * per_warp < n; w += warps) {
		const uint64_t i = w * per_warp + lane;
		const bool active = lane < per_warp && i < n;
		const uint32_t qi = (uint32_t)((q0 + w) % ns->nqueues);
		uint64_t dst = 0, slba = 0;
		uint32_t nlb = 0;
		if (active) {
			dst = cmds[i].dst;
			slba = cmds[i].slba;
			nlb = cmds[i].nlb;
		}
		uint16_t status = 0;
		const int rc = gpu_nvme_warp_rw(ns, qi, NVME_CMD_READ, active, buf + dst, slba, nlb, &status);
		if (active) {
			cmds[i].status = status;
			cmds[i].rc = rc;
		}
	}
}

/* One block per range: the tails are short, the holes rare. */
__global__ void __launch_bounds__(FIL_GPU_BLOCK)
	fil_gpu_zero_kernel(uint8_t *buf, const struct fil_gpu_zero *z, uint32_t n)
{
	for (uint32_t r = blockIdx.x; r < n; r += gridDim.x) {
		uint8_t *p = buf + z[r].dst;
		const uint64_t len = z[r].len;
		for (uint64_t i = threadIdx.x; i < len; i += blockDim.x)
			p[i] = 0;
	}
}

extern "C" int fil_gpu_launch_reads(const struct gpu_nvme_ns *ns, uint8_t *buf, struct fil_gpu_read *cmds, uint32_t n,
				    uint32_t per_warp, uint32_t q0, unsigned grid, void *stream)
{
	if (!n)
		return 0;
	if (per_warp < 1 || per_warp > 32)
		return -EINVAL;
	fil_gpu_read_kernel<<<grid, FIL_GPU_BLOCK, 0, (cudaStream_t)stream>>>(ns, buf, cmds, n, per_warp, q0);
	return cudaGetLastError() == cudaSuccess ? 0 : -EIO;
}

extern "C" int fil_gpu_launch_zero(uint8_t *buf, const struct fil_gpu_zero *z, uint32_t n, void *stream)
{
	if (!n)
		return 0;
	const uint32_t grid = n < 1024 ? n : 1024;
	fil_gpu_zero_kernel<<<grid, FIL_GPU_BLOCK, 0, (cudaStream_t)stream>>>(buf, z, n);
	return cudaGetLastError() == cudaSuccess ? 0 : -EIO;
}

extern "C" int fil_gpu_kernels_load(void)
{
	/* a function's attributes need its code: this loads both kernels now */
	struct cudaFuncAttributes a;
	return cudaFuncGetAttributes(&a, fil_gpu_read_kernel) == cudaSuccess &&
			       cudaFuncGetAttributes(&a, fil_gpu_zero_kernel) == cudaSuccess
		       ? 0
		       : -EIO;
}

extern "C" int fil_gpu_read_occupancy(int *blocks_per_sm)
{
	return cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks_per_sm, fil_gpu_read_kernel, FIL_GPU_BLOCK, 0) ==
			       cudaSuccess
		       ? 0
		       : -EIO;
}
