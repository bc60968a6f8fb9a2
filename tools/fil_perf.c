/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aisio fil perf: read a dataset in batches through a fil backend, as a training loader would, and
 * say how fast and at what CPU cost: a line per second (on a terminal, redrawn in place with a progress
 * bar), then files/s, MiB/s, IOPS (the backend's read commands), batch latency (the wait in fil_next)
 * p50/p99, and CPU seconds per GiB (user + sys of the whole process, getrusage).
 */
#include "commands.h"
#include "json.h"

#include <aisio/clock.h>
#include <aisio/fil.h>
#ifdef AISIO_HAVE_GPU
#include <aisio/fil_gpu.h>
#endif

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: aisio fil perf [options] DIR\n"
		"  --backend B        posix | posix-direct | posix-uring | aisio-cpu | aisio-gpu | gds (default posix)\n"
		"  --mem host|cuda    where batches live (default host; aisio-gpu and gds: cuda). cuda with a posix\n"
		"                     backend: read into pinned memory and copied with cudaMemcpyAsync\n"
		"  --gpu-queues N     aisio-gpu: queue pairs the GPU threads share (default 32)\n"
		"  --ceiling          measure the host-to-GPU copy ceiling first and report it\n"
		"  --batch-size N     files per batch (default 32)\n"
		"  --batches N        batches to time, over epochs as needed (default: --epochs whole epochs)\n"
		"  --epochs N         whole epochs when --batches is not given (default 1)\n"
		"  --warmup N         batches read first and not counted (default 0)\n"
		"  --inflight K       batches in flight (default 4)\n"
		"  --threads N        worker threads (default one per CPU)\n"
		"  --qdepth N         aisio-cpu: commands in flight per thread (default 64)\n"
		"  --shuffle --seed N seeded per-epoch shuffle\n"
		"  --rank R --world-size W   this rank's shard\n"
		"  --device DEV --xal-source SRC [--xal-mount DIR] [--nsid N]   aisio-cpu, aisio-gpu: the device\n"
		"                     string (aisio-gpu: gpuemu:host,file=IMAGE) and the file system's XAL\n"
		"                     source (the image or device, or a mount point)\n"
		"  --verify           check every file against a plain read (slower; off for figures)\n"
		"  --json             one JSON object instead of the lines and the summary\n");
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Next batch, moving to the next epoch at the end of one. */
static int next_batch(struct fil_dataset *ds, struct fil_batch **b)
{
	for (;;) {
		int rc = fil_next(ds, b, 30000);
		if (rc == -ENODATA) {
			rc = fil_epoch_next(ds);
			if (rc < 0)
				return rc;
			continue;
		}
		return rc;
	}
}

int cmd_fil_perf(int argc, char **argv)
{
	enum {
		O_BACKEND = 256,
		O_BS,
		O_BATCHES,
		O_EPOCHS,
		O_WARMUP,
		O_INFLIGHT,
		O_THREADS,
		O_QD,
		O_SHUFFLE,
		O_SEED,
		O_RANK,
		O_WORLD,
		O_DEVICE,
		O_XSRC,
		O_XMNT,
		O_NSID,
		O_VERIFY,
		O_JSON,
		O_MEM,
		O_GPUQ,
		O_CEILING
	};
	static const struct option lo[] = {{"backend", required_argument, NULL, O_BACKEND},
					   {"batch-size", required_argument, NULL, O_BS},
					   {"batches", required_argument, NULL, O_BATCHES},
					   {"epochs", required_argument, NULL, O_EPOCHS},
					   {"warmup", required_argument, NULL, O_WARMUP},
					   {"inflight", required_argument, NULL, O_INFLIGHT},
					   {"threads", required_argument, NULL, O_THREADS},
					   {"qdepth", required_argument, NULL, O_QD},
					   {"shuffle", no_argument, NULL, O_SHUFFLE},
					   {"seed", required_argument, NULL, O_SEED},
					   {"rank", required_argument, NULL, O_RANK},
					   {"world-size", required_argument, NULL, O_WORLD},
					   {"device", required_argument, NULL, O_DEVICE},
					   {"xal-source", required_argument, NULL, O_XSRC},
					   {"xal-mount", required_argument, NULL, O_XMNT},
					   {"nsid", required_argument, NULL, O_NSID},
					   {"verify", no_argument, NULL, O_VERIFY},
					   {"json", no_argument, NULL, O_JSON},
					   {"mem", required_argument, NULL, O_MEM},
					   {"gpu-queues", required_argument, NULL, O_GPUQ},
					   {"ceiling", no_argument, NULL, O_CEILING},
					   {"help", no_argument, NULL, 'h'},
					   {0}};
	struct fil_opts o = {.backend = FIL_BACKEND_POSIX_BUFFERED};
	unsigned long batches = 0, epochs = 1, warmup = 0;
	bool json = false, ceiling_on = false;
	double ceiling = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		char *end = NULL;
		unsigned long v = optarg ? strtoul(optarg, &end, 0) : 0;
		bool num_ok = optarg && *optarg && !*end && optarg[0] != '-';
		switch (c) {
		case O_BACKEND:
			if (fil_backend_parse(optarg, &o.backend) < 0) {
				fprintf(stderr, "aisio fil perf: unknown backend '%s'\n", optarg);
				return 2;
			}
			continue;
		case O_DEVICE: o.device = optarg; continue;
		case O_XSRC: o.xal_source = optarg; continue;
		case O_XMNT: o.xal_mount = optarg; continue;
		case O_SHUFFLE: o.shuffle = true; continue;
		case O_VERIFY: o.verify = true; continue;
		case O_JSON: json = true; continue;
		case O_CEILING: ceiling_on = true; continue;
		case O_MEM:
			if (!strcmp(optarg, "host")) {
				o.mem = FIL_MEM_HOST;
			} else if (!strcmp(optarg, "cuda")) {
				o.mem = FIL_MEM_CUDA;
			} else {
				fprintf(stderr, "aisio fil perf: --mem host or cuda, not '%s'\n", optarg);
				return 2;
			}
			continue;
		case 'h': usage(stdout); return 0;
		case O_BS:
		case O_BATCHES:
		case O_EPOCHS:
		case O_WARMUP:
		case O_INFLIGHT:
		case O_THREADS:
		case O_QD:
		case O_SEED:
		case O_RANK:
		case O_WORLD:
		case O_NSID:
		case O_GPUQ:
			if (!num_ok || v > 0xffffffffu) {
				fprintf(stderr, "aisio fil perf: --%s needs a number, got '%s'\n",
					lo[c - O_BACKEND].name, optarg);
				return 2;
			}
			break;
		default: usage(stderr); return 2;
		}
		switch (c) {
		case O_BS: o.batch_size = (unsigned)v; break;
		case O_BATCHES: batches = v; break;
		case O_EPOCHS: epochs = v; break;
		case O_WARMUP: warmup = v; break;
		case O_INFLIGHT: o.batches_in_flight = (unsigned)v; break;
		case O_THREADS: o.threads = (unsigned)v; break;
		case O_QD: o.queue_depth = (unsigned)v; break;
		case O_SEED: o.seed = v; break;
		case O_RANK: o.rank = (unsigned)v; break;
		case O_WORLD: o.world_size = (unsigned)v; break;
		case O_NSID: o.nsid = (uint32_t)v; break;
		case O_GPUQ: o.gpu_queues = (unsigned)v; break;
		}
	}
	if (optind != argc - 1 || (!batches && !epochs)) {
		usage(stderr);
		return 2;
	}
	o.path = argv[optind];
#ifdef AISIO_HAVE_GPU
	o.gpu = fil_gpu_backends();
	if (ceiling_on)
		ceiling = gpu_h2d_ceiling_gbs();
#else
	if (ceiling_on) {
		fprintf(stderr, "aisio fil perf: --ceiling needs a build with CUDA\n");
		return 2;
	}
#endif
	struct fil_dataset *ds;
	int rc = fil_dataset_open(&ds, &o);
	if (rc < 0) {
		fprintf(stderr, "aisio fil perf: cannot open the dataset %s: %s\n", o.path, strerror(-rc));
		return 1;
	}
	if (!batches)
		batches = (unsigned long)(epochs * fil_epoch_batches(ds));
	double *lat = calloc(batches ? batches : 1, sizeof(double));
	if (!lat) {
		fil_dataset_close(ds);
		return 1;
	}
	/* aisio-gpu and gds always deliver into GPU memory */
	const bool mem_cuda = o.mem == FIL_MEM_CUDA || o.backend == FIL_BACKEND_AISIO_GPU ||
			      o.backend == FIL_BACKEND_GDS;
	struct fil_batch *b;
	for (unsigned long i = 0; i < warmup && rc == 0; i++) {
		rc = next_batch(ds, &b);
		if (b)
			fil_batch_release(ds, b);
	}
	uint64_t files = 0, bytes = 0, sec_files = 0, sec_bytes = 0, sec_batches = 0;
	struct fil_stats st0;
	fil_dataset_stats(ds, &st0);
	uint64_t sec_ios0 = st0.ios;
	bool tty = !json && isatty(STDOUT_FILENO);
	double t0 = aisio_mono_s(), c0 = cpu_s(), tick = t0 + 1;
	unsigned long done = 0;
	while (rc == 0 && done < batches) {
		double a = aisio_mono_s();
		rc = next_batch(ds, &b);
		lat[done] = aisio_mono_s() - a;
		if (b) {
			if (rc == 0) {
				files += b->count;
				sec_files += b->count;
				for (unsigned k = 0; k < b->count; k++) {
					bytes += b->lengths[k];
					sec_bytes += b->lengths[k];
				}
			} else {
				fprintf(stderr, "aisio fil perf: batch at %" PRIu64 " of epoch %" PRIu64 ": %s\n",
					b->index, b->epoch, b->error ? b->error : strerror(-rc));
			}
			fil_batch_release(ds, b);
		}
		done++;
		sec_batches++;
		double t = aisio_mono_s();
		if (t >= tick && !json) {
			double span = t - tick + 1;
			struct fil_stats sn;
			fil_dataset_stats(ds, &sn);
			char bar[32] = "";
			if (tty) {
				unsigned k = (unsigned)(done * 20 / batches);
				snprintf(bar, sizeof(bar), " [%-20.*s] %3lu%%", (int)k,
					 "====================", done * 100 / batches);
			}
			printf("%s%6.0f s: %6" PRIu64 " batches, %9.0f files/s, %9.1f MiB/s, %9.0f IOPS%s%s",
			       tty ? "\r" : "", t - t0, sec_batches, (double)sec_files / span,
			       (double)sec_bytes / span / 1048576.0, (double)(sn.ios - sec_ios0) / span, bar,
			       tty ? "" : "\n");
			fflush(stdout);
			sec_ios0 = sn.ios;
			sec_files = sec_bytes = sec_batches = 0;
			tick = t + 1;
		}
	}
	double secs = aisio_mono_s() - t0, cpu = cpu_s() - c0;
	struct fil_stats st;
	fil_dataset_stats(ds, &st);
	double iops = (double)(st.ios - st0.ios) / secs; /* a read still in flight for the next batch counts */
	if (tty && secs >= 1)
		printf("\n");
	qsort(lat, done ? done : 1, sizeof(double), cmp_d);
	double p50 = done ? lat[done / 2] * 1e3 : 0, p99 = done ? lat[(done * 99) / 100] * 1e3 : 0;
	double gib = (double)bytes / (1u << 30);
	if (json) {
		printf("{\"dataset\": ");
		json_string(stdout, o.path);
		printf(", \"backend\": \"%s\", \"batch_size\": %u, \"batches\": %lu, \"files\": %" PRIu64
		       ", \"bytes\": %" PRIu64
		       ", \"seconds\": %.3f, \"files_per_s\": %.1f, \"mib_per_s\": %.1f, \"iops\": %.1f, "
		       "\"batch_wait_ms_p50\": %.3f, \"batch_wait_ms_p99\": %.3f, \"cpu_s\": %.3f, \"cpu_s_per_gib\": %.3f, "
		       "\"files_fallback\": %" PRIu64 ", \"threads\": %u, \"verify\": %s, \"mem\": \"%s\", "
		       "\"h2d_ceiling_gb_per_s\": %.2f, \"error\": %d}\n",
		       fil_backend_str(o.backend), o.batch_size ? o.batch_size : 32, done, files, bytes, secs,
		       (double)files / secs, (double)bytes / secs / 1048576.0, iops, p50, p99, cpu,
		       gib > 0 ? cpu / gib : 0, st.files_fallback,
		       o.threads ? o.threads : (unsigned)sysconf(_SC_NPROCESSORS_ONLN), o.verify ? "true" : "false",
		       mem_cuda ? "cuda" : "host", ceiling, rc);
	} else {
		printf("%s, %s: %lu batches, %" PRIu64
		       " files, %.1f MiB in %.2f s: %.0f files/s, %.1f MiB/s, %.0f IOPS; batch wait "
		       "p50 %.3f ms p99 %.3f ms; CPU %.2f s, %.2f s/GiB%s\n",
		       o.path, fil_backend_str(o.backend), done, files, (double)bytes / 1048576.0, secs,
		       (double)files / secs, (double)bytes / secs / 1048576.0, iops, p50, p99, cpu,
		       gib > 0 ? cpu / gib : 0, o.verify ? " (verify on)" : "");
		if (st.files_fallback)
			printf("  %" PRIu64 " files read by posix (extents not raw-readable)\n", st.files_fallback);
		if (mem_cuda)
			printf("  batches in GPU memory\n");
		if (ceiling > 0)
			printf("  host-to-GPU copy ceiling %.2f GB/s: %.1f%% of it\n", ceiling,
			       100.0 * (double)bytes / secs / 1e9 / ceiling);
	}
	free(lat);
	fil_dataset_close(ds);
	if (rc < 0)
		fprintf(stderr, "aisio fil perf: stopped: %s\n", strerror(-rc));
	return rc < 0;
}
