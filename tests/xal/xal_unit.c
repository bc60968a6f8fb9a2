/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * XAL unit tests without root or file systems: an index built through the
 * builder the backends use, then lookups (path, hash, per directory), walk,
 * extent splitting and LBA conversion, shared-memory export/import and the
 * error paths of xal_open.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xal_internal.h"

static int failures;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                              \
		}                                                                                \
	} while (0)

static struct xal *build_sample(void)
{
	struct xal_build b;
	struct xal *x = calloc(1, sizeof(*x));
	uint32_t root, a, dir, lnk, big, bb;
	uint64_t first;

	if (!x || xal_build_init(&b, 4, 4, 4))
		abort();
	x->hdr = &x->local;
	b.block_size = 4096;
	x->local.block_size = 4096;
	x->local.part_offset = 1 << 20;
	xal_build_inode(&b, 100, XAL_TYPE_DIR, 0, 3, &root);
	b.root = root;
	b.root_ino = 100;
	xal_build_inode(&b, 101, XAL_TYPE_REG, 10000, 2, &a);
	xal_build_inode(&b, 102, XAL_TYPE_DIR, 0, 2, &dir);
	xal_build_inode(&b, 103, XAL_TYPE_LNK, 1, 1, &lnk);
	xal_build_inode(&b, 104, XAL_TYPE_REG, 8ull << 32, 1, &big);
	xal_build_inode(&b, 105, XAL_TYPE_REG, 0, 1, &bb);
	CHECK(xal_build_inode(&b, 101, XAL_TYPE_REG, 0, 0, &a) == 0); /* known number: same index */
	/* file a: two extents, the second unwritten */
	first = b.n_exts;
	xal_build_extent(&b, 0, 8192, 4096, 0);
	xal_build_extent(&b, 4096, 65536, 8192, XAL_EXT_UNWRITTEN | 0x40000);
	b.inodes[a].first = (uint32_t)first;
	b.inodes[a].count = (uint32_t)(b.n_exts - first);
	/* file big: one 8 GiB extent = 2M blocks, stored as three records */
	first = b.n_exts;
	xal_build_extent_blocks(&b, 0, 1000, 2u << 20, XAL_EXT_SHARED);
	b.inodes[big].first = (uint32_t)first;
	b.inodes[big].count = (uint32_t)(b.n_exts - first);
	/* root entries in an unsorted order */
	first = b.n_dents;
	xal_build_dent(&b, "zeta", 4, 104);
	xal_build_dent(&b, "a", 1, 101);
	xal_build_dent(&b, "dir", 3, 102);
	xal_build_dent(&b, "link", 4, 103);
	CHECK(xal_build_dir_done(&b, root, first) == 0);
	first = b.n_dents;
	xal_build_dent(&b, "hard", 4, 101);
	xal_build_dent(&b, "b", 1, 105);
	CHECK(xal_build_dir_done(&b, dir, first) == 0);
	xal_build_symlink(&b, lnk, "a", 1);
	CHECK(xal_build_finish(&b, x) == 0);
	xal_build_free(&b);
	x->local.magic = XAL_MAGIC;
	x->local.version = XAL_VERSION;
	return x;
}

static int walk_cb(const struct xal *x, const char *path, const struct xal_inode *in, void *arg)
{
	char *out = arg;

	strcat(out, path);
	strcat(out, ";");
	return 0;
}

static void check_index(const struct xal *x)
{
	struct xal_inode in, d, c;
	struct xal_extent e;
	const char *name;
	size_t len;
	uint64_t slba, nlb;
	char walked[256] = "";

	CHECK(xal_lookup(x, "a", &in) == 0 && in.ino == 101 && in.count == 2 && in.nlink == 2);
	CHECK(xal_lookup(x, "/dir//hard/", &in) == 0 && in.ino == 101);
	CHECK(xal_lookup(x, "./dir/./b", &in) == 0 && in.ino == 105);
	CHECK(xal_lookup(x, "dir/../a", &in) == -EINVAL);
	CHECK(xal_lookup(x, "nope", &in) == -ENOENT);
	CHECK(xal_lookup(x, "a/x", &in) == -ENOTDIR);
	CHECK(xal_lookup(x, "", &in) == 0 && in.type == XAL_TYPE_DIR && in.ino == 100 && in.count == 4);
	CHECK(xal_lookup_hash(x, xal_path_hash("dir/hard"), &in) == 0 && in.ino == 101);
	CHECK(xal_lookup_hash(x, xal_path_hash("/dir/hard/"), &in) == 0 && in.ino == 101);
	CHECK(xal_lookup_hash(x, xal_path_hash(""), &in) == 0 && in.ino == 100);
	CHECK(xal_lookup_hash(x, xal_path_hash("dir/none"), &in) == -ENOENT);
	/* entries are name-sorted */
	CHECK(xal_root(x, &d) == 0);
	CHECK(xal_dirent(x, &d, 0, &name, &len, &c) == 0 && !strcmp(name, "a") && len == 1);
	CHECK(xal_dirent(x, &d, 3, &name, &len, &c) == 0 && !strcmp(name, "zeta"));
	CHECK(xal_dirent(x, &d, 4, &name, &len, &c) == -ENOENT);
	CHECK(xal_dir_lookup(x, &d, "link", 4, &c) == 0 && c.type == XAL_TYPE_LNK);
	{
		const char *t;
		size_t tl;

		CHECK(xal_symlink_target(x, &c, &t, &tl) == 0 && tl == 1 && t[0] == 'a');
	}
	CHECK(xal_walk(x, walk_cb, walked) == 0);
	CHECK(!strcmp(walked, ";a;dir;dir/b;dir/hard;link;zeta;"));
	/* extents */
	CHECK(xal_lookup(x, "a", &in) == 0);
	CHECK(xal_extent_get(x, &in, 0, &e) == 0 && e.file_offset == 0 && e.disk_offset == 8192 && e.length == 4096 &&
	      e.flags == 0);
	CHECK(xal_extent_get(x, &in, 1, &e) == 0 && e.file_offset == 4096 && e.disk_offset == 65536 &&
	      e.length == 8192 && e.flags == (XAL_EXT_UNWRITTEN | XAL_EXT_OTHER | XAL_EXT_LAST));
	CHECK(xal_extent_get(x, &in, 2, &e) == -ENOENT);
	CHECK(xal_extent_lba(x, &e, 4096, &slba, &nlb) == -ENODATA); /* the unknown flag: not raw-readable */
	e.flags = XAL_EXT_UNWRITTEN;                                 /* converts: the caller zero-fills */
	CHECK(xal_extent_lba(x, &e, 512, &slba, &nlb) == 0 && slba == ((1 << 20) + 65536) / 512 && nlb == 16);
	CHECK(xal_extent_lba(x, &e, 4096, &slba, &nlb) == 0 && slba == 256 + 16 && nlb == 2);
	e.disk_offset += 512;
	CHECK(xal_extent_lba(x, &e, 4096, &slba, &nlb) == -EINVAL);
	CHECK(xal_extent_lba(x, &e, 3000, &slba, &nlb) == -EINVAL);
	CHECK(xal_lookup(x, "zeta", &in) == 0 && in.count == 3);
	{
		uint64_t total = 0, next = 0, disk = 1000 * 4096ull;

		for (uint32_t i = 0; i < in.count; i++) {
			CHECK(xal_extent_get(x, &in, i, &e) == 0);
			CHECK(e.file_offset == next && e.disk_offset == disk && (e.flags & XAL_EXT_SHARED));
			next += e.length;
			disk += e.length;
			total += e.length;
		}
		CHECK(total == 8ull << 30);
	}
}

static void test_strings(void)
{
	char buf[64];

	CHECK(!strcmp(xal_ext_flags_str(XAL_EXT_UNWRITTEN | XAL_EXT_SHARED, buf, sizeof(buf), ","),
		      "unwritten,shared"));
	CHECK(!strcmp(xal_ext_flags_str(0, buf, sizeof(buf), ","), ""));
	CHECK(!strcmp(xal_type_str(XAL_TYPE_FIFO), "fifo"));
	CHECK(!strcmp(xal_type_str((enum xal_type)99), "unknown"));
	CHECK(xal_path_hash("a/b") == xal_path_hash("/a//b/"));
	CHECK(xal_path_hash("a/b") != xal_path_hash("ab"));
}

static void test_crc_escape(void)
{
	char buf[XAL_NAME_ESC_MAX], longname[300];

	/* the CRC32c check value, and the same through two calls */
	CHECK(~xal_crc32c(~0u, "123456789", 9) == 0xe3069283u);
	CHECK(~xal_crc32c(xal_crc32c(~0u, "1234", 4), "56789", 5) == 0xe3069283u);
	CHECK(xal_crc32c_impl()[0]);
	CHECK(!strcmp(xal_name_escape("a\x01/\\b\xff", 6, buf, sizeof(buf)), "a\\x01/\\x5cb\\xff"));
	memset(longname, 0x07, sizeof(longname));
	xal_name_escape(longname, sizeof(longname), buf, sizeof(buf));
	CHECK(strlen(buf) < sizeof(buf) && !strcmp(buf + strlen(buf) - 3, "..."));
}

static void test_claims(void)
{
	struct xal_claim v[64];
	size_t a, b, n = 0;

	/* sorted by start whatever the order given (radix, several digits) */
	for (uint64_t i = 0; i < 40; i++)
		v[n++] = (struct xal_claim){((i * 7919) % 40) * 3 + ((i & 1) ? (1ull << 40) : 0), 3, (uint32_t)i};
	CHECK(xal_claims_sort(v, n) == 0);
	for (size_t i = 1; i < n; i++)
		CHECK(v[i - 1].start < v[i].start);
	CHECK(!xal_claims_overlap(v, n, &a, &b)); /* adjacent, never overlapping */
	/* an overlap of two owners; of two shared claims (allowed); shared with owned (not) */
	n = 0;
	v[n++] = (struct xal_claim){10, 10, 1};
	v[n++] = (struct xal_claim){15, 2, 2};
	CHECK(xal_claims_overlap(v, n, &a, &b) && a == 0 && b == 1);
	n = 0;
	v[n++] = (struct xal_claim){10, 10 | XAL_CLAIM_SHARED, 1};
	v[n++] = (struct xal_claim){12, 4 | XAL_CLAIM_SHARED, 2};
	v[n++] = (struct xal_claim){20, 1, 3};
	CHECK(!xal_claims_overlap(v, n, &a, &b));
	v[n++] = (struct xal_claim){19, 3 | XAL_CLAIM_SHARED, 4};
	CHECK(xal_claims_sort(v, n) == 0);
	CHECK(xal_claims_overlap(v, n, &a, &b) && v[a].owner == 4 && v[b].owner == 3);
	n = 0;
	v[n++] = (struct xal_claim){0, 100, 1};
	v[n++] = (struct xal_claim){50, 1 | XAL_CLAIM_SHARED, 2};
	CHECK(xal_claims_overlap(v, n, &a, &b) && a == 0 && b == 1);
}

/* A device in memory: xal_opts.read. */
struct membuf {
	const uint8_t *p;
	size_t len;
};

static int mem_read(void *arg, uint64_t off, void *buf, size_t len)
{
	const struct membuf *m = arg;

	if (off > m->len || len > m->len - off)
		return -EIO;
	memcpy(buf, m->p + off, len);
	return 0;
}

/* The messages of xal_open, through the log hook: the last one, and how many came. */
struct captured {
	char dev[256], msg[256];
	int n;
};

static void capture(void *arg, enum aisio_log_level level, const char *dev, const char *msg)
{
	struct captured *c = arg;

	snprintf(c->dev, sizeof(c->dev), "%s", dev ? dev : "");
	snprintf(c->msg, sizeof(c->msg), "%s", msg);
	c->n += level == AISIO_LOG_ERROR;
}

static void test_open_errors(void)
{
	char path[] = "/tmp/xal-unit-XXXXXX";
	struct captured eb = {.n = 0};
	struct xal_opts o = {0};
	struct xal *x = NULL;
	int fd;

	aisio_log_hook_set(capture, &eb);
	CHECK(xal_open(&x, "/nonexistent/xal", &o) == -ENOENT && eb.n == 1 && !strcmp(eb.dev, "/nonexistent/xal"));
	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd >= 0) {
		char zero[4096] = {0};

		CHECK(write(fd, zero, sizeof(zero)) == (ssize_t)sizeof(zero));
		close(fd);
		/* one message per failed open: the first failure, not the unwinding */
		eb.n = 0;
		CHECK(xal_open(&x, path, &o) == -EMEDIUMTYPE && strstr(eb.msg, "not an XFS") && eb.n == 1 &&
		      !strcmp(eb.dev, path));
		memcpy(zero, "XFSB", 4);
		zero[101] = 4; /* a v4 superblock */
		fd = open(path, O_WRONLY);
		CHECK(pwrite(fd, zero, 512, 0) == 512);
		close(fd);
		CHECK(xal_open(&x, path, &o) == -EOPNOTSUPP && strstr(eb.msg, "v5"));
		o.backend = XAL_BACKEND_FIEMAP;
		CHECK(xal_open(&x, path, &o) == -ENOTDIR);
		o.backend = XAL_BACKEND_XFS;
		CHECK(xal_open(&x, "/tmp", &o) == -EINVAL);
		unlink(path);
	}
	{
		static uint8_t img[65536];
		struct membuf m = {img, sizeof(img)};
		struct xal_opts mo = {.read = mem_read, .read_arg = &m, .read_size = sizeof(img)};

		CHECK(xal_open(&x, "memory", &mo) == -EMEDIUMTYPE && strstr(eb.msg, "not an XFS") &&
		      !strcmp(eb.dev, "memory"));
		memcpy(img, "XFSB", 4);
		img[101] = 5;
		img[102] = 2; /* 512-byte sectors */
		CHECK(xal_open(&x, "memory", &mo) == -EUCLEAN && strstr(eb.msg, "superblock: bad checksum"));
		mo.flags = XAL_OPEN_WATCHABLE; /* no watch without a directory */
		CHECK(xal_open(&x, "memory", &mo) == -EINVAL);
	}
	aisio_log_hook_set(NULL, NULL);
}

/* The whole-index overlap check of FIEMAP builds and watch updates. */
static void test_index_overlap(struct xal *x)
{
	struct captured eb = {.n = 0};
	struct xal_inode in;
	uint64_t w1;

	aisio_log_hook_set(capture, &eb);
	CHECK(xal_index_check_overlaps(x, "sample") == 0);
	/* give the first extent of "a" a block of "zeta" */
	CHECK(xal_lookup(x, "a", &in) == 0);
	w1 = x->exts[x->inodes[in.idx].first].w1;
	x->exts[x->inodes[in.idx].first].w1 = 1001 | (w1 & ~XAL_REC_PBLK_MAX);
	CHECK(xal_index_check_overlaps(x, "sample") == -EAGAIN && strstr(eb.msg, "inodes 104 and 101") && eb.n == 1);
	CHECK(xal_index_check_overlaps(x, NULL) == -EAGAIN && eb.n == 1); /* a watch update: silent */
	x->exts[x->inodes[in.idx].first].w1 = w1;
	CHECK(xal_index_check_overlaps(x, "sample") == 0);
	aisio_log_hook_set(NULL, NULL);
}

static void test_shm(struct xal *x)
{
	char name[64];
	struct xal *r = NULL;
	struct xal_stats s1, s2;
	uint64_t seq;

	snprintf(name, sizeof(name), "/xal-unit-%d", (int)getpid());
	CHECK(xal_shm_export(x, name) == 0);
	CHECK(xal_shm_export(x, name) == -EINVAL); /* already exported */
	CHECK(xal_shm_open(&r, name) == 0);
	if (r) {
		seq = xal_seq_begin(r);
		check_index(r);
		CHECK(!xal_seq_retry(r, seq));
		CHECK(xal_stats(x, &s1) == 0 && xal_stats(r, &s2) == 0);
		CHECK(s1.inodes == s2.inodes && s1.extents == s2.extents && s1.dentries == s2.dentries);
		/* a republish moves the sequence: a reader that started before must retry */
		CHECK(xal_shm_publish(x) == 0);
		CHECK(xal_seq_retry(r, seq));
		seq = xal_seq_begin(r);
		CHECK(!xal_seq_retry(r, seq) && !(seq & 1));
		check_index(r);
		/* the writer moves to a larger object: the old mapping says so and stays a
		 * consistent snapshot; the name opens the new one */
		CHECK(!xal_shm_replaced(r) && !xal_shm_replaced(x));
		seq = xal_seq_begin(r);
		CHECK(xal_shm_regrow(x) == 0);
		CHECK(xal_shm_replaced(r) && xal_seq_retry(r, seq));
		check_index(r);
		xal_close(r);
		r = NULL;
		CHECK(xal_shm_open(&r, name) == 0);
		if (r) {
			CHECK(!xal_shm_replaced(r));
			check_index(r);
			CHECK(xal_shm_publish(x) == 0);
			check_index(r);
			xal_close(r);
		}
	}
	CHECK(xal_shm_unlink(name) == 0);
	CHECK(xal_shm_open(&r, name) == -ENOENT);
}

int main(void)
{
	struct xal *x = build_sample();

	check_index(x);
	test_strings();
	test_crc_escape();
	test_claims();
	test_index_overlap(x);
	test_open_errors();
	test_shm(x);
	xal_close(x);
	if (failures) {
		fprintf(stderr, "xal-unit: %d checks failed\n", failures);
		return 1;
	}
	printf("xal-unit: all checks passed\n");
	return 0;
}
