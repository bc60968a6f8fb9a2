/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test driver of lib/fil: iterate a dataset and print one line per delivered file
 *   F EPOCH INDEX FILE LABEL LENGTH HASH PATH
 * one per failed batch
 *   E EPOCH INDEX ERRNO-NAME MESSAGE
 * and, at the end, the position:
 *   P EPOCH INDEX
 * and the counters (fil_dataset_stats):
 *   S FILES BYTES FALLBACK FAILED-BATCHES
 * Each delivered file is compared with a stdio read of its path, the padding after it must be
 * zero, and the previous batch is held until the next one has come and is checked again then
 * (a later batch, failed or not, must not touch it). Exit 0 when every batch came out whole,
 * 3 when some failed (as E lines say), 1 on a failure of the check itself or of the open.
 *
 * usage: fil-read [--backend B] [--batch N] [--inflight K] [--threads T] [--shuffle] [--seed S]
 *                 [--rank R --world W] [--verify] [--epochs E] [--start E:I] [--batches N]
 *                 [--device D --xal SRC --mount DIR] [--grow PATH] DATASET
 */
#include <aisio/fil.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_file(const struct fil_batch *b, unsigned i)
{
	FILE *f = fopen(b->paths[i], "rb");
	if (!f) {
		fprintf(stderr, "fil-read: CHECK %s: %s\n", b->paths[i], strerror(errno));
		return -1;
	}
	uint64_t len = b->lengths[i];
	unsigned char *buf = malloc(len + 1);
	size_t n = buf ? fread(buf, 1, len + 1, f) : 0;
	fclose(f);
	int rc = 0;
	if (!buf || n != len || memcmp(buf, b->data + b->offsets[i], len) != 0) {
		fprintf(stderr, "fil-read: CHECK %s: delivered bytes differ from a stdio read (%zu vs %" PRIu64 ")\n",
			b->paths[i], n, len);
		rc = -1;
	}
	free(buf);
	uint64_t end = i + 1 < b->count ? b->offsets[i + 1] : b->data_len;
	for (uint64_t k = b->offsets[i] + len; rc == 0 && k < end; k++) {
		if (b->data[k]) {
			fprintf(stderr, "fil-read: CHECK %s: padding byte %" PRIu64 " not zero\n", b->paths[i], k);
			rc = -1;
		}
	}
	return rc;
}

static int check_batch(const struct fil_batch *b)
{
	for (unsigned i = 0; i < b->count; i++)
		if (check_file(b, i) < 0)
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct fil_opts o = {.batch_size = 8, .batches_in_flight = 3, .threads = 2};
	unsigned epochs = 1;
	long batches = -1;
	const char *grow = NULL, *start = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--shuffle") == 0) {
			o.shuffle = true;
		} else if (strcmp(a, "--verify") == 0) {
			o.verify = true;
		} else if (a[0] == '-' && a[1] == '-' && !v) {
			fprintf(stderr, "fil-read: %s needs a value\n", a);
			return 1;
		} else if (strcmp(a, "--backend") == 0) {
			if (fil_backend_parse(v, &o.backend) < 0) {
				fprintf(stderr, "fil-read: unknown backend %s\n", v);
				return 1;
			}
			i++;
		} else if (strcmp(a, "--batch") == 0) {
			o.batch_size = (unsigned)strtoul(argv[++i], NULL, 0);
		} else if (strcmp(a, "--inflight") == 0) {
			o.batches_in_flight = (unsigned)strtoul(argv[++i], NULL, 0);
		} else if (strcmp(a, "--threads") == 0) {
			o.threads = (unsigned)strtoul(argv[++i], NULL, 0);
		} else if (strcmp(a, "--seed") == 0) {
			o.seed = strtoull(argv[++i], NULL, 0);
		} else if (strcmp(a, "--rank") == 0) {
			o.rank = (unsigned)strtoul(argv[++i], NULL, 0);
		} else if (strcmp(a, "--world") == 0) {
			o.world_size = (unsigned)strtoul(argv[++i], NULL, 0);
		} else if (strcmp(a, "--epochs") == 0) {
			epochs = (unsigned)strtoul(argv[++i], NULL, 0);
		} else if (strcmp(a, "--batches") == 0) {
			batches = strtol(argv[++i], NULL, 0);
		} else if (strcmp(a, "--start") == 0) {
			start = argv[++i];
		} else if (strcmp(a, "--device") == 0) {
			o.device = argv[++i];
		} else if (strcmp(a, "--xal") == 0) {
			o.xal_source = argv[++i];
		} else if (strcmp(a, "--mount") == 0) {
			o.xal_mount = argv[++i];
		} else if (strcmp(a, "--grow") == 0) {
			grow = argv[++i];
		} else if (a[0] == '-') {
			fprintf(stderr, "fil-read: unknown option %s\n", a);
			return 1;
		} else {
			o.path = a;
		}
	}
	struct fil_dataset *ds;
	int rc = fil_dataset_open(&ds, &o);
	if (rc < 0) {
		fprintf(stderr, "fil-read: open %s: %s\n", o.path ? o.path : "(none)", strerror(-rc));
		return 1;
	}
	struct fil_position pos = {0};
	if (start) {
		if (sscanf(start, "%" SCNu64 ":%" SCNu64, &pos.epoch, &pos.index) != 2 ||
		    fil_position_set(ds, &pos) < 0) {
			fprintf(stderr, "fil-read: bad start %s\n", start);
			fil_dataset_close(ds);
			return 1;
		}
	}
	int status = 0;
	struct fil_batch *prev = NULL;
	long seen = 0;
	for (unsigned e = 0; e < epochs && status != 1; e++) {
		if (e > 0 && (rc = fil_epoch_next(ds)) < 0) {
			status = 1;
			break;
		}
		while (batches < 0 || seen < batches) {
			struct fil_batch *b;
			rc = fil_next(ds, &b, 20000);
			if (prev) {
				if (check_batch(prev) < 0)
					status = 1;
				fil_batch_release(ds, prev);
				prev = NULL;
			}
			if (rc == -ENODATA)
				break;
			if (!b) {
				fprintf(stderr, "fil-read: fil_next: %s\n", strerror(-rc));
				status = 1;
				break;
			}
			seen++;
			if (rc < 0) {
				printf("E %" PRIu64 " %" PRIu64 " %s %s\n", b->epoch, b->index, strerrorname_np(-rc),
				       b->error);
				status = status ? status : 3;
				fil_batch_release(ds, b);
				continue;
			}
			for (unsigned i = 0; i < b->count; i++)
				printf("F %" PRIu64 " %" PRIu64 " %u %d %" PRIu64 " %016" PRIx64 " %s\n", b->epoch,
				       b->index + i, b->files[i], b->labels[i], b->lengths[i],
				       fil_hash64(b->data + b->offsets[i], b->lengths[i]), b->paths[i]);
			if (check_batch(b) < 0)
				status = 1;
			prev = b;
			if (grow && seen == 1) {
				FILE *f = fopen(grow, "ab");
				if (!f || fputs("grown", f) < 0 || fclose(f) != 0) {
					fprintf(stderr, "fil-read: cannot grow %s\n", grow);
					status = 1;
				}
			}
		}
	}
	if (prev) {
		if (check_batch(prev) < 0)
			status = 1;
		fil_batch_release(ds, prev);
	}
	fil_position_get(ds, &pos);
	printf("P %" PRIu64 " %" PRIu64 "\n", pos.epoch, pos.index);
	struct fil_stats st;
	fil_dataset_stats(ds, &st);
	printf("S %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", st.files, st.bytes, st.files_fallback,
	       st.batches_failed);
	fil_dataset_close(ds);
	return status;
}
