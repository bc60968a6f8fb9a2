/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device-side NVMe driver: GPU threads build, submit and complete NVMe commands themselves.
 *
 * Three ways in, all on the queue pairs of a struct gpu_nvme_ns (aisio/gpu.h, set up by the host):
 *
 *   thread API   any thread, any number of threads per queue (many writers):
 *                gpu_nvme_read / gpu_nvme_write (synchronous; requests over the transfer limit are
 *                split) and gpu_nvme_submit + gpu_nvme_poll / gpu_nvme_wait (asynchronous; a request
 *                over the limit is refused with -E2BIG).
 *   warp API     gpu_nvme_warp_rw: the lanes of a converged warp each pass one request; the warp
 *                takes command ids and slot tickets with one atomic each, writes one doorbell and
 *                reaps the CQ 32 entries at a time. Queues may still be shared with other writers.
 *   owned API    gpu_nvme_owned_rw: like the warp API on a queue created with GPU_Q_OWNED that one
 *                warp alone uses: no locks and no atomics (the "bare ring" with a driver around it).
 *
 * Many-writer protocol (thread and warp API):
 *   1. command id from a bitmap (atomicOr), independent of the SQ slot, so that a command that never
 *      completes holds its id but not a slot;
 *   2. slot ticket t = atomicAdd(sq_ticket); the slot t % depth is free once the controller has
 *      consumed ticket t - depth + 1, which the reaper learns from the CQEs' SQ head pointer;
 *   3. SQE written, fence, sq_ready[slot] = t;
 *   4. group-commit doorbell: whoever takes db_lock advances sq_tail over every consecutive ready
 *      slot and writes the doorbell once for all of them; a thread whose entry is not yet covered
 *      retries until it is (so no ready entry is left behind by a lock holder that scanned early);
 *   5. completion: whoever takes cq_lock reaps every valid CQE (phase bit first, then the rest),
 *      posts status into the record of its command id, advances sq_head from SQHD, and writes the
 *      CQ head doorbell once per batch. Waiters spin on their own record and help reap.
 *
 * Return values: 0; -EIO when the controller failed the command (its status, SCT << 8 | SC, in
 * *status); -ETIMEDOUT when a bounded wait ran out (queue->timeout_ns, set by the host from
 * AISIO_TIMEOUT_SCALE); -EINVAL / -E2BIG / -EFAULT for a request the driver refuses; -ENXIO once
 * a queue is marked failed (a slot wait timed out: the controller stopped fetching; the host must
 * recreate the queue). There is no unbounded wait anywhere.
 *
 * Memory ordering (the reasons for each fence are at the fence):
 *   - queues whose rings or doorbells are outside this GPU's memory (pinned host rings, a real
 *     controller's BAR0) carry GPU_Q_SYS_SCOPE and use __threadfence_system(); queues wholly in GPU
 *     memory served by the GPU-resident emulator use __threadfence() (GPU scope);
 *   - everything another agent writes is read with volatile loads (ld.volatile: no stale L1 line).
 *
 * Thread-safety: every function may be called by any number of threads at once on the same queue,
 * except the owned API (one warp per queue) and the warp API (all 32 lanes, converged).
 */
#ifndef AISIO_GPU_NVME_CUH
#define AISIO_GPU_NVME_CUH

#include <errno.h>
#include <stdint.h>

#include <aisio/gpu.h>
#include <aisio/nvme_ring.h>
#include <aisio/nvme_spec.h>

#define GPU_NVME_FULL_MASK 0xffffffffu

/* ---- low-level helpers ---- */

__device__ __forceinline__ uint64_t gpu_nvme_clock_ns(void)
{
	uint64_t t;
	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
	return t;
}

__device__ __forceinline__ uint32_t gpu_ld32(const uint32_t *p)
{
	return *(const volatile uint32_t *)p;
}
__device__ __forceinline__ void gpu_st32(uint32_t *p, uint32_t v)
{
	*(volatile uint32_t *)p = v;
}
__device__ __forceinline__ uint16_t gpu_ld16(const uint16_t *p)
{
	return *(const volatile uint16_t *)p;
}

__device__ __forceinline__ uint32_t gpu_lanemask_lt(void)
{
	uint32_t m;
	asm("mov.u32 %0, %%lanemask_lt;" : "=r"(m));
	return m;
}

/* Fence with the queue's scope: system scope when the controller or the rings are outside this GPU. */
__device__ __forceinline__ void gpu_nvme_fence(const struct gpu_nvme_queue *q)
{
	if (q->flags & GPU_Q_SYS_SCOPE)
		__threadfence_system();
	else
		__threadfence();
}

/* A bounded wait: back off a little on each spin, read the clock every 16th. */
struct gpu_nvme_wait {
	uint64_t deadline;
	uint32_t spins;
};

__device__ __forceinline__ void gpu_nvme_wait_init(struct gpu_nvme_wait *w, uint64_t timeout_ns)
{
	w->deadline = gpu_nvme_clock_ns() + timeout_ns;
	w->spins = 0;
}

/* True once the deadline has passed. */
__device__ __forceinline__ bool gpu_nvme_wait_expired(struct gpu_nvme_wait *w)
{
	uint32_t s = ++w->spins;
	if (s > 8)
		__nanosleep(s < 64 ? 32 : 200);
	if ((s & 15) == 0)
		return gpu_nvme_clock_ns() > w->deadline;
	return false;
}

__device__ __forceinline__ void gpu_nvme_queue_fail(struct gpu_nvme_queue *q, int err)
{
	atomicCAS((unsigned int *)&q->failed, 0u, (unsigned int)err);
}

/* ---- completion side ---- */

/* Post one reaped CQE into its command id's record (caller holds cq_lock and fenced after reading
 * the CQE). Returns 1 when the record was waiting for it. */
__device__ __forceinline__ int gpu_nvme_cpl_post(struct gpu_nvme_queue *q, uint16_t cid, uint16_t status, uint32_t dw0)
{
	if (cid >= q->ncid)
		return 0;
	struct gpu_nvme_cpl *r = &q->cpl[cid];
	r->status = status;
	r->dw0 = dw0;
	/* status and dw0 before the state change a waiter acts on */
	__threadfence();
	uint32_t old = atomicCAS(&r->state, GPU_CPL_INFLIGHT, GPU_CPL_DONE);
	if (old == GPU_CPL_INFLIGHT)
		return 1;
	if (old == GPU_CPL_ABANDONED) {
		/* the waiter gave up; the controller is done with the id now, so it may be reused */
		gpu_st32(&r->state, GPU_CPL_FREE);
		__threadfence();
		atomicAnd(&q->cid_map[cid >> 5], ~(1u << (cid & 31)));
	}
	return 0;
}

/*
 * Reap up to max CQEs if no one else is reaping (single thread). Entries are checked 8 at a time:
 * the phase bits first, then one fence, then the rest of those entries: the controller writes
 * the phase last, so an entry whose phase is valid is complete once that fence orders our later
 * reads after the phase read. Returns the number reaped.
 */
static __device__ __noinline__ uint32_t gpu_nvme_reap(struct gpu_nvme_queue *q, uint32_t max)
{
	if (gpu_ld32(&q->cq_lock) || atomicCAS(&q->cq_lock, 0u, 1u) != 0)
		return 0;
	__threadfence(); /* acquire: the previous holder's counter updates */
	const uint32_t depth = q->depth;
	uint32_t head = gpu_ld32(&q->cq_head);
	uint32_t sqh = gpu_ld32(&q->sq_head);
	uint32_t n = 0, stray = 0;
	uint16_t last_sqhd = 0;
	while (n < max) {
		uint16_t st[8];
		uint32_t k = 0;
#pragma unroll
		for (int i = 0; i < 8; i++)
			st[i] = gpu_ld16(&q->cq[nvme_ring_slot(head + i, depth)].status);
#pragma unroll
		for (int i = 0; i < 8; i++)
			if (k == (uint32_t)i && NVME_CQE_PHASE(st[i]) == nvme_ring_phase(head + i, depth))
				k++;
		if (k == 0)
			break;
		gpu_nvme_fence(q); /* the rest of each entry is read after its phase bit */
		for (uint32_t i = 0; i < k; i++) {
			const struct nvme_cqe *e = &q->cq[nvme_ring_slot(head + i, depth)];
			uint16_t cid = gpu_ld16(&e->cid);
			last_sqhd = gpu_ld16(&e->sqhd);
			uint32_t dw0 = gpu_ld32(&e->dw0);
			if (!gpu_nvme_cpl_post(q, cid, NVME_CQE_STATUS(st[i]), dw0))
				stray++;
		}
		head += k;
		n += k;
		if (k < 8)
			break;
	}
	if (n) {
		/* SQHD of the newest entry covers the older ones: the head only moves forward */
		sqh = nvme_sqhd_advance(sqh, gpu_ld32(&q->sq_tail), last_sqhd, depth);
		gpu_st32(&q->cq_head, head);
		gpu_st32(&q->sq_head, sqh);
		q->cq_doorbells++;
		q->completions += n;
		q->stray += stray;
		/* our reads of the entries are done before the controller may reuse them */
		gpu_nvme_fence(q);
		gpu_st32(q->cq_db, nvme_ring_slot(head, depth));
	}
	__threadfence(); /* release: counters and records before the lock */
	atomicExch(&q->cq_lock, 0u);
	return n;
}

/* ---- submission side ---- */

/* Take one free command id (bitmap), starting the search at word hint. With block = 0, give up with
 * -EBUSY after two scans (the caller holds completions it must consume first: waiting here could
 * wait for itself). */
__device__ __forceinline__ int gpu_nvme_cid_alloc(struct gpu_nvme_queue *q, uint32_t hint, uint16_t *cid,
						  struct gpu_nvme_wait *w, int block)
{
	const uint32_t nw = q->ncid >> 5;
	uint32_t i = hint & (nw - 1);
	for (int scans = 0;; scans++) {
		if (!block && scans == 2)
			return -EBUSY;
		for (uint32_t k = 0; k < nw; k++, i = (i + 1) & (nw - 1)) {
			uint32_t cur = gpu_ld32(&q->cid_map[i]);
			while (cur != 0xffffffffu) {
				uint32_t bit = __ffs(~cur) - 1;
				uint32_t old = atomicOr(&q->cid_map[i], 1u << bit);
				if (!(old & (1u << bit))) {
					*cid = (uint16_t)(i * 32 + bit);
					return 0;
				}
				cur = old | (1u << bit);
			}
		}
		gpu_nvme_reap(q, 64); /* late completions of abandoned ids free them */
		if (gpu_ld32((const uint32_t *)&q->failed))
			return -ENXIO;
		if (gpu_nvme_wait_expired(w))
			return -ETIMEDOUT;
	}
}

__device__ __forceinline__ void gpu_nvme_cid_free(struct gpu_nvme_queue *q, uint16_t cid)
{
	atomicAnd(&q->cid_map[cid >> 5], ~(1u << (cid & 31)));
}

/*
 * Ids for the lanes of a warp that are here together for the same queue (mask): the lowest lane
 * takes free bits of a bitmap word, as many as lanes still lack one, with one atomicOr, and the
 * lanes take them by rank; if the word was short it goes on to the next word (at most one pass).
 * The first word comes from the warp's index, so that warps sharing a queue start apart; with one
 * word per group, two warps of a queue whose indices fell on the same word sent one of them to
 * the lane-by-lane search, 32 atomics (issue 19: the thread API's worst case was 2 warps per
 * queue). A lane left without one takes its id alone. Returns whether this lane got one.
 */
__device__ __forceinline__ bool gpu_nvme_cid_take_group(struct gpu_nvme_queue *q, uint32_t mask, uint16_t *cid)
{
	const uint32_t lane = threadIdx.x & 31, leader = __ffs(mask) - 1, n = __popc(mask);
	const uint32_t nw = q->ncid >> 5;
	const uint32_t rank = __popc(mask & gpu_lanemask_lt());
	uint32_t word = ((blockIdx.x * blockDim.x + threadIdx.x) >> 5) & (nw - 1);
	uint32_t given = 0; /* lanes (by rank) served so far */
	bool got = false;
	for (uint32_t k = 0; k < nw && given < n; k++, word = (word + 1) & (nw - 1)) {
		uint32_t take = 0;
		if (lane == leader) {
			uint32_t fr = ~gpu_ld32(&q->cid_map[word]), want = 0;
			for (uint32_t i = given; i < n && fr; i++) {
				want |= fr & (0u - fr); /* lowest free bit */
				fr &= fr - 1;
			}
			if (want)
				take = want & ~atomicOr(&q->cid_map[word], want);
		}
		take = __shfl_sync(mask, take, leader);
		const uint32_t got_n = __popc(take);
		if (!got && rank >= given && rank < given + got_n) {
			*cid = (uint16_t)(word * 32 + __fns(take, 0, rank - given + 1));
			got = true;
		}
		given += got_n;
	}
	return got;
}

/* Gives back the ids of the lanes here together (any queues, any words): one atomicAnd per
 * (queue, word) group instead of one per lane. */
__device__ __forceinline__ void gpu_nvme_cid_free_group(struct gpu_nvme_queue *q, uint16_t cid)
{
	const uint32_t lane = threadIdx.x & 31;
	uint32_t *w = &q->cid_map[cid >> 5];
	const uint32_t mask = __match_any_sync(__activemask(), (unsigned long long)(uintptr_t)w);
	const uint32_t bits = __reduce_or_sync(mask, 1u << (cid & 31));
	if (lane == (uint32_t)(__ffs(mask) - 1))
		atomicAnd(w, ~bits);
}

/* Wait until ticket t may use its slot: the ring holds at most depth - 1 unconsumed entries. */
__device__ __forceinline__ int gpu_nvme_slot_wait(struct gpu_nvme_queue *q, uint32_t t, struct gpu_nvme_wait *w)
{
	while (t - gpu_ld32(&q->sq_head) >= q->depth - 1) {
		gpu_nvme_reap(q, 64); /* slots come back only through the CQEs' SQ head pointer */
		if (gpu_nvme_wait_expired(w)) {
			/* the ticket cannot be given back: a hole in the ring; the queue is done for */
			gpu_nvme_queue_fail(q, -ENXIO);
			return -ETIMEDOUT;
		}
	}
	return 0;
}

__device__ __forceinline__ void gpu_nvme_sqe_store(struct nvme_sqe *dst, const struct nvme_sqe *src)
{
	const uint4 *s = (const uint4 *)src;
	uint4 *d = (uint4 *)dst;
#pragma unroll
	for (int i = 0; i < 4; i++)
		d[i] = s[i];
}

/*
 * Group commit: return once the doorbell covers every ticket below upto. The lock holder moves
 * sq_tail over all consecutive ready slots (its own and other threads') and writes the doorbell
 * once; others see their entry covered without writing anything. backoff (the blocking thread API):
 * sleep between looks; measured with four warps per queue (docs/GPU.md, issue 19): the thread API
 * +15%, while the async API, which returns to its own polling, lost 27% with it.
 */
static __device__ __noinline__ int gpu_nvme_sq_publish(struct gpu_nvme_queue *q, uint32_t upto, struct gpu_nvme_wait *w,
						       bool backoff)
{
	const uint32_t depth = q->depth;
	for (;;) {
		if ((int32_t)(gpu_ld32(&q->sq_tail) - upto) >= 0)
			return 0;
		if (gpu_ld32(&q->db_lock) == 0 && atomicCAS(&q->db_lock, 0u, 1u) == 0) {
			__threadfence(); /* acquire: the previous holder's sq_tail */
			const uint32_t tail = gpu_ld32(&q->sq_tail);
			uint32_t t = tail;
			while (t - tail < depth - 1 && gpu_ld32(&q->sq_ready[nvme_ring_slot(t, depth)]) == t)
				t++;
			if (t != tail) {
				gpu_st32(&q->sq_tail, t);
				q->sq_doorbells++;
				/* release to the controller: the SQEs that other threads wrote (we saw their
				 * ready marks, and fences are cumulative) and sq_tail (the reaper bounds SQHD by
				 * it) are visible before the controller can see the new tail */
				gpu_nvme_fence(q);
				gpu_st32(q->sq_db, nvme_ring_slot(t, depth));
			}
			__threadfence();
			atomicExch(&q->db_lock, 0u);
			if ((int32_t)(t - upto) >= 0)
				return 0;
		}
		if (gpu_ld32((const uint32_t *)&q->failed))
			return -ENXIO;
		if (gpu_nvme_wait_expired(w)) {
			gpu_nvme_queue_fail(q, -ENXIO);
			return -ETIMEDOUT;
		}
		if (backoff)
			__nanosleep(64); /* off the lock's and the tail's lines while the holder scans */
	}
}

/*
 * gpu_nvme_sq_publish for a whole warp (all 32 lanes call it, converged): the lock holder's lanes read
 * 32 ready marks at a time and a ballot gives the run of consecutive ready slots, where one lane
 * reading them one after another waits a global-memory round trip per slot (32 to 128 of them per
 * doorbell with one to four warps per queue: issue 19). A partial group keeps the one-lane scan: one
 * version for any mask of lanes gained the async API nothing and its registers kept the many-writer
 * test's 256 blocks of 256 threads from being resident beside the engine (docs/GPU.md).
 */
static __device__ __noinline__ int gpu_nvme_warp_sq_publish(struct gpu_nvme_queue *q, uint32_t upto,
							    struct gpu_nvme_wait *w, bool backoff)
{
	const uint32_t lane = threadIdx.x & 31, depth = q->depth;
	for (;;) {
		/* 2: covered; 1: this warp holds the doorbell lock; 0: neither */
		uint32_t state = 0, tail = 0;
		if (lane == 0) {
			tail = gpu_ld32(&q->sq_tail);
			if ((int32_t)(tail - upto) >= 0)
				state = 2;
			else if (gpu_ld32(&q->db_lock) == 0 && atomicCAS(&q->db_lock, 0u, 1u) == 0)
				state = 1;
		}
		state = __shfl_sync(GPU_NVME_FULL_MASK, state, 0);
		if (state == 2)
			return 0;
		if (state == 1) {
			if (lane == 0) {
				__threadfence(); /* acquire: the previous holder's sq_tail */
				tail = gpu_ld32(&q->sq_tail);
			}
			tail = __shfl_sync(GPU_NVME_FULL_MASK, tail, 0);
			uint32_t t = tail;
			for (;;) {
				const uint32_t s = t + lane;
				const bool ready = s - tail < depth - 1 &&
						   gpu_ld32(&q->sq_ready[nvme_ring_slot(s, depth)]) == s;
				const uint32_t run = __ballot_sync(GPU_NVME_FULL_MASK, ready);
				const uint32_t k = ~run ? __ffs(~run) - 1 : 32;
				t += k;
				if (k < 32)
					break;
			}
			if (t != tail && lane == 0) {
				gpu_st32(&q->sq_tail, t);
				q->sq_doorbells++;
			}
			/* release to the controller, as in gpu_nvme_sq_publish; every lane fences after the
			 * ready marks it saw, and the barrier hands that order on to lane 0's doorbell */
			gpu_nvme_fence(q);
			__syncwarp();
			if (lane == 0) {
				if (t != tail)
					gpu_st32(q->sq_db, nvme_ring_slot(t, depth));
				__threadfence();
				atomicExch(&q->db_lock, 0u);
			}
			if ((int32_t)(t - upto) >= 0)
				return 0;
		}
		int stop = 0;
		if (lane == 0) {
			if (gpu_ld32((const uint32_t *)&q->failed))
				stop = -ENXIO;
			else if (gpu_nvme_wait_expired(w)) {
				gpu_nvme_queue_fail(q, -ENXIO);
				stop = -ETIMEDOUT;
			}
		}
		stop = __shfl_sync(GPU_NVME_FULL_MASK, stop, 0);
		if (stop)
			return stop;
		if (backoff)
			__nanosleep(64);
	}
}

/* Whether the driver takes this request (range, size, address); 0 or a negative errno; *bus: the
 * buffer's bus address. */
__device__ __forceinline__ int gpu_nvme_check_rw_bus(const struct gpu_nvme_ns *ns, const void *buf, uint64_t slba,
						     uint32_t nlb, uint64_t *bus)
{
	if (nlb == 0 || nlb > 65536u || slba + nlb > ns->nsze || slba + nlb < slba)
		return -EINVAL;
	uint64_t bytes = (uint64_t)nlb << ns->lba_shift;
	if (bytes > ns->max_xfer)
		return -E2BIG;
	if (gpu_dma_translate(ns->win, ns->nwin, (uint64_t)(uintptr_t)buf, bytes, bus))
		return -EFAULT;
	return 0;
}
__device__ __forceinline__ int gpu_nvme_check_rw(const struct gpu_nvme_ns *ns, const void *buf, uint64_t slba,
						 uint32_t nlb)
{
	uint64_t bus;
	return gpu_nvme_check_rw_bus(ns, buf, slba, nlb, &bus);
}

/*
 * PRP1 and PRP2 of bytes at buf (bus address bus: the buffer is bus-contiguous, one DMA window) for command id
 * cid, with the PRP list, chained past a page when it must be, in the id's list area (aisio/nvme_ring.h).
 * Returns the list entries, -7 (-E2BIG) when the area has no room, -22 (-EINVAL) for a bad address or length.
 */
__device__ __forceinline__ int gpu_nvme_prps(const struct gpu_nvme_ns *ns, const struct gpu_nvme_queue *q, uint16_t cid,
					     const void *buf, uint64_t bus, uint32_t bytes, uint64_t *prp1,
					     uint64_t *prp2)
{
	uint64_t *list = q->prp + (size_t)cid * (q->prp_stride / 8);
	const struct nvme_dma_map data = {(const uint8_t *)buf, bus, NULL, 0, bytes};
	const struct nvme_dma_map lists = {(const uint8_t *)list, q->prp_bus + (uint64_t)cid * q->prp_stride, NULL, 0,
					   q->prp_stride};
	return nvme_prp_build(&data, buf, bytes, ns->page_shift, list, &lists, q->prp_stride, prp1, prp2);
}

/* Fill an NVMe read/write SQE for cid (PRP list, if any, in the id's list area). */
__device__ __forceinline__ int gpu_nvme_prep_rw(const struct gpu_nvme_ns *ns, struct gpu_nvme_queue *q, uint16_t cid,
						uint8_t opc, void *buf, uint64_t slba, uint32_t nlb,
						struct nvme_sqe *cmd)
{
	uint64_t bus;
	int rc = gpu_nvme_check_rw_bus(ns, buf, slba, nlb, &bus);
	if (rc)
		return rc;
	uint64_t prp1, prp2;
	rc = gpu_nvme_prps(ns, q, cid, buf, bus, nlb << ns->lba_shift, &prp1, &prp2);
	if (rc < 0)
		return rc == -7 ? -E2BIG : -EINVAL;
	nvme_sqe_rw(cmd, opc, cid, ns->nsid, slba, nlb);
	cmd->prp1 = prp1;
	cmd->prp2 = prp2;
	return 0;
}

/* ---- thread API ---- */

/* Handle of one asynchronous command. */
struct gpu_nvme_handle {
	struct gpu_nvme_queue *q;
	struct gpu_nvme_wait w; /* its deadline starts at submission */
	uint16_t cid;
	uint16_t status;
	int err; /* 1 while in flight */
};

/* Submit one read or write; block: wait for a free command id (the caller holds no other command). */
static __device__ __noinline__ int gpu_nvme_submit_ex(const struct gpu_nvme_ns *ns, uint32_t qi, uint8_t opc, void *buf,
						      uint64_t slba, uint32_t nlb, struct gpu_nvme_handle *h, int block)
{
	struct gpu_nvme_queue *q = &ns->queues[qi % ns->nqueues];
	h->q = q;
	h->status = 0;
	gpu_nvme_wait_init(&h->w, q->timeout_ns);
	if (gpu_ld32((const uint32_t *)&q->failed))
		return h->err = -ENXIO;
	uint16_t cid;
	int rc = 0;
	/* lanes here together for this queue take their ids with one atomic; the rest alone */
	const uint32_t group = __match_any_sync(__activemask(), (unsigned long long)(uintptr_t)q);
	if (__popc(group) < 2 || !gpu_nvme_cid_take_group(q, group, &cid))
		rc = gpu_nvme_cid_alloc(q, blockIdx.x * blockDim.x + threadIdx.x, &cid, &h->w, block);
	if (rc)
		return h->err = rc;
	struct nvme_sqe cmd;
	rc = gpu_nvme_prep_rw(ns, q, cid, opc, buf, slba, nlb, &cmd);
	if (rc) {
		gpu_nvme_cid_free(q, cid);
		return h->err = rc;
	}
	h->cid = cid;
	gpu_st32(&q->cpl[cid].state, GPU_CPL_INFLIGHT);
	/*
	 * Opportunistic aggregation: the threads of this warp that are here together for the same queue
	 * (the lanes __activemask() reports, grouped by queue with __match_any_sync, as cooperative
	 * groups' coalesced_threads() does) take their tickets with one atomic, the leader waits for
	 * the slots of all of them, and one publish covers the group. A lone thread is a group of one.
	 */
	const uint32_t lane = threadIdx.x & 31;
	const uint32_t mask = __match_any_sync(__activemask(), (unsigned long long)(uintptr_t)q);
	const uint32_t leader = __ffs(mask) - 1, n = __popc(mask);
	uint32_t base = 0;
	if (lane == leader) {
		base = atomicAdd(&q->sq_ticket, n);
		rc = gpu_nvme_slot_wait(q, base + n - 1, &h->w);
	}
	base = __shfl_sync(mask, base, leader);
	rc = __shfl_sync(mask, rc, leader);
	if (rc)
		return h->err = rc; /* the id stays taken: the queue is failed anyway */
	const uint32_t t = base + __popc(mask & gpu_lanemask_lt());
	gpu_nvme_sqe_store(&q->sq[nvme_ring_slot(t, q->depth)], &cmd);
	/* SQE, PRP list and the INFLIGHT record before the slot is marked ready (and so before
	 * any doorbell that covers it) */
	gpu_nvme_fence(q);
	gpu_st32(&q->sq_ready[nvme_ring_slot(t, q->depth)], t);
	__syncwarp(mask);
	if (mask == GPU_NVME_FULL_MASK)
		rc = gpu_nvme_warp_sq_publish(q, base + n, &h->w, block);
	else if (lane == leader)
		rc = gpu_nvme_sq_publish(q, base + n, &h->w, block);
	rc = __shfl_sync(mask, rc, leader);
	if (rc)
		return h->err = rc;
	h->err = 1;
	return 0;
}

/*
 * Submit one read (NVME_CMD_READ) or write (NVME_CMD_WRITE) on queue qi; the handle tracks it.
 * -EBUSY when every command id of the queue is taken: poll the commands you have in flight and
 * submit again (a thread that waited for an id while holding completed commands could wait for
 * itself).
 */
static __device__ __forceinline__ int gpu_nvme_submit(const struct gpu_nvme_ns *ns, uint32_t qi, uint8_t opc, void *buf,
						      uint64_t slba, uint32_t nlb, struct gpu_nvme_handle *h)
{
	return gpu_nvme_submit_ex(ns, qi, opc, buf, slba, nlb, h, 0);
}

static __device__ __noinline__ uint32_t gpu_nvme_warp_reap(struct gpu_nvme_queue *q);
static __device__ __noinline__ int gpu_nvme_warp_rw(const struct gpu_nvme_ns *ns, uint32_t qi, uint8_t opc, bool active,
						    void *buf, uint64_t slba, uint32_t nlb, uint16_t *status);

/* Check once: -EAGAIN while in flight; then 0, -EIO (status in *status) or -ETIMEDOUT. */
static __device__ __noinline__ int gpu_nvme_poll(struct gpu_nvme_handle *h, uint16_t *status)
{
	if (h->err != 1)
		return h->err;
	struct gpu_nvme_queue *q = h->q;
	struct gpu_nvme_cpl *r = &q->cpl[h->cid];
	if (gpu_ld32(&r->state) != GPU_CPL_DONE) {
		/* A whole warp waiting on one queue reaps together, one CQE per lane; a lone waiter
		 * (or a partial warp) reaps one entry after another. */
		const uint32_t peers = __match_any_sync(__activemask(), (unsigned long long)(uintptr_t)q);
		if (peers == GPU_NVME_FULL_MASK)
			gpu_nvme_warp_reap(q);
		else
			gpu_nvme_reap(q, 64);
		if (gpu_ld32(&r->state) != GPU_CPL_DONE) {
			if (!gpu_nvme_wait_expired(&h->w))
				return -EAGAIN;
			/* give up; if the reaper completed it meanwhile, take the completion after all */
			if (atomicCAS(&r->state, GPU_CPL_INFLIGHT, GPU_CPL_ABANDONED) == GPU_CPL_INFLIGHT)
				return h->err = -ETIMEDOUT;
		}
	}
	__threadfence(); /* acquire: status was written before the state */
	h->status = gpu_ld16(&r->status);
	gpu_nvme_cid_free_group(q, h->cid);
	if (status)
		*status = h->status;
	return h->err = h->status ? -EIO : 0;
}

/*
 * Wait (bounded by the queue's timeout from submission) for the command's completion. The lanes that
 * arrive together leave together: a lane whose command is done waits for its peers' (each bounded the
 * same way), so that the warp's next submissions are one group again (one ticket atomic, one
 * publish) and its pollers reap as a warp. Lanes left to go on alone each take the doorbell and CQ
 * locks: with two or more warps on a queue that contention cut IOPS by four (issue 19).
 */
__device__ __forceinline__ int gpu_nvme_wait(struct gpu_nvme_handle *h, uint16_t *status)
{
	const uint32_t together = __activemask();
	int rc = -EAGAIN;
	do {
		if (rc == -EAGAIN)
			rc = gpu_nvme_poll(h, status);
	} while (__any_sync(together, rc == -EAGAIN));
	return rc;
}

/* Synchronous read or write of nlb blocks at slba; split into commands of at most max_xfer bytes. */
__device__ __forceinline__ int gpu_nvme_rw(const struct gpu_nvme_ns *ns, uint32_t qi, uint8_t opc, void *buf,
					   uint64_t slba, uint32_t nlb, uint16_t *status)
{
	const uint32_t per = ns->max_xfer >> ns->lba_shift;
	uint8_t *p = (uint8_t *)buf;
	if (nlb == 0 || per == 0)
		return -EINVAL;
	while (nlb) {
		uint32_t n = nlb < per ? nlb : per;
		int rc;
		/* a whole warp here for one queue goes as one warp-cooperative round: one id atomic per
		 * bitmap word, one ticket, one doorbell, the CQ reaped 32 at a time, and the lanes wait as
		 * one (issue 19: per-lane waits and group commits of four warps cut IOPS by four) */
		const uint32_t peers = __match_any_sync(__activemask(), (unsigned long long)(qi % ns->nqueues));
		if (peers == GPU_NVME_FULL_MASK) {
			rc = gpu_nvme_warp_rw(ns, qi, opc, true, p, slba, n, status);
		} else {
			struct gpu_nvme_handle h;
			rc = gpu_nvme_submit_ex(ns, qi, opc, p, slba, n, &h, 1);
			if (rc == 0)
				rc = gpu_nvme_wait(&h, status);
		}
		if (rc)
			return rc;
		p += (size_t)n << ns->lba_shift;
		slba += n;
		nlb -= n;
	}
	return 0;
}

__device__ __forceinline__ int gpu_nvme_read(const struct gpu_nvme_ns *ns, uint32_t qi, void *buf, uint64_t slba,
					     uint32_t nlb, uint16_t *status)
{
	return gpu_nvme_rw(ns, qi, NVME_CMD_READ, buf, slba, nlb, status);
}

__device__ __forceinline__ int gpu_nvme_write(const struct gpu_nvme_ns *ns, uint32_t qi, const void *buf, uint64_t slba,
					      uint32_t nlb, uint16_t *status)
{
	return gpu_nvme_rw(ns, qi, NVME_CMD_WRITE, (void *)buf, slba, nlb, status);
}

/* ---- warp API ---- */

/*
 * Warp-parallel reap: lane i looks at CQ entry head + i; the valid prefix is processed in one go and
 * the CQ head doorbell written once. All 32 lanes call it. Returns the number reaped.
 */
static __device__ __noinline__ uint32_t gpu_nvme_warp_reap(struct gpu_nvme_queue *q)
{
	const uint32_t lane = threadIdx.x & 31;
	uint32_t got = 0;
	if (lane == 0)
		got = gpu_ld32(&q->cq_lock) == 0 && atomicCAS(&q->cq_lock, 0u, 1u) == 0;
	got = __shfl_sync(GPU_NVME_FULL_MASK, got, 0);
	if (!got)
		return 0;
	__threadfence();
	const uint32_t depth = q->depth;
	uint32_t head = gpu_ld32(&q->cq_head);
	const struct nvme_cqe *e = &q->cq[nvme_ring_slot(head + lane, depth)];
	uint16_t st = gpu_ld16(&e->status);
	uint32_t valid = __ballot_sync(GPU_NVME_FULL_MASK, NVME_CQE_PHASE(st) == nvme_ring_phase(head + lane, depth));
	uint32_t k = __ffs(~valid) - 1; /* valid prefix; 32 when all are valid */
	if (valid == GPU_NVME_FULL_MASK)
		k = 32;
	if (k > depth - 1)
		k = depth - 1;
	uint16_t sqhd = 0;
	uint32_t stray = 0;
	if (lane < k) {
		gpu_nvme_fence(q); /* the rest of the entry after its phase bit */
		uint16_t cid = gpu_ld16(&e->cid);
		sqhd = gpu_ld16(&e->sqhd);
		stray = !gpu_nvme_cpl_post(q, cid, NVME_CQE_STATUS(st), gpu_ld32(&e->dw0));
	}
	stray = __popc(__ballot_sync(GPU_NVME_FULL_MASK, stray));
	sqhd = (uint16_t)__shfl_sync(GPU_NVME_FULL_MASK, sqhd, k ? k - 1 : 0);
	if (lane == 0 && k) {
		head += k;
		gpu_st32(&q->cq_head, head);
		gpu_st32(&q->sq_head, nvme_sqhd_advance(gpu_ld32(&q->sq_head), gpu_ld32(&q->sq_tail), sqhd, depth));
		q->cq_doorbells++;
		q->completions += k;
		q->stray += stray;
		gpu_nvme_fence(q);
		gpu_st32(q->cq_db, nvme_ring_slot(head, depth));
	}
	__syncwarp();
	if (lane == 0) {
		__threadfence();
		atomicExch(&q->cq_lock, 0u);
	}
	return k;
}

/*
 * One pass over the id bitmap for the lanes that still need an id (*got tells who got one); one
 * atomicOr per word tried. Lanes that get none wait for the warp's next round, so a warp never waits
 * for ids while it holds some that it has not submitted (four warps each holding part of the ids
 * they need would wait for each other forever; seen on the H200). -ETIMEDOUT (uniform) once the
 * warp's deadline passes with no id to be had.
 */
__device__ __forceinline__ int gpu_nvme_warp_cid_take(struct gpu_nvme_queue *q, bool need, uint16_t *cid, bool *got,
						      struct gpu_nvme_wait *w)
{
	const uint32_t lane = threadIdx.x & 31, nw = q->ncid >> 5;
	uint32_t i = ((blockIdx.x * blockDim.x + threadIdx.x) >> 5) & (nw - 1);
	*got = false;
	for (uint32_t k = 0; k < nw; k++, i = (i + 1) & (nw - 1)) {
		uint32_t want = __ballot_sync(GPU_NVME_FULL_MASK, need && !*got);
		if (!want)
			return 0;
		uint32_t rank = __popc(want & gpu_lanemask_lt());
		/* one snapshot for the whole warp, so that lanes pick different bits */
		uint32_t cur = __shfl_sync(GPU_NVME_FULL_MASK, lane == 0 ? gpu_ld32(&q->cid_map[i]) : 0u, 0);
		uint32_t fr = ~cur;
		bool mine = need && !*got;
		uint32_t bit = mine && rank < (uint32_t)__popc(fr) ? __fns(fr, 0, rank + 1) : 32;
		uint32_t take = __reduce_or_sync(GPU_NVME_FULL_MASK, bit < 32 ? 1u << bit : 0u);
		uint32_t old = 0;
		if (take && lane == __ffs(want) - 1)
			old = atomicOr(&q->cid_map[i], take);
		old = __shfl_sync(GPU_NVME_FULL_MASK, old, __ffs(want) - 1);
		if (bit < 32 && !(old & (1u << bit))) {
			*cid = (uint16_t)(i * 32 + bit);
			*got = true;
		}
	}
	if (__any_sync(GPU_NVME_FULL_MASK, *got))
		return 0;
	gpu_nvme_warp_reap(q);
	int expired = 0;
	if (lane == 0)
		expired = gpu_nvme_wait_expired(w) || gpu_ld32((const uint32_t *)&q->failed);
	return __shfl_sync(GPU_NVME_FULL_MASK, expired, 0) ? -ETIMEDOUT : 0;
}

/*
 * Warp-cooperative read/write: all 32 lanes call it (converged); lanes with active = true each issue
 * one command (nlb blocks at slba to/from buf) on queue qi, shared with any other writers. Returns
 * the lane's result as the thread API does. Requests over max_xfer give -E2BIG. When fewer ids are
 * free than lanes ask for, the warp submits what it has, waits for those, and goes round again.
 */
static __device__ __noinline__ int gpu_nvme_warp_rw(const struct gpu_nvme_ns *ns, uint32_t qi, uint8_t opc, bool active,
						    void *buf, uint64_t slba, uint32_t nlb, uint16_t *status)
{
	struct gpu_nvme_queue *q = &ns->queues[qi % ns->nqueues];
	const uint32_t lane = threadIdx.x & 31;
	struct gpu_nvme_wait w;
	gpu_nvme_wait_init(&w, q->timeout_ns);
	if (__shfl_sync(GPU_NVME_FULL_MASK, lane == 0 ? gpu_ld32((const uint32_t *)&q->failed) : 0u, 0))
		return -ENXIO;
	bool pending = active;
	int res = 0;
	while (__any_sync(GPU_NVME_FULL_MASK, pending)) {
		uint16_t cid = 0;
		bool got = false;
		int arc = gpu_nvme_warp_cid_take(q, pending, &cid, &got, &w);
		if (arc)
			return pending ? arc : res;
		if (!__any_sync(GPU_NVME_FULL_MASK, got))
			continue;
		int rc = 0;
		struct nvme_sqe cmd;
		if (got) {
			pending = false;
			rc = gpu_nvme_prep_rw(ns, q, cid, opc, buf, slba, nlb, &cmd);
			if (rc)
				gpu_nvme_cid_free(q, cid);
			res = rc;
		}
		const bool go = got && rc == 0;
		const uint32_t gomask = __ballot_sync(GPU_NVME_FULL_MASK, go);
		if (!gomask)
			continue;
		const uint32_t n = __popc(gomask), leader = __ffs(gomask) - 1;
		uint32_t base = 0;
		if (lane == leader)
			base = atomicAdd(&q->sq_ticket, n);
		base = __shfl_sync(GPU_NVME_FULL_MASK, base, leader);
		const uint32_t t = base + __popc(gomask & gpu_lanemask_lt());
		int wrc = 0;
		if (lane == leader)
			wrc = gpu_nvme_slot_wait(q, base + n - 1, &w);
		wrc = __shfl_sync(GPU_NVME_FULL_MASK, wrc, leader);
		if (wrc)
			return go || pending ? wrc : res;
		if (go) {
			gpu_st32(&q->cpl[cid].state, GPU_CPL_INFLIGHT);
			gpu_nvme_sqe_store(&q->sq[nvme_ring_slot(t, q->depth)], &cmd);
			gpu_nvme_fence(q); /* SQE, PRP list, record before the ready mark */
			gpu_st32(&q->sq_ready[nvme_ring_slot(t, q->depth)], t);
		}
		__syncwarp();
		wrc = gpu_nvme_warp_sq_publish(q, base + n, &w, false);
		if (wrc)
			return go || pending ? wrc : res;
		/* completion: every lane watches its record; the warp reaps together */
		struct gpu_nvme_cpl *r = &q->cpl[cid];
		bool done = !go;
		for (;;) {
			if (!done && gpu_ld32(&r->state) == GPU_CPL_DONE) {
				__threadfence();
				uint16_t st = gpu_ld16(&r->status);
				gpu_nvme_cid_free_group(q, cid); /* the lanes done together: one atomic per word */
				if (status)
					*status = st;
				res = st ? -EIO : 0;
				done = true;
			}
			if (__all_sync(GPU_NVME_FULL_MASK, done))
				break;
			if (gpu_nvme_warp_reap(q) == 0) {
				int expired = 0;
				if (lane == leader)
					expired = gpu_nvme_wait_expired(&w);
				if (__shfl_sync(GPU_NVME_FULL_MASK, expired, leader)) {
					if (!done && atomicCAS(&r->state, GPU_CPL_INFLIGHT, GPU_CPL_ABANDONED) ==
							     GPU_CPL_INFLIGHT) {
						res = -ETIMEDOUT;
						done = true;
					}
					if (__all_sync(GPU_NVME_FULL_MASK, done))
						break;
				}
			}
		}
	}
	return res;
}

/* ---- owned API: one warp per queue, no atomics ---- */

/*
 * Like gpu_nvme_warp_rw on a GPU_Q_OWNED queue that only the calling warp ever touches. Command ids
 * are the ring's tickets (at most 32 in flight, all completed before the call returns), the warp
 * reaps its own CQ, and nothing is locked. A command that times out leaves the queue failed
 * (-ENXIO afterwards): its id could otherwise come back.
 *
 * Per round of up to 32 commands this path costs one fence before the SQ doorbell and one after the
 * last CQE, and no completion records: what each measured (docs/PERFORMANCE.md, "where the owned
 * path's time goes") is why it is built this way.
 *   - The queue's counters and failed are written by this warp alone: plain loads, all four issued
 *     together before any is used.
 *   - The request checks (range, size, DMA window, alignment) run once, before the ticket: a lane
 *     that gets a ticket always submits a well-formed command.
 *   - Lanes store their SQEs, __syncwarp (which orders the lanes' stores before what lane 0 does
 *     after it), lane 0 fences and rings: one fence covers every lane's SQE and PRP list.
 *   - The CQE's cid and status sit in the same 32-bit word as the phase bit, which the controller
 *     writes with one store after the rest of the entry: a lane that sees the phase in that word
 *     has the cid and status too, so the reap needs no fence per entry. The owner of each cid is
 *     lane (cid - base) of the round's go-lanes: a ballot marks it done; an error status (rare)
 *     is handed to its owner with shuffles.
 *   - Every command of the round completed, so the controller fetched every entry up to the tail
 *     (a controller consumes the SQ in order and cannot complete what it has not fetched): the SQ
 *     head is the tail without reading SQHD.
 *   - After the last CQE every lane fences, then __syncwarp: the fence after a lane's phase read is
 *     the acquire for the controller's data and entries, and the barrier carries it to the lane
 *     that owns the data; the CQ head doorbell comes after both, so no entry is released before
 *     it was read.
 * A CQE whose cid belongs to no command of the round fails the queue (-EPROTO).
 */
static __device__ __noinline__ int gpu_nvme_owned_rw(const struct gpu_nvme_ns *ns, struct gpu_nvme_queue *q,
						     uint8_t opc, bool active, void *buf, uint64_t slba, uint32_t nlb,
						     uint16_t *status)
{
	const uint32_t lane = threadIdx.x & 31;
	const uint32_t depth = q->depth, cmask = q->ncid - 1;
	uint32_t failed = 0, base = 0, sqh = 0, cqh = 0;
	if (lane == 0) {
		failed = (uint32_t)q->failed;
		base = q->sq_ticket;
		sqh = q->sq_head;
		cqh = q->cq_head;
	}
	failed = __shfl_sync(GPU_NVME_FULL_MASK, failed, 0);
	base = __shfl_sync(GPU_NVME_FULL_MASK, base, 0);
	sqh = __shfl_sync(GPU_NVME_FULL_MASK, sqh, 0);
	uint32_t head = __shfl_sync(GPU_NVME_FULL_MASK, cqh, 0);
	if (failed)
		return -ENXIO;
	int rc = 0;
	uint64_t bus = 0;
	bool go = false;
	if (active) {
		rc = gpu_nvme_check_rw_bus(ns, buf, slba, nlb, &bus);
		if (rc == 0 && (bus & 3))
			rc = -EINVAL; /* PRPs need dword-aligned addresses */
		go = rc == 0;
	}
	/* tickets (and so command ids and PRP list areas) only for the lanes that go */
	const uint32_t gomask = __ballot_sync(GPU_NVME_FULL_MASK, go);
	const uint32_t n = __popc(gomask);
	if (!n)
		return rc;
	/* every earlier round completed in full, so sq_head == base; anything else is a broken queue */
	if (base - sqh + n > depth - 1) {
		if (lane == 0)
			q->failed = -ENXIO;
		return -ENXIO;
	}
	const uint32_t rank = __popc(gomask & gpu_lanemask_lt());
	const uint32_t t = base + rank;
	if (go) {
		struct nvme_sqe cmd;
		const uint16_t cid = (uint16_t)(t & cmask);
		uint64_t prp1 = 0, prp2 = 0;
		/* cannot fail: the address is checked and the list area holds the largest transfer's pages */
		(void)gpu_nvme_prps(ns, q, cid, buf, bus, nlb << ns->lba_shift, &prp1, &prp2);
		nvme_sqe_rw(&cmd, opc, cid, ns->nsid, slba, nlb);
		cmd.prp1 = prp1;
		cmd.prp2 = prp2;
		gpu_nvme_sqe_store(&q->sq[nvme_ring_slot(t, depth)], &cmd);
	}
	__syncwarp(); /* every lane's SQE and PRP list before lane 0's fence and doorbell */
	if (lane == 0) {
		gpu_nvme_fence(q);
		gpu_st32(q->sq_db, nvme_ring_slot(base + n, depth));
		q->sq_ticket = base + n;
		q->sq_tail = base + n;
		q->sq_doorbells++;
	}
	/* reap until every command of the round has its CQE */
	struct gpu_nvme_wait w;
	gpu_nvme_wait_init(&w, q->timeout_ns);
	uint32_t done = 0;  /* ranks whose CQE came */
	uint16_t my_st = 0; /* this lane's status, handed over when not 0 */
	while (done != (n == 32 ? GPU_NVME_FULL_MASK : (1u << n) - 1)) {
		/* cid and status come in the phase bit's 32-bit word (one store by the controller) */
		const uint32_t dw3 = gpu_ld32((const uint32_t *)&q->cq[nvme_ring_slot(head + lane, depth)].cid);
		const uint16_t st = nvme_cqe_dw3_status(dw3);
		const uint32_t valid = __ballot_sync(GPU_NVME_FULL_MASK,
						     nvme_cqe_dw3_phase(dw3) == nvme_ring_phase(head + lane, depth));
		const uint32_t k = valid == GPU_NVME_FULL_MASK ? 32 : __ffs(~valid) - 1;
		if (k) {
			const bool mine = lane < k;
			const uint32_t r = (nvme_cqe_dw3_cid(dw3) - base) & cmask; /* the rank the cid was given to */
			const uint32_t bit = mine && r < n ? 1u << r : 0u;
			const uint32_t bits = __reduce_or_sync(GPU_NVME_FULL_MASK, bit);
			const uint32_t bad = __ballot_sync(GPU_NVME_FULL_MASK, mine && (r >= n || (done & bit)));
			if (bad || __popc(bits) != k) {
				/* a cid of no command of this round, or one twice: controller bug */
				if (lane == 0) {
					q->stray += k;
					q->failed = -EPROTO;
				}
				return go ? -EPROTO : rc;
			}
			done |= bits;
			uint32_t errm = __ballot_sync(GPU_NVME_FULL_MASK, mine && st != 0);
			while (errm) {
				const int j = __ffs(errm) - 1;
				errm &= errm - 1;
				const uint32_t rj = __shfl_sync(GPU_NVME_FULL_MASK, r, j);
				const uint16_t sj = (uint16_t)__shfl_sync(GPU_NVME_FULL_MASK, (uint32_t)st, j);
				if (go && rank == rj)
					my_st = sj;
			}
			head += k;
			continue;
		}
		int expired = 0;
		if (lane == 0)
			expired = gpu_nvme_wait_expired(&w);
		if (__shfl_sync(GPU_NVME_FULL_MASK, expired, 0)) {
			if (lane == 0)
				q->failed = -ENXIO;
			return go ? -ETIMEDOUT : rc;
		}
	}
	/* acquire (each lane after its own phase reads), then the barrier hands it to the data's owner */
	gpu_nvme_fence(q);
	__syncwarp();
	if (lane == 0) {
		gpu_st32(q->cq_db, nvme_ring_slot(head, depth));
		q->cq_head = head;
		q->sq_head = base + n;
		q->cq_doorbells++;
		q->completions += n;
	}
	if (!go)
		return rc;
	if (status)
		*status = my_st;
	return my_st ? -EIO : 0;
}

#endif /* AISIO_GPU_NVME_CUH */
