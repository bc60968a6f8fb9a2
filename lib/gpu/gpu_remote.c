/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A GPU client of homid: gpu_ctrl_open("homi:NAME") on a GPU-resident device the daemon serves
 * (HOMI_DEV_GPUEMU). This process allocates its rings, PRP lists and data buffers in its own GPU
 * memory and registers each allocation with the daemon by its CUDA IPC handle; the daemon creates the
 * queue pairs on those rings and its engine serves them. The doorbells are the device's emulated BAR,
 * imported from the daemon. GPU threads then use the queues with the device API as with any
 * controller (aisio/gpu_nvme.cuh).
 *
 * The daemon's engine kernel and this process's kernels time-slice on the GPU (no MPS): a command's
 * round trip is then about two time slices (docs/ARCHITECTURE.md, bench/gpu/ipc_timeslice.sh).
 */
#include <cuda_runtime_api.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aisio/gpu.h>
#include <aisio/homi.h>
#include <aisio/log.h>

#include "gpu_internal.h"

#define REMOTE_MAX_REGIONS 8 /* the namespace descriptor's DMA windows (GPU_MAX_WINDOWS) */
#define REMOTE_TIMEOUT_MS 30000
#define REMOTE_ALIGN (2u << 20) /* cudaMalloc granularity: a region is a whole allocation */

struct gpu_remote {
	struct homi_client *hc;
	struct homi_dev dev;
	struct homi_ns ns;
	struct homi_gpu_info_reply info;
	uint8_t *bar; /* the device's BAR, imported */
	struct {
		void *p;
		uint32_t mem_id;
	} regions[REMOTE_MAX_REGIONS];
	unsigned nregions;
	uint16_t *qids;
};

#define remote_err(c, ...) aisio_log(AISIO_LOG_ERROR, (c)->name, __VA_ARGS__)

int gpu_remote_open(struct gpu_ctrl *c, const char *name, const char *socket, uint32_t nsid)
{
	struct gpu_remote *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	c->remote = r;
	int rc = homi_connect(&r->hc, socket, "aisio-gpu", REMOTE_TIMEOUT_MS);
	if (rc)
		return rc;
	if ((rc = homi_find(r->hc, name, &r->dev)))
		return rc;
	if (r->dev.kind != HOMI_DEV_GPUEMU) {
		remote_err(c,
			   "device %s is not GPU-resident: its queues are for CPU clients (aisio perf run|verify "
			   "--device homi:%s)",
			   name, name);
		return -EINVAL;
	}
	if (!nsid)
		nsid = 1;
	for (unsigned i = 0; i < r->dev.nns; i++)
		if (r->dev.ns[i].nsid == nsid)
			r->ns = r->dev.ns[i];
	if (!r->ns.nsid) {
		remote_err(c, "device %s grants no namespace %u", name, nsid);
		return -ENODEV;
	}
	if ((rc = homi_gpu_info(r->hc, r->dev.index, &r->info)))
		return rc;
	if (strcmp(r->info.gpu, gpu_name()) != 0) {
		remote_err(c, "device %s lives on %s; this process runs on %s", name, r->info.gpu, gpu_name());
		return -EXDEV;
	}
	cudaIpcMemHandle_t h;
	memcpy(&h, r->info.bar_handle, sizeof(h));
	void *bar = NULL;
	if (gpu_ctrl_cuda_rc(c, cudaIpcOpenMemHandle(&bar, h, cudaIpcMemLazyEnablePeerAccess),
			     "cudaIpcOpenMemHandle of the device's BAR"))
		return -EIO;
	r->bar = bar;
	/* what the tools ask of a controller, from the daemon's answer */
	c->o.ns_type = (int)r->info.ns_type;
	c->o.engine = EMU_ENGINE_GPU;
	c->o.sms = 0; /* the engine's SMs are the daemon's, time-sliced with this process */
	c->o.lba_shift = r->ns.lba_shift;
	c->o.ns_bytes = r->ns.nlba << r->ns.lba_shift;
	c->o.mqes = r->dev.max_qdepth - 1;
	c->o.dstrd = r->info.dstrd;
	c->mdts_bytes = r->dev.max_xfer;
	return 0;
}

/* A whole allocation of len bytes (rounded up), registered with the daemon: its window in the namespace
 * descriptor maps this process's address to the daemon's bus address. */
static void *region_alloc(struct gpu_ctrl *c, size_t len, uint64_t *bus)
{
	struct gpu_remote *r = c->remote;
	if (r->nregions == REMOTE_MAX_REGIONS || c->ns_h.nwin == GPU_MAX_WINDOWS) {
		remote_err(c, "at most %u registered regions", REMOTE_MAX_REGIONS);
		return NULL;
	}
	len = (len + REMOTE_ALIGN - 1) / REMOTE_ALIGN * REMOTE_ALIGN;
	void *p = gpu_ctrl_dev_alloc(c, len);
	if (!p)
		return NULL;
	cudaIpcMemHandle_t h;
	if (gpu_ctrl_cuda_rc(c, cudaIpcGetMemHandle(&h, p), "cudaIpcGetMemHandle"))
		return NULL;
	uint32_t mem_id = 0;
	uint64_t iova = 0;
	if (homi_reg_gpu_mem(r->hc, r->dev.index, &h, len, &mem_id, &iova))
		return NULL;
	r->regions[r->nregions].p = p;
	r->regions[r->nregions].mem_id = mem_id;
	r->nregions++;
	struct gpu_dma_window *w = &c->ns_h.win[c->ns_h.nwin++];
	w->va = (uint64_t)(uintptr_t)p;
	w->bus = iova;
	w->len = len;
	if (bus)
		*bus = iova;
	if (c->ns_d && gpu_ctrl_cuda_rc(c, cudaMemcpy(c->ns_d, &c->ns_h, sizeof(c->ns_h), cudaMemcpyHostToDevice),
					"cudaMemcpy ns"))
		return NULL;
	return p;
}

int gpu_remote_qpairs_create(struct gpu_ctrl *c, const struct gpu_qpair_opts *qo)
{
	struct gpu_remote *r = c->remote;
	const unsigned n = qo->nqueues;
	if (qo->place == GPU_PLACE_HOST) {
		remote_err(c, "a homid GPU client's rings live in its GPU memory (--queues gpu)");
		return -EINVAL;
	}
	if (n == 0 || n > r->dev.free_qpairs) {
		remote_err(c, "%u queue pairs asked for, the daemon has %u free on %s", n, r->dev.free_qpairs,
			   r->dev.name);
		return -EINVAL;
	}
	uint32_t depth = 0;
	if (gpu_queue_depth(c, qo->depth, c->o.mqes, &depth))
		return -EINVAL;
	uint32_t max_xfer = r->dev.max_xfer;
	uint32_t want = qo->max_xfer ? qo->max_xfer : (1u << 20);
	if (max_xfer > want)
		max_xfer = want;
	const uint32_t prp_stride = nvme_prp_list_bytes(max_xfer, 12);
	const uint32_t base = qo->counter_base & ~(2 * depth - 1);
	const size_t sq_bytes = ((size_t)depth * 64 + 4095) & ~(size_t)4095;
	const size_t cq_bytes = ((size_t)depth * 16 + 4095) & ~(size_t)4095;
	const size_t rings_len = (sq_bytes + cq_bytes) * n;
	const size_t prp_len = (size_t)depth * prp_stride * n;
	/* one region: the rings, then the PRP list areas (page aligned: each list is aligned to its size) */
	c->ns_h.nwin = 0;
	uint64_t bus = 0;
	uint8_t *region = region_alloc(c, rings_len + prp_len, &bus);
	uint8_t *state = gpu_ctrl_dev_alloc(c, gpu_queue_state_bytes(depth) * n);
	c->queues_h = calloc(n, sizeof(*c->queues_h));
	r->qids = calloc(n, sizeof(*r->qids));
	uint32_t *ready = gpu_queue_ready_marks(depth, base);
	int rc = -ENOMEM;
	if (!region || !state || !c->queues_h || !r->qids || !ready)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		const uint64_t sq_off = (sq_bytes + cq_bytes) * i, cq_off = sq_off + sq_bytes;
		struct homi_grant_qp rq = {.dev = r->dev.index,
					   .nsid = r->ns.nsid,
					   .entries = depth,
					   .mem_id = r->regions[0].mem_id,
					   .sq_off = sq_off,
					   .cq_off = cq_off};
		struct homi_grant_qp_reply rp;
		int db_fd = -1;
		if ((rc = homi_grant_qp(r->hc, &rq, &rp, &db_fd)))
			goto out;
		r->qids[i] = rp.qid;
		c->nq = i + 1;
		if (!(rp.flags & HOMI_QP_GPU_BAR)) {
			remote_err(c, "queue %u came without its GPU doorbells", rp.qid);
			rc = -EPROTO;
			goto out;
		}
		const uint64_t prp_off = rings_len + (size_t)depth * prp_stride * i;
		const struct gpu_queue_place pl = {
			.sq = region + sq_off,
			.cq = region + cq_off,
			.sq_db = (uint32_t *)(r->bar + rp.sq_db_off),
			.cq_db = (uint32_t *)(r->bar + rp.cq_db_off),
			.state = state + gpu_queue_state_bytes(depth) * i,
			.prp = prp_stride ? (uint64_t *)(region + prp_off) : NULL,
			.prp_bus = prp_stride ? bus + prp_off : 0,
			.prp_stride = prp_stride,
			.depth = depth,
			.qid = rp.qid,
			.flags = qo->owned ? GPU_Q_OWNED : 0, /* rings and doorbells in this GPU's memory */
			.base = base,
		};
		if ((rc = gpu_queue_init(c, &c->queues_h[i], &pl, ready)))
			goto out;
	}
	rc = -ENOMEM;
	c->queues_d = gpu_ctrl_dev_alloc(c, n * sizeof(struct gpu_nvme_queue));
	c->ns_d = gpu_ctrl_dev_alloc(c, sizeof(struct gpu_nvme_ns));
	if (!c->queues_d || !c->ns_d)
		goto out;
	struct gpu_nvme_ns *ns = &c->ns_h;
	ns->queues = c->queues_d;
	ns->nqueues = n;
	ns->nsid = r->ns.nsid;
	ns->lba_shift = r->ns.lba_shift;
	ns->page_shift = 12;
	ns->nsze = r->ns.nlba;
	ns->max_xfer = max_xfer;
	rc = gpu_ctrl_cuda_rc(c, cudaMemcpy(c->queues_d, c->queues_h, n * sizeof(*c->queues_h), cudaMemcpyHostToDevice),
			      "cudaMemcpy queues");
	if (!rc)
		rc = gpu_ctrl_cuda_rc(c, cudaMemcpy(c->ns_d, ns, sizeof(*ns), cudaMemcpyHostToDevice), "cudaMemcpy ns");
out:
	free(ready);
	return rc;
}

void *gpu_remote_buf_alloc(struct gpu_ctrl *c, size_t len)
{
	if (!c->ns_d) {
		remote_err(c, "buffers come after the queue pairs (gpu_ctrl_qpairs_create)");
		return NULL;
	}
	return region_alloc(c, len, NULL);
}

void gpu_remote_close(struct gpu_ctrl *c)
{
	struct gpu_remote *r = c->remote;
	if (!r)
		return;
	if (r->hc) {
		for (unsigned i = 0; r->qids && i < c->nq; i++)
			homi_release_qp(r->hc, r->dev.index, r->qids[i]);
		for (unsigned i = 0; i < r->nregions; i++)
			homi_unreg_mem(r->hc, r->regions[i].mem_id);
		homi_disconnect(r->hc);
	}
	if (r->bar)
		cudaIpcCloseMemHandle(r->bar);
	free(r->qids);
	free(r);
	c->remote = NULL;
	c->nq = 0;
}
