/* SPDX-License-Identifier: BSD-3-Clause */
/* fil's insides: the dataset, the pool of batch slots, the workers and the backend interface. */
#ifndef AISIO_FIL_INTERNAL_H
#define AISIO_FIL_INTERNAL_H

#include <aisio/fil.h>

#include <pthread.h>
#include <stdint.h>

#define FIL_MSG_LEN 512
#define FIL_SIZE_UNKNOWN UINT64_MAX

struct fil_file {
	char *path;
	char *xal_path; /* aisio backends: the path inside the indexed file system, or NULL */
	uint64_t size;  /* at open */
	int32_t label;
};

enum fil_slot_state {
	FIL_SLOT_FREE = 0,
	FIL_SLOT_FILLING, /* armed: the workers read it */
	FIL_SLOT_READY,   /* every worker has done its part */
	FIL_SLOT_USER,    /* handed out by fil_next */
};

struct fil_slot {
	struct fil_batch b; /* what the caller sees */
	enum fil_slot_state state;
	uint64_t seq; /* batch number since the last position change */
	unsigned parts_done;
	uint8_t *buf;
	uint64_t *offsets, *lengths, *hashes;
	int32_t *labels;
	uint32_t *files;
	const char **paths;
	unsigned err_at; /* position in the batch of the file err names */
	char msg[FIL_MSG_LEN];
};

struct fil_worker {
	struct fil_dataset *ds;
	unsigned id;
	pthread_t thread;
	bool started;
	uint64_t seq, gen;
	void *be;         /* the backend's per-thread state */
	void *gpu;        /* a GPU-memory backend's per-thread state (beside an inner posix backend's be) */
	uint8_t *scratch; /* verify: the independent read */
	size_t scratch_cap;
	uint8_t *out; /* verify of device memory: the delivered bytes, copied back */
	size_t out_cap;
	unsigned err_at;
	char msg[FIL_MSG_LEN];
	uint64_t fallback; /* files of the current part the backend read by posix */
	uint64_t ios;      /* read commands of the current part: preads, io_uring reads, NVMe reads */
};

/*
 * A backend. read fills files [first, first + count) of the slot (their offsets and lengths are
 * set, the bytes up to the aligned end are the backend's to write), checks each file's size at
 * read time, and returns 0 or the error of the first file that failed, with w->err_at its
 * position in the batch and w->msg naming it. Room for aisio-gpu, aisio-p2p and gds: a backend
 * that reads into device memory gives buf_alloc device memory and a verify hook later.
 */
struct fil_backend_ops {
	const char *name;
	size_t align;
	int (*open)(struct fil_dataset *ds);
	void (*close)(struct fil_dataset *ds);
	void *(*buf_alloc)(struct fil_dataset *ds, size_t len);
	void (*buf_free)(struct fil_dataset *ds, void *buf);
	int (*worker_init)(struct fil_worker *w);
	void (*worker_fini)(struct fil_worker *w);
	int (*read)(struct fil_worker *w, struct fil_slot *s, unsigned first, unsigned count);
	/* Backends whose buffers are device memory: copy len bytes at src (in a slot buffer) to the host. */
	int (*copy_out)(struct fil_worker *w, void *dst, const void *src, size_t len);
};

/* The GPU layer's backends (aisio/fil_gpu.h). posix_cuda wraps the posix backend the options name
 * (fil_dataset.inner): it reads into pinned host memory and copies each part into GPU memory. */
struct fil_gpu_backends {
	const struct fil_backend_ops *aisio_gpu;
	const struct fil_backend_ops *gds;
	const struct fil_backend_ops *posix_cuda;
};

struct fil_dataset {
	struct fil_opts o;
	char *root;
	const struct fil_backend_ops *ops;
	const struct fil_backend_ops *inner; /* the posix backend a GPU-memory wrapper reads with */
	void *be;
	void *gpu; /* a GPU-memory backend's state (beside an inner posix backend's be) */
	size_t align;

	struct fil_file *files;
	uint32_t nfiles, nclasses;
	size_t slot_cap;
	uint64_t max_file;

	/* this rank's share of the current epoch */
	uint64_t epoch;
	uint32_t *order;
	uint64_t order_n;
	uint64_t start_index; /* where reading began (the last position set) */
	uint64_t nbatches;    /* from start_index */

	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;
	bool stop;
	uint64_t gen;
	uint64_t next_arm, next_out;
	unsigned held;
	struct fil_position pos;
	struct fil_slot *slots;
	unsigned nslots;
	struct fil_worker *workers;
	unsigned nworkers;
	struct fil_stats stats; /* under mu */
};

extern const struct fil_backend_ops fil_posix_buffered_ops;
extern const struct fil_backend_ops fil_posix_direct_ops;
extern const struct fil_backend_ops fil_posix_uring_ops;
extern const struct fil_backend_ops fil_aisio_cpu_ops;

/*
 * The extent index the aisio backends share: XAL over the file system the dataset lives on, and
 * each dataset file's inode in it (fil_index.c).
 */
#define FIL_NO_INODE UINT32_MAX
struct xal;
struct xal_inode;
struct fil_index {
	struct xal *xal;
	uint32_t *inode; /* per dataset file: XAL inode index, FIL_NO_INODE when not indexed */
};
/* Index opts->xal_source and map the dataset's files into it; who names the backend in messages. */
int fil_index_open(struct fil_index *ix, struct fil_dataset *ds, const char *who);
void fil_index_close(struct fil_index *ix);
/* The inode of file at of the slot when the index holds it as a regular file of the size recorded at
 * open whose extents can all be read raw in LBAs of lba bytes: 1 (ino filled), 0 (read it by posix),
 * or a negative errno (an index error). */
int fil_index_raw(struct fil_index *ix, const struct fil_slot *s, unsigned at, uint32_t lba, struct xal_inode *ino);
/* What a backend does with a file's extents: read nlb LBAs from slba into the file's bytes at off, or zero
 * len bytes at off (holes, unwritten extents, the end no extent covers). 0 or a negative errno. */
struct fil_extent_sink {
	int (*read)(void *arg, uint64_t off, uint64_t slba, uint32_t nlb);
	int (*zero)(void *arg, uint64_t off, uint64_t len);
};
/* Walk the first size bytes of a file fil_index_raw accepted, in file order, in reads of at most max_lbas
 * LBAs of lba bytes; stops at the first error (the sink's or the index's). */
int fil_index_walk(struct fil_index *ix, const struct xal_inode *ino, uint64_t size, uint32_t lba, uint32_t max_lbas,
		   const struct fil_extent_sink *sink, void *arg);

/* Helpers of the backends (fil.c). */
int fil_fail(struct fil_worker *w, unsigned at, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Buffered pread of file at of the slot into its place, size checked before and after. */
int fil_read_buffered(struct fil_worker *w, struct fil_slot *s, unsigned at);
/* Zero the bytes from a file's end to its aligned end. */
void fil_zero_tail(struct fil_dataset *ds, struct fil_slot *s, unsigned at);
/* fstat-checks an open descriptor against the size at open: 0 or -ESTALE/-EINVAL via fil_fail. */
/* pread the file at s's position at into dst until its recorded length is in, each read asking for up to
 * span bytes from where it is (span: the length, or the aligned end for O_DIRECT, whose reads short of the
 * end must be multiples of align). A file that ends early is -ESTALE. Counts w->ios. */
int fil_pread_span(struct fil_worker *w, struct fil_slot *s, unsigned at, int fd, uint8_t *dst, uint64_t span,
		   unsigned align);
int fil_check_fd(struct fil_worker *w, struct fil_slot *s, unsigned at, int fd);
/* The same by stat of the path (backends that read without a descriptor). */
int fil_check_path(struct fil_worker *w, struct fil_slot *s, unsigned at);
void *fil_host_buf_alloc(struct fil_dataset *ds, size_t len);
void fil_host_buf_free(struct fil_dataset *ds, void *buf);
size_t fil_round_up(size_t v, size_t a);

#endif
