/* SPDX-License-Identifier: BSD-3-Clause */
/* XAL internals: pool records, the shared header, the builder the backends fill. */
#ifndef AISIO_XAL_INTERNAL_H
#define AISIO_XAL_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include <aisio/log.h>
#include <aisio/xal.h>

#ifndef EUCLEAN
#define EUCLEAN 117
#endif

/* Inode record, 32 bytes. */
struct xal_ino_rec {
	uint64_t ino;
	uint64_t size;
	uint32_t first; /* dir: first dentry; file: first extent; symlink: target offset in names */
	uint32_t count; /* dir: dentries; file: extents; symlink: target length */
	uint32_t nlink;
	uint16_t type;  /* enum xal_type */
	uint16_t flags; /* XAL_INO_* */
};
#define XAL_INO_MOUNTPOINT 0x1 /* another file system is mounted here: not descended */
#define XAL_INO_HAS_TARGET 0x2 /* symlink target kept */

/* Directory entry, 8 bytes: name offset in the names pool ([u8 len][bytes][NUL]) and inode index. */
struct xal_dent {
	uint32_t name;
	uint32_t inode;
};

/*
 * Extent record, 16 bytes, in file-system blocks:
 *   w0: file block (bits 0..47) | flags (bits 48..63)
 *   w1: disk block (bits 0..43) | length in blocks (bits 44..63)
 * Longer extents are stored as several records.
 */
struct xal_ext_rec {
	uint64_t w0;
	uint64_t w1;
};
#define XAL_REC_FOFF_BITS 48
#define XAL_REC_PBLK_BITS 44
#define XAL_REC_LEN_MAX ((1u << 20) - 1)
#define XAL_REC_FOFF_MAX ((1ull << XAL_REC_FOFF_BITS) - 1)
#define XAL_REC_PBLK_MAX ((1ull << XAL_REC_PBLK_BITS) - 1)

/* Path hash slot, 16 bytes. */
struct xal_hent {
	uint64_t hash;
	uint32_t inode;
	uint32_t flags; /* XAL_HENT_* */
};
#define XAL_HENT_USED 0x1
#define XAL_HENT_DUP 0x2

#define XAL_HDR_REPLACED 0x1u           /* the writer moved on to a larger object under the same name */
#define XAL_HDR_LOG_DIRTY 0x2u          /* XFS: indexed with a log that needs recovery (XAL_OPEN_IGNORE_LOG) */
#define XAL_MAGIC 0x31584c4153494f41ull /* "AOISALX1" */
#define XAL_VERSION 1

/*
 * Header: geometry, counts, offsets of the pools. In process it sits in struct
 * xal; exported, it starts the shared-memory region and seq is the seqlock.
 */
struct xal_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_size;
	uint64_t seq; /* seqlock: odd while the writer updates */
	uint64_t region_size;
	uint32_t block_size;
	uint32_t root;
	uint32_t backend; /* enum xal_backend */
	uint32_t flags;   /* XAL_HDR_* */
	char fstype[16];
	uint64_t part_offset;
	/* current counts */
	uint64_t n_inodes, n_dents, n_exts, n_names, n_hash;
	/* capacities (fixed for a mapping) and byte offsets in the region */
	uint64_t cap_inodes, cap_dents, cap_exts, cap_names;
	uint64_t off_inodes, off_dents, off_exts, off_names, off_hash;
	uint64_t reachable, hash_collisions;
	double index_seconds;
};

struct xal_watch;

struct xal {
	struct xal_hdr *hdr; /* &local or the shared region */
	struct xal_hdr local;
	struct xal_ino_rec *inodes;
	struct xal_dent *dents;
	struct xal_ext_rec *exts;
	char *names;
	struct xal_hent *hash;
	uint64_t cap_inodes, cap_dents, cap_exts, cap_names, n_hash; /* bounds of this mapping */
	int owns_pools;                                              /* pools are malloc'ed */
	void *map;                                                   /* shared mapping (imported or exported) */
	size_t map_len;
	char *shm_name; /* exported under this name */
	char *source;
	uint32_t open_flags;
	xal_read_fn read; /* xal_opts.read and its argument and size, for a re-index */
	void *read_arg;
	uint64_t read_size;
	struct xal_watch *watch;
	/* watch mode: records of replaced runs (xal_update.c), and how updates went */
	uint64_t garbage_dents, garbage_exts;
	int hash_stale; /* the path hash could not be updated in place: rebuild it */
	uint64_t updates_incremental, updates_full;
};

/* Builder: growing pools, inode-number map, the backends fill it. */
struct xal_build {
	struct xal_ino_rec *inodes;
	uint64_t n_inodes, cap_inodes;
	struct xal_dent *dents; /* during the build: inode field the type the entry gives (enum
				     * xal_type, UNKNOWN if none), child inode number in dent_ino */
	uint64_t *dent_ino;
	uint64_t n_dents, cap_dents;
	struct xal_ext_rec *exts;
	uint64_t n_exts, cap_exts;
	char *names;
	uint64_t n_names, cap_names;
	/* inode number -> index, open addressing */
	uint64_t *map_ino;
	uint32_t *map_idx;
	uint64_t map_mask, map_used;
	int unsorted; /* inodes not added in increasing number order: the map is in use */
	uint32_t block_size;
	uint32_t root; /* index of the root inode, UINT32_MAX until set */
	uint64_t root_ino;
	/*
	 * Set by a backend that reads a whole, quiescent file system (XFS): link counts
	 * must equal the names found, every linked inode must be reachable, and every
	 * directory's ".." (dotdot: per directory, by inode index) must name the
	 * directory that holds it.
	 */
	int exact_links;
	struct xal_dotdot {
		uint32_t dir;    /* inode index */
		uint64_t parent; /* inode number its ".." names */
	} * dotdot;
	size_t n_dotdot, cap_dotdot;
	const char *source; /* the image or mount path, the device of messages; NULL: a watch
				     * update, whose failure its caller resolves, logs nothing */
	int logged;         /* a failure was logged: later ones only unwind */
};

int xal_build_init(struct xal_build *b, uint64_t inodes_hint, uint64_t dents_hint, uint64_t exts_hint);
void xal_build_free(struct xal_build *b);
/* Adds an inode (or finds it by number); *idx gets its index, returns 1 if new, 0 if known. */
int xal_build_inode(struct xal_build *b, uint64_t ino, enum xal_type type, uint64_t size, uint32_t nlink,
		    uint32_t *idx);
int xal_build_find(const struct xal_build *b, uint64_t ino, uint32_t *idx);
/* Appends an extent (bytes) to the pool; the caller sets first/count of the inode. */
int xal_build_extent(struct xal_build *b, uint64_t foff, uint64_t doff, uint64_t len, uint32_t flags);
int xal_build_extent_blocks(struct xal_build *b, uint64_t fblk, uint64_t pblk, uint64_t nblk, uint32_t flags);
int xal_build_dent(struct xal_build *b, const char *name, size_t len, uint64_t child_ino);
/* The same with the type the entry records (checked against the inode's at the end). */
int xal_build_dent_typed(struct xal_build *b, const char *name, size_t len, uint64_t child_ino, enum xal_type type);
/* Records the ".." a directory names (exact_links builds). */
int xal_build_dotdot(struct xal_build *b, uint32_t dir_idx, uint64_t parent_ino);
/* Sorts the entries [first, n_dents) of one directory by name; sets its first/count. */
int xal_build_dir_done(struct xal_build *b, uint32_t dir_idx, uint64_t first);
int xal_build_symlink(struct xal_build *b, uint32_t idx, const char *target, size_t len);
/* Resolves entries to inode indexes, shrinks pools, builds the hash: moves everything into x. */
int xal_build_finish(struct xal_build *b, struct xal *x);

/* Capacity for need elements of *p, doubling; zero: the new part is zeroed. */
int xal_grow(void **p, uint64_t *cap, uint64_t need, size_t elem, int zero);
/* The order of names in a directory's run: bytes, then the shorter name first. */
int xal_name_order(const char *a, size_t alen, const char *b, size_t blen);
/* Binary search of one name in directory dir: its entry, -ENOENT, or -EUCLEAN/-ENOTDIR. */
int xal_dir_find(const struct xal *x, uint32_t dir, const char *name, size_t len, const struct xal_dent **entry);
/* Skips the slashes at *p and returns the length of the path component that starts there (0 at the end). */
size_t xal_path_next(const char **p);
/* Appends the element e to the array *v of *n elements (capacity *cap), growing it. */
int xal_push(void **v, size_t *n, size_t *cap, const void *e, size_t elem);
/* Logs the first failure of a build (it names the structure that failed) through aisio_log; returns err. */
int xal_err(struct xal_build *b, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The warning of an index built past a dirty log, at every open of it (xal_open, xal_shm_open). */
void xal_warn_log_dirty(const char *source);
/* A name from the disk as a message may show it: printable ASCII but '\\' kept, other bytes as \xNN,
 * long names cut with "..."; returns buf. */
const char *xal_name_escape(const char *name, size_t len, char *buf, size_t buflen);
#define XAL_NAME_ESC_MAX 200 /* buffer that holds any escaped name */

/* CRC32c register update, no inversion in or out (as the kernel's crc32c()); xal_crc.c or xal_crc_isal.c. */
uint32_t xal_crc32c(uint32_t crc, const void *buf, size_t len);
/* Which implementation xal_crc32c uses: "isa-l", "sse4.2" or "bitwise". */
const char *xal_crc32c_impl(void);

/*
 * Disk blocks an object claims, for the check that no block has two owners
 * (file-system blocks counted from the start of the device).
 */
struct xal_claim {
	uint64_t start;
	uint32_t len;   /* blocks, with XAL_CLAIM_SHARED */
	uint32_t owner; /* inode index, or a backend's metadata code >= XAL_CLAIM_META */
};
#define XAL_CLAIM_SHARED 0x80000000u /* a reflinked extent: may share blocks with other shared claims */
#define XAL_CLAIM_LEN_MAX 0x7fffffffu
#define XAL_CLAIM_META 0xffffff00u
/* Sorts by start (radix, a temporary copy); -ENOMEM. */
int xal_claims_sort(struct xal_claim *v, size_t n);
/* On sorted claims: 1 and the pair (*a, *b) at the first block claimed twice unless both are shared; else 0. */
int xal_claims_overlap(const struct xal_claim *v, size_t n, size_t *a, size_t *b);

/*
 * The same rule fed one claim at a time in start order (claims of several
 * sorted streams merged as they come): the claim reaching furthest so far, and
 * the one of those that are not shared.
 */
struct xal_sweep {
	uint64_t end_all, end_own;
	struct xal_claim who_all, who_own;
};

/* 1, and in *other the claim c overlaps, when c shares a block it may not share; else 0. */
static inline int xal_sweep_add(struct xal_sweep *s, const struct xal_claim *c, struct xal_claim *other)
{
	int shared = (c->len & XAL_CLAIM_SHARED) != 0;
	uint64_t end = c->start + (c->len & XAL_CLAIM_LEN_MAX);

	if (c->start < s->end_own || (!shared && c->start < s->end_all)) {
		*other = c->start < s->end_own ? s->who_own : s->who_all;
		return 1;
	}
	if (end > s->end_all) {
		s->end_all = end;
		s->who_all = *c;
	}
	if (!shared && end > s->end_own) {
		s->end_own = end;
		s->who_own = *c;
	}
	return 0;
}
/*
 * No two files reachable in x have extents on the same block unless both are
 * flagged shared (FIEMAP builds and watch updates; the XFS backend checks every
 * block it read itself). -EAGAIN, with a message naming both inodes logged
 * for source (none when NULL): files changed while the tree was read.
 */
int xal_index_check_overlaps(const struct xal *x, const char *source);

static inline enum xal_type xal_type_from_mode(uint32_t mode)
{
	switch (mode & 0170000) {
	case 0100000: return XAL_TYPE_REG;
	case 0040000: return XAL_TYPE_DIR;
	case 0120000: return XAL_TYPE_LNK;
	case 0020000: return XAL_TYPE_CHR;
	case 0060000: return XAL_TYPE_BLK;
	case 0010000: return XAL_TYPE_FIFO;
	case 0140000: return XAL_TYPE_SOCK;
	default: return XAL_TYPE_UNKNOWN;
	}
}

static inline uint64_t xal_hash_step(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	/* FNV-1a, 64 bit */
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}
#define XAL_HASH_SEED 0xcbf29ce484222325ull

/* Spreads a 64-bit key over the slots of an open-addressing table (inode map, path hash). */
static inline uint64_t xal_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Hash of the path "parent/name" given the hash of parent; the root's hash is XAL_HASH_SEED. */
static inline uint64_t xal_hash_child(uint64_t parent, int parent_is_root, const char *name, size_t len)
{
	uint64_t h = parent;

	if (!parent_is_root)
		h = xal_hash_step(h, "/", 1);
	return xal_hash_step(h, name, len);
}

/* Backends */
#include <sys/types.h>
uint64_t xal_part_offset(dev_t dev);
int xal_fiemap_index(struct xal_build *b, const char *dir, uint32_t flags, struct xal_hdr *hdr);
int xal_xfs_index(struct xal_build *b, const char *dev, const struct xal_opts *opts, struct xal_hdr *hdr);
/* Watch mode: index the entry NAME of the open directory dfd (a directory with its whole subtree)
 * into b, *idx its index there; dev is the file system's device (mount points are not crossed). */
int xal_fiemap_entry(struct xal_build *b, int dfd, const char *name, dev_t dev, uint32_t flags, uint32_t *idx);
/* Watch mode: append every extent of the open regular file fd to b's extent pool. */
int xal_fiemap_extents(struct xal_build *b, int fd, uint32_t flags);

/* Re-index into an existing xal (watch): rebuild from x->source and swap the pools. */
int xal_reindex(struct xal *x);
/*
 * Incremental updates of an in-process FIEMAP index (xal_update.c), paths relative
 * to the source. -ESTALE: the index and the disk disagree in a way only a full
 * re-index resolves (a directory moved, an object replaced).
 */
/* Link counts to settle after a burst's directory updates (xal_update.c). */
struct xal_link_set {
	uint32_t idx;
	uint32_t nlink;
};
struct xal_links {
	uint32_t *dec; /* records that lost a name */
	size_t ndec, capdec;
	struct xal_link_set *set; /* counts read from the disk: they win */
	size_t nset, capset;
};
/* Re-reads one directory; new entries (whole subtrees) are indexed, *added counts them. */
int xal_update_dir(struct xal *x, const char *rel, dev_t dev, struct xal_links *links, unsigned *added);
void xal_links_apply(struct xal *x, struct xal_links *links);
void xal_links_free(struct xal_links *links);
/* Re-maps one regular file's extents (0 if it is gone from both the disk and the index). */
int xal_update_file(struct xal *x, const char *rel);
/* Rebuilds the path hash and the reachable count (after directory updates that
 * could not keep it in place: x->hash_stale). */
int xal_update_hash(struct xal *x);
/* Garbage of replaced runs and removed objects exceeds the live part. */
bool xal_update_wants_compaction(const struct xal *x);

/* Publishes the pools of x into its exported region (seqlock write side); -ENOSPC
 * when they outgrew it. */
int xal_shm_publish(struct xal *x);
/* Moves an exported index to a new object under the same name, sized for the pools now. */
int xal_shm_regrow(struct xal *x);
void xal_pools_free(struct xal *x);
void xal_shm_unmap(struct xal *x);
/* Walks the pools of x from the root; fills the path-hash table t (mask + 1 slots) when t is given. */
int xal_hash_build(struct xal *x, struct xal_hent *t, uint64_t mask, uint64_t *reachable, uint64_t *dups);

#endif
