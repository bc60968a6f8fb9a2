/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * XAL: the file -> extent library. Indexes a whole file tree into compact pools
 * and answers "which bytes / LBAs of the device hold this file".
 *
 * Sources (xal_open picks by what the path is, or by xal_opts.backend):
 *   a directory of a mounted file system   FIEMAP backend (XFS, ext4, ...)
 *   an XFS image file or block device      on-disk parser, v5 XFS only, read with
 *                                           pread; the file system must be unmounted
 *                                           or frozen while it is read
 *
 * Pools: inodes (type, size, link count), directory entries as name-sorted runs
 * of (name, inode) per directory (so hard links are two entries naming one
 * inode), file extents as offset-sorted runs with every flag kept, a path-hash
 * table. All sized from the real counts of the tree indexed.
 *
 * Offsets are bytes; disk offsets count from the start of the file system's
 * device (the partition, for a partition). xal_extent_lba adds the partition
 * offset and converts to LBAs of a given size.
 *
 * Errors are negative errno; a corrupt on-disk structure gives -EUCLEAN. The
 * first failure of an open is logged through aisio_log (include/aisio/log.h),
 * the device being the source path, the message naming the block. The XFS
 * backend verifies every metadata block it reads (CRC32c, owner, UUID, bounds)
 * and the whole tree (no block owned twice, link counts) before it answers, and
 * refuses a file system whose log needs recovery (docs/XAL.md says what each
 * error means).
 *
 * Ownership: the caller owns a struct xal from xal_open/xal_shm_open until
 * xal_close; struct xal_inode and names returned point into it and live as long.
 * Thread-safety: a finished index is read-only, so lookups may run from any
 * number of threads; xal_watch_* calls from one thread; readers of a shared
 * (exported) index in other processes use xal_seq_begin/xal_seq_retry.
 */
#ifndef AISIO_XAL_H
#define AISIO_XAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum xal_backend {
	XAL_BACKEND_AUTO = 0, /* directory -> FIEMAP, file or block device -> XFS */
	XAL_BACKEND_FIEMAP,
	XAL_BACKEND_XFS,
};

enum xal_type {
	XAL_TYPE_UNKNOWN = 0,
	XAL_TYPE_REG,
	XAL_TYPE_DIR,
	XAL_TYPE_LNK,
	XAL_TYPE_CHR,
	XAL_TYPE_BLK,
	XAL_TYPE_FIFO,
	XAL_TYPE_SOCK,
};

/*
 * Extent flags. The values are those of FIEMAP_EXTENT_* (linux/fiemap.h), so a
 * FIEMAP flag is kept as is; the XFS backend sets the same bits. A flag FIEMAP
 * may add later above bit 14 is kept as XAL_EXT_OTHER rather than dropped.
 */
#define XAL_EXT_LAST 0x0001u        /* last extent of the file */
#define XAL_EXT_UNKNOWN 0x0002u     /* location not known: disk_offset meaningless */
#define XAL_EXT_DELALLOC 0x0004u    /* delayed allocation: no disk location yet */
#define XAL_EXT_ENCODED 0x0008u     /* data encoded (compressed...): not raw-readable */
#define XAL_EXT_ENCRYPTED 0x0080u   /* data encrypted */
#define XAL_EXT_NOT_ALIGNED 0x0100u /* not block aligned */
#define XAL_EXT_INLINE 0x0200u      /* data inline in metadata */
#define XAL_EXT_TAIL 0x0400u        /* packed tail */
#define XAL_EXT_UNWRITTEN 0x0800u   /* allocated, not written: reads as zeros */
#define XAL_EXT_MERGED 0x1000u      /* merged by the file system */
#define XAL_EXT_SHARED 0x2000u      /* shared with another file (reflink) */
#define XAL_EXT_OTHER 0x8000u       /* a FIEMAP flag this library does not know */

/* Extents whose bytes cannot be read from disk_offset on the device. */
#define XAL_EXT_NO_RAW_READ                                                                               \
	(XAL_EXT_UNKNOWN | XAL_EXT_DELALLOC | XAL_EXT_ENCODED | XAL_EXT_ENCRYPTED | XAL_EXT_NOT_ALIGNED | \
	 XAL_EXT_INLINE | XAL_EXT_TAIL | XAL_EXT_OTHER)

/* Flags of xal_opts.flags */
#define XAL_OPEN_NO_SYNC 0x1u   /* FIEMAP without FIEMAP_FLAG_SYNC (dirty files show delalloc) */
#define XAL_OPEN_WATCHABLE 0x2u /* keep what xal_watch_start needs (FIEMAP backend) */
/* XFS: index even when the log needs recovery; the index then reflects the disk without the
 * log's changes (files deleted, grown or created since the last checkpoint are wrong):
 * xal_stats.log_dirty says so, and every open of such an index (xal_open, xal_shm_open)
 * logs a warning */
#define XAL_OPEN_IGNORE_LOG 0x4u

/* Reads len bytes at byte off of the device into buf: 0 or a negative errno. */
typedef int (*xal_read_fn)(void *arg, uint64_t off, void *buf, size_t len);

struct xal_opts {
	enum xal_backend backend;
	uint32_t flags; /* XAL_OPEN_* */
	/* XFS backend on a device that is no file (a namespace behind the user-space driver,
	 * a test image in memory): read it through read(read_arg, ...), read_size bytes;
	 * the source string then only names it in messages */
	xal_read_fn read;
	void *read_arg;
	uint64_t read_size;
};

/* One file-system object, a view into the index. */
struct xal_inode {
	uint32_t idx; /* position in the inode pool: the handle */
	enum xal_type type;
	uint64_t ino;  /* inode number of the file system */
	uint64_t size; /* bytes */
	uint32_t nlink;
	uint32_t count; /* directory: entries; regular file: extents; symlink: target length */
};

/* One extent in bytes. */
struct xal_extent {
	uint64_t file_offset;
	uint64_t disk_offset; /* from the start of the file system's device */
	uint64_t length;
	uint32_t flags; /* XAL_EXT_* */
};

struct xal_stats {
	const char *backend;  /* "fiemap" or "xfs" */
	const char *fstype;   /* "xfs", "ext4", ... */
	uint32_t block_size;  /* file-system block size, bytes */
	uint64_t part_offset; /* bytes from the start of the whole disk to the file system */
	uint64_t inodes;      /* inodes in the pool (after watch updates: with unreachable ones) */
	uint64_t reachable;   /* inodes reachable from the root (after incremental watch
				 * updates: paths, until the next full hash build) */
	uint64_t dirs, files, symlinks, others;
	uint64_t dentries;
	uint64_t extents; /* extent records */
	uint64_t name_bytes;
	uint64_t hash_slots;
	uint64_t hash_used;           /* slots holding a path */
	uint64_t hash_collisions;     /* paths whose 64-bit hash is not unique */
	uint64_t mem_bytes;           /* memory of the finished index */
	double index_seconds;         /* time the last full index took */
	uint64_t updates_incremental; /* watch updates applied to the changed objects only */
	uint64_t updates_full;        /* watch updates that re-indexed the whole tree */
	bool log_dirty;               /* XFS: the log needed recovery and was ignored (XAL_OPEN_IGNORE_LOG):
				 * answers may be stale; callers should warn with every answer */
};

struct xal;

/*
 * Index SOURCE (see above). -EUCLEAN: the XFS image is corrupt or its log needs
 * recovery (the logged message says which); -EAGAIN (FIEMAP): two files' extents
 * on one block, the tree changed while it was read: open again.
 */
int xal_open(struct xal **xal, const char *source, const struct xal_opts *opts);
void xal_close(struct xal *xal);

int xal_stats(const struct xal *xal, struct xal_stats *st);
int xal_root(const struct xal *xal, struct xal_inode *root);
int xal_inode_get(const struct xal *xal, uint32_t idx, struct xal_inode *out);

/*
 * Path lookup from the root: components separated by '/', empty and "." skipped,
 * ".." refused (-EINVAL); a binary search per level. Symlinks are not followed.
 */
int xal_lookup(const struct xal *xal, const char *path, struct xal_inode *out);

/* 64-bit hash of a path as xal_lookup_hash keys it (leading/trailing '/' ignored). */
uint64_t xal_path_hash(const char *path);
/* O(1) lookup; -ENOENT if absent, -ENOTUNIQ if two paths share the hash (use xal_lookup). */
int xal_lookup_hash(const struct xal *xal, uint64_t hash, struct xal_inode *out);

/* Entry i of directory dir: its name (NUL-terminated, in the index) and the inode it names. */
int xal_dirent(const struct xal *xal, const struct xal_inode *dir, uint32_t i, const char **name, size_t *name_len,
	       struct xal_inode *child);
/* Binary search of one name in one directory. */
int xal_dir_lookup(const struct xal *xal, const struct xal_inode *dir, const char *name, size_t name_len,
		   struct xal_inode *child);

/* Extent i of a regular file, in bytes. */
int xal_extent_get(const struct xal *xal, const struct xal_inode *file, uint32_t i, struct xal_extent *out);
/* Symlink target (not NUL-terminated beyond length); -ENODATA if the backend did not keep it. */
int xal_symlink_target(const struct xal *xal, const struct xal_inode *lnk, const char **target, size_t *len);

/*
 * An extent in LBAs of lba_size bytes, partition offset applied. -EINVAL when the
 * extent does not start and end on LBA boundaries, -ENODATA when its flags say the
 * bytes are not at disk_offset (XAL_EXT_NO_RAW_READ). Unwritten extents convert:
 * the caller zero-fills them.
 */
int xal_extent_lba(const struct xal *xal, const struct xal_extent *ext, uint32_t lba_size, uint64_t *slba,
		   uint64_t *nlb);

/*
 * Depth-first walk from the root in name order; cb gets the path relative to the
 * root ("" for the root) and the inode. A non-zero return from cb stops the walk
 * and is returned. Directories reached twice (corrupt trees) are visited once.
 */
typedef int (*xal_walk_cb)(const struct xal *xal, const char *path, const struct xal_inode *inode, void *arg);
int xal_walk(const struct xal *xal, xal_walk_cb cb, void *arg);

const char *xal_type_str(enum xal_type t);
/* Writes the names of the flags separated by sep into buf; returns buf. */
const char *xal_ext_flags_str(uint32_t flags, char *buf, size_t len, const char *sep);

/*
 * Shared memory. xal_shm_export copies the index into the POSIX shared memory
 * object NAME ("/name"), with slack for watch updates; xal_shm_open maps one
 * read-only from another process (the struct xal it returns answers every
 * lookup above). xal_shm_unlink removes the name.
 */
int xal_shm_export(struct xal *xal, const char *name);
int xal_shm_open(struct xal **xal, const char *name);
int xal_shm_unlink(const char *name);

/*
 * Seqlock of a shared index: a reader takes seq = xal_seq_begin(), does its
 * lookups and copies, and retries while xal_seq_retry(xal, seq) is true. Lookups
 * on a torn state may fail with -EUCLEAN/-ENOENT; they never read out of bounds.
 */
uint64_t xal_seq_begin(const struct xal *xal);
bool xal_seq_retry(const struct xal *xal, uint64_t seq);
/*
 * A watched index that outgrows its shared object moves to a new, larger object
 * under the same name. The old mapping stays a consistent snapshot; this turns
 * true on it, and the reader should close it and xal_shm_open the name again.
 */
bool xal_shm_replaced(const struct xal *xal);

/*
 * Watch (FIEMAP backend, opened with XAL_OPEN_WATCHABLE): inotify on every
 * directory. xal_watch_poll blocks up to timeout_ms (-1: forever) for changes,
 * then updates what changed and publishes it (under the seqlock, into the shared
 * memory too if exported): a directory with created, removed or renamed entries
 * is re-read (new entries indexed, whole subtrees for new directories), a written
 * file re-mapped. A directory moved together with changes inside it, an inotify
 * queue overflow, or garbage from earlier updates past the live size re-index
 * the whole tree instead (xal_stats counts both kinds). Every update ends with
 * the check that no two files' extents share a block unless both are flagged
 * shared; when they do (blocks moved between files while events were read) the
 * whole tree is re-indexed. Returns the number of objects updated (0 on
 * timeout) or a negative errno; -EAGAIN when the files kept changing through
 * the re-index too: the shared copy keeps its last good state, poll again.
 */
int xal_watch_start(struct xal *xal);
int xal_watch_poll(struct xal *xal, int timeout_ms);
int xal_watch_fd(const struct xal *xal);
void xal_watch_stop(struct xal *xal);

#endif
