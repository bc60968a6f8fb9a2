/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vm-blkutil: the few block-device tools the QEMU guest needs and busybox lacks.
 *
 *   vm-blkutil fiemap FILE                  extents of FILE: "PHYS_BYTES LEN_BYTES LOGICAL_BYTES" per line
 *   vm-blkutil pread DEV OFFSET LEN OUT     LEN bytes at byte OFFSET of DEV with O_DIRECT into file OUT
 *   vm-blkutil random FILE LEN SEED         LEN bytes of reproducible pseudo-random data into FILE
 *   vm-blkutil cmp A B                      byte-compare two files; prints the first difference
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmd_fiemap(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "vm-blkutil: %s: %s\n", path, strerror(errno));
		return 1;
	}
	enum { N = 256 };
	struct fiemap *fm = calloc(1, sizeof(*fm) + N * sizeof(struct fiemap_extent));
	if (!fm) {
		close(fd);
		return 1;
	}
	int ret = 0;
	uint64_t start = 0;
	for (;;) {
		memset(fm, 0, sizeof(*fm));
		fm->fm_start = start;
		fm->fm_length = ~0ull - start;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = N;
		if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
			fprintf(stderr, "vm-blkutil: FIEMAP %s: %s\n", path, strerror(errno));
			ret = 1;
			break;
		}
		if (fm->fm_mapped_extents == 0)
			break;
		bool last = false;
		for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
			struct fiemap_extent *e = &fm->fm_extents[i];
			if (e->fe_flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_ENCODED)) {
				fprintf(stderr, "vm-blkutil: %s: extent at %llu has no stable location (flags 0x%x)\n",
					path, (unsigned long long)e->fe_logical, e->fe_flags);
				ret = 1;
			}
			printf("%llu %llu %llu\n", (unsigned long long)e->fe_physical, (unsigned long long)e->fe_length,
			       (unsigned long long)e->fe_logical);
			start = e->fe_logical + e->fe_length;
			last = e->fe_flags & FIEMAP_EXTENT_LAST;
		}
		if (last)
			break;
	}
	free(fm);
	close(fd);
	return ret;
}

static int cmd_pread(const char *dev, const char *off_s, const char *len_s, const char *out)
{
	unsigned long long off = strtoull(off_s, NULL, 0), len = strtoull(len_s, NULL, 0);
	int fd = open(dev, O_RDONLY | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "vm-blkutil: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	void *buf;
	if (posix_memalign(&buf, 4096, len ? len : 4096)) {
		close(fd);
		return 1;
	}
	ssize_t n = pread(fd, buf, len, (off_t)off);
	close(fd);
	if (n != (ssize_t)len) {
		fprintf(stderr, "vm-blkutil: O_DIRECT read of %llu bytes at %llu from %s: %s\n", len, off, dev,
			n < 0 ? strerror(errno) : "short read");
		free(buf);
		return 1;
	}
	FILE *f = fopen(out, "wb");
	int ret = !f || fwrite(buf, 1, len, f) != len;
	if (f && fclose(f))
		ret = 1;
	free(buf);
	return ret;
}

static int cmd_random(const char *path, const char *len_s, const char *seed_s)
{
	unsigned long long len = strtoull(len_s, NULL, 0);
	uint64_t x = strtoull(seed_s, NULL, 0) * 0x9e3779b97f4a7c15ull + 1;
	FILE *f = fopen(path, "wb");
	if (!f)
		return 1;
	for (unsigned long long i = 0; i < len; i += 8) {
		/* xorshift64*: reproducible on both sides of a comparison */
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		uint64_t v = x * 0x2545f4914f6cdd1dull;
		fwrite(&v, 1, len - i < 8 ? len - i : 8, f);
	}
	return fclose(f) ? 1 : 0;
}

static int cmd_cmp(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	if (!fa || !fb) {
		fprintf(stderr, "vm-blkutil: cannot open %s\n", fa ? b : a);
		if (fa)
			fclose(fa);
		if (fb)
			fclose(fb);
		return 1;
	}
	unsigned long long off = 0;
	int ret = 0;
	for (;;) {
		int ca = fgetc(fa), cb = fgetc(fb);
		if (ca != cb) {
			printf("differ at byte %llu: %d != %d\n", off, ca, cb);
			ret = 1;
			break;
		}
		if (ca == EOF)
			break;
		off++;
	}
	if (!ret)
		printf("identical, %llu bytes\n", off);
	fclose(fa);
	fclose(fb);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "fiemap") == 0)
		return cmd_fiemap(argv[2]);
	if (argc == 6 && strcmp(argv[1], "pread") == 0)
		return cmd_pread(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 5 && strcmp(argv[1], "random") == 0)
		return cmd_random(argv[2], argv[3], argv[4]);
	if (argc == 4 && strcmp(argv[1], "cmp") == 0)
		return cmd_cmp(argv[2], argv[3]);
	fprintf(stderr, "usage: vm-blkutil fiemap FILE | pread DEV OFFSET LEN OUT | random FILE LEN SEED | cmp A B\n");
	return 2;
}
