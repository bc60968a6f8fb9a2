/* SPDX-License-Identifier: BSD-3-Clause */
/* Number and size parsing shared by device strings and flags. */
#include <aisio/strparse.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void test_u64(void **state)
{
	uint64_t v;
	assert_int_equal(strparse_u64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(strparse_u64("0x10", 0, 100, &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(strparse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(strparse_u64("101", 0, 100, &v), -ERANGE);
	assert_int_equal(strparse_u64("0", 1, 100, &v), -ERANGE);
	assert_int_equal(strparse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	static const char *bad[] = {"", "-1", " 5", "+5", "5x", "x", "1.5", "0x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strparse_u64(bad[i], 0, UINT64_MAX, &v) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
}

static void test_size(void **state)
{
	uint64_t v;
	assert_int_equal(strparse_size("512", &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(strparse_size("4K", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(strparse_size("256M", &v), 0);
	assert_int_equal(v, 256u << 20);
	assert_int_equal(strparse_size("1GiB", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(strparse_size("2TB", &v), 0);
	assert_int_equal(v, 2ull << 40);
	assert_int_equal(strparse_size("100B", &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(strparse_size("16777216T", &v), -ERANGE);
	static const char *bad[] = {"", "K", "-4K", "4Q", "4KK", "4Ki", "4 K", "1.5G"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strparse_size(bad[i], &v) >= 0)
			fail_msg("'%s' accepted", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
