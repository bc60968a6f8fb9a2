/* SPDX-License-Identifier: BSD-3-Clause */
/* Opening a device for the kernel I/O backends: detect its kind and find its
 * LBA size, size and transfer limit. Needs no liburing, so it is built always. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/nvme_ioctl.h>

#include <aisio/log.h>
#include <aisio/nvme_spec.h>

#include "kio_internal.h"

/* Files have no transfer limit of their own; 1 MiB keeps one command's buffer
 * reasonable and is what the NVMe driver allows by default. */
#define KIO_FILE_MAX_XFER (1u << 20)
#define KIO_FALLBACK_MAX_XFER (128u << 10)

int kio_ng_to_block_name(const char *path, char *out, size_t outlen)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	unsigned c, n;
	char tail;
	if (sscanf(base, "ng%un%u%c", &c, &n, &tail) != 2)
		return -EINVAL;
	int len = snprintf(out, outlen, "nvme%un%u", c, n);
	return len < 0 || (size_t)len >= outlen ? -ENAMETOOLONG : 0;
}

/* One unsigned number from a sysfs file; 0 when absent. */
static uint64_t sysfs_u64(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	unsigned long long v = 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

static uint32_t clamp_xfer(uint64_t bytes)
{
	if (bytes == 0)
		return KIO_FALLBACK_MAX_XFER;
	/* a u32 of bytes, kept a multiple of 4 KiB so that every LBA size divides it */
	if (bytes > (1u << 30))
		bytes = 1u << 30;
	return (uint32_t)bytes;
}

static int probe_block(struct kio_dev *d, const struct stat *st)
{
	int ssz = 0;
	uint64_t bytes = 0;
	if (ioctl(d->fd, BLKSSZGET, &ssz) < 0 || ioctl(d->fd, BLKGETSIZE64, &bytes) < 0) {
		int rc = -errno;
		aisio_log(AISIO_LOG_ERROR, d->path, "cannot read the block size: %s", strerror(-rc));
		return rc;
	}
	if (ssz < 512 || (ssz & (ssz - 1))) {
		aisio_log(AISIO_LOG_ERROR, d->path, "odd logical block size %d", ssz);
		return -EINVAL;
	}
	d->lba_shift = (unsigned)__builtin_ctz((unsigned)ssz);
	d->nlba = bytes >> d->lba_shift;
	char sys[128];
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/queue/max_hw_sectors_kb", major(st->st_rdev),
		 minor(st->st_rdev));
	d->max_xfer = clamp_xfer(sysfs_u64(sys) << 10);
	return 0;
}

static int nvme_admin_identify(int fd, uint8_t cns, uint32_t nsid, void *buf)
{
	struct nvme_passthru_cmd cmd;
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = NVME_ADMIN_IDENTIFY;
	cmd.nsid = nsid;
	cmd.addr = (uint64_t)(uintptr_t)buf;
	cmd.data_len = 4096;
	cmd.cdw10 = cns;
	cmd.timeout_ms = 10000;
	int rc = ioctl(fd, NVME_IOCTL_ADMIN_CMD, &cmd);
	if (rc < 0)
		return -errno;
	return rc > 0 ? -EIO : 0; /* positive: NVMe status */
}

static int probe_nvme_char(struct kio_dev *d)
{
	int nsid = ioctl(d->fd, NVME_IOCTL_ID);
	if (nsid <= 0) {
		int rc = nsid < 0 ? -errno : -ENODEV;
		aisio_log(AISIO_LOG_ERROR, d->path, "not an NVMe namespace device (NVME_IOCTL_ID: %s)", strerror(-rc));
		return rc;
	}
	d->nsid = (uint32_t)nsid;
	void *buf = NULL;
	if (posix_memalign(&buf, 4096, 4096))
		return -ENOMEM;
	int rc = nvme_admin_identify(d->fd, 0, d->nsid, buf);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, d->path, "identify namespace %u failed: %s", d->nsid,
			  rc == -EIO ? "NVMe error status" : strerror(-rc));
		goto out;
	}
	const struct nvme_id_ns *ns = buf;
	const struct nvme_lbaf *f = &ns->lbaf[NVME_NS_FLBAS_INDEX(ns->flbas)];
	if (f->ds < 9 || f->ds > 16) {
		aisio_log(AISIO_LOG_ERROR, d->path, "namespace %u has LBA data size 2^%u", d->nsid, f->ds);
		rc = -EINVAL;
		goto out;
	}
	if (f->ms) {
		/* Passthrough would have to move the metadata too; nothing here needs it. */
		aisio_log(AISIO_LOG_ERROR, d->path,
			  "namespace %u is formatted with %u bytes of metadata per LBA (not supported)", d->nsid,
			  f->ms);
		rc = -ENOTSUP;
		goto out;
	}
	d->lba_shift = f->ds;
	d->nlba = ns->nsze;
	/* The kernel caps passthrough at the block queue's max_hw_sectors; take it
	 * from the namespace's block device, else from MDTS (assuming 4 KiB MPSMIN,
	 * which Linux requires of controllers it drives). */
	char blk[64], sys[160];
	uint64_t kb = 0;
	if (kio_ng_to_block_name(d->path, blk, sizeof(blk)) == 0) {
		snprintf(sys, sizeof(sys), "/sys/block/%s/queue/max_hw_sectors_kb", blk);
		kb = sysfs_u64(sys);
	}
	if (kb) {
		d->max_xfer = clamp_xfer(kb << 10);
		/* The kernel does not split passthrough commands, and maps the user buffer
		 * as one segment per page: a command of more pages than max_segments (less
		 * one for a buffer that does not start on a page) fails with EINVAL. */
		snprintf(sys, sizeof(sys), "/sys/block/%s/queue/max_segments", blk);
		uint64_t segs = sysfs_u64(sys);
		if (segs > 1 && (segs - 1) * 4096 < d->max_xfer)
			d->max_xfer = clamp_xfer((segs - 1) * 4096);
	} else if (nvme_admin_identify(d->fd, 1, 0, buf) == 0) {
		uint8_t mdts = ((const struct nvme_id_ctrl *)buf)->mdts;
		d->max_xfer = clamp_xfer(mdts ? (uint64_t)4096 << mdts : (uint64_t)1 << 20);
	} else {
		d->max_xfer = KIO_FALLBACK_MAX_XFER;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

int kio_dev_open(struct kio_dev **out, const char *path, const struct kio_dev_opts *opts)
{
	*out = NULL;
	if (!path || !*path)
		return -EINVAL;
	if (!kio_backend_built()) {
		aisio_log(AISIO_LOG_ERROR, path,
			  "the kernel I/O backends are not built (liburing was not found at build time)");
		return -ENOTSUP;
	}
	struct kio_dev *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	if (opts)
		d->opts = *opts;
	int plen = snprintf(d->path, sizeof(d->path), "%s", path);
	if (plen < 0 || (size_t)plen >= sizeof(d->path)) {
		free(d);
		return -ENAMETOOLONG;
	}
	struct stat st;
	int rc;
	if (stat(path, &st) < 0) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, path, "%s", strerror(-rc));
		goto fail;
	}
	if (S_ISREG(st.st_mode))
		d->kind = KIO_DEV_FILE;
	else if (S_ISBLK(st.st_mode))
		d->kind = KIO_DEV_BLOCK;
	else if (S_ISCHR(st.st_mode))
		d->kind = KIO_DEV_NVME_CHAR;
	else {
		aisio_log(AISIO_LOG_ERROR, path, "not a file, block device or NVMe char device");
		rc = -ENODEV;
		goto fail;
	}
	int flags = (d->opts.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	/* O_DIRECT means nothing to a char device (passthrough never uses the page cache). */
	if (!d->opts.buffered && d->kind != KIO_DEV_NVME_CHAR)
		flags |= O_DIRECT;
	if (d->opts.buffered && d->opts.iopoll) {
		aisio_log(AISIO_LOG_ERROR, path, "IOPOLL needs O_DIRECT");
		rc = -EINVAL;
		goto fail;
	}
	d->fd = open(path, flags);
	if (d->fd < 0) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, path, "open: %s%s", strerror(-rc),
			  rc == -EINVAL && (flags & O_DIRECT) ? " (the file system may not support O_DIRECT)" : "");
		goto fail;
	}
	switch (d->kind) {
	case KIO_DEV_FILE:
		d->lba_shift = 9;
		d->nlba = (uint64_t)st.st_size >> 9;
		d->max_xfer = KIO_FILE_MAX_XFER;
		rc = 0;
		break;
	case KIO_DEV_BLOCK: rc = probe_block(d, &st); break;
	default: rc = probe_nvme_char(d); break;
	}
	if (rc < 0)
		goto fail_fd;
	/* keep the limit a whole number of LBAs */
	d->max_xfer &= ~((1u << d->lba_shift) - 1u);
	if (d->max_xfer == 0)
		d->max_xfer = 1u << d->lba_shift;
	*out = d;
	return 0;
fail_fd:
	close(d->fd);
fail:
	free(d);
	return rc;
}

void kio_dev_close(struct kio_dev *d)
{
	if (!d)
		return;
	close(d->fd);
	free(d);
}

const char *kio_dev_path(const struct kio_dev *d)
{
	return d->path;
}

enum kio_dev_kind kio_dev_kind(const struct kio_dev *d)
{
	return d->kind;
}

const char *kio_dev_backend(const struct kio_dev *d)
{
	return d->kind == KIO_DEV_NVME_CHAR ? "io_uring_cmd" : "io_uring";
}

unsigned kio_dev_lba_shift(const struct kio_dev *d)
{
	return d->lba_shift;
}

uint64_t kio_dev_nlba(const struct kio_dev *d)
{
	return d->nlba;
}

uint32_t kio_dev_max_xfer(const struct kio_dev *d)
{
	return d->max_xfer;
}

uint32_t kio_dev_nsid(const struct kio_dev *d)
{
	return d->nsid;
}
