/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The log hook: real failures of the PCI, emu, xal and nvmed layers arrive through an installed hook
 * with their level, device and message, and nothing reaches stderr; NULL restores the default sink,
 * which writes today's "aisio: DEV: message" lines; the level threshold; a hook swapped while other
 * threads log is never called with the other hook's arg.
 */
#include <aisio/emu.h>
#include <aisio/log.h>
#include <aisio/nvmed.h>
#include <aisio/pci.h>
#include <aisio/xal.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#define MAX_CAPTURED 16

struct captured {
	int n;
	enum aisio_log_level level[MAX_CAPTURED];
	char dev[MAX_CAPTURED][256];
	char msg[MAX_CAPTURED][1024];
	size_t msg_len[MAX_CAPTURED];
};

static void capture(void *arg, enum aisio_log_level level, const char *dev, const char *msg)
{
	struct captured *c = arg;
	if (c->n == MAX_CAPTURED)
		return;
	c->level[c->n] = level;
	snprintf(c->dev[c->n], sizeof(c->dev[0]), "%s", dev ? dev : "(none)");
	snprintf(c->msg[c->n], sizeof(c->msg[0]), "%s", msg);
	c->msg_len[c->n] = strlen(msg);
	c->n++;
}

/* stderr into a temporary file between stderr_begin and stderr_end, which returns what came. */
struct stderr_capture {
	int saved, fd;
	char text[4096];
};

static void stderr_begin(struct stderr_capture *s)
{
	char path[] = "/tmp/aisio-test-log-XXXXXX";
	s->fd = mkstemp(path);
	assert_true(s->fd >= 0);
	unlink(path);
	fflush(stderr);
	s->saved = dup(2);
	assert_true(s->saved >= 0);
	assert_true(dup2(s->fd, 2) == 2);
}

static const char *stderr_end(struct stderr_capture *s)
{
	fflush(stderr);
	assert_true(dup2(s->saved, 2) == 2);
	close(s->saved);
	ssize_t n = pread(s->fd, s->text, sizeof(s->text) - 1, 0);
	close(s->fd);
	s->text[n > 0 ? n : 0] = 0;
	return s->text;
}

static int setup(void **state)
{
	struct captured *c = calloc(1, sizeof(*c));
	if (!c)
		return -1;
	aisio_log_hook_set(capture, c);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	aisio_log_hook_set(NULL, NULL);
	aisio_log_level_set(AISIO_LOG_INFO);
	free(*state);
	return 0;
}

static void test_pci_bad_device_string(void **state)
{
	struct captured *c = *state;
	struct stderr_capture s;
	struct pci_dev *d = NULL;

	stderr_begin(&s);
	int rc = pci_dev_open(&d, "nope");
	int rc2 = pci_dev_open(&d, "0000:7f:1f.7");
	assert_string_equal(stderr_end(&s), "");
	assert_int_equal(rc, -EINVAL);
	assert_true(rc2 < 0);
	assert_int_equal(c->n, 2);
	/* the string names no device: the message says what it is */
	assert_int_equal(c->level[0], AISIO_LOG_ERROR);
	assert_string_equal(c->dev[0], "(none)");
	assert_non_null(strstr(c->msg[0], "'nope' is not a device: expected a PCI address"));
	assert_int_equal(c->level[1], AISIO_LOG_ERROR);
	assert_string_equal(c->dev[1], "0000:7f:1f.7");
	assert_string_equal(c->msg[1], "no PCI function at this address on this machine");
}

static void test_emu_option_error(void **state)
{
	struct captured *c = *state;
	struct stderr_capture s;
	struct emu_opts o;

	stderr_begin(&s);
	int rc = emu_opts_parse(&o, DEVSTR_EMU, "null,color=blue");
	assert_string_equal(stderr_end(&s), "");
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(c->n, 1);
	assert_int_equal(c->level[0], AISIO_LOG_ERROR);
	assert_string_equal(c->dev[0], "emu");
	assert_string_equal(c->msg[0],
			    "unknown option 'color' (known: lba, ns, mdts, qpairs, mqes, threads, dstrd, to, "
			    "rdy_delay, err, drop, delay, fatal_after)");
}

/* An empty image and one of zeros: one message each (the first failure, not the unwinding), the
 * device being the image's path. */
static void test_xal_bad_image(void **state)
{
	struct captured *c = *state;
	struct stderr_capture s;
	char path[] = "/tmp/aisio-test-log-img-XXXXXX";
	struct xal *x = NULL;
	int fd = mkstemp(path);
	assert_true(fd >= 0);

	stderr_begin(&s);
	int rc_empty = xal_open(&x, path, NULL);
	char zero[4096] = {0};
	assert_int_equal(write(fd, zero, sizeof(zero)), (ssize_t)sizeof(zero));
	int rc_zero = xal_open(&x, path, NULL);
	assert_string_equal(stderr_end(&s), "");
	close(fd);
	unlink(path);

	assert_int_equal(rc_empty, -EUCLEAN);
	assert_int_equal(rc_zero, -EMEDIUMTYPE);
	assert_int_equal(c->n, 2);
	assert_int_equal(c->level[0], AISIO_LOG_ERROR);
	assert_string_equal(c->dev[0], path);
	assert_string_equal(c->msg[0], "superblock at byte 0 (+512) is beyond the end of the device (0 bytes)");
	assert_int_equal(c->level[1], AISIO_LOG_ERROR);
	assert_string_equal(c->dev[1], path);
	assert_string_equal(c->msg[1], "not an XFS file system (superblock magic 0x00000000)");
}

/* A queue deeper than the emulated controller's MQES: the driver names the controller. */
static void test_nvmed_error_through_emu(void **state)
{
	struct captured *c = *state;
	struct stderr_capture s;
	const char *devstr = "emu:null,mqes=31,threads=1";
	struct nvmed_ctrl *ctrl = NULL;
	struct nvmed_qpair *qp = NULL;

	stderr_begin(&s);
	int rc_open = nvmed_ctrl_open(&ctrl, devstr, NULL);
	int rc = rc_open == 0 ? nvmed_qpair_create(ctrl, 64, &qp) : rc_open;
	if (ctrl)
		nvmed_ctrl_close(ctrl);
	assert_string_equal(stderr_end(&s), "");
	assert_int_equal(rc_open, 0);
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(c->n, 1);
	assert_int_equal(c->level[0], AISIO_LOG_ERROR);
	assert_string_equal(c->dev[0], devstr);
	assert_string_equal(c->msg[0], "queue depth 64 not possible: the controller takes 2..32 entries (MQES)");
}

static void test_default_sink(void **state)
{
	struct captured *c = *state;
	struct stderr_capture s;
	struct emu_opts o;

	aisio_log_hook_set(NULL, NULL);
	stderr_begin(&s);
	int rc = emu_opts_parse(&o, DEVSTR_EMU, "null,color=blue");
	aisio_log(AISIO_LOG_WARNING, NULL, "no device: %d", 7);
	const char *out = stderr_end(&s);
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(out,
			    "aisio: emu: unknown option 'color' (known: lba, ns, mdts, qpairs, mqes, threads, dstrd, "
			    "to, rdy_delay, err, drop, delay, fatal_after)\n"
			    "aisio: no device: 7\n");
	assert_int_equal(c->n, 0);
}

static void test_levels(void **state)
{
	struct captured *c = *state;
	enum aisio_log_level l = AISIO_LOG_ERROR;

	aisio_log(AISIO_LOG_DEBUG, "dev", "hidden by default");
	assert_int_equal(c->n, 0);
	assert_false(aisio_log_enabled(AISIO_LOG_DEBUG));
	aisio_log_level_set(AISIO_LOG_DEBUG);
	aisio_log(AISIO_LOG_DEBUG, "dev", "shown at %s", "debug");
	assert_int_equal(c->n, 1);
	assert_int_equal(c->level[0], AISIO_LOG_DEBUG);
	assert_string_equal(c->msg[0], "shown at debug");
	aisio_log_level_set(AISIO_LOG_ERROR);
	aisio_log(AISIO_LOG_WARNING, "dev", "below the threshold");
	assert_int_equal(c->n, 1);

	assert_int_equal(aisio_log_level_parse("warning", &l), 0);
	assert_int_equal(l, AISIO_LOG_WARNING);
	assert_int_equal(aisio_log_level_parse("debug", &l), 0);
	assert_int_equal(l, AISIO_LOG_DEBUG);
	assert_int_equal(aisio_log_level_parse("loud", &l), -EINVAL);
	assert_int_equal(aisio_log_level_parse(NULL, &l), -EINVAL);
	assert_string_equal(aisio_log_level_str(AISIO_LOG_ERROR), "error");
}

/* A message longer than the formatting buffer arrives whole; errno survives a log call. */
static void test_long_message_and_errno(void **state)
{
	struct captured *c = *state;
	char big[900];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;

	errno = EBADF;
	aisio_log(AISIO_LOG_ERROR, "dev", "%s|%s", big, "end");
	assert_int_equal(errno, EBADF);
	assert_int_equal(c->n, 1);
	assert_int_equal(c->msg_len[0], sizeof(big) - 1 + 4);
	assert_string_equal(c->msg[0] + sizeof(big) - 1, "|end");
}

/* Two hooks swapped while threads log: each call pairs a hook with its own arg. */
struct pair_tag {
	atomic_ulong calls;
};
static struct pair_tag tag_a, tag_b;
static atomic_ulong mismatches;
static atomic_int stop_logging;

static void hook_a(void *arg, enum aisio_log_level level, const char *dev, const char *msg)
{
	if (arg != &tag_a)
		atomic_fetch_add(&mismatches, 1);
	atomic_fetch_add(&tag_a.calls, 1);
}

static void hook_b(void *arg, enum aisio_log_level level, const char *dev, const char *msg)
{
	if (arg != &tag_b)
		atomic_fetch_add(&mismatches, 1);
	atomic_fetch_add(&tag_b.calls, 1);
}

static void *log_loop(void *arg)
{
	while (!atomic_load(&stop_logging))
		aisio_log(AISIO_LOG_ERROR, "dev", "message %d", 1);
	return NULL;
}

static void test_hook_swap_under_load(void **state)
{
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, log_loop, NULL), 0);
	/* at least 20,000 swaps, and until both hooks have been called often (bounded: 10 s) */
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0;; i++) {
		if (i & 1)
			aisio_log_hook_set(hook_b, &tag_b);
		else
			aisio_log_hook_set(hook_a, &tag_a);
		if (i < 20000 || (i & 1023))
			continue;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((atomic_load(&tag_a.calls) >= 10000 && atomic_load(&tag_b.calls) >= 10000) ||
		    now.tv_sec - t0.tv_sec > 10)
			break;
	}
	atomic_store(&stop_logging, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&mismatches), 0);
	assert_true(atomic_load(&tag_a.calls) >= 10000 && atomic_load(&tag_b.calls) >= 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pci_bad_device_string, setup, teardown),
		cmocka_unit_test_setup_teardown(test_emu_option_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xal_bad_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nvmed_error_through_emu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_sink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_message_and_errno, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_swap_under_load, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
