/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe passthrough command building, checked without a device: this machine has
 * no NVMe and no /dev/ng*, so the passthrough I/O itself is tested in the QEMU
 * guest (tests/vm). Here: the command fields of read/write/flush, the status
 * mapping of a passthrough CQE, the SQE layout the 128-byte ring relies on, and
 * the ngXnY -> nvmeXnY name used for the transfer limit.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <liburing.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "../../lib/kio/kio_internal.h"

static void test_rw_cmd(void **state)
{
	struct nvme_uring_cmd c;
	memset(&c, 0xa5, sizeof(c)); /* every field must be written */
	kio_nvme_rw_fill(&c, false, 3, 0x123456789aull, 8, 0x7000, 4096);
	assert_int_equal(c.opcode, 0x02);
	assert_int_equal(c.flags, 0);
	assert_int_equal(c.rsvd1, 0);
	assert_int_equal(c.nsid, 3);
	assert_int_equal(c.cdw2, 0);
	assert_int_equal(c.cdw3, 0);
	assert_int_equal(c.metadata, 0);
	assert_int_equal(c.metadata_len, 0);
	assert_int_equal(c.addr, 0x7000);
	assert_int_equal(c.data_len, 4096);
	assert_int_equal(c.cdw10, 0x3456789a); /* SLBA low */
	assert_int_equal(c.cdw11, 0x12);       /* SLBA high */
	assert_int_equal(c.cdw12, 7);          /* NLB, 0's based */
	assert_int_equal(c.cdw13, 0);
	assert_int_equal(c.cdw14, 0);
	assert_int_equal(c.cdw15, 0);
	assert_int_equal(c.timeout_ms, 0);
	assert_int_equal(c.rsvd2, 0);
	kio_nvme_rw_fill(&c, true, 1, 0, 1, 0x1000, 512);
	assert_int_equal(c.opcode, 0x01);
	assert_int_equal(c.cdw10, 0);
	assert_int_equal(c.cdw11, 0);
	assert_int_equal(c.cdw12, 0);
	/* flush: opcode 0, no data */
	static const uint32_t zero[6];
	kio_nvme_cmd_fill(&c, 0x00, 1, zero, 0, 0);
	assert_int_equal(c.opcode, 0);
	assert_int_equal(c.addr, 0);
	assert_int_equal(c.data_len, 0);
	/* raw command: cdw10..15 in order */
	const uint32_t cdw[6] = {10, 11, 12, 13, 14, 15};
	kio_nvme_cmd_fill(&c, 0x08, 2, cdw, 0, 0);
	assert_int_equal(c.opcode, 0x08);
	assert_int_equal(c.cdw10, 10);
	assert_int_equal(c.cdw15, 15);
}

static void test_status(void **state)
{
	uint16_t st = 0xffff;
	assert_int_equal(kio_nvme_res_to_err(0, &st), 0);
	assert_int_equal(st, 0);
	/* LBA Out of Range (SCT 0, SC 0x80) */
	assert_int_equal(kio_nvme_res_to_err(0x080, &st), -EIO);
	assert_int_equal(st, 0x080);
	/* with DNR (bit 14 of the kernel's status word) and More: dropped */
	assert_int_equal(kio_nvme_res_to_err(0x4000 | 0x2000 | 0x0281, &st), -EIO);
	assert_int_equal(st, 0x281); /* SCT 2 (media), SC 0x81 (unrecovered read) */
	assert_int_equal(kio_nvme_res_to_err(-EINTR, &st), -EINTR);
	assert_int_equal(st, 0);
}

static void test_sqe_layout(void **state)
{
	/* the command lives at byte 48 of a 128-byte SQE: 80 bytes of room */
	assert_int_equal(offsetof(struct io_uring_sqe, cmd), 48);
	assert_int_equal(sizeof(struct io_uring_sqe), 64);
	assert_int_equal(sizeof(struct nvme_uring_cmd), 72);
	assert_int_equal(offsetof(struct nvme_uring_cmd, cdw10), 40);
	assert_int_equal(NVME_URING_CMD_IO, _IOWR('N', 0x80, struct nvme_uring_cmd));
#ifdef IORING_URING_CMD_FIXED
	assert_int_equal(IORING_URING_CMD_FIXED, 1);
#endif
}

static void test_ng_name(void **state)
{
	char b[32];
	assert_int_equal(kio_ng_to_block_name("/dev/ng0n1", b, sizeof(b)), 0);
	assert_string_equal(b, "nvme0n1");
	assert_int_equal(kio_ng_to_block_name("ng12n34", b, sizeof(b)), 0);
	assert_string_equal(b, "nvme12n34");
	assert_int_equal(kio_ng_to_block_name("/dev/nvme0n1", b, sizeof(b)), -EINVAL);
	assert_int_equal(kio_ng_to_block_name("/dev/ng0n1p1", b, sizeof(b)), -EINVAL);
	assert_int_equal(kio_ng_to_block_name("/dev/ng0", b, sizeof(b)), -EINVAL);
	assert_int_equal(kio_ng_to_block_name("/dev/ng0n1", b, 4), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rw_cmd),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_sqe_layout),
		cmocka_unit_test(test_ng_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
