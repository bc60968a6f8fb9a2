/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC32c (Castagnoli) without ISA-L: the SSE4.2 crc32 instruction where the CPU
 * has it (one stream: about 8 GB/s on 512-byte blocks, ISA-L's interleaved
 * streams reach 14), bit by bit otherwise (slow, for other architectures).
 * Built only when libisal is not found (meson picks xal_crc_isal.c then).
 */
#include <stdint.h>
#include <string.h>

#include "xal_internal.h"

static uint32_t crc_bits(uint32_t crc, const uint8_t *p, size_t n)
{
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t c = crc;

	for (; n >= 8; n -= 8, p += 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
	}
	crc = (uint32_t)c;
	for (; n; n--)
		crc = _mm_crc32_u8(crc, *p++);
	return crc;
}

static bool have_sse42(void)
{
	/* libgcc fills the CPU model before main; reading it here keeps no state of ours. */
	return __builtin_cpu_supports("sse4.2");
}
#endif

uint32_t xal_crc32c(uint32_t crc, const void *buf, size_t len)
{
#if defined(__x86_64__)
	if (have_sse42())
		return crc_sse42(crc, buf, len);
#endif
	return crc_bits(crc, buf, len);
}

const char *xal_crc32c_impl(void)
{
#if defined(__x86_64__)
	if (have_sse42())
		return "sse4.2";
#endif
	return "bitwise";
}
