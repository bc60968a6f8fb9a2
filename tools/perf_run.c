/* SPDX-License-Identifier: BSD-3-Clause */
/* aisio perf run: IOPS, bandwidth and latency over any device string. */
#include "perf.h"
#include "perf_stats.h"

#include <aisio/clock.h>
#include <aisio/bio.h>
#include <aisio/nvmed.h>
#include <aisio_version.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define LAT_SAMPLE_MASK 31u /* latency of one I/O in 32 is timed */

/* One queue pair driven by one thread; what the submit loop needs, in one place. */
struct perf_queue {
	struct nvmed_qpair *qp; /* user-space driver */
	struct bio_queue *bq;   /* kernel paths */
	uint8_t *buf;           /* next data buffer: qdepth of them round robin */
	uint8_t *bufs, *bufs_end;
	uint32_t iosize;
	uint32_t nsid;
	uint32_t nlb;
	unsigned qdepth;
	uint64_t first_lba;
	uint64_t slots;     /* I/O-sized slots in the LBA range */
	uint64_t next_slot; /* sequential patterns */
	uint64_t ios, failed;
	struct perf_thread *t;
	unsigned dev;
};

struct perf_thread {
	pthread_t thread;
	int cpu;
	const struct perf_args *a;
	struct perf_dev *devs;
	struct perf_queue *queues;
	unsigned nq;
	uint64_t rng;
	uint64_t ios_per_dev[MAX_DEVS], failed_per_dev[MAX_DEVS];
	struct lat_hist lat;
	uint64_t c_submit_base;
	double ns_per_cycle;
	int kernel; /* the devices are kernel paths (bio queues), else user-space */
	int rc;
	volatile int *stop;
	uint64_t deadline_cycles;
	double cpu_s; /* CPU time this submitting thread used */
};

static volatile sig_atomic_t perf_signalled;

static void perf_on_signal(int sig)
{
	perf_signalled = sig;
}

/* Next random slot in [0, slots): a 64-bit LCG (Knuth's MMIX constants) whose
 * state, read as a fraction of 2^64, scales onto the range by one widening
 * multiply; only the well-mixed high bits decide the slot, with no division. */
static inline uint64_t random_slot(uint64_t *state, uint64_t slots)
{
	uint64_t x = *state = *state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint64_t)(((unsigned __int128)x * slots) >> 64);
}

/* A command finished: count a failure, or time it if it carried a TSC stamp. */
static inline void run_done(struct perf_queue *q, void *stamp, int err)
{
	if (__builtin_expect(err != 0, 0)) {
		q->failed++;
	} else if (stamp) {
		struct perf_thread *t = q->t;
		uint64_t dt = cycles_now() - (uint64_t)(uintptr_t)stamp;
		lat_hist_add(&t->lat, (uint64_t)((double)dt * t->ns_per_cycle));
	}
}

/* User-space path: completions and failures are counted by the driver (qp->completed,
 * errors, timeouts, cancelled); only the commands sampled for latency have a callback. */
static void run_cb(struct nvmed_qpair *qp, void *arg, int err, const struct nvme_cqe *cqe)
{
	if (err == 0)
		run_done(qp->user, arg, 0);
}

/* Kernel paths count their completions here. */
static void run_bio_cb(struct bio_queue *bq, void *arg, int err, uint16_t status)
{
	struct perf_queue *q = bio_queue_user(bq);
	q->ios++;
	run_done(q, arg, err);
}

/* Submit until the queue pair is full (it has room for qdepth commands, so the
 * driver's -EAGAIN is the bound). random and opc are constants in each
 * specialised copy (see RUN_LOOP), so the loop carries no pattern tests. The
 * queue's fields live in locals for the loop: the driver's SQE stores may alias
 * any memory, so fields read through q would be reloaded for every command. */
static inline __attribute__((always_inline)) int run_fill(struct perf_thread *t, struct perf_queue *q, uint64_t *seq,
							  const int random, const uint8_t opc, const int kernel)
{
	struct nvmed_qpair *const qp = q->qp;
	struct bio_queue *const bq = q->bq;
	const uint64_t slots = q->slots, first_lba = q->first_lba;
	const uint32_t nlb = q->nlb, nsid = q->nsid, iosize = q->iosize;
	uint8_t *const bufs = q->bufs, *const bufs_end = q->bufs_end;
	uint8_t *buf = q->buf;
	uint64_t rng = t->rng, next_slot = q->next_slot, n = *seq;
	int rc;
	for (;;) {
		uint64_t slot;
		if (random) {
			slot = random_slot(&rng, slots);
		} else {
			slot = next_slot;
		}
		/* one command in LAT_SAMPLE_MASK + 1 is timed; the rest need no callback */
		const int timed = (++n & LAT_SAMPLE_MASK) == 0;
		void *stamp = timed ? (void *)(uintptr_t)cycles_now() : NULL;
		uint64_t slba = first_lba + slot * nlb;
		rc = kernel ? bio_queue_rw(bq, opc == NVME_CMD_WRITE, slba, nlb, buf, run_bio_cb, stamp)
			    : nvmed_qpair_rw(qp, opc, nsid, slba, nlb, buf, timed ? run_cb : NVMED_CB_COUNT, stamp);
		if (rc < 0)
			break;
		if (!random && ++next_slot == slots)
			next_slot = 0;
		buf += iosize;
		if (buf == bufs_end)
			buf = bufs;
	}
	t->rng = rng;
	q->next_slot = next_slot;
	q->buf = buf;
	*seq = n;
	return rc == -EAGAIN ? 0 : rc;
}

/* One pass over the thread's queues: fill, ring once, reap. */
static inline __attribute__((always_inline)) int run_pass(struct perf_thread *t, uint64_t *seq, const int random,
							  const uint8_t opc, const int kernel)
{
	for (unsigned i = 0; i < t->nq; i++) {
		struct perf_queue *q = &t->queues[i];
		int rc = run_fill(t, q, seq, random, opc, kernel);
		if (rc < 0) {
			fprintf(stderr, "aisio perf: submit failed: %s\n", strerror(-rc));
			return rc;
		}
		if (kernel) {
			rc = bio_queue_submit(q->bq);
			if (rc >= 0)
				rc = bio_queue_poll(q->bq, q->qdepth);
		} else {
			nvmed_qpair_ring(q->qp);
			rc = nvmed_qpair_poll(q->qp, q->qdepth);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

#define RUN_LOOP(random, opc, kernel)                                        \
	while (!*t->stop) {                                                  \
		if ((rc = run_pass(t, &seq, random, opc, kernel)) < 0)       \
			break;                                               \
		if ((++iter & 63) == 0 && cycles_now() > t->deadline_cycles) \
			break;                                               \
	}

static void *run_thread(void *arg)
{
	struct perf_thread *t = arg;
	const struct perf_args *a = t->a;
	if (t->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(t->cpu, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
			fprintf(stderr, "aisio perf: cannot pin a thread to CPU %d\n", t->cpu);
	}
	uint64_t seq = 0;
	unsigned iter = 0;
	int rc = 0;
	/* one specialised loop per pattern and path (a thread's devices are all of
	 * one kind: perf_run checks) */
	if (t->kernel) {
		switch (a->pattern) {
		case PAT_RANDREAD: RUN_LOOP(1, NVME_CMD_READ, 1) break;
		case PAT_RANDWRITE: RUN_LOOP(1, NVME_CMD_WRITE, 1) break;
		case PAT_READ: RUN_LOOP(0, NVME_CMD_READ, 1) break;
		case PAT_WRITE: RUN_LOOP(0, NVME_CMD_WRITE, 1) break;
		}
	} else {
		switch (a->pattern) {
		case PAT_RANDREAD: RUN_LOOP(1, NVME_CMD_READ, 0) break;
		case PAT_RANDWRITE: RUN_LOOP(1, NVME_CMD_WRITE, 0) break;
		case PAT_READ: RUN_LOOP(0, NVME_CMD_READ, 0) break;
		case PAT_WRITE: RUN_LOOP(0, NVME_CMD_WRITE, 0) break;
		}
	}
	t->rc = rc;
	for (unsigned i = 0; i < t->nq; i++) {
		struct perf_queue *q = &t->queues[i];
		int drc = q->qp ? nvmed_qpair_drain(q->qp, a->timeout_ms + 1000)
				: bio_queue_drain(q->bq, a->timeout_ms + 1000);
		if (drc < 0 && !t->rc)
			t->rc = drc;
		if (q->qp) {
			q->ios = q->qp->completed + q->qp->timeouts;
			q->failed = q->qp->errors + q->qp->timeouts + q->qp->cancelled;
		}
		t->ios_per_dev[q->dev] += q->ios;
		t->failed_per_dev[q->dev] += q->failed;
	}
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	t->cpu_s = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
	return NULL;
}

static void print_json_params(const struct perf_args *a, FILE *f)
{
	fprintf(f,
		"\"params\": {\"iopattern\": \"%s\", \"qdepth\": %u, \"iosize\": %u, \"runtime\": %.3f, "
		"\"nqueues\": %u, \"threads\": %u, \"cpus\": ",
		pattern_names[a->pattern], a->qdepth, a->iosize, a->runtime, a->nqueues, a->ncpus ? a->ncpus : 1);
	json_string(f, a->cpus_text[0] ? a->cpus_text : "any");
	fprintf(f, ", \"nsid\": %u, \"seed\": %" PRIu64 "}", a->nsid, a->seed);
}

int perf_run(struct perf_args *a, int argc, char **argv)
{
	bool writes = a->pattern == PAT_WRITE || a->pattern == PAT_RANDWRITE;
	unsigned nthreads = a->ncpus ? a->ncpus : 1;
	struct perf_dev devs[MAX_DEVS];
	memset(devs, 0, sizeof(devs));
	/* DMA memory: every thread's queues and buffers on this device, plus room for a
	 * PRP list page per command; an I/O split over MDTS takes several commands. */
	unsigned cmds_per_io = 1;
	int rc = 0;
	unsigned opened = 0;
	for (;;) {
		size_t entries = (size_t)a->qdepth * cmds_per_io + 1;
		size_t per_queue = (size_t)a->qdepth * a->iosize + entries * (64 + 16 + 4096) + (64u << 10);
		size_t dma_bytes = (size_t)nthreads * a->nqueues * per_queue + (16u << 20);
		for (opened = 0; opened < a->ndevs; opened++) {
			rc = open_dev(a, opened, writes, false, a->iosize, dma_bytes, &devs[opened]);
			if (rc < 0) {
				opened += devs[opened].bd != NULL;
				goto out_devs;
			}
		}
		unsigned most = 1;
		for (unsigned i = 0; i < a->ndevs; i++)
			most = devs[i].cmds_per_io > most ? devs[i].cmds_per_io : most;
		if (most <= cmds_per_io)
			break;
		/* the transfer limit is known only once open: reopen with room for the split */
		close_devs(devs, opened);
		memset(devs, 0, sizeof(devs));
		cmds_per_io = most;
	}
	for (unsigned i = 1; i < a->ndevs; i++) {
		if (devs[i].nvme != devs[0].nvme) {
			fprintf(stderr,
				"aisio perf: %s and %s: one run drives either kernel paths or the user-space "
				"driver, not both\n",
				a->devs[0], a->devs[i]);
			rc = -EINVAL;
			goto out_devs;
		}
	}
	/* what each device must grant, checked before any queue is made */
	for (unsigned i = 0; i < a->ndevs; i++) {
		struct perf_dev *d = &devs[i];
		unsigned want_depth = a->qdepth * d->cmds_per_io;
		if (want_depth > bio_dev_max_qdepth(d->bd)) {
			if (d->cmds_per_io > 1)
				fprintf(stderr,
					"aisio perf: --qdepth %u x %u commands per I/O (--iosize %u over MDTS) is %u "
					"commands in flight; %s allows %u (CAP.MQES)\n",
					a->qdepth, d->cmds_per_io, a->iosize, want_depth, a->devs[i],
					bio_dev_max_qdepth(d->bd));
			else
				fprintf(stderr, "aisio perf: --qdepth %u is more than %s allows (%u%s)\n", a->qdepth,
					a->devs[i], bio_dev_max_qdepth(d->bd), d->nvme ? ", from CAP.MQES" : "");
			rc = -EINVAL;
			goto out_devs;
		}
		unsigned want_queues = nthreads * a->nqueues;
		if (d->nvme && want_queues > bio_dev_max_queues(d->bd)) {
			fprintf(stderr, "aisio perf: %s: %u thread(s) x --nqueues %u need %u I/O queue pairs; %s %u\n",
				a->devs[i], nthreads, a->nqueues, want_queues,
				strcmp(bio_dev_backend(d->bd), "homi") ? "the controller granted"
								       : "the daemon's device has free",
				bio_dev_max_queues(d->bd));
			rc = -EINVAL;
			goto out_devs;
		}
	}
	struct perf_thread *threads = calloc(nthreads, sizeof(*threads));
	if (!threads) {
		rc = -ENOMEM;
		goto out_devs;
	}
	volatile int stop = 0;
	struct cycle_clock cc;
	cycle_clock_calibrate(&cc);
	for (unsigned t = 0; t < nthreads; t++) {
		struct perf_thread *th = &threads[t];
		th->a = a;
		th->devs = devs;
		th->cpu = a->ncpus ? a->cpus[t] : -1;
		th->rng = (a->seed + 1) * 0x9e3779b97f4a7c15ull ^ (t + 1) * 0xbf58476d1ce4e5b9ull;
		th->stop = &stop;
		th->ns_per_cycle = cc.ns_per_cycle;
		th->kernel = !devs[0].nvme;
		th->nq = a->ndevs * a->nqueues;
		th->queues = calloc(th->nq, sizeof(*th->queues));
		if (!th->queues) {
			rc = -ENOMEM;
			goto out_threads;
		}
		for (unsigned i = 0; i < th->nq; i++) {
			struct perf_queue *q = &th->queues[i];
			q->t = th;
			q->dev = i / a->nqueues;
			struct perf_dev *d = &devs[q->dev];
			/* the user-space path's queue pairs are driven directly, the kernel paths' through bio;
			 * room for qdepth I/Os of cmds_per_io commands each */
			if (d->nvme) {
				rc = bio_queue_create(d->bd, a->qdepth * d->cmds_per_io, &q->bq);
				if (rc == 0) {
					q->qp = bio_queue_nvmed(q->bq);
					q->qp->user = q;
				}
			} else {
				rc = bio_queue_create(d->bd, a->qdepth, &q->bq);
				if (rc == 0)
					bio_queue_set_user(q->bq, q);
			}
			if (rc < 0) {
				fprintf(stderr, "aisio perf: %s: cannot create queue pair %u of %u\n", a->devs[q->dev],
					(t * a->nqueues) + (i % a->nqueues) + 1, nthreads * a->nqueues);
				goto out_threads;
			}
			q->bufs = bio_dev_buf_alloc(d->bd, (size_t)a->qdepth * a->iosize);
			if (!q->bufs) {
				rc = -ENOMEM;
				goto out_threads;
			}
			q->buf = q->bufs;
			q->bufs_end = q->bufs + (size_t)a->qdepth * a->iosize;
			q->iosize = a->iosize;
			q->qdepth = a->qdepth;
			q->nsid = d->nsid;
			q->nlb = d->nlb;
			q->first_lba = d->first_lba;
			q->slots = d->slots;
			q->next_slot = (d->slots / th->nq) * i % d->slots;
		}
	}
	struct sigaction sa = {.sa_handler = perf_on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	double t0 = aisio_mono_s();
	uint64_t c0 = cycles_now();
	for (unsigned t = 0; t < nthreads; t++) {
		threads[t].deadline_cycles = c0 + (uint64_t)(a->runtime * cc.hz);
		if (pthread_create(&threads[t].thread, NULL, run_thread, &threads[t]) != 0) {
			stop = 1;
			for (unsigned j = 0; j < t; j++)
				pthread_join(threads[j].thread, NULL);
			rc = -EAGAIN;
			goto out_threads;
		}
	}
	/* The main thread only watches for signals; workers stop on their own deadline. */
	for (unsigned t = 0; t < nthreads; t++) {
		while (pthread_tryjoin_np(threads[t].thread, NULL) == EBUSY) {
			if (perf_signalled)
				stop = 1;
			struct timespec ts = {0, 2000000};
			nanosleep(&ts, NULL);
		}
	}
	double elapsed = aisio_mono_s() - t0;
	getrusage(RUSAGE_SELF, &ru1);
	/* process CPU includes the emulated controller's engine threads, which stand in for a device */
	double proc_cpu =
		(double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
		(double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) *
			1e-6;
	double submit_cpu = 0;
	for (unsigned t = 0; t < nthreads; t++)
		submit_cpu += threads[t].cpu_s;

	struct lat_hist *lat = calloc(1, sizeof(*lat));
	uint64_t dev_ios[MAX_DEVS] = {0}, dev_failed[MAX_DEVS] = {0}, tot_ios = 0, tot_failed = 0;
	for (unsigned t = 0; t < nthreads; t++) {
		if (threads[t].rc && !rc)
			rc = threads[t].rc;
		if (lat)
			lat_hist_merge(lat, &threads[t].lat);
		for (unsigned i = 0; i < a->ndevs; i++) {
			dev_ios[i] += threads[t].ios_per_dev[i];
			dev_failed[i] += threads[t].failed_per_dev[i];
		}
	}
	/* IOPS and MiB/s count commands that succeeded; failures are their own column */
	for (unsigned i = 0; i < a->ndevs; i++) {
		dev_ios[i] -= dev_failed[i] < dev_ios[i] ? dev_failed[i] : dev_ios[i];
		tot_ios += dev_ios[i], tot_failed += dev_failed[i];
	}
	double mib = (double)a->iosize / (1024.0 * 1024.0);
	double p50 = lat ? lat_hist_quantile(lat, 0.50) / 1000.0 : 0,
	       p99 = lat ? lat_hist_quantile(lat, 0.99) / 1000.0 : 0;
	double p999 = lat ? lat_hist_quantile(lat, 0.999) / 1000.0 : 0;
	double mean = lat && lat->count ? (double)lat->sum_ns / (double)lat->count / 1000.0 : 0;
	const char *cpus = a->cpus_text[0] ? a->cpus_text : "any";
	if (a->json) {
		char date[64];
		iso_date(date, sizeof(date));
		printf("{\"tool\": \"aisio perf run\", \"version\": \"%s\", \"date\": \"%s\", \"machine\": ",
		       AISIO_VERSION, date);
		json_machine(stdout);
		printf(", \"command\": ");
		char cmd[2048] = "";
		for (int i = 0; i < argc; i++)
			snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%s%s", i ? " " : "", argv[i]);
		json_string(stdout, cmd);
		printf(", ");
		print_json_params(a, stdout);
		printf(", \"elapsed_s\": %.6f, \"devices\": [", elapsed);
		for (unsigned i = 0; i < a->ndevs; i++) {
			printf("%s{\"name\": ", i ? ", " : "");
			json_string(stdout, a->devs[i]);
			printf(", \"backend\": \"%s\", \"commands_per_io\": %u, \"command_bytes\": %u, \"cpus\": ",
			       bio_dev_backend(devs[i].bd), devs[i].cmds_per_io, devs[i].cmd_bytes);
			json_string(stdout, cpus);
			printf(", \"ios\": %" PRIu64 ", \"iops\": %.1f, \"mib_s\": %.3f, \"failed\": %" PRIu64 "}",
			       dev_ios[i], (double)dev_ios[i] / elapsed, (double)dev_ios[i] * mib / elapsed,
			       dev_failed[i]);
		}
		printf("], \"total\": {\"ios\": %" PRIu64 ", \"iops\": %.1f, \"mib_s\": %.3f, \"failed\": %" PRIu64
		       ", \"lat_us\": {\"mean\": %.3f, \"p50\": %.3f, \"p99\": %.3f, \"p999\": %.3f, \"max\": %.3f, \"samples\": %" PRIu64
		       "}}, \"cpu\": {\"submit_threads_s\": %.4f, \"process_s\": %.4f, \"iops_per_submit_cpu_s\": %.1f}}\n",
		       tot_ios, (double)tot_ios / elapsed, (double)tot_ios * mib / elapsed, tot_failed, mean, p50, p99,
		       p999, lat ? (double)lat->max_ns / 1000.0 : 0, lat ? lat->count : 0, submit_cpu, proc_cpu,
		       submit_cpu > 0 ? (double)tot_ios / submit_cpu : 0);
	} else {
		printf("aisio perf run: %s, qdepth %u, iosize %u, %u thread(s) x %u queue(s) per device, %.2f s\n",
		       pattern_names[a->pattern], a->qdepth, a->iosize, nthreads, a->nqueues, elapsed);
		for (unsigned i = 0; i < a->ndevs; i++)
			if (devs[i].cmds_per_io > 1)
				printf("on the wire: %s: %u commands per I/O of up to %u bytes (MDTS); IOPS count I/Os\n",
				       a->devs[i], devs[i].cmds_per_io, devs[i].cmd_bytes);
		printf("%-32s | %-10s | %14s | %10s | %8s\n", "Device", "CPUs", "IOPS", "MiB/s", "Failed");
		for (unsigned i = 0; i < a->ndevs; i++)
			printf("%-32s | %-10s | %14.0f | %10.1f | %8" PRIu64 "\n", a->devs[i], cpus,
			       (double)dev_ios[i] / elapsed, (double)dev_ios[i] * mib / elapsed, dev_failed[i]);
		printf("%-32s | %-10s | %14.0f | %10.1f | %8" PRIu64 "\n", "Total", "", (double)tot_ios / elapsed,
		       (double)tot_ios * mib / elapsed, tot_failed);
		printf("latency (us, 1 in %u I/Os timed): mean %.2f  p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
		       LAT_SAMPLE_MASK + 1, mean, p50, p99, p999, lat ? (double)lat->max_ns / 1000.0 : 0);
		printf("cpu: submitting threads %.2f s, process %.2f s (engine threads of emulated devices included)\n",
		       submit_cpu, proc_cpu);
	}
	free(lat);
	if (perf_signalled)
		fprintf(stderr, "aisio perf: stopped by signal %d\n", (int)perf_signalled);
	if (!rc && tot_failed)
		rc = -EIO;
out_threads:
	for (unsigned t = 0; t < nthreads; t++) {
		for (unsigned i = 0; threads[t].queues && i < threads[t].nq; i++) {
			struct perf_queue *q = &threads[t].queues[i];
			bio_queue_destroy(q->bq); /* with its queue pair */
			if (q->bufs)
				bio_dev_buf_free(devs[q->dev].bd, q->bufs);
		}
		free(threads[t].queues);
	}
	free(threads);
out_devs:
	close_devs(devs, opened);
	return rc < 0 ? 1 : 0;
}
