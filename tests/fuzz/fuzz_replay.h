/* SPDX-License-Identifier: BSD-3-Clause */
/* The replay build of a fuzz target: every file named, and every file in every folder named (seeds,
 * saved crashes), run through run_file. An absent folder is fine (no crash saved yet). */
#ifndef AISIO_FUZZ_REPLAY_H
#define AISIO_FUZZ_REPLAY_H

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* The whole file at path in a malloc'd *buf (one spare byte), *len its size; 0 or a negative errno. */
static int fuzz_read_file(const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	FILE *f;

	if (stat(path, &st) || !(*buf = malloc((size_t)st.st_size + 1)))
		return -errno;
	f = fopen(path, "rb");
	if (!f || fread(*buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		if (f)
			fclose(f);
		free(*buf);
		return -EIO;
	}
	fclose(f);
	*len = (size_t)st.st_size;
	return 0;
}

static int fuzz_replay(int argc, char **argv, const char *name, int (*run_file)(const char *path))
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *de;

		if (stat(argv[i], &st))
			continue;
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
	printf("%s: %d inputs ran without a crash\n", name, n);
	return n ? 0 : 1;
}

#endif
