/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fil verbs (`aisio fil gen`, and `aisio fil perf` when it lands): the dataset shapes and the
 * content rule, so that any verb (or a test, in a few lines of Python) can recompute a file.
 *
 * Layout of a generated dataset: class folders n00000000, n00000001, ... under the root, each
 * holding files nCCCCCCCC_IIIIIIII.bin, I the file's global index (0 .. files-1, class by class,
 * in order). Files per class are as balanced as the count allows: with n files in k classes,
 * class c holds n/k files plus one when c < n%k.
 *
 * Content of file I (seed S): with key = fil_mix64(fil_mix64(S) + I), the 8 bytes at offset 8w
 * are fil_mix64(key + FIL_GOLDEN * (w + 1)) in little-endian order; the last word is cut at the
 * file's size. Its size is size_min + fil_mix64(~key) % (size_max - size_min + 1).
 */
#ifndef AISIO_TOOLS_FIL_H
#define AISIO_TOOLS_FIL_H

#include <stddef.h>
#include <stdint.h>

#define FIL_GOLDEN 0x9e3779b97f4a7c15ULL

/* splitmix64's finalizer: a bijection of 64-bit words that mixes every input bit into every output bit */
static inline uint64_t fil_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t filgen_file_key(uint64_t seed, uint64_t index)
{
	return fil_mix64(fil_mix64(seed) + index);
}

struct filgen_shape {
	const char *name;
	uint64_t files;    /* at scale 1 */
	uint32_t classes;  /* class folders, at most (fewer when there are fewer files) */
	uint64_t size_min; /* bytes per file, inclusive, at scale 1 */
	uint64_t size_max;
	int scale_sizes; /* 1: the scale multiplies file sizes (count fixed); 0: the file count */
	const char *what;
};

/* The shape named name, or NULL. */
const struct filgen_shape *filgen_shape_find(const char *name);
/* The shape names, separated by '|', for usage and error lines. */
const char *filgen_shape_names(void);

/* One dataset: a shape at a scale with a seed. */
struct filgen_layout {
	const struct filgen_shape *shape;
	double scale;
	uint64_t seed;
	uint64_t files;
	uint32_t classes;
	uint64_t size_min, size_max;
};

/*
 * Count and sizes at a scale: the scaled quantity (files, or sizes for shapes with scale_sizes) is
 * rounded to the nearest integer, and at least 1; classes are min(shape classes, files).
 * -EINVAL for a scale that is not finite and > 0, -ERANGE when the result does not fit.
 */
int filgen_layout_init(struct filgen_layout *l, const struct filgen_shape *shape, double scale, uint64_t seed);
/* The files of class c: the first's global index and the count. */
void filgen_layout_class(const struct filgen_layout *l, uint32_t c, uint64_t *first, uint64_t *count);
uint64_t filgen_file_size(const struct filgen_layout *l, uint64_t index);
/* "n%08u" for class c, and "n%08u_%08llu.bin" for file index of class c; snprintf's return. */
int filgen_class_name(char *buf, size_t len, uint32_t c);
int filgen_file_name(char *buf, size_t len, uint32_t c, uint64_t index);
/* The bytes [offset, offset + len) of a file with key key; offset a multiple of 8. */
void filgen_fill(uint64_t key, uint64_t offset, void *buf, size_t len);

#endif
