/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * io_uring backend on a block device: a loop device over a file in a private
 * tmpfs. Needs root and a free loop device; exits 77 with the reason otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/loop.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kio_test.h"

#define IMG_BYTES (64u << 20)

struct loopdev {
	char dir[64];
	char img[96];
	char dev[32];
	int fd; /* held open so the device stays attached; autoclear on last close */
	bool mounted;
};

static struct loopdev g_loop; /* the fixture: set up once in main, read by the tests */
static struct loopdev g_loop4k;

/* Attach a new loop device over a fresh file of size bytes in dir; lba 512 or 4096. */
static int loop_attach(struct loopdev *l, const char *dir, const char *name, unsigned lba, char *why, size_t whylen)
{
	snprintf(l->img, sizeof(l->img), "%s/%s", dir, name);
	int ffd = open(l->img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (ffd < 0 || ftruncate(ffd, IMG_BYTES) < 0) {
		snprintf(why, whylen, "cannot create %s: %s", l->img, strerror(errno));
		return -1;
	}
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		snprintf(why, whylen, "no /dev/loop-control: %s", strerror(errno));
		close(ffd);
		return -1;
	}
	int rc = -1;
	for (int attempt = 0; attempt < 8 && rc < 0; attempt++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			snprintf(why, whylen, "no free loop device: %s", strerror(errno));
			break;
		}
		snprintf(l->dev, sizeof(l->dev), "/dev/loop%d", n);
		l->fd = open(l->dev, O_RDWR | O_CLOEXEC);
		if (l->fd < 0) {
			snprintf(why, whylen, "%s: %s", l->dev, strerror(errno));
			break;
		}
		struct loop_config cfg;
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = (uint32_t)ffd;
		cfg.block_size = lba;
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		if (ioctl(l->fd, LOOP_CONFIGURE, &cfg) == 0) {
			rc = 0;
		} else {
			/* EBUSY: another process took it between GET_FREE and CONFIGURE */
			snprintf(why, whylen, "LOOP_CONFIGURE %s: %s", l->dev, strerror(errno));
			close(l->fd);
			l->fd = -1;
			if (errno != EBUSY)
				break;
		}
	}
	close(ctl);
	close(ffd);
	return rc;
}

static int fixture_up(char *why, size_t whylen)
{
	if (geteuid() != 0) {
		snprintf(why, whylen, "needs root (loop device)");
		return -1;
	}
	snprintf(g_loop.dir, sizeof(g_loop.dir), "/tmp/kio-test-XXXXXX");
	if (!mkdtemp(g_loop.dir)) {
		snprintf(why, whylen, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	/* our own tmpfs: the loop device's backing store is memory, and it all goes
	 * away with the unmount */
	if (mount("tmpfs", g_loop.dir, "tmpfs", 0, "size=160m") == 0)
		g_loop.mounted = true;
	if (loop_attach(&g_loop, g_loop.dir, "img", 512, why, whylen) < 0)
		return -1;
	char why4k[128];
	if (loop_attach(&g_loop4k, g_loop.dir, "img4k", 4096, why4k, sizeof(why4k)) < 0) {
		fprintf(stderr, "kio-loop: no 4 KiB-LBA loop device (%s); that test will skip\n", why4k);
		g_loop4k.fd = -1;
	}
	return 0;
}

static void fixture_down(void)
{
	if (g_loop4k.fd >= 0)
		close(g_loop4k.fd);
	if (g_loop.fd >= 0)
		close(g_loop.fd);
	unlink(g_loop4k.img);
	unlink(g_loop.img);
	if (g_loop.mounted)
		umount2(g_loop.dir, MNT_DETACH);
	rmdir(g_loop.dir);
}

static void test_open(void **state)
{
	struct kio_dev *d;
	assert_int_equal(kio_dev_open(&d, g_loop.dev, NULL), 0);
	assert_int_equal(kio_dev_kind(d), KIO_DEV_BLOCK);
	assert_string_equal(kio_dev_backend(d), "io_uring");
	assert_int_equal(kio_dev_lba_shift(d), 9);
	assert_int_equal(kio_dev_nlba(d), IMG_BYTES / 512);
	assert_true(kio_dev_max_xfer(d) >= 4096);
	assert_int_equal(kio_dev_max_xfer(d) % 512, 0);
	assert_int_equal(kio_dev_nsid(d), 0);
	kio_dev_close(d);
}

/* Write the whole device with LBA stamps in 128 KiB commands (queue filled until
 * -EAGAIN each round), read it back in 4 KiB commands, compare. */
static void test_stamped_roundtrip(void **state)
{
	struct kio_dev *d;
	struct kio_queue *q;
	assert_int_equal(kio_dev_open(&d, g_loop.dev, NULL), 0);
	assert_int_equal(kio_queue_create(d, 32, &q), 0);
	uint64_t nlba = kio_dev_nlba(d);
	uint8_t *w = kt_alloc(IMG_BYTES), *r = kt_alloc(IMG_BYTES);
	assert_non_null(w);
	assert_non_null(r);
	stamp_fill(w, 1, 0, (uint32_t)nlba, 9);
	uint32_t chunk = kio_dev_max_xfer(d) >> 9;
	if (chunk > 256)
		chunk = 256;
	assert_int_equal(kt_stream(q, true, 0, nlba, chunk, w, 9), 0);
	assert_int_equal(kt_sync_flush(q), 0);
	assert_int_equal(kt_stream(q, false, 0, nlba, 8, r, 9), 0);
	assert_int_equal(stamp_check(r, 1, 0, (uint32_t)nlba, 9, NULL), 0);
	/* a single-LBA write at the last block, read back alone */
	stamp_fill(w, 2, nlba - 1, 1, 9);
	assert_int_equal(kt_sync_rw(q, true, nlba - 1, 1, w, NULL), 0);
	memset(r, 0, 512);
	assert_int_equal(kt_sync_rw(q, false, nlba - 1, 1, r, NULL), 0);
	assert_int_equal(stamp_check(r, 2, nlba - 1, 1, 9, NULL), 0);
	struct kio_queue_stats st;
	kio_queue_stats(q, &st);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.fixed_ios, 0);
	assert_true(st.submit_calls < st.completed); /* batches, not one syscall per I/O */
	kio_queue_destroy(q);
	kio_dev_close(d);
	free(w);
	free(r);
}

static void test_errors(void **state)
{
	struct kio_dev *d;
	struct kio_queue *q;
	assert_int_equal(kio_dev_open(&d, g_loop.dev, NULL), 0);
	assert_int_equal(kio_queue_create(d, 4, &q), 0);
	uint64_t nlba = kio_dev_nlba(d);
	uint8_t *buf = kt_alloc(1u << 20);
	/* out of range: refused before reaching the kernel, nothing stays queued */
	assert_int_equal(kio_queue_rw(q, false, nlba, 1, buf, kt_cb, NULL), -ERANGE);
	assert_int_equal(kio_queue_rw(q, false, nlba - 1, 2, buf, kt_cb, NULL), -ERANGE);
	assert_int_equal(kio_queue_rw(q, true, UINT64_MAX, 1, buf, kt_cb, NULL), -ERANGE);
	assert_int_equal(kio_queue_rw(q, false, UINT64_MAX - 1, 8, buf, kt_cb, NULL), -ERANGE);
	/* nlb 0 and over the transfer limit */
	assert_int_equal(kio_queue_rw(q, false, 0, 0, buf, kt_cb, NULL), -EINVAL);
	assert_int_equal(kio_queue_rw(q, false, 0, (kio_dev_max_xfer(d) >> 9) + 1, buf, kt_cb, NULL), -EINVAL);
	assert_int_equal(kio_queue_inflight(q), 0);
	/* a buffer the kernel cannot write to: its -EFAULT reaches the callback.
	 * (Misalignment is no reliable error: recent kernels let O_DIRECT take any
	 * buffer the device's DMA alignment allows, and a loop device allows all.) */
	void *noaccess = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(noaccess != MAP_FAILED);
	assert_int_equal(kt_sync_rw(q, false, 0, 1, noaccess, NULL), -EFAULT);
	munmap(noaccess, 4096);
	struct kio_queue_stats st;
	kio_queue_stats(q, &st);
	assert_int_equal(st.errors, 1);
	assert_int_equal(kio_queue_inflight(q), 0);
	/* the queue still works after an error */
	assert_int_equal(kt_sync_rw(q, false, 0, 8, buf, NULL), 0);
	kio_queue_destroy(q);
	kio_dev_close(d);

	/* read-only device: writes fail in the kernel with -EBADF */
	struct kio_dev_opts ro = {.read_only = true, .sqpoll_cpu = -1};
	assert_int_equal(kio_dev_open(&d, g_loop.dev, &ro), 0);
	assert_int_equal(kio_queue_create(d, 2, &q), 0);
	assert_int_equal(kt_sync_rw(q, true, 0, 1, buf, NULL), -EBADF);
	assert_int_equal(kt_sync_rw(q, false, 0, 1, buf, NULL), 0);
	kio_queue_destroy(q);
	kio_dev_close(d);
	/* bad depth */
	assert_int_equal(kio_dev_open(&d, g_loop.dev, NULL), 0);
	assert_int_equal(kio_queue_create(d, 0, &q), -EINVAL);
	assert_int_equal(kio_queue_create(d, KIO_MAX_DEPTH + 1, &q), -EINVAL);
	kio_dev_close(d);
	free(buf);
}

/* depth commands may be queued or in flight, the next one gets -EAGAIN; after
 * the completions are reaped the queue takes depth again. */
static void test_eagain_bound(void **state)
{
	struct kio_dev *d;
	struct kio_queue *q;
	enum { DEPTH = 8 };
	assert_int_equal(kio_dev_open(&d, g_loop.dev, NULL), 0);
	assert_int_equal(kio_queue_create(d, DEPTH, &q), 0);
	assert_int_equal(kio_queue_depth(q), DEPTH);
	uint8_t *buf = kt_alloc(DEPTH * 4096);
	struct kt_batch b = {0};
	for (int round = 0; round < 3; round++) {
		for (unsigned i = 0; i < DEPTH; i++)
			assert_int_equal(kio_queue_rw(q, false, i * 8, 8, buf + i * 4096, kt_batch_cb, &b), 0);
		assert_int_equal(kio_queue_inflight(q), DEPTH);
		assert_int_equal(kio_queue_rw(q, false, 0, 8, buf, kt_batch_cb, &b), -EAGAIN);
		assert_int_equal(kio_queue_flush(q, kt_batch_cb, &b), -EAGAIN);
		assert_int_equal(kio_queue_submit(q), DEPTH);
		assert_int_equal(kio_queue_submit(q), 0); /* nothing queued: no syscall */
		assert_int_equal(kio_queue_rw(q, false, 0, 8, buf, kt_batch_cb, &b), -EAGAIN);
		assert_int_equal(kio_queue_wait(q, DEPTH, 5000), DEPTH);
		assert_int_equal(kio_queue_inflight(q), 0);
		/* nothing in flight: poll and wait return at once */
		assert_int_equal(kio_queue_poll(q, 100), 0);
		assert_int_equal(kio_queue_wait(q, 1, 5000), 0);
	}
	assert_int_equal(b.done, 3 * DEPTH);
	assert_int_equal(b.errors, 0);
	kio_queue_destroy(q);
	kio_dev_close(d);
	free(buf);
}

/* The same data through READ_FIXED/WRITE_FIXED and through plain READ/WRITE. */
static void test_registered_buffers(void **state)
{
	struct kio_dev *d;
	struct kio_queue *q;
	assert_int_equal(kio_dev_open(&d, g_loop.dev, NULL), 0);
	assert_int_equal(kio_queue_create(d, 16, &q), 0);
	size_t len = 4u << 20;
	uint8_t *reg = kt_alloc(len + 8192), *plain = kt_alloc(len);
	assert_int_equal(kio_queue_register_buffer(q, reg, len), 0);
	size_t got;
	assert_ptr_equal(kio_queue_buffer(q, &got), reg);
	assert_int_equal(got, len);
	uint32_t nlb = (uint32_t)(len >> 9);
	uint64_t base = 4096; /* LBA */
	stamp_fill(reg, 3, base, nlb, 9);
	assert_int_equal(kt_stream(q, true, base, nlb, 64, reg, 9), 0);
	struct kio_queue_stats st;
	kio_queue_stats(q, &st);
	assert_int_equal(st.fixed_ios, nlb / 64);
	assert_int_equal(kt_stream(q, false, base, nlb, 16, plain, 9), 0);
	kio_queue_stats(q, &st);
	assert_int_equal(st.fixed_ios, nlb / 64); /* plain buffers did not count */
	assert_int_equal(stamp_check(plain, 3, base, nlb, 9, NULL), 0);
	/* plain write, fixed read */
	stamp_fill(plain, 4, base, nlb, 9);
	assert_int_equal(kt_stream(q, true, base, nlb, 128, plain, 9), 0);
	memset(reg, 0, len);
	assert_int_equal(kt_stream(q, false, base, nlb, 8, reg, 9), 0);
	assert_int_equal(stamp_check(reg, 4, base, nlb, 9, NULL), 0);
	/* a transfer that runs past the end of the region goes out plain (reg has
	 * 8 KiB allocated beyond what was registered) */
	kio_queue_stats(q, &st);
	uint64_t fixed_before = st.fixed_ios;
	assert_int_equal(kt_sync_rw(q, false, base, 8, reg + len - 4096, NULL), 0);
	assert_int_equal(kt_sync_rw(q, false, base, 8, reg + len - 2048, NULL), 0);
	kio_queue_stats(q, &st);
	assert_int_equal(st.fixed_ios, fixed_before + 1);
	/* re-registering with nothing in flight, and unregistering */
	assert_int_equal(kio_queue_register_buffer(q, plain, len), 0);
	assert_int_equal(kio_queue_register_buffer(q, NULL, 0), 0);
	assert_null(kio_queue_buffer(q, NULL));
	/* refused while commands are queued */
	struct kt_done dn = {0};
	assert_int_equal(kio_queue_rw(q, false, 0, 1, plain, kt_cb, &dn), 0);
	assert_int_equal(kio_queue_register_buffer(q, reg, len), -EBUSY);
	assert_int_equal(kio_queue_wait(q, 1, 5000), 1);
	assert_int_equal(dn.err, 0);
	kio_queue_destroy(q);
	kio_dev_close(d);
	free(reg);
	free(plain);
}

/* The kernel's SQ polling thread submits; the skip names the reason when the
 * kernel or our privileges refuse it. */
static void test_sqpoll(void **state)
{
	struct kio_dev *d;
	struct kio_queue *q;
	struct kio_dev_opts o = {.sqpoll = true, .sqpoll_cpu = -1};
	assert_int_equal(kio_dev_open(&d, g_loop.dev, &o), 0);
	int rc = kio_queue_create(d, 32, &q);
	if (rc == -EPERM || rc == -EINVAL || rc == -ENOMEM) {
		fprintf(stderr, "kio-loop: SQPOLL refused: %s\n", strerror(-rc));
		kio_dev_close(d);
		skip();
	}
	assert_int_equal(rc, 0);
	size_t len = 2u << 20;
	uint8_t *w = kt_alloc(len), *r = kt_alloc(len);
	assert_int_equal(kio_queue_register_buffer(q, w, len), 0);
	stamp_fill(w, 5, 0, (uint32_t)(len >> 9), 9);
	assert_int_equal(kt_stream(q, true, 0, len >> 9, 32, w, 9), 0);
	assert_int_equal(kt_stream(q, false, 0, len >> 9, 8, r, 9), 0);
	assert_int_equal(stamp_check(r, 5, 0, (uint32_t)(len >> 9), 9, NULL), 0);
	kio_queue_destroy(q);
	kio_dev_close(d);
	/* pinned to CPU 0 */
	o.sqpoll_cpu = 0;
	assert_int_equal(kio_dev_open(&d, g_loop.dev, &o), 0);
	assert_int_equal(kio_queue_create(d, 8, &q), 0);
	memset(r, 0, 4096);
	assert_int_equal(kt_sync_rw(q, false, 0, 8, r, NULL), 0);
	assert_int_equal(stamp_check(r, 5, 0, 8, 9, NULL), 0);
	kio_queue_destroy(q);
	kio_dev_close(d);
	free(w);
	free(r);
}

/* A loop device has no poll queues: IOPOLL must fail cleanly (setup or per
 * command), never hang. Where it works the data must be right. */
static void test_iopoll(void **state)
{
	struct kio_dev *d;
	struct kio_queue *q;
	struct kio_dev_opts o = {.iopoll = true, .sqpoll_cpu = -1};
	assert_int_equal(kio_dev_open(&d, g_loop.dev, &o), 0);
	int rc = kio_queue_create(d, 8, &q);
	if (rc == 0) {
		uint8_t *r = kt_alloc(4096);
		rc = kt_sync_rw(q, false, 0, 8, r, NULL);
		if (rc == 0)
			assert_int_equal(stamp_check(r, 5, 0, 8, 9, NULL), 0);
		kio_queue_destroy(q);
		free(r);
	}
	fprintf(stderr, "kio-loop: IOPOLL on a loop device: %s\n", rc ? strerror(-rc) : "works");
	assert_true(rc == 0 || rc == -EOPNOTSUPP || rc == -EINVAL);
	kio_dev_close(d);
	struct kio_dev_opts bad = {.iopoll = true, .buffered = true, .sqpoll_cpu = -1};
	assert_int_equal(kio_dev_open(&d, g_loop.dev, &bad), -EINVAL);
}

/* 4 KiB logical blocks: the LBA size comes from BLKSSZGET. */
static void test_4k_lba(void **state)
{
	if (g_loop4k.fd < 0)
		skip();
	struct kio_dev *d;
	struct kio_queue *q;
	assert_int_equal(kio_dev_open(&d, g_loop4k.dev, NULL), 0);
	assert_int_equal(kio_dev_lba_shift(d), 12);
	assert_int_equal(kio_dev_nlba(d), IMG_BYTES / 4096);
	assert_int_equal(kio_queue_create(d, 16, &q), 0);
	uint32_t nlb = 256;
	uint8_t *w = kt_alloc(nlb * 4096u), *r = kt_alloc(nlb * 4096u);
	stamp_fill(w, 6, 100, nlb, 12);
	assert_int_equal(kt_stream(q, true, 100, nlb, 16, w, 12), 0);
	assert_int_equal(kt_stream(q, false, 100, nlb, 1, r, 12), 0);
	assert_int_equal(stamp_check(r, 6, 100, nlb, 12, NULL), 0);
	kio_queue_destroy(q);
	kio_dev_close(d);
	free(w);
	free(r);
}

/* Destroy with commands in flight waits for them and runs every callback. */
static void test_destroy_inflight(void **state)
{
	struct kio_dev *d;
	struct kio_queue *q;
	assert_int_equal(kio_dev_open(&d, g_loop.dev, NULL), 0);
	assert_int_equal(kio_queue_create(d, 64, &q), 0);
	uint8_t *buf = kt_alloc(64 * 4096);
	struct kt_batch b = {0};
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(kio_queue_rw(q, false, i * 8, 8, buf + i * 4096, kt_batch_cb, &b), 0);
	assert_int_equal(kio_queue_submit(q), 64);
	kio_queue_destroy(q);
	assert_int_equal(b.done, 64);
	assert_int_equal(b.errors, 0);
	/* queued but never submitted: destroy submits and waits for them too */
	assert_int_equal(kio_queue_create(d, 8, &q), 0);
	struct kt_batch b2 = {0};
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(kio_queue_rw(q, false, i * 8, 8, buf + i * 4096, kt_batch_cb, &b2), 0);
	kio_queue_destroy(q);
	assert_int_equal(b2.done, 8);
	kio_dev_close(d);
	free(buf);
}

/* Callbacks may queue more I/O: a chain of dependent reads driven from completions. */
struct chain {
	uint8_t *buf;
	unsigned left;
	int err;
};

static void chain_cb(struct kio_queue *q, void *arg, int err, uint16_t nvme_status)
{
	struct chain *c = arg;
	if (err && !c->err)
		c->err = err;
	if (c->left && !c->err) {
		c->left--;
		int rc = kio_queue_rw(q, false, c->left * 8, 8, c->buf, chain_cb, c);
		if (rc < 0)
			c->err = rc;
	}
}

static void test_resubmit_from_callback(void **state)
{
	struct kio_dev *d;
	struct kio_queue *q;
	assert_int_equal(kio_dev_open(&d, g_loop.dev, NULL), 0);
	assert_int_equal(kio_queue_create(d, 1, &q), 0);
	struct chain c = {.buf = kt_alloc(4096), .left = 100};
	kio_queue_set_user(q, &c);
	assert_ptr_equal(kio_queue_user(q), &c);
	assert_ptr_equal(kio_queue_dev(q), d);
	assert_int_equal(kio_queue_rw(q, false, 0, 8, c.buf, chain_cb, &c), 0);
	while (kio_queue_inflight(q))
		assert_true(kio_queue_wait(q, 1, 5000) >= 0);
	assert_int_equal(c.err, 0);
	assert_int_equal(c.left, 0);
	kio_queue_destroy(q);
	kio_dev_close(d);
	free(c.buf);
}

int main(void)
{
	char why[200];
	if (fixture_up(why, sizeof(why)) < 0) {
		printf("SKIP: %s\n", why);
		fixture_down();
		return 77;
	}
	fprintf(stderr, "kio-loop: %s over %s (tmpfs %s)\n", g_loop.dev, g_loop.img,
		g_loop.mounted ? "own" : "not mounted");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_stamped_roundtrip),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_eagain_bound),
		cmocka_unit_test(test_registered_buffers),
		cmocka_unit_test(test_sqpoll),
		cmocka_unit_test(test_iopoll),
		cmocka_unit_test(test_4k_lba),
		cmocka_unit_test(test_destroy_inflight),
		cmocka_unit_test(test_resubmit_from_callback),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	fixture_down();
	return rc;
}
