/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench/gpu/host-read: what GPU threads pay to reach pinned host memory over PCIe, the cost under a queue
 * whose rings live there (`--queues host`): a reaper polls CQ entries in host memory, the engine reads
 * SQEs from it, and each side fences at system scope before its doorbell or phase store.
 *
 *   host-read            (prints one JSON line per measurement)
 *
 *   latency   one thread, dependent 4-byte loads (each address from the value before), host and GPU memory
 *   lines     W warps, each reading 128 contiguous bytes per step (one 4-byte load per lane), every step's
 *             address from the step before: read round trips per second with W of them in flight
 *   cq-poll   W warps, each reading the status word of 32 consecutive 16-byte CQ entries per step (what
 *             gpu_nvme_warp_reap reads), dependent steps
 *   fence     W warps, each storing to host memory and then __threadfence_system(), in a loop
 */
#include <cuda_runtime_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_cuda.cuh"

enum { MEM_BYTES = 64 << 20, WORDS = MEM_BYTES / 4 };

/* one thread: n loads, each at the index the previous one returned */
__global__ void chase(const uint32_t *m, uint32_t n, unsigned long long *ns, uint32_t *sink)
{
	const volatile uint32_t *v = m;
	uint32_t i = 0;
	unsigned long long t0 = gtimer();
	for (uint32_t k = 0; k < n; k++)
		i = v[i];
	*ns = gtimer() - t0;
	*sink = i;
}

/*
 * Each warp: steps of one load per lane at base + lane * stride words; the next base comes from lane 0's
 * value, so a warp has one request in flight at a time. stride 1: one 128-byte line per step; stride 4:
 * 16-byte entries, 512 bytes (four lines) per step.
 */
__global__ void warps_read(const uint32_t *m, uint32_t steps, uint32_t stride, unsigned long long *ns, uint32_t *sink)
{
	const volatile uint32_t *v = m;
	const uint32_t lane = threadIdx.x & 31, warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
	uint32_t base = (warp * 4099u * 32u) % (WORDS - 32 * 4);
	unsigned long long t0 = gtimer();
	for (uint32_t k = 0; k < steps; k++) {
		uint32_t x = v[base + lane * stride];
		base = __shfl_sync(0xffffffffu, x, 0);
	}
	unsigned long long dt = gtimer() - t0;
	if (lane == 0)
		atomicMax(ns, dt);
	if (base == 0xffffffffu)
		*sink = base;
}

/* Each warp's lane 0: store to its own host line, then a system-scope fence, n times. */
__global__ void fences(uint32_t *m, uint32_t n, unsigned long long *ns)
{
	const uint32_t lane = threadIdx.x & 31, warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
	volatile uint32_t *v = m + warp * 32;
	unsigned long long t0 = gtimer();
	for (uint32_t k = 0; k < n; k++) {
		if (lane == 0)
			*v = k;
		__threadfence_system();
	}
	unsigned long long dt = gtimer() - t0;
	if (lane == 0)
		atomicMax(ns, dt);
}

/* the "next index" table: every word points a pseudo-random distance ahead, line aligned, in range */
static void fill(uint32_t *h)
{
	uint64_t x = 88172645463325252ull;
	for (uint32_t i = 0; i < WORDS; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		h[i] = (uint32_t)((x % (WORDS - 32 * 4 - 32)) & ~31u);
	}
}

/* threads per block for w warps: 256 or fewer, so that the blocks hold exactly w warps */
static uint32_t block_threads(uint32_t w)
{
	uint32_t per = 8;
	while (w % per)
		per /= 2;
	return per * 32;
}

int main(void)
{
	uint32_t *host, *host_d, *gpu, *sink;
	unsigned long long *ns_d, ns;
	int sms = 0;
	CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
	CK(cudaHostAlloc((void **)&host, MEM_BYTES, cudaHostAllocMapped));
	CK(cudaHostGetDevicePointer((void **)&host_d, host, 0));
	CK(cudaMalloc((void **)&gpu, MEM_BYTES));
	CK(cudaMalloc((void **)&sink, 4));
	CK(cudaMalloc((void **)&ns_d, sizeof(ns)));
	fill(host);
	CK(cudaMemcpy(gpu, host, MEM_BYTES, cudaMemcpyHostToDevice));

	const uint32_t n = 20000;
	for (int where = 0; where < 2; where++) {
		chase<<<1, 1>>>(where ? gpu : host_d, 100, ns_d, sink); /* warm up */
		chase<<<1, 1>>>(where ? gpu : host_d, n, ns_d, sink);
		CK(cudaMemcpy(&ns, ns_d, sizeof(ns), cudaMemcpyDeviceToHost));
		printf("{\"test\":\"latency\",\"mem\":\"%s\",\"loads\":%u,\"ns_per_load\":%.1f}\n",
		       where ? "gpu" : "host", n, (double)ns / n);
	}
	const uint32_t warp_counts[] = {1, 32, 132, 264, 528, 1056, 2112, 4224, 8448};
	for (uint32_t stride = 1; stride <= 4; stride += 3) {
		for (uint32_t wi = 0; wi < sizeof(warp_counts) / sizeof(warp_counts[0]); wi++) {
			const uint32_t w = warp_counts[wi], steps = 2000;
			const uint32_t threads = block_threads(w), blocks = w * 32 / threads;
			CK(cudaMemset(ns_d, 0, sizeof(ns)));
			warps_read<<<blocks, threads>>>(host_d, steps, stride, ns_d, sink);
			CK(cudaGetLastError());
			CK(cudaMemcpy(&ns, ns_d, sizeof(ns), cudaMemcpyDeviceToHost));
			const double s = (double)ns / 1e9, reqs = (double)w * steps;
			printf("{\"test\":\"%s\",\"warps\":%u,\"bytes_per_step\":%u,\"steps_per_s\":%.0f,\"us_per_step\":%.2f,"
			       "\"GB_per_s\":%.2f}\n",
			       stride == 1 ? "lines" : "cq-poll", w, 32 * 4 * stride, reqs / s, s * 1e6 / steps,
			       reqs * 128 * stride / s / 1e9);
		}
	}
	const uint32_t fence_warps[] = {1, 132, 1056};
	for (uint32_t wi = 0; wi < 3; wi++) {
		const uint32_t w = fence_warps[wi], nf = 5000;
		const uint32_t threads = block_threads(w), blocks = w * 32 / threads;
		CK(cudaMemset(ns_d, 0, sizeof(ns)));
		fences<<<blocks, threads>>>(host_d, nf, ns_d);
		CK(cudaGetLastError());
		CK(cudaMemcpy(&ns, ns_d, sizeof(ns), cudaMemcpyDeviceToHost));
		printf("{\"test\":\"fence\",\"warps\":%u,\"ns_per_fence\":%.1f,\"fences_per_s\":%.0f}\n", w,
		       (double)ns / nf, (double)w * nf / ((double)ns / 1e9));
	}
	printf("{\"test\":\"gpu\",\"sms\":%d}\n", sms);
	return 0;
}
