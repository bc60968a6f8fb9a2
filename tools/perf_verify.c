/* SPDX-License-Identifier: BSD-3-Clause */
/* aisio perf verify: LBA-stamped blocks (aisio/stamp.h, the stamp of every path) written over the range, read
 * back and compared. */
#include "perf.h"
#include "perf_stats.h"

#include <aisio/bio.h>
#include <aisio/nvmed.h>
#include <aisio/stamp.h>
#include <aisio_version.h>

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
				fprintf(stderr,
					"aisio perf verify: %s: no command slot left, all held by timed-out commands\n",
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
				fprintf(stderr,
					"aisio perf verify: %s: %s of LBAs %" PRIu64 "..%" PRIu64 " failed: %s%s%s\n",
					dev, write ? "write" : "read", s->lba, s->lba + s->nlb - 1, strerror(-s->err),
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

int perf_verify(struct perf_args *a)
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
			fprintf(stderr,
				"aisio perf verify: %s: --iosize %u is %u commands (MDTS %u bytes), more than one "
				"queue holds (%u, CAP.MQES)\n",
				a->devs[i], d->iosize, d->cmds_per_io, d->cmd_bytes, max_depth);
			rc = -EINVAL;
			break;
		}
		unsigned depth = use.qdepth * d->cmds_per_io < max_depth ? use.qdepth * d->cmds_per_io : max_depth;
		struct bio_queue *q;
		rc = bio_queue_create(d->bd, depth, &q);
		if (rc < 0) {
			fprintf(stderr, "aisio perf verify: %s: cannot create a queue of depth %u: %s\n", a->devs[i],
				depth, strerror(-rc));
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
			fprintf(stderr, "aisio perf verify: %s: first mismatching LBA %" PRIu64 "\n", a->devs[i],
				res.first_bad);
		if (!a->json)
			verify_line_print(stdout, a->devs[i], res.verified, res.verified_bytes, res.mismatches,
					  res.failed, 0);
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
		printf("{\"tool\": \"aisio perf verify\", \"version\": \"%s\", \"date\": \"%s\", \"machine\": ",
		       AISIO_VERSION, date);
		json_machine(stdout);
		printf(", \"devices\": [");
		for (unsigned i = 0; i < verified_devs; i++) {
			printf("%s{\"name\": ", i ? ", " : "");
			json_string(stdout, a->devs[i]);
			printf(", \"backend\": \"%s\", \"verified\": %" PRIu64 ", \"mismatches\": %" PRIu64
			       ", \"failed\": %" PRIu64 "}",
			       backends[i], per_dev[i].verified, per_dev[i].mismatches, per_dev[i].failed);
		}
		printf("], \"verified\": %" PRIu64 ", \"mismatches\": %" PRIu64 ", \"failed\": %" PRIu64
		       ", \"error\": %d}\n",
		       total.verified, total.mismatches, total.failed, rc);
	} else if (verified_devs) {
		/* a device refused before any I/O has said why; there is nothing to count */
		verify_line_print(stdout, NULL, total.verified, total.verified_bytes, total.mismatches, total.failed,
				  rc);
	}
	return (rc < 0 || total.mismatches || total.failed) ? 1 : 0;
}
