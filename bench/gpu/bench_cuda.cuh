/* SPDX-License-Identifier: BSD-3-Clause */
/* What the standalone CUDA benchmarks of bench/gpu share: a CUDA call that must succeed, and the GPU's
 * nanosecond clock. */
#ifndef AISIO_BENCH_GPU_CUDA_H
#define AISIO_BENCH_GPU_CUDA_H

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>

#define CK(x)                                                                                              \
	do {                                                                                               \
		cudaError_t e_ = (x);                                                                      \
		if (e_ != cudaSuccess) {                                                                   \
			fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
			exit(1);                                                                           \
		}                                                                                          \
	} while (0)

__device__ inline unsigned long long gtimer(void)
{
	unsigned long long t;
	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
	return t;
}

#endif
