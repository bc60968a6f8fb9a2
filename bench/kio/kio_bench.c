/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kio_bench: random reads through kio from one thread, the way fio's io_uring
 * engine drives a device (fill to the queue depth, submit once, reap, block for
 * one completion when none is ready), so the two can be compared as IOPS per CPU
 * second. Prints one JSON object.
 *
 * usage: kio_bench [--bs N] [--qd N] [--runtime S] [--fixed] [--sqpoll] [--spin] PATH
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <aisio/kio.h>

struct bench {
	uint8_t *bufs;
	uint32_t bs;
	uint64_t nblocks; /* of bs bytes */
	uint32_t nlb;     /* LBAs per I/O */
	unsigned lba_shift;
	uint64_t rng;
	uint64_t done;
	uint64_t errors;
	int first_err;
	unsigned *free_bufs; /* buffer indexes not in use */
	unsigned nfree;
};

/* The callback's arg is the buffer index, returned to the pool. */
static void on_done(struct kio_queue *q, void *arg, int err, uint16_t nvme_status)
{
	struct bench *b = kio_queue_user(q);
	b->free_bufs[b->nfree++] = (unsigned)(uintptr_t)arg;
	b->done++;
	if (err && !b->errors++)
		b->first_err = err;
}

static inline uint64_t next_block(struct bench *b)
{
	/* xorshift64 and a multiply-shift range reduction: no division per I/O */
	uint64_t x = b->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	b->rng = x;
	return (uint64_t)(((unsigned __int128)x * b->nblocks) >> 64);
}

static double ts_s(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	uint32_t bs = 4096;
	unsigned qd = 128;
	double runtime = 10;
	bool fixed = false, spin = false;
	struct kio_dev_opts o = {.sqpoll_cpu = -1};
	static const struct option lopts[] = {
		{"bs", required_argument, NULL, 'b'},
		{"qd", required_argument, NULL, 'q'},
		{"runtime", required_argument, NULL, 't'},
		{"fixed", no_argument, NULL, 'f'},
		{"sqpoll", no_argument, NULL, 's'},
		{"spin", no_argument, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'b': bs = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'q': qd = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': runtime = strtod(optarg, NULL); break;
		case 'f': fixed = true; break;
		case 's': o.sqpoll = true; break;
		case 'p': spin = true; break;
		default:
			fprintf(stderr,
				"usage: kio_bench [--bs N] [--qd N] [--runtime S] [--fixed] [--sqpoll] [--spin] PATH\n");
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "kio_bench: one PATH\n");
		return 2;
	}
	const char *path = argv[optind];
	struct kio_dev *d;
	int rc = kio_dev_open(&d, path, &o);
	if (rc < 0)
		return 1;
	struct bench b = {.bs = bs, .lba_shift = kio_dev_lba_shift(d), .rng = 0x9e3779b97f4a7c15ull};
	if (bs < (1u << b.lba_shift) || bs % (1u << b.lba_shift) || bs > kio_dev_max_xfer(d)) {
		fprintf(stderr,
			"kio_bench: %s: --bs %u is not a multiple of the LBA size %u within the transfer limit\n", path,
			bs, 1u << b.lba_shift);
		return 2;
	}
	b.nlb = bs >> b.lba_shift;
	b.nblocks = (kio_dev_nlba(d) << b.lba_shift) / bs;
	struct kio_queue *q;
	rc = kio_queue_create(d, qd, &q);
	if (rc < 0) {
		fprintf(stderr, "kio_bench: %s: queue: %s\n", path, strerror(-rc));
		return 1;
	}
	kio_queue_set_user(q, &b);
	size_t len = (size_t)qd * bs;
	if (posix_memalign((void **)&b.bufs, 4096, len) || !(b.free_bufs = malloc(qd * sizeof(unsigned)))) {
		fprintf(stderr, "kio_bench: out of memory\n");
		return 1;
	}
	memset(b.bufs, 0, len);
	for (unsigned i = 0; i < qd; i++)
		b.free_bufs[b.nfree++] = i;
	if (fixed && (rc = kio_queue_register_buffer(q, b.bufs, len)) < 0)
		return 1;

	double t0 = ts_s(CLOCK_MONOTONIC), c0 = ts_s(CLOCK_THREAD_CPUTIME_ID);
	double tend = t0 + runtime;
	unsigned check = 0;
	for (;;) {
		while (b.nfree) {
			unsigned i = b.free_bufs[b.nfree - 1];
			uint64_t blk = next_block(&b);
			rc = kio_queue_rw(q, false, blk * b.nlb, b.nlb, b.bufs + (size_t)i * bs, on_done,
					  (void *)(uintptr_t)i);
			if (rc < 0)
				break;
			b.nfree--;
		}
		if (rc < 0 && rc != -EAGAIN) {
			fprintf(stderr, "kio_bench: %s: queue: %s\n", path, strerror(-rc));
			return 1;
		}
		int n = kio_queue_poll(q, qd);
		if (n == 0 && !spin)
			n = kio_queue_wait(q, 1, 1000); /* submits what is queued in the same kernel entry */
		else
			rc = kio_queue_submit(q);
		if (n < 0 && n != -ETIMEDOUT) {
			fprintf(stderr, "kio_bench: %s: %s\n", path, strerror(-n));
			return 1;
		}
		/* the clock every 64 rounds: cheaper than a vDSO call per batch */
		if ((++check & 63) == 0 && ts_s(CLOCK_MONOTONIC) >= tend)
			break;
	}
	double t1 = ts_s(CLOCK_MONOTONIC), c1 = ts_s(CLOCK_THREAD_CPUTIME_ID);
	uint64_t done = b.done;
	struct kio_queue_stats st;
	kio_queue_stats(q, &st);
	kio_queue_destroy(q);
	double el = t1 - t0, cpu = c1 - c0;
	printf("{\"tool\": \"kio_bench\", \"path\": \"%s\", \"backend\": \"%s\", \"bs\": %u, \"qd\": %u, \"fixed\": %s, "
	       "\"sqpoll\": %s, \"spin\": %s, \"ios\": %" PRIu64 ", \"errors\": %" PRIu64 ", \"elapsed_s\": %.3f, "
	       "\"thread_cpu_s\": %.3f, \"iops\": %.0f, \"iops_per_thread_cpu_s\": %.0f, \"ios_per_submit\": %.1f}\n",
	       path, kio_dev_backend(d), bs, qd, fixed ? "true" : "false", o.sqpoll ? "true" : "false",
	       spin ? "true" : "false", done, b.errors, el, cpu, (double)done / el, cpu > 0 ? (double)done / cpu : 0.0,
	       st.submit_calls ? (double)st.completed / (double)st.submit_calls : 0.0);
	kio_dev_close(d);
	free(b.bufs);
	free(b.free_bufs);
	if (b.errors)
		fprintf(stderr, "kio_bench: %s: %" PRIu64 " errors, first: %s\n", path, b.errors,
			strerror(-b.first_err));
	return b.errors ? 1 : 0;
}
