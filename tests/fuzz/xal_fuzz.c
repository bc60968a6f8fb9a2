/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target of the XAL XFS parser (libFuzzer; `make fuzz` runs it, see tests/fuzz/run).
 *
 * An input is a sparse image: "XALF" then records of (u64 offset, u32 length, bytes), little endian,
 * written into a 1 GiB sparse memfd that the parser then indexes as an XFS image. So a few KiB of
 * input carry the superblock, AG headers, B+tree blocks, inodes and directory blocks of a real image
 * at their real offsets (tests/fuzz/xal_seeds.py makes seeds that way from mkfs.xfs images).
 *
 * Built with -DXAL_FUZZ_REPLAY it is a plain program that runs the files and directories given as
 * arguments through the same entry point: the regression test of the seeds and of every crash found.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <aisio/log.h>
#include <aisio/xal.h>

#define IMAGE_SIZE (1ull << 30)

static int walk_cb(const struct xal *x, const char *path, const struct xal_inode *in, void *arg)
{
	struct xal_extent e;

	/* Touch what a caller would: every extent of every file. */
	for (uint32_t i = 0; in->type == XAL_TYPE_REG && i < in->count; i++)
		if (xal_extent_get(x, in, i, &e) == 0)
			(*(uint64_t *)arg) += e.length;
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Nearly every input is a corrupt image: its message is expected, and would only slow the run. */
static void log_silent(void *arg, enum aisio_log_level level, const char *dev, const char *msg)
{
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	aisio_log_hook_set(log_silent, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	struct xal_opts o = {.backend = XAL_BACKEND_XFS};
	struct xal *x;
	size_t pos = 4;
	uint64_t sum = 0;
	int fd;

	if (size < 4 || memcmp(data, "XALF", 4))
		return 0;
	fd = memfd_create("xal-fuzz", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)IMAGE_SIZE)) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while (pos + 12 <= size) {
		uint64_t off = 0;
		uint32_t len = 0;

		memcpy(&off, data + pos, 8);
		memcpy(&len, data + pos + 8, 4);
		pos += 12;
		if (len > size - pos)
			len = (uint32_t)(size - pos);
		off %= IMAGE_SIZE - len + 1;
		if (pwrite(fd, data + pos, len, (off_t)off) != (ssize_t)len)
			break;
		pos += len;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (xal_open(&x, path, &o) == 0) {
		struct xal_inode in;

		xal_walk(x, walk_cb, &sum);
		xal_lookup(x, "a/b", &in);
		xal_close(x);
	}
	close(fd);
	return 0;
}

#ifdef XAL_FUZZ_REPLAY
static int run_file(const char *p)
{
	struct stat st;
	uint8_t *buf;
	FILE *f;

	if (stat(p, &st) || !(buf = malloc((size_t)st.st_size + 1)))
		return -errno;
	f = fopen(p, "rb");
	if (!f || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		if (f)
			fclose(f);
		free(buf);
		return -EIO;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)st.st_size);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int n = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *de;

		if (stat(argv[i], &st))
			continue;  /* an absent crash folder is fine */
		if (!S_ISDIR(st.st_mode)) {
			n += run_file(argv[i]) == 0;
			continue;
		}
		if (!(d = opendir(argv[i])))
			return 1;
		while ((de = readdir(d))) {
			char p[4096];

			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", argv[i], de->d_name);
			n += run_file(p) == 0;
		}
		closedir(d);
	}
	printf("xal-fuzz-replay: %d inputs ran without a crash\n", n);
	return n ? 0 : 1;
}
#endif
