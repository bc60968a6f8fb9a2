/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Monotonic time for bounded waits, deadlines and timings: the one definition for the library, the
 * daemon and the tools. (The driver's hot path keeps its own coarse clock, nvmed_now_ms: a cheaper
 * read, enough for timeouts in milliseconds.)
 */
#ifndef AISIO_CLOCK_H
#define AISIO_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t aisio_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t aisio_mono_ms(void)
{
	return aisio_mono_ns() / 1000000u;
}

static inline double aisio_mono_s(void)
{
	return (double)aisio_mono_ns() / 1e9;
}

#endif /* AISIO_CLOCK_H */
