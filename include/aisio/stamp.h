/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verify stamp: what `aisio perf verify` (CPU paths), `aisio perf cuda-verify` (GPU path), gpuemu's
 * namespace stamping and the tests write into every 8-byte word of every LBA, and check on the way back. One
 * definition for host C11 and CUDA device code (aisio/hostdev.h), so data written on one path checks on
 * any other.
 *
 * Word w of LBA lba under seed is a bijective mix (a splitmix64 finalizer) of (lba << 20) ^ w ^ seed * phi:
 * within one seed every (lba, word) pair gets its own value for lba < 2^44 and w < 2^20 (LBAs up to 8 MiB),
 * so a block read from the wrong place, a stale block and a torn transfer all show.
 *
 * Thread-safety: none needed (no state).
 */
#ifndef AISIO_STAMP_H
#define AISIO_STAMP_H

#include <stdint.h>

#include <aisio/hostdev.h>

AISIO_HD uint64_t stamp_word(uint64_t seed, uint64_t lba, uint32_t w)
{
	uint64_t x = (lba << 20) ^ (uint64_t)w ^ (seed * 0x9e3779b97f4a7c15ull);
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 29;
	return x;
}

/* Stamp nlb blocks of 2^lba_shift bytes (a multiple of 8) at buf, the first being LBA lba. */
AISIO_HD void stamp_fill(void *buf, uint64_t seed, uint64_t lba, uint64_t nlb, unsigned lba_shift)
{
	uint64_t *p = (uint64_t *)buf;
	const uint32_t words = (1u << lba_shift) / 8;
	for (uint64_t b = 0; b < nlb; b++)
		for (uint32_t w = 0; w < words; w++)
			*p++ = stamp_word(seed, lba + b, w);
}

/* Blocks of buf (nlb from LBA lba) that do not hold their stamp; the first such LBA in *first_bad (may be
 * NULL), which is left alone when every block matches. */
AISIO_HD uint64_t stamp_check(const void *buf, uint64_t seed, uint64_t lba, uint64_t nlb, unsigned lba_shift,
			      uint64_t *first_bad)
{
	const uint64_t *p = (const uint64_t *)buf;
	const uint32_t words = (1u << lba_shift) / 8;
	uint64_t bad = 0;
	for (uint64_t b = 0; b < nlb; b++, p += words) {
		for (uint32_t w = 0; w < words; w++) {
			if (p[w] != stamp_word(seed, lba + b, w)) {
				if (!bad++ && first_bad)
					*first_bad = lba + b;
				break;
			}
		}
	}
	return bad;
}

#endif /* AISIO_STAMP_H */
