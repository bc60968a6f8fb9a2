/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * homid's configuration parser (daemon/homid_config.c, linked from the daemon's source): good files
 * load with every value parsed (socket, octal socket_mode, users and groups by number and by name,
 * the namespace mask, max_queues, extents, the ublk keys, an SR-IOV PF's keys and the VF devices it
 * makes) and defaults where a key is absent; bad ones fail with -EINVAL
 * and one error through the log hook that names the file and the line ("line N: ...").
 */
#include "homid.h"

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

#define MAX_CAPTURED 8

struct captured {
	int n;
	char dev[MAX_CAPTURED][256];
	char msg[MAX_CAPTURED][512];
};

static void capture(void *arg, enum aisio_log_level level, const char *dev, const char *msg)
{
	struct captured *c = arg;
	if (level != AISIO_LOG_ERROR || c->n == MAX_CAPTURED)
		return;
	snprintf(c->dev[c->n], sizeof(c->dev[0]), "%s", dev ? dev : "(none)");
	snprintf(c->msg[c->n], sizeof(c->msg[0]), "%s", msg);
	c->n++;
}

static struct homid_config cfg;
static struct captured cap;
static char path[64];

/* Writes text to a temporary file and loads it; the messages logged are in cap. */
static int load(const char *text)
{
	snprintf(path, sizeof(path), "/tmp/aisio-test-homid-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	memset(&cap, 0, sizeof(cap));
	aisio_log_hook_set(capture, &cap);
	int rc = homid_config_load(&cfg, path);
	aisio_log_hook_set(NULL, NULL);
	unlink(path);
	return rc;
}

/*
 * A bad file: -EINVAL, and its last error (earlier ones may come from the device-string parser) is
 * about the file and begins "line N:", N the line of the offending key.
 */
static void refused_at(const char *text, int line, const char *words)
{
	int rc = load(text);
	if (rc != -EINVAL || cap.n == 0)
		fail_msg("rc %d, %d messages, for:\n%s", rc, cap.n, text);
	const char *msg = cap.msg[cap.n - 1];
	char want[32];
	snprintf(want, sizeof(want), "line %d: ", line);
	if (strncmp(msg, want, strlen(want)) || !strstr(msg, words))
		fail_msg("'%s' is not '%s...%s...', for:\n%s", msg, want, words, text);
	assert_string_equal(cap.dev[cap.n - 1], path);
}

static void test_good(void **state)
{
	const char *text = "# homid test configuration\n"
			   "[homid]\n"
			   "socket = /tmp/homid-test.sock\n"
			   "socket_mode = 0660\n"
			   "socket_group = root\n"
			   "log = stderr\n"
			   "log_level = debug\n"
			   "open_retry = 5\n"
			   "admin_timeout = 45\n"
			   "\n"
			   "[device fast0]\n"
			   "device = emu:ram:64M,qpairs=4\n"
			   "users = 1000 root\n"
			   "groups = 100, root,7\n"
			   "namespaces = 1 3\n"
			   "max_queues = 8\n"
			   "extents = /mnt/data\n"
			   "extents_nsid = 3\n"
			   "\n"
			   "; a PCI function, in the short form\n"
			   "[device nvme.1]\n"
			   "device = 01:00.0\n"
			   "namespaces = 16\n";
	assert_int_equal(load(text), 0);
	assert_int_equal(cap.n, 0);
	assert_string_equal(cfg.path, path);
	assert_string_equal(cfg.socket, "/tmp/homid-test.sock");
	assert_int_equal(cfg.socket_mode, 0660);
	assert_int_equal(cfg.socket_gid, 0);
	assert_int_equal(cfg.log_journal, 0);
	assert_int_equal(cfg.log_level, AISIO_LOG_DEBUG);
	assert_int_equal(cfg.open_retry_s, 5);
	assert_int_equal(cfg.admin_timeout_s, 45);
	assert_int_equal(cfg.ndev, 2);

	const struct homid_dev_conf *d = &cfg.devs[0];
	assert_string_equal(d->name, "fast0");
	assert_string_equal(d->target, "emu:ram:64M,qpairs=4");
	assert_int_equal(d->line, 12);
	assert_int_equal(d->policy.nuids, 2);
	assert_int_equal(d->policy.uids[0], 1000);
	assert_int_equal(d->policy.uids[1], 0);
	assert_int_equal(d->policy.ngids, 3);
	assert_int_equal(d->policy.gids[0], 100);
	assert_int_equal(d->policy.gids[1], 0);
	assert_int_equal(d->policy.gids[2], 7);
	assert_int_equal(d->policy.ns_mask, (1u << 1) | (1u << 3));
	assert_int_equal(d->policy.max_queues, 8);
	assert_string_equal(d->extents, "/mnt/data");
	assert_int_equal(d->extents_nsid, 3);

	d = &cfg.devs[1];
	assert_string_equal(d->name, "nvme.1");
	assert_string_equal(d->target, "01:00.0");
	assert_int_equal(d->line, 22);
	assert_int_equal(d->policy.nuids, 0);
	assert_int_equal(d->policy.ngids, 0);
	assert_int_equal(d->policy.ns_mask, 1u << 16);
	assert_int_equal(d->policy.max_queues, 0);
	assert_string_equal(d->extents, "");
	assert_int_equal(d->extents_nsid, 0);
}

static void test_defaults(void **state)
{
	assert_int_equal(load("[device a]\ndevice = emu:null\n"), 0);
	assert_string_equal(cfg.socket, HOMI_DEFAULT_SOCKET);
	assert_int_equal(cfg.socket_mode, 0600);
	assert_int_equal(cfg.socket_gid, -1);
	assert_int_equal(cfg.log_level, AISIO_LOG_INFO);
	assert_int_equal(cfg.open_retry_s, 60);
	assert_int_equal(cfg.admin_timeout_s, 10);
	assert_int_equal(cfg.ndev, 1);
	assert_int_equal(cfg.devs[0].policy.ns_mask, 0); /* every namespace */

	/* modes are octal with or without the leading 0; journal logging */
	assert_int_equal(load("[homid]\nsocket_mode = 666\nlog = journal\n[device a]\ndevice = emu:null\n"), 0);
	assert_int_equal(cfg.socket_mode, 0666);
	assert_int_equal(cfg.log_journal, 1);
	assert_int_equal(load("[homid]\nsocket_mode = 0\n[device a]\ndevice = emu:null\n"), 0);
	assert_int_equal(cfg.socket_mode, 0);

	/* two emulated devices of the same string are two devices */
	assert_int_equal(load("[device a]\ndevice = emu:null\n[device b]\ndevice = emu:null\n"), 0);
	assert_int_equal(cfg.ndev, 2);

	/* 16 devices, the most */
	char text[4096] = "";
	size_t at = 0;
	for (int i = 0; i < HOMI_MAX_DEVS; i++)
		at += (size_t)snprintf(text + at, sizeof(text) - at, "[device d%d]\ndevice = emu:null\n", i);
	assert_int_equal(load(text), 0);
	assert_int_equal(cfg.ndev, HOMI_MAX_DEVS);
	assert_int_equal(cfg.devs[HOMI_MAX_DEVS - 1].line, 2 * HOMI_MAX_DEVS);
}

static void test_sections_and_keys(void **state)
{
	refused_at("[homid]\nsocket = /tmp/s\n[daemon]\nsocket = /tmp/t\n", 4, "unknown section [daemon]");
	refused_at("[device a]\ndevice = emu:null\n[devices b]\ndevice = emu:null\n", 4, "unknown section");
	refused_at("[device a]\ndevice = emu:null\n[daemon]\n", 3, "unknown section [daemon]");
	assert_int_equal(load("[homid]\n[device a]\ndevice = emu:null\n"), 0); /* an empty [homid] is fine */
	refused_at("[homid]\nsocket = /tmp/s\nsockets = /tmp/t\n[device a]\ndevice = emu:null\n", 3,
		   "unknown key 'sockets' in [homid]");
	refused_at("[device a]\ndevice = emu:null\nuser = 1000\n", 3, "unknown key 'user' in a device section");
	/* a line that is no INI at all: inih's own line number */
	refused_at("[device a]\ndevice = emu:null\nthis is no key\n", 3, "not INI");
	/* the first error is the one reported */
	refused_at("[homid]\nbad1 = 1\nbad2 = 2\n[device a]\ndevice = emu:null\n", 2, "'bad1'");
}

static void test_homid_values(void **state)
{
	static const char *const modes[] = {"0999", "8", "01000", "-1", "0o600", "rw", ""};
	char text[256];
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(text, sizeof(text), "[homid]\n\nsocket_mode = %s\n[device a]\ndevice = emu:null\n", modes[i]);
		refused_at(text, 3, "not an octal mode");
	}
	refused_at("[homid]\nlog = syslog\n[device a]\ndevice = emu:null\n", 2, "stderr or journal");
	refused_at("[homid]\nlog_level = loud\n[device a]\ndevice = emu:null\n", 2, "log_level");
	refused_at("[homid]\nopen_retry = 3601\n[device a]\ndevice = emu:null\n", 2, "open_retry");
	refused_at("[homid]\nadmin_timeout = 0\n[device a]\ndevice = emu:null\n", 2, "admin_timeout");
	refused_at("[homid]\nsocket_group = no-such-group-aisio\n[device a]\ndevice = emu:null\n", 2, "is no group");
	refused_at("[homid]\nsocket_group = 1 2\n[device a]\ndevice = emu:null\n", 2, "is no group");
	char longpath[160];
	memset(longpath, 's', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = 0;
	snprintf(text, sizeof(text), "[homid]\nsocket = /%s\n[device a]\ndevice = emu:null\n", longpath);
	refused_at(text, 2, "empty or too long");
}

static void test_device_values(void **state)
{
	/* a device section without device = ...: the line where the section's first key is */
	refused_at("[device a]\ndevice = emu:null\n[device b]\nusers = 0\n", 4, "[device b] names no device");
	/* one without any key (inih never calls the handler for it): its header's line */
	refused_at("[device a]\ndevice = emu:null\n[device b]\n", 3, "[device b] names no device");
	refused_at("[device b]\n; nothing\n[device a]\ndevice = emu:null\n", 1, "[device b] names no device");
	refused_at("[device a]\ndevice = bogus\n", 2, "not an emu: or gpuemu: string or a PCI address");
	refused_at("[device a]\ndevice = /dev/nvme0n1\n", 2, "not an emu: or gpuemu: string or a PCI address");
	refused_at("[device a]\ndevice = homi:other\n", 2, "not an emu: or gpuemu: string or a PCI address");
	refused_at("[device a]\ndevice = 0000:01:20.0\n", 2, "not an emu: or gpuemu: string or a PCI address");
	refused_at("[device a]\ndevice = emu:null\nserial = S123\n", 3, "serial number is not supported");
	refused_at("[device a]\ndevice = emu:null\nusers = nosuchuser-aisio\n", 3, "users");
	refused_at("[device a]\ndevice = emu:null\ngroups = nosuchgroup-aisio\n", 3, "groups");
	refused_at("[device a]\ndevice = emu:null\nnamespaces = 0\n", 3, "namespace ids 1..16");
	refused_at("[device a]\ndevice = emu:null\nnamespaces = 1 17\n", 3, "namespace ids 1..16");
	refused_at("[device a]\ndevice = emu:null\nnamespaces = ,\n", 3, "namespace ids 1..16");
	refused_at("[device a]\ndevice = emu:null\nmax_queues = 1025\n", 3, "max_queues");
	refused_at("[device a]\ndevice = emu:null\nmax_queues = -1\n", 3, "max_queues");
	refused_at("[device a]\ndevice = emu:null\nextents = mnt/data\n", 3, "an absolute path");
	refused_at("[device a]\ndevice = emu:null\nextents_nsid = 0\n", 3, "extents_nsid '0': 1..16");
	refused_at("[device a]\ndevice = emu:null\nextents_nsid = 17\n", 3, "extents_nsid '17': 1..16");

	/* 33 users, one over a policy line's room */
	char text[512] = "[device a]\ndevice = emu:null\nusers =";
	for (int i = 0; i < HOMID_MAX_IDS + 1; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), " %d", 1000 + i);
	strcat(text, "\n");
	refused_at(text, 3, "users '1000 1001");
}

static void test_device_names(void **state)
{
	char name[HOMI_NAME_MAX + 1], text[256];
	/* 63 characters fit, 64 do not */
	memset(name, 'n', HOMI_NAME_MAX - 1);
	name[HOMI_NAME_MAX - 1] = 0;
	snprintf(text, sizeof(text), "[device %s]\ndevice = emu:null\n", name);
	assert_int_equal(load(text), 0);
	assert_string_equal(cfg.devs[0].name, name);
	memset(name, 'n', HOMI_NAME_MAX);
	name[HOMI_NAME_MAX] = 0;
	snprintf(text, sizeof(text), "[device x]\ndevice = emu:null\n\n[device %s]\ndevice = emu:null\n", name);
	refused_at(text, 5, "is not a homi: name");
	/* a name longer than inih's own section buffer (49 bytes with "device ") is kept whole */
	memset(name, 'm', 50);
	name[50] = 0;
	snprintf(text, sizeof(text), "[device %s]\ndevice = emu:null\n", name);
	assert_int_equal(load(text), 0);
	assert_string_equal(cfg.devs[0].name, name);
	refused_at("[device a/b]\ndevice = emu:null\n", 2, "is not a homi: name");
	refused_at("[device ]\ndevice = emu:null\n", 2, "is not a homi: name");
}

/* Lines up to inih's buffer (199 characters) are read whole; a longer one is refused where it is. */
static void test_long_lines(void **state)
{
	char text[1024], comment[400];
	memset(comment, 'c', sizeof(comment));
	comment[0] = '#';
	comment[199] = 0;
	snprintf(text, sizeof(text), "%s\n[device a]\ndevice = emu:null\nbad = 1\n", comment);
	refused_at(text, 4, "unknown key 'bad'");
	comment[199] = 'c';
	comment[200] = 0;
	snprintf(text, sizeof(text), "[device a]\ndevice = emu:null\n%s\nbad = 1\n", comment);
	refused_at(text, 3, "longer than 199 characters");
	/* the last line, without a newline */
	snprintf(text, sizeof(text), "[device a]\ndevice = emu:null\n%s", comment);
	refused_at(text, 3, "longer than 199 characters");
	comment[199] = 0;
	snprintf(text, sizeof(text), "[device a]\ndevice = emu:null\n%s", comment);
	assert_int_equal(load(text), 0);
}

static void test_too_many_devices(void **state)
{
	char text[4096] = "[homid]\nsocket = /tmp/s\n";
	for (int i = 0; i <= HOMI_MAX_DEVS; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "[device d%d]\ndevice = emu:null\n", i);
	/* the 17th section's key is line 2 + 2 * 17 */
	refused_at(text, 2 + 2 * (HOMI_MAX_DEVS + 1), "more than 16 devices");
}

static void test_duplicate_pci(void **state)
{
	refused_at("[device a]\ndevice = 0000:01:00.0\n[device b]\ndevice = emu:null\n"
		   "[device c]\nusers = 0\ndevice = 0000:01:00.0\n",
		   6, "0000:01:00.0 is already device a");
	/* the same function spelled two ways */
	refused_at("[device a]\ndevice = 0000:01:00.0\n[device b]\ndevice = 01:00.0\n", 4, "is already device a");
	refused_at("[device a]\ndevice = 0000:0A:00.1\n[device b]\ndevice = 0000:0a:00.1\n", 4, "is already device a");
	/* other functions of one device are other devices */
	assert_int_equal(load("[device a]\ndevice = 0000:01:00.0\n[device b]\ndevice = 0000:01:00.1\n"), 0);
}

static void test_no_file_no_devices(void **state)
{
	memset(&cap, 0, sizeof(cap));
	aisio_log_hook_set(capture, &cap);
	assert_int_equal(homid_config_load(&cfg, "/nonexistent/aisio/homid.conf"), -ENOENT);
	aisio_log_hook_set(NULL, NULL);
	assert_int_equal(cap.n, 1);
	assert_string_equal(cap.dev[0], "/nonexistent/aisio/homid.conf");

	assert_int_equal(load(""), -EINVAL);
	assert_int_equal(cap.n, 1);
	assert_non_null(strstr(cap.msg[0], "no [device NAME] section"));
	/* a device section with no keys (never seen by inih's handler) is refused at its header */
	refused_at("[homid]\nsocket = /tmp/s\n[device a]\n", 3, "[device a] names no device");
}

static void test_ublk(void **state)
{
	/* defaults: one queue of 64, ids 0, 1, ... in file order past any set explicitly */
	assert_int_equal(load("[device a]\ndevice = 0000:01:00.0\nublk = 1\n"
			      "[device b]\ndevice = 0000:02:00.0\nublk = 2\nublk_id = 7\nublk_queues = 4\n"
			      "ublk_depth = 128\nublk_timeout = 5\n"
			      "[device c]\ndevice = 0000:03:00.0\nublk = 1\n"
			      "[device d]\ndevice = 0000:04:00.0\n"),
			 0);
	assert_int_equal(cfg.devs[0].ublk_nsid, 1);
	assert_int_equal(cfg.devs[0].ublk_id, 0);
	assert_int_equal(cfg.devs[0].ublk_queues, 1);
	assert_int_equal(cfg.devs[0].ublk_depth, 64);
	assert_int_equal(cfg.devs[0].ublk_timeout_s, 30);
	assert_int_equal(cfg.devs[1].ublk_nsid, 2);
	assert_int_equal(cfg.devs[1].ublk_id, 7);
	assert_int_equal(cfg.devs[1].ublk_queues, 4);
	assert_int_equal(cfg.devs[1].ublk_depth, 128);
	assert_int_equal(cfg.devs[1].ublk_timeout_s, 5);
	assert_int_equal(cfg.devs[2].ublk_id, 8);
	assert_int_equal(cfg.devs[3].ublk_nsid, 0);
	assert_int_equal(cfg.devs[3].ublk_id, -1);

	const char *head = "[device a]\ndevice = 0000:01:00.0\n";
	char text[256];
	static const struct {
		const char *line, *words;
	} bad[] = {
		{"ublk = 0", "ublk '0': the namespace to serve, 1..16"},
		{"ublk = 17", "ublk '17'"},
		{"ublk = one", "ublk 'one'"},
		{"ublk_id = 4096", "ublk_id '4096': 0..4095"},
		{"ublk_id = -1", "ublk_id '-1'"},
		{"ublk_queues = 0", "ublk_queues '0': 1..16"},
		{"ublk_queues = 17", "ublk_queues '17'"},
		{"ublk_depth = 0", "ublk_depth '0': 1..1023"},
		{"ublk_depth = 1024", "ublk_depth '1024'"},
		{"ublk_timeout = 0", "ublk_timeout '0': seconds, 1..600"},
		{"ublk_timeout = 601", "ublk_timeout '601'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%sublk = 1\n%s\n", head, bad[i].line);
		refused_at(text, 4, bad[i].words);
	}
	/* the tuning keys without ublk =, and one kernel id for two devices, are refused at the end */
	assert_int_equal(load("[device a]\ndevice = 0000:01:00.0\nublk_depth = 8\n"), -EINVAL);
	assert_non_null(strstr(cap.msg[cap.n - 1], "line 2: [device a] sets ublk_id, ublk_queues, ublk_depth or "
						   "ublk_timeout without ublk = NSID"));
	assert_int_equal(load("[device a]\ndevice = 0000:01:00.0\nublk = 1\nublk_id = 3\n"
			      "[device b]\ndevice = 0000:02:00.0\nublk = 1\nublk_id = 3\n"),
			 -EINVAL);
	assert_non_null(strstr(cap.msg[cap.n - 1], "line 6: ublk_id 3 is already device a's"));
}

static void test_sriov(void **state)
{
	/* a PF section makes its VF devices right after it, named NAME.vfN, with its policy and each its
	 * namespaces; a device after it keeps its own */
	assert_int_equal(load("[device pf0]\nsriov = 01:00.0\nsriov_vfs = 3\nsriov_vq = 4\nsriov_vi = 2\n"
			      "sriov_namespaces = 1\nsriov_namespaces_vf2 = 1 2\nusers = 1000\nmax_queues = 2\n"
			      "extents = /mnt\n"
			      "[device other]\ndevice = emu:ram:64M\n"),
			 0);
	assert_int_equal(cfg.ndev, 5);
	assert_string_equal(cfg.devs[0].name, "pf0");
	assert_string_equal(cfg.devs[0].sriov_pf, "0000:01:00.0");
	assert_string_equal(cfg.devs[0].target, "0000:01:00.0");
	assert_int_equal(cfg.devs[0].sriov_vfs, 3);
	assert_int_equal(cfg.devs[0].sriov_vq, 4);
	assert_int_equal(cfg.devs[0].sriov_vi, 2);
	assert_int_equal(cfg.devs[0].sriov_vfn, 0);
	static const uint32_t ns[] = {0, 1u << 1, 1u << 1 | 1u << 2, 1u << 1};
	for (unsigned v = 1; v <= 3; v++) {
		const struct homid_dev_conf *d = &cfg.devs[v];
		char name[16];
		snprintf(name, sizeof(name), "pf0.vf%u", v);
		assert_string_equal(d->name, name);
		assert_int_equal(d->sriov_vfn, v);
		assert_int_equal(d->sriov_pf_dev, 0);
		assert_string_equal(d->sriov_pf, "0000:01:00.0");
		assert_string_equal(d->target, ""); /* known once the VF is enabled */
		assert_int_equal(d->policy.ns_mask, ns[v]);
		assert_int_equal(d->policy.nuids, 1);
		assert_int_equal(d->policy.uids[0], 1000);
		assert_int_equal(d->policy.max_queues, 2);
		assert_string_equal(d->extents, ""); /* the PF's file system: served by the PF device */
	}
	assert_string_equal(cfg.devs[4].name, "other");
	assert_int_equal(cfg.devs[4].sriov_vfn, 0);
	/* defaults: 2 VQ (an admin and an I/O queue), 1 VI, namespace 1 */
	assert_int_equal(load("[device p]\nsriov = 0000:01:00.0\nsriov_vfs = 1\n"), 0);
	assert_int_equal(cfg.ndev, 2);
	assert_int_equal(cfg.devs[0].sriov_vq, 2);
	assert_int_equal(cfg.devs[0].sriov_vi, 1);
	assert_int_equal(cfg.devs[1].policy.ns_mask, 1u << 1);

	static const struct {
		const char *line, *words;
	} bad[] = {
		{"sriov = 1:2", "sriov '1:2': the PF's PCI address"},
		{"sriov_vfs = 0", "sriov_vfs '0': 1..8"},
		{"sriov_vfs = 9", "sriov_vfs '9'"},
		{"sriov_vq = 1", "sriov_vq '1': queue resources per VF, 2..65535"},
		{"sriov_vi = 0", "sriov_vi '0': interrupt resources per VF, 1..65535"},
		{"sriov_namespaces = 0", "sriov_namespaces '0': namespace ids 1..16"},
		{"sriov_namespaces = 17", "sriov_namespaces '17'"},
		{"sriov_namespaces_vf9 = 1", "sriov_namespaces_vf9: sriov_namespaces_vfN with N 1..8"},
		{"sriov_namespaces_vfx = 1", "sriov_namespaces_vfx"},
		{"sriov_namespaces_vf1 = 0", "sriov_namespaces_vf1 '0': namespace ids 1..16"},
	};
	char text[256];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[device p]\nsriov = 0000:01:00.0\nsriov_vfs = 1\n%s\n", bad[i].line);
		refused_at(text, 4, bad[i].words);
	}
	/* inconsistent sections, refused at the end with the line of the section's first key */
	static const struct {
		const char *text, *words;
	} inconsistent[] = {
		{"[device p]\nsriov_vfs = 2\ndevice = 0000:01:00.0\n", "sets sriov_vfs, sriov_vq, sriov_vi or "
								       "sriov_namespaces without sriov = PF"},
		{"[device p]\nsriov = 0000:01:00.0\n", "sets sriov = without sriov_vfs = N"},
		{"[device p]\nsriov = 0000:01:00.0\nsriov_vfs = 1\ndevice = 0000:01:00.0\n",
		 "sets both device = and sriov ="},
		{"[device p]\nsriov = 0000:01:00.0\nsriov_vfs = 1\nublk = 1\n", "sets ublk = on an SR-IOV PF"},
		{"[device p]\nsriov = 0000:01:00.0\nsriov_vfs = 1\nnamespaces = 1\n",
		 "sets namespaces = on an SR-IOV PF"},
		{"[device p]\nsriov = 0000:01:00.0\nsriov_vfs = 1\nsriov_namespaces_vf2 = 1\n",
		 "sets sriov_namespaces_vfN for a VF beyond sriov_vfs"},
		{"[device p]\nsriov = 0000:01:00.0\nsriov_vfs = 2\n[device p.vf2]\ndevice = emu:ram:64M\n",
		 "its VF's name p.vf2 is already a device's"},
	};
	for (size_t i = 0; i < sizeof(inconsistent) / sizeof(inconsistent[0]); i++) {
		if (load(inconsistent[i].text) != -EINVAL || cap.n == 0 ||
		    !strstr(cap.msg[cap.n - 1], inconsistent[i].words) || strncmp(cap.msg[cap.n - 1], "line 2: ", 8))
			fail_msg("'%s' for:\n%s", cap.n ? cap.msg[cap.n - 1] : "(no message)", inconsistent[i].text);
	}
	/* 16 devices at most, VFs counted; the PF's address once */
	assert_int_equal(load("[device p]\nsriov = 0000:01:00.0\nsriov_vfs = 8\n"
			      "[device q]\nsriov = 0000:02:00.0\nsriov_vfs = 8\n"),
			 -EINVAL);
	assert_non_null(strstr(cap.msg[cap.n - 1], "line 5: [device q] makes more than 16 devices with its VFs"));
	assert_int_equal(load("[device p]\nsriov = 0000:01:00.0\nsriov_vfs = 1\n[device q]\ndevice = 01:00.0\n"),
			 -EINVAL);
	assert_non_null(strstr(cap.msg[cap.n - 1], "01:00.0 is already device p"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_sections_and_keys),
		cmocka_unit_test(test_homid_values),
		cmocka_unit_test(test_device_values),
		cmocka_unit_test(test_device_names),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_too_many_devices),
		cmocka_unit_test(test_duplicate_pci),
		cmocka_unit_test(test_no_file_no_devices),
		cmocka_unit_test(test_ublk),
		cmocka_unit_test(test_sriov),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
