/* SPDX-License-Identifier: BSD-3-Clause */
/* Single-command kernels for the GPU tests: one thread (or one warp) and a result to check. */
#include <cuda_runtime.h>
#include <errno.h>

#include <aisio/gpu_nvme.cuh>

#include "gpu_test.h"

__global__ void k_one(const struct gpu_nvme_ns *ns, struct gpu_test_cmd *c)
{
	uint16_t st = 0;
	if (c->mode == GPU_TEST_SYNC) {
		c->rc = gpu_nvme_rw(ns, c->qi, (uint8_t)c->opc, c->buf, c->slba, c->nlb, &st);
	} else if (c->mode == GPU_TEST_ASYNC) {
		struct gpu_nvme_handle h;
		c->rc = gpu_nvme_submit(ns, c->qi, (uint8_t)c->opc, c->buf, c->slba, c->nlb, &h);
		if (c->rc == 0) {
			int polls = 0, rc;
			while ((rc = gpu_nvme_poll(&h, &st)) == -EAGAIN)
				polls++;
			c->rc = rc;
			c->polls = polls;
		}
	} else {
		/* warp APIs: lane 0 does the command, the other lanes ride along inactive */
		bool lead = (threadIdx.x & 31) == 0;
		int rc;
		if (c->mode == GPU_TEST_OWNED)
			rc = gpu_nvme_owned_rw(ns, &ns->queues[c->qi], (uint8_t)c->opc, lead, c->buf, c->slba, c->nlb,
					       &st);
		else
			rc = gpu_nvme_warp_rw(ns, c->qi, (uint8_t)c->opc, lead, c->buf, c->slba, c->nlb, &st);
		if (!lead)
			return;
		c->rc = rc;
	}
	c->status = st;
}

__global__ void k_trap(void)
{
	asm volatile("trap;");
}

extern "C" int gpu_test_one(const struct gpu_nvme_ns *ns, struct gpu_test_cmd *c_dev, unsigned threads)
{
	k_one<<<1, threads>>>(ns, c_dev);
	return cudaGetLastError() == cudaSuccess ? 0 : -EIO;
}

extern "C" int gpu_test_trap(void)
{
	k_trap<<<1, 1>>>();
	return 0;
}
