/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * XFS on-disk backend (v5 file systems): reads the superblock, every AG's AGI
 * and inode B+tree, every allocated inode, the data forks (extents or B+tree),
 * directories (shortform, block, leaf, node, B+tree: their data blocks all live
 * below the 32 GiB leaf offset, so one reader serves them all) and the refcount
 * B+trees (to flag shared extents). Everything is read with pread and bounds
 * checked; a corrupt structure gives -EUCLEAN and a message naming the block.
 *
 * B+tree walks cannot loop: every child must carry its parent's level minus one
 * and the records a walk returns must strictly increase, so a pointer back to a
 * visited block fails on the ordering check at the latest.
 *
 * Facts of the format from the XFS Algorithms & Data Structures document.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xal_priv.h"

#define XFS_SB_MAGIC 0x58465342u      /* XFSB */
#define XFS_AGI_MAGIC 0x58414749u     /* XAGI */
#define XFS_AGF_MAGIC 0x58414746u     /* XAGF */
#define XFS_IBT_CRC_MAGIC 0x49414233u /* IAB3 */
#define XFS_REFC_CRC_MAGIC 0x52334643u /* R3FC */
#define XFS_BMAP_CRC_MAGIC 0x424d4133u /* BMA3 */
#define XFS_DIR3_BLOCK_MAGIC 0x58444233u /* XDB3 */
#define XFS_DIR3_DATA_MAGIC 0x58444433u  /* XDD3 */
#define XFS_SYMLINK_MAGIC 0x58534c4du    /* XSLM */
#define XFS_DINODE_MAGIC 0x494eu        /* IN */

#define XFS_SB_FEAT_INCOMPAT_FTYPE 0x1u
#define XFS_SB_FEAT_INCOMPAT_SPINODES 0x2u
#define XFS_SB_FEAT_INCOMPAT_META_UUID 0x4u
#define XFS_SB_FEAT_INCOMPAT_BIGTIME 0x8u
#define XFS_SB_FEAT_INCOMPAT_NEEDSREPAIR 0x10u
#define XFS_SB_FEAT_INCOMPAT_NREXT64 0x20u
#define XFS_SB_FEAT_INCOMPAT_EXCHRANGE 0x40u
#define XFS_SB_FEAT_INCOMPAT_PARENT 0x80u
#define XFS_SB_FEAT_INCOMPAT_KNOWN                                                                             \
	(XFS_SB_FEAT_INCOMPAT_FTYPE | XFS_SB_FEAT_INCOMPAT_SPINODES | XFS_SB_FEAT_INCOMPAT_META_UUID |          \
	 XFS_SB_FEAT_INCOMPAT_BIGTIME | XFS_SB_FEAT_INCOMPAT_NREXT64 | XFS_SB_FEAT_INCOMPAT_EXCHRANGE |          \
	 XFS_SB_FEAT_INCOMPAT_PARENT)
#define XFS_SB_FEAT_RO_COMPAT_REFLINK 0x4u

#define XFS_DINODE_FMT_DEV 0
#define XFS_DINODE_FMT_LOCAL 1
#define XFS_DINODE_FMT_EXTENTS 2
#define XFS_DINODE_FMT_BTREE 3
#define XFS_DIFLAG_REALTIME 0x1u
#define XFS_DIFLAG2_NREXT64 (1ull << 4)
#define XFS_DINODE_V3_CORE 176
#define XFS_SBLOCK_HDR 56  /* v5 short-form (AG) btree block header */
#define XFS_LBLOCK_HDR 72  /* v5 long-form (bmbt) btree block header */
#define XFS_DIR3_DATA_HDR 64
#define XFS_SYMLINK_HDR 56
#define XFS_SYMLINK_MAXLEN 1024
#define XFS_REFC_COWFLAG (1u << 31)
#define XAL_XFS_MAXLEVELS 12
#define XFS_DIR2_LEAF_OFFSET (32ull << 30)
/* Inode chunks (or directory blocks) announced ahead of the one being read:
 * 64 x 32 KiB (512-byte inodes) keeps a virtio or NVMe queue busy while one
 * core parses, at most 8 MiB of page cache with 2 KiB inodes. */
#define XAL_XFS_AHEAD 64

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

struct xext {            /* a data-fork mapping, in file-system blocks */
	uint64_t off;        /* file block */
	uint64_t lin;        /* linear disk block: agno * agblocks + agbno */
	uint64_t len;
	uint32_t flags;
};

struct rcext {
	uint64_t lin;
	uint64_t len;
};

struct xfs_ctx {
	struct xal_build *b;
	const char *dev;
	int fd;
	uint64_t dev_size;
	/* superblock */
	uint32_t bs, sectsize, agblocks, agcount, isize, inopblock, dirbs;
	uint8_t blocklog, agblklog, inopblog, dirblklog;
	uint64_t dblocks, rootino;
	uint32_t incompat, ro_compat;
	bool ftype, spinodes, reflink;
	/* buffers */
	uint8_t *lvl[XAL_XFS_MAXLEVELS + 1];  /* one block per B+tree level */
	uint8_t *chunk;      /* 64 inodes */
	uint8_t *dbuf;       /* one directory block */
	/* extents of the inode being parsed */
	struct xext *tmp;
	size_t ntmp, captmp;
	uint64_t last_key;   /* B+tree walk: last record key, for the ordering check */
	bool have_key;
	/* shared ranges from the refcount B+trees, sorted */
	struct rcext *rc;
	size_t nrc, caprc;
	/* inode chunks to read */
	struct chunk_rec {
		uint32_t agno, startino;
		uint64_t alloc;  /* bit i: inode startino+i allocated */
	} *chunks;
	size_t nchunks, capchunks;
	uint64_t ninodes;
	uint32_t cur_agno;
	/* Directories in extents or B+tree format, read after every inode chunk so
	 * that their blocks can be read ahead too (reading them when their inode is
	 * parsed was one synchronous random read per block). */
	struct pdir {
		uint64_t ino;
		uint32_t idx;
		size_t ext0, next;    /* their mappings in dext */
		size_t item0, nitems; /* their directory blocks in ditems */
	} *pdirs;
	size_t npdirs, cappdirs;
	struct xext *dext;
	size_t ndext, capdext;
	struct ditem {
		uint64_t dblk, lin0;  /* directory block, linear disk block of its first fs block */
		bool contig;          /* all its fs blocks follow lin0: one read (else assembled) */
	} *ditems;
	size_t nditems, capditems;
};

#define CORRUPT(c, ...) xal_err((c)->b, -EUCLEAN, __VA_ARGS__)

/* Makes room for one more element of size el in *p (capacity *cap, count n). */
static int grow(void **p, size_t *cap, size_t n, size_t el)
{
	size_t nc;
	void *np;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : 256;
	np = realloc(*p, nc * el);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = nc;
	return 0;
}

static bool in_dev(const struct xfs_ctx *c, uint64_t off, size_t len)
{
	return off <= c->dev_size && len <= c->dev_size - off;
}

/*
 * Asks the kernel to start reading a range the parser will need soon. A cold
 * index is bound by device round trips: one pread at a time left the device
 * idle while the parser worked and kept one request in flight; with the next
 * XAL_XFS_AHEAD ranges announced, the device works ahead of the parser and the
 * pread that follows finds the pages read or in flight. Only a hint: a range
 * outside the device is not announced (rd reports it), a failure costs speed.
 */
static void willneed(const struct xfs_ctx *c, uint64_t off, size_t len)
{
	if (in_dev(c, off, len))
		(void)posix_fadvise(c->fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
}

static int rd(struct xfs_ctx *c, uint64_t off, void *buf, size_t len, const char *what)
{
	size_t done = 0;

	if (!in_dev(c, off, len))
		return xal_err(c->b, -EUCLEAN, "%s at byte %llu (+%zu) is beyond the end of the device (%llu bytes)",
			       what, (unsigned long long)off, len, (unsigned long long)c->dev_size);
	while (done < len) {
		ssize_t n = pread(c->fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return xal_err(c->b, -errno, "reading %s at byte %llu: %s", what, (unsigned long long)off,
				       strerror(errno));
		}
		if (n == 0)
			return xal_err(c->b, -EIO, "short read of %s at byte %llu", what, (unsigned long long)off);
		done += (size_t)n;
	}
	return 0;
}

static uint64_t ag_byte(const struct xfs_ctx *c, uint32_t agno, uint64_t agbno)
{
	return ((uint64_t)agno * c->agblocks + agbno) * c->bs;
}

/* fsblock (agno << agblklog | agbno) -> linear block; -EUCLEAN when outside the file system. */
static int fsb_to_lin(const struct xfs_ctx *c, uint64_t fsb, uint64_t len, uint64_t *lin)
{
	uint64_t agno = fsb >> c->agblklog, agbno = fsb & ((1ull << c->agblklog) - 1);

	if (agno >= c->agcount || agbno >= c->agblocks || len > c->agblocks - agbno)
		return -EUCLEAN;
	*lin = agno * c->agblocks + agbno;
	if (*lin + len > c->dblocks)
		return -EUCLEAN;
	return 0;
}

static int read_sb(struct xfs_ctx *c)
{
	uint8_t sb[512];
	uint32_t ver;
	int err;

	if ((err = rd(c, 0, sb, sizeof(sb), "superblock")))
		return err;
	if (be32(sb) != XFS_SB_MAGIC)
		return xal_err(c->b, -EMEDIUMTYPE, "not an XFS file system (superblock magic 0x%08x)", be32(sb));
	ver = be16(sb + 100) & 0xf;
	if (ver != 5)
		return xal_err(c->b, -EOPNOTSUPP, "XFS version %u file system; only v5 (CRC-enabled) is supported",
			       ver);
	c->bs = be32(sb + 4);
	c->dblocks = be64(sb + 8);
	c->rootino = be64(sb + 56);
	c->agblocks = be32(sb + 84);
	c->agcount = be32(sb + 88);
	c->sectsize = be16(sb + 102);
	c->isize = be16(sb + 104);
	c->inopblock = be16(sb + 106);
	c->blocklog = sb[120];
	c->inopblog = sb[123];
	c->agblklog = sb[124];
	c->dirblklog = sb[192];
	c->ro_compat = be32(sb + 212);
	c->incompat = be32(sb + 216);
	if (c->blocklog < 9 || c->blocklog > 16 || c->bs != 1u << c->blocklog)
		return CORRUPT(c, "superblock: block size %u, log %u", c->bs, c->blocklog);
	if (c->sectsize < 512 || c->sectsize > c->bs || (c->sectsize & (c->sectsize - 1)))
		return CORRUPT(c, "superblock: sector size %u", c->sectsize);
	if (c->isize < 512 || c->isize > 2048 || (c->isize & (c->isize - 1)) || c->isize > c->bs ||
	    c->inopblock != c->bs / c->isize || c->inopblog > 7 || (1u << c->inopblog) != c->inopblock)
		return CORRUPT(c, "superblock: inode size %u, %u per block (log %u)", c->isize, c->inopblock,
			       c->inopblog);
	if (!c->agcount || c->agblocks < 8 || c->agblklog > 31 || (1ull << c->agblklog) < c->agblocks ||
	    (c->agblklog && (1ull << (c->agblklog - 1)) >= c->agblocks))
		return CORRUPT(c, "superblock: %u AGs of %u blocks (log %u)", c->agcount, c->agblocks, c->agblklog);
	if (c->dblocks > (uint64_t)c->agcount * c->agblocks || c->dblocks <= (uint64_t)(c->agcount - 1) * c->agblocks)
		return CORRUPT(c, "superblock: %llu blocks do not fit %u AGs of %u", (unsigned long long)c->dblocks,
			       c->agcount, c->agblocks);
	if (c->dirblklog + c->blocklog > 16)
		return CORRUPT(c, "superblock: directory block log %u", c->dirblklog);
	if (c->incompat & XFS_SB_FEAT_INCOMPAT_NEEDSREPAIR)
		return xal_err(c->b, -EUCLEAN, "the file system needs xfs_repair");
	if (c->incompat & ~XFS_SB_FEAT_INCOMPAT_KNOWN)
		return xal_err(c->b, -EOPNOTSUPP, "unknown incompatible XFS features 0x%x",
			       c->incompat & ~XFS_SB_FEAT_INCOMPAT_KNOWN);
	if (c->dblocks * c->bs > c->dev_size)
		return xal_err(c->b, -EUCLEAN, "truncated: the superblock says %llu bytes, the device has %llu",
			       (unsigned long long)(c->dblocks * c->bs), (unsigned long long)c->dev_size);
	c->dirbs = c->bs << c->dirblklog;
	c->ftype = c->incompat & XFS_SB_FEAT_INCOMPAT_FTYPE;
	c->spinodes = c->incompat & XFS_SB_FEAT_INCOMPAT_SPINODES;
	c->reflink = c->ro_compat & XFS_SB_FEAT_RO_COMPAT_REFLINK;
	return 0;
}

/* ---- short-form (AG) B+trees: inode btree and refcount btree ---- */

typedef int (*sbt_rec_cb)(struct xfs_ctx *c, uint32_t agno, uint32_t agbno, const uint8_t *rec);

struct sbt {
	const char *name;
	uint32_t magic;
	size_t recsize, keysize;
	sbt_rec_cb cb;
};

static int sbt_walk(struct xfs_ctx *c, const struct sbt *t, uint32_t agno, uint32_t agbno, uint32_t level,
		    bool root)
{
	uint8_t *blk = c->lvl[level];
	uint32_t nrecs, maxrecs;
	int err;

	if (agbno == 0 || agbno >= c->agblocks)
		return CORRUPT(c, "AG %u %s: block pointer %u out of range", agno, t->name, agbno);
	if ((err = rd(c, ag_byte(c, agno, agbno), blk, c->bs, t->name)))
		return err;
	if (be32(blk) != t->magic)
		return CORRUPT(c, "AG %u %s block %u: bad magic 0x%08x", agno, t->name, agbno, be32(blk));
	if (be16(blk + 4) != level)
		return CORRUPT(c, "AG %u %s block %u: level %u, expected %u", agno, t->name, agbno, be16(blk + 4),
			       level);
	if (be32(blk + 48) != agno)
		return CORRUPT(c, "AG %u %s block %u: owner AG %u", agno, t->name, agbno, be32(blk + 48));
	nrecs = be16(blk + 6);
	maxrecs = (c->bs - XFS_SBLOCK_HDR) / (level ? t->keysize + 4 : t->recsize);
	if (nrecs > maxrecs || (!nrecs && !root))
		return CORRUPT(c, "AG %u %s block %u: %u records (at most %u)", agno, t->name, agbno, nrecs, maxrecs);
	if (!level) {
		for (uint32_t i = 0; i < nrecs; i++)
			if ((err = t->cb(c, agno, agbno, blk + XFS_SBLOCK_HDR + i * t->recsize)))
				return err;
		return 0;
	}
	for (uint32_t i = 0; i < nrecs; i++) {
		/* Child pointers live after maxrecs keys; the block buffer of this level stays valid. */
		uint32_t ptr = be32(blk + XFS_SBLOCK_HDR + maxrecs * t->keysize + i * 4);

		if ((err = sbt_walk(c, t, agno, ptr, level - 1, false)))
			return err;
	}
	return 0;
}

static int inobt_rec(struct xfs_ctx *c, uint32_t agno, uint32_t agbno, const uint8_t *r)
{
	uint32_t startino = be32(r);
	uint16_t holemask = c->spinodes ? be16(r + 4) : 0;
	uint64_t freemask = be64(r + 8);
	uint64_t alloc = ~freemask;
	struct chunk_rec *cr;

	if ((startino & 63) || (startino >> c->inopblog) >= c->agblocks ||
	    (c->have_key && startino <= c->last_key))
		return CORRUPT(c, "AG %u inobt block %u: record start inode %u out of order or range", agno, agbno,
			       startino);
	c->have_key = true;
	c->last_key = startino;
	for (int i = 0; i < 16; i++)
		if (holemask & (1u << i))
			alloc &= ~(0xfull << (4 * i));
	if (!alloc)
		return 0;
	if (c->nchunks == c->capchunks) {
		size_t n = c->capchunks ? c->capchunks * 2 : 256;
		struct chunk_rec *np = realloc(c->chunks, n * sizeof(*np));

		if (!np)
			return -ENOMEM;
		c->chunks = np;
		c->capchunks = n;
	}
	cr = &c->chunks[c->nchunks++];
	cr->agno = agno;
	cr->startino = startino;
	cr->alloc = alloc;
	c->ninodes += (uint64_t)__builtin_popcountll(alloc);
	return 0;
}

static int refc_rec(struct xfs_ctx *c, uint32_t agno, uint32_t agbno, const uint8_t *r)
{
	uint32_t start = be32(r), len = be32(r + 4), refs = be32(r + 8);

	if (start & XFS_REFC_COWFLAG)
		return 0;  /* CoW staging extents: not shared data */
	if (!len || start >= c->agblocks || len > c->agblocks - start ||
	    (c->have_key && start < c->last_key))
		return CORRUPT(c, "AG %u refcount block %u: record %u+%u out of order or range", agno, agbno, start,
			       len);
	c->have_key = true;
	c->last_key = (uint64_t)start + len;
	if (refs < 2)
		return 0;
	if (c->nrc == c->caprc) {
		size_t n = c->caprc ? c->caprc * 2 : 256;
		struct rcext *np = realloc(c->rc, n * sizeof(*np));

		if (!np)
			return -ENOMEM;
		c->rc = np;
		c->caprc = n;
	}
	c->rc[c->nrc].lin = (uint64_t)agno * c->agblocks + start;
	c->rc[c->nrc].len = len;
	c->nrc++;
	return 0;
}

static const struct sbt inobt = { "inobt", XFS_IBT_CRC_MAGIC, 16, 4, inobt_rec };
static const struct sbt refcbt = { "refcountbt", XFS_REFC_CRC_MAGIC, 12, 4, refc_rec };

static int read_ag(struct xfs_ctx *c, uint32_t agno)
{
	uint8_t h[512];
	uint32_t root, level, len;
	int err;

	/* AGI: sector 2 of the AG */
	if ((err = rd(c, ag_byte(c, agno, 0) + 2ull * c->sectsize, h, sizeof(h), "AGI")))
		return err;
	if (be32(h) != XFS_AGI_MAGIC || be32(h + 8) != agno)
		return CORRUPT(c, "AG %u AGI (byte %llu): bad magic 0x%08x or sequence %u", agno,
			       (unsigned long long)(ag_byte(c, agno, 0) + 2ull * c->sectsize), be32(h), be32(h + 8));
	len = be32(h + 12);
	root = be32(h + 20);
	level = be32(h + 24);
	if (len > c->agblocks || level < 1 || level > XAL_XFS_MAXLEVELS)
		return CORRUPT(c, "AG %u AGI: length %u, inobt level %u", agno, len, level);
	c->have_key = false;
	if ((err = sbt_walk(c, &inobt, agno, root, level - 1, true)))
		return err;
	if (!c->reflink)
		return 0;
	/* AGF: sector 1 of the AG */
	if ((err = rd(c, ag_byte(c, agno, 0) + c->sectsize, h, sizeof(h), "AGF")))
		return err;
	if (be32(h) != XFS_AGF_MAGIC || be32(h + 8) != agno)
		return CORRUPT(c, "AG %u AGF: bad magic 0x%08x or sequence %u", agno, be32(h), be32(h + 8));
	root = be32(h + 88);
	level = be32(h + 92);
	if (level < 1 || level > XAL_XFS_MAXLEVELS)
		return CORRUPT(c, "AG %u AGF: refcount level %u", agno, level);
	c->have_key = false;
	return sbt_walk(c, &refcbt, agno, root, level - 1, true);
}

/* ---- data forks ---- */

static int tmp_add(struct xfs_ctx *c, uint64_t ino, const uint8_t *rec)
{
	uint64_t l0 = be64(rec), l1 = be64(rec + 8);
	uint64_t off = (l0 & ((1ull << 63) - 1)) >> 9;
	uint64_t fsb = ((l0 & 0x1ff) << 43) | (l1 >> 21);
	uint64_t len = l1 & ((1ull << 21) - 1);
	struct xext *e;

	if (!len || fsb_to_lin(c, fsb, len, &(uint64_t){ 0 }))
		return CORRUPT(c, "inode %llu: extent at file block %llu: disk block %llu+%llu out of range",
			       (unsigned long long)ino, (unsigned long long)off, (unsigned long long)fsb,
			       (unsigned long long)len);
	if (c->ntmp && off < c->tmp[c->ntmp - 1].off + c->tmp[c->ntmp - 1].len)
		return CORRUPT(c, "inode %llu: extent at file block %llu overlaps or is out of order",
			       (unsigned long long)ino, (unsigned long long)off);
	if (c->ntmp == c->captmp) {
		size_t n = c->captmp ? c->captmp * 2 : 64;
		struct xext *np = realloc(c->tmp, n * sizeof(*np));

		if (!np)
			return -ENOMEM;
		c->tmp = np;
		c->captmp = n;
	}
	e = &c->tmp[c->ntmp++];
	e->off = off;
	fsb_to_lin(c, fsb, len, &e->lin);
	e->len = len;
	e->flags = (l0 >> 63) ? XAL_EXT_UNWRITTEN : 0;
	return 0;
}

static int bmbt_walk(struct xfs_ctx *c, uint64_t ino, uint64_t fsb, uint32_t level)
{
	uint8_t *blk = c->lvl[level];
	uint32_t nrecs, maxrecs;
	uint64_t lin;
	int err;

	if (fsb_to_lin(c, fsb, 1, &lin))
		return CORRUPT(c, "inode %llu bmbt: block pointer %llu out of range", (unsigned long long)ino,
			       (unsigned long long)fsb);
	if ((err = rd(c, lin * c->bs, blk, c->bs, "bmbt block")))
		return err;
	if (be32(blk) != XFS_BMAP_CRC_MAGIC || be16(blk + 4) != level || be64(blk + 56) != ino)
		return CORRUPT(c, "inode %llu bmbt block %llu: magic 0x%08x level %u owner %llu, expected level %u",
			       (unsigned long long)ino, (unsigned long long)lin, be32(blk), be16(blk + 4),
			       (unsigned long long)be64(blk + 56), level);
	nrecs = be16(blk + 6);
	maxrecs = (c->bs - XFS_LBLOCK_HDR) / 16;
	if (!nrecs || nrecs > maxrecs)
		return CORRUPT(c, "inode %llu bmbt block %llu: %u records", (unsigned long long)ino,
			       (unsigned long long)lin, nrecs);
	for (uint32_t i = 0; i < nrecs; i++) {
		if (!level)
			err = tmp_add(c, ino, blk + XFS_LBLOCK_HDR + i * 16);
		else
			err = bmbt_walk(c, ino, be64(blk + XFS_LBLOCK_HDR + maxrecs * 8 + i * 8), level - 1);
		if (err)
			return err;
	}
	return 0;
}

/* Fills c->tmp with the data fork mappings of an inode in extents or B+tree format. */
static int read_fork(struct xfs_ctx *c, uint64_t ino, int fmt, const uint8_t *fork, size_t fsize, uint64_t nextents)
{
	c->ntmp = 0;
	if (fmt == XFS_DINODE_FMT_EXTENTS) {
		if (nextents > fsize / 16)
			return CORRUPT(c, "inode %llu: %llu extents do not fit the %zu-byte data fork",
				       (unsigned long long)ino, (unsigned long long)nextents, fsize);
		for (uint64_t i = 0; i < nextents; i++) {
			int err = tmp_add(c, ino, fork + i * 16);

			if (err)
				return err;
		}
		return 0;
	}
	if (fmt == XFS_DINODE_FMT_BTREE) {
		uint32_t level = be16(fork), nrecs = be16(fork + 2);
		uint32_t maxrecs = fsize < 4 ? 0 : (uint32_t)((fsize - 4) / 16);

		if (level < 1 || level > XAL_XFS_MAXLEVELS - 1 || !nrecs || nrecs > maxrecs)
			return CORRUPT(c, "inode %llu: bmbt root level %u with %u records", (unsigned long long)ino,
				       level, nrecs);
		for (uint32_t i = 0; i < nrecs; i++) {
			int err = bmbt_walk(c, ino, be64(fork + 4 + maxrecs * 8 + i * 8), level - 1);

			if (err)
				return err;
		}
		if (c->ntmp != nextents)
			return CORRUPT(c, "inode %llu: bmbt holds %zu extents, the inode says %llu",
				       (unsigned long long)ino, c->ntmp, (unsigned long long)nextents);
		return 0;
	}
	return CORRUPT(c, "inode %llu: data fork format %d", (unsigned long long)ino, fmt);
}

/* Copies c->tmp into the pool, split where refcount records say blocks are shared. */
static int emit_file_extents(struct xfs_ctx *c, uint32_t idx, bool realtime)
{
	struct xal_build *b = c->b;
	uint64_t first = b->n_exts;
	int err;

	for (size_t i = 0; i < c->ntmp; i++) {
		const struct xext *e = &c->tmp[i];
		uint64_t p = e->lin, end = e->lin + e->len;
		size_t lo = 0, hi = c->nrc;

		if (realtime) {
			/* Realtime extents are on the realtime device, not this one. */
			if ((err = xal_build_extent_blocks(b, e->off, 0, e->len, e->flags | XAL_EXT_UNKNOWN)))
				return err;
			continue;
		}
		/* first shared range ending after p */
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (c->rc[mid].lin + c->rc[mid].len <= p)
				lo = mid + 1;
			else
				hi = mid;
		}
		while (p < end) {
			uint64_t q, fl = e->flags;

			if (lo < c->nrc && c->rc[lo].lin <= p) {
				q = c->rc[lo].lin + c->rc[lo].len;
				fl |= XAL_EXT_SHARED;
				lo++;
			} else {
				q = lo < c->nrc ? c->rc[lo].lin : end;
			}
			if (q > end)
				q = end;
			if ((err = xal_build_extent_blocks(b, e->off + (p - e->lin), p, q - p, (uint32_t)fl)))
				return err;
			p = q;
		}
	}
	b->inodes[idx].first = (uint32_t)first;
	b->inodes[idx].count = (uint32_t)(b->n_exts - first);
	return 0;
}

/* ---- directories ---- */

static int sf_dir(struct xfs_ctx *c, uint64_t ino, uint32_t idx, const uint8_t *fork, size_t fsize, uint64_t size)
{
	uint64_t first = c->b->n_dents;
	size_t pos, count, i8;
	int err;

	if (size > fsize || size < 6)
		return CORRUPT(c, "inode %llu: shortform directory of %llu bytes in a %zu-byte fork",
			       (unsigned long long)ino, (unsigned long long)size, fsize);
	count = fork[0];
	i8 = fork[1] ? 8 : 4;  /* any 8-byte inode number makes them all 8 bytes */
	pos = 2 + i8;
	for (size_t n = 0; n < count; n++) {
		size_t nl;
		uint64_t cino;

		if (pos + 3 > size)
			goto bad;
		nl = fork[pos];
		if (!nl || pos + 3 + nl + (c->ftype ? 1 : 0) + i8 > size)
			goto bad;
		cino = i8 == 8 ? be64(fork + pos + 3 + nl + (c->ftype ? 1 : 0))
			       : be32(fork + pos + 3 + nl + (c->ftype ? 1 : 0));
		if ((err = xal_build_dent(c->b, (const char *)fork + pos + 3, nl, cino)))
			return err;
		pos += 3 + nl + (c->ftype ? 1 : 0) + i8;
	}
	if ((err = xal_build_dir_done(c->b, idx, first)))
		return CORRUPT(c, "inode %llu: shortform directory holds a name twice", (unsigned long long)ino);
	return 0;
bad:
	return CORRUPT(c, "inode %llu: shortform directory entry runs past its %llu bytes", (unsigned long long)ino,
		       (unsigned long long)size);
}

static int dir_data_block(struct xfs_ctx *c, uint64_t ino, uint64_t dblk, const uint8_t *d)
{
	uint32_t magic = be32(d);
	size_t end = c->dirbs, pos = XFS_DIR3_DATA_HDR;
	int err;

	if (magic == XFS_DIR3_BLOCK_MAGIC) {
		uint32_t count = be32(d + c->dirbs - 8);

		if ((uint64_t)count * 8 + 8 + XFS_DIR3_DATA_HDR > c->dirbs)
			return CORRUPT(c, "directory inode %llu block %llu: %u leaf entries do not fit",
				       (unsigned long long)ino, (unsigned long long)dblk, count);
		end = c->dirbs - 8 - (size_t)count * 8;
	} else if (magic != XFS_DIR3_DATA_MAGIC) {
		return CORRUPT(c, "directory inode %llu block %llu: bad magic 0x%08x", (unsigned long long)ino,
			       (unsigned long long)dblk, magic);
	}
	if (be64(d + 40) != ino)
		return CORRUPT(c, "directory inode %llu block %llu: owner %llu", (unsigned long long)ino,
			       (unsigned long long)dblk, (unsigned long long)be64(d + 40));
	while (pos < end) {
		size_t len, nl;

		if (end - pos < 8)
			goto bad;
		if (be16(d + pos) == 0xffff) {
			len = be16(d + pos + 2);
			if (len < 8 || (len & 7) || len > end - pos)
				goto bad;
			pos += len;
			continue;
		}
		if (end - pos < 16)
			goto bad;
		nl = d[pos + 8];
		len = (8 + 1 + nl + (c->ftype ? 1 : 0) + 2 + 7) & ~(size_t)7;
		if (!nl || len > end - pos)
			goto bad;
		if (!(nl == 1 && d[pos + 9] == '.') && !(nl == 2 && d[pos + 9] == '.' && d[pos + 10] == '.'))
			if ((err = xal_build_dent(c->b, (const char *)d + pos + 9, nl, be64(d + pos))))
				return err;
		pos += len;
	}
	return 0;
bad:
	return CORRUPT(c, "directory inode %llu block %llu: entry at byte %zu runs past the block",
		       (unsigned long long)ino, (unsigned long long)dblk, pos);
}

/* Linear disk block of file block fblk through the n mappings m, or -ENOENT for a hole. */
static int map_block(const struct xext *m, size_t n, uint64_t fblk, uint64_t *lin)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct xext *e = &m[mid];

		if (fblk < e->off)
			hi = mid;
		else if (fblk >= e->off + e->len)
			lo = mid + 1;
		else {
			*lin = e->lin + (fblk - e->off);
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * A directory in extents or B+tree format (mappings in c->tmp): records its data
 * blocks (below the leaf offset) for read_dirs. Holes inside a directory block
 * are refused here, while its inode is parsed, as before the reads were deferred.
 */
static int defer_dir(struct xfs_ctx *c, uint64_t ino, uint32_t idx)
{
	uint64_t leaf_fblk = XFS_DIR2_LEAF_OFFSET >> c->blocklog;
	uint32_t per = 1u << c->dirblklog;
	uint64_t last_done = UINT64_MAX;
	struct pdir *pd;
	int err;

	if ((err = grow((void **)&c->pdirs, &c->cappdirs, c->npdirs, sizeof(*c->pdirs))))
		return err;
	pd = &c->pdirs[c->npdirs];
	pd->ino = ino;
	pd->idx = idx;
	pd->ext0 = c->ndext;
	pd->next = c->ntmp;
	pd->item0 = c->nditems;
	for (size_t i = 0; i < c->ntmp; i++) {
		if ((err = grow((void **)&c->dext, &c->capdext, c->ndext, sizeof(*c->dext))))
			return err;
		c->dext[c->ndext++] = c->tmp[i];
	}
	for (size_t i = 0; i < c->ntmp; i++) {
		const struct xext *e = &c->tmp[i];

		for (uint64_t f = e->off & ~(uint64_t)(per - 1); f < e->off + e->len && f < leaf_fblk; f += per) {
			uint64_t dblk = f >> c->dirblklog, lin, lin0;
			bool contig = true;

			if (dblk == last_done)
				continue;
			last_done = dblk;
			if (map_block(c->tmp, c->ntmp, f, &lin0))
				return CORRUPT(c, "directory inode %llu: directory block %llu is partly a hole",
					       (unsigned long long)ino, (unsigned long long)dblk);
			for (uint32_t k = 1; k < per; k++) {
				if (map_block(c->tmp, c->ntmp, f + k, &lin))
					return CORRUPT(c, "directory inode %llu: directory block %llu is partly a hole",
						       (unsigned long long)ino, (unsigned long long)dblk);
				if (lin != lin0 + k)
					contig = false;
			}
			if ((err = grow((void **)&c->ditems, &c->capditems, c->nditems, sizeof(*c->ditems))))
				return err;
			c->ditems[c->nditems].dblk = dblk;
			c->ditems[c->nditems].lin0 = lin0;
			c->ditems[c->nditems].contig = contig;
			c->nditems++;
		}
	}
	pd->nitems = c->nditems - pd->item0;
	c->npdirs++;
	return 0;
}

/* Reads and parses the blocks of every deferred directory, in the order they were found. */
static int read_dirs(struct xfs_ctx *c)
{
	size_t ahead = 0;  /* next directory block to announce */
	int err;

	for (size_t p = 0; p < c->npdirs; p++) {
		const struct pdir *pd = &c->pdirs[p];
		uint64_t first = c->b->n_dents;

		for (size_t i = pd->item0; i < pd->item0 + pd->nitems; i++) {
			const struct ditem *it = &c->ditems[i];

			/* Blocks assembled from scattered fs blocks are rare: not announced. */
			for (; ahead < c->nditems && ahead < i + XAL_XFS_AHEAD; ahead++)
				if (c->ditems[ahead].contig)
					willneed(c, c->ditems[ahead].lin0 * c->bs, c->dirbs);
			if (it->contig) {
				err = rd(c, it->lin0 * c->bs, c->dbuf, c->dirbs, "directory block");
			} else {
				/* Assembled from its fs blocks, each read where the block map says. */
				uint64_t f = it->dblk << c->dirblklog, lin;

				err = 0;
				for (uint32_t k = 0; k < (1u << c->dirblklog) && !err; k++) {
					if (map_block(c->dext + pd->ext0, pd->next, f + k, &lin))
						return CORRUPT(
							c,
							"directory inode %llu: directory block %llu is partly a hole",
							(unsigned long long)pd->ino, (unsigned long long)it->dblk);
					err = rd(c, lin * c->bs, c->dbuf + (size_t)k * c->bs, c->bs, "directory block");
				}
			}
			if (err)
				return err;
			if ((err = dir_data_block(c, pd->ino, it->lin0, c->dbuf)))
				return err;
		}
		if ((err = xal_build_dir_done(c->b, pd->idx, first)))
			return CORRUPT(c, "directory inode %llu holds a name twice", (unsigned long long)pd->ino);
	}
	return 0;
}

static int remote_symlink(struct xfs_ctx *c, uint64_t ino, uint32_t idx, uint64_t size)
{
	char target[XFS_SYMLINK_MAXLEN];
	size_t got = 0;
	int err;

	for (size_t i = 0; i < c->ntmp && got < size; i++) {
		for (uint64_t k = 0; k < c->tmp[i].len && got < size; k++) {
			uint64_t lin = c->tmp[i].lin + k;
			uint32_t n;

			if ((err = rd(c, lin * c->bs, c->dbuf, c->bs, "symlink block")))
				return err;
			n = be32(c->dbuf + 8);
			if (be32(c->dbuf) != XFS_SYMLINK_MAGIC || n > c->bs - XFS_SYMLINK_HDR || n > size - got ||
			    be64(c->dbuf + 32) != ino)
				return CORRUPT(c, "symlink inode %llu block %llu: bad header", (unsigned long long)ino,
					       (unsigned long long)lin);
			memcpy(target + got, c->dbuf + XFS_SYMLINK_HDR, n);
			got += n;
		}
	}
	if (got != size)
		return CORRUPT(c, "symlink inode %llu: %zu of %llu target bytes found", (unsigned long long)ino, got,
			       (unsigned long long)size);
	return xal_build_symlink(c->b, idx, target, got);
}

static int parse_inode(struct xfs_ctx *c, uint64_t ino, const uint8_t *d)
{
	uint16_t mode = be16(d + 2);
	int fmt = d[5];
	uint32_t nlink = be32(d + 16);
	uint64_t size = be64(d + 56);
	uint64_t flags2 = be64(d + 120);
	uint16_t diflags = be16(d + 90);
	uint32_t forkoff = d[82];
	size_t lit = c->isize - XFS_DINODE_V3_CORE, fsize;
	const uint8_t *fork = d + XFS_DINODE_V3_CORE;
	uint64_t nextents;
	enum xal_type type;
	uint32_t idx;
	int err;

	if (be16(d) != XFS_DINODE_MAGIC || d[4] != 3 || be64(d + 152) != ino)
		return CORRUPT(c, "inode %llu: bad magic 0x%04x, version %u or number %llu", (unsigned long long)ino,
			       be16(d), d[4], (unsigned long long)be64(d + 152));
	if (forkoff * 8u > lit)
		return CORRUPT(c, "inode %llu: fork offset %u beyond the literal area", (unsigned long long)ino,
			       forkoff);
	fsize = forkoff ? forkoff * 8u : lit;
	nextents = (flags2 & XFS_DIFLAG2_NREXT64) ? be64(d + 24) : be32(d + 76);
	type = xal_type_from_mode(mode);
	err = xal_build_inode(c->b, ino, type, size, nlink, &idx);
	if (err < 0)
		return err;
	if (err == 0)
		return CORRUPT(c, "inode %llu indexed twice", (unsigned long long)ino);
	if (ino == c->rootino) {
		c->b->root = idx;
		c->b->root_ino = ino;
	}
	switch (type) {
	case XAL_TYPE_REG:
		if ((err = read_fork(c, ino, fmt, fork, fsize, nextents)))
			return err;
		return emit_file_extents(c, idx, diflags & XFS_DIFLAG_REALTIME);
	case XAL_TYPE_DIR:
		if (fmt == XFS_DINODE_FMT_LOCAL)
			return sf_dir(c, ino, idx, fork, fsize, size);
		if ((err = read_fork(c, ino, fmt, fork, fsize, nextents)))
			return err;
		return defer_dir(c, ino, idx);
	case XAL_TYPE_LNK:
		if (size > XFS_SYMLINK_MAXLEN)
			return CORRUPT(c, "symlink inode %llu: %llu-byte target", (unsigned long long)ino,
				       (unsigned long long)size);
		if (fmt == XFS_DINODE_FMT_LOCAL) {
			if (size > fsize)
				return CORRUPT(c, "symlink inode %llu: %llu-byte target in a %zu-byte fork",
					       (unsigned long long)ino, (unsigned long long)size, fsize);
			return xal_build_symlink(c->b, idx, (const char *)fork, size);
		}
		if ((err = read_fork(c, ino, fmt, fork, fsize, nextents)))
			return err;
		return remote_symlink(c, ino, idx, size);
	default:
		/* Devices, FIFOs, sockets and unknown modes are indexed as such; no data fork to read. */
		return 0;
	}
}

/* Byte range of the allocated inodes of chunk record cr: 0, or 1 when the chunk runs past its AG. */
static int chunk_span(const struct xfs_ctx *c, const struct chunk_rec *cr, uint64_t *off, size_t *len)
{
	size_t clen = 64 * (size_t)c->isize;
	uint64_t agbno = cr->startino >> c->inopblog;
	int first = __builtin_ctzll(cr->alloc), last = 63 - __builtin_clzll(cr->alloc);

	if (agbno + (clen + c->bs - 1) / c->bs > c->agblocks)
		return 1;
	/* Only the span of allocated inodes: sparse chunks may have unallocated holes. */
	*off = ag_byte(c, cr->agno, agbno) + (uint64_t)(cr->startino & (c->inopblock - 1)) * c->isize +
	       (uint64_t)first * c->isize;
	*len = (size_t)(last - first + 1) * c->isize;
	return 0;
}

/*
 * Parses every allocated inode, chunk by chunk in inode B+tree order (which is
 * disk order within an AG), announcing the next XAL_XFS_AHEAD chunks to the
 * kernel before each read.
 */
static int read_chunks(struct xfs_ctx *c)
{
	size_t ahead = 0;  /* next chunk to announce */

	for (size_t i = 0; i < c->nchunks; i++) {
		const struct chunk_rec *cr = &c->chunks[i];
		int first = __builtin_ctzll(cr->alloc), last = 63 - __builtin_clzll(cr->alloc);
		uint64_t off;
		size_t len;
		int err;

		for (; ahead < c->nchunks && ahead < i + XAL_XFS_AHEAD; ahead++)
			if (!chunk_span(c, &c->chunks[ahead], &off, &len))
				willneed(c, off, len);
		if (chunk_span(c, cr, &off, &len))
			return CORRUPT(c, "AG %u: inode chunk at agino %u runs past the AG", cr->agno, cr->startino);
		if ((err = rd(c, off, c->chunk, len, "inode chunk")))
			return err;
		for (int k = first; k <= last; k++) {
			uint64_t ino;

			if (!(cr->alloc & (1ull << k)))
				continue;
			ino = ((uint64_t)cr->agno << (c->agblklog + c->inopblog)) | (cr->startino + (uint32_t)k);
			if ((err = parse_inode(c, ino, c->chunk + (size_t)(k - first) * c->isize)))
				return err;
		}
	}
	return 0;
}

int xal_xfs_index(struct xal_build *b, const char *dev, struct xal_hdr *hdr)
{
	struct xfs_ctx c;
	struct stat st;
	int err;

	memset(&c, 0, sizeof(c));
	c.b = b;
	c.dev = dev;
	c.fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (c.fd < 0)
		return xal_err(b, -errno, "%s", strerror(errno));
	if (fstat(c.fd, &st)) {
		err = -errno;
		goto out;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(c.fd, BLKGETSIZE64, &c.dev_size)) {
			err = -errno;
			goto out;
		}
		hdr->part_offset = xal_part_offset(st.st_rdev);
	} else {
		c.dev_size = (uint64_t)st.st_size;
		hdr->part_offset = 0;
	}
	if ((err = read_sb(&c)))
		goto out;
	b->block_size = c.bs;
	hdr->block_size = c.bs;
	snprintf(hdr->fstype, sizeof(hdr->fstype), "xfs");
	for (int i = 0; i <= XAL_XFS_MAXLEVELS; i++)
		if (!(c.lvl[i] = malloc(c.bs))) {
			err = -ENOMEM;
			goto out;
		}
	c.chunk = malloc(64 * (size_t)c.isize);
	c.dbuf = malloc(c.dirbs > c.bs ? c.dirbs : c.bs);
	if (!c.chunk || !c.dbuf) {
		err = -ENOMEM;
		goto out;
	}
	for (uint32_t ag = 0; ag < c.agcount; ag++)
		if ((err = read_ag(&c, ag)))
			goto out;
	/* Pools sized from the real counts: inodes from the inode B+trees, entries about one per inode. */
	{
		struct xal_build nb;

		if ((err = xal_build_init(&nb, c.ninodes, c.ninodes, c.ninodes)))
			goto out;
		nb.source = b->source;
		nb.logged = b->logged;
		nb.block_size = c.bs;
		xal_build_free(b);
		*b = nb;
	}
	err = read_chunks(&c);
	if (!err)
		err = read_dirs(&c);
	if (!err && b->root == UINT32_MAX)
		err = CORRUPT(&c, "root inode %llu is not allocated", (unsigned long long)c.rootino);
out:
	if (err)
		xal_err(b, err, "%s", strerror(-err));
	for (int i = 0; i <= XAL_XFS_MAXLEVELS; i++)
		free(c.lvl[i]);
	free(c.chunk);
	free(c.dbuf);
	free(c.pdirs);
	free(c.dext);
	free(c.ditems);
	free(c.tmp);
	free(c.rc);
	free(c.chunks);
	close(c.fd);
	return err;
}
