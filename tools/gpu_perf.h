/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The benchmark and verification kernel of `aisio perf cuda-run` / `cuda-verify` and the GPU tests
 * (tools/gpu_perf.cu): a job is a grid whose threads or warps issue I/O through one of the device APIs
 * (aisio/gpu_nvme.cuh) on a namespace of a gpu_ctrl, count completions and failures, keep a latency
 * histogram and, when asked, write or check the verify stamps (aisio/stamp.h). Not part of the library:
 * the library offers the namespace (gpu_ctrl_ns) and, for engine=fused, the engine blocks a launch
 * carries (gpu_ctrl_fused_prepare).
 */
#ifndef AISIO_TOOLS_GPU_PERF_H
#define AISIO_TOOLS_GPU_PERF_H

#include <stddef.h>
#include <stdint.h>

#include <aisio/gpu.h>
#include <aisio/gpuemu.h>
#include <aisio/hostdev.h>

#ifdef __cplusplus
extern "C" {
#endif

enum gpu_perf_api {
	GPU_API_THREAD = 0, /* every thread: gpu_nvme_read/write, one command at a time */
	GPU_API_ASYNC = 1,  /* every thread: qdepth commands in flight with submit/poll */
	GPU_API_WARP = 2,   /* gpu_nvme_warp_rw: 32 commands per warp round, shared queues */
	GPU_API_OWNED = 3,  /* gpu_nvme_owned_rw: one warp per queue, no atomics */
};
enum gpu_perf_check { GPU_CHECK_NONE = 0, GPU_CHECK_WRITE_STAMPS = 1, GPU_CHECK_READ_STAMPS = 2 };

#define GPU_LAT_BUCKETS 512

/* Latency histogram bucket of v ns: 8 linear steps per power of two. */
AISIO_HD uint32_t gpu_lat_bucket(uint64_t v)
{
	if (v < 8)
		return (uint32_t)v;
#ifdef __CUDA_ARCH__
	uint32_t e = 63u - (uint32_t)__clzll((long long)v);
#else
	uint32_t e = 63u - (uint32_t)__builtin_clzll(v);
#endif
	uint32_t b = e * 8u + (uint32_t)((v >> (e - 3)) & 7u) - 16u;
	return b < GPU_LAT_BUCKETS ? b : GPU_LAT_BUCKETS - 1;
}
/* Smallest value of bucket b (the inverse of gpu_lat_bucket). */
AISIO_HD uint64_t gpu_lat_bucket_low(uint32_t b)
{
	if (b < 8)
		return b;
	uint32_t e = (b + 16u) / 8u, s = (b + 16u) % 8u;
	return (uint64_t)(8u + s) << (e - 3);
}

struct gpu_perf_result {
	unsigned long long ios;             /* commands completed without error */
	unsigned long long failed;          /* commands that returned an error */
	unsigned long long mismatches;      /* LBAs whose data did not match their stamp */
	unsigned long long pieces_lbas;     /* nlb_min runs: LBAs moved by the commands without error */
	unsigned long long t_first, t_last; /* globaltimer at the first start and the last finish */
	int first_rc;                       /* first error seen, for the message */
	uint32_t first_status;
	unsigned long long first_lba;
	unsigned long long lat[GPU_LAT_BUCKETS]; /* ns per command, histogram */
};

struct gpu_perf_job {
	const struct gpu_nvme_ns *ns; /* device pointer */
	uint8_t *buf;                 /* device address of the data buffers */
	uint64_t slots;               /* buffers of iosize bytes; thread i uses slot i % slots */
	uint32_t nlb;                 /* LBAs per command (with nlb_min: of each unit) */
	uint32_t nlb_min;             /* thread API, untimed: a unit read or written in pieces of random size
				       * nlb_min..nlb LBAs; 0: whole units */
	uint64_t unit_mul;            /* untimed: unit u + k * T is taken in the order (u + k * T) * unit_mul
				       * % units, a permutation (unit_mul coprime to units); 0 or 1: in order */
	uint32_t lba_shift;
	uint64_t units; /* I/O units of nlb LBAs in the range */
	uint64_t slba0; /* first LBA of the range */
	uint32_t opc;   /* NVME_CMD_READ / NVME_CMD_WRITE */
	uint32_t random;
	uint32_t api;    /* GPU_API_* */
	uint32_t qdepth; /* async: in flight per thread (1..8) */
	uint32_t check;  /* GPU_CHECK_* */
#ifdef AISIO_GPU_ABLATE
	uint32_t ablate; /* bench/gpu/aisio-ablate only: GPU_ABLATE_D_* */
#endif
	uint64_t runtime_ns; /* time-bound run; 0: each thread covers its units once */
	uint64_t seed;       /* random LBAs and the stamps */
	uint32_t grid, block;
	struct gpu_perf_result *res; /* device memory, zeroed by the caller */
	/* engine=fused: the engine blocks that run before the job's blocks in the same launch
	 * (gpu_ctrl_fused_prepare before each launch); all zero otherwise */
	struct gpu_fused_engine eng;
};

/* Launch a job on stream (cudaStream_t) with dynamic shared memory of at least smem bytes. */
int gpu_perf_launch(const struct gpu_perf_job *job, void *stream, size_t smem);
/* Blocks of block threads per SM the job kernel can run with smem bytes of shared memory. */
int gpu_perf_occupancy(unsigned block, size_t smem, int *blocks_per_sm);

#ifdef __cplusplus
}
#endif

#endif /* AISIO_TOOLS_GPU_PERF_H */
