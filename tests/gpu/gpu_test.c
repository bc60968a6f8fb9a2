/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * GPU layer tests. usage: gpu_test CASE [args]
 *   matrix DEVSTR [gpu|host]   write stamps, read back and check, every API, both ring placements
 *   wrap                       one shallow queue, many warps, counters across 2^32
 *   split                      transfer limit, PRP lists, unaligned buffers, refused requests
 *   chain                      4 MiB commands: PRP lists of three pages, chained, every API, both engines
 *   cross                      stamps written by the host CPU check on the GPU path and the other way round
 *   faults                     injected error status and dropped completions: errors, no hangs
 *   trap                       a GPU-side fault in a client kernel: teardown without a hang
 *   dmabuf                     cudaMalloc memory exported as a dma-buf (aisio perf --mem cuda): its size, the
 *                              dma layer's view of it, and the import's answer where aisio-dmabuf is absent
 * Without a usable GPU every case exits 77 (skipped) with the reason. probe: 0 with a GPU.
 */
#include <cuda_runtime_api.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <aisio/dma.h>
#include <aisio/gpu.h>
#include <aisio/gpuemu.h>
#include <aisio/stamp.h>

#include "../../tools/gpu_perf.h"
#include "gpu_test.h"

static int failures;
static char current[256] = "setup";

/* Whole-case bound: say where we were and fail rather than hang. */
static void on_alarm(int sig)
{
	char msg[320];
	int n = snprintf(msg, sizeof(msg), "FAIL: case still running after its bound: %s\n", current);
	(void)sig;
	if (write(2, msg, (size_t)n) < 0)
		_exit(1);
	_exit(1);
}

static void need_gpu(void)
{
	char why[256];
	if (gpu_probe(why, sizeof(why))) {
		printf("SKIP: %s\n", why);
		exit(77);
	}
	printf("gpu: %s\n", gpu_name());
}

/* ------------------------------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------------------------------ */

struct env {
	struct gpu_ctrl *c;
	uint8_t *buf;
	uint64_t slots, iosize;
	struct gpu_perf_result *res;
	struct gpu_test_cmd *cmd;
};

static int env_open(struct env *e, const char *dev, int place, int api, unsigned nq, unsigned depth, uint32_t base,
		    uint64_t slots, uint64_t iosize, uint32_t max_xfer)
{
	memset(e, 0, sizeof(*e));
	if (gpu_ctrl_open(&e->c, dev))
		return -1;
	struct gpu_qpair_opts qo = {.nqueues = nq,
				    .depth = depth,
				    .place = place,
				    .owned = api == GPU_API_OWNED,
				    .counter_base = base,
				    .max_xfer = max_xfer};
	if (gpu_ctrl_qpairs_create(e->c, &qo))
		return -1;
	e->slots = slots;
	e->iosize = iosize;
	e->buf = gpu_ctrl_buf_alloc(e->c, slots * iosize + 8192);
	e->res = gpu_ctrl_buf_alloc(e->c, sizeof(struct gpu_perf_result));
	e->cmd = gpu_ctrl_buf_alloc(e->c, sizeof(struct gpu_test_cmd));
	if (!e->buf || !e->res || !e->cmd)
		return -1;
	return gpu_ctrl_engine_start(e->c);
}

/* env_open, then the host CPU stamps the namespace with seed (the engine stopped meanwhile, as gpu_ctrl_ns_stamp
 * wants). */
static int env_open_stamped(struct env *e, const char *dev, int place, int api, unsigned nq, uint64_t slots,
			    uint64_t iosize, uint32_t max_xfer, uint64_t seed)
{
	if (env_open(e, dev, place, api, nq, 64, 0, slots, iosize, max_xfer))
		return -1;
	if (gpu_ctrl_engine_stop(e->c, NULL) || gpu_ctrl_ns_stamp(e->c, seed) || gpu_ctrl_engine_start(e->c))
		return -1;
	return 0;
}

static void env_close(struct env *e)
{
	unsigned long long cmds = 0;
	if (e->c)
		CHECK(gpu_ctrl_engine_stop(e->c, &cmds) == 0, "engine stop");
	gpu_ctrl_close(e->c);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Run a perf job on a non-blocking stream, bounded. */
static int run(struct env *e, struct gpu_perf_job *j, struct gpu_perf_result *r)
{
	cudaStream_t s;
	memset(r, 0, sizeof(*r));
	r->t_first = ~0ull;
	j->res = e->res;
	/* the result copies go on the job's stream: nothing here may wait for the running engine */
	if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess ||
	    cudaMemcpyAsync(e->res, r, sizeof(*r), cudaMemcpyHostToDevice, s) != cudaSuccess ||
	    gpu_ctrl_fused_prepare(e->c, j->grid, j->block, &j->eng) || gpu_perf_launch(j, s, 0))
		return -EIO;
	double end = now_s() + (double)gpu_timeout_ns(30000000000ull) / 1e9 + (double)j->runtime_ns / 1e9;
	double t0 = now_s();
	cudaError_t err;
	while ((err = cudaStreamQuery(s)) == cudaErrorNotReady) {
		if (now_s() > end) {
			fprintf(stderr, "FAIL: job still running: hang\n");
			exit(1);
		}
		usleep(200);
	}
	if (err != cudaSuccess) {
		cudaStreamDestroy(s);
		fprintf(stderr, "job: %s\n", cudaGetErrorString(err));
		return -EIO;
	}
	int rc = cudaMemcpyAsync(r, e->res, sizeof(*r), cudaMemcpyDeviceToHost, s) == cudaSuccess &&
				 cudaStreamSynchronize(s) == cudaSuccess
			 ? 0
			 : -EIO;
	cudaStreamDestroy(s);
	printf("   %s %s: %llu done, %llu failed (first rc %d status 0x%x), %llu mismatches, %.3f s\n", current,
	       j->opc == 1 ? "write" : "read", r->ios, r->failed, r->first_rc, r->first_status, r->mismatches,
	       now_s() - t0);
	return rc;
}

static const char *api_names[] = {"thread", "async", "warp", "owned"};

/* Write LBA stamps over a range with one API, read them back and check them. */
static void verify_case(const char *dev, int place, int api, unsigned nq, unsigned warps_per_q, unsigned depth,
			uint32_t base, uint64_t iosize, uint64_t bytes)
{
	struct env e;
	unsigned threads = nq * warps_per_q * 32;
	unsigned qd = api == GPU_API_ASYNC ? 4 : 1;
	double t0 = now_s();
	snprintf(current, sizeof(current), "%s rings %s api %s, %u queues x %u warps, depth %u, base 0x%x", dev,
		 place ? "host" : "gpu", api_names[api], nq, warps_per_q, depth, base);
	/* commands over the default transfer limit (1 MiB) raise the queues' limit to their size */
	if (env_open(&e, dev, place, api, nq, depth, base, (uint64_t)threads * qd, iosize,
		     iosize > (1u << 20) ? (uint32_t)iosize : 0)) {
		CHECK(0, "%s: setup", dev);
		gpu_ctrl_close(e.c);
		return;
	}
	unsigned shift = gpu_ctrl_lba_shift(e.c);
	uint64_t units = bytes / iosize;
	struct gpu_perf_job j = {.ns = gpu_ctrl_ns(e.c),
				 .buf = e.buf,
				 .slots = e.slots,
				 .nlb = (uint32_t)(iosize >> shift),
				 .lba_shift = shift,
				 .units = units,
				 .opc = 1 /* write */,
				 .api = (uint32_t)api,
				 .qdepth = qd,
				 .check = GPU_CHECK_WRITE_STAMPS,
				 .seed = 7,
				 .grid = (threads + 127) / 128,
				 .block = threads < 128 ? threads : 128};
	struct gpu_perf_result r;
	int rc = run(&e, &j, &r);
	CHECK(rc == 0 && r.failed == 0 && r.ios == units,
	      "%s %s write: rc %d, %llu of %" PRIu64 " done, %llu failed "
	      "(first rc %d status 0x%x)",
	      dev, api_names[api], rc, r.ios, units, r.failed, r.first_rc, r.first_status);
	j.opc = 2;                                        /* read */
	const int null_ns = strstr(dev, ":null") != NULL; /* keeps no data: reads only, nothing to check */
	j.check = null_ns ? GPU_CHECK_NONE : GPU_CHECK_READ_STAMPS;
	rc = run(&e, &j, &r);
	CHECK(rc == 0 && r.failed == 0 && r.ios == units && r.mismatches == 0,
	      "%s %s read: rc %d, %llu of %" PRIu64 " done, %llu failed, %llu mismatching LBAs", dev, api_names[api],
	      rc, r.ios, units, r.failed, r.mismatches);
	unsigned long long sq_db, cq_db, cpls, stray;
	int fq;
	gpu_ctrl_queue_stats(e.c, &sq_db, &cq_db, &cpls, &stray, &fq);
	CHECK(stray == 0 && fq == 0, "stray CQEs %llu, failed queues %d", stray, fq);
	printf("ok %-34s %-4s rings %-6s %u queues x %u warps, depth %u: %" PRIu64 " x %" PRIu64
	       " B written and %s, %.2f cmds/SQ doorbell (%.1f s)\n",
	       dev, place ? "host" : "gpu", api_names[api], nq, warps_per_q, depth, units, iosize,
	       null_ns ? "read" : "checked", sq_db ? (double)cpls / (double)sq_db : 0, now_s() - t0);
	env_close(&e);
}

static void test_matrix(const char *dev, const char *places)
{
	int cpu = strstr(dev, "engine=cpu") != NULL;
	for (int place = 0; place < 2; place++) {
		if (!strstr(places, place ? "host" : "gpu"))
			continue;
		for (int api = 0; api < 4; api++) {
			/* several warps on each queue (owned: one), enough commands to go round the rings */
			unsigned wpq = api == GPU_API_OWNED ? 1 : 4;
			verify_case(dev, place, api, cpu ? 2 : 4, wpq, 64, 0, 4096, cpu ? (8u << 20) : (32u << 20));
		}
	}
	/* multi-page commands with PRP lists, both LBA sizes */
	verify_case(dev, 0, GPU_API_THREAD, 2, 1, 64, 0, 64 << 10, 16u << 20);
}

static void test_wrap(void)
{
	/* 8 warps on one queue of 64 entries (64 command ids): ids and slots are scarce, every
	 * counter starts 4096 short of 2^32 and wraps during the run */
	verify_case("gpuemu:hbm:64M", 0, GPU_API_THREAD, 1, 8, 64, 0xfffff000u, 4096, 64u << 20);
	verify_case("gpuemu:hbm:64M", 0, GPU_API_WARP, 1, 8, 64, 0xfffff000u, 4096, 64u << 20);
	verify_case("gpuemu:hbm:64M", 0, GPU_API_OWNED, 1, 1, 64, 0xfffff000u, 4096, 16u << 20);
	verify_case("gpuemu:hbm:64M", 0, GPU_API_ASYNC, 1, 8, 64, 0xfffff000u, 4096, 64u << 20);
}

/* ---- single commands ---- */

static int one(struct env *e, int mode, uint32_t opc, uint64_t off, uint64_t slba, uint32_t nlb, uint32_t *status)
{
	struct gpu_test_cmd c = {.mode = mode, .opc = opc, .nlb = nlb, .slba = slba, .buf = e->buf + off, .rc = 99};
	if (cudaMemcpy(e->cmd, &c, sizeof(c), cudaMemcpyHostToDevice) != cudaSuccess)
		return -1000;
	if (gpu_test_one(gpu_ctrl_ns(e->c), e->cmd, mode >= GPU_TEST_WARP ? 32 : 1))
		return -1001;
	double end = now_s() + (double)gpu_timeout_ns(30000000000ull) / 1e9;
	cudaError_t err;
	while ((err = cudaStreamQuery(0)) == cudaErrorNotReady) {
		if (now_s() > end) {
			fprintf(stderr, "FAIL: single command still running: hang\n");
			exit(1);
		}
		usleep(100);
	}
	if (err != cudaSuccess || cudaMemcpy(&c, e->cmd, sizeof(c), cudaMemcpyDeviceToHost) != cudaSuccess)
		return -1002;
	if (status)
		*status = c.status;
	return c.rc;
}

static void test_split(void)
{
	struct env e;
	/* transfer limit 16 KiB (qpair option), namespace stamped with seed 3 */
	if (env_open_stamped(&e, "gpuemu:hbm:16M", 0, GPU_API_THREAD, 2, 16, 64 << 10, 16 << 10, 3)) {
		CHECK(0, "setup");
		gpu_ctrl_close(e.c);
		return;
	}
	uint8_t *host = malloc(1 << 20);
	uint32_t st = 0;
	/* 64 KiB at an unaligned buffer offset (512): split into 16 KiB commands of 5 pages (PRP lists) */
	CHECK(cudaMemset(e.buf, 0, 1 << 20) == cudaSuccess, "memset");
	int rc = one(&e, GPU_TEST_SYNC, 2, 512, 1000, 128, &st);
	CHECK(rc == 0, "split read rc %d status 0x%x", rc, st);
	cudaMemcpy(host, e.buf + 512, 65536, cudaMemcpyDeviceToHost);
	int bad = 0;
	for (uint32_t i = 0; i < 65536 / 8; i++)
		bad += ((uint64_t *)host)[i] != stamp_word(3, 1000 + i / 64, i % 64);
	CHECK(bad == 0, "split read: %d words wrong", bad);
	/* a dword-aligned (not 16-byte aligned) buffer: the engine's slow path */
	rc = one(&e, GPU_TEST_SYNC, 2, 4100, 7, 3, &st);
	cudaMemcpy(host, e.buf + 4100, 1536, cudaMemcpyDeviceToHost);
	bad = 0;
	for (uint32_t i = 0; i < 1536 / 4; i++) {
		uint64_t w = stamp_word(3, 7 + i / 128, (i % 128) / 2);
		bad += ((uint32_t *)host)[i] != (uint32_t)(i % 2 ? w >> 32 : w);
	}
	CHECK(rc == 0 && bad == 0, "dword-aligned read rc %d, %d words wrong", rc, bad);
	/* refused: async over the limit, warp over the limit, range past the end, odd address */
	CHECK(one(&e, GPU_TEST_ASYNC, 2, 0, 0, 64, &st) == -E2BIG, "async over the limit");
	CHECK(one(&e, GPU_TEST_WARP, 2, 0, 0, 64, &st) == -E2BIG, "warp over the limit");
	CHECK(one(&e, GPU_TEST_SYNC, 2, 0, (16u << 20) / 512 - 1, 2, &st) == -EINVAL, "past the end");
	CHECK(one(&e, GPU_TEST_SYNC, 2, 1, 0, 1, &st) == -EINVAL, "odd address");
	/* async: poll returns -EAGAIN until done, then the data is there */
	rc = one(&e, GPU_TEST_ASYNC, 2, 0, 2048, 32, &st);
	CHECK(rc == 0, "async rc %d", rc);
	/* write zeroes is not in the API; a write then a read of another block */
	rc = one(&e, GPU_TEST_WARP, 1, 0, 5000, 8, &st);
	CHECK(rc == 0, "warp write rc %d", rc);
	printf("ok split: 64 KiB in 16 KiB commands via PRP lists, unaligned buffers, refused requests\n");
	free(host);
	env_close(&e);
}

/*
 * Chained PRP lists on the GPU path: a 4 MiB command (gpuemu mdts=10) takes 1023 or 1024 list entries, three
 * pages of its command id's list area, the first two ending in a chain slot. Every API on the GPU engine, the
 * CPU engine, and single commands from 512 bytes into a page (every list page full).
 */
static void test_chain(void)
{
	for (int api = 0; api < 4; api++)
		verify_case("gpuemu:hbm:64M,mdts=10", 0, api, 1, 1, 64, 0, 4u << 20, 32u << 20);
	verify_case("gpuemu:host:16M,mdts=10,engine=cpu", 1, GPU_API_THREAD, 1, 1, 64, 0, 4u << 20, 16u << 20);
	struct env e;
	snprintf(current, sizeof(current), "chain: single 4 MiB commands at a page offset");
	if (env_open_stamped(&e, "gpuemu:hbm:32M,mdts=10", 0, GPU_API_THREAD, 1, 2, 4u << 20, 4u << 20, 5)) {
		CHECK(0, "setup");
		gpu_ctrl_close(e.c);
		return;
	}
	const uint32_t nlb = (4u << 20) / 512;
	uint8_t *host = malloc(4u << 20);
	uint32_t st = 0;
	for (int mode = GPU_TEST_SYNC; mode <= GPU_TEST_WARP; mode++) {
		CHECK(cudaMemset(e.buf, 0, 8u << 20) == cudaSuccess, "memset");
		int rc = one(&e, mode, 2, 512, 4096 + (uint64_t)mode * nlb, nlb, &st);
		cudaMemcpy(host, e.buf + 512, 4u << 20, cudaMemcpyDeviceToHost);
		uint64_t first = 0, bad = stamp_check(host, 5, 4096 + (uint64_t)mode * nlb, nlb, 9, &first);
		CHECK(rc == 0 && bad == 0,
		      "mode %d: 4 MiB read at offset 512: rc %d status 0x%x, %" PRIu64 " LBAs wrong (first %" PRIu64
		      ")",
		      mode, rc, st, bad, first);
	}
	/* written back from there to other LBAs (the same PRP shape), then checked by the host CPU */
	stamp_fill(host, 6, 40000, nlb, 9);
	cudaMemcpy(e.buf + 512, host, 4u << 20, cudaMemcpyHostToDevice);
	int rc = one(&e, GPU_TEST_WARP, 1, 512, 40000, nlb, &st);
	gpu_ctrl_engine_stop(e.c, NULL);
	long long bad = gpu_ctrl_ns_check(e.c, 6, 40000, nlb, NULL);
	CHECK(rc == 0 && bad == 0, "4 MiB write at offset 512: rc %d, %lld LBAs wrong", rc, bad);
	printf("ok chain: 4 MiB commands through chained PRP lists, reads and a write at a page offset\n");
	free(host);
	env_close(&e);
}

/*
 * One stamp for every path: the host CPU stamps the namespace (gpu_ctrl_ns_stamp, the stamp compiled for the
 * host), GPU threads read it and check it with the stamp compiled for the device; then GPU threads write the
 * stamps of another seed and the host CPU checks them (gpu_ctrl_ns_check), which must also find every LBA
 * wrong under the old seed.
 */
static void cross_case(const char *dev, int place, int api)
{
	struct env e;
	const unsigned threads = api == GPU_API_OWNED ? 64 : 128;
	snprintf(current, sizeof(current), "cross: %s rings %s api %s", dev, place ? "host" : "gpu", api_names[api]);
	if (env_open_stamped(&e, dev, place, api, 2, threads, 4096, 0, 11)) {
		CHECK(0, "%s: setup and host stamps", dev);
		gpu_ctrl_close(e.c);
		return;
	}
	const unsigned shift = gpu_ctrl_lba_shift(e.c);
	const uint64_t units = (8u << 20) / 4096, nlb = 4096 >> shift;
	struct gpu_perf_job j = {.ns = gpu_ctrl_ns(e.c),
				 .buf = e.buf,
				 .slots = e.slots,
				 .nlb = (uint32_t)nlb,
				 .lba_shift = shift,
				 .units = units,
				 .opc = 2 /* read */,
				 .api = (uint32_t)api,
				 .qdepth = 1,
				 .check = GPU_CHECK_READ_STAMPS,
				 .seed = 11,
				 .grid = threads / 64,
				 .block = 64};
	struct gpu_perf_result r;
	int rc = run(&e, &j, &r);
	CHECK(rc == 0 && r.failed == 0 && r.ios == units && r.mismatches == 0,
	      "%s: GPU read of host stamps: rc %d, %llu of %" PRIu64 " done, %llu mismatching LBAs", dev, rc, r.ios,
	      units, r.mismatches);
	j.opc = 1; /* write */
	j.check = GPU_CHECK_WRITE_STAMPS;
	j.seed = 12;
	rc = run(&e, &j, &r);
	CHECK(rc == 0 && r.failed == 0 && r.ios == units, "%s: GPU write: rc %d, %llu done", dev, rc, r.ios);
	CHECK(gpu_ctrl_engine_stop(e.c, NULL) == 0, "engine stop");
	uint64_t first = ~0ull;
	long long bad = gpu_ctrl_ns_check(e.c, 12, 0, units * nlb, &first);
	long long stale = gpu_ctrl_ns_check(e.c, 11, 0, units * nlb, NULL);
	CHECK(bad == 0 && stale == (long long)(units * nlb),
	      "%s: host check of GPU stamps: %lld LBAs wrong (first %" PRIu64 "), %lld under the old seed", dev, bad,
	      first, stale);
	printf("ok cross %-34s %-4s rings %-6s host-stamped LBAs checked on the GPU, GPU-stamped on the host\n", dev,
	       place ? "host" : "gpu", api_names[api]);
	env_close(&e);
}

static void test_cross(void)
{
	cross_case("gpuemu:hbm:16M", 0, GPU_API_THREAD);
	cross_case("gpuemu:hbm:16M,lba=4096", 0, GPU_API_OWNED);
	cross_case("gpuemu:host:16M", 1, GPU_API_WARP);
	cross_case("gpuemu:host:16M,engine=cpu", 1, GPU_API_THREAD);
}

static void test_faults(void)
{
	/* short timeouts for the dropped completions (still scaled by AISIO_TIMEOUT_SCALE) */
	const char *s = getenv("AISIO_TIMEOUT_SCALE");
	char buf[32];
	snprintf(buf, sizeof(buf), "%g", (s ? atof(s) : 1.0) * 0.1);
	setenv("AISIO_TIMEOUT_SCALE", buf, 1);
	for (int pass = 0; pass < 2; pass++) {
		const char *dev = pass ? "gpuemu:host:16M,engine=cpu" : "gpuemu:hbm:16M";
		struct env e;
		if (env_open(&e, dev, pass, GPU_API_THREAD, 2, 64, 0, 16, 4096, 0)) {
			CHECK(0, "setup %s", dev);
			gpu_ctrl_close(e.c);
			continue;
		}
		uint32_t st = 0;
		CHECK(gpu_ctrl_fault_error(e.c, 100, 199, NVME_SC_READ_ERROR) == 0, "fault");
		for (int mode = GPU_TEST_SYNC; mode <= GPU_TEST_WARP; mode++) {
			st = 0;
			int rc = one(&e, mode, 2, 0, 150, 8, &st);
			CHECK(rc == -EIO && st == NVME_SC_READ_ERROR, "%s mode %d: rc %d status 0x%x", dev, mode, rc,
			      st);
			rc = one(&e, mode, 2, 0, 300, 8, &st);
			CHECK(rc == 0, "%s mode %d outside the range: rc %d", dev, mode, rc);
		}
		CHECK(gpu_ctrl_fault_clear(e.c) == 0 && gpu_ctrl_fault_drop(e.c, 500, 500) == 0, "drop");
		for (int mode = GPU_TEST_SYNC; mode <= GPU_TEST_WARP; mode++) {
			double t0 = now_s();
			int rc = one(&e, mode, 2, 0, 500, 1, &st);
			CHECK(rc == -ETIMEDOUT, "%s mode %d dropped: rc %d", dev, mode, rc);
			rc = one(&e, mode, 2, 0, 600, 1, &st);
			CHECK(rc == 0, "%s mode %d after a drop, same queue: rc %d", dev, mode, rc);
			printf("ok %s mode %d: dropped completion -> -ETIMEDOUT in %.2f s, queue still usable\n", dev,
			       mode, now_s() - t0);
		}
		gpu_ctrl_fault_clear(e.c);
		printf("ok %s: error status 0x%x reaches the caller (sync, async, warp)\n", dev, NVME_SC_READ_ERROR);
		env_close(&e);
	}
	/* owned queues: a lost completion fails the queue (its id could come back) */
	struct env e;
	if (env_open(&e, "gpuemu:hbm:16M", 0, GPU_API_OWNED, 1, 64, 0, 32, 4096, 0) == 0) {
		uint32_t st = 0;
		CHECK(one(&e, GPU_TEST_OWNED, 2, 0, 10, 1, &st) == 0, "owned read");
		gpu_ctrl_fault_error(e.c, 15, 15, NVME_SC_READ_ERROR);
		int erc = one(&e, GPU_TEST_OWNED, 2, 0, 15, 1, &st);
		CHECK(erc == -EIO && st == NVME_SC_READ_ERROR, "owned error status: rc %d status 0x%x", erc, st);
		gpu_ctrl_fault_clear(e.c);
		CHECK(one(&e, GPU_TEST_OWNED, 2, 0, 16, 1, &st) == 0 && st == 0, "owned read after an error");
		gpu_ctrl_fault_drop(e.c, 20, 20);
		int rc = one(&e, GPU_TEST_OWNED, 2, 0, 20, 1, &st);
		CHECK(rc == -ETIMEDOUT, "owned drop: rc %d", rc);
		rc = one(&e, GPU_TEST_OWNED, 2, 0, 30, 1, &st);
		CHECK(rc == -ENXIO, "owned queue failed after a drop: rc %d", rc);
		printf("ok owned queue: dropped completion -> -ETIMEDOUT, then -ENXIO (queue marked failed)\n");
	} else {
		CHECK(0, "owned setup");
	}
	env_close(&e);
}

static void test_trap(void)
{
	struct env e;
	if (env_open(&e, "gpuemu:hbm:16M", 0, GPU_API_THREAD, 2, 64, 0, 16, 4096, 0)) {
		CHECK(0, "setup");
		gpu_ctrl_close(e.c);
		return;
	}
	uint32_t st;
	CHECK(one(&e, GPU_TEST_SYNC, 2, 0, 1, 1, &st) == 0, "read before the fault");
	fprintf(stderr, "(a GPU fault follows on purpose)\n");
	gpu_test_trap();
	double end = now_s() + 30;
	while (cudaStreamQuery(0) == cudaErrorNotReady && now_s() < end)
		usleep(1000);
	double t0 = now_s();
	gpu_ctrl_engine_stop(e.c, NULL);
	gpu_ctrl_close(e.c);
	CHECK(now_s() - t0 < 30, "teardown took %.1f s", now_s() - t0);
	printf("ok teardown after a GPU fault in %.2f s\n", now_s() - t0);
}

static void test_dmabuf(void)
{
	void *dptr = NULL;
	int fd = -1;
	const size_t len = 4u << 20;
	int rc = gpu_dmabuf_alloc(len, &dptr, &fd);
	CHECK(rc == 0 && fd >= 0, "gpu_dmabuf_alloc: %d", rc);
	if (rc)
		return;
	off_t size = lseek(fd, 0, SEEK_END);
	CHECK(size == (off_t)len, "dma-buf size %lld, want %zu", (long long)size, len);
	struct dma_mem m;
	rc = dma_mem_from_dmabuf(&m, fd, -1);
	CHECK(rc == 0 && m.len == len, "dma_mem_from_dmabuf: %d", rc);
	printf("ok GPU dma-buf of %zu bytes, CPU mapping %s\n", len, m.cpu_access ? "yes" : "no");
	if (rc == 0) {
		rc = dma_mem_dmabuf_import(&m, "0000:00:00.0");
		if (access("/dev/aisio-dmabuf", F_OK) != 0)
			CHECK(rc == -ENOENT, "import without the module: %d, want -ENOENT", rc);
		printf("import (0000:00:00.0): %s\n", rc ? strerror(-rc) : "attached");
		dma_mem_free(&m);
	}
	close(fd);
	gpu_dmabuf_free(dptr);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: gpu_test matrix DEV [gpu,host]|wrap|split|chain|cross|faults|trap|dmabuf\n");
		return 2;
	}
	const char *t = argv[1];
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGALRM, on_alarm);
	const char *sc = getenv("AISIO_TIMEOUT_SCALE");
	alarm((unsigned)(150 * (sc && atof(sc) > 1 ? atof(sc) : 1)));
	{
		need_gpu();
		if (!strcmp(t, "matrix") && argc >= 3)
			test_matrix(argv[2], argc >= 4 ? argv[3] : "gpu,host");
		else if (!strcmp(t, "wrap"))
			test_wrap();
		else if (!strcmp(t, "split"))
			test_split();
		else if (!strcmp(t, "chain"))
			test_chain();
		else if (!strcmp(t, "cross"))
			test_cross();
		else if (!strcmp(t, "faults"))
			test_faults();
		else if (!strcmp(t, "trap"))
			test_trap();
		else if (!strcmp(t, "dmabuf"))
			test_dmabuf();
		else if (!strcmp(t, "probe"))
			return 0;
		else {
			fprintf(stderr, "gpu_test: unknown case %s\n", t);
			return 2;
		}
	}
	printf("%s: %d failures\n", t, failures);
	return failures ? 1 : 0;
}
