/* SPDX-License-Identifier: BSD-3-Clause */
/* bio, the one I/O layer over every path: a namespace that carries a file system is not written
 * by accident, whichever path writes it (user-space driver on emu, io_uring on a file). */
#include <aisio/bio.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

struct sync_result {
	int done;
	int err;
};

static void sync_cb(struct bio_queue *q, void *arg, int err, uint16_t status)
{
	struct sync_result *r = arg;
	r->done++;
	r->err = err;
}

/* Submit one read or write of 8 LBAs at LBA 64 and wait for it; the submit's error when refused. */
static int rw8(struct bio_dev *d, bool write)
{
	struct bio_queue *q;
	assert_int_equal(bio_queue_create(d, 4, &q), 0);
	uint8_t *buf = bio_dev_buf_alloc(d, 8u << bio_dev_lba_shift(d));
	assert_non_null(buf);
	memset(buf, 0x5a, 8u << bio_dev_lba_shift(d));
	struct sync_result r = {0};
	int rc = bio_queue_rw(q, write, 64, 8, buf, sync_cb, &r);
	if (rc == 0) {
		assert_int_equal(bio_queue_drain(q, 10000), 0);
		assert_int_equal(r.done, 1);
		rc = r.err;
	} else {
		assert_int_equal(r.done, 0);
		assert_int_equal(bio_queue_inflight(q), 0);
	}
	bio_dev_buf_free(d, buf);
	bio_queue_destroy(q);
	return rc;
}

/* A 4 MiB image whose first block says XFS. */
static void make_xfs_image(char *path, size_t len)
{
	snprintf(path, len, "/tmp/aisio-test-bio-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4u << 20), 0);
	assert_int_equal(pwrite(fd, "XFSB", 4, 0), 4);
	close(fd);
}

static void check_path(const char *devstr)
{
	struct bio_dev *d;
	struct bio_dev_opts o = {0};
	assert_int_equal(bio_dev_open(&d, devstr, &o), 0);
	assert_non_null(bio_dev_fs_signature(d));
	assert_string_equal(bio_dev_fs_signature(d), "XFS");
	assert_int_equal(rw8(d, true), -EPERM);
	assert_int_equal(rw8(d, false), 0);
	bio_dev_close(d);
	o.allow_fs_writes = true;
	assert_int_equal(bio_dev_open(&d, devstr, &o), 0);
	assert_int_equal(rw8(d, true), 0);
	bio_dev_close(d);
}

static void test_signature_refuses_writes(void **state)
{
	char img[64], dev[96];
	make_xfs_image(img, sizeof(img));
	snprintf(dev, sizeof(dev), "emu:file:%s", img);
	check_path(dev); /* user-space driver */
	check_path(img); /* io_uring on the file */
	/* the file system's first block is untouched, the forced write landed at LBA 64 */
	int fd = open(img, O_RDONLY);
	char b[4];
	uint8_t w[1];
	assert_int_equal(pread(fd, b, 4, 0), 4);
	assert_memory_equal(b, "XFSB", 4);
	assert_int_equal(pread(fd, w, 1, 64 * 512), 1);
	assert_int_equal(w[0], 0x5a);
	close(fd);
	unlink(img);
}

static void test_no_signature(void **state)
{
	struct bio_dev *d;
	assert_int_equal(bio_dev_open(&d, "emu:ram:4M", NULL), 0);
	assert_null(bio_dev_fs_signature(d));
	assert_int_equal(rw8(d, true), 0);
	bio_dev_close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature_refuses_writes),
		cmocka_unit_test(test_no_signature),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
