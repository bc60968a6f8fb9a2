/* SPDX-License-Identifier: BSD-3-Clause */
/* Latency histograms, a cycle clock, what a result records about the machine, and the verify line. */
#ifndef AISIO_TOOLS_PERF_STATS_H
#define AISIO_TOOLS_PERF_STATS_H

#include <stdint.h>
#include "json.h"

#include <stdio.h>
#include <time.h>

/* Log-linear histogram of nanoseconds: exact below 64, then 32 buckets per power of two (~3%). */
#define LAT_SUB_BITS 5
#define LAT_BUCKETS (64 + 58 * 32)

struct lat_hist {
	uint64_t count;
	uint64_t sum_ns;
	uint64_t max_ns;
	uint64_t bucket[LAT_BUCKETS];
};

void lat_hist_add(struct lat_hist *h, uint64_t ns);
void lat_hist_merge(struct lat_hist *dst, const struct lat_hist *src);
/* Value at quantile q (0..1) in nanoseconds; 0 when empty. */
uint64_t lat_hist_quantile(const struct lat_hist *h, double q);

/* A cheap monotonic cycle counter and its rate, measured once. */
static inline uint64_t cycles_now(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __builtin_ia32_rdtsc();
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#endif
}

struct cycle_clock {
	double ns_per_cycle;
	double hz;
};
void cycle_clock_calibrate(struct cycle_clock *cc);

/* "machine" object for JSON: host, CPU model, CPU count, kernel. And the date. */
void json_machine(FILE *f);
void iso_date(char *buf, size_t len);

/* The line every verify prints (perf verify, cuda-verify), "[PREFIX: ]verified N LBAs (X MiB), mismatches M,
 * failed F", with " (stopped early: REASON)" when rc < 0. Counts are LBAs; bytes those verified. */
void verify_line_print(FILE *f, const char *prefix, uint64_t verified, uint64_t bytes, uint64_t mismatches,
		       uint64_t failed, int rc);

#endif
