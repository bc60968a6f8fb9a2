/* SPDX-License-Identifier: BSD-3-Clause */
/* Latency histogram quantiles against known distributions. */
#include "perf_stats.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

static void test_uniform(void **state)
{
	struct lat_hist *h = calloc(1, sizeof(*h));
	for (uint64_t v = 1; v <= 100000; v++)
		lat_hist_add(h, v);
	assert_int_equal(h->count, 100000);
	/* within the bucket resolution (~3%) */
	uint64_t p50 = lat_hist_quantile(h, 0.5), p99 = lat_hist_quantile(h, 0.99);
	assert_in_range(p50, 48500, 51500);
	assert_in_range(p99, 96000, 100000);
	assert_int_equal(lat_hist_quantile(h, 1.0), 100000);
	free(h);
}

static void test_small_exact(void **state)
{
	struct lat_hist *h = calloc(1, sizeof(*h));
	for (int i = 0; i < 10; i++)
		lat_hist_add(h, 7);
	lat_hist_add(h, 50);
	assert_int_equal(lat_hist_quantile(h, 0.5), 7);
	assert_int_equal(lat_hist_quantile(h, 0.999), 50);
	struct lat_hist *g = calloc(1, sizeof(*g));
	assert_int_equal(lat_hist_quantile(g, 0.5), 0);
	lat_hist_merge(g, h);
	assert_int_equal(g->count, 11);
	free(g);
	free(h);
}

/* The tools' one JSON string escaper: quotes, controls, valid UTF-8 kept, stray bytes escaped, cut at maxlen or NUL. */
static void test_json_str(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	json_str(f, "a\"b\\c\x01\xc3\xa9\xff\xe2\x82", 64);
	fputc('|', f);
	json_str(f, "abcdef", 3);
	fputc('|', f);
	json_string(f, "x\ty");
	fclose(f);
	assert_string_equal(out, "\"a\\\"b\\\\c\\u0001\xc3\xa9\\u00ff\\u00e2\\u0082\"|\"abc\"|\"x\\u0009y\"");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uniform),
		cmocka_unit_test(test_json_str),
		cmocka_unit_test(test_small_exact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
