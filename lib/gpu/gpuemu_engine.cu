/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * GPU-resident emulated NVMe controller: the persistent engine kernel (engine=gpu) around the engine
 * blocks of gpuemu_engine.cuh, and its launch.
 */
#include "gpuemu_engine.cuh"

__global__ void __launch_bounds__(512, 1) gpuemu_engine(const struct gpuemu_dev *d)
{
	extern __shared__ uint64_t eng_smem[];
	gpuemu_engine_block(d, blockIdx.x, gridDim.x, eng_smem, 0);
}

static size_t engine_smem(unsigned warps, uint32_t max_xfer)
{
	int dev = 0, optin = 0;
	cudaGetDevice(&dev);
	cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
	size_t need = (size_t)warps * (max_xfer / (1u << GPUEMU_PAGE_SHIFT) + 1) * 8;
	/* take the whole SM's shared memory: one engine block per SM, and the clients' blocks (which
	 * ask for some shared memory) cannot land on an engine SM */
	size_t want = optin > 1024 ? (size_t)optin - 1024 : need; /* room for the kernel's static shared memory */
	return want < need ? need : want;
}

extern "C" int gpuemu_engine_launch(const struct gpuemu_dev *dev_d, unsigned blocks, unsigned warps, void *stream,
				    size_t *smem_out)
{
	struct gpuemu_dev h;
	if (cudaMemcpy(&h, dev_d, sizeof(h), cudaMemcpyDeviceToHost) != cudaSuccess)
		return -EIO;
	size_t smem = engine_smem(warps, h.max_xfer);
	if (blocks > GPUEMU_MAX_BLOCKS)
		return -EINVAL;
	if (cudaFuncSetAttribute(gpuemu_engine, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) != cudaSuccess)
		return -EINVAL;
	gpuemu_engine<<<blocks, warps * 32, smem, (cudaStream_t)stream>>>(dev_d);
	if (cudaGetLastError() != cudaSuccess)
		return -EIO;
	if (smem_out)
		*smem_out = smem;
	return 0;
}

extern "C" int gpuemu_engine_occupancy(unsigned warps, uint32_t max_xfer, int *blocks_per_sm)
{
	size_t smem = engine_smem(warps, max_xfer);
	if (cudaFuncSetAttribute(gpuemu_engine, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) != cudaSuccess)
		return -EINVAL;
	if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks_per_sm, gpuemu_engine, warps * 32, smem) !=
	    cudaSuccess)
		return -EIO;
	return 0;
}
