/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC32c throughput on XFS metadata sizes: the implementation the library was built with
 * (xal_crc32c: ISA-L's crc32_iscsi, or the SSE4.2 instruction) against the SSE4.2 instruction in
 * one stream and a byte table, on blocks of 512 B (inodes) to 64 KiB, each checksummed as XFS
 * does (one call per block). Buffers stay in cache: this is the compute cost, the cost that adds
 * to an index of warm metadata. Prints a table and, with --json, one JSON object.
 * usage: bench/xal/crc32c.sh (builds with the tree: build/bench/xal/crc32c [--json])
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xal_internal.h"

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint32_t one_stream(uint32_t c, const uint8_t *p, size_t n)
{
	uint64_t v = c;

	for (; n >= 8; n -= 8, p += 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		v = _mm_crc32_u64(v, w);
	}
	return (uint32_t)v;
}
#endif

static uint32_t table[256];

static uint32_t by_table(uint32_t c, const uint8_t *p, size_t n)
{
	while (n--)
		c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

static uint32_t lib(uint32_t c, const uint8_t *p, size_t n)
{
	return xal_crc32c(c, p, n);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* Best of 9 rounds, GB/s, over 256 KiB of blocks of bs bytes. */
static double rate(uint32_t (*f)(uint32_t, const uint8_t *, size_t), const uint8_t *buf, size_t bs, int iters)
{
	size_t total = 256 << 10;
	double best = 1e9;
	volatile uint32_t sink = 0;

	for (int r = 0; r < 9; r++) {
		double t = now();

		for (int i = 0; i < iters; i++)
			for (size_t o = 0; o < total; o += bs)
				sink += f(~0u, buf + o, bs);
		t = now() - t;
		best = t < best ? t : best;
	}
	(void)sink;
	return (double)total * iters / best / 1e9;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = {512, 2048, 4096, 16384, 65536};
	int json = argc > 1 && !strcmp(argv[1], "--json");
	uint8_t *buf = malloc(256 << 10);

	if (!buf)
		return 1;
	for (size_t i = 0; i < 256 << 10; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		table[i] = c;
	}
	if (json)
		printf("{\"figure\": \"crc32c GB/s by block size\", \"library\": \"%s\", \"rows\": [",
		       xal_crc32c_impl());
	else
		printf("%8s %14s %14s %14s\n", "block", xal_crc32c_impl(), "sse4.2 x1", "table");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		double a = rate(lib, buf, sizes[k], 200), b = 0, c = rate(by_table, buf, sizes[k], 4);

#if defined(__x86_64__)
		if (__builtin_cpu_supports("sse4.2"))
			b = rate(one_stream, buf, sizes[k], 100);
#endif
		if (json)
			printf("%s{\"block\": %zu, \"library_gbs\": %.2f, \"sse42_one_stream_gbs\": %.2f, \"table_gbs\": %.2f}",
			       k ? ", " : "", sizes[k], a, b, c);
		else
			printf("%8zu %11.2f GB/s %9.2f GB/s %9.2f GB/s\n", sizes[k], a, b, c);
	}
	if (json)
		printf("]}\n");
	free(buf);
	return 0;
}
