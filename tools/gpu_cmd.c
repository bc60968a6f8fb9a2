/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aisio perf cuda-run | cuda-verify: device-initiated I/O, GPU threads submitting NVMe commands to
 * a controller driven from the GPU (the GPU-resident emulated controller, gpuemu:...).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "aisio_version.h"
#include "commands.h"
#include "json.h"
#include "perf_stats.h"

#ifndef AISIO_HAVE_GPU

int cmd_perf_cuda(int argc, char **argv)
{
	(void)argc;
	fprintf(stderr, "aisio perf %s: this aisio was built without CUDA (meson -Dcuda=enabled)\n", argv[0]);
	return 1;
}

#else

#include <cuda_runtime_api.h>

#include <aisio/emu.h>
#include <aisio/gpu.h>
#include <aisio/gpuemu.h>
#include <aisio/strparse.h>
#include <aisio/nvme_spec.h>

#include "gpu_perf.h"
#ifdef AISIO_GPU_ABLATE
#include "gpu_ablate.h"
#endif

struct cuda_args {
	int verify, read_only;
	const char *dev;
	int opc, random;
	unsigned qdepth, nqueues, grid, block, api, place, depth, thread_qd;
	uint64_t iosize, size, iosize_min, offset;
	double runtime;
	uint64_t seed;
	int json, ceiling;
	const char *ablate;          /* --ablate as given (bench/gpu/aisio-ablate only; NULL otherwise) */
	uint32_t ablate_d, ablate_e; /* its driver and engine bits */
};

static void usage(FILE *f, const char *verb)
{
	char emu_help[4096];
	emu_opts_help(DEVSTR_GPUEMU, emu_help, sizeof(emu_help));
	fprintf(f,
		"usage: aisio perf %s [options] gpuemu:TYPE[:SIZE][,opt=val]... | homi:NAME[,socket=PATH]\n"
		"  --iopattern P   read|write|randread|randwrite (randread; cuda-verify writes then reads)\n"
		"  --qdepth N      commands in flight per queue (32)\n"
		"  --iosize B      bytes per command (4096; K/M suffixes)\n"
		"  --iosize-min B  cuda-verify, --api thread: commands of random sizes from B to --iosize, each\n"
		"                  --iosize unit in pieces, the units in a scattered order (many-writer stress)\n"
		"  --runtime S     seconds (3)\n"
		"  --nqueues N     I/O queue pairs (8)\n"
		"  --api A         thread: every thread submits and waits (many writers per queue);\n"
		"                  async: every thread keeps --thread-qd commands in flight (submit/poll);\n"
		"                  warp: warp-cooperative, 32 commands per warp round on shared queues;\n"
		"                  owned: one warp owns each queue, no atomics (thread)\n"
		"  --thread-qd N   async: commands in flight per thread, 1..8 (4)\n"
		"  --grid N --block N   launch shape (default: from nqueues x qdepth)\n"
		"  --queues P      gpu|host: SQ/CQ rings in GPU memory or pinned host memory (gpu)\n"
		"  --depth N       ring entries per queue (power of two; default 2 x qdepth, at least 64)\n"
		"  --size B        bytes of the namespace to use (cuda-verify: 64M or the namespace)\n"
		"  --offset B      where that range starts (0): disjoint ranges for clients sharing a device\n"
		"  --seed N        random LBAs and stamps (1)\n"
		"  --read-only     cuda-verify: the host CPU writes the stamps (every LBA of the namespace), the GPU\n"
		"                  reads the range back and checks it; without it the GPU writes, and both the GPU\n"
		"                  and the host CPU check what it wrote (one stamp for every path: aisio/stamp.h)\n"
		"  --ceiling       also measure cudaMemcpy of 64 MiB pinned host -> GPU (the PCIe ceiling)\n"
		"  --json          one JSON object instead of the table\n"
#ifdef AISIO_GPU_ABLATE
		"  --ablate LIST   benchmark only (cuda-run, --api owned): leave out per-command work to\n"
		"                  measure its cost; the I/O is not valid then. Driver (the reference owned\n"
		"                  path): ref (nothing left out), one of sqe, prp, cpl, fence, sqfence, sqhd,\n"
		"                  or driver (all six); engine: faults, decode, serialdb (docs/PERFORMANCE.md)\n"
#endif
		"\n%s",
		verb, emu_help);
}

static int parse(struct cuda_args *a, int argc, char **argv)
{
	static const struct option opts[] = {{"iopattern", required_argument, 0, 'p'},
					     {"qdepth", required_argument, 0, 'q'},
					     {"iosize", required_argument, 0, 's'},
					     {"runtime", required_argument, 0, 't'},
					     {"nqueues", required_argument, 0, 'n'},
					     {"grid", required_argument, 0, 'g'},
					     {"block", required_argument, 0, 'b'},
					     {"api", required_argument, 0, 'a'},
					     {"queues", required_argument, 0, 'Q'},
					     {"depth", required_argument, 0, 'd'},
					     {"size", required_argument, 0, 'z'},
					     {"seed", required_argument, 0, 'S'},
					     {"thread-qd", required_argument, 0, 'T'},
					     {"json", no_argument, 0, 'j'},
					     {"ceiling", no_argument, 0, 'c'},
					     {"help", no_argument, 0, 'h'},
					     {"nsid", required_argument, 0, 'N'},
					     {"read-only", no_argument, 0, 'R'},
					     {"iosize-min", required_argument, 0, 'm'},
					     {"offset", required_argument, 0, 'o'},
#ifdef AISIO_GPU_ABLATE
					     {"ablate", required_argument, 0, 'A'},
#endif
					     {0, 0, 0, 0}};
	memset(a, 0, sizeof(*a));
	a->verify = !strcmp(argv[0], "cuda-verify");
	a->opc = NVME_CMD_READ;
	a->random = 1;
	a->qdepth = 32;
	a->nqueues = 8;
	a->iosize = 4096;
	a->runtime = 3;
	a->seed = 1;
	a->thread_qd = 4;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end = NULL;
		unsigned long v = 0;
		if (optarg && strchr("qntgbdTN", c)) {
			v = strtoul(optarg, &end, 0);
			if (!*optarg || *end) {
				fprintf(stderr, "aisio perf %s: bad number '%s'\n", argv[0], optarg);
				return -EINVAL;
			}
		}
		switch (c) {
		case 'p':
			if (!strcmp(optarg, "read") || !strcmp(optarg, "randread"))
				a->opc = NVME_CMD_READ;
			else if (!strcmp(optarg, "write") || !strcmp(optarg, "randwrite"))
				a->opc = NVME_CMD_WRITE;
			else
				goto bad;
			a->random = !strncmp(optarg, "rand", 4);
			break;
		case 'q': a->qdepth = (unsigned)v; break;
		case 'n': a->nqueues = (unsigned)v; break;
		case 'g': a->grid = (unsigned)v; break;
		case 'b': a->block = (unsigned)v; break;
		case 'd': a->depth = (unsigned)v; break;
		case 'T': a->thread_qd = (unsigned)v; break;
		case 'N':
			if (v != 1) {
				fprintf(stderr, "aisio perf %s: gpuemu has one namespace (--nsid 1)\n", argv[0]);
				return -EINVAL;
			}
			break;
		case 't':
			a->runtime = strtod(optarg, &end);
			if (*end || a->runtime <= 0)
				goto bad;
			break;
		case 's':
			if (strparse_size(optarg, &a->iosize))
				goto bad;
			break;
		case 'z':
			if (strparse_size(optarg, &a->size))
				goto bad;
			break;
		case 'm':
			if (strparse_size(optarg, &a->iosize_min) || !a->iosize_min)
				goto bad;
			break;
		case 'o':
			if (strparse_size(optarg, &a->offset))
				goto bad;
			break;
		case 'S': a->seed = strtoull(optarg, &end, 0); break;
		case 'a':
			if (!strcmp(optarg, "thread"))
				a->api = GPU_API_THREAD;
			else if (!strcmp(optarg, "async"))
				a->api = GPU_API_ASYNC;
			else if (!strcmp(optarg, "warp"))
				a->api = GPU_API_WARP;
			else if (!strcmp(optarg, "owned"))
				a->api = GPU_API_OWNED;
			else
				goto bad;
			break;
		case 'Q':
			if (!strcmp(optarg, "gpu"))
				a->place = GPU_PLACE_GPU;
			else if (!strcmp(optarg, "host"))
				a->place = GPU_PLACE_HOST;
			else
				goto bad;
			break;
		case 'j': a->json = 1; break;
		case 'R': a->read_only = 1; break;
		case 'c': a->ceiling = 1; break;
#ifdef AISIO_GPU_ABLATE
		case 'A':
			if (gpu_ablate_parse(optarg, &a->ablate_d, &a->ablate_e))
				goto bad;
			a->ablate = optarg;
			break;
#endif
		case 'h': usage(stdout, argv[0]); return 1;
		default: usage(stderr, argv[0]); return -EINVAL;
		}
		continue;
	bad:
		fprintf(stderr, "aisio perf %s: bad value '%s'\n", argv[0], optarg);
		return -EINVAL;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "aisio perf %s: one device, e.g. gpuemu:null (see --help)\n", argv[0]);
		return -EINVAL;
	}
	a->dev = argv[optind];
	if (a->read_only && !a->verify) {
		fprintf(stderr, "aisio perf %s: --read-only is for cuda-verify\n", argv[0]);
		return -EINVAL;
	}
#ifdef AISIO_GPU_ABLATE
	if (a->ablate && (a->verify || (a->ablate_d && a->api != GPU_API_OWNED))) {
		fprintf(stderr, "aisio perf %s: --ablate is for cuda-run (driver pieces with --api owned)\n", argv[0]);
		return -EINVAL;
	}
#endif
	if (a->iosize_min && (!a->verify || a->api != GPU_API_THREAD || a->iosize_min > a->iosize)) {
		fprintf(stderr, "aisio perf %s: --iosize-min is for cuda-verify --api thread, at most --iosize\n",
			argv[0]);
		return -EINVAL;
	}
	if (!a->qdepth || !a->nqueues || !a->iosize || a->thread_qd < 1 || a->thread_qd > 8) {
		fprintf(stderr, "aisio perf %s: --qdepth, --nqueues, --iosize must be > 0, --thread-qd 1..8\n",
			argv[0]);
		return -EINVAL;
	}
	return 0;
}

/* ---- output ---- */

static double pct_us(const unsigned long long *h, double p)
{
	unsigned long long total = 0, acc = 0;
	for (int i = 0; i < GPU_LAT_BUCKETS; i++)
		total += h[i];
	if (!total)
		return 0;
	unsigned long long want = (unsigned long long)(p * (double)total);
	if (want >= total)
		want = total - 1;
	for (uint32_t i = 0; i < GPU_LAT_BUCKETS; i++) {
		acc += h[i];
		if (acc > want) {
			double lo = (double)gpu_lat_bucket_low(i), hi = (double)gpu_lat_bucket_low(i + 1);
			return (lo + hi) / 2 / 1000.0;
		}
	}
	return 0;
}

static void machine_date(char *machine, size_t ml, char *date, size_t dl)
{
	struct utsname u;
	char host[128] = "unknown";
	gethostname(host, sizeof(host) - 1);
	if (uname(&u) == 0)
		snprintf(machine, ml, "%s (%s %s %s)", host, u.sysname, u.release, u.machine);
	else
		snprintf(machine, ml, "%s", host);
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, dl, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *api_name(unsigned api)
{
	static const char *n[] = {"thread", "async", "warp", "owned"};
	return api < 4 ? n[api] : "?";
}

double gpu_h2d_ceiling_gbs(void)
{
	const size_t len = 64u << 20;
	char why[256];
	if (gpu_probe(why, sizeof(why)) < 0) /* and eager module loading, before CUDA starts */
		return 0;
	cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync); /* as fil's GPU backends ask */
	cudaGetLastError();
	void *h = NULL, *d = NULL;
	double best = 0;
	if (cudaHostAlloc(&h, len, cudaHostAllocDefault) != cudaSuccess)
		return 0;
	if (cudaMalloc(&d, len) != cudaSuccess) {
		cudaFreeHost(h);
		return 0;
	}
	memset(h, 0x5a, len);
	double t[10];
	int n = 0;
	for (int i = 0; i < 12; i++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (cudaMemcpy(d, h, len, cudaMemcpyHostToDevice) != cudaSuccess)
			break;
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (i >= 2)
			t[n++] = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	}
	/* median of the timed copies */
	for (int i = 0; i < n; i++)
		for (int k = i + 1; k < n; k++)
			if (t[k] < t[i]) {
				double x = t[i];
				t[i] = t[k];
				t[k] = x;
			}
	if (n)
		best = (double)len / t[n / 2] / 1e9;
	cudaFree(d);
	cudaFreeHost(h);
	return best;
}

/* A multiplier coprime to units near units times the golden ratio: (i * m) % units visits every unit
 * once, in an order that jumps about the range. */
static uint64_t unit_scatter(uint64_t units)
{
	if (units < 3)
		return 1;
	uint64_t m = (uint64_t)((double)units * 0.6180339887) | 1;
	for (;; m += 2) {
		uint64_t x = m, y = units;
		while (y) {
			uint64_t t = x % y;
			x = y;
			y = t;
		}
		if (x == 1)
			return m % units ? m % units : 1;
	}
}

struct run_out {
	struct gpu_perf_result r;
	double secs;
	unsigned long long sq_db, cq_db, cpls, stray, engine_cmds;
	int failed_queues;
};

/* Run one job to its end, bounded; the engine must be running. */
static int run_job(struct gpu_ctrl *c, struct gpu_perf_job *job, double bound_s, struct run_out *o)
{
	cudaStream_t s;
	struct gpu_perf_result *rd = NULL;
	int rc = -EIO;
	if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess)
		return -EIO;
	/* the result buffer comes from the controller's allocations: nothing is freed while the engine runs */
	memset(&o->r, 0, sizeof(o->r));
	o->r.t_first = ~0ull;
	rd = job->res;
	/* on the job's stream, not the legacy one: nothing here may wait for the running engine */
	if (cudaMemcpyAsync(rd, &o->r, sizeof(o->r), cudaMemcpyHostToDevice, s) != cudaSuccess)
		goto out;
	if ((rc = gpu_ctrl_fused_prepare(c, job->grid, job->block, &job->eng)))
		goto out;
	gpu_trace("launching the job: %u blocks of %u threads", job->grid, job->block);
	rc = gpu_perf_launch(job, s, 0);
	gpu_trace("job launch returned %d", rc);
	if (rc) {
		fprintf(stderr, "aisio perf: kernel launch failed: %s\n", cudaGetErrorString(cudaGetLastError()));
		goto out;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cudaError_t e;
	for (;;) {
		e = cudaStreamQuery(s);
		if (e != cudaErrorNotReady)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (el > bound_s) {
			fprintf(stderr, "aisio perf: %s: GPU threads still running after %.0f s: giving up\n",
				gpu_ctrl_name(c), bound_s);
			rc = -ETIMEDOUT;
			goto out; /* the stream is left; process exit ends it */
		}
		usleep(200);
	}
	gpu_trace("job done: %s", cudaGetErrorString(e));
	if (e != cudaSuccess) {
		fprintf(stderr, "aisio perf: %s: GPU fault: %s\n", gpu_ctrl_name(c), cudaGetErrorString(e));
		rc = -EIO;
		goto out;
	}
	if (cudaMemcpyAsync(&o->r, rd, sizeof(o->r), cudaMemcpyDeviceToHost, s) != cudaSuccess ||
	    cudaStreamSynchronize(s) != cudaSuccess) {
		rc = -EIO;
		goto out;
	}
	o->secs = o->r.t_last > o->r.t_first ? (double)(o->r.t_last - o->r.t_first) / 1e9 : 0;
	rc = 0;
out:
	cudaStreamDestroy(s);
	return rc;
}

int cmd_perf_cuda(int argc, char **argv)
{
	struct cuda_args a;
	int rc = parse(&a, argc, argv);
	if (rc)
		return rc > 0 ? 0 : 2;
	char why[256];
	if (gpu_probe(why, sizeof(why))) {
		fprintf(stderr, "aisio perf %s: %s\n", argv[0], why);
		return 3;
	}
	double ceiling = a.ceiling ? gpu_h2d_ceiling_gbs() : 0;
	struct gpu_ctrl *c = NULL;
	rc = gpu_ctrl_open(&c, a.dev);
	if (rc)
		return 2;
	const struct emu_opts *eo = gpu_ctrl_emu_opts(c);
	if (a.verify && eo->ns_type == EMU_NS_NULL) {
		fprintf(stderr, "aisio perf cuda-verify: %s keeps no data: use gpuemu:hbm or gpuemu:host\n", a.dev);
		gpu_ctrl_close(c);
		return 2;
	}
	const unsigned lba_shift = gpu_ctrl_lba_shift(c);
	const uint64_t nsze = gpu_ctrl_nsze(c);
	int status = 1;
	if (a.iosize_min % (1u << lba_shift)) {
		fprintf(stderr, "aisio perf %s: --iosize-min %" PRIu64 " is not a multiple of the LBA size %u\n",
			argv[0], a.iosize_min, 1u << lba_shift);
		gpu_ctrl_close(c);
		return 2;
	}
	if (a.iosize % (1u << lba_shift) || a.iosize > gpu_ctrl_mdts_bytes(c)) {
		fprintf(stderr,
			"aisio perf %s: %s: --iosize %" PRIu64 " must be a multiple of the LBA size %u and at most "
			"the transfer limit %u\n",
			argv[0], a.dev, a.iosize, 1u << lba_shift, gpu_ctrl_mdts_bytes(c));
		goto out;
	}
	/* launch shape: commands in flight = nqueues x qdepth */
	unsigned threads;
	if (a.api == GPU_API_OWNED) {
		if (a.qdepth != 32)
			fprintf(stderr, "aisio perf %s: --api owned runs 32 commands per queue (one warp)\n", argv[0]);
		a.qdepth = 32;
		threads = a.nqueues * 32;
	} else if (a.api == GPU_API_ASYNC) {
		threads = (a.nqueues * a.qdepth + a.thread_qd - 1) / a.thread_qd;
	} else if (a.api == GPU_API_WARP) {
		threads = a.nqueues * ((a.qdepth + 31) / 32 * 32);
	} else {
		threads = a.nqueues * a.qdepth;
	}
	if (a.grid && a.block) {
		threads = a.grid * a.block;
	} else {
		if (!a.block) {
			/* the largest block that divides the threads exactly (owned: a queue per warp) */
			a.block = 256;
			while (a.block > 32 && threads % a.block)
				a.block /= 2;
			if (threads % a.block)
				a.block = threads < 256 ? (threads + 31) / 32 * 32 : 256;
		}
		a.grid = (threads + a.block - 1) / a.block;
		threads = a.grid * a.block;
	}
	if (a.block % 32 || a.block > 1024) {
		fprintf(stderr, "aisio perf %s: --block must be a multiple of 32, at most 1024\n", argv[0]);
		goto out;
	}
	if (a.api == GPU_API_OWNED && threads / 32 > a.nqueues) {
		fprintf(stderr, "aisio perf %s: --api owned needs a queue per warp: %u warps, %u queues\n", argv[0],
			threads / 32, a.nqueues);
		goto out;
	}
	unsigned depth = a.depth;
	if (!depth) {
		/* commands in flight on one queue, twice that in ring entries */
		unsigned per_q = (threads * (a.api == GPU_API_ASYNC ? a.thread_qd : 1) + a.nqueues - 1) / a.nqueues;
		depth = 64;
		while (depth < 2 * per_q && depth < 4096)
			depth <<= 1;
	}
	struct gpu_qpair_opts qo = {.nqueues = a.nqueues,
				    .depth = depth,
				    .place = (int)a.place,
				    .owned = a.api == GPU_API_OWNED,
				    .max_xfer = (uint32_t)a.iosize};
	if (gpu_ctrl_qpairs_create(c, &qo))
		goto out;
	/* range */
	if (a.offset % (1u << lba_shift) || a.offset >> lba_shift >= nsze) {
		fprintf(stderr,
			"aisio perf %s: --offset %" PRIu64 ": a multiple of the LBA size inside the namespace\n",
			argv[0], a.offset);
		goto out;
	}
	const uint64_t slba0 = a.offset >> lba_shift;
	uint64_t range = nsze - slba0;
	if (a.size)
		range = a.size >> lba_shift;
	else if (a.verify && range > ((64ull << 20) >> lba_shift))
		range = (64ull << 20) >> lba_shift;
	if (range > nsze - slba0)
		range = nsze - slba0;
	const uint32_t nlb = (uint32_t)(a.iosize >> lba_shift);
	const uint64_t units = range / nlb;
	if (!units) {
		fprintf(stderr, "aisio perf %s: range holds no I/O of %" PRIu64 " bytes\n", argv[0], a.iosize);
		goto out;
	}
	/* buffers: one per command in flight; runs share them when that would exceed 4 GiB */
	uint64_t slots = a.api == GPU_API_ASYNC ? (uint64_t)threads * a.thread_qd : threads;
	if (!a.verify && eo->ns_type != EMU_NS_NULL && slots * a.iosize > (4ull << 30))
		slots = (4ull << 30) / a.iosize;
	if (eo->ns_type == EMU_NS_NULL && !a.verify && slots * a.iosize > (256ull << 20))
		slots = (256ull << 20) / a.iosize; /* a null namespace moves no data */
	if (slots == 0)
		slots = 1;
	uint8_t *buf = gpu_ctrl_buf_alloc(c, slots * a.iosize);
	struct gpu_perf_result *res = gpu_ctrl_buf_alloc(c, sizeof(struct gpu_perf_result));
	if (!buf || !res)
		goto out;
	/* clients must fit beside the engine's SMs, all resident at once */
	int dev = 0, sms = 0, per_sm = 0;
	cudaGetDevice(&dev);
	cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
	if (gpu_perf_occupancy(a.block, 0, &per_sm) == 0) {
		long room = (long)per_sm * (sms - (eo->engine == EMU_ENGINE_GPU ? (int)eo->sms : 0));
		if (eo->engine == EMU_ENGINE_FUSED)
			room -= eo->sms; /* the engine blocks ride in the same launch */
		if ((long)a.grid > room) {
			fprintf(stderr,
				"aisio perf %s: %u blocks of %u threads do not fit at once beside the engine (%ld); "
				"use fewer queues or a smaller qdepth\n",
				argv[0], a.grid, a.block, room);
			goto out;
		}
	}
#ifdef AISIO_GPU_ABLATE
	if (a.ablate_e)
		gpu_ctrl_set_ablate(c, a.ablate_e);
#endif
	if (a.read_only && (rc = gpu_ctrl_ns_stamp(c, a.seed))) {
		fprintf(stderr, "aisio perf cuda-verify: %s: the host could not stamp the namespace: %s\n", a.dev,
			strerror(-rc));
		goto out;
	}
	if (gpu_ctrl_engine_start(c))
		goto out;

	struct gpu_perf_job job = {.ns = gpu_ctrl_ns(c),
				   .buf = buf,
				   .slots = slots,
				   .nlb = nlb,
				   .nlb_min = (uint32_t)(a.iosize_min >> lba_shift),
				   .unit_mul = a.iosize_min ? unit_scatter(units) : 0,
				   .lba_shift = lba_shift,
				   .units = units,
				   .slba0 = slba0,
				   .opc = (uint32_t)a.opc,
				   .random = (uint32_t)a.random,
				   .api = a.api,
				   .qdepth = a.thread_qd,
				   .seed = a.seed,
				   .grid = a.grid,
				   .block = a.block,
				   .res = res};
#ifdef AISIO_GPU_ABLATE
	job.ablate = a.ablate_d;
#endif
	const double bound = a.runtime + (double)gpu_timeout_ns(60000000000ull) / 1e9;
	struct run_out o, w;
	memset(&w, 0, sizeof(w));
	if (a.verify) {
		job.random = 0;
		if (!a.read_only) {
			job.opc = NVME_CMD_WRITE;
			job.check = GPU_CHECK_WRITE_STAMPS;
			rc = run_job(c, &job, bound, &w);
		}
		if (!rc) {
			job.opc = NVME_CMD_READ;
			job.check = GPU_CHECK_READ_STAMPS;
			rc = run_job(c, &job, bound, &o);
		}
	} else {
		job.runtime_ns = (uint64_t)(a.runtime * 1e9);
		rc = run_job(c, &job, bound, &o);
	}
	unsigned long long ecmds = 0;
	int erc = gpu_ctrl_engine_stop(c, &ecmds);
	if (rc || erc)
		goto out;
	gpu_ctrl_queue_stats(c, &o.sq_db, &o.cq_db, &o.cpls, &o.stray, &o.failed_queues);
	/* what the GPU wrote, checked on the host CPU with the host's build of the same stamp */
	long long host_bad = 0;
	uint64_t host_first = 0;
	if (a.verify && !a.read_only) {
		host_bad = gpu_ctrl_ns_check(c, a.seed, slba0, units * nlb, &host_first);
		if (host_bad == -EOPNOTSUPP) {
			/* a homid device: the namespace is the daemon's; the GPU's read-back checked it */
			host_bad = 0;
			fprintf(stderr,
				"aisio perf cuda-verify: %s: the namespace lives in the daemon: checked by the "
				"GPU's read-back only\n",
				a.dev);
		} else if (host_bad < 0) {
			fprintf(stderr, "aisio perf cuda-verify: %s: the host could not read the namespace back: %s\n",
				a.dev, strerror((int)-host_bad));
			goto out;
		}
	}

	char machine[256], date[64];
	machine_date(machine, sizeof(machine), date, sizeof(date));
	const double iops = o.secs > 0 ? (double)o.r.ios / o.secs : 0;
	const double mib_s = iops * (double)a.iosize / (1 << 20);
	const unsigned long long failed = o.r.failed + w.r.failed;
	const double p50 = pct_us(o.r.lat, 0.50), p99 = pct_us(o.r.lat, 0.99), p999 = pct_us(o.r.lat, 0.999);
	const double per_db = o.sq_db ? (double)o.cpls / (double)o.sq_db : 0;
	if (a.json) {
		printf("{\"command\":\"%s\",\"version\":\"%s\",\"machine\":", a.verify ? "cuda-verify" : "cuda-run",
		       AISIO_VERSION);
		json_string(stdout, machine);
		printf(",\"date\":\"%s\",\"gpu\":", date);
		json_string(stdout, gpu_name());
		printf(",\"params\":{\"device\":");
		json_string(stdout, a.dev);
		printf(",\"iopattern\":\"%s%s\",\"iosize\":%" PRIu64 ",\"qdepth\":%u,\"nqueues\":%u,\"api\":\"%s\","
		       "\"queues\":\"%s\",\"grid\":%u,\"block\":%u,\"depth\":%u,\"runtime\":%g,\"engine\":\"%s\","
		       "\"engine_sms\":%u,\"engine_warps\":%u,\"thread_qd\":%u,\"ablate\":\"%s\"},",
		       a.random ? "rand" : "", a.opc == NVME_CMD_READ ? "read" : "write", a.iosize, a.qdepth, a.nqueues,
		       api_name(a.api), a.place ? "host" : "gpu", a.grid, a.block, depth, a.verify ? 0 : a.runtime,
		       eo->engine == EMU_ENGINE_CPU     ? "cpu"
		       : eo->engine == EMU_ENGINE_FUSED ? "fused"
							: "gpu",
		       eo->sms, eo->warps, a.thread_qd, a.ablate ? a.ablate : "");
		printf("\"total\":{\"iops\":%.0f,\"mib_s\":%.1f,\"gb_s\":%.3f,\"failed\":%llu,\"lat_us\":{\"p50\":%.3f,"
		       "\"p99\":%.3f,\"p999\":%.3f}},",
		       iops, mib_s, iops * (double)a.iosize / 1e9, failed, p50, p99, p999);
		printf("\"devices\":[{\"name\":");
		json_string(stdout, a.dev);
		printf(",\"iops\":%.0f,\"mib_s\":%.1f,\"failed\":%llu}],", iops, mib_s, failed);
		printf("\"queues_stats\":{\"sq_doorbells\":%llu,\"cq_doorbells\":%llu,\"completions\":%llu,"
		       "\"cmds_per_sq_doorbell\":%.2f,\"stray\":%llu,\"failed_queues\":%d,\"engine_cmds\":%llu},",
		       o.sq_db, o.cq_db, o.cpls, per_db, o.stray, o.failed_queues, ecmds);
		if (a.ceiling)
			printf("\"ceiling_gb_s\":%.3f,", ceiling);
		if (a.verify)
			printf("\"verified\":%llu,\"mismatches\":%llu,\"failed\":%llu,\"host_mismatches\":%lld,"
			       "\"read_only\":%s,",
			       o.r.ios * nlb - o.r.mismatches, o.r.mismatches, failed * nlb, host_bad,
			       a.read_only ? "true" : "false");
		printf("\"seconds\":%.3f}\n", o.secs);
	} else {
		printf("%-40s %14s %12s %8s\n", "Device", "IOPS", "MiB/s", "Failed");
		printf("%-40s %14.0f %12.1f %8llu\n", a.dev, iops, mib_s, failed);
		printf("%-40s %14.0f %12.1f %8llu\n", "Total", iops, mib_s, failed);
		printf("latency us: p50 %.2f  p99 %.2f  p99.9 %.2f   (%s API, %u queues, grid %u x %u, %.2f commands per "
		       "SQ doorbell)\n",
		       p50, p99, p999, api_name(a.api), a.nqueues, a.grid, a.block, per_db);
		if (a.ceiling)
			printf("ceiling: cudaMemcpy 64 MiB pinned host -> GPU %.2f GB/s; this run %.2f GB/s (%.0f%%)\n",
			       ceiling, iops * (double)a.iosize / 1e9,
			       ceiling > 0 ? 100 * iops * (double)a.iosize / 1e9 / ceiling : 0);
		printf("gpu: %s\n", gpu_name());
	}
	if (failed && o.r.first_rc)
		fprintf(stderr, "aisio perf %s: %s: %llu commands failed; first: %s (NVMe status 0x%03x) at LBA %llu\n",
			argv[0], a.dev, failed, strerror(-o.r.first_rc), o.r.first_status, o.r.first_lba);
	if (a.verify) {
		/* the line perf verify prints, in LBAs */
		/* with random sizes (--iosize-min) the commands count pieces: the LBAs are counted instead */
		const uint64_t moved = a.iosize_min ? o.r.pieces_lbas : o.r.ios * nlb;
		const uint64_t good = moved - o.r.mismatches;
		if (!a.json)
			verify_line_print(stdout, NULL, good, good << lba_shift, o.r.mismatches, failed * nlb, 0);
		if (host_bad)
			fprintf(stderr,
				"aisio perf cuda-verify: %s: %lld LBAs the GPU wrote do not hold their stamp on the host "
				"(first LBA %" PRIu64 ")\n",
				a.dev, host_bad, host_first);
		status = o.r.mismatches || failed || host_bad || moved != units * nlb ? 1 : 0;
		if (moved != units * nlb)
			fprintf(stderr, "aisio perf cuda-verify: %" PRIu64 " of %" PRIu64 " LBAs read\n", moved,
				units * nlb);
	} else {
		status = failed ? 1 : 0;
	}
out:
	gpu_ctrl_close(c);
	return status;
}

#endif /* AISIO_HAVE_GPU */
