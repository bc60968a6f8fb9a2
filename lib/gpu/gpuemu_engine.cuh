/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The GPU-resident emulated controller's device code (see gpuemu_engine.cu), in a header so that the
 * engine=fused job kernel (tools/gpu_perf.cu) runs the very same engine blocks inside its own launch.
 *
 * Warp w of W serves the queues qid - 1 = w, w + W, ... ; a queue is always served by the same warp,
 * which alone writes its engine state (SQ head, CQ tail and phase). One service round of a queue:
 *   read the SQ tail doorbell and the CQ head doorbell (volatile) -> n = min(new entries, CQ room, 32)
 *   -> fence (acquire: the SQEs were written before the doorbell) -> lane i fetches SQE head + i and
 *   decodes it -> the warp moves each command's data together (16-byte units, 8 in flight per lane)
 *   -> lane i writes its CQE: dw0..sqid, fence, then cid + status with the phase bit, so that a
 *   reader that sees the phase sees the whole entry and the data.
 * Fences are GPU scope for rings in GPU memory and system scope for rings in host memory. The loop
 * ends when the host sets the stop flag, when the fused job's blocks are done, or after the
 * configured lifetime (no unbounded spin).
 */
#ifndef AISIO_GPUEMU_ENGINE_CUH
#define AISIO_GPUEMU_ENGINE_CUH

#include <cuda_runtime.h>
#include <errno.h>
#include <stdint.h>

#include "gpu_internal.h"

/* bench/gpu/aisio-ablate builds this engine with AISIO_GPU_ABLATE: the work named by d->ablate
 * (GPU_ABLATE_E_*, bench/gpu/gpu_ablate.h) is then left out. The library's engine has none of it. */

#define ENGINE_UNROLL 8

#define FULL 0xffffffffu

static __device__ __forceinline__ uint64_t eng_now(void)
{
	uint64_t t;
	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
	return t;
}

static __device__ __forceinline__ uint32_t vld32(const void *p)
{
	return *(const volatile uint32_t *)p;
}
static __device__ __forceinline__ uint64_t vld64(const void *p)
{
	return *(const volatile uint64_t *)p;
}

/* 16 bytes in one volatile load: four 4-byte loads are four requests over PCIe when the SQ is in host
 * memory; fetched so, host rings went from 30M to 104-116M IOPS (issue 19, docs/GPU.md) */
static __device__ __forceinline__ uint4 vld128(const void *p)
{
	uint4 v;
	asm volatile("ld.volatile.v4.u32 {%0, %1, %2, %3}, [%4];"
		     : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
		     : "l"(p)
		     : "memory");
	return v;
}

static __device__ __forceinline__ void eng_fence(uint32_t sys)
{
	if (sys)
		__threadfence_system();
	else
		__threadfence();
}

/*
 * Resolve the PRPs of one command into pages[] (page k's bus address, page 0 with its offset cleared) with the
 * shared walker (aisio/nvme_ring.h), lane k % 32 mapping and checking page k against the DMA windows; every lane
 * follows the list pages. Uniform across the warp: the status of the first page that failed. Returns an NVMe
 * status.
 */
static __device__ uint16_t eng_prp_pages(const struct gpuemu_dev *d, uint64_t prp1, uint64_t prp2, uint64_t bytes,
					 uint64_t *pages, uint32_t max_pages, uint32_t lane)
{
	const uint32_t n = nvme_prp_npages(prp1, (uint32_t)bytes, GPUEMU_PAGE_SHIFT);
	if (n > max_pages)
		return NVME_SC_INVALID_FIELD;
	struct nvme_prp_walk w;
	nvme_prp_walk_init(&w, prp1, prp2, (uint32_t)bytes, GPUEMU_PAGE_SHIFT);
	uint32_t at = 0;
	const uint16_t st = nvme_prp_walk_next(&w, gpuemu_prp_map, d, pages, n, &at, lane, 32);
	/* the earliest failing page's status: page index above, status below */
	const uint32_t first = __reduce_min_sync(FULL, st ? (at << 16) | st : 0xffffffffu);
	if (first != 0xffffffffu)
		return (uint16_t)(first & 0xffffu);
	if (lane == 0)
		pages[0] -= prp1 & ((1ull << GPUEMU_PAGE_SHIFT) - 1); /* the copy indexes pages from page 0's start */
	__syncwarp();
	return NVME_SC_SUCCESS;
}

/* Move one command's data between the namespace and the PRP pages; the whole warp calls. */
static __device__ void eng_copy(uint8_t *nsp, const uint64_t *pages, uint64_t off0, uint64_t bytes, int to_ns, int zero,
				uint32_t lane)
{
	const uint64_t pmask = (1ull << GPUEMU_PAGE_SHIFT) - 1;
	if (zero) {
		const uint64_t units = bytes >> 4;
		for (uint64_t u = lane; u < units; u += 32)
			__stcg((uint4 *)(nsp + u * 16), make_uint4(0, 0, 0, 0));
		return;
	}
	if (((off0 | bytes) & 15) == 0) {
		const uint64_t units = bytes >> 4;
		for (uint64_t b = 0; b < units; b += 32 * ENGINE_UNROLL) {
			uint4 v[ENGINE_UNROLL];
#pragma unroll
			for (int j = 0; j < ENGINE_UNROLL; j++) {
				uint64_t u = b + (uint64_t)j * 32 + lane;
				if (u < units) {
					uint64_t x = off0 + u * 16;
					uint8_t *host = (uint8_t *)(uintptr_t)(pages[x >> GPUEMU_PAGE_SHIFT] +
									       (x & pmask));
					v[j] = __ldcg((const uint4 *)(to_ns ? host : nsp + u * 16));
				}
			}
#pragma unroll
			for (int j = 0; j < ENGINE_UNROLL; j++) {
				uint64_t u = b + (uint64_t)j * 32 + lane;
				if (u < units) {
					uint64_t x = off0 + u * 16;
					uint8_t *host = (uint8_t *)(uintptr_t)(pages[x >> GPUEMU_PAGE_SHIFT] +
									       (x & pmask));
					__stcg((uint4 *)(to_ns ? nsp + u * 16 : host), v[j]);
				}
			}
		}
		return;
	}
	/* dword-aligned buffers: 4-byte units */
	const uint64_t units = bytes >> 2;
	for (uint64_t u = lane; u < units; u += 32) {
		uint64_t x = off0 + u * 4;
		uint32_t *host = (uint32_t *)(uintptr_t)(pages[x >> GPUEMU_PAGE_SHIFT] + (x & pmask));
		uint32_t *ns = (uint32_t *)(nsp + u * 4);
		if (to_ns)
			__stcg(ns, __ldcg(host));
		else
			__stcg(host, __ldcg(ns));
	}
}

/* One service round of queue qi. Returns whether it found work. */
static __device__ bool eng_serve(const struct gpuemu_dev *d, uint32_t qi, uint32_t lane, uint64_t *pages,
				 uint32_t max_pages, unsigned long long *dropped)
{
	struct gpuemu_queue *Q = &d->q[qi];
#ifdef AISIO_GPU_ABLATE
	const uint32_t ab = d->ablate;
#endif
	/* The queue's fields are constant while it is enabled (the caller checked enabled, fenced), and
	 * sq_head..cmds are this warp's own: plain loads, L1 hits. Values another agent writes (the
	 * doorbells) are read by lane 0 with volatile loads and broadcast: the warp decides as one. */
	const uint32_t sys = Q->sys;
	const uint32_t sq_size = Q->sq_size, cq_size = Q->cq_size;
	const uint16_t qid = (uint16_t)(qi + 1);
	uint32_t *sqdb = (uint32_t *)(d->bar + gpu_doorbell_offset(qid, 0, d->dstrd));
	uint32_t *cqdb = (uint32_t *)(d->bar + gpu_doorbell_offset(qid, 1, d->dstrd));
	uint32_t tail, cqh;
#ifdef AISIO_GPU_ABLATE
	if (ab & GPU_ABLATE_E_SERIALDB) {
		/* reference: the CQ head doorbell is read only once the SQ tail showed work */
		tail = __shfl_sync(FULL, lane == 0 ? vld32(sqdb) : 0u, 0);
		if (tail >= sq_size || tail == Q->sq_head)
			return false;
		cqh = __shfl_sync(FULL, lane == 1 ? vld32(cqdb) : 0u, 1);
	} else
#endif
	{
		/* both doorbells in one load instruction (lane 0 the SQ tail, lane 1 the CQ head): one
		 * memory round trip per round instead of two (measured, docs/PERFORMANCE.md) */
		const uint32_t dbv = lane < 2 ? vld32(lane ? cqdb : sqdb) : 0u;
		tail = __shfl_sync(FULL, dbv, 0);
		cqh = __shfl_sync(FULL, dbv, 1);
	}
	const uint32_t head = Q->sq_head;
	if (tail >= sq_size || tail == head)
		return false; /* nothing new (or an invalid doorbell value, which a controller ignores) */
	const uint32_t cqt = Q->cq_tail;
	const uint32_t avail = (tail + sq_size - head) % sq_size;
	const uint32_t room = cq_size - 1 - (cqt + cq_size - cqh) % cq_size;
	uint32_t n = avail < room ? avail : room;
	if (n > 32)
		n = 32;
	if (n == 0)
		return false; /* CQ full: wait for the host to consume */
	eng_fence(sys);       /* acquire: SQEs written before the doorbell value we read */

	const uint64_t sq_base = Q->sq_base, cq_base = Q->cq_base;
	struct gpuemu_faults f;
#ifdef AISIO_GPU_ABLATE
	if (ab & GPU_ABLATE_E_FAULTS) {
		f.err_slba = f.drop_slba = 1; /* elba < slba: off */
		f.err_elba = f.drop_elba = 0;
		f.err_status = 0;
	} else
#endif
	{
		f.err_slba = vld64(&d->f.err_slba);
		f.err_elba = vld64(&d->f.err_elba);
		f.drop_slba = vld64(&d->f.drop_slba);
		f.drop_elba = vld64(&d->f.drop_elba);
		f.err_status = vld32(&d->f.err_status);
	}

	struct nvme_sqe c;
	uint16_t status = 0;
	int moves = 0, drop = 0;
#ifdef AISIO_GPU_ABLATE
	if (lane < n && (ab & GPU_ABLATE_E_DECODE)) {
		/* the command id, and success */
		const volatile uint32_t *src =
			(const volatile uint32_t *)(uintptr_t)(sq_base + (uint64_t)((head + lane) % sq_size) * 64);
		c.cid = (uint16_t)(src[0] >> 16);
	} else
#endif
		if (lane < n) {
		const uint4 *src = (const uint4 *)(uintptr_t)(sq_base + (uint64_t)((head + lane) % sq_size) * 64);
		uint4 *dst = (uint4 *)&c;
#pragma unroll
		for (int i = 0; i < 4; i++)
			dst[i] = vld128(&src[i]);
		status = gpuemu_check_cmd(d, &f, &c, &moves, &drop);
	}
	/* data: the warp moves each command's bytes together */
	uint32_t mv = __ballot_sync(FULL, moves && status == 0);
	while (mv) {
		const int i = __ffs(mv) - 1;
		mv &= mv - 1;
		const uint8_t opc = (uint8_t)__shfl_sync(FULL, (uint32_t)c.opc, i);
		const uint64_t prp1 = __shfl_sync(FULL, c.prp1, i);
		const uint64_t prp2 = __shfl_sync(FULL, c.prp2, i);
		const uint64_t slba = __shfl_sync(FULL, nvme_sqe_slba(&c), i);
		const uint32_t nlb = __shfl_sync(FULL, nvme_sqe_nlb(&c), i);
		const uint64_t bytes = (uint64_t)nlb << d->lba_shift;
		uint8_t *nsp = d->ns_data + (slba << d->lba_shift);
		uint16_t st = 0;
		if (opc == NVME_CMD_WRITE_ZEROES) {
			eng_copy(nsp, pages, 0, bytes, 1, 1, lane);
		} else {
			st = eng_prp_pages(d, prp1, prp2, bytes, pages, max_pages, lane);
			__syncwarp();
			if (st == 0)
				eng_copy(nsp, pages, prp1 & ((1ull << GPUEMU_PAGE_SHIFT) - 1), bytes,
					 opc == NVME_CMD_WRITE, 0, lane);
		}
		__syncwarp();
		if (lane == (uint32_t)i)
			status = st;
	}

	/* completions: compact the posted ones (dropped completions take no CQ slot) */
	const bool post = lane < n && !drop;
	const uint32_t pm = __ballot_sync(FULL, post);
	const uint32_t nd = __popc(__ballot_sync(FULL, lane < n && drop));
	const uint32_t new_head = (head + n) % sq_size;
	if (post) {
		uint32_t rank = __popc(pm & ((1u << lane) - 1));
		uint32_t pos = cqt + rank;
		uint32_t phase = Q->cq_phase;
		if (pos >= cq_size) {
			pos -= cq_size;
			phase ^= 1;
		}
		uint32_t *e = (uint32_t *)(uintptr_t)(cq_base + (uint64_t)pos * 16);
		volatile uint32_t *ve = e;
		ve[0] = 0;                                /* dw0 */
		ve[1] = 0;                                /* dw1 */
		ve[2] = new_head | ((uint32_t)qid << 16); /* sqhd, sqid */
		/* the data (copied above by the whole warp) and the entry body before the phase */
		eng_fence(sys);
		ve[3] = nvme_cqe_dw3(c.cid, status, phase);
	}
	__syncwarp();
	if (lane == 0) {
		const uint32_t cnt = __popc(pm);
		Q->sq_head = new_head;
		uint32_t nt = cqt + cnt;
		if (nt >= cq_size) {
			nt -= cq_size;
			Q->cq_phase ^= 1;
		}
		Q->cq_tail = nt;
		Q->cmds += n;
		*dropped += nd;
	}
	__syncwarp();
	return true;
}

/*
 * The engine loop of one block: blk of nblk engine blocks, every warp of the block an engine warp.
 * Every 50 us (or each round, for a warp without queues) lane 0 re-reads the stop flags, the number
 * of queues and which of this warp's queues are enabled; in between a round costs one volatile
 * doorbell load per queue. Warps without queues sleep: idle warps that spin on shared lines slowed
 * the busy ones down by an order of magnitude (measured).
 *
 * Stop: the host sets ctl->stop in pinned host memory with a plain CPU store (no CUDA call: a copy
 into GPU memory can wait behind the running engine). Engine warp 0 alone reads it, at its refresh,
 * and relays it into d->stop (GPU memory), which every warp reads: one PCIe read per 50 us in all,
 * not one per warp (hundreds of warps polling host memory slowed the engine, measured). The other
 * warps see the stop within two refresh periods. fused_clients != 0 (engine=fused):
 * the engine also stops once that many client blocks of the same launch counted themselves done in
 * d->fused_done. The lifetime watchdog ends the loop in any case.
 *
 * At exit the block's command and dropped-completion counts go to its slot of the control block.
 */
static __device__ void gpuemu_engine_block(const struct gpuemu_dev *d, uint32_t blk_id, uint32_t nblk, uint64_t *smem,
					   uint32_t fused_clients)
{
	__shared__ unsigned long long blk_cmds, blk_dropped;
	const uint32_t lane = threadIdx.x & 31, wib = threadIdx.x >> 5, wpb = blockDim.x >> 5;
	const uint32_t W = nblk * wpb;
	const uint32_t gw = blk_id * wpb + wib;
	const uint32_t max_pages = d->max_xfer / (1u << GPUEMU_PAGE_SHIFT) + 1;
	uint64_t *pages = smem + (size_t)wib * max_pages;
	struct gpuemu_ctl *ctl = d->ctl;
	struct gpuemu_ctl_blk *blk = &ctl->blk[blk_id];
	if (threadIdx.x == 0) {
		blk_cmds = 0;
		blk_dropped = 0;
		*(volatile uint32_t *)&blk->started = 1;
	}
	__syncthreads();
	const uint64_t end = eng_now() + d->lifetime_ns;
	unsigned long long dropped = 0;
	uint32_t nq = 0, enmask = 0, idle = 0;
	bool many = false; /* more than 32 queues on this warp: check enabled on each visit */
	uint64_t next = 0;
	for (;;) {
		/* time-based refresh (every 50 us): an instrumented run (compute-sanitizer) is slow per round */
		const uint64_t now = __shfl_sync(FULL, eng_now(), 0);
		if (now >= next || gw >= nq) {
			next = now + 50000;
			uint32_t stop = 0;
			if (lane == 0) {
				stop = vld32(&d->stop);
				if (!stop && gw == 0 && vld32(&ctl->stop)) {
					stop = 1;
					*(volatile uint32_t *)&((struct gpuemu_dev *)d)->stop = 1;
				}
				if (!stop && fused_clients && vld32(&d->fused_done) >= fused_clients)
					stop = 1;
				if (!stop && now > end) {
					stop = 2;
					*(volatile uint32_t *)&blk->watchdog = 1;
				}
			}
			if (__shfl_sync(FULL, stop, 0))
				break;
			nq = __shfl_sync(FULL, lane == 0 ? vld32(&d->nq) : 0u, 0);
			uint32_t qi = gw + lane * W;
			enmask = __ballot_sync(FULL, qi < nq && vld32(&d->q[qi].enabled) == 3);
			many = gw + 32 * W < nq;
			__threadfence(); /* the host wrote each queue's fields before its enabled */
			if (gw >= nq) {
				__nanosleep(fused_clients ? 2000 : 20000);
				continue;
			}
		}
		bool busy = false;
		uint32_t k = 0;
		for (uint32_t qi = gw; qi < nq; qi += W, k++) {
			if (k < 32 ? !(enmask >> k & 1) : !many)
				continue;
			if (k >= 32 && __shfl_sync(FULL, lane == 0 ? vld32(&d->q[qi].enabled) : 0u, 0) != 3)
				continue;
			busy |= eng_serve(d, qi, lane, pages, max_pages, &dropped);
		}
		/* a long quiet spell: back off a little (a few hundred ns of latency after it) */
		idle = busy ? 0 : idle + 1;
		if (idle > 4096)
			__nanosleep(256);
	}
	if (lane == 0) {
		unsigned long long cmds = 0;
		for (uint32_t qi = gw; qi < GPUEMU_MAX_QUEUES; qi += W)
			cmds += d->q[qi].cmds;
		atomicAdd(&blk_cmds, cmds);
		atomicAdd(&blk_dropped, dropped);
	}
	__syncthreads();
	if (threadIdx.x == 0) {
		*(volatile unsigned long long *)&blk->cmds = blk_cmds;
		*(volatile unsigned long long *)&blk->dropped = blk_dropped;
		__threadfence_system();
		*(volatile uint32_t *)&blk->exited = 1;
	}
}

#endif
