/* SPDX-License-Identifier: BSD-3-Clause */
/* Layout of the aisio-dmabuf ioctl structures (include/uapi/aisio/dmabuf_import.h): the
 * kernel module checks the same sizes at build time, so both sides agree on every byte. */
#include <aisio/dmabuf_import.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

_Static_assert(sizeof(struct aisio_dmabuf_attach) == AISIO_DMABUF_ATTACH_SIZE, "attach layout");
_Static_assert(sizeof(struct aisio_dmabuf_run) == AISIO_DMABUF_RUN_SIZE, "run layout");
_Static_assert(sizeof(struct aisio_dmabuf_get_map) == AISIO_DMABUF_GET_MAP_SIZE, "get_map layout");
_Static_assert(sizeof(struct aisio_dmabuf_detach) == AISIO_DMABUF_DETACH_SIZE, "detach layout");

static void test_offsets(void **state)
{
	(void)state;
	assert_int_equal(offsetof(struct aisio_dmabuf_attach, fd), 0);
	assert_int_equal(offsetof(struct aisio_dmabuf_attach, flags), 4);
	assert_int_equal(offsetof(struct aisio_dmabuf_attach, pci_addr), 8);
	assert_int_equal(offsetof(struct aisio_dmabuf_attach, size), 24);
	assert_int_equal(offsetof(struct aisio_dmabuf_attach, handle), 32);
	assert_int_equal(offsetof(struct aisio_dmabuf_attach, nr_runs), 36);
	assert_int_equal(offsetof(struct aisio_dmabuf_run, len), 8);
	assert_int_equal(offsetof(struct aisio_dmabuf_get_map, nr_runs), 4);
	assert_int_equal(offsetof(struct aisio_dmabuf_get_map, runs), 8);
	assert_int_equal(offsetof(struct aisio_dmabuf_detach, flags), 4);
	/* "dddd:bb:dd.f" and its NUL fit */
	assert_true(sizeof("0000:00:04.0") <= AISIO_DMABUF_PCI_ADDR_LEN);
}

static void test_ioctl_numbers(void **state)
{
	(void)state;
	assert_int_equal(_IOC_TYPE(AISIO_DMABUF_ATTACH), AISIO_DMABUF_IOC_MAGIC);
	assert_int_equal(_IOC_SIZE(AISIO_DMABUF_ATTACH), AISIO_DMABUF_ATTACH_SIZE);
	assert_int_equal(_IOC_SIZE(AISIO_DMABUF_GET_MAP), AISIO_DMABUF_GET_MAP_SIZE);
	assert_int_equal(_IOC_SIZE(AISIO_DMABUF_DETACH), AISIO_DMABUF_DETACH_SIZE);
	assert_int_equal(_IOC_DIR(AISIO_DMABUF_ATTACH), _IOC_READ | _IOC_WRITE);
	assert_int_equal(_IOC_DIR(AISIO_DMABUF_DETACH), _IOC_WRITE);
	assert_int_not_equal(AISIO_DMABUF_ATTACH, AISIO_DMABUF_GET_MAP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offsets),
		cmocka_unit_test(test_ioctl_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
