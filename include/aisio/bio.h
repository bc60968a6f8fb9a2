/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Block I/O over every path, one asynchronous API: the user-space driver (a PCI
 * function or an emulated controller, nvmed.h) and the kernel paths (io_uring on a
 * block device or file, NVMe passthrough on /dev/ngXnY, kio.h), chosen by the
 * device string at run time. Queue, submit once per batch, poll, a callback per
 * command; the same error convention everywhere.
 *
 *   0000:01:00.0, emu:...      user-space driver, namespace opts.nsid
 *   /dev/nvme0n1, /path/file   io_uring
 *   /dev/ng0n1                 io_uring NVMe passthrough
 *   homi:NAME[,socket=][,nsid=] a device of the homid daemon: queue pairs it grants, driven by the
 *                              driver's own hot path (the daemon is not on the data path)
 *
 * Strings are classified by devstr.h; gpuemu: (the GPU layer's) is refused.
 *
 * Ownership: bio_dev_open returns a device the caller closes after destroying its
 * queues and freeing its buffers. Thread-safety: open, close, queue creation and
 * buffer allocation from any thread (serialized inside); a queue has one owner
 * thread for every bio_queue_* call.
 *
 * Errors: negative errno. A callback gets err 0, -EIO with the NVMe status
 * (SCT << 8 | SC) when the device failed the command (user-space driver and
 * passthrough), -ETIMEDOUT, -ECANCELED, or the kernel's -errno.
 *
 * The hot loop of the user-space path stays available undiluted: bio_dev_nvmed /
 * bio_queue_nvmed give the driver's own objects to code that wants its inline
 * functions (aisio perf run does).
 */
#ifndef AISIO_BIO_H
#define AISIO_BIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bio_dev;
struct bio_queue;
struct dma_mem;
struct nvmed_ctrl;
struct nvmed_qpair;
struct kio_dev;
struct kio_queue;

typedef void (*bio_cb)(struct bio_queue *q, void *arg, int err, uint16_t nvme_status);

struct bio_dev_opts {
	uint32_t nsid;          /* namespace for the user-space driver (default 1) */
	size_t dma_bytes;       /* user-space driver: DMA memory (0: driver default) */
	unsigned io_timeout_ms; /* user-space driver: per-command timeout (0: default) */
	bool sqpoll;            /* io_uring: kernel SQ polling thread */
	bool iopoll;            /* io_uring: completion polling */
	bool allow_fs_writes;   /* write even when the start carries a file-system signature */
	/* user-space driver: data buffers (bio_dev_buf_alloc) from this memory instead (a dma-buf made
	 * with dma_mem_from_dmabuf: device memory), mapped for the function by its backend
	 * (nvmed_ctrl_map_data_mem); the caller frees it after bio_dev_close */
	struct dma_mem *data_mem;
};

/* Open reads the start of the namespace (68 KiB) for a file-system or partition-table
 * signature; while one is there, writes fail with -EPERM unless opts.allow_fs_writes. */
int bio_dev_open(struct bio_dev **out, const char *devstr, const struct bio_dev_opts *opts);
void bio_dev_close(struct bio_dev *d);

/* "vfio", "uio", "emu", "homi", "io_uring" or "io_uring_cmd". */
const char *bio_dev_backend(const struct bio_dev *d);
unsigned bio_dev_lba_shift(const struct bio_dev *d);
uint64_t bio_dev_nlba(const struct bio_dev *d);
uint32_t bio_dev_max_xfer(const struct bio_dev *d);
uint32_t bio_dev_nsid(const struct bio_dev *d);
/* What the start of the namespace carries ("XFS", "ext2/3/4", "a GPT partition table", ...)
 * as read at open, or NULL. */
const char *bio_dev_fs_signature(const struct bio_dev *d);
/* Largest queue depth (commands in flight) a queue of this device takes. */
unsigned bio_dev_max_qdepth(const struct bio_dev *d);
/* Queues that can still be made: I/O queue pairs the controller granted (homi: free on the
 * daemon's device when opened), UINT_MAX for the kernel paths. */
unsigned bio_dev_max_queues(const struct bio_dev *d);
/* LBAs one command moves: the NVMe paths split larger I/Os (the kernel's take none larger). */
uint32_t bio_dev_max_lbas(const struct bio_dev *d);

/* Buffers I/O may use: DMA memory for the user-space driver (in opts.data_mem when given), page-aligned memory for the kernel paths (registered with each queue as its
 * fixed buffer region). */
void *bio_dev_buf_alloc(struct bio_dev *d, size_t len);
void bio_dev_buf_free(struct bio_dev *d, void *buf);

/* True when queues are NVMe queue pairs driven by this process (user-space driver, homi:):
 * bio_queue_nvmed gives them. */
bool bio_dev_is_nvme(const struct bio_dev *d);
/* The underlying objects, NULL for the other kind (bio_dev_nvmed: NULL for homi: too, whose
 * controller is the daemon's). */
struct nvmed_ctrl *bio_dev_nvmed(struct bio_dev *d);
struct kio_dev *bio_dev_kio(struct bio_dev *d);

/* A queue with room for qdepth commands in flight. */
int bio_queue_create(struct bio_dev *d, unsigned qdepth, struct bio_queue **out);
void bio_queue_destroy(struct bio_queue *q);

/* Read or write nlb LBAs at slba; -EAGAIN when qdepth commands are in flight, -EPERM for a
 * write to a namespace that carries a file-system signature (see bio_dev_open). */
int bio_queue_rw(struct bio_queue *q, bool write, uint64_t slba, uint32_t nlb, void *buf, bio_cb cb, void *arg);
int bio_queue_flush(struct bio_queue *q, bio_cb cb, void *arg);
/* Make queued commands visible to the device: one doorbell or one io_uring_submit. */
int bio_queue_submit(struct bio_queue *q);
/* Reap up to max completions, calling callbacks. Returns the count or -errno. */
int bio_queue_poll(struct bio_queue *q, unsigned max);
/* Submit, then poll until nothing is in flight or timeout_ms passes (-ETIMEDOUT). */
int bio_queue_drain(struct bio_queue *q, unsigned timeout_ms);
unsigned bio_queue_inflight(const struct bio_queue *q);

void *bio_queue_user(const struct bio_queue *q);
void bio_queue_set_user(struct bio_queue *q, void *user);
struct bio_dev *bio_queue_dev(const struct bio_queue *q);
struct nvmed_qpair *bio_queue_nvmed(struct bio_queue *q);
struct kio_queue *bio_queue_kio(struct bio_queue *q);

#endif /* AISIO_BIO_H */
