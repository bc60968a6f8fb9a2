/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fil's backends into GPU memory (aisio/fil_gpu.h): aisio-gpu, gds and the posix backends with a
 * copy. Built into the GPU layer's library; everything CUDA waits for is polled on a non-blocking
 * stream with short sleeps, bounded by the dataset's timeout (a running gpuemu engine kernel must
 * never be waited for, and nothing here uses the legacy stream).
 */
#include "fil_gpu.h"
#include "fil_internal.h"

#include <aisio/clock.h>
#include <aisio/emu.h>
#include <aisio/fil_gpu.h>
#include <aisio/gpu.h>
#include <aisio/gpuemu.h>
#include <aisio/log.h>
#include <aisio/xal.h>

#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- shared ---- */

static int cuda_fail(const char *who, const char *what, cudaError_t e)
{
	aisio_log(AISIO_LOG_ERROR, who, "%s: %s", what, cudaGetErrorString(e));
	return -EIO;
}

/* Before CUDA is used: a usable GPU, eager module loading (gpu_probe: a kernel loaded lazily while the
 * gpuemu engine's persistent kernel runs waits for it forever), and blocking synchronisation (CUDA
 * waits then sleep rather than spin; once the context exists the flag is what it is, not an error). */
static int gpu_start(const char *who)
{
	char why[256];
	if (gpu_probe(why, sizeof(why)) < 0) {
		aisio_log(AISIO_LOG_ERROR, who, "%s", why);
		return -ENODEV;
	}
	cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync);
	cudaGetLastError();
	return 0;
}

/* Wait for everything queued on stream, bounded by ms. The naps double from 10 us to 200 us: a batch's
 * reads take about a millisecond, and each poll costs the CPU a query and a wake-up. */
static int stream_wait(cudaStream_t stream, unsigned ms)
{
	struct timespec nap = {0, 10000};
	const uint64_t end = aisio_mono_ms() + ms;
	for (;;) {
		cudaError_t e = cudaStreamQuery(stream);
		if (e == cudaSuccess)
			return 0;
		if (e != cudaErrorNotReady)
			return cuda_fail("fil", "GPU work failed", e);
		if (aisio_mono_ms() > end)
			return -ETIMEDOUT;
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 200000)
			nap.tv_nsec *= 2;
	}
}

/* The per-thread state every GPU backend has: its own stream. */
struct gpu_worker {
	cudaStream_t stream;
};

static int stream_create(cudaStream_t *s)
{
	cudaError_t e = cudaStreamCreateWithFlags(s, cudaStreamNonBlocking);
	return e == cudaSuccess ? 0 : cuda_fail("fil", "cudaStreamCreate", e);
}

static int copy_back(struct fil_worker *w, void *dst, const void *src, size_t len)
{
	struct gpu_worker *g = w->gpu;
	cudaError_t e = cudaMemcpyAsync(dst, src, len, cudaMemcpyDeviceToHost, g->stream);
	if (e != cudaSuccess)
		return cuda_fail("fil", "cudaMemcpyAsync to the host", e);
	return stream_wait(g->stream, w->ds->o.timeout_ms);
}

static void *dev_alloc(size_t len)
{
	void *p = NULL;
	cudaError_t e = cudaMalloc(&p, fil_round_up(len, 4096));
	if (e != cudaSuccess) {
		cuda_fail("fil", "cudaMalloc of a batch buffer", e);
		return NULL;
	}
	return p;
}

static int gpu_worker_init(struct fil_worker *w)
{
	struct gpu_worker *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	w->gpu = g;
	return stream_create(&g->stream);
}

static void gpu_worker_fini(struct fil_worker *w)
{
	struct gpu_worker *g = w->gpu;
	if (!g)
		return;
	if (g->stream) {
		stream_wait(g->stream, w->ds->o.timeout_ms);
		cudaStreamDestroy(g->stream);
	}
	free(g);
	w->gpu = NULL;
}

/* ---- posix into GPU memory: pinned host shadow of each slot, one copy per worker's part ---- */

struct shadow {
	void *dev;
	uint8_t *host;
};

struct posix_cuda_ds {
	struct shadow *slots;
	unsigned n, cap;
};

static int pc_open(struct fil_dataset *ds)
{
	if (gpu_start("posix-cuda") < 0)
		return -ENODEV;
	struct posix_cuda_ds *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	ds->gpu = p;
	p->cap = ds->nslots;
	p->slots = calloc(p->cap, sizeof(*p->slots));
	if (!p->slots)
		return -ENOMEM;
	return ds->inner->open ? ds->inner->open(ds) : 0;
}

static void pc_close(struct fil_dataset *ds)
{
	struct posix_cuda_ds *p = ds->gpu;
	if (ds->inner->close)
		ds->inner->close(ds);
	if (!p)
		return;
	free(p->slots);
	free(p);
	ds->gpu = NULL;
}

static void *pc_buf_alloc(struct fil_dataset *ds, size_t len)
{
	struct posix_cuda_ds *p = ds->gpu;
	if (p->n == p->cap)
		return NULL;
	struct shadow *sh = &p->slots[p->n];
	void *host = NULL;
	cudaError_t e = cudaHostAlloc(&host, fil_round_up(len, 4096), cudaHostAllocPortable);
	if (e != cudaSuccess) {
		cuda_fail("fil", "cudaHostAlloc of a batch's pinned copy", e);
		return NULL;
	}
	sh->dev = dev_alloc(len);
	if (!sh->dev) {
		cudaFreeHost(host);
		return NULL;
	}
	sh->host = host;
	p->n++;
	return sh->dev;
}

static void pc_buf_free(struct fil_dataset *ds, void *buf)
{
	struct posix_cuda_ds *p = ds->gpu;
	for (unsigned i = 0; i < p->n; i++)
		if (p->slots[i].dev == buf) {
			cudaFree(p->slots[i].dev);
			cudaFreeHost(p->slots[i].host);
			p->slots[i] = p->slots[--p->n];
			return;
		}
}

static int pc_worker_init(struct fil_worker *w)
{
	int rc = gpu_worker_init(w);
	if (rc == 0 && w->ds->inner->worker_init)
		rc = w->ds->inner->worker_init(w);
	return rc;
}

static void pc_worker_fini(struct fil_worker *w)
{
	if (w->ds->inner->worker_fini)
		w->ds->inner->worker_fini(w);
	gpu_worker_fini(w);
}

static int pc_read(struct fil_worker *w, struct fil_slot *s, unsigned first, unsigned count)
{
	struct fil_dataset *ds = w->ds;
	struct posix_cuda_ds *p = ds->gpu;
	struct gpu_worker *g = w->gpu;
	uint8_t *host = NULL;
	for (unsigned i = 0; i < p->n && !host; i++)
		if (p->slots[i].dev == s->buf)
			host = p->slots[i].host;
	if (!host)
		return fil_fail(w, first, -EINVAL, "%s: the batch buffer has no pinned copy", s->paths[first]);
	struct fil_slot shadow = *s;
	shadow.buf = host;
	int rc = ds->inner->read(w, &shadow, first, count);
	if (rc < 0)
		return rc;
	unsigned last = first + count - 1;
	uint64_t from = s->offsets[first], to = s->offsets[last] + fil_round_up(s->lengths[last], ds->align);
	cudaError_t e = cudaMemcpyAsync(s->buf + from, host + from, to - from, cudaMemcpyHostToDevice, g->stream);
	if (e != cudaSuccess)
		return fil_fail(w, first, -EIO, "%s: cudaMemcpyAsync into GPU memory: %s", s->paths[first],
				cudaGetErrorString(e));
	rc = stream_wait(g->stream, ds->o.timeout_ms);
	return rc < 0 ? fil_fail(w, first, rc, "%s: the copy into GPU memory: %s", s->paths[first], strerror(-rc)) : 0;
}

static const struct fil_backend_ops posix_cuda_ops = {
	.name = "posix-cuda",
	.align = 64,
	.open = pc_open,
	.close = pc_close,
	.buf_alloc = pc_buf_alloc,
	.buf_free = pc_buf_free,
	.worker_init = pc_worker_init,
	.worker_fini = pc_worker_fini,
	.read = pc_read,
	.copy_out = copy_back,
};

/* ---- gds: cuFile, loaded at run time ---- */

/* cuFile's ABI (cufile.h, CUDA 11.4 and later): the types the calls below pass. */
struct cufile_error {
	int err; /* CUfileOpError: 0 = CU_FILE_SUCCESS */
	int cu_err;
};
struct cufile_descr {
	int type; /* CU_FILE_HANDLE_TYPE_OPAQUE_FD = 1 */
	union {
		int fd;
		void *handle;
	} handle;
	const void *fs_ops;
};
#define CUFILE_HANDLE_TYPE_OPAQUE_FD 1

struct cufile_api {
	void *lib;
	struct cufile_error (*driver_open)(void);
	struct cufile_error (*driver_close)(void);
	struct cufile_error (*handle_register)(void **fh, struct cufile_descr *d);
	void (*handle_deregister)(void *fh);
	struct cufile_error (*buf_register)(const void *base, size_t len, int flags);
	struct cufile_error (*buf_deregister)(const void *base);
	ssize_t (*read)(void *fh, void *base, size_t size, off_t file_offset, off_t buf_offset);
};

struct gds_ds {
	struct cufile_api api;
	bool driver_open;
};

static int gds_load(struct cufile_api *a)
{
	static const char *const names[] = {"libcufile.so.0", "libcufile.so"};
	for (unsigned i = 0; i < 2 && !a->lib; i++)
		a->lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!a->lib) {
		aisio_log(AISIO_LOG_ERROR, "gds", "cuFile is not installed (libcufile.so.0: %s)", dlerror());
		return -ENOENT;
	}
	*(void **)&a->driver_open = dlsym(a->lib, "cuFileDriverOpen");
	*(void **)&a->driver_close = dlsym(a->lib, "cuFileDriverClose_v2");
	if (!a->driver_close)
		*(void **)&a->driver_close = dlsym(a->lib, "cuFileDriverClose");
	*(void **)&a->handle_register = dlsym(a->lib, "cuFileHandleRegister");
	*(void **)&a->handle_deregister = dlsym(a->lib, "cuFileHandleDeregister");
	*(void **)&a->buf_register = dlsym(a->lib, "cuFileBufRegister");
	*(void **)&a->buf_deregister = dlsym(a->lib, "cuFileBufDeregister");
	*(void **)&a->read = dlsym(a->lib, "cuFileRead");
	if (!a->driver_open || !a->driver_close || !a->handle_register || !a->handle_deregister || !a->buf_register ||
	    !a->buf_deregister || !a->read) {
		aisio_log(AISIO_LOG_ERROR, "gds", "libcufile.so lacks a function fil needs (cuFileRead and its kin)");
		return -ENOSYS;
	}
	return 0;
}

static int gds_open(struct fil_dataset *ds)
{
	if (gpu_start("gds") < 0)
		return -ENODEV;
	struct gds_ds *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	ds->be = g;
	int rc = gds_load(&g->api);
	if (rc < 0)
		return rc;
	/* the context first: cuFile works in the current one */
	cudaError_t e = cudaFree(NULL);
	if (e != cudaSuccess)
		return cuda_fail("gds", "no CUDA context", e);
	struct cufile_error ce = g->api.driver_open();
	if (ce.err) {
		aisio_log(AISIO_LOG_ERROR, "gds", "cuFileDriverOpen failed (cuFile error %d, CUDA %d)", ce.err,
			  ce.cu_err);
		return -EIO;
	}
	g->driver_open = true;
	return 0;
}

static void gds_close(struct fil_dataset *ds)
{
	struct gds_ds *g = ds->be;
	if (!g)
		return;
	if (g->driver_open)
		g->api.driver_close();
	if (g->api.lib)
		dlclose(g->api.lib);
	free(g);
	ds->be = NULL;
}

static void *gds_buf_alloc(struct fil_dataset *ds, size_t len)
{
	struct gds_ds *g = ds->be;
	void *p = dev_alloc(len);
	if (!p)
		return NULL;
	struct cufile_error ce = g->api.buf_register(p, fil_round_up(len, 4096), 0);
	if (ce.err) {
		aisio_log(AISIO_LOG_ERROR, "gds", "cuFileBufRegister of %zu bytes failed (cuFile error %d)", len,
			  ce.err);
		cudaFree(p);
		return NULL;
	}
	return p;
}

static void gds_buf_free(struct fil_dataset *ds, void *buf)
{
	struct gds_ds *g = ds->be;
	g->api.buf_deregister(buf);
	cudaFree(buf);
}

/* One file: open, register its handle, cuFileRead into its place until whole. */
static int gds_file(struct fil_worker *w, struct fil_slot *s, unsigned at)
{
	struct gds_ds *g = w->ds->be;
	struct gpu_worker *gw = w->gpu;
	const char *path = s->paths[at];
	int fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0 && errno == EINVAL)
		fd = open(path, O_RDONLY);
	if (fd < 0)
		return fil_fail(w, at, -errno, "%s: %s", path, strerror(errno));
	int rc = fil_check_fd(w, s, at, fd);
	void *fh = NULL;
	if (rc == 0) {
		struct cufile_descr d = {.type = CUFILE_HANDLE_TYPE_OPAQUE_FD, .handle.fd = fd};
		struct cufile_error ce = g->api.handle_register(&fh, &d);
		if (ce.err)
			rc = fil_fail(w, at, -EIO, "%s: cuFileHandleRegister failed (cuFile error %d)", path, ce.err);
	}
	uint64_t len = s->lengths[at], done = 0;
	while (rc == 0 && done < len) {
		ssize_t n = g->api.read(fh, s->buf, len - done, (off_t)done, (off_t)(s->offsets[at] + done));
		w->ios++;
		if (n < 0)
			rc = fil_fail(w, at, -EIO, "%s: cuFileRead failed (%zd)", path, n);
		else if (n == 0)
			rc = fil_fail(w, at, -ESTALE, "%s: ended at %" PRIu64 " of %" PRIu64 " bytes", path, done, len);
		else
			done += (uint64_t)n;
	}
	if (fh)
		g->api.handle_deregister(fh);
	if (rc == 0)
		rc = fil_check_fd(w, s, at, fd);
	close(fd);
	uint64_t end = fil_round_up(len, w->ds->align);
	if (rc == 0 && end > len) {
		cudaError_t e = cudaMemsetAsync(s->buf + s->offsets[at] + len, 0, end - len, gw->stream);
		if (e != cudaSuccess)
			rc = fil_fail(w, at, -EIO, "%s: zeroing its tail: %s", path, cudaGetErrorString(e));
	}
	return rc;
}

static int gds_read(struct fil_worker *w, struct fil_slot *s, unsigned first, unsigned count)
{
	struct gpu_worker *gw = w->gpu;
	int rc = 0;
	for (unsigned k = 0; k < count && rc == 0; k++)
		rc = gds_file(w, s, first + k);
	int wrc = stream_wait(gw->stream, w->ds->o.timeout_ms);
	if (rc == 0 && wrc < 0)
		rc = fil_fail(w, first, wrc, "%s: zeroing tails: %s", s->paths[first], strerror(-wrc));
	return rc;
}

static const struct fil_backend_ops gds_ops = {
	.name = "gds",
	.align = 4096,
	.open = gds_open,
	.close = gds_close,
	.buf_alloc = gds_buf_alloc,
	.buf_free = gds_buf_free,
	.worker_init = gpu_worker_init,
	.worker_fini = gpu_worker_fini,
	.read = gds_read,
	.copy_out = copy_back,
};

/* ---- aisio-gpu: GPU threads submit the reads ---- */

#define AG_READS_CAP 16384u /* read commands per launch (a part with more takes several) */
#define AG_ZERO_CAP 4096u

struct ag_worker {
	struct gpu_worker g;                  /* first: w->gpu is also a struct gpu_worker */
	struct fil_gpu_read *reads, *reads_d; /* pinned host memory mapped into the GPU */
	struct fil_gpu_zero *zero, *zero_d;
	unsigned *read_at; /* per command: its file's position in the batch */
	uint32_t nreads, nzero;
	uint8_t *bounce; /* files read by posix: pinned host memory, copied in */
	uint64_t *bounce_offsets;
};

struct ag_ds {
	struct gpu_ctrl *c;
	struct fil_index ix;
	const struct gpu_nvme_ns *ns;
	unsigned lba_shift;
	uint32_t max_lbas;
	unsigned grid; /* read blocks per launch, at most */
	uint32_t nqueues;
	uint8_t *pool; /* the slots' buffers, one allocation of the controller's */
	size_t pool_len, pool_used;
	struct ag_worker *workers;
	unsigned nworkers;
	bool engine;
};

static int host_mapped(size_t len, void **host, void **dev)
{
	cudaError_t e = cudaHostAlloc(host, len, cudaHostAllocMapped | cudaHostAllocPortable);
	if (e != cudaSuccess)
		return cuda_fail("aisio-gpu", "cudaHostAlloc of a work list", e);
	e = cudaHostGetDevicePointer(dev, *host, 0);
	return e == cudaSuccess ? 0 : cuda_fail("aisio-gpu", "cudaHostGetDevicePointer", e);
}

/* Everything CUDA allocates comes before the engine starts: nothing allocates or frees beside it. */
static int ag_open(struct fil_dataset *ds)
{
	if (gpu_start("aisio-gpu") < 0)
		return -ENODEV;
	const struct fil_opts *o = &ds->o;
	if (!o->device) {
		aisio_log(AISIO_LOG_ERROR, "fil", "aisio-gpu needs a device string (gpuemu:host,file=IMAGE)");
		return -EINVAL;
	}
	struct ag_ds *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	ds->be = a;
	int rc = fil_index_open(&a->ix, ds, "aisio-gpu");
	if (rc < 0)
		return rc;
	rc = gpu_ctrl_open(&a->c, o->device);
	if (rc < 0) {
		a->c = NULL;
		aisio_log(AISIO_LOG_ERROR, o->device, "aisio-gpu: cannot open the controller: %s", strerror(-rc));
		return rc;
	}
	a->lba_shift = gpu_ctrl_lba_shift(a->c);
	if ((1u << a->lba_shift) > ds->align) {
		aisio_log(AISIO_LOG_ERROR, o->device,
			  "aisio-gpu: LBAs of %u bytes are larger than the %zu-byte alignment", 1u << a->lba_shift,
			  ds->align);
		return -ENOTSUP;
	}
	uint32_t max_xfer = gpu_ctrl_mdts_bytes(a->c);
	if (!max_xfer || max_xfer > (1u << 20))
		max_xfer = 1u << 20;
	struct gpu_qpair_opts qo = {.nqueues = o->gpu_queues ? o->gpu_queues : 32,
				    .depth = 256,
				    .place = GPU_PLACE_GPU,
				    .max_xfer = max_xfer};
	rc = gpu_ctrl_qpairs_create(a->c, &qo);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, o->device, "aisio-gpu: %u queue pairs: %s", qo.nqueues, strerror(-rc));
		return rc;
	}
	a->ns = gpu_ctrl_ns(a->c);
	a->nqueues = qo.nqueues;
	a->max_lbas = gpu_ctrl_ns_host(a->c)->max_xfer >> a->lba_shift;
	if (!a->max_lbas)
		return -EINVAL;
	/* the read launches share the SMs the engine leaves */
	int dev = 0, sms = 0, per_sm = 0;
	cudaGetDevice(&dev);
	cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
	const struct emu_opts *eo = gpu_ctrl_emu_opts(a->c);
	int room = sms - (eo && eo->engine == EMU_ENGINE_GPU ? (int)eo->sms : 0);
	if (fil_gpu_read_occupancy(&per_sm) < 0 || per_sm < 1)
		per_sm = 1;
	a->nworkers = o->threads;
	a->grid = room > 0 ? (unsigned)(room * per_sm) / a->nworkers : 1;
	if (a->grid < 1)
		a->grid = 1;
	a->pool_len = (size_t)ds->nslots * fil_round_up(ds->slot_cap, 4096);
	a->pool = gpu_ctrl_buf_alloc(a->c, a->pool_len);
	if (!a->pool)
		return -ENOMEM;
	a->workers = calloc(a->nworkers, sizeof(*a->workers));
	if (!a->workers)
		return -ENOMEM;
	size_t bounce = fil_round_up(ds->max_file ? ds->max_file : 1, 4096);
	for (unsigned i = 0; i < a->nworkers; i++) {
		struct ag_worker *aw = &a->workers[i];
		rc = stream_create(&aw->g.stream);
		if (rc == 0)
			rc = host_mapped(AG_READS_CAP * sizeof(*aw->reads), (void **)&aw->reads, (void **)&aw->reads_d);
		if (rc == 0)
			rc = host_mapped(AG_ZERO_CAP * sizeof(*aw->zero), (void **)&aw->zero, (void **)&aw->zero_d);
		if (rc == 0 && cudaHostAlloc((void **)&aw->bounce, bounce, cudaHostAllocPortable) != cudaSuccess)
			rc = cuda_fail("aisio-gpu", "cudaHostAlloc of a bounce buffer", cudaGetLastError());
		if (rc < 0)
			return rc;
		aw->read_at = calloc(AG_READS_CAP, sizeof(*aw->read_at));
		aw->bounce_offsets = calloc(ds->o.batch_size, sizeof(*aw->bounce_offsets));
		if (!aw->read_at || !aw->bounce_offsets)
			return -ENOMEM;
	}
	if (fil_gpu_kernels_load() < 0)
		return cuda_fail("aisio-gpu", "loading the read kernels", cudaGetLastError());
	rc = gpu_ctrl_engine_start(a->c);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, o->device, "aisio-gpu: the engine did not start: %s", strerror(-rc));
		return rc;
	}
	a->engine = true;
	return 0;
}

static void ag_close(struct fil_dataset *ds)
{
	struct ag_ds *a = ds->be;
	if (!a)
		return;
	if (a->engine)
		gpu_ctrl_engine_stop(a->c, NULL);
	for (unsigned i = 0; a->workers && i < a->nworkers; i++) {
		struct ag_worker *aw = &a->workers[i];
		if (aw->g.stream)
			cudaStreamDestroy(aw->g.stream);
		if (aw->reads)
			cudaFreeHost(aw->reads);
		if (aw->zero)
			cudaFreeHost(aw->zero);
		if (aw->bounce)
			cudaFreeHost(aw->bounce);
		free(aw->read_at);
		free(aw->bounce_offsets);
	}
	free(a->workers);
	if (a->c)
		gpu_ctrl_close(a->c); /* frees the pool */
	fil_index_close(&a->ix);
	free(a);
	ds->be = NULL;
}

static void *ag_buf_alloc(struct fil_dataset *ds, size_t len)
{
	struct ag_ds *a = ds->be;
	len = fil_round_up(len, 4096);
	if (a->pool_used + len > a->pool_len)
		return NULL;
	void *p = a->pool + a->pool_used;
	a->pool_used += len;
	return p;
}

static void ag_buf_free(struct fil_dataset *ds, void *buf)
{
	/* the pool goes with the controller */
}

static int ag_worker_init(struct fil_worker *w)
{
	struct ag_ds *a = w->ds->be;
	w->gpu = &a->workers[w->id];
	return 0;
}

static void ag_worker_fini(struct fil_worker *w)
{
	w->gpu = NULL;
}

/* Run the queued reads, then the zero ranges, and wait; the first failed command names its file. */
static int ag_flush(struct fil_worker *w, struct fil_slot *s)
{
	struct ag_ds *a = w->ds->be;
	struct ag_worker *aw = w->gpu;
	int rc = 0;
	if (aw->nreads) {
		/* spread the commands over the queues: each queue is served in order */
		uint32_t per_warp = (aw->nreads + a->nqueues - 1) / a->nqueues;
		per_warp = per_warp < 1 ? 1 : per_warp > 32 ? 32 : per_warp;
		unsigned warps = (aw->nreads + per_warp - 1) / per_warp, need = (warps + 7) / 8;
		/* each worker starts on its own share of the queues */
		uint32_t q0 = (uint32_t)((uint64_t)a->nqueues * w->id / a->nworkers);
		rc = fil_gpu_launch_reads(a->ns, s->buf, aw->reads_d, aw->nreads, per_warp, q0,
					  need < a->grid ? need : a->grid, aw->g.stream);
	}
	if (rc == 0)
		rc = fil_gpu_launch_zero(s->buf, aw->zero_d, aw->nzero, aw->g.stream);
	if (rc < 0)
		return fil_fail(w, aw->nreads ? aw->read_at[0] : 0, rc, "%s: launching the reads: %s",
				s->paths[aw->nreads ? aw->read_at[0] : 0], cudaGetErrorString(cudaGetLastError()));
	rc = stream_wait(aw->g.stream, w->ds->o.timeout_ms);
	if (rc < 0) {
		unsigned at = aw->nreads ? aw->read_at[0] : 0;
		return fil_fail(w, at, rc, "%s: the GPU's reads on %s did not finish: %s", s->paths[at],
				gpu_ctrl_name(a->c), strerror(-rc));
	}
	for (uint32_t i = 0; i < aw->nreads; i++) {
		const struct fil_gpu_read *r = &aw->reads[i];
		if (r->rc) {
			unsigned at = aw->read_at[i];
			return fil_fail(w, at, r->rc, "%s: GPU read of LBAs %" PRIu64 "+%u on %s: %s (status 0x%x)",
					s->paths[at], r->slba, r->nlb, gpu_ctrl_name(a->c), strerror(-r->rc),
					r->status);
		}
	}
	w->ios += aw->nreads;
	aw->nreads = aw->nzero = 0;
	return 0;
}

static int ag_zero(struct fil_worker *w, struct fil_slot *s, uint64_t dst, uint64_t len)
{
	struct ag_worker *aw = w->gpu;
	if (!len)
		return 0;
	if (aw->nzero == AG_ZERO_CAP) {
		int rc = ag_flush(w, s);
		if (rc < 0)
			return rc;
	}
	aw->zero[aw->nzero++] = (struct fil_gpu_zero){.dst = dst, .len = len};
	return 0;
}

static int ag_queue_read(struct fil_worker *w, struct fil_slot *s, unsigned at, uint64_t dst, uint64_t slba,
			 uint32_t nlb)
{
	struct ag_worker *aw = w->gpu;
	if (aw->nreads == AG_READS_CAP) {
		int rc = ag_flush(w, s);
		if (rc < 0)
			return rc;
	}
	aw->read_at[aw->nreads] = at;
	aw->reads[aw->nreads++] = (struct fil_gpu_read){.dst = dst, .slba = slba, .nlb = nlb};
	return 0;
}

/* The work list of one file: reads of its extents, zero ranges for holes, unwritten extents and its tail. */
struct gpu_file {
	struct fil_worker *w;
	struct fil_slot *s;
	unsigned at;
};

static int gpu_read(void *arg, uint64_t off, uint64_t slba, uint32_t nlb)
{
	struct gpu_file *f = arg;
	return ag_queue_read(f->w, f->s, f->at, f->s->offsets[f->at] + off, slba, nlb);
}

static int gpu_zero(void *arg, uint64_t off, uint64_t len)
{
	struct gpu_file *f = arg;
	return ag_zero(f->w, f->s, f->s->offsets[f->at] + off, len);
}

static int ag_queue_file(struct fil_worker *w, struct fil_slot *s, unsigned at, const struct xal_inode *ino)
{
	static const struct fil_extent_sink sink = {.read = gpu_read, .zero = gpu_zero};
	struct ag_ds *a = w->ds->be;
	const uint64_t size = s->lengths[at];
	struct gpu_file f = {.w = w, .s = s, .at = at};
	int rc = fil_index_walk(&a->ix, ino, size, 1u << a->lba_shift, a->max_lbas, &sink, &f);
	/* after the reads: the last LBA read may run past the file's end */
	if (rc == 0)
		rc = gpu_zero(&f, size, fil_round_up(size, w->ds->align) - size);
	return rc;
}

/* A file the index cannot read raw: buffered pread into pinned memory, copied into its place. */
static int ag_fallback(struct fil_worker *w, struct fil_slot *s, unsigned at)
{
	struct ag_worker *aw = w->gpu;
	struct fil_slot shadow = *s;
	shadow.buf = aw->bounce;
	shadow.offsets = aw->bounce_offsets; /* all 0: each file at the bounce buffer's start */
	w->fallback++;
	int rc = fil_read_buffered(w, &shadow, at);
	if (rc < 0)
		return rc;
	uint64_t len = fil_round_up(s->lengths[at], w->ds->align);
	cudaError_t e = cudaMemcpyAsync(s->buf + s->offsets[at], aw->bounce, len, cudaMemcpyHostToDevice, aw->g.stream);
	if (e != cudaSuccess)
		return fil_fail(w, at, -EIO, "%s: cudaMemcpyAsync: %s", s->paths[at], cudaGetErrorString(e));
	/* the bounce buffer is reused by the next file */
	rc = stream_wait(aw->g.stream, w->ds->o.timeout_ms);
	return rc < 0 ? fil_fail(w, at, rc, "%s: the copy into GPU memory: %s", s->paths[at], strerror(-rc)) : 0;
}

static int ag_read(struct fil_worker *w, struct fil_slot *s, unsigned first, unsigned count)
{
	struct ag_ds *a = w->ds->be;
	struct ag_worker *aw = w->gpu;
	aw->nreads = aw->nzero = 0;
	int rc = 0;
	for (unsigned k = 0; k < count && rc == 0; k++) {
		unsigned at = first + k;
		struct xal_inode ino;
		int ok = fil_index_raw(&a->ix, s, at, 1u << a->lba_shift, &ino);
		if (ok < 0)
			rc = fil_fail(w, at, ok, "%s: extents in the index: %s", s->paths[at], strerror(-ok));
		else if (!ok)
			rc = ag_fallback(w, s, at);
		else if ((rc = ag_queue_file(w, s, at, &ino)) < 0 && !w->msg[0])
			rc = fil_fail(w, at, rc, "%s: its extents: %s", s->paths[at], strerror(-rc));
	}
	if (rc == 0)
		rc = ag_flush(w, s);
	else
		stream_wait(aw->g.stream, w->ds->o.timeout_ms); /* nothing may still land in the slot */
	/* a size change while the device was read: the bytes may be stale */
	for (unsigned k = 0; k < count && rc == 0; k++)
		rc = fil_check_path(w, s, first + k);
	return rc;
}

static const struct fil_backend_ops aisio_gpu_ops = {
	.name = "aisio-gpu",
	.align = 4096,
	.open = ag_open,
	.close = ag_close,
	.buf_alloc = ag_buf_alloc,
	.buf_free = ag_buf_free,
	.worker_init = ag_worker_init,
	.worker_fini = ag_worker_fini,
	.read = ag_read,
	.copy_out = copy_back,
};

static const struct fil_gpu_backends gpu_backends = {
	.aisio_gpu = &aisio_gpu_ops,
	.gds = &gds_ops,
	.posix_cuda = &posix_cuda_ops,
};

const struct fil_gpu_backends *fil_gpu_backends(void)
{
	return &gpu_backends;
}
