/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Kernel I/O backends: block devices, regular files and NVMe generic character
 * devices (/dev/ngXnY) driven through io_uring, behind an asynchronous API shaped
 * like the user-space driver's (nvmed.h): queue, submit once per batch, poll,
 * a callback per command.
 *
 *   backend "io_uring"     block device or file: READ/WRITE (READ_FIXED/WRITE_FIXED
 *                          inside the registered buffer), FSYNC for flush; O_DIRECT
 *                          unless opts.buffered; the file is registered with the ring.
 *   backend "io_uring_cmd" /dev/ngXnY: NVMe passthrough, IORING_OP_URING_CMD with
 *                          NVME_URING_CMD_IO on a ring with 128-byte SQEs and
 *                          32-byte CQEs; the NVMe status reaches the callback.
 *
 * Ownership: kio_dev_open returns a device the caller closes after destroying
 * every queue created on it; a queue owns its ring, its registration of the
 * device's file and of the caller's buffer (the memory itself stays the caller's
 * and must outlive the queue or the next kio_queue_register_buffer).
 *
 * Thread-safety: a device may be shared by threads once opened (queue creation
 * only reads it); a queue has exactly one owner thread, every kio_queue_* call on
 * it comes from that thread, and its hot path takes no lock and no atomic
 * read-modify-write.
 *
 * Errors: negative errno. A command's callback gets err 0 on success; -EIO with
 * nvme_status (SCT << 8 | SC, see nvmed_status_str) when an NVMe passthrough
 * command failed on the device; -EIO with nvme_status 0 for a short transfer;
 * the kernel's -errno otherwise (e.g. -EINVAL for a misaligned O_DIRECT buffer,
 * -EOPNOTSUPP for IOPOLL on a device without poll queues); -ECANCELED when
 * kio_queue_destroy gave up waiting for it.
 *
 * Without liburing at build time the library still builds: kio_dev_open then
 * fails with -ENOTSUP and says why.
 */
#ifndef AISIO_KIO_H
#define AISIO_KIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kio_dev;   /* an opened block device, regular file or NVMe generic char device */
struct kio_queue; /* one io_uring ring with its own registered file and buffer */

struct kio_dev_opts {
	bool sqpoll;    /* a kernel thread polls the SQ: no syscall per submit while it is awake */
	int sqpoll_cpu; /* CPU for that thread when sqpoll; negative: not pinned */
	bool iopoll;    /* completions by polling the device (needs O_DIRECT and poll queues) */
	bool buffered;  /* through the page cache (no O_DIRECT); io_uring backend only */
	bool read_only; /* open O_RDONLY: writes fail with -EBADF */
};

/* Kind of device, detected by kio_dev_open. */
enum kio_dev_kind {
	KIO_DEV_FILE = 1,  /* regular file: 512-byte LBAs, size from st_size */
	KIO_DEV_BLOCK,     /* block device: BLKSSZGET / BLKGETSIZE64 */
	KIO_DEV_NVME_CHAR, /* NVMe generic char device /dev/ngXnY: identify namespace */
};

/* Completion callback, called on the owner thread from kio_queue_poll / _wait /
 * _destroy. err: 0, -EIO or -errno (see above); nvme_status: SCT << 8 | SC for a
 * failed passthrough command, else 0. */
typedef void (*kio_cb)(struct kio_queue *q, void *arg, int err, uint16_t nvme_status);

/* ---- devices ---- */

/* Open path (NULL opts: O_DIRECT, no SQPOLL, no IOPOLL, read-write) and find its
 * kind, LBA size, size and transfer limit. */
int kio_dev_open(struct kio_dev **out, const char *path, const struct kio_dev_opts *opts);
void kio_dev_close(struct kio_dev *d);

const char *kio_dev_path(const struct kio_dev *d);
enum kio_dev_kind kio_dev_kind(const struct kio_dev *d);
/* "io_uring" or "io_uring_cmd". */
const char *kio_dev_backend(const struct kio_dev *d);
unsigned kio_dev_lba_shift(const struct kio_dev *d);
uint64_t kio_dev_nlba(const struct kio_dev *d);
/* Largest transfer of one command in bytes (block: max_hw_sectors_kb; NVMe: the
 * same or MDTS; files: 1 MiB). */
uint32_t kio_dev_max_xfer(const struct kio_dev *d);
/* Namespace id of an NVMe char device (NVME_IOCTL_ID), 0 for the other kinds. */
uint32_t kio_dev_nsid(const struct kio_dev *d);

/* ---- queues ---- */

/* Highest depth kio_queue_create accepts. */
#define KIO_MAX_DEPTH 4096u

/* A ring of depth entries (1..KIO_MAX_DEPTH); at most depth commands in flight. */
int kio_queue_create(struct kio_dev *d, unsigned depth, struct kio_queue **out);
/* Waits (at most about 5 s) for commands in flight, calling their callbacks;
 * any still outstanding then get -ECANCELED. */
void kio_queue_destroy(struct kio_queue *q);

/* Register base/len as the queue's fixed-buffer region (replacing an earlier
 * one; nothing may be in flight). rw on a buffer inside it then uses
 * READ_FIXED/WRITE_FIXED, or the fixed-buffer passthrough flag, which saves
 * pinning pages per I/O. Regions over 1 GiB are registered as 1 GiB pieces; an
 * I/O that straddles a piece boundary falls back to the plain opcode. */
int kio_queue_register_buffer(struct kio_queue *q, void *base, size_t len);
/* Fixed-buffer region of the queue, NULL if none. */
void *kio_queue_buffer(const struct kio_queue *q, size_t *len);

/*
 * Queue a read or write of nlb LBAs at slba into or from buf (aligned to the LBA
 * size unless buffered). Not visible to the kernel until kio_queue_submit.
 * Returns 0; -EAGAIN when depth commands are in flight; -EINVAL for nlb 0 or
 * over the transfer limit; -ERANGE when slba + nlb passes the end of the device.
 */
int kio_queue_rw(struct kio_queue *q, bool write, uint64_t slba, uint32_t nlb, void *buf, kio_cb cb, void *arg);
/* Queue a flush (FSYNC, or NVMe Flush on a char device). */
int kio_queue_flush(struct kio_queue *q, kio_cb cb, void *arg);
/* Queue a raw NVMe I/O command on a char device (nsid is the device's; the caller
 * sets cdw10..15 in cdw[0..5]); -ENOTSUP on the io_uring backend. */
int kio_queue_nvme_cmd(struct kio_queue *q, uint8_t opcode, const uint32_t cdw[6], void *buf, uint32_t len, kio_cb cb,
		       void *arg);
/* Make queued commands visible: one io_uring_submit (none when nothing is
 * queued). Returns the number handed to the kernel or -errno. */
int kio_queue_submit(struct kio_queue *q);
/* Reap up to max completions, calling callbacks (which may queue again). Never
 * blocks (with IOPOLL it makes one non-blocking pass over the device). Returns
 * the number reaped or -errno. */
int kio_queue_poll(struct kio_queue *q, unsigned max);
/* Submit what is queued, then wait up to timeout_ms for min completions (capped
 * at what is in flight) and reap them. Returns the number reaped, or -ETIMEDOUT
 * when fewer than min arrived in time (their callbacks have run). */
int kio_queue_wait(struct kio_queue *q, unsigned min, unsigned timeout_ms);
/* Commands queued or in flight whose callback has not run. */
unsigned kio_queue_inflight(const struct kio_queue *q);
unsigned kio_queue_depth(const struct kio_queue *q);
struct kio_dev *kio_queue_dev(const struct kio_queue *q);

/* Per-queue context for the owner (like nvmed_qpair.user). */
void *kio_queue_user(const struct kio_queue *q);
void kio_queue_set_user(struct kio_queue *q, void *user);

/* Counters of the queue since creation. */
struct kio_queue_stats {
	uint64_t completed;
	uint64_t errors;
	uint64_t submit_calls; /* io_uring_submit calls that had something to submit */
	uint64_t fixed_ios;    /* rw that used a registered buffer */
};
void kio_queue_stats(const struct kio_queue *q, struct kio_queue_stats *out);

#endif /* AISIO_KIO_H */
