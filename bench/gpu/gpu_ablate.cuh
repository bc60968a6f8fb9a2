/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark only (bench/gpu/aisio-ablate perf cuda-run --ablate): the owned-queue path as it was before
 * its per-round work was cut, with compile-time switches that leave out one piece of per-command work
 * each (GPU_ABLATE_D_* in gpu_ablate.h), so that docs/PERFORMANCE.md can say what each piece costs.
 * With a piece left out the commands are still served, but what the API promises (checked requests,
 * statuses, ordering) no longer holds: cuda-verify refuses --ablate. Only
 * tools/gpu_perf.cu built with AISIO_GPU_ABLATE (bench/gpu/meson.build) includes this.
 */
#ifndef AISIO_GPU_ABLATE_CUH
#define AISIO_GPU_ABLATE_CUH

#include <aisio/gpu_nvme.cuh>

#include "gpu_ablate.h"

template <uint32_t AB>
static __device__ __noinline__ int owned_ref_rw(const struct gpu_nvme_ns *ns, struct gpu_nvme_queue *q, uint8_t opc,
						bool active, void *buf, uint64_t slba, uint32_t nlb, uint16_t *status)
{
	const uint32_t lane = threadIdx.x & 31;
	const uint32_t depth = q->depth, mask = depth - 1;
	if (__shfl_sync(GPU_NVME_FULL_MASK, lane == 0 ? gpu_ld32((const uint32_t *)&q->failed) : 0u, 0))
		return -ENXIO;
	const uint32_t base = __shfl_sync(GPU_NVME_FULL_MASK, q->sq_ticket, 0);
	struct nvme_sqe cmd;
	int rc = 0;
	bool go = false;
	uint32_t t = 0;
	if (active) {
		if (!(AB & GPU_ABLATE_D_PRP))
			rc = gpu_nvme_check_rw(ns, buf, slba, nlb);
		go = rc == 0;
	}
	uint32_t gomask = __ballot_sync(GPU_NVME_FULL_MASK, go);
	if (go) {
		t = base + __popc(gomask & gpu_lanemask_lt());
		const uint16_t cid = (uint16_t)(t & (q->ncid - 1));
		if (AB & (GPU_ABLATE_D_PRP | GPU_ABLATE_D_SQE)) {
			cmd.opc = opc;
			cmd.flags = 0;
			cmd.cid = cid;
			cmd.nsid = ns->nsid;
			cmd.prp1 = (uint64_t)(uintptr_t)buf;
			cmd.prp2 = 0;
			cmd.cdw10 = (uint32_t)slba;
			cmd.cdw11 = (uint32_t)(slba >> 32);
			cmd.cdw12 = nlb - 1;
			if (!(AB & GPU_ABLATE_D_SQE)) {
				cmd.cdw2 = cmd.cdw3 = 0;
				cmd.mptr = 0;
				cmd.cdw13 = cmd.cdw14 = cmd.cdw15 = 0;
			}
		} else {
			rc = gpu_nvme_prep_rw(ns, q, cid, opc, buf, slba, nlb, &cmd);
		}
	}
	const uint32_t n = __popc(gomask);
	if (!n)
		return rc;
	struct gpu_nvme_wait w;
	gpu_nvme_wait_init(&w, q->timeout_ns);
	for (;;) {
		uint32_t head = __shfl_sync(GPU_NVME_FULL_MASK,
					    (AB & GPU_ABLATE_D_SQHD) ? q->sq_head : gpu_ld32(&q->sq_head), 0);
		if (base + n - 1 - head < depth - 1)
			break;
		int expired = __shfl_sync(GPU_NVME_FULL_MASK, (int)gpu_nvme_wait_expired(&w), 0);
		if (expired) {
			if (lane == 0)
				q->failed = -ENXIO;
			return -ETIMEDOUT;
		}
	}
	if (go) {
		if (!(AB & GPU_ABLATE_D_CPL))
			q->cpl[t & (q->ncid - 1)].state = GPU_CPL_INFLIGHT;
		if (AB & GPU_ABLATE_D_SQE) {
			/* opc, flags, cid, nsid (bytes 0-7); slba, nlb (bytes 40-51) */
			uint8_t *e = (uint8_t *)&q->sq[t & mask];
			const uint64_t *src = (const uint64_t *)&cmd;
			*(volatile uint64_t *)e = src[0];
			*(volatile uint64_t *)(e + 40) = src[5];
			*(volatile uint32_t *)(e + 48) = cmd.cdw12;
		} else {
			gpu_nvme_sqe_store(&q->sq[t & mask], &cmd);
		}
		if (!(AB & GPU_ABLATE_D_SQFENCE))
			gpu_nvme_fence(q);
	}
	__syncwarp();
	if (lane == 0) {
		q->sq_ticket = base + n;
		q->sq_tail = base + n;
		q->sq_doorbells++;
		gpu_nvme_fence(q);
		gpu_st32(q->sq_db, (base + n) & mask);
	}
	uint32_t seen = 0;
	uint32_t head = __shfl_sync(GPU_NVME_FULL_MASK, q->cq_head, 0);
	int res = rc;
	uint16_t st_own = 0;
	while (seen < n) {
		const struct nvme_cqe *e = &q->cq[(head + lane) & mask];
		uint16_t st = gpu_ld16(&e->status);
		uint32_t valid = __ballot_sync(GPU_NVME_FULL_MASK,
					       NVME_CQE_PHASE(st) == nvme_ring_phase(head + lane, depth));
		uint32_t k = valid == GPU_NVME_FULL_MASK ? 32 : __ffs(~valid) - 1;
		if (k) {
			uint16_t sqhd = 0;
			if (lane < k) {
				if (!(AB & GPU_ABLATE_D_FENCE))
					gpu_nvme_fence(q);
				if (!(AB & GPU_ABLATE_D_SQHD))
					sqhd = gpu_ld16(&e->sqhd);
				if (!(AB & GPU_ABLATE_D_CPL)) {
					uint16_t cid = gpu_ld16(&e->cid);
					struct gpu_nvme_cpl *r = &q->cpl[cid & (q->ncid - 1)];
					r->status = NVME_CQE_STATUS(st);
					r->state = GPU_CPL_DONE;
				}
			}
			sqhd = (uint16_t)__shfl_sync(GPU_NVME_FULL_MASK, sqhd, k - 1);
			head += k;
			seen += k;
			if (lane == 0) {
				q->cq_head = head;
				q->sq_head = (AB & GPU_ABLATE_D_SQHD)
						     ? base + seen
						     : nvme_sqhd_advance(q->sq_head, base + n, sqhd, depth);
				q->cq_doorbells++;
				q->completions += k;
				gpu_nvme_fence(q);
				gpu_st32(q->cq_db, head & mask);
			}
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
	__syncwarp();
	if (go) {
		if (AB & GPU_ABLATE_D_CPL) {
			res = 0;
		} else {
			struct gpu_nvme_cpl *r = &q->cpl[t & (q->ncid - 1)];
			if (r->state != GPU_CPL_DONE) {
				res = -EPROTO;
			} else {
				st_own = r->status;
				res = st_own ? -EIO : 0;
			}
		}
		if (status)
			*status = st_own;
	}
	return res;
}

/* The reference owned path with the pieces of ab left out: one piece, or all six. */
static __device__ __forceinline__ int owned_ref_dispatch(uint32_t ab, const struct gpu_nvme_ns *ns,
							 struct gpu_nvme_queue *q, uint8_t opc, bool active, void *buf,
							 uint64_t slba, uint32_t nlb, uint16_t *status)
{
	switch (ab & ~GPU_ABLATE_D_REF) {
	case 0: return owned_ref_rw<0>(ns, q, opc, active, buf, slba, nlb, status);
	case GPU_ABLATE_D_SQE: return owned_ref_rw<GPU_ABLATE_D_SQE>(ns, q, opc, active, buf, slba, nlb, status);
	case GPU_ABLATE_D_PRP: return owned_ref_rw<GPU_ABLATE_D_PRP>(ns, q, opc, active, buf, slba, nlb, status);
	case GPU_ABLATE_D_CPL: return owned_ref_rw<GPU_ABLATE_D_CPL>(ns, q, opc, active, buf, slba, nlb, status);
	case GPU_ABLATE_D_FENCE: return owned_ref_rw<GPU_ABLATE_D_FENCE>(ns, q, opc, active, buf, slba, nlb, status);
	case GPU_ABLATE_D_SQFENCE:
		return owned_ref_rw<GPU_ABLATE_D_SQFENCE>(ns, q, opc, active, buf, slba, nlb, status);
	case GPU_ABLATE_D_SQHD: return owned_ref_rw<GPU_ABLATE_D_SQHD>(ns, q, opc, active, buf, slba, nlb, status);
	case 0x3f: return owned_ref_rw<0x3f>(ns, q, opc, active, buf, slba, nlb, status);
	default: return -EINVAL;
	}
}

#endif
