/* SPDX-License-Identifier: BSD-3-Clause */
/* The emulated controllers' one option parser, emu: and gpuemu:: defaults, keys, ranges, refusals, messages, help. */
#include <aisio/emu.h>
#include <aisio/log.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

struct caught {
	char *buf;
	size_t len;
};

static void catch_msg(void *arg, enum aisio_log_level level, const char *dev, const char *msg)
{
	struct caught *c = arg;
	size_t n = strlen(c->buf);
	snprintf(c->buf + n, c->len - n, "[%s] %s\n", dev ? dev : "-", msg);
}

/* Parse with the log hook catching the messages ("[DEV] message" lines), so that their form can be checked. */
static int parse_msg(struct emu_opts *o, enum devstr_kind kind, const char *spec, char *msg, size_t len)
{
	struct caught c = {msg, len};
	msg[0] = 0;
	aisio_log_hook_set(catch_msg, &c);
	int rc = emu_opts_parse(o, kind, spec);
	aisio_log_hook_set(NULL, NULL);
	return rc;
}

static void test_defaults(void **state)
{
	struct emu_opts o;
	assert_int_equal(emu_opts_parse(&o, DEVSTR_EMU, "null"), 0);
	assert_int_equal(o.kind, DEVSTR_EMU);
	assert_int_equal(o.ns_type, EMU_NS_NULL);
	assert_int_equal(o.ns_bytes, 1ull << 40);
	assert_int_equal(o.lba_shift, 9);
	assert_int_equal(o.nr_ns, 1);
	assert_int_equal(o.mdts, 5);
	assert_int_equal(o.max_qpairs, 64);
	assert_int_equal(o.mqes, 1023);
	assert_int_equal(o.cap_to, 2);
	assert_true(o.threads >= 1);
	assert_true(o.err_elba < o.err_slba && o.drop_elba < o.drop_slba && o.delay_elba < o.delay_slba); /* off */
	assert_int_equal(emu_opts_parse(&o, DEVSTR_EMU, "ram"), 0);
	assert_int_equal(o.ns_bytes, 256ull << 20);
}

/* gpuemu: takes emu:'s defaults for every key both have; only its own keys have their own. */
static void test_gpuemu_defaults(void **state)
{
	struct emu_opts e, g;
	assert_int_equal(emu_opts_parse(&e, DEVSTR_EMU, "null"), 0);
	assert_int_equal(emu_opts_parse(&g, DEVSTR_GPUEMU, "null"), 0);
	assert_int_equal(g.kind, DEVSTR_GPUEMU);
	assert_int_equal(g.ns_type, EMU_NS_NULL);
	assert_int_equal(g.ns_bytes, e.ns_bytes);
	assert_int_equal(g.lba_shift, e.lba_shift);
	assert_int_equal(g.nr_ns, e.nr_ns);
	assert_int_equal(g.mdts, e.mdts);
	assert_int_equal(g.max_qpairs, e.max_qpairs);
	assert_int_equal(g.mqes, e.mqes);
	assert_int_equal(g.dstrd, e.dstrd);
	assert_int_equal(g.threads, e.threads);
	assert_int_equal(g.err_status, e.err_status);
	assert_true(g.err_elba < g.err_slba && g.drop_elba < g.drop_slba);
	assert_int_equal(g.engine, EMU_ENGINE_GPU);
	assert_int_equal(g.sms, 8);
	assert_int_equal(g.warps, 8);
	assert_int_equal(emu_opts_parse(&g, DEVSTR_GPUEMU, "hbm"), 0);
	assert_int_equal(g.ns_type, EMU_NS_HBM);
	assert_int_equal(g.ns_bytes, 256ull << 20);
	assert_int_equal(emu_opts_parse(&g, DEVSTR_GPUEMU, "host:64M"), 0);
	assert_int_equal(g.ns_type, EMU_NS_HOST);
	assert_int_equal(g.ns_bytes, 64ull << 20);
}

static void test_options(void **state)
{
	struct emu_opts o;
	assert_int_equal(
		emu_opts_parse(&o, DEVSTR_EMU,
			       "ram:1G,lba=4096,ns=2,mdts=7,qpairs=8,mqes=255,threads=0,dstrd=3,to=4,rdy_delay=10"),
		0);
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
	assert_int_equal(
		emu_opts_parse(&o, DEVSTR_EMU, "null:4G,err=10-20:0x280,drop=30-40,delay=50-60:1000,fatal_after=99"),
		0);
	assert_int_equal(o.err_slba, 10);
	assert_int_equal(o.err_elba, 20);
	assert_int_equal(o.err_status, 0x280);
	assert_int_equal(o.drop_slba, 30);
	assert_int_equal(o.drop_elba, 40);
	assert_int_equal(o.delay_slba, 50);
	assert_int_equal(o.delay_us, 1000);
	assert_int_equal(o.fatal_after, 99);
	assert_int_equal(emu_opts_parse(&o, DEVSTR_EMU, "null,err=5-6"), 0);
	assert_int_equal(o.err_status, 0x281);
	/* LBA 0 alone is a range like any other */
	assert_int_equal(emu_opts_parse(&o, DEVSTR_EMU, "null,err=0-0"), 0);
	assert_true(o.err_slba == 0 && o.err_elba == 0);
	assert_int_equal(emu_opts_parse(&o, DEVSTR_EMU, "null,qpairs=1024"), 0);
	assert_int_equal(o.max_qpairs, 1024);
}

static void test_gpuemu_options(void **state)
{
	struct emu_opts o;
	assert_int_equal(emu_opts_parse(&o, DEVSTR_GPUEMU,
					"hbm:1G,lba=4096,qpairs=1024,mqes=4095,mdts=10,sms=4,warps=4,dstrd=1"),
			 0);
	assert_int_equal(o.ns_type, EMU_NS_HBM);
	assert_int_equal(o.ns_bytes, 1ull << 30);
	assert_int_equal(o.lba_shift, 12);
	assert_int_equal(o.max_qpairs, 1024);
	assert_int_equal(o.mqes, 4095);
	assert_int_equal(o.mdts, 10);
	assert_int_equal(o.sms, 4);
	assert_int_equal(o.warps, 4);
	assert_int_equal(o.dstrd, 1);
	assert_int_equal(emu_opts_parse(&o, DEVSTR_GPUEMU, "host:64M,engine=cpu,threads=3"), 0);
	assert_int_equal(o.engine, EMU_ENGINE_CPU);
	assert_int_equal(o.threads, 3);
	assert_int_equal(emu_opts_parse(&o, DEVSTR_GPUEMU, "null,engine=fused,sms=2"), 0);
	assert_int_equal(o.engine, EMU_ENGINE_FUSED);
	/* fault ranges in the syntax of emu: */
	assert_int_equal(emu_opts_parse(&o, DEVSTR_GPUEMU, "hbm:64M,err=10-20:282,drop=30-31"), 0);
	assert_true(o.err_slba == 10 && o.err_elba == 20 && o.err_status == 0x282);
	assert_true(o.drop_slba == 30 && o.drop_elba == 31);
	assert_int_equal(emu_opts_parse(&o, DEVSTR_GPUEMU, "hbm:64M,err=10-20"), 0);
	assert_int_equal(o.err_status, 0x281);
}

/* file=: the image's size rounded up to an LBA, or SIZE when that holds it; refused for null or a missing file. */
static void test_gpuemu_file(void **state)
{
	char path[] = "/tmp/aisio-emu-opts-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	char data[1000] = {1};
	assert_int_equal(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	close(fd);
	struct emu_opts o;
	char spec[300], msg[512];
	snprintf(spec, sizeof(spec), "host,file=%s", path);
	assert_int_equal(emu_opts_parse(&o, DEVSTR_GPUEMU, spec), 0);
	assert_string_equal(o.path, path);
	assert_int_equal(o.ns_type, EMU_NS_HOST);
	assert_int_equal(o.ns_bytes, 1024);
	snprintf(spec, sizeof(spec), "hbm,lba=4096,file=%s", path);
	assert_int_equal(emu_opts_parse(&o, DEVSTR_GPUEMU, spec), 0);
	assert_int_equal(o.ns_bytes, 4096);
	snprintf(spec, sizeof(spec), "hbm:1M,file=%s", path);
	assert_int_equal(emu_opts_parse(&o, DEVSTR_GPUEMU, spec), 0);
	assert_int_equal(o.ns_bytes, 1u << 20);
	snprintf(spec, sizeof(spec), "null,file=%s", path);
	assert_true(parse_msg(&o, DEVSTR_GPUEMU, spec, msg, sizeof(msg)) < 0);
	assert_non_null(strstr(msg, "null"));
	snprintf(spec, sizeof(spec), "host:512,file=%s", path);
	assert_true(parse_msg(&o, DEVSTR_GPUEMU, spec, msg, sizeof(msg)) < 0);
	assert_non_null(strstr(msg, "more than the namespace size"));
	unlink(path);
	assert_int_equal(parse_msg(&o, DEVSTR_GPUEMU, "host,file=/nonexistent/img", msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "/nonexistent/img"));
	/* emu: has emu:file:PATH for that */
	assert_true(parse_msg(&o, DEVSTR_EMU, "ram,file=/tmp", msg, sizeof(msg)) < 0);
}

static void refuse_all(enum devstr_kind kind, const char *const *bad, size_t n)
{
	struct emu_opts o;
	char msg[512];
	for (size_t i = 0; i < n; i++) {
		int rc = parse_msg(&o, kind, bad[i], msg, sizeof(msg));
		if (rc >= 0)
			fail_msg("%s:%s was accepted", devstr_kind_name(kind), bad[i]);
		if (!msg[0])
			fail_msg("%s:%s was refused without a message", devstr_kind_name(kind), bad[i]);
	}
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"disk",
		"ram:12X",
		"ram:1000", /* not a multiple of 512 */
		"null,lba=1024",
		"null,ns=0",
		"null,ns=17",
		"null,qpairs=0",
		"null,qpairs=1025",
		"null,mqes=0",
		"null,dstrd=13",
		"null,to=0",
		"null,bogus=1",
		"null,lba",
		"null,err=5",
		"null,err=9-3",
		"null,delay=1-2",
		"null,mdts=x",
		"null,mdts=16",
		"file",
		"file:/nonexistent/aisio-img",
		"ram:128G",
		"null,threads=65",
		"hbm",
		"host:1G", /* gpuemu's types */
		"null,engine=gpu",
		"null,sms=4",
		"null,warps=4", /* gpuemu's keys */
		"null,err=1-2:0",
		"null,err=1-2:800",
		"null,drop=1-2:5",
		"null,mdts=-1",
		"null,qpairs= 4",
	};
	refuse_all(DEVSTR_EMU, bad, sizeof(bad) / sizeof(bad[0]));
}

static void test_gpuemu_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"ram:1G",
		"file:/tmp", /* emu's types */
		"hbm:1G,lba=1000",
		"hbm:1000",
		"hbm:64M,err=20-10",
		"hbm:64M,drop=1-2:5",
		"null,ns=2",
		"null,mdts=11",
		"null,mqes=62",
		"null,threads=0",
		"null,qpairs=1025",
		"null,engine=disk",
		"null,sms=0",
		"null,warps=33",
		"null,to=4",
		"null,rdy_delay=1",
		"null,delay=1-2:5",
		"null,fatal_after=3", /* emu's keys */
		"null,err_slba=10",   /* no second spelling of a fault range */
		"hbm:16M,engine=cpu", /* the CPU engine serves host memory only */
	};
	refuse_all(DEVSTR_GPUEMU, bad, sizeof(bad) / sizeof(bad[0]));
	struct emu_opts o;
	assert_int_equal(emu_opts_parse(&o, DEVSTR_PCI, "null"), -EINVAL);
}

/* One message form for both kinds: the kind, then what is wrong, then what would be right. */
static void test_messages(void **state)
{
	struct emu_opts o;
	char msg[512];
	assert_int_equal(parse_msg(&o, DEVSTR_EMU, "null,color=blue", msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "[emu] unknown option 'color' (known: lba, ns, mdts, qpairs, mqes, threads"));
	assert_non_null(strstr(msg, "fatal_after)"));
	assert_int_equal(parse_msg(&o, DEVSTR_GPUEMU, "null,color=blue", msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "[gpuemu] unknown option 'color' (known: lba, ns, mdts, qpairs, mqes, threads"));
	assert_non_null(strstr(msg, "engine, sms, warps, file)"));
	assert_null(strstr(msg, "fatal_after"));
	assert_int_equal(parse_msg(&o, DEVSTR_EMU, "null,mdts=16", msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "[emu] bad value '16' for option 'mdts' (0..15)"));
	assert_int_equal(parse_msg(&o, DEVSTR_GPUEMU, "null,mdts=11", msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "[gpuemu] bad value '11' for option 'mdts' (0..10)"));
	assert_int_equal(parse_msg(&o, DEVSTR_GPUEMU, "null,lba", msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "[gpuemu] option 'lba' needs a value (lba=512|4096)"));
	assert_int_equal(parse_msg(&o, DEVSTR_EMU, "null,err=9-3", msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "[emu] bad value '9-3' for option 'err' (SLBA-ELBA[:ST])"));
	assert_int_equal(parse_msg(&o, DEVSTR_GPUEMU, "ram", msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "[gpuemu] unknown namespace type 'ram' (null, hbm, host)"));
	assert_int_equal(parse_msg(&o, DEVSTR_EMU, "disk", msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "[emu] unknown namespace type 'disk' (null, ram, file)"));
	assert_int_equal(parse_msg(&o, DEVSTR_GPUEMU, "hbm:12X", msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "[gpuemu] bad size '12X'"));
}

static void test_help(void **state)
{
	char buf[4096];
	size_t n = emu_opts_help(DEVSTR_EMU, buf, sizeof(buf));
	assert_true(n > 0 && n < sizeof(buf));
	assert_int_equal(strlen(buf), n);
	assert_non_null(strstr(buf, "emu:ram[:SIZE]"));
	assert_non_null(strstr(buf, "fatal_after=N"));
	assert_non_null(strstr(buf, "qpairs=N"));
	assert_non_null(strstr(buf, "1..1024 (default 64)"));
	assert_non_null(strstr(buf, "0..15 (default 5 = 128 KiB)"));
	assert_null(strstr(buf, "engine="));
	n = emu_opts_help(DEVSTR_GPUEMU, buf, sizeof(buf));
	assert_true(n > 0 && n < sizeof(buf));
	assert_non_null(strstr(buf, "gpuemu:hbm[:SIZE]"));
	assert_non_null(strstr(buf, "engine=gpu|cpu|fused"));
	assert_non_null(strstr(buf, "0..10 (default 5 = 128 KiB)"));
	assert_null(strstr(buf, "fatal_after"));
	/* a short buffer: truncated, terminated, the whole length reported */
	char small[16];
	assert_int_equal(emu_opts_help(DEVSTR_GPUEMU, small, sizeof(small)), n);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(emu_opts_help(DEVSTR_GPUEMU, NULL, 0), n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),       cmocka_unit_test(test_gpuemu_defaults),
		cmocka_unit_test(test_options),        cmocka_unit_test(test_gpuemu_options),
		cmocka_unit_test(test_gpuemu_file),    cmocka_unit_test(test_refused),
		cmocka_unit_test(test_gpuemu_refused), cmocka_unit_test(test_messages),
		cmocka_unit_test(test_help),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
