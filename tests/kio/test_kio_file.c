/* SPDX-License-Identifier: BSD-3-Clause */
/* io_uring backend on a regular file (O_DIRECT, then buffered), and device
 * detection. Needs no root. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kio_test.h"

#define FILE_BYTES (8u << 20)

static char g_dir[64];
static char g_file[96];

static void test_detect(void **state)
{
	struct kio_dev *d;
	assert_int_equal(kio_dev_open(&d, g_file, NULL), 0);
	assert_int_equal(kio_dev_kind(d), KIO_DEV_FILE);
	assert_string_equal(kio_dev_backend(d), "io_uring");
	assert_string_equal(kio_dev_path(d), g_file);
	assert_int_equal(kio_dev_lba_shift(d), 9);
	assert_int_equal(kio_dev_nlba(d), FILE_BYTES / 512);
	assert_true(kio_dev_max_xfer(d) >= (128u << 10));
	kio_dev_close(d);
	/* what kio does not open */
	assert_int_equal(kio_dev_open(&d, "/nonexistent/kio", NULL), -ENOENT);
	assert_null(d);
	assert_int_equal(kio_dev_open(&d, "", NULL), -EINVAL);
	assert_true(kio_dev_open(&d, "/dev/null", NULL) < 0); /* a char device, but not NVMe */
	assert_true(kio_dev_open(&d, g_dir, NULL) < 0);       /* a directory */
}

static void roundtrip(const struct kio_dev_opts *o, uint64_t seed)
{
	struct kio_dev *d;
	struct kio_queue *q;
	assert_int_equal(kio_dev_open(&d, g_file, o), 0);
	assert_int_equal(kio_queue_create(d, 16, &q), 0);
	uint64_t nlba = kio_dev_nlba(d);
	uint8_t *w = kt_alloc(FILE_BYTES), *r = kt_alloc(FILE_BYTES);
	stamp_fill(w, seed, 0, (uint32_t)nlba, 9);
	assert_int_equal(kt_stream(q, true, 0, nlba, 256, w, 9), 0);
	assert_int_equal(kt_sync_flush(q), 0);
	assert_int_equal(kt_stream(q, false, 0, nlba, 1, r, 9), 0);
	assert_int_equal(stamp_check(r, seed, 0, (uint32_t)nlba, 9, NULL), 0);
	/* the same through a registered buffer */
	memset(r, 0, FILE_BYTES);
	assert_int_equal(kio_queue_register_buffer(q, r, FILE_BYTES), 0);
	assert_int_equal(kt_stream(q, false, 0, nlba, 64, r, 9), 0);
	assert_int_equal(stamp_check(r, seed, 0, (uint32_t)nlba, 9, NULL), 0);
	struct kio_queue_stats st;
	kio_queue_stats(q, &st);
	assert_int_equal(st.fixed_ios, nlba / 64);
	assert_int_equal(st.errors, 0);
	/* out of range on a file too: the size is fixed at open */
	assert_int_equal(kio_queue_rw(q, false, nlba, 1, r, kt_cb, NULL), -ERANGE);
	assert_int_equal(kio_queue_rw(q, false, 0, (kio_dev_max_xfer(d) >> 9) + 1, r, kt_cb, NULL), -EINVAL);
	/* a raw NVMe command is for the passthrough backend only */
	static const uint32_t cdw[6];
	assert_int_equal(kio_queue_nvme_cmd(q, 0x02, cdw, r, 512, kt_cb, NULL), -ENOTSUP);
	kio_queue_destroy(q);
	kio_dev_close(d);
	free(w);
	free(r);
}

static void test_direct(void **state)
{
	roundtrip(NULL, 11);
}

static void test_buffered(void **state)
{
	struct kio_dev_opts o = {.buffered = true, .sqpoll_cpu = -1};
	roundtrip(&o, 12);
	/* buffered I/O takes unaligned buffers */
	struct kio_dev *d;
	struct kio_queue *q;
	assert_int_equal(kio_dev_open(&d, g_file, &o), 0);
	assert_int_equal(kio_queue_create(d, 2, &q), 0);
	uint8_t *buf = kt_alloc(8192);
	assert_int_equal(kt_sync_rw(q, false, 3, 2, buf + 3, NULL), 0);
	memmove(buf, buf + 3, 1024); /* the stamp check reads aligned words */
	assert_int_equal(stamp_check(buf, 12, 3, 2, 9, NULL), 0);
	kio_queue_destroy(q);
	kio_dev_close(d);
	free(buf);
}

/* A file that shrinks after open: the read past its new end comes back short,
 * which is an error (-EIO), not a silent partial transfer. */
static void test_short_read(void **state)
{
	struct kio_dev *d;
	struct kio_queue *q;
	assert_int_equal(kio_dev_open(&d, g_file, NULL), 0);
	assert_int_equal(kio_queue_create(d, 2, &q), 0);
	assert_int_equal(truncate(g_file, FILE_BYTES / 2), 0);
	uint8_t *buf = kt_alloc(8192);
	assert_int_equal(kt_sync_rw(q, false, FILE_BYTES / 1024 - 8, 16, buf, NULL), -EIO);
	assert_int_equal(kt_sync_rw(q, false, FILE_BYTES / 1024 - 8, 8, buf, NULL), 0);
	kio_queue_destroy(q);
	kio_dev_close(d);
	assert_int_equal(truncate(g_file, FILE_BYTES), 0);
	free(buf);
}

/* Passthrough ring set up over a device that is not NVMe: the 128-byte SQE ring
 * works, the command fails in the kernel and the error reaches the callback with
 * no NVMe status. Shows the passthrough submit and completion path on a machine
 * without NVMe; real devices are covered by the QEMU tests. */
#include "../../lib/kio/kio_internal.h"
static void test_passthru_path_without_nvme(void **state)
{
	struct kio_dev *d;
	assert_int_equal(kio_dev_open(&d, g_file, NULL), 0);
	/* present the file as an NVMe char device with namespace 1 */
	d->kind = KIO_DEV_NVME_CHAR;
	d->nsid = 1;
	assert_string_equal(kio_dev_backend(d), "io_uring_cmd");
	struct kio_queue *q;
	int rc = kio_queue_create(d, 4, &q);
	if (rc == -EINVAL) {
		fprintf(stderr, "kio-file: kernel has no 128-byte SQE rings\n");
		kio_dev_close(d);
		skip();
	}
	assert_int_equal(rc, 0);
	uint8_t *buf = kt_alloc(4096);
	assert_int_equal(kio_queue_register_buffer(q, buf, 4096), 0);
	uint16_t status = 0xffff;
	rc = kt_sync_rw(q, false, 0, 8, buf, &status);
	assert_true(rc == -EOPNOTSUPP || rc == -ENOTTY || rc == -EINVAL);
	assert_int_equal(status, 0);
	status = 0xffff;
	rc = kt_sync_flush(q);
	assert_true(rc == -EOPNOTSUPP || rc == -ENOTTY || rc == -EINVAL);
	struct kio_queue_stats st;
	kio_queue_stats(q, &st);
	assert_int_equal(st.errors, 2);
	assert_int_equal(st.fixed_ios, 1);
	kio_queue_destroy(q);
	d->kind = KIO_DEV_FILE;
	kio_dev_close(d);
	free(buf);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(g_dir, sizeof(g_dir), "%s/kio-file-XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(g_dir)) {
		printf("SKIP: mkdtemp: %s\n", strerror(errno));
		return 77;
	}
	snprintf(g_file, sizeof(g_file), "%s/img", g_dir);
	int fd = open(g_file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, FILE_BYTES) < 0) {
		printf("SKIP: cannot create %s: %s\n", g_file, strerror(errno));
		return 77;
	}
	close(fd);
	fd = open(g_file, O_RDWR | O_DIRECT);
	if (fd < 0) {
		printf("SKIP: %s: the file system does not take O_DIRECT (%s)\n", g_dir, strerror(errno));
		unlink(g_file);
		rmdir(g_dir);
		return 77;
	}
	close(fd);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_direct),
		cmocka_unit_test(test_buffered),
		cmocka_unit_test(test_short_read),
		cmocka_unit_test(test_passthru_path_without_nvme),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(g_file);
	rmdir(g_dir);
	return rc;
}
