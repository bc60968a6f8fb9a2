/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Host setup for device-initiated I/O: open a controller driven by GPU threads, create I/O queue
 * pairs for the GPU through the controller's admin commands, place rings and buffers, and run the
 * GPU-resident emulated controller (gpuemu) whose admin commands are served here on the CPU, by the
 * emulated controllers' one admin server (lib/emu, emu_admin.h) over this file's model.
 *
 * Allocation rule: nothing is freed while an engine kernel runs (cudaFree synchronizes the device
 * and would wait for the persistent kernel forever), so buffers come before the engine starts and
 * everything goes in gpu_ctrl_close, after the engine stopped.
 */
#include <cuda_runtime_api.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <aisio/clock.h>
#include <aisio/devstr.h>
#include <aisio/emu.h>
#include <aisio/emu_admin.h>
#include <aisio/gpu.h>
#include <aisio/gpuemu.h>
#include <aisio/log.h>
#include <aisio/stamp.h>

#include "gpu_internal.h"

_Static_assert(GPUEMU_MAX_QUEUES >= EMU_MAX_QPAIRS, "the engine's queue table holds every qpairs= value");

/* The host's engine and job steps at debug level, with a CLOCK_MONOTONIC timestamp: where a run
 * stands when a tool or a hang stops it. */
void gpu_trace(const char *fmt, ...)
{
	if (!aisio_log_enabled(AISIO_LOG_DEBUG))
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	aisio_log(AISIO_LOG_DEBUG, NULL, "[%9.3f] gpu trace: %s", (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, line);
}

#define gpu_err(c, ...) aisio_log(AISIO_LOG_ERROR, (c) ? (c)->name : NULL, __VA_ARGS__)

static int cuda_rc(struct gpu_ctrl *c, cudaError_t e, const char *what)
{
	if (e == cudaSuccess)
		return 0;
	gpu_err(c, "%s: %s", what, cudaGetErrorString(e));
	if (c)
		c->faulted = 1;
	return -EIO;
}

/* ---------------------------------------------------------------------------------------------- */

uint64_t gpu_timeout_ns(uint64_t base_ns)
{
	const char *s = getenv("AISIO_TIMEOUT_SCALE");
	double k = s ? strtod(s, NULL) : 1.0;
	if (!(k > 0))
		k = 1.0;
	return (uint64_t)((double)base_ns * k);
}

static char gpu_name_buf[160];

int gpu_probe(char *why, size_t len)
{
	int n = 0, dev = 0, drv = 0;
	/* Eager module loading, before CUDA initializes: with lazy loading (the default since CUDA
	 * 12.2) the first launch of a kernel loads its module, and that waits for running kernels;
	 * with the engine's persistent kernel running it waits forever (seen on the H200). */
	setenv("CUDA_MODULE_LOADING", "EAGER", 1);
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess || n == 0) {
		snprintf(why, len, "no GPU: %s", e != cudaSuccess ? cudaGetErrorString(e) : "no CUDA device");
		return -ENODEV;
	}
	struct cudaDeviceProp p;
	if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
		snprintf(why, len, "no GPU: cannot query device");
		return -ENODEV;
	}
	if (p.major != 9) {
		snprintf(why, len, "no usable GPU: %s is sm_%d%d, this build carries sm_90 code only", p.name, p.major,
			 p.minor);
		return -ENODEV;
	}
	cudaDriverGetVersion(&drv);
	snprintf(gpu_name_buf, sizeof(gpu_name_buf), "%s (sm_%d%d, %d SMs, %.0f GiB), CUDA driver %d.%d", p.name,
		 p.major, p.minor, p.multiProcessorCount, (double)p.totalGlobalMem / (1ull << 30), drv / 1000,
		 (drv % 1000) / 10);
	if (why && len)
		why[0] = 0;
	return 0;
}

const char *gpu_name(void)
{
	return gpu_name_buf;
}

/* ---- memory ---- */

static int track(struct gpu_ctrl *c, void *p, int host)
{
	if (c->nallocs == GPU_MAX_ALLOCS) {
		gpu_err(c, "too many allocations");
		if (host)
			cudaFreeHost(p);
		else
			cudaFree(p);
		return -ENOMEM;
	}
	c->allocs[c->nallocs].p = p;
	c->allocs[c->nallocs].host = host;
	c->nallocs++;
	return 0;
}

static void *dev_alloc(struct gpu_ctrl *c, size_t len)
{
	void *p = NULL;
	if (cuda_rc(c, cudaMalloc(&p, len), "cudaMalloc") || track(c, p, 0))
		return NULL;
	if (cuda_rc(c, cudaMemset(p, 0, len), "cudaMemset"))
		return NULL;
	return p;
}

void *gpu_ctrl_dev_alloc(struct gpu_ctrl *c, size_t len)
{
	return dev_alloc(c, len);
}

int gpu_ctrl_cuda_rc(struct gpu_ctrl *c, int cuda_error, const char *what)
{
	return cuda_rc(c, (cudaError_t)cuda_error, what);
}

/* Pinned host memory mapped into the GPU; returns the host pointer, *dptr the device pointer. */
static void *host_alloc(struct gpu_ctrl *c, size_t len, void **dptr)
{
	void *p = NULL;
	if (cuda_rc(c, cudaHostAlloc(&p, len, cudaHostAllocMapped | cudaHostAllocPortable), "cudaHostAlloc") ||
	    track(c, p, 1))
		return NULL;
	memset(p, 0, len);
	if (cuda_rc(c, cudaHostGetDevicePointer(dptr, p, 0), "cudaHostGetDevicePointer"))
		return NULL;
	if (*dptr != p) {
		/* the CPU engine and the admin path use one address for both sides (unified addressing) */
		gpu_err(c, "mapped host memory has a different device address: no unified addressing");
		return NULL;
	}
	return p;
}

static int engine_sync_dev(struct gpu_ctrl *c)
{
	if (c->o.engine == EMU_ENGINE_CPU)
		return 0; /* the CPU engine reads dev_h itself */
	return cuda_rc(c, cudaMemcpy(c->dev_d, &c->dev_h, sizeof(c->dev_h), cudaMemcpyHostToDevice), "cudaMemcpy dev");
}

static int add_window(struct gpu_ctrl *c, void *dptr, size_t len)
{
	if (c->dev_h.nwin == GPUEMU_MAX_WINDOWS) {
		gpu_err(c, "more than %d DMA windows", GPUEMU_MAX_WINDOWS);
		return -ENOSPC;
	}
	struct gpu_dma_window *w = &c->dev_h.win[c->dev_h.nwin++];
	w->va = (uint64_t)(uintptr_t)dptr;
	w->bus = w->va;
	w->len = len;
	return engine_sync_dev(c);
}

void *gpu_ctrl_buf_alloc(struct gpu_ctrl *c, size_t len)
{
	if (c->remote)
		return gpu_remote_buf_alloc(c, len);
	if (c->running) {
		gpu_err(c, "buffers must be allocated before the engine starts");
		return NULL;
	}
	void *d = NULL;
	if (c->o.engine == EMU_ENGINE_CPU) {
		if (!host_alloc(c, len, &d))
			return NULL;
	} else {
		d = dev_alloc(c, len);
	}
	if (!d || add_window(c, d, len))
		return NULL;
	return d;
}

/* ---- the emulated controller's admin queue, served here ---- */

static int qtab_put(struct gpu_ctrl *c, unsigned qi, int fields_too)
{
	if (c->o.engine == EMU_ENGINE_CPU) {
		struct gpuemu_queue *e = &c->qtab_e[qi];
		uint32_t en = c->qtab_h[qi].enabled;
		if (fields_too) {
			struct gpuemu_queue tmp = c->qtab_h[qi];
			tmp.enabled = e->enabled;
			memcpy(e, &tmp, sizeof(tmp));
		}
		__atomic_store_n(&e->enabled, en, __ATOMIC_RELEASE);
		return 0;
	}
	/* two copies: the fields, then enabled, so the engine never serves a half-written queue */
	if (fields_too) {
		struct gpuemu_queue tmp = c->qtab_h[qi];
		uint32_t old;
		if (cuda_rc(c, cudaMemcpy(&old, &c->qtab_e[qi].enabled, 4, cudaMemcpyDeviceToHost), "cudaMemcpy"))
			return -EIO;
		tmp.enabled = old;
		if (cuda_rc(c, cudaMemcpy(&c->qtab_e[qi], &tmp, sizeof(tmp), cudaMemcpyHostToDevice), "cudaMemcpy"))
			return -EIO;
	}
	return cuda_rc(c, cudaMemcpy(&c->qtab_e[qi].enabled, &c->qtab_h[qi].enabled, 4, cudaMemcpyHostToDevice),
		       "cudaMemcpy");
}

/* Publish a queue's new state to the engine; its creation also marks rings in pinned host memory
 * (the engine then fences at system scope for that queue) and widens the engine's queue scan. */
static uint16_t gpuemu_queue_enable(struct gpu_ctrl *c, uint16_t qid, uint32_t bit, uint64_t base)
{
	struct gpuemu_queue *q = &c->qtab_h[qid - 1];
	struct cudaPointerAttributes pa;
	if (cudaPointerGetAttributes(&pa, (void *)(uintptr_t)base) == cudaSuccess && pa.type == cudaMemoryTypeHost)
		q->sys = 1;
	else if (!q->enabled)
		q->sys = 0;
	q->enabled |= bit;
	if (qid > c->dev_h.nq) {
		c->dev_h.nq = qid;
		if (engine_sync_dev(c))
			goto fail;
	}
	if (qtab_put(c, qid - 1u, 1))
		goto fail;
	return NVME_SC_SUCCESS;
fail:
	q->enabled &= ~bit;
	return NVME_SC_INTERNAL;
}

/* The admin commands are served here, on the CPU, with host addresses: their data is the host
 * buffer at PRP1, within one memory page (what gpu_ctrl_qpairs_create sends). */
static uint16_t gpuemu_xfer(void *ctx, const struct nvme_sqe *sqe, void *buf, uint32_t len, int to_host)
{
	void *host = (void *)(uintptr_t)sqe->prp1;
	if (!host || (sqe->prp1 & 4095) + len > 4096)
		return NVME_SC_DATA_XFER_ERROR;
	if (to_host)
		memcpy(host, buf, len);
	else
		memcpy(buf, host, len);
	return NVME_SC_SUCCESS;
}

/* A queue's doorbell starts at 0 when the queue is created, as a controller's does: a qid used before
 * (a served client that went away) still holds its last tail or head. */
static int doorbell_zero(struct gpu_ctrl *c, uint16_t qid, int cq)
{
	const uint32_t off = gpu_doorbell_offset(qid, cq, c->o.dstrd);
	if (c->o.engine == EMU_ENGINE_CPU) {
		__atomic_store_n((uint32_t *)(c->bar_h + off), 0u, __ATOMIC_RELEASE);
		return 0;
	}
	return cuda_rc(c, cudaMemset(c->dev_h.bar + off, 0, 4), "cudaMemset doorbell");
}

static uint16_t gpuemu_cq_create(void *ctx, uint16_t qid, uint32_t size, uint64_t base)
{
	struct gpu_ctrl *c = ctx;
	if (doorbell_zero(c, qid, 1))
		return NVME_SC_INTERNAL;
	struct gpuemu_queue *q = &c->qtab_h[qid - 1];
	q->cq_base = base;
	q->cq_size = size;
	q->cq_tail = 0;
	q->cq_phase = 1;
	return gpuemu_queue_enable(c, qid, 2, base);
}

static uint16_t gpuemu_sq_create(void *ctx, uint16_t qid, uint32_t size, uint64_t base, uint16_t cqid)
{
	struct gpu_ctrl *c = ctx;
	if (cqid != qid)
		return NVME_SC_INVALID_FIELD; /* emulator: an SQ posts to the CQ of its own number */
	if (doorbell_zero(c, qid, 0))
		return NVME_SC_INTERNAL;
	struct gpuemu_queue *q = &c->qtab_h[qid - 1];
	q->sq_base = base;
	q->sq_size = size;
	q->sq_head = 0;
	return gpuemu_queue_enable(c, qid, 1, base);
}

/* Deleting cannot fail; after a GPU fault (a sticky CUDA error) only the host's table changes. */
static void gpuemu_queue_disable(struct gpu_ctrl *c, uint16_t qid, uint32_t bit)
{
	c->qtab_h[qid - 1].enabled &= ~bit;
	if (!c->faulted)
		qtab_put(c, qid - 1u, 0);
}

static void gpuemu_sq_delete(void *ctx, uint16_t qid)
{
	gpuemu_queue_disable(ctx, qid, 1);
}

static void gpuemu_cq_delete(void *ctx, uint16_t qid)
{
	gpuemu_queue_disable(ctx, qid, 2);
}

static const struct emu_admin_model gpuemu_model = {
	.serial = "aisio-gpuemu-0001",
	.model = "aisio GPU-resident emulated NVMe",
	.oncs = NVME_ONCS_WRITE_ZEROES, /* the engine serves Read, Write, Write Zeroes, Flush */
	.xfer = gpuemu_xfer,
	.cq_create = gpuemu_cq_create,
	.sq_create = gpuemu_sq_create,
	.sq_delete = gpuemu_sq_delete,
	.cq_delete = gpuemu_cq_delete,
	.counters = NULL, /* the engine counts commands, not reads and writes apart */
};

static int admin(struct gpu_ctrl *c, struct nvme_sqe *cmd, uint32_t *dw0, const char *what)
{
	uint32_t d = 0;
	uint16_t st = emu_admin_cmd(c->admin, cmd, &d);
	if (st) {
		gpu_err(c, "%s: NVMe status 0x%03x", what, st);
		return -EIO;
	}
	if (dw0)
		*dw0 = d;
	return 0;
}

/* ---- open / close ---- */

/* file=: the image's bytes into the namespace (host: in place; hbm: through a staging buffer), the
 * rest of the namespace zero. */
static int ns_load(struct gpu_ctrl *c)
{
	int fd = open(c->o.path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		gpu_err(c, "file=%s: %s", c->o.path, strerror(err));
		return -err;
	}
	const size_t chunk = 16u << 20;
	uint8_t *stage = c->o.ns_type == EMU_NS_HOST ? NULL : malloc(chunk);
	int rc = c->o.ns_type == EMU_NS_HOST || stage ? 0 : -ENOMEM;
	for (uint64_t off = 0; rc == 0 && off < c->o.ns_bytes;) {
		size_t want = c->o.ns_bytes - off < chunk ? (size_t)(c->o.ns_bytes - off) : chunk;
		uint8_t *dst = stage ? stage : (uint8_t *)c->ns_host + off;
		size_t got = 0;
		while (got < want) {
			ssize_t n = pread(fd, dst + got, want - got, (off_t)(off + got));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				rc = -errno;
				gpu_err(c, "file=%s: reading at %" PRIu64 ": %s", c->o.path, off + got,
					strerror(errno));
				break;
			}
			if (n == 0) {
				memset(dst + got, 0, want - got); /* past the image's end */
				got = want;
				break;
			}
			got += (size_t)n;
		}
		if (rc == 0 && stage)
			rc = cuda_rc(c, cudaMemcpy(c->dev_h.ns_data + off, stage, want, cudaMemcpyHostToDevice),
				     "cudaMemcpy of the image");
		off += want;
	}
	free(stage);
	close(fd);
	return rc;
}

int gpu_ctrl_open(struct gpu_ctrl **out, const char *devstr)
{
	char why[256];
	*out = NULL;
	struct devstr ds;
	int rc = devstr_parse(&ds, devstr);
	if (rc < 0)
		return rc;
	if (ds.kind == DEVSTR_PCI) {
		aisio_log(AISIO_LOG_ERROR, devstr,
			  "GPU-initiated I/O runs against gpuemu:... devices; a real controller's GPU "
			  "queues are not yet run on hardware (docs/GPU.md)");
		return -EOPNOTSUPP;
	}
	if (ds.kind != DEVSTR_GPUEMU && ds.kind != DEVSTR_HOMI)
		return devstr_refuse(&ds, "the GPU layer");
	struct gpu_ctrl *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	snprintf(c->name, sizeof(c->name), "%s", devstr);
	if (ds.kind == DEVSTR_HOMI) {
		/* queues of a GPU-resident device homid serves: the engine runs in the daemon */
		if (gpu_probe(why, sizeof(why))) {
			aisio_log(AISIO_LOG_ERROR, devstr, "%s", why);
			free(c);
			return -ENODEV;
		}
		c->timeout_ns = gpu_timeout_ns(5000000000ull);
		rc = gpu_remote_open(c, ds.homi_name, ds.homi_socket[0] ? ds.homi_socket : NULL, ds.homi_nsid);
		if (rc) {
			gpu_ctrl_close(c);
			return rc;
		}
		*out = c;
		return 0;
	}
	rc = emu_opts_parse(&c->o, DEVSTR_GPUEMU, ds.spec);
	if (rc) {
		free(c);
		return rc;
	}
	if (gpu_probe(why, sizeof(why))) {
		aisio_log(AISIO_LOG_ERROR, devstr, "%s", why);
		free(c);
		return -ENODEV;
	}
	c->timeout_ns = gpu_timeout_ns(5000000000ull);
	c->mdts_bytes = c->o.mdts ? (4096u << c->o.mdts) : GPUEMU_MAX_XFER;
	if (c->mdts_bytes > GPUEMU_MAX_XFER)
		c->mdts_bytes = GPUEMU_MAX_XFER;

	const int cpu = c->o.engine == EMU_ENGINE_CPU;
	struct gpuemu_dev *d = &c->dev_h;
	void *ctl_d = NULL;
	c->ctl_h = host_alloc(c, sizeof(struct gpuemu_ctl), &ctl_d);
	c->qtab_h = calloc(GPUEMU_MAX_QUEUES, sizeof(*c->qtab_h));
	if (!c->ctl_h || !c->qtab_h ||
	    emu_admin_create(&c->admin, &c->o, c->o.ns_bytes >> c->o.lba_shift, &gpuemu_model, c))
		goto fail;
	d->ctl = cpu ? c->ctl_h : ctl_d;
	size_t bar_len = gpu_bar_len(GPUEMU_MAX_QUEUES, c->o.dstrd);
	if (cpu) {
		void *bd = NULL, *qd = NULL;
		c->bar_h = host_alloc(c, bar_len, &bd);
		c->qtab_e = host_alloc(c, GPUEMU_MAX_QUEUES * sizeof(struct gpuemu_queue), &qd);
		if (!c->bar_h || !c->qtab_e)
			goto fail;
		d->bar = c->bar_h;
	} else {
		d->bar = dev_alloc(c, bar_len);
		c->qtab_e = dev_alloc(c, GPUEMU_MAX_QUEUES * sizeof(struct gpuemu_queue));
		c->dev_d = dev_alloc(c, sizeof(struct gpuemu_dev));
		if (!d->bar || !c->qtab_e || !c->dev_d)
			goto fail;
	}
	d->q = c->qtab_e;
	d->nsze = c->o.ns_bytes >> c->o.lba_shift;
	d->lba_shift = c->o.lba_shift;
	d->max_xfer = c->mdts_bytes;
	d->dstrd = c->o.dstrd;
	d->warps = c->o.warps;
	d->lifetime_ns = gpu_timeout_ns(3600ull * 1000000000ull);
	d->f.err_slba = c->o.err_slba;
	d->f.err_elba = c->o.err_elba;
	d->f.err_status = c->o.err_status;
	d->f.drop_slba = c->o.drop_slba;
	d->f.drop_elba = c->o.drop_elba;
	if (c->o.ns_type == EMU_NS_HBM) {
		d->ns_data = dev_alloc(c, c->o.ns_bytes);
		if (!d->ns_data)
			goto fail;
	} else if (c->o.ns_type == EMU_NS_HOST) {
		void *nd = NULL;
		c->ns_host = host_alloc(c, c->o.ns_bytes, &nd);
		if (!c->ns_host)
			goto fail;
		d->ns_data = cpu ? c->ns_host : nd;
	}
	if (c->o.path[0] && ns_load(c) < 0)
		goto fail;
	if (engine_sync_dev(c))
		goto fail;
	if (!cpu) {
		void *s = NULL;
		if (cuda_rc(c, cudaStreamCreateWithFlags((cudaStream_t *)&s, cudaStreamNonBlocking),
			    "cudaStreamCreate"))
			goto fail;
		c->stream = s;
	}
	*out = c;
	return 0;
fail:
	gpu_ctrl_close(c);
	return -ENOMEM;
}

const char *gpu_ctrl_name(const struct gpu_ctrl *c)
{
	return c->name;
}
const struct emu_opts *gpu_ctrl_emu_opts(const struct gpu_ctrl *c)
{
	return &c->o;
}
uint64_t gpu_ctrl_nsze(const struct gpu_ctrl *c)
{
	return c->o.ns_bytes >> c->o.lba_shift;
}
unsigned gpu_ctrl_lba_shift(const struct gpu_ctrl *c)
{
	return c->o.lba_shift;
}
uint32_t gpu_ctrl_mdts_bytes(const struct gpu_ctrl *c)
{
	return c->mdts_bytes;
}
const struct gpu_nvme_ns *gpu_ctrl_ns(const struct gpu_ctrl *c)
{
	return c->ns_d;
}
const struct gpu_nvme_ns *gpu_ctrl_ns_host(const struct gpu_ctrl *c)
{
	return c->nq ? &c->ns_h : NULL;
}

/* ---- queue pairs ---- */

int gpu_queue_depth(struct gpu_ctrl *c, unsigned want, uint32_t mqes, uint32_t *depth)
{
	uint32_t d = nvme_ring_entries(want < 64 ? 64 : want); /* a full warp (32) fits in depth - 1 */
	if (d > mqes + 1) {
		d = nvme_ring_entries((mqes + 1) / 2 + 1);
		if (d > mqes + 1)
			d >>= 1;
		if (d < 64) {
			gpu_err(c, "MQES %u is below the 64 entries the GPU queues need", mqes);
			return -EINVAL;
		}
	}
	*depth = d;
	return 0;
}

size_t gpu_queue_state_bytes(uint32_t depth)
{
	return (size_t)depth * sizeof(struct gpu_nvme_cpl) + depth / 8 + (size_t)depth * 4;
}

uint32_t *gpu_queue_ready_marks(uint32_t depth, uint32_t base)
{
	uint32_t *ready = calloc(depth, sizeof(uint32_t));
	for (uint32_t s = 0; ready && s < depth; s++)
		ready[s] = base + s - depth; /* a ticket from the lap before: never taken for ready */
	return ready;
}

int gpu_queue_init(struct gpu_ctrl *c, struct gpu_nvme_queue *q, const struct gpu_queue_place *p, const uint32_t *ready)
{
	const uint32_t ncid = p->depth; /* as many command ids as entries */
	memset(q, 0, sizeof(*q));
	q->sq = p->sq;
	q->cq = p->cq;
	q->sq_db = p->sq_db;
	q->cq_db = p->cq_db;
	q->cpl = (struct gpu_nvme_cpl *)p->state;
	q->cid_map = (uint32_t *)(p->state + (size_t)ncid * sizeof(struct gpu_nvme_cpl));
	q->sq_ready = (uint32_t *)(p->state + (size_t)ncid * sizeof(struct gpu_nvme_cpl) + ncid / 8);
	q->prp = p->prp;
	q->prp_bus = p->prp_bus;
	q->prp_stride = p->prp_stride;
	q->depth = p->depth;
	q->ncid = ncid;
	q->qid = p->qid;
	q->flags = p->flags;
	q->timeout_ns = c->timeout_ns;
	q->sq_ticket = q->sq_tail = q->sq_head = q->cq_head = p->base;
	return cuda_rc(c, cudaMemcpy(q->sq_ready, ready, p->depth * 4, cudaMemcpyHostToDevice), "cudaMemcpy");
}

int gpu_ctrl_qpairs_create(struct gpu_ctrl *c, const struct gpu_qpair_opts *qo)
{
	if (c->nq) {
		gpu_err(c, "queue pairs exist already");
		return -EBUSY;
	}
	if (c->remote)
		return gpu_remote_qpairs_create(c, qo);
	/* what the controller says about itself, through the same admin commands a real one takes */
	struct nvme_sqe cmd;
	uint32_t dw0 = 0;
	/* a page each: the data of an admin command fits the page at PRP1 */
	struct nvme_id_ctrl *idc = aligned_alloc(4096, sizeof(*idc));
	struct nvme_id_ns *idn = aligned_alloc(4096, sizeof(*idn));
	int rc = -ENOMEM;
	if (!idc || !idn)
		goto out_id;
	memset(idc, 0, sizeof(*idc));
	memset(idn, 0, sizeof(*idn));
	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_ADMIN_IDENTIFY;
	cmd.cdw10 = NVME_ID_CNS_CTRL;
	cmd.prp1 = (uint64_t)(uintptr_t)idc;
	if ((rc = admin(c, &cmd, NULL, "identify controller")))
		goto out_id;
	cmd.cdw10 = NVME_ID_CNS_NS;
	cmd.nsid = 1;
	cmd.prp1 = (uint64_t)(uintptr_t)idn;
	if ((rc = admin(c, &cmd, NULL, "identify namespace")))
		goto out_id;
	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_ADMIN_SET_FEATURES;
	cmd.cdw10 = NVME_FEAT_NUM_QUEUES;
	cmd.cdw11 = (qo->nqueues - 1) | ((qo->nqueues - 1) << 16);
	if ((rc = admin(c, &cmd, &dw0, "set features number of queues")))
		goto out_id;
	rc = -EINVAL;
	unsigned granted = (dw0 & 0xffff) + 1;
	if (qo->nqueues == 0 || qo->nqueues > granted) {
		gpu_err(c, "%u queue pairs asked for, the controller grants %u", qo->nqueues, granted);
		goto out_id;
	}
	uint32_t depth = 0;
	if (gpu_queue_depth(c, qo->depth, c->o.mqes, &depth))
		goto out_id;
	const uint32_t ncid = depth;
	const uint32_t lba_shift = idn->lbaf[NVME_NS_FLBAS_INDEX(idn->flbas)].ds;
	uint32_t max_xfer = idc->mdts ? (4096u << idc->mdts) : GPUEMU_MAX_XFER;
	uint32_t want = qo->max_xfer ? qo->max_xfer : (1u << 20);
	if (max_xfer > want)
		max_xfer = want;
	if (max_xfer < (1u << lba_shift)) {
		gpu_err(c, "transfer limit %u below one LBA", max_xfer);
		goto out_id;
	}
	/* PRP list room per command id for the largest transfer: within a page a power of two (no list crosses a
	 * page), beyond it whole pages whose lists chain (nvme_prp_list_bytes) */
	const uint32_t prp_stride = nvme_prp_list_bytes(max_xfer, 12);
	const uint32_t base = qo->counter_base & ~(2 * depth - 1); /* phase 1 at the start: an even lap */
	const int cpu = c->o.engine == EMU_ENGINE_CPU;
	const unsigned n = qo->nqueues;

	c->queues_h = calloc(n, sizeof(*c->queues_h));
	uint32_t *ready_h = gpu_queue_ready_marks(depth, base);
	rc = -ENOMEM;
	if (!c->queues_h || !ready_h)
		goto out_ready;
	/* GPU-side driver state: records, id maps, ready marks (GPU memory); PRP lists where the engine
	 * reads them (GPU memory, or pinned host memory for the CPU engine) */
	const size_t per_state = gpu_queue_state_bytes(depth);
	uint8_t *state = dev_alloc(c, per_state * n);
	void *prp_d = NULL;
	const size_t prp_len = (size_t)ncid * prp_stride * n;
	if (prp_len) {
		/* page aligned, so that each command's list area is aligned to its size */
		if (cpu)
			host_alloc(c, prp_len + 4096, &prp_d);
		else
			prp_d = dev_alloc(c, prp_len + 4096);
		if (prp_d && add_window(c, prp_d, prp_len + 4096))
			prp_d = NULL;
		if (prp_d)
			prp_d = (void *)(((uintptr_t)prp_d + 4095) & ~(uintptr_t)4095);
	}
	if (!state || (prp_len && !prp_d))
		goto out_ready;
	/* rings: page aligned (Create I/O SQ/CQ take one PRP, PC = 1), in one allocation per placement */
	const size_t sq_bytes = ((size_t)depth * 64 + 4095) & ~(size_t)4095;
	const size_t cq_bytes = ((size_t)depth * 16 + 4095) & ~(size_t)4095;
	const size_t rings_len = (sq_bytes + cq_bytes) * n + 4096;
	uint8_t *rings = NULL;
	if (qo->place == GPU_PLACE_HOST || cpu) {
		void *rd = NULL;
		if (host_alloc(c, rings_len, &rd))
			rings = rd;
	} else {
		rings = dev_alloc(c, rings_len);
	}
	if (!rings)
		goto out_ready;
	rings = (uint8_t *)(((uintptr_t)rings + 4095) & ~(uintptr_t)4095);
	for (unsigned i = 0; i < n; i++) {
		void *sq_d = rings + (sq_bytes + cq_bytes) * i;
		void *cq_d = (uint8_t *)sq_d + sq_bytes;
		const uint16_t qid = (uint16_t)(i + 1);
		memset(&cmd, 0, sizeof(cmd));
		cmd.opc = NVME_ADMIN_CREATE_CQ;
		cmd.prp1 = (uint64_t)(uintptr_t)cq_d;
		cmd.cdw10 = qid | ((depth - 1) << 16);
		cmd.cdw11 = NVME_QUEUE_PHYS_CONTIG; /* polled: no interrupts */
		if ((rc = admin(c, &cmd, NULL, "create I/O CQ")))
			goto out_ready;
		cmd.opc = NVME_ADMIN_CREATE_SQ;
		cmd.prp1 = (uint64_t)(uintptr_t)sq_d;
		cmd.cdw11 = NVME_QUEUE_PHYS_CONTIG | ((uint32_t)qid << 16);
		if ((rc = admin(c, &cmd, NULL, "create I/O SQ")))
			goto out_ready;
		c->nq = i + 1;
		uint8_t *bar_dev = c->dev_h.bar;
		if (cpu) {
			void *bd = NULL;
			cudaHostGetDevicePointer(&bd, c->bar_h, 0);
			bar_dev = bd;
		}
		uint64_t *prp = prp_d ? (uint64_t *)((uint8_t *)prp_d + (size_t)ncid * prp_stride * i) : NULL;
		const struct gpu_queue_place pl = {
			.sq = sq_d,
			.cq = cq_d,
			.sq_db = (uint32_t *)(bar_dev + gpu_doorbell_offset(qid, 0, c->o.dstrd)),
			.cq_db = (uint32_t *)(bar_dev + gpu_doorbell_offset(qid, 1, c->o.dstrd)),
			.state = state + per_state * i,
			.prp = prp,
			.prp_bus = (uint64_t)(uintptr_t)prp, /* emulator: bus address == device address */
			.prp_stride = prp_stride,
			.depth = depth,
			.qid = qid,
			.flags = (uint16_t)((qo->place == GPU_PLACE_HOST || cpu ? GPU_Q_SYS_SCOPE : 0) |
					    (qo->owned ? GPU_Q_OWNED : 0)),
			.base = base,
		};
		if ((rc = gpu_queue_init(c, &c->queues_h[i], &pl, ready_h)))
			goto out_ready;
	}
	c->queues_d = dev_alloc(c, n * sizeof(struct gpu_nvme_queue));
	c->ns_d = dev_alloc(c, sizeof(struct gpu_nvme_ns));
	if (!c->queues_d || !c->ns_d)
		goto out_ready;
	if (cuda_rc(c, cudaMemcpy(c->queues_d, c->queues_h, n * sizeof(struct gpu_nvme_queue), cudaMemcpyHostToDevice),
		    "cudaMemcpy queues"))
		goto out_ready;
	struct gpu_nvme_ns *ns = &c->ns_h;
	memset(ns, 0, sizeof(*ns));
	ns->queues = c->queues_d;
	ns->nqueues = n;
	ns->nsid = 1;
	ns->lba_shift = lba_shift;
	ns->page_shift = 12;
	ns->nsze = idn->nsze;
	ns->max_xfer = max_xfer;
	ns->nwin = 1; /* emulator: every device address is its own bus address */
	ns->win[0].va = 0;
	ns->win[0].bus = 0;
	ns->win[0].len = ~0ull;
	rc = cuda_rc(c, cudaMemcpy(c->ns_d, ns, sizeof(*ns), cudaMemcpyHostToDevice), "cudaMemcpy ns");
out_ready:
	free(ready_h);
out_id:
	free(idc);
	free(idn);
	return rc;
}

int gpu_ctrl_queue_stats(struct gpu_ctrl *c, unsigned long long *sq_db, unsigned long long *cq_db,
			 unsigned long long *cpls, unsigned long long *stray, int *failed_queues)
{
	*sq_db = *cq_db = *cpls = *stray = 0;
	*failed_queues = 0;
	if (!c->nq)
		return 0;
	struct gpu_nvme_queue *q = calloc(c->nq, sizeof(*q));
	if (!q)
		return -ENOMEM;
	int rc = cuda_rc(c, cudaMemcpy(q, c->queues_d, c->nq * sizeof(*q), cudaMemcpyDeviceToHost), "cudaMemcpy");
	for (unsigned i = 0; !rc && i < c->nq; i++) {
		*sq_db += q[i].sq_doorbells;
		*cq_db += q[i].cq_doorbells;
		*cpls += q[i].completions;
		*stray += q[i].stray;
		*failed_queues += q[i].failed != 0;
	}
	free(q);
	return rc;
}

/* ---- engine ---- */

/* Engine blocks that started (what = 0) or exited (1), from their slots in the control block. */
static unsigned ctl_count(const struct gpu_ctrl *c, int what)
{
	unsigned n = 0;
	for (unsigned i = 0; i < c->blocks; i++)
		n += what ? __atomic_load_n(&c->ctl_h->blk[i].exited, __ATOMIC_ACQUIRE) != 0
			  : __atomic_load_n(&c->ctl_h->blk[i].started, __ATOMIC_ACQUIRE) != 0;
	return n;
}

int gpu_ctrl_engine_start(struct gpu_ctrl *c)
{
	if (c->running || c->remote) /* a remote device's engine runs in the daemon */
		return 0;
	memset(c->ctl_h, 0, sizeof(*c->ctl_h));
	__sync_synchronize();
	c->dev_h.stop = 0;
	c->dev_h.fused_done = 0;
	if (c->o.engine != EMU_ENGINE_CPU && engine_sync_dev(c))
		return -EIO;
	if (c->o.engine == EMU_ENGINE_CPU) {
		int rc = gpu_cpu_engine_start(&c->cpu, &c->dev_h, c->o.threads);
		if (rc) {
			gpu_err(c, "CPU engine: %s", strerror(-rc));
			return rc;
		}
		c->running = 1;
		return 0;
	}
	int dev = 0, sms = 0, per_sm = 0;
	cudaGetDevice(&dev);
	cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
	if (gpuemu_engine_occupancy(c->o.warps, c->mdts_bytes, &per_sm) || per_sm < 1) {
		gpu_err(c,
			"engine kernel does not fit on an SM with %u warps (a page table of %u bytes of commands each)",
			c->o.warps, c->mdts_bytes);
		return -EINVAL;
	}
	if (c->o.sms >= (unsigned)sms) {
		gpu_err(c, "sms=%u leaves no SM of %d for the GPU threads that submit I/O", c->o.sms, sms);
		return -EINVAL;
	}
	c->blocks = c->o.sms;
	if (c->o.engine == EMU_ENGINE_FUSED) {
		/* nothing runs between jobs: each job's launch carries the engine (gpu_ctrl_fused_prepare) */
		c->fused_cmds = 0;
		c->fused_jobs = 0;
		c->running = 1;
		gpu_trace("engine=fused: %u engine blocks ride in each job's launch", c->blocks);
		return 0;
	}
	gpu_trace("launching the engine: %u blocks of %u warps", c->o.sms, c->o.warps);
	int rc = gpuemu_engine_launch(c->dev_d, c->o.sms, c->o.warps, c->stream, NULL);
	gpu_trace("engine launch returned %d", rc);
	if (rc) {
		gpu_err(c, "engine launch failed");
		return rc;
	}
	c->running = 1;
	/* bounded: every block must be resident and looping before clients may depend on it */
	const uint64_t end = aisio_mono_ns() + gpu_timeout_ns(10000000000ull);
	while (ctl_count(c, 0) < c->blocks) {
		cudaError_t e = cudaStreamQuery(c->stream);
		if (e != cudaErrorNotReady) {
			gpu_err(c, "engine ended at start: %s", cudaGetErrorString(e));
			c->running = 0;
			return -EIO;
		}
		if (aisio_mono_ns() > end) {
			gpu_err(c, "only %u of %u engine blocks started", ctl_count(c, 0), c->blocks);
			gpu_ctrl_engine_stop(c, NULL);
			return -ETIMEDOUT;
		}
		usleep(100);
	}
	gpu_trace("all %u engine blocks started", c->blocks);
	return 0;
}

/* Engine blocks' command counts from the control block (written by each block as it exits). */
static unsigned long long ctl_cmds(const struct gpu_ctrl *c, int *watchdog)
{
	unsigned long long n = 0;
	for (unsigned i = 0; i < c->blocks; i++) {
		n += __atomic_load_n(&c->ctl_h->blk[i].cmds, __ATOMIC_ACQUIRE);
		if (watchdog && c->ctl_h->blk[i].watchdog)
			*watchdog = 1;
	}
	return n;
}

int gpu_ctrl_fused_prepare(struct gpu_ctrl *c, unsigned grid, unsigned block, struct gpu_fused_engine *e)
{
	memset(e, 0, sizeof(*e));
	if (c->o.engine != EMU_ENGINE_FUSED)
		return 0;
	if (!c->running) {
		gpu_err(c, "engine=fused: gpu_ctrl_engine_start first");
		return -EINVAL;
	}
	if (block < 32 || block % 32) {
		gpu_err(c, "engine=fused: the job's blocks (%u threads) are the engine's blocks too: whole warps",
			block);
		return -EINVAL;
	}
	/* the previous job's engine blocks are done (its launch completed): keep their counts */
	if (c->fused_jobs)
		c->fused_cmds += ctl_cmds(c, NULL);
	memset(c->ctl_h->blk, 0, sizeof(c->ctl_h->blk));
	__sync_synchronize();
	c->dev_h.stop = 0;
	c->dev_h.fused_done = 0;
	if (engine_sync_dev(c))
		return -EIO;
	e->dev = c->dev_d;
	e->blocks = c->blocks;
	e->smem = (block / 32) * (c->dev_h.max_xfer / (1u << GPUEMU_PAGE_SHIFT) + 1) * 8;
	c->fused_jobs = 1;
	gpu_trace("engine=fused: job of %u blocks with %u engine blocks of %u warps", grid, e->blocks, block / 32);
	return 0;
}

#ifdef AISIO_GPU_ABLATE
/* bench/gpu/aisio-ablate only (bench/gpu/gpu_ablate.h) */
void gpu_ctrl_set_ablate(struct gpu_ctrl *c, uint32_t engine_bits)
{
	c->dev_h.ablate = engine_bits;
	engine_sync_dev(c);
}
#endif

int gpu_ctrl_engine_stop(struct gpu_ctrl *c, unsigned long long *cmds)
{
	if (!c->running) {
		if (cmds)
			*cmds = 0;
		return 0;
	}
	/* a plain store into pinned host memory: no CUDA call, which could wait behind the running
	 * engine (a copy into GPU memory did under compute-sanitizer); the engine's warp 0 of each block
	 * reads it at its next refresh (50 us) */
	__atomic_store_n(&c->ctl_h->stop, 1u, __ATOMIC_RELEASE);
	gpu_trace("engine stop requested");
	int rc = 0;
	if (c->o.engine == EMU_ENGINE_FUSED) {
		int wd = 0;
		unsigned long long n = c->fused_cmds + (c->fused_jobs ? ctl_cmds(c, &wd) : 0);
		if (wd)
			gpu_err(c, "engine stopped by its watchdog");
		if (cmds)
			*cmds = n;
		c->running = 0;
		return 0;
	}
	if (c->cpu) {
		unsigned long long n = gpu_cpu_engine_stop(c->cpu);
		c->cpu = NULL;
		if (cmds)
			*cmds = n;
	} else {
		const uint64_t end = aisio_mono_ns() + gpu_timeout_ns(10000000000ull);
		cudaError_t e;
		while ((e = cudaStreamQuery(c->stream)) == cudaErrorNotReady) {
			if (aisio_mono_ns() > end) {
				gpu_err(c, "engine did not stop (%u of %u blocks left)", c->blocks - ctl_count(c, 1),
					c->blocks);
				c->faulted = 1;
				return -ETIMEDOUT; /* leave memory alone: the kernel may still touch it */
			}
			usleep(100);
		}
		if (e != cudaSuccess) {
			gpu_err(c, "engine: %s", cudaGetErrorString(e));
			c->faulted = 1;
			rc = -EIO;
		}
		int wd = 0;
		unsigned long long n = ctl_cmds(c, &wd);
		gpu_trace("engine stopped: %llu commands", n);
		if (wd)
			gpu_err(c, "engine stopped by its watchdog");
		if (cmds)
			*cmds = n;
	}
	c->running = 0;
	return rc;
}

static int fault_push(struct gpu_ctrl *c)
{
	if (c->remote) {
		gpu_err(c, "faults are injected where the device lives: in the daemon's device string");
		return -EOPNOTSUPP;
	}
	if (c->o.engine == EMU_ENGINE_CPU) {
		__sync_synchronize();
		return 0;
	}
	return cuda_rc(c, cudaMemcpy(&c->dev_d->f, &c->dev_h.f, sizeof(c->dev_h.f), cudaMemcpyHostToDevice),
		       "cudaMemcpy faults");
}

int gpu_ctrl_fault_error(struct gpu_ctrl *c, uint64_t slba, uint64_t elba, uint16_t status)
{
	c->dev_h.f.err_slba = slba;
	c->dev_h.f.err_elba = elba;
	c->dev_h.f.err_status = status;
	return fault_push(c);
}

int gpu_ctrl_fault_drop(struct gpu_ctrl *c, uint64_t slba, uint64_t elba)
{
	c->dev_h.f.drop_slba = slba;
	c->dev_h.f.drop_elba = elba;
	return fault_push(c);
}

int gpu_ctrl_fault_clear(struct gpu_ctrl *c)
{
	c->dev_h.f.err_slba = c->dev_h.f.drop_slba = 1;
	c->dev_h.f.err_elba = c->dev_h.f.drop_elba = 0;
	return fault_push(c);
}

/* hbm namespaces cross to and from the host through a staging buffer of this many bytes */
#define GPU_STAGE_BYTES (16u << 20)

int gpu_ctrl_ns_stamp(struct gpu_ctrl *c, uint64_t seed)
{
	if (c->remote) {
		gpu_err(c, "the namespace lives in the daemon: this process cannot stamp it");
		return -EOPNOTSUPP;
	}
	if (!c->dev_h.ns_data)
		return 0;
	const unsigned shift = c->o.lba_shift;
	const uint64_t nlba = c->o.ns_bytes >> shift;
	if (c->o.ns_type == EMU_NS_HOST) {
		stamp_fill(c->ns_host, seed, 0, nlba, shift);
		return 0;
	}
	uint8_t *stage = malloc(GPU_STAGE_BYTES);
	if (!stage)
		return -ENOMEM;
	int rc = 0;
	const uint64_t per = GPU_STAGE_BYTES >> shift;
	for (uint64_t lba = 0; lba < nlba && !rc; lba += per) {
		const uint64_t n = nlba - lba < per ? nlba - lba : per;
		stamp_fill(stage, seed, lba, n, shift);
		rc = cuda_rc(c,
			     cudaMemcpy(c->dev_h.ns_data + (lba << shift), stage, n << shift, cudaMemcpyHostToDevice),
			     "cudaMemcpy stamps");
	}
	free(stage);
	return rc;
}

long long gpu_ctrl_ns_check(struct gpu_ctrl *c, uint64_t seed, uint64_t slba, uint64_t nlb, uint64_t *first_bad)
{
	const unsigned shift = c->o.lba_shift;
	if (c->remote)
		return -EOPNOTSUPP; /* the namespace lives in the daemon */
	if (!c->dev_h.ns_data)
		return -EINVAL; /* a null namespace keeps nothing to check */
	if (slba > c->o.ns_bytes >> shift || nlb > (c->o.ns_bytes >> shift) - slba)
		return -EINVAL;
	if (c->o.ns_type == EMU_NS_HOST)
		return (long long)stamp_check((const uint8_t *)c->ns_host + (slba << shift), seed, slba, nlb, shift,
					      first_bad);
	uint8_t *stage = malloc(GPU_STAGE_BYTES);
	if (!stage)
		return -ENOMEM;
	long long bad = 0;
	const uint64_t per = GPU_STAGE_BYTES >> shift;
	for (uint64_t lba = slba; lba < slba + nlb; lba += per) {
		const uint64_t n = slba + nlb - lba < per ? slba + nlb - lba : per;
		if (cuda_rc(c, cudaMemcpy(stage, c->dev_h.ns_data + (lba << shift), n << shift, cudaMemcpyDeviceToHost),
			    "cudaMemcpy check")) {
			bad = -EIO;
			break;
		}
		uint64_t fb = 0;
		uint64_t b = stamp_check(stage, seed, lba, n, shift, &fb);
		if (b && !bad && first_bad)
			*first_bad = fb;
		bad += (long long)b;
	}
	free(stage);
	return bad;
}

void gpu_ctrl_close(struct gpu_ctrl *c)
{
	if (!c)
		return;
	if (c->remote)
		gpu_remote_close(c); /* before the memory the daemon imported is freed */
	if (c->running && gpu_ctrl_engine_stop(c, NULL) == -ETIMEDOUT) {
		/* the engine kernel may still read these: leak rather than free under it; process exit
		 * tears the context down */
		aisio_log(AISIO_LOG_WARNING, c->name, "engine still running at close: memory left to process exit");
		emu_admin_destroy(c->admin);
		free(c->queues_h);
		free(c->qtab_h);
		free(c);
		return;
	}
	/* delete the queues through the admin queue, SQ before CQ, as with a real controller */
	for (unsigned i = c->nq; c->admin && i-- > 0;) {
		struct nvme_sqe cmd;
		uint32_t dw0;
		memset(&cmd, 0, sizeof(cmd));
		cmd.opc = NVME_ADMIN_DELETE_SQ;
		cmd.cdw10 = i + 1;
		if (emu_admin_cmd(c->admin, &cmd, &dw0) == 0) {
			cmd.opc = NVME_ADMIN_DELETE_CQ;
			emu_admin_cmd(c->admin, &cmd, &dw0);
		}
	}
	emu_admin_destroy(c->admin);
	for (unsigned i = 0; i < GPUEMU_MAX_WINDOWS; i++)
		if (c->imports[i].p)
			cudaIpcCloseMemHandle(c->imports[i].p);
	if (c->stream)
		cudaStreamDestroy((cudaStream_t)c->stream);
	for (unsigned i = c->nallocs; i-- > 0;) {
		if (c->allocs[i].host)
			cudaFreeHost(c->allocs[i].p);
		else
			cudaFree(c->allocs[i].p);
	}
	free(c->queues_h);
	free(c->qtab_h);
	free(c);
}

/* ---- serving another process's queues (homid): its rings and buffers imported by CUDA IPC ---- */

/*
 * cudaIpcCloseMemHandle waits for the kernels running in this process's context (measured on the
 * H200, bench/gpu/ipc_timeslice.sh: beside the engine's persistent kernel it did not return in 20 s,
 * while cudaIpcOpenMemHandle took 0.2 ms), so the engine is stopped around a close: bounded, and the
 * queues keep their engine state (SQ head, CQ tail and phase live in the engine's queue table), so
 * other clients' commands wait through the pause instead of failing. A stopped engine also touches
 * nothing, so no command of the client's deleted queues is still being served when its memory goes.
 */
static int engine_pause(struct gpu_ctrl *c, int *was_running)
{
	*was_running = c->running;
	if (!c->running)
		return 0;
	unsigned long long n = 0;
	int rc = gpu_ctrl_engine_stop(c, &n);
	c->paused_cmds += n;
	return rc;
}

static int engine_resume(struct gpu_ctrl *c, int was_running)
{
	return was_running ? gpu_ctrl_engine_start(c) : 0;
}

/* The allocation dptr starts and its size, through the driver API's entry point (no link-time libcuda). */
static int alloc_range(struct gpu_ctrl *c, void *dptr, uint64_t *base, uint64_t *size)
{
	typedef int (*range_fn)(unsigned long long *, size_t *, unsigned long long);
	void *fn = NULL;
	enum cudaDriverEntryPointQueryResult q;
	cudaError_t e = cudaGetDriverEntryPointByVersion("cuMemGetAddressRange", &fn, 12000, cudaEnableDefault, &q);
	if (e != cudaSuccess || q != cudaDriverEntryPointSuccess || !fn) {
		gpu_err(c, "cuMemGetAddressRange not available");
		return -ENOTSUP;
	}
	unsigned long long b = 0;
	size_t n = 0;
	if (((range_fn)fn)(&b, &n, (unsigned long long)(uintptr_t)dptr) != 0) {
		gpu_err(c, "cuMemGetAddressRange failed");
		return -EIO;
	}
	*base = b;
	*size = n;
	return 0;
}

int gpu_ctrl_serve_check(const struct gpu_ctrl *c)
{
	if (c->remote || c->o.engine != EMU_ENGINE_GPU) {
		aisio_log(AISIO_LOG_ERROR, c->name,
			  "only engine=gpu serves another process's queues: the CPU engine cannot reach a client's "
			  "GPU memory, and engine=fused runs inside the client's own launches");
		return -EINVAL;
	}
	return 0;
}

int gpu_ctrl_bar_export(struct gpu_ctrl *c, struct gpu_ipc_handle *h, uint64_t *len, uint32_t *dstrd)
{
	if (gpu_ctrl_serve_check(c))
		return -EINVAL;
	cudaIpcMemHandle_t ih;
	_Static_assert(sizeof(ih) == sizeof(h->bytes), "CUDA IPC handle size");
	if (cuda_rc(c, cudaIpcGetMemHandle(&ih, c->dev_h.bar), "cudaIpcGetMemHandle of the BAR"))
		return -EIO;
	memcpy(h->bytes, &ih, sizeof(ih));
	*len = gpu_bar_len(GPUEMU_MAX_QUEUES, c->o.dstrd);
	*dstrd = c->o.dstrd;
	return 0;
}

int gpu_ctrl_import(struct gpu_ctrl *c, const struct gpu_ipc_handle *h, uint64_t len, uint64_t *bus)
{
	if (gpu_ctrl_serve_check(c))
		return -EINVAL;
	struct gpu_import *slot = NULL;
	for (unsigned i = 0; i < GPUEMU_MAX_WINDOWS && !slot; i++)
		if (!c->imports[i].p)
			slot = &c->imports[i];
	if (!slot || c->dev_h.nwin == GPUEMU_MAX_WINDOWS) {
		gpu_err(c, "at most %d imported regions", GPUEMU_MAX_WINDOWS);
		return -ENOSPC;
	}
	cudaIpcMemHandle_t ih;
	memcpy(&ih, h->bytes, sizeof(ih));
	void *p = NULL;
	cudaError_t e = cudaIpcOpenMemHandle(&p, ih, cudaIpcMemLazyEnablePeerAccess);
	if (e != cudaSuccess) {
		/* a bad handle from a client is its error, not this controller's fault */
		aisio_log(AISIO_LOG_WARNING, c->name, "cudaIpcOpenMemHandle: %s", cudaGetErrorString(e));
		cudaGetLastError();
		return -EINVAL;
	}
	uint64_t base = 0, size = 0;
	int rc = alloc_range(c, p, &base, &size);
	if (rc == 0 && (base != (uint64_t)(uintptr_t)p || len == 0 || len > size)) {
		aisio_log(AISIO_LOG_WARNING, c->name,
			  "imported region of %" PRIu64 " bytes: the allocation holds %" PRIu64, len, size);
		rc = -EINVAL;
	}
	if (rc == 0) {
		rc = add_window(c, p, len);
		if (rc == 0) {
			slot->p = p;
			slot->len = len;
			*bus = (uint64_t)(uintptr_t)p; /* emulator: bus address == this process's device address */
		}
	}
	if (rc) {
		/* never served: no queue has its rings there yet */
		int was, prc = engine_pause(c, &was);
		if (prc == 0)
			cudaIpcCloseMemHandle(p);
		engine_resume(c, was);
	}
	return rc;
}

int gpu_ctrl_unimport(struct gpu_ctrl *c, uint64_t bus)
{
	struct gpu_import *imp = NULL;
	for (unsigned i = 0; i < GPUEMU_MAX_WINDOWS && !imp; i++)
		if (c->imports[i].p && (uint64_t)(uintptr_t)c->imports[i].p == bus)
			imp = &c->imports[i];
	if (!imp)
		return -ENOENT;
	/* stopped, the engine touches nothing: no command of a deleted queue is still being served */
	int was, rc = engine_pause(c, &was);
	if (rc)
		return rc; /* the engine may still read the region: it stays mapped */
	struct gpuemu_dev *d = &c->dev_h;
	for (uint32_t i = 0; i < d->nwin; i++)
		if (d->win[i].va == bus) {
			memmove(&d->win[i], &d->win[i + 1], (d->nwin - i - 1) * sizeof(d->win[0]));
			d->nwin--;
			break;
		}
	rc = engine_sync_dev(c);
	if (rc == 0)
		rc = cuda_rc(c, cudaIpcCloseMemHandle(imp->p), "cudaIpcCloseMemHandle");
	imp->p = NULL;
	imp->len = 0;
	int rc2 = engine_resume(c, was);
	return rc ? rc : rc2;
}

int gpu_ctrl_qpair_add(struct gpu_ctrl *c, uint16_t qid, uint32_t entries, uint64_t sq_bus, uint64_t cq_bus)
{
	if (gpu_ctrl_serve_check(c))
		return -EINVAL;
	struct nvme_sqe cmd;
	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_ADMIN_CREATE_CQ;
	cmd.prp1 = cq_bus;
	cmd.cdw10 = qid | ((entries - 1) << 16);
	cmd.cdw11 = NVME_QUEUE_PHYS_CONTIG;
	int rc = admin(c, &cmd, NULL, "create I/O CQ");
	if (rc)
		return rc;
	cmd.opc = NVME_ADMIN_CREATE_SQ;
	cmd.prp1 = sq_bus;
	cmd.cdw11 = NVME_QUEUE_PHYS_CONTIG | ((uint32_t)qid << 16);
	rc = admin(c, &cmd, NULL, "create I/O SQ");
	if (rc) {
		cmd.opc = NVME_ADMIN_DELETE_CQ;
		cmd.cdw11 = 0;
		admin(c, &cmd, NULL, "delete I/O CQ");
	}
	return rc;
}

int gpu_ctrl_qpair_remove(struct gpu_ctrl *c, uint16_t qid)
{
	struct nvme_sqe cmd;
	memset(&cmd, 0, sizeof(cmd));
	cmd.opc = NVME_ADMIN_DELETE_SQ;
	cmd.cdw10 = qid;
	int rc = admin(c, &cmd, NULL, "delete I/O SQ");
	cmd.opc = NVME_ADMIN_DELETE_CQ;
	int rc2 = admin(c, &cmd, NULL, "delete I/O CQ");
	return rc ? rc : rc2;
}

unsigned gpu_ctrl_max_qpairs(const struct gpu_ctrl *c)
{
	return c->o.max_qpairs;
}

unsigned gpu_ctrl_max_qdepth(const struct gpu_ctrl *c)
{
	return c->o.mqes + 1;
}

int gpu_ctrl_engine_running(const struct gpu_ctrl *c)
{
	if (!c->running)
		return 0;
	if (c->o.engine != EMU_ENGINE_GPU)
		return 1;
	return cudaStreamQuery((cudaStream_t)c->stream) == cudaErrorNotReady;
}
