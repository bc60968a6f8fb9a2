/* SPDX-License-Identifier: BSD-3-Clause */
/* The emulated controller's device-string grammar: accepted and refused strings. */
#include <aisio/emu.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void test_defaults(void **state)
{
	struct emu_opts o;
	assert_int_equal(emu_opts_parse(&o, "null"), 0);
	assert_int_equal(o.ns_type, EMU_NS_NULL);
	assert_int_equal(o.ns_bytes, 1ull << 40);
	assert_int_equal(o.lba_shift, 9);
	assert_int_equal(o.nr_ns, 1);
	assert_int_equal(o.mdts, 5);
	assert_true(o.threads >= 1);
	assert_int_equal(emu_opts_parse(&o, "ram"), 0);
	assert_int_equal(o.ns_bytes, 256ull << 20);
}

static void test_options(void **state)
{
	struct emu_opts o;
	assert_int_equal(emu_opts_parse(&o, "ram:1G,lba=4096,ns=2,mdts=7,qpairs=8,mqes=255,threads=0,dstrd=3,to=4,rdy_delay=10"), 0);
	assert_int_equal(o.ns_type, EMU_NS_RAM);
	assert_int_equal(o.ns_bytes, 1ull << 30);
	assert_int_equal(o.lba_shift, 12);
	assert_int_equal(o.nr_ns, 2);
	assert_int_equal(o.mdts, 7);
	assert_int_equal(o.max_qpairs, 8);
	assert_int_equal(o.mqes, 255);
	assert_int_equal(o.threads, 0);
	assert_int_equal(o.dstrd, 3);
	assert_int_equal(o.cap_to, 4);
	assert_int_equal(o.rdy_delay_ms, 10);
	assert_int_equal(emu_opts_parse(&o, "null:4G,err=10-20:0x280,drop=30-40,delay=50-60:1000,fatal_after=99"), 0);
	assert_int_equal(o.err_slba, 10);
	assert_int_equal(o.err_elba, 20);
	assert_int_equal(o.err_status, 0x280);
	assert_int_equal(o.drop_slba, 30);
	assert_int_equal(o.drop_elba, 40);
	assert_int_equal(o.delay_slba, 50);
	assert_int_equal(o.delay_us, 1000);
	assert_int_equal(o.fatal_after, 99);
	assert_int_equal(emu_opts_parse(&o, "null,err=5-6"), 0);
	assert_int_equal(o.err_status, 0x281);
}

static void test_refused(void **state)
{
	static const char *bad[] = {
		"", "disk", "ram:12X", "ram:1000", /* not a multiple of 512 */
		"null,lba=1024", "null,ns=0", "null,ns=17", "null,qpairs=0", "null,mqes=0", "null,dstrd=9",
		"null,to=0", "null,bogus=1", "null,lba", "null,err=5", "null,err=9-3", "null,delay=1-2",
		"null,mdts=x", "file", "file:/nonexistent/aisio-img", "ram:128G",
	};
	struct emu_opts o;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = emu_opts_parse(&o, bad[i]);
		if (rc >= 0)
			fail_msg("'%s' was accepted", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
