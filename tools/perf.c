/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aisio perf: run (IOPS, bandwidth, latency) and verify (LBA-stamped data) over
 * any device string, with xnvmeperf's interface.
 */
#include "commands.h"
#include "perf_stats.h"

#include <aisio/bio.h>
#include <aisio/emu.h>
#include <aisio/nvmed.h>
#include <aisio/strparse.h>
#include <aisio_version.h>

#include <errno.h>
#include <getopt.h>
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

#define MAX_DEVS 16
#define MAX_CPUS 256
#define LAT_SAMPLE_MASK 31u /* latency of one I/O in 32 is timed */

enum pattern { PAT_READ, PAT_WRITE, PAT_RANDREAD, PAT_RANDWRITE };
static const char *const pattern_names[] = {"read", "write", "randread", "randwrite"};

struct perf_args {
	enum pattern pattern;
	unsigned qdepth;
	uint32_t iosize;
	double runtime;
	unsigned nqueues;
	int cpus[MAX_CPUS];
	unsigned ncpus;
	char cpus_text[256];
	uint32_t nsid;
	uint64_t offset;     /* LBA */
	uint64_t size;       /* LBAs; 0 = to the end */
	uint64_t seed;
	bool json;
	bool force;
	unsigned timeout_ms;
	const char *devs[MAX_DEVS];
	unsigned ndevs;
};

/* One queue pair driven by one thread. */
/* One queue pair driven by one thread; what the submit loop needs, in one place. */
struct perf_queue {
	struct nvmed_qpair *qp;  /* user-space driver */
	struct bio_queue *bq;    /* kernel paths */
	uint8_t *buf;        /* next data buffer: qdepth of them round robin */
	uint8_t *bufs, *bufs_end;
	uint32_t iosize;
	uint32_t nsid;
	uint32_t nlb;
	unsigned qdepth;
	uint64_t first_lba;
	uint64_t slots;      /* I/O-sized slots in the LBA range */
	uint64_t next_slot;  /* sequential patterns */
	uint64_t ios, failed;
	struct perf_thread *t;
	unsigned dev;
};

/* A device of the run: any path bio opens; ctrl is set for the user-space driver,
 * whose queues the run loop drives directly through the inline hot path. */
struct perf_dev {
	struct bio_dev *bd;
	struct nvmed_ctrl *ctrl;
	uint32_t nsid;
	char what[32];       /* "namespace N", or "the device" for a block device or file */
	unsigned lba_shift;
	uint64_t nlba;
	uint64_t first_lba;
	uint64_t nlbas;      /* size of the range */
	uint32_t iosize;     /* bytes per I/O */
	uint32_t nlb;        /* LBAs per I/O */
	uint32_t cmds_per_io; /* commands on the wire per I/O: the driver splits I/Os over MDTS */
	uint32_t cmd_bytes;  /* bytes per command on the wire (the last of an I/O may be shorter) */
	uint64_t slots;      /* I/O-sized slots in the range */
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
	int kernel;          /* the devices are kernel paths (bio queues), else user-space */
	int rc;
	volatile int *stop;
	uint64_t deadline_cycles;
	double cpu_s;        /* CPU time this submitting thread used */
};

static volatile sig_atomic_t perf_signalled;

static void perf_on_signal(int sig)
{
	perf_signalled = sig;
}

static void perf_usage(FILE *f)
{
	fprintf(f,
		"usage: aisio perf run|verify [options] DEVICE...\n"
		"       aisio perf cuda-run|cuda-verify [options] DEVICE...   (GPU-initiated I/O)\n"
		"\n"
		"DEVICE is a PCI function bound to vfio-pci or uio_pci_generic (0000:01:00.0), an\n"
		"emulated controller (emu:null, emu:ram:256M, emu:file:PATH, options after commas),\n"
		"both driven by the user-space driver; or a path for the kernel's I/O paths through\n"
		"io_uring: a block device (/dev/nvme0n1) or file, or an NVMe generic char device\n"
		"(/dev/ng0n1: passthrough). One run takes devices of one kind.\n"
		"\n"
		"run options:\n"
		"  --iopattern P     read | write | randread | randwrite (default randread)\n"
		"  --qdepth N        I/Os in flight per queue (default 64)\n"
		"  --iosize BYTES    bytes per I/O, a multiple of the LBA size (default 4096; K/M suffixes);\n"
		"                    the user-space driver sends an I/O over the controller's transfer limit\n"
		"                    (MDTS) as several commands, and the header says what goes on the wire\n"
		"  --runtime SEC     seconds to run (default 5)\n"
		"  --nqueues N       queue pairs per device per thread (default 1)\n"
		"  --cpumask HEX     one submitting thread per CPU in the mask\n"
		"  --cpulist LIST    same, as 0,2-5 (default: one thread, not pinned)\n"
		"  --nsid N          namespace (default 1)\n"
		"  --offset LBA      first LBA of the range (default 0)\n"
		"  --size LBAS       LBAs in the range (default: to the end of the namespace)\n"
		"  --seed N          random LBA seed (default 1)\n"
		"  --timeout-ms N    per-command timeout (default 5000)\n"
		"  --force           allow writes to a namespace that carries a file-system signature\n"
		"  --json            print one JSON object instead of the table\n"
		"verify writes LBA-stamped blocks over the range, reads them back and compares;\n"
		"  it takes --nsid --offset --size (default: whole namespace, at most 1 GiB) --iosize\n"
		"  --qdepth --seed --force --json.\n"
		"\n%s",
		emu_ctrl_help());
}

/* A numeric flag within [min, max], or a message naming the flag and its range. */
static int flag_u64(const char *flag, const char *val, uint64_t min, uint64_t max, uint64_t *out)
{
	if (strparse_u64(val, min, max, out) == 0)
		return 0;
	fprintf(stderr, "aisio perf: --%s must be %" PRIu64 "..%" PRIu64 ", not '%s'\n", flag, min, max, val);
	return -EINVAL;
}

static int parse_cpulist(struct perf_args *a, const char *s)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", s);
	a->ncpus = 0;
	for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
		char *end;
		long lo = strtol(tok, &end, 10), hi = lo;
		if (end == tok)
			return -EINVAL;
		if (*end == '-') {
			char *e2;
			hi = strtol(end + 1, &e2, 10);
			if (e2 == end + 1 || *e2)
				return -EINVAL;
		} else if (*end) {
			return -EINVAL;
		}
		if (lo < 0 || hi < lo || hi >= MAX_CPUS)
			return -EINVAL;
		for (long c = lo; c <= hi; c++) {
			if (a->ncpus == MAX_CPUS)
				return -EINVAL;
			a->cpus[a->ncpus++] = (int)c;
		}
	}
	snprintf(a->cpus_text, sizeof(a->cpus_text), "%s", s);
	return a->ncpus ? 0 : -EINVAL;
}

static int parse_cpumask(struct perf_args *a, const char *s)
{
	if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2))
		s += 2;
	size_t n = strlen(s);
	if (n == 0 || n > MAX_CPUS / 4)
		return -EINVAL;
	char list[1024] = "";
	a->ncpus = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[n - 1 - i];
		int v;
		if (ch >= '0' && ch <= '9')
			v = ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			v = ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			v = ch - 'A' + 10;
		else
			return -EINVAL;
		for (int b = 0; b < 4; b++)
			if (v & (1 << b)) {
				int cpu = (int)i * 4 + b;
				a->cpus[a->ncpus++] = cpu;
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%d", a->ncpus > 1 ? "," : "", cpu);
			}
	}
	snprintf(a->cpus_text, sizeof(a->cpus_text), "%s", list);
	return a->ncpus ? 0 : -EINVAL;
}

static int perf_parse(struct perf_args *a, int argc, char **argv, bool verify)
{
	static const struct option opts[] = {
		{"iopattern", required_argument, 0, 'p'}, {"qdepth", required_argument, 0, 'q'},
		{"iosize", required_argument, 0, 's'},    {"runtime", required_argument, 0, 't'},
		{"nqueues", required_argument, 0, 'Q'},   {"cpumask", required_argument, 0, 'm'},
		{"cpulist", required_argument, 0, 'c'},   {"nsid", required_argument, 0, 'n'},
		{"offset", required_argument, 0, 'o'},    {"size", required_argument, 0, 'S'},
		{"seed", required_argument, 0, 'r'},      {"json", no_argument, 0, 'j'},
		{"force", no_argument, 0, 'f'},           {"timeout-ms", required_argument, 0, 'T'},
		{"help", no_argument, 0, 'h'},            {0, 0, 0, 0},
	};
	memset(a, 0, sizeof(*a));
	a->pattern = PAT_RANDREAD;
	a->qdepth = verify ? 32 : 64;
	a->iosize = verify ? 0 : 4096;
	a->runtime = 5;
	a->nqueues = 1;
	a->nsid = 1;
	a->seed = 1;
	a->timeout_ms = 5000;
	optind = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		uint64_t v;
		char *end;
		switch (ch) {
		case 'p': {
			unsigned i;
			for (i = 0; i < 4 && strcmp(optarg, pattern_names[i]); i++)
				;
			if (i == 4) {
				fprintf(stderr, "aisio perf: --iopattern must be read, write, randread or randwrite, not '%s'\n", optarg);
				return -EINVAL;
			}
			a->pattern = (enum pattern)i;
			break;
		}
		case 'q':
			if (flag_u64("qdepth", optarg, 1, 65535, &v) < 0)
				return -EINVAL;
			a->qdepth = (unsigned)v;
			break;
		case 's':
			if (strparse_size(optarg, &v) < 0 || v == 0 || v > (64u << 20)) {
				fprintf(stderr, "aisio perf: --iosize must be 1 byte .. 64M, not '%s'\n", optarg);
				return -EINVAL;
			}
			a->iosize = (uint32_t)v;
			break;
		case 't':
			a->runtime = strtod(optarg, &end);
			if (*end || a->runtime <= 0 || a->runtime > 86400) {
				fprintf(stderr, "aisio perf: --runtime must be seconds > 0, not '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case 'Q':
			if (flag_u64("nqueues", optarg, 1, 1024, &v) < 0)
				return -EINVAL;
			a->nqueues = (unsigned)v;
			break;
		case 'm':
			if (parse_cpumask(a, optarg) < 0) {
				fprintf(stderr, "aisio perf: bad --cpumask '%s' (hex, e.g. 0x3)\n", optarg);
				return -EINVAL;
			}
			break;
		case 'c':
			if (parse_cpulist(a, optarg) < 0) {
				fprintf(stderr, "aisio perf: bad --cpulist '%s' (e.g. 0,2-5)\n", optarg);
				return -EINVAL;
			}
			break;
		case 'n':
			if (flag_u64("nsid", optarg, 1, 0xfffffffe, &v) < 0)
				return -EINVAL;
			a->nsid = (uint32_t)v;
			break;
		case 'o':
			if (flag_u64("offset", optarg, 0, UINT64_MAX, &a->offset) < 0)
				return -EINVAL;
			break;
		case 'S':
			if (flag_u64("size", optarg, 1, UINT64_MAX, &a->size) < 0)
				return -EINVAL;
			break;
		case 'r':
			if (flag_u64("seed", optarg, 0, UINT64_MAX, &a->seed) < 0)
				return -EINVAL;
			break;
		case 'T':
			if (flag_u64("timeout-ms", optarg, 1, 3600000, &v) < 0)
				return -EINVAL;
			a->timeout_ms = (unsigned)v;
			break;
		case 'j':
			a->json = true;
			break;
		case 'f':
			a->force = true;
			break;
		case 'h':
			perf_usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "aisio perf: see aisio perf --help\n");
			return -EINVAL;
		}
	}
	for (int i = optind; i < argc; i++) {
		if (a->ndevs == MAX_DEVS) {
			fprintf(stderr, "aisio perf: at most %d devices\n", MAX_DEVS);
			return -EINVAL;
		}
		a->devs[a->ndevs++] = argv[i];
	}
	if (!a->ndevs) {
		fprintf(stderr, "aisio perf: no device given (e.g. aisio perf %s emu:null)\n", verify ? "verify" : "run");
		return -EINVAL;
	}
	return 0;
}

/* ---- device setup shared by run and verify ---- */

/* Open device i for run (whole I/Os only) or verify (a short last I/O is fine).
 * iosize 0 picks 128 KiB or the device's transfer limit, whichever is smaller. */
static int open_dev(const struct perf_args *a, unsigned i, bool writes, bool verify, uint32_t iosize, size_t dma_bytes,
		    struct perf_dev *d)
{
	struct bio_dev_opts o = {.nsid = a->nsid, .dma_bytes = dma_bytes, .io_timeout_ms = a->timeout_ms,
				 .allow_fs_writes = a->force};
	int rc = bio_dev_open(&d->bd, a->devs[i], &o);
	if (rc < 0) {
		fprintf(stderr, "aisio perf: cannot open %s: %s\n", a->devs[i], strerror(-rc));
		return rc;
	}
	d->ctrl = bio_dev_nvmed(d->bd);
	d->nsid = bio_dev_nsid(d->bd);
	d->lba_shift = bio_dev_lba_shift(d->bd);
	d->nlba = bio_dev_nlba(d->bd);
	if (d->nsid)
		snprintf(d->what, sizeof(d->what), "namespace %u", d->nsid);
	else
		snprintf(d->what, sizeof(d->what), "the device");
	uint32_t lba = 1u << d->lba_shift;
	if (!iosize)
		iosize = bio_dev_max_xfer(d->bd) < (128u << 10) ? bio_dev_max_xfer(d->bd) : (128u << 10);
	d->iosize = iosize;
	if (iosize % lba) {
		fprintf(stderr, "aisio perf: --iosize %u is not a multiple of %s's LBA size %u\n", iosize, a->devs[i], lba);
		return -EINVAL;
	}
	uint32_t max_xfer = bio_dev_max_xfer(d->bd);
	if (iosize > max_xfer && !d->ctrl) {
		fprintf(stderr, "aisio perf: --iosize %u exceeds %s's largest transfer of %u bytes (the kernel paths "
			"take I/Os of at most that size)\n", iosize, a->devs[i], max_xfer);
		return -EINVAL;
	}
	d->nlb = iosize / lba;
	d->cmd_bytes = iosize;
	d->cmds_per_io = 1;
	if (d->ctrl) {
		/* the driver splits by the namespace's LBAs per command */
		struct nvmed_ns ns;
		nvmed_ctrl_ns(d->ctrl, d->nsid, &ns);
		d->cmds_per_io = (d->nlb + ns.max_lbas - 1) / ns.max_lbas;
		if (d->cmds_per_io > 1)
			d->cmd_bytes = ns.max_lbas << d->lba_shift;
	}
	d->first_lba = a->offset;
	if (a->offset >= d->nlba) {
		fprintf(stderr, "aisio perf: --offset %" PRIu64 " is past the end of %s (%" PRIu64 " LBAs)\n",
			a->offset, d->what, d->nlba);
		return -EINVAL;
	}
	d->nlbas = a->size ? a->size : d->nlba - a->offset;
	if (d->nlbas > d->nlba - a->offset) {
		fprintf(stderr, "aisio perf: --offset + --size run past the end of %s (%" PRIu64 " LBAs)\n",
			d->what, d->nlba);
		return -EINVAL;
	}
	d->slots = d->nlbas / d->nlb;
	if (d->slots == 0 && !verify) {
		fprintf(stderr, "aisio perf: the LBA range is smaller than one I/O\n");
		return -EINVAL;
	}
	/* bio refuses the writes themselves; say why before any is tried */
	const char *sig = bio_dev_fs_signature(d->bd);
	if (writes && sig && !a->force) {
		fprintf(stderr, "aisio perf: %s: %s carries %s; refusing to write (--force overrides)\n", a->devs[i],
			d->what, sig);
		return -EPERM;
	}
	return 0;
}

static void close_devs(struct perf_dev *devs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		bio_dev_close(devs[i].bd);
}

/* ---- run ---- */

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

#define RUN_LOOP(random, opc, kernel)                                                          \
	while (!*t->stop) {                                                                    \
		if ((rc = run_pass(t, &seq, random, opc, kernel)) < 0)                         \
			break;                                                                 \
		if ((++iter & 63) == 0 && cycles_now() > t->deadline_cycles)                  \
			break;                                                                 \
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
		int drc = q->qp ? nvmed_qpair_drain(q->qp, a->timeout_ms + 1000) : bio_queue_drain(q->bq, a->timeout_ms + 1000);
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
	fprintf(f, "\"params\": {\"iopattern\": \"%s\", \"qdepth\": %u, \"iosize\": %u, \"runtime\": %.3f, "
		   "\"nqueues\": %u, \"threads\": %u, \"cpus\": ",
		pattern_names[a->pattern], a->qdepth, a->iosize, a->runtime, a->nqueues, a->ncpus ? a->ncpus : 1);
	json_string(f, a->cpus_text[0] ? a->cpus_text : "any");
	fprintf(f, ", \"nsid\": %u, \"seed\": %" PRIu64 "}", a->nsid, a->seed);
}

static int perf_run(struct perf_args *a, int argc, char **argv)
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
				opened += devs[opened].ctrl != NULL;
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
		if (!devs[i].ctrl != !devs[0].ctrl) {
			fprintf(stderr, "aisio perf: %s and %s: one run drives either kernel paths or the user-space "
				"driver, not both\n", a->devs[0], a->devs[i]);
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
				fprintf(stderr, "aisio perf: --qdepth %u x %u commands per I/O (--iosize %u over MDTS) is %u "
					"commands in flight; %s allows %u (CAP.MQES)\n", a->qdepth, d->cmds_per_io, a->iosize,
					want_depth, a->devs[i], bio_dev_max_qdepth(d->bd));
			else
				fprintf(stderr, "aisio perf: --qdepth %u is more than %s allows (%u%s)\n", a->qdepth,
					a->devs[i], bio_dev_max_qdepth(d->bd), d->ctrl ? ", from CAP.MQES" : "");
			rc = -EINVAL;
			goto out_devs;
		}
		unsigned want_queues = nthreads * a->nqueues;
		if (d->ctrl && want_queues > nvmed_ctrl_max_qpairs(d->ctrl)) {
			fprintf(stderr, "aisio perf: %s: %u thread(s) x --nqueues %u need %u I/O queue pairs; the controller "
				"granted %u\n", a->devs[i], nthreads, a->nqueues, want_queues, nvmed_ctrl_max_qpairs(d->ctrl));
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
		th->kernel = devs[0].ctrl == NULL;
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
			if (d->ctrl) {
				rc = nvmed_qpair_create(d->ctrl, a->qdepth * d->cmds_per_io + 1, &q->qp);
				if (rc == 0)
					q->qp->user = q;
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
	double t0 = mono_seconds();
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
	double elapsed = mono_seconds() - t0;
	getrusage(RUSAGE_SELF, &ru1);
	/* process CPU includes the emulated controller's engine threads, which stand in for a device */
	double proc_cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
			  (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) * 1e-6;
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
	double p50 = lat ? lat_hist_quantile(lat, 0.50) / 1000.0 : 0, p99 = lat ? lat_hist_quantile(lat, 0.99) / 1000.0 : 0;
	double p999 = lat ? lat_hist_quantile(lat, 0.999) / 1000.0 : 0;
	double mean = lat && lat->count ? (double)lat->sum_ns / (double)lat->count / 1000.0 : 0;
	const char *cpus = a->cpus_text[0] ? a->cpus_text : "any";
	if (a->json) {
		char date[64];
		iso_date(date, sizeof(date));
		printf("{\"tool\": \"aisio perf run\", \"version\": \"%s\", \"date\": \"%s\", \"machine\": ", AISIO_VERSION, date);
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
			printf(", \"ios\": %" PRIu64 ", \"iops\": %.1f, \"mib_s\": %.3f, \"failed\": %" PRIu64 "}", dev_ios[i],
			       (double)dev_ios[i] / elapsed, (double)dev_ios[i] * mib / elapsed, dev_failed[i]);
		}
		printf("], \"total\": {\"ios\": %" PRIu64 ", \"iops\": %.1f, \"mib_s\": %.3f, \"failed\": %" PRIu64
		       ", \"lat_us\": {\"mean\": %.3f, \"p50\": %.3f, \"p99\": %.3f, \"p999\": %.3f, \"max\": %.3f, \"samples\": %" PRIu64
		       "}}, \"cpu\": {\"submit_threads_s\": %.4f, \"process_s\": %.4f, \"iops_per_submit_cpu_s\": %.1f}}\n",
		       tot_ios, (double)tot_ios / elapsed, (double)tot_ios * mib / elapsed, tot_failed, mean, p50, p99, p999,
		       lat ? (double)lat->max_ns / 1000.0 : 0, lat ? lat->count : 0, submit_cpu, proc_cpu,
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
			if (q->qp)
				nvmed_qpair_destroy(q->qp);
			bio_queue_destroy(q->bq);
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

/* ---- verify ---- */

/* The 8-byte word w of block lba: unique per (seed, lba, word), so misplaced,
 * stale and torn blocks all show. */
static inline uint64_t stamp_word(uint64_t seed, uint64_t lba, uint64_t w)
{
	uint64_t x = (lba * 0x9e3779b97f4a7c15ull) ^ (seed * 0xc2b2ae3d27d4eb4full) ^ (w + 1) * 0x165667b19e3779f9ull;
	x ^= x >> 31;
	return x;
}

static void stamp_fill(uint8_t *buf, uint64_t seed, uint64_t lba, uint32_t nlb, unsigned shift)
{
	uint64_t *p = (uint64_t *)buf;
	uint64_t words = (uint64_t)1 << (shift - 3);
	for (uint32_t b = 0; b < nlb; b++)
		for (uint64_t w = 0; w < words; w++)
			*p++ = stamp_word(seed, lba + b, w);
}

/* Blocks of buf that do not hold their stamp. */
static uint64_t stamp_check(const uint8_t *buf, uint64_t seed, uint64_t lba, uint32_t nlb, unsigned shift,
			    uint64_t *first_bad)
{
	const uint64_t *p = (const uint64_t *)buf;
	uint64_t words = (uint64_t)1 << (shift - 3), bad = 0;
	for (uint32_t b = 0; b < nlb; b++) {
		for (uint64_t w = 0; w < words; w++) {
			if (p[b * words + w] != stamp_word(seed, lba + b, w)) {
				if (!bad++ && first_bad)
					*first_bad = lba + b;
				break;
			}
		}
	}
	return bad;
}

struct verify_slot {
	uint8_t *buf;
	uint64_t lba;
	uint32_t nlb;
	int busy;
	int err;
	uint16_t status;
};

static void verify_cb(struct bio_queue *q, void *arg, int err, uint16_t status)
{
	struct verify_slot *s = arg;
	s->busy = 0;
	s->err = err;
	s->status = status;
}

/* Counts in LBAs. */
struct verify_result {
	uint64_t verified, mismatches, failed;
	uint64_t verified_bytes;
	uint64_t first_bad;
};

/* "256 MiB", "3 KiB", "1536 B": the verified amount as a person reads it. */
static const char *size_text(uint64_t bytes, char *buf, size_t len)
{
	if (bytes && bytes % (1u << 20) == 0)
		snprintf(buf, len, "%" PRIu64 " MiB", bytes >> 20);
	else if (bytes >= (1u << 20))
		snprintf(buf, len, "%.1f MiB", (double)bytes / (1u << 20));
	else if (bytes && bytes % 1024 == 0)
		snprintf(buf, len, "%" PRIu64 " KiB", bytes >> 10);
	else
		snprintf(buf, len, "%" PRIu64 " B", bytes);
	return buf;
}

static void print_verify_line(const char *prefix, const struct verify_result *r, int rc)
{
	char size[32];
	printf("%s%sverified %" PRIu64 " LBAs (%s), mismatches %" PRIu64 ", failed %" PRIu64 "%s%s%s\n",
	       prefix ? prefix : "", prefix ? ": " : "", r->verified, size_text(r->verified_bytes, size, sizeof(size)),
	       r->mismatches, r->failed, rc < 0 ? " (stopped early: " : "", rc < 0 ? strerror(-rc) : "", rc < 0 ? ")" : "");
}

/* One pass over the range: write (stamp) or read (check), qdepth commands in flight. */
static int verify_pass(const struct perf_args *a, struct perf_dev *d, struct bio_queue *q, struct verify_slot *slots,
		       bool write, struct verify_result *res, const char *dev)
{
	unsigned shift = d->lba_shift;
	uint64_t next = 0, end = d->nlbas;
	unsigned inflight = 0;
	for (;;) {
		for (unsigned i = 0; i < a->qdepth && next < end; i++) {
			struct verify_slot *s = &slots[i];
			if (s->busy)
				continue;
			s->lba = d->first_lba + next;
			s->nlb = (uint32_t)(end - next < d->nlb ? end - next : d->nlb);
			if (write)
				stamp_fill(s->buf, a->seed, s->lba, s->nlb, shift);
			else
				memset(s->buf, 0, (size_t)s->nlb << shift);
			int rc = bio_queue_rw(q, write, s->lba, s->nlb, s->buf, verify_cb, s);
			if (rc < 0)
				s->nlb = 0; /* not sent: the completion scan must not take it for done */
			if (rc == -EAGAIN && !inflight) {
				/* every command id is held by a command that timed out and never
				 * completed: the device is not answering */
				fprintf(stderr, "aisio perf verify: %s: no command slot left, all held by timed-out commands\n",
					dev);
				return -ETIMEDOUT;
			}
			if (rc == -EAGAIN)
				break;
			if (rc < 0)
				return rc;
			s->busy = 1;
			inflight++;
			next += s->nlb;
		}
		int n = bio_queue_submit(q);
		if (n < 0)
			return n;
		if (!inflight && next >= end)
			break;
		n = bio_queue_poll(q, a->qdepth);
		if (n < 0)
			return n;
		if (n == 0) {
			sched_yield();
			continue;
		}
		for (unsigned i = 0; i < a->qdepth; i++) {
			struct verify_slot *s = &slots[i];
			if (s->busy || !s->nlb)
				continue;
			inflight--;
			if (s->err) {
				res->failed += s->nlb;
				fprintf(stderr, "aisio perf verify: %s: %s of LBAs %" PRIu64 "..%" PRIu64 " failed: %s%s%s\n", dev,
					write ? "write" : "read", s->lba, s->lba + s->nlb - 1, strerror(-s->err),
					s->err == -EIO ? ": " : "", s->err == -EIO ? nvmed_status_str(s->status) : "");
			} else if (!write) {
				uint64_t first = 0;
				uint64_t bad = stamp_check(s->buf, a->seed, s->lba, s->nlb, shift, &first);
				if (bad && !res->mismatches)
					res->first_bad = first;
				res->mismatches += bad;
				res->verified += s->nlb - bad;
				res->verified_bytes += (uint64_t)(s->nlb - bad) << shift;
			}
			s->nlb = 0;
		}
	}
	return 0;
}

static int perf_verify(struct perf_args *a)
{
	struct perf_dev devs[MAX_DEVS];
	memset(devs, 0, sizeof(devs));
	struct verify_result total = {0}, per_dev[MAX_DEVS];
	memset(per_dev, 0, sizeof(per_dev));
	const char *backends[MAX_DEVS] = {0};
	unsigned verified_devs = 0;
	int rc = 0;
	unsigned opened = 0;
	for (unsigned i = 0; i < a->ndevs; i++) {
		struct perf_dev *d = &devs[i];
		size_t dma = (size_t)a->qdepth * (a->iosize ? a->iosize : (128u << 10)) + (16u << 20);
		rc = open_dev(a, i, true, true, a->iosize, dma, d);
		opened++;
		if (rc < 0)
			break;
		/* default range: the whole namespace, at most 1 GiB */
		if (!a->size && (d->nlbas << d->lba_shift) > (1ull << 30))
			d->nlbas = (1ull << 30) >> d->lba_shift;
		struct perf_args use = *a;
		if (use.qdepth > bio_dev_max_qdepth(d->bd))
			use.qdepth = bio_dev_max_qdepth(d->bd);
		/* an I/O split over MDTS holds several commands: room for all of them */
		unsigned max_depth = bio_dev_max_qdepth(d->bd);
		if (d->cmds_per_io > max_depth) {
			fprintf(stderr, "aisio perf verify: %s: --iosize %u is %u commands (MDTS %u bytes), more than one "
				"queue holds (%u, CAP.MQES)\n", a->devs[i], d->iosize, d->cmds_per_io, d->cmd_bytes, max_depth);
			rc = -EINVAL;
			break;
		}
		unsigned depth = use.qdepth * d->cmds_per_io < max_depth ? use.qdepth * d->cmds_per_io : max_depth;
		struct bio_queue *q;
		rc = bio_queue_create(d->bd, depth, &q);
		if (rc < 0) {
			fprintf(stderr, "aisio perf verify: %s: cannot create a queue of depth %u: %s\n", a->devs[i], depth,
				strerror(-rc));
			break;
		}
		struct verify_slot *slots = calloc(use.qdepth, sizeof(*slots));
		for (unsigned s = 0; slots && s < use.qdepth; s++) {
			slots[s].buf = bio_dev_buf_alloc(d->bd, d->iosize);
			if (!slots[s].buf)
				rc = -ENOMEM;
		}
		struct verify_result res = {0};
		if (!slots)
			rc = -ENOMEM;
		if (rc == 0)
			rc = verify_pass(&use, d, q, slots, true, &res, a->devs[i]);
		if (rc == 0)
			rc = verify_pass(&use, d, q, slots, false, &res, a->devs[i]);
		if (rc < 0)
			fprintf(stderr, "aisio perf verify: %s: %s\n", a->devs[i], strerror(-rc));
		if (res.mismatches)
			fprintf(stderr, "aisio perf verify: %s: first mismatching LBA %" PRIu64 "\n", a->devs[i], res.first_bad);
		if (!a->json)
			print_verify_line(a->devs[i], &res, 0);
		total.verified += res.verified, total.mismatches += res.mismatches, total.failed += res.failed;
		total.verified_bytes += res.verified_bytes;
		per_dev[i] = res;
		backends[i] = bio_dev_backend(d->bd); /* a string constant: outlives the device */
		verified_devs = i + 1;
		bio_queue_destroy(q);
		for (unsigned s = 0; slots && s < use.qdepth; s++)
			if (slots[s].buf)
				bio_dev_buf_free(d->bd, slots[s].buf);
		free(slots);
		if (rc < 0)
			break;
	}
	close_devs(devs, opened);
	if (a->json) {
		char date[64];
		iso_date(date, sizeof(date));
		printf("{\"tool\": \"aisio perf verify\", \"version\": \"%s\", \"date\": \"%s\", \"machine\": ", AISIO_VERSION,
		       date);
		json_machine(stdout);
		printf(", \"devices\": [");
		for (unsigned i = 0; i < verified_devs; i++) {
			printf("%s{\"name\": ", i ? ", " : "");
			json_string(stdout, a->devs[i]);
			printf(", \"backend\": \"%s\", \"verified\": %" PRIu64 ", \"mismatches\": %" PRIu64 ", \"failed\": %" PRIu64 "}",
			       backends[i], per_dev[i].verified, per_dev[i].mismatches, per_dev[i].failed);
		}
		printf("], \"verified\": %" PRIu64 ", \"mismatches\": %" PRIu64 ", \"failed\": %" PRIu64 ", \"error\": %d}\n",
		       total.verified, total.mismatches, total.failed, rc);
	} else if (verified_devs) {
		/* a device refused before any I/O has said why; there is nothing to count */
		print_verify_line(NULL, &total, rc);
	}
	return (rc < 0 || total.mismatches || total.failed) ? 1 : 0;
}

int cmd_perf(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		perf_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *verb = argv[1];
	if (!strcmp(verb, "cuda-run") || !strcmp(verb, "cuda-verify")) {
#ifdef AISIO_HAVE_CMD_GPU
		return cmd_perf_cuda(argc - 1, argv + 1);
#else
		fprintf(stderr, "aisio perf %s: this build has no GPU support (CUDA was not found at build time)\n", verb);
		return 2;
#endif
	}
	bool verify = !strcmp(verb, "verify");
	if (!verify && strcmp(verb, "run")) {
		fprintf(stderr, "aisio perf: unknown command '%s' (run, verify, cuda-run, cuda-verify)\n", verb);
		return 2;
	}
	struct perf_args a;
	if (perf_parse(&a, argc - 1, argv + 1, verify) < 0)
		return 2;
	return verify ? perf_verify(&a) : perf_run(&a, argc, argv);
}
