/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * homid's ublk command encoding (daemon/homid_ublk_abi.h): the numbers each kernel takes, chosen from
 * GET_FEATURES' answer. 6.12 answers (0x1fe in the QEMU guest) and takes ioctl-encoded numbers; 6.1
 * has no GET_FEATURES, fails it in one of several ways and takes the plain numbers; any other failure
 * is an error. The encoded numbers are those of Linux's include/uapi/linux/ublk_cmd.h.
 */
#include "homid_ublk_abi.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void test_6_12_answers(void **state)
{
	struct homid_ublk_abi abi = {0};
	assert_int_equal(homid_ublk_abi_choose(&abi, 0, 0x1fe), 0);
	assert_true(abi.ioctl_encode);
	assert_int_equal(abi.features, 0x1fe);
	/* _IOWR('u', 0x04, 32 bytes) and friends, as Linux's UBLK_U_CMD_* */
	assert_int_equal(homid_ublk_ctrl_op(&abi, UBLK_CMD_ADD_DEV), 0xc0207504);
	assert_int_equal(homid_ublk_ctrl_op(&abi, UBLK_CMD_GET_DEV_INFO), 0x80207502);
	assert_int_equal(homid_ublk_ctrl_op(&abi, UBLK_CMD_START_USER_RECOVERY), 0xc0207510);
	assert_int_equal(homid_ublk_ctrl_op(&abi, UBLK_CMD_END_USER_RECOVERY), 0xc0207511);
	/* UBLK_U_IO_FETCH_REQ, UBLK_U_IO_COMMIT_AND_FETCH_REQ: 16-byte ublksrv_io_cmd */
	assert_int_equal(homid_ublk_io_op(&abi, UBLK_IO_FETCH_REQ), 0xc0107520);
	assert_int_equal(homid_ublk_io_op(&abi, UBLK_IO_COMMIT_AND_FETCH_REQ), 0xc0107521);
	assert_int_equal(homid_ublk_get_features_op(), 0x80207513);
}

static void test_answer_without_ioctl_encode(void **state)
{
	/* a kernel with GET_FEATURES that (built so) still wants plain numbers */
	struct homid_ublk_abi abi = {0};
	assert_int_equal(homid_ublk_abi_choose(&abi, 0, UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE), 0);
	assert_false(abi.ioctl_encode);
	assert_int_equal(homid_ublk_ctrl_op(&abi, UBLK_CMD_ADD_DEV), UBLK_CMD_ADD_DEV);
}

static void test_6_1_has_no_get_features(void **state)
{
	static const int answers[] = {-HOMID_UBLK_ENOTSUPP, -EOPNOTSUPP, -EINVAL, -ENODEV};
	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		struct homid_ublk_abi abi = {.ioctl_encode = true};
		assert_int_equal(homid_ublk_abi_choose(&abi, answers[i], 0xdead), 0);
		assert_false(abi.ioctl_encode);
		assert_int_equal(abi.features, UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE);
		assert_int_equal(homid_ublk_ctrl_op(&abi, UBLK_CMD_ADD_DEV), 0x04);
		assert_int_equal(homid_ublk_ctrl_op(&abi, UBLK_CMD_START_DEV), 0x06);
		assert_int_equal(homid_ublk_io_op(&abi, UBLK_IO_FETCH_REQ), 0x20);
		assert_int_equal(homid_ublk_io_op(&abi, UBLK_IO_COMMIT_AND_FETCH_REQ), 0x21);
	}
}

static void test_other_failures(void **state)
{
	struct homid_ublk_abi abi = {0};
	assert_int_equal(homid_ublk_abi_choose(&abi, -EPERM, 0), -EPERM);
	assert_int_equal(homid_ublk_abi_choose(&abi, -EBADF, 0), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_6_12_answers),
		cmocka_unit_test(test_answer_without_ioctl_encode),
		cmocka_unit_test(test_6_1_has_no_get_features),
		cmocka_unit_test(test_other_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
