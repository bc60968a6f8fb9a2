/* SPDX-License-Identifier: BSD-3-Clause */
#include <aisio/clock.h>
#include "perf_stats.h"

#include <inttypes.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static unsigned lat_bucket(uint64_t ns)
{
	if (ns < 64)
		return (unsigned)ns;
	unsigned msb = 63u - (unsigned)__builtin_clzll(ns);
	unsigned sub = (unsigned)(ns >> (msb - LAT_SUB_BITS)) & 31u;
	unsigned idx = 64u + (msb - 6u) * 32u + sub;
	return idx < LAT_BUCKETS ? idx : LAT_BUCKETS - 1;
}

/* Lower bound of a bucket, plus half its width: the value we report for it. */
static uint64_t lat_bucket_value(unsigned idx)
{
	if (idx < 64)
		return idx;
	unsigned msb = (idx - 64u) / 32u + 6u;
	uint64_t sub = (idx - 64u) % 32u;
	uint64_t lo = (1ull << msb) | (sub << (msb - LAT_SUB_BITS));
	return lo + ((1ull << (msb - LAT_SUB_BITS)) >> 1);
}

void lat_hist_add(struct lat_hist *h, uint64_t ns)
{
	h->bucket[lat_bucket(ns)]++;
	h->count++;
	h->sum_ns += ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

void lat_hist_merge(struct lat_hist *dst, const struct lat_hist *src)
{
	for (unsigned i = 0; i < LAT_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
}

uint64_t lat_hist_quantile(const struct lat_hist *h, double q)
{
	if (!h->count)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)h->count);
	if (rank >= h->count - 1)
		return h->max_ns; /* the top sample is known exactly */
	uint64_t seen = 0;
	for (unsigned i = 0; i < LAT_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen > rank) {
			uint64_t v = lat_bucket_value(i);
			return v < h->max_ns ? v : h->max_ns;
		}
	}
	return h->max_ns;
}

void cycle_clock_calibrate(struct cycle_clock *cc)
{
	double t0 = aisio_mono_s();
	uint64_t c0 = cycles_now();
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
	double t1 = aisio_mono_s();
	uint64_t c1 = cycles_now();
	cc->hz = (double)(c1 - c0) / (t1 - t0);
	cc->ns_per_cycle = 1e9 / cc->hz;
}

void json_machine(FILE *f)
{
	struct utsname u;
	uname(&u);
	char model[256] = "unknown";
	FILE *ci = fopen("/proc/cpuinfo", "r");
	if (ci) {
		char line[512];
		while (fgets(line, sizeof(line), ci)) {
			if (!strncmp(line, "model name", 10)) {
				char *p = strchr(line, ':');
				if (p) {
					p += 2;
					p[strcspn(p, "\n")] = 0;
					snprintf(model, sizeof(model), "%s", p);
				}
				break;
			}
		}
		fclose(ci);
	}
	fprintf(f, "{\"hostname\": ");
	json_string(f, u.nodename);
	fprintf(f, ", \"cpu\": ");
	json_string(f, model);
	fprintf(f, ", \"cpus\": %ld, \"kernel\": ", sysconf(_SC_NPROCESSORS_ONLN));
	json_string(f, u.release);
	fprintf(f, ", \"arch\": ");
	json_string(f, u.machine);
	fprintf(f, "}");
}

void iso_date(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

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

void verify_line_print(FILE *f, const char *prefix, uint64_t verified, uint64_t bytes, uint64_t mismatches,
		       uint64_t failed, int rc)
{
	char size[32];
	fprintf(f, "%s%sverified %" PRIu64 " LBAs (%s), mismatches %" PRIu64 ", failed %" PRIu64 "%s%s%s\n",
		prefix ? prefix : "", prefix ? ": " : "", verified, size_text(bytes, size, sizeof(size)), mismatches,
		failed, rc < 0 ? " (stopped early: " : "", rc < 0 ? strerror(-rc) : "", rc < 0 ? ")" : "");
}
