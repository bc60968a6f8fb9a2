/* SPDX-License-Identifier: BSD-3-Clause */
/* Device strings: every kind classified, PCI addresses, homi:, bad strings, and each layer refusing what it does not open. */
#include <aisio/bio.h>
#include <aisio/devstr.h>
#include <aisio/pci.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static void kind_is(const char *s, enum devstr_kind kind)
{
	struct devstr d;
	int rc = devstr_parse(&d, s);
	if (rc != 0)
		fail_msg("'%s' refused: %d", s, rc);
	if (d.kind != kind)
		fail_msg("'%s' is a %s, expected a %s", s, devstr_kind_name(d.kind), devstr_kind_name(kind));
	assert_ptr_equal(d.str, s);
}

static void test_kinds(void **state)
{
	struct devstr d;
	kind_is("0000:01:00.0", DEVSTR_PCI);
	kind_is("01:00.0", DEVSTR_PCI);
	kind_is("ffff:ff:1f.7", DEVSTR_PCI);
	kind_is("emu:null", DEVSTR_EMU);
	kind_is("emu:ram:1G,lba=4096", DEVSTR_EMU);
	kind_is("emu:file:/tmp/img", DEVSTR_EMU);
	kind_is("gpuemu:null", DEVSTR_GPUEMU);
	kind_is("gpuemu:hbm:1G,engine=fused", DEVSTR_GPUEMU);
	kind_is("/dev/nvme0n1", DEVSTR_KERNEL);
	kind_is("/dev/ng0n1", DEVSTR_KERNEL);
	kind_is("/var/tmp/image", DEVSTR_KERNEL);
	kind_is("./img", DEVSTR_KERNEL);
	kind_is("../img", DEVSTR_KERNEL);
	kind_is("homi:ssd0", DEVSTR_HOMI);

	/* what each kind keeps */
	assert_int_equal(devstr_parse(&d, "01:00.1"), 0);
	assert_string_equal(d.pci_addr, "0000:01:00.1");
	assert_null(d.spec);
	assert_int_equal(devstr_parse(&d, "0000:A1:1F.7"), 0);
	assert_string_equal(d.pci_addr, "0000:a1:1f.7");
	assert_int_equal(devstr_parse(&d, "emu:ram:1G,lba=4096"), 0);
	assert_string_equal(d.spec, "ram:1G,lba=4096");
	assert_int_equal(devstr_parse(&d, "gpuemu:hbm:1G"), 0);
	assert_string_equal(d.spec, "hbm:1G");
	assert_int_equal(devstr_parse(&d, "/dev/ng0n1"), 0);
	assert_string_equal(d.spec, "/dev/ng0n1");
	/* the options of emu: and gpuemu: are emu_opts_parse's: classification alone takes any */
	kind_is("emu:", DEVSTR_EMU);
	kind_is("gpuemu:nonsense,x", DEVSTR_GPUEMU);
}

static void test_homi(void **state)
{
	struct devstr d;
	assert_int_equal(devstr_parse(&d, "homi:ssd0"), 0);
	assert_string_equal(d.homi_name, "ssd0");
	assert_string_equal(d.homi_socket, "");
	assert_int_equal(d.homi_nsid, 0);
	assert_int_equal(devstr_parse(&d, "homi:nvme-1.a_b,socket=/run/homid.sock,nsid=3"), 0);
	assert_string_equal(d.homi_name, "nvme-1.a_b");
	assert_string_equal(d.homi_socket, "/run/homid.sock");
	assert_int_equal(d.homi_nsid, 3);
	assert_int_equal(devstr_parse(&d, "homi:x,nsid=0xfffffffe"), 0);
	assert_int_equal(d.homi_nsid, 0xfffffffe);
	assert_int_equal(devstr_parse(&d, "homi:x,nsid=2,socket=rel.sock"), 0);
	assert_string_equal(d.homi_socket, "rel.sock");

	char longname[80], longsock[200];
	memset(longname, 'a', sizeof(longname));
	memcpy(longname, "homi:", 5);
	longname[5 + DEVSTR_HOMI_NAME_MAX] = 0; /* one too many */
	snprintf(longsock, sizeof(longsock), "homi:x,socket=/%0*d", DEVSTR_HOMI_SOCKET_MAX, 0);
	const char *bad[] = {
		"homi:",
		"homi:,nsid=1",
		"homi:ssd 0",
		"homi:ssd/0",
		"homi:ssd0,",
		"homi:ssd0,nsid",
		"homi:ssd0,nsid=",
		"homi:ssd0,nsid=0",
		"homi:ssd0,nsid=x",
		"homi:ssd0,nsid=4294967295",
		"homi:ssd0,nsid=-1",
		"homi:ssd0,socket=",
		"homi:ssd0,socket",
		"homi:ssd0,color=blue",
		"homi:ssd0,sock=/x",
		longname,
		longsock,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (devstr_parse(&d, bad[i]) != -EINVAL)
			fail_msg("'%s' was not refused", bad[i]);
	longname[5 + DEVSTR_HOMI_NAME_MAX - 1] = 0; /* the longest name */
	assert_int_equal(devstr_parse(&d, longname), 0);
}

static void test_bad(void **state)
{
	struct devstr d;
	const char *bad[] = {
		"",
		"nope",
		"nvme0n1",
		"dev/nvme0n1",
		"foo:bar",
		"EMU:null",
		"emu",
		"gpuemu",
		"homi",
		"0000:01:00.8",
		"0000:01:20.0",
		"0000:100:00.0",
		"10000:01:00.0",
		"0000:01:00.0x",
		"0000:01:00",
		"01:00",
		"1.2",
		"0000:01:00.0 ",
		" 0000:01:00.0",
		"0000:01:00.-1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = devstr_parse(&d, bad[i]);
		if (rc != -EINVAL)
			fail_msg("'%s' gave %d, not -EINVAL", bad[i], rc);
	}
	assert_int_equal(devstr_parse(&d, NULL), -EINVAL);
	char out[16];
	assert_int_equal(devstr_pci_addr_parse("0000:01:00.0", out), 0);
	assert_string_equal(out, "0000:01:00.0");
	assert_int_equal(devstr_pci_addr_parse("00:1f.3", out), 0);
	assert_string_equal(out, "0000:00:1f.3");
	assert_int_equal(devstr_pci_addr_parse("emu:null", out), -EINVAL);
	assert_string_equal(devstr_kind_name(DEVSTR_KERNEL), "kernel path");
	assert_string_equal(devstr_kind_name((enum devstr_kind)99), "?");
}

/* Each layer opens its kinds and refuses the others, naming the owner; bio opens homi: through the daemon. */
static void test_openers(void **state)
{
	struct devstr d;
	assert_int_equal(devstr_parse(&d, "homi:ssd0"), 0);
	assert_int_equal(devstr_refuse(&d, "a test"), -EINVAL);
	assert_int_equal(devstr_parse(&d, "gpuemu:null"), 0);
	assert_int_equal(devstr_refuse(&d, "a test"), -EINVAL);

	struct pci_dev *pd = NULL;
	assert_int_equal(pci_dev_open(&pd, "homi:ssd0,nsid=2"), -EINVAL);
	assert_int_equal(pci_dev_open(&pd, "gpuemu:null"), -EINVAL);
	assert_int_equal(pci_dev_open(&pd, "/dev/nvme0n1"), -EINVAL);
	assert_int_equal(pci_dev_open(&pd, "nope"), -EINVAL);
	assert_int_equal(pci_dev_open(&pd, "emu:null,bogus=1"), -EINVAL);
	assert_null(pd);
	assert_int_equal(pci_dev_open(&pd, "emu:null,threads=0"), 0);
	assert_string_equal(pd->ops->name, "emu");
	pci_dev_close(pd);

	struct bio_dev *bd = NULL;
	/* no daemon listens on a socket that does not exist: a clear error at connect */
	assert_int_equal(bio_dev_open(&bd, "homi:ssd0,socket=/nonexistent/homid.sock", NULL), -ENOENT);
	assert_int_equal(bio_dev_open(&bd, "gpuemu:hbm:1G", NULL), -EINVAL);
	assert_int_equal(bio_dev_open(&bd, "", NULL), -EINVAL);
	assert_int_equal(bio_dev_open(&bd, "homi:", NULL), -EINVAL);
	assert_null(bd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_homi),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_openers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
