/* SPDX-License-Identifier: BSD-3-Clause */
/* Internals of the kernel I/O backends shared by the device and queue code and by
 * the unit test (which builds NVMe passthrough commands without a device). */
#ifndef AISIO_KIO_INTERNAL_H
#define AISIO_KIO_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/nvme_ioctl.h>

#include <aisio/kio.h>

struct kio_dev {
	int fd;
	enum kio_dev_kind kind;
	unsigned lba_shift;
	uint64_t nlba;
	uint32_t max_xfer;
	uint32_t nsid;
	struct kio_dev_opts opts;
	char path[256];
};

/* True when this build has the io_uring queue code (kio_queue.c), false for the
 * stub built without liburing (kio_stub.c). */
bool kio_backend_built(void);

/* Fill an NVMe passthrough command for NVME_URING_CMD_IO: every field is written,
 * so the caller need not clear the SQE's command area first. addr/len describe the
 * data buffer (0/0 for none). */
static inline void kio_nvme_cmd_fill(struct nvme_uring_cmd *c, uint8_t opcode, uint32_t nsid, const uint32_t cdw[6],
				     uint64_t addr, uint32_t len)
{
	c->opcode = opcode;
	c->flags = 0;
	c->rsvd1 = 0;
	c->nsid = nsid;
	c->cdw2 = 0;
	c->cdw3 = 0;
	c->metadata = 0;
	c->addr = addr;
	c->metadata_len = 0;
	c->data_len = len;
	c->cdw10 = cdw[0];
	c->cdw11 = cdw[1];
	c->cdw12 = cdw[2];
	c->cdw13 = cdw[3];
	c->cdw14 = cdw[4];
	c->cdw15 = cdw[5];
	c->timeout_ms = 0; /* the driver's default I/O timeout */
	c->rsvd2 = 0;
}

/* Read (0x02) or write (0x01) of nlb LBAs at slba: cdw10/11 = slba, cdw12 = nlb - 1. */
static inline void kio_nvme_rw_fill(struct nvme_uring_cmd *c, bool write, uint32_t nsid, uint64_t slba, uint32_t nlb,
				    uint64_t addr, uint32_t len)
{
	const uint32_t cdw[6] = {(uint32_t)slba, (uint32_t)(slba >> 32), nlb - 1u, 0, 0, 0};
	kio_nvme_cmd_fill(c, write ? 0x01 : 0x02, nsid, cdw, addr, len);
}

/* The CQE of a passthrough command carries the NVMe status as a positive res
 * (the kernel's status word: SCT << 8 | SC plus CRD/More/DNR above bit 10) or a
 * negative errno. Map it to the callback's (err, nvme_status). */
static inline int kio_nvme_res_to_err(int res, uint16_t *nvme_status)
{
	if (res > 0) {
		*nvme_status = (uint16_t)(res & 0x7ff);
		return -EIO;
	}
	*nvme_status = 0;
	return res;
}

/* The ngXnY -> nvmeXnY block device name, for its sysfs limits; -EINVAL when
 * path does not name a generic device. */
int kio_ng_to_block_name(const char *path, char *out, size_t outlen);

#endif /* AISIO_KIO_INTERNAL_H */
