/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Parsing of numbers in device strings and command-line flags, one way everywhere.
 * Pure functions: no state, safe from any thread.
 */
#ifndef AISIO_STRPARSE_H
#define AISIO_STRPARSE_H

#include <stdint.h>

/* A whole string holding an unsigned integer (decimal, or hex with 0x) within
 * [min, max]. -EINVAL when it is not one, -ERANGE when outside. */
int strparse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* A size: an unsigned integer with an optional K, M, G or T suffix (powers of
 * 1024), optionally followed by "iB" or "B": 512, 4K, 256M, 1GiB. */
int strparse_size(const char *s, uint64_t *out);

/* An LBA range "A-B" (A <= B), optionally followed by ":X" (hex when x_hex, else
 * decimal) stored in *x; *x is untouched when absent, and ":X" is refused when x
 * is NULL. -EINVAL when malformed. */
int strparse_range(const char *s, uint64_t *a, uint64_t *b, uint64_t *x, int x_hex);

#endif
