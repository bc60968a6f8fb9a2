/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The GPU side of `aisio perf cuda-run` and `cuda-verify` (and of the GPU tests): every thread or
 * warp of the grid issues I/O through one of the device APIs, counts completions and failures,
 * keeps a latency histogram and, when asked, writes or checks LBA stamps.
 */
#include <cuda_runtime.h>
#include <errno.h>

#include <aisio/gpu_nvme.cuh>
#include <aisio/stamp.h>

#include "gpu_perf.h"
#ifdef AISIO_GPU_ABLATE
#include "gpu_ablate.cuh" /* bench/gpu: the reference owned path with pieces left out */
#endif
#include "gpuemu_engine.cuh" /* engine=fused: the engine blocks, from lib/gpu */

struct perf_ctx {
	const struct gpu_perf_job *j;
	unsigned long long *hist; /* shared memory */
	unsigned long long ios, failed, mism, lbas;
	int first_rc;
	uint32_t first_status;
	uint64_t first_lba;
	uint64_t rng;
};

__device__ __forceinline__ uint64_t perf_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

__device__ __forceinline__ uint64_t perf_lba(struct perf_ctx *c, uint64_t k, uint64_t gtid, uint64_t T)
{
	const struct gpu_perf_job *j = c->j;
	uint64_t u = j->random ? perf_rand(&c->rng) % j->units : (gtid + k * T) % j->units;
	if (!j->random && j->unit_mul > 1)
		u = u * j->unit_mul % j->units;
	return j->slba0 + u * j->nlb;
}

__device__ void perf_fill_n(const struct gpu_perf_job *j, uint8_t *b, uint64_t lba, uint32_t nlb)
{
	stamp_fill(b, j->seed, lba, nlb, j->lba_shift);
}

__device__ void perf_fill(const struct gpu_perf_job *j, uint8_t *b, uint64_t lba)
{
	perf_fill_n(j, b, lba, j->nlb);
}

__device__ void perf_poison_n(const struct gpu_perf_job *j, uint8_t *b, uint32_t nlb)
{
	uint64_t *w = (uint64_t *)b;
	const uint32_t n = (nlb << j->lba_shift) / 8;
	for (uint32_t i = 0; i < n; i++)
		w[i] = 0xa5a5a5a5a5a5a5a5ull;
}

__device__ void perf_poison(const struct gpu_perf_job *j, uint8_t *b)
{
	perf_poison_n(j, b, j->nlb);
}

/* LBAs of the buffer that do not hold their stamp. Ordinary loads: the completion's acquire fence
 * is what makes the controller's writes visible, as for any user of the API. */
__device__ uint32_t perf_check_n(const struct gpu_perf_job *j, const uint8_t *b, uint64_t lba, uint32_t nlb)
{
	return (uint32_t)stamp_check(b, j->seed, lba, nlb, j->lba_shift, NULL);
}

__device__ uint32_t perf_check(const struct gpu_perf_job *j, const uint8_t *b, uint64_t lba)
{
	return perf_check_n(j, b, lba, j->nlb);
}

__device__ __forceinline__ void perf_done(struct perf_ctx *c, int rc, uint16_t st, uint64_t lba, uint64_t t0)
{
	uint64_t t1 = gpu_nvme_clock_ns();
	/* one shared-memory atomic per bucket for the lanes here together: lanes finishing together mostly
	 * share a bucket, and 32 atomics on one address run one after another (the async API's profile put
	 * 16% of its stall samples here) */
	const uint32_t bucket = gpu_lat_bucket(t1 - t0);
	const uint32_t same = __match_any_sync(__activemask(), bucket);
	if ((threadIdx.x & 31) == (uint32_t)(__ffs(same) - 1))
		atomicAdd(&c->hist[bucket], (unsigned long long)__popc(same));
	if (rc == 0) {
		c->ios++;
	} else {
		c->failed++;
		if (!c->first_rc) {
			c->first_rc = rc;
			c->first_status = st;
			c->first_lba = lba;
		}
	}
}

/* The job's work in block bid of nblk (the job's own blocks: the fused kernel's engine blocks come
 * before them). */
static __device__ __forceinline__ void perf_body(const struct gpu_perf_job *j, uint32_t bid, uint32_t nblk)
{
	extern __shared__ unsigned long long perf_smem[];
	struct perf_ctx c;
	c.j = j;
	c.hist = perf_smem;
	c.ios = c.failed = c.mism = c.lbas = 0;
	c.first_rc = 0;
	c.first_status = 0;
	c.first_lba = 0;
	for (uint32_t i = threadIdx.x; i < GPU_LAT_BUCKETS; i += blockDim.x)
		c.hist[i] = 0;
	__syncthreads();

	const struct gpu_nvme_ns *ns = j->ns;
	const uint64_t T = (uint64_t)nblk * blockDim.x;
	const uint64_t gtid = (uint64_t)bid * blockDim.x + threadIdx.x;
	const uint64_t gwarp = gtid / 32, W = T / 32;
	const uint32_t lane = threadIdx.x & 31;
	const uint64_t iosz = (uint64_t)j->nlb << j->lba_shift;
	c.rng = (j->seed ^ (gtid * 0x9e3779b97f4a7c15ull)) | 1;
	const uint64_t t_start = gpu_nvme_clock_ns();
	const uint64_t end = t_start + j->runtime_ns;
	const bool timed = j->runtime_ns != 0;
	/* untimed runs (verify) cover each unit once: unit gtid + k * T */
	const uint64_t rounds = timed ? ~0ull : (j->units + T - 1) / T;
	const uint32_t qi = (uint32_t)(gwarp % ns->nqueues);

	if (j->api == GPU_API_THREAD && j->nlb_min && !timed) {
		/* many writers, random sizes: each unit in pieces of nlb_min..nlb LBAs, one command each */
		uint8_t *b = j->buf + (gtid % j->slots) * iosz;
		const uint32_t span = j->nlb - j->nlb_min + 1;
		for (uint64_t k = 0; k < rounds && gtid + k * T < j->units; k++) {
			const uint64_t lba0 = perf_lba(&c, k, gtid, T);
			for (uint32_t off = 0; off < j->nlb;) {
				uint32_t n = j->nlb_min + (uint32_t)(perf_rand(&c.rng) % span);
				if (n > j->nlb - off)
					n = j->nlb - off;
				const uint64_t lba = lba0 + off;
				if (j->check == GPU_CHECK_WRITE_STAMPS)
					perf_fill_n(j, b, lba, n);
				else if (j->check == GPU_CHECK_READ_STAMPS)
					perf_poison_n(j, b, n);
				const uint64_t t0 = gpu_nvme_clock_ns();
				uint16_t st = 0;
				int rc = gpu_nvme_rw(ns, qi, (uint8_t)j->opc, b, lba, n, &st);
				perf_done(&c, rc, st, lba, t0);
				c.lbas += rc == 0 ? n : 0;
				if (rc == 0 && j->check == GPU_CHECK_READ_STAMPS)
					c.mism += perf_check_n(j, b, lba, n);
				off += n;
			}
		}
	} else if (j->api == GPU_API_THREAD) {
		uint8_t *b = j->buf + (gtid % j->slots) * iosz;
		for (uint64_t k = 0; k < rounds; k++) {
			const uint64_t t0 = gpu_nvme_clock_ns();
			if (timed && t0 > end)
				break;
			if (!timed && gtid + k * T >= j->units)
				break;
			const uint64_t lba = perf_lba(&c, k, gtid, T);
			if (j->check == GPU_CHECK_WRITE_STAMPS)
				perf_fill(j, b, lba);
			else if (j->check == GPU_CHECK_READ_STAMPS)
				perf_poison(j, b);
			uint16_t st = 0;
			int rc = gpu_nvme_rw(ns, qi, (uint8_t)j->opc, b, lba, j->nlb, &st);
			perf_done(&c, rc, st, lba, t0);
			if (rc == 0 && j->check == GPU_CHECK_READ_STAMPS)
				c.mism += perf_check(j, b, lba);
		}
	} else if (j->api == GPU_API_ASYNC) {
		const uint32_t qd = j->qdepth < 1 ? 1 : (j->qdepth > 8 ? 8 : j->qdepth);
		struct gpu_nvme_handle h[8];
		uint64_t t0[8], lba[8];
		bool busy[8];
		uint64_t k = 0, busy_since = 0;
		for (uint32_t s = 0; s < 8; s++)
			busy[s] = false;
		for (;;) {
			bool any = false;
			for (uint32_t s = 0; s < qd; s++) {
				uint8_t *b = j->buf + ((gtid * qd + s) % j->slots) * iosz;
				if (busy[s]) {
					uint16_t st = 0;
					int rc = gpu_nvme_poll(&h[s], &st);
					if (rc == -EAGAIN) {
						any = true;
						continue;
					}
					busy[s] = false;
					perf_done(&c, rc, st, lba[s], t0[s]);
					if (rc == 0 && j->check == GPU_CHECK_READ_STAMPS)
						c.mism += perf_check(j, b, lba[s]);
				}
				const uint64_t now = gpu_nvme_clock_ns();
				if (timed ? now > end : (k >= rounds || gtid + k * T >= j->units))
					continue;
				lba[s] = perf_lba(&c, k, gtid, T);
				k++;
				if (j->check == GPU_CHECK_WRITE_STAMPS)
					perf_fill(j, b, lba[s]);
				else if (j->check == GPU_CHECK_READ_STAMPS)
					perf_poison(j, b);
				t0[s] = now;
				int rc = gpu_nvme_submit(ns, qi, (uint8_t)j->opc, b, lba[s], j->nlb, &h[s]);
				if (rc == -EBUSY) {
					/* every id is taken: poll what we have in flight, then try again (bounded by
					 * the queue's timeout: ids of lost completions never come back) */
					if (!busy_since)
						busy_since = now;
					if (now - busy_since > ns->queues[qi].timeout_ns) {
						perf_done(&c, -ETIMEDOUT, 0, lba[s], t0[s]);
						busy_since = 0;
						continue;
					}
					k--;
					any = true;
					continue;
				}
				busy_since = 0;
				if (rc) {
					perf_done(&c, rc, 0, lba[s], t0[s]);
					continue;
				}
				busy[s] = true;
				any = true;
			}
			if (!any)
				break;
		}
	} else {
		/* warp and owned APIs: every lane of the warp takes part in each round */
		uint8_t *b = j->buf + (gtid % j->slots) * iosz;
		struct gpu_nvme_queue *oq = &ns->queues[gwarp % ns->nqueues];
		for (uint64_t k = 0; k < rounds; k++) {
			uint64_t t0 = gpu_nvme_clock_ns();
			int stop = timed ? t0 > end : 0;
			if (__shfl_sync(GPU_NVME_FULL_MASK, stop, 0))
				break;
			bool active = timed || gtid + k * T < j->units;
			if (!__any_sync(GPU_NVME_FULL_MASK, active))
				break;
			const uint64_t l = active ? perf_lba(&c, k, gtid, T) : 0;
			if (active && j->check == GPU_CHECK_WRITE_STAMPS)
				perf_fill(j, b, l);
			else if (active && j->check == GPU_CHECK_READ_STAMPS)
				perf_poison(j, b);
			uint16_t st = 0;
			int rc;
#ifdef AISIO_GPU_ABLATE
			if (j->api == GPU_API_OWNED && j->ablate)
				rc = owned_ref_dispatch(j->ablate, ns, oq, (uint8_t)j->opc, active, b, l, j->nlb, &st);
			else
#endif
				if (j->api == GPU_API_OWNED)
				rc = gpu_nvme_owned_rw(ns, oq, (uint8_t)j->opc, active, b, l, j->nlb, &st);
			else
				rc = gpu_nvme_warp_rw(ns, qi, (uint8_t)j->opc, active, b, l, j->nlb, &st);
			if (active) {
				perf_done(&c, rc, st, l, t0);
				if (rc == 0 && j->check == GPU_CHECK_READ_STAMPS)
					c.mism += perf_check(j, b, l);
			}
		}
		(void)W;
		(void)lane;
	}
	const uint64_t t_end = gpu_nvme_clock_ns();

	struct gpu_perf_result *r = j->res;
	if (c.ios)
		atomicAdd(&r->ios, c.ios);
	if (c.failed) {
		atomicAdd(&r->failed, c.failed);
		if (atomicCAS(&r->first_rc, 0, c.first_rc) == 0) {
			r->first_status = c.first_status;
			r->first_lba = c.first_lba;
		}
	}
	if (c.mism)
		atomicAdd(&r->mismatches, c.mism);
	if (c.lbas)
		atomicAdd(&r->pieces_lbas, c.lbas);
	atomicMin(&r->t_first, (unsigned long long)t_start);
	atomicMax(&r->t_last, (unsigned long long)t_end);
	__syncthreads();
	for (uint32_t i = threadIdx.x; i < GPU_LAT_BUCKETS; i += blockDim.x)
		if (c.hist[i])
			atomicAdd(&r->lat[i], c.hist[i]);
}

/* At most 128 registers: two blocks of 256 threads per SM, which the many-writer test's 256 blocks need
 * beside a 4-SM engine; the histogram's grouping (perf_done) took the job kernel to 144 (a few bytes spill). */
__global__ void __maxnreg__(128) gpu_perf_kernel(const struct gpu_perf_job job)
{
	perf_body(&job, blockIdx.x, gridDim.x); /* job: a kernel parameter, constant bank */
}

/*
 * engine=fused: blocks [0, eng_blocks) are engine blocks (the same code as the persistent engine
 * kernel), the rest run the job. Each job block, once done, counts itself in fused_done; the engine
 * blocks stop when every job block has. One launch, nothing beside it: for tools that serialize
 * kernels or make launches wait for completion. Every block must be resident at once (the caller
 * checks the launch fits); every wait on either side is bounded all the same.
 */
__global__ void __maxnreg__(128) gpu_perf_fused_kernel(const struct gpu_perf_job job)
{
	extern __shared__ uint64_t fused_smem[];
	struct gpuemu_dev *d = (struct gpuemu_dev *)job.eng.dev;
	const uint32_t clients = gridDim.x - job.eng.blocks;
	if (blockIdx.x < job.eng.blocks) {
		gpuemu_engine_block(d, blockIdx.x, job.eng.blocks, fused_smem, clients);
		return;
	}
	perf_body(&job, blockIdx.x - job.eng.blocks, clients);
	__syncthreads();
	if (threadIdx.x == 0) {
		__threadfence(); /* the block's results before its count */
		atomicAdd(&d->fused_done, 1u);
	}
}

extern "C" int gpu_perf_launch(const struct gpu_perf_job *job, void *stream, size_t smem)
{
	const size_t need = GPU_LAT_BUCKETS * sizeof(unsigned long long);
	if (smem < need)
		smem = need;
	if (job->eng.dev) {
		if (smem < job->eng.smem)
			smem = job->eng.smem;
		if (cudaFuncSetAttribute(gpu_perf_fused_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
					 (int)smem) != cudaSuccess)
			return -EINVAL;
		gpu_perf_fused_kernel<<<job->grid + job->eng.blocks, job->block, smem, (cudaStream_t)stream>>>(*job);
		return cudaGetLastError() == cudaSuccess ? 0 : -EIO;
	}
	if (cudaFuncSetAttribute(gpu_perf_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) !=
	    cudaSuccess)
		return -EINVAL;
	gpu_perf_kernel<<<job->grid, job->block, smem, (cudaStream_t)stream>>>(*job);
	return cudaGetLastError() == cudaSuccess ? 0 : -EIO;
}

extern "C" int gpu_perf_occupancy(unsigned block, size_t smem, int *blocks_per_sm)
{
	const size_t need = GPU_LAT_BUCKETS * sizeof(unsigned long long);
	if (smem < need)
		smem = need;
	if (cudaFuncSetAttribute(gpu_perf_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) !=
	    cudaSuccess)
		return -EINVAL;
	return cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks_per_sm, gpu_perf_kernel, (int)block, smem) ==
			       cudaSuccess
		       ? 0
		       : -EIO;
}
