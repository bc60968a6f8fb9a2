/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ublk ABI homid needs beyond Debian 12's <linux/ublk_cmd.h> (linux-libc-dev 6.1), which has the
 * structures, the plain command numbers and recovery flags, but not what Linux 6.3 and later added:
 * the ioctl-encoded command numbers (UBLK_U_*), UBLK_U_CMD_GET_FEATURES and the feature bits after
 * USER_RECOVERY_REISSUE. The numbers are those of include/uapi/linux/ublk_cmd.h in Linux 6.12;
 * each is defined only where the system header lacks it.
 *
 * And the one choice that depends on the running kernel: which encoding its commands take.
 */
#ifndef AISIO_HOMID_UBLK_ABI_H
#define AISIO_HOMID_UBLK_ABI_H

#include <errno.h>
#include <linux/ublk_cmd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>

#ifndef UBLK_CMD_GET_DEV_INFO2
#define UBLK_CMD_GET_DEV_INFO2 0x12
#endif
#ifndef UBLK_CMD_GET_FEATURES
#define UBLK_CMD_GET_FEATURES 0x13
#endif
#ifndef UBLK_F_UNPRIVILEGED_DEV
#define UBLK_F_UNPRIVILEGED_DEV (1ULL << 5)
#endif
#ifndef UBLK_F_CMD_IOCTL_ENCODE
#define UBLK_F_CMD_IOCTL_ENCODE (1ULL << 6)
#endif
#ifndef UBLK_F_USER_COPY
#define UBLK_F_USER_COPY (1ULL << 7)
#endif

/* Linux before 6.1 answers an unknown control command with the kernel-internal ENOTSUPP. */
#define HOMID_UBLK_ENOTSUPP 524

/* How the control and I/O commands of one kernel are numbered. */
struct homid_ublk_abi {
	bool ioctl_encode; /* _IOWR('u', nr, ...) (6.3 and later, required without LEGACY_OPCODES) or nr */
	uint64_t features; /* GET_FEATURES' answer; 0 where the kernel has no GET_FEATURES */
};

/*
 * From GET_FEATURES' result (rc, the cqe's res) and its answer: 6.12 answers, and its features say
 * whether it takes ioctl numbers. 6.1 has no GET_FEATURES: it fails the command (-ENOTSUPP,
 * -EOPNOTSUPP or -EINVAL by version, -ENODEV where it looked the device id up first) and takes plain
 * numbers; USER_RECOVERY and USER_RECOVERY_REISSUE are in every kernel with ublk. Any other failure is
 * no kernel ublk homid knows: -errno.
 */
static inline int homid_ublk_abi_choose(struct homid_ublk_abi *abi, int rc, uint64_t features)
{
	if (rc >= 0) {
		abi->features = features;
		abi->ioctl_encode = (features & UBLK_F_CMD_IOCTL_ENCODE) != 0;
		return 0;
	}
	if (rc == -HOMID_UBLK_ENOTSUPP || rc == -EOPNOTSUPP || rc == -EINVAL || rc == -ENODEV) {
		abi->features = UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE;
		abi->ioctl_encode = false;
		return 0;
	}
	return rc;
}

/* A control command's number (sqe->cmd_op) for /dev/ublk-control. Read-only ones are _IOR. */
static inline uint32_t homid_ublk_ctrl_op(const struct homid_ublk_abi *abi, unsigned nr)
{
	if (!abi->ioctl_encode)
		return nr;
	bool reads = nr == UBLK_CMD_GET_QUEUE_AFFINITY || nr == UBLK_CMD_GET_DEV_INFO || nr == UBLK_CMD_GET_PARAMS ||
		     nr == UBLK_CMD_GET_DEV_INFO2 || nr == UBLK_CMD_GET_FEATURES;
	return reads ? (uint32_t)_IOR('u', nr, struct ublksrv_ctrl_cmd)
		     : (uint32_t)_IOWR('u', nr, struct ublksrv_ctrl_cmd);
}

/* GET_FEATURES is always sent ioctl-encoded: the kernels that know it know that encoding. */
static inline uint32_t homid_ublk_get_features_op(void)
{
	return (uint32_t)_IOR('u', UBLK_CMD_GET_FEATURES, struct ublksrv_ctrl_cmd);
}

/* An I/O command's number (FETCH_REQ, COMMIT_AND_FETCH_REQ) for /dev/ublkcN. */
static inline uint32_t homid_ublk_io_op(const struct homid_ublk_abi *abi, unsigned nr)
{
	return abi->ioctl_encode ? (uint32_t)_IOWR('u', nr, struct ublksrv_io_cmd) : nr;
}

#endif
