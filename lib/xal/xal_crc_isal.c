/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC32c (Castagnoli) through ISA-L's crc32_iscsi: folded with carry-less
 * multiplies over interleaved streams, about 14 GB/s on 512-byte inodes and
 * 20 GB/s on 4 KiB blocks (bench/xal/crc32c). meson builds this file when
 * libisal is found, xal_crc.c otherwise.
 */
#include <isa-l/crc.h>

#include "xal_internal.h"

uint32_t xal_crc32c(uint32_t crc, const void *buf, size_t len)
{
	/* crc32_iscsi takes and returns the register without the final inversion, as xal_crc32c does. */
	return crc32_iscsi((unsigned char *)(uintptr_t)buf, (int)len, crc);
}

const char *xal_crc32c_impl(void)
{
	return "isa-l";
}
