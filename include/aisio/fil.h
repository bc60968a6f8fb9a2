/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fil: a file dataset read in batches, as a training data loader reads one, with the same
 * application code over the kernel's paths and the user-space driver.
 *
 * Dataset: a directory of class directories (label = the class directory's index in strcmp
 * order of the names; files sorted by name inside; names starting with '.' skipped), or a file
 * list (a path per line, relative to the list's directory unless absolute, optionally a tab and
 * a decimal label; label 0 otherwise). Every entry that is not a directory is a file of the
 * dataset, so a dangling symlink or a FIFO is one and fails when it is read.
 *
 * Epoch order: with shuffle, a Fisher-Yates shuffle of the file indices 0..n-1 driven by
 * splitmix64 seeded with seed ^ (0x9E3779B97F4A7C15 * (epoch + 1)), swapping i with j =
 * (r * (i + 1)) >> 64 for i from n-1 down to 1 (r the next 64-bit output): the same seed and
 * epoch give the same order on every machine. Without shuffle the order is 0..n-1. Sharding:
 * position i of the epoch order goes to rank i % world_size, so the ranks' shares are disjoint
 * and together cover the dataset. A rank's epoch is its share in that order, cut into batches
 * of batch_size files (the last one shorter unless drop_last).
 *
 * Position: (epoch, index), index counting files of this rank's share; fil_position_get gives
 * the position after the last batch fil_next handed out, fil_position_set starts reading there
 * (index need not be a multiple of the batch size).
 *
 * Asynchronous: batches_in_flight (K) buffers form the pool; up to K batches are read ahead by
 * worker threads. fil_next hands out the oldest batch, waiting at most timeout_ms for it to
 * complete; fil_batch_release gives its buffer back. Batches come out in order.
 *
 * A batch is one contiguous buffer holding its files back to back, each starting at a multiple
 * of the backend's alignment (4 KiB for O_DIRECT, io_uring and aisio-cpu, 64 bytes for buffered
 * reads); the bytes between a file's end and the next file's start are zero. Beside it: per
 * file the offset, length, label, dataset file index and path.
 *
 * Errors: negative errno. A batch with a file that could not be read whole (missing, not a
 * regular file, a read error, a size that differs from the size at open, a verify mismatch)
 * carries err and a message naming the file: fil_next returns err and the batch, whose data
 * must not be used, and which is released like any other; the batches before it stay valid and
 * the iteration goes on after it. Messages go through aisio_log too. Stale bytes are never
 * delivered: a file's size is checked at read time (before and after the read).
 *
 * Verify: every delivered file is hashed (fil_hash64) and compared with the hash of a plain
 * buffered read of the same path, a path independent of the backend's.
 *
 * Backends: posix buffered pread, posix O_DIRECT pread, posix io_uring O_DIRECT (liburing, one
 * ring per thread), aisio-cpu (XAL extents -> LBAs -> bio reads straight into the batch buffer,
 * allocated with bio_dev_buf_alloc; unwritten extents and holes zero-filled; a file whose
 * extents cannot be read raw, or that the index does not hold as a regular file, is read
 * through posix buffered pread instead), and the GPU backends below. AISIO_P2P is reserved
 * (-ENOTSUP).
 *
 * Batches in GPU memory (mem = FIL_MEM_CUDA): data is then a device pointer of the current CUDA
 * device. The backends that deliver there live in the GPU layer's library (aisio/fil_gpu.h;
 * built where CUDA is), which the caller hands over in opts.gpu: aisio-gpu (the batch's extents
 * uploaded to the GPU, GPU threads submit the NVMe reads into the batch buffer themselves, on a
 * GPU-resident controller: a gpuemu: device string, e.g. gpuemu:host,file=IMAGE serving the
 * file system's image), gds (cuFile, loaded at run time) and the posix backends, which read into
 * pinned host memory and copy each worker's part with cudaMemcpyAsync. Verify copies the bytes
 * back to the host to hash them.
 *
 * Ownership: fil_dataset_open returns a dataset the caller closes with fil_dataset_close
 * after releasing every batch it holds. Thread-safety: one thread calls fil_* on a dataset;
 * the worker threads are the library's.
 */
#ifndef AISIO_FIL_H
#define AISIO_FIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum fil_backend {
	FIL_BACKEND_POSIX_BUFFERED = 0,
	FIL_BACKEND_POSIX_DIRECT,
	FIL_BACKEND_POSIX_URING,
	FIL_BACKEND_AISIO_CPU,
	FIL_BACKEND_AISIO_GPU, /* GPU memory only (opts.gpu) */
	FIL_BACKEND_AISIO_P2P, /* reserved */
	FIL_BACKEND_GDS,       /* GPU memory only (opts.gpu) */
};

enum fil_mem {
	FIL_MEM_HOST = 0, /* batches in host memory */
	FIL_MEM_CUDA,     /* batches in GPU memory (needs opts.gpu) */
};

/* The GPU backends' implementation (aisio/fil_gpu.h: fil_gpu_backends()). */
struct fil_gpu_backends;

struct fil_opts {
	const char *path; /* dataset directory or file list */
	enum fil_backend backend;
	unsigned batch_size;        /* files per batch (0: 32) */
	unsigned batches_in_flight; /* K, the pool (0: 4) */
	bool shuffle;
	bool drop_last; /* no short last batch */
	uint64_t seed;
	unsigned rank, world_size; /* world_size 0: 1 */
	unsigned threads;          /* worker threads (0: one per online CPU) */
	bool verify;
	unsigned timeout_ms; /* bound of the library's internal waits (0: 30000) */
	/* aisio-cpu */
	const char *device;     /* bio device string: emu:file:IMG, a PCI address, homi:NAME */
	uint32_t nsid;          /* 0: 1 */
	const char *xal_source; /* XAL source: the XFS image / device, or the mount point (FIEMAP) */
	/* directory where that file system is mounted, to map dataset paths to paths inside it
	 * (NULL: xal_source, when that is a directory) */
	const char *xal_mount;
	unsigned queue_depth; /* commands in flight per thread (0: 64) */
	/* GPU memory */
	enum fil_mem mem;                   /* aisio-gpu and gds: FIL_MEM_CUDA whatever is set */
	const struct fil_gpu_backends *gpu; /* NULL: batches in GPU memory are -ENOTSUP */
	unsigned gpu_queues;                /* aisio-gpu: queue pairs on the GPU (0: 32) */
};

struct fil_position {
	uint64_t epoch;
	uint64_t index; /* files of this rank's share already handed out */
};

struct fil_batch {
	uint64_t epoch;
	uint64_t index; /* position of the batch's first file in this rank's share */
	unsigned count; /* files */
	uint8_t *data;
	size_t data_len;         /* bytes from data to the end of the last file, padded to the alignment */
	const uint64_t *offsets; /* of each file in data */
	const uint64_t *lengths;
	const int32_t *labels;
	const uint32_t *files; /* dataset file index (fil_file_path) */
	const char *const *paths;
	const uint64_t *hashes; /* fil_hash64 of each file's bytes when verify, else NULL */
	int err;                /* 0, or what failed; error then names the file */
	const char *error;
};

struct fil_dataset;

const char *fil_backend_str(enum fil_backend b);
/* "posix", "posix-buffered", "posix-direct", "posix-uring", "aisio-cpu", "aisio-gpu", "aisio-p2p", "gds"
 * ("posix" is buffered); -EINVAL otherwise. */
int fil_backend_parse(const char *name, enum fil_backend *out);

int fil_dataset_open(struct fil_dataset **out, const struct fil_opts *opts);
void fil_dataset_close(struct fil_dataset *ds);

uint32_t fil_dataset_files(const struct fil_dataset *ds);
uint32_t fil_dataset_classes(const struct fil_dataset *ds);
const char *fil_file_path(const struct fil_dataset *ds, uint32_t file);
int32_t fil_file_label(const struct fil_dataset *ds, uint32_t file);
/* Size at open; UINT64_MAX when stat failed (the read fails then). */
uint64_t fil_file_size(const struct fil_dataset *ds, uint32_t file);
/* Files of this rank's share in one epoch, and its batches. */
uint64_t fil_epoch_files(const struct fil_dataset *ds);
uint64_t fil_epoch_batches(const struct fil_dataset *ds);
/* This rank's share of epoch in order (count = fil_epoch_files), as fil_next delivers it. */
int fil_epoch_order(const struct fil_dataset *ds, uint64_t epoch, uint32_t *files);

/*
 * The oldest batch. 0 with *out; a negative errno with *out (the batch's err, release it);
 * -ENODATA with *out NULL at the end of the epoch (fil_position_set, or fil_epoch_next, starts
 * another); -ETIMEDOUT with *out NULL when it did not complete within timeout_ms (call again);
 * -ENOBUFS with *out NULL when the caller holds all K batches.
 */
int fil_next(struct fil_dataset *ds, struct fil_batch **out, unsigned timeout_ms);
void fil_batch_release(struct fil_dataset *ds, struct fil_batch *batch);

void fil_position_get(const struct fil_dataset *ds, struct fil_position *pos);
/* Discards what was read ahead and reads from pos; batches the caller holds stay valid (their
 * buffers rejoin the pool when released: a Python loop's last batch of an epoch is still alive
 * when the next epoch starts). -ERANGE for an index past the share. */
int fil_position_set(struct fil_dataset *ds, const struct fil_position *pos);
/* fil_position_set(epoch + 1, 0). */
int fil_epoch_next(struct fil_dataset *ds);

struct fil_stats {
	uint64_t files;          /* read whole */
	uint64_t bytes;          /* of those files */
	uint64_t files_fallback; /* aisio backends: of those, read by posix (extents not raw-readable, not indexed) */
	uint64_t batches_failed;
	uint64_t ios; /* read commands issued: preads, io_uring reads, NVMe reads (a split over MDTS counts once) */
};
/* Counted since open, as the workers finish their parts. */
void fil_dataset_stats(struct fil_dataset *ds, struct fil_stats *st);

/* The hash verify compares (64-bit, not cryptographic). */
uint64_t fil_hash64(const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* AISIO_FIL_H */
