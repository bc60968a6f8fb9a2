/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * XFS on-disk backend (v5 file systems): reads the superblock, the log's head,
 * every AG's AGF, AGFL, free-space B+tree, AGI and inode B+tree, every
 * allocated inode, the data and attribute forks (extents or B+tree),
 * directories (shortform, block, leaf, node, B+tree: their data blocks all
 * live below the 32 GiB leaf offset, so one reader serves them all), remote
 * symlinks and the refcount B+trees (to flag shared extents).
 *
 * Nothing is trusted before it is checked, as the kernel's libxfs verifiers
 * check it: every metadata block's CRC32c, magic, UUID, owner, self address,
 * level, record count, key order and sibling pointers; every inode's mode,
 * size, fork formats, extent counts and block count; every extent's range
 * (inside the file system and its AG, no offset overflow, in order); every
 * directory entry's length, name, inode number and file type. Then the whole
 * tree: no block is claimed twice (files, metadata, free space, the log) unless
 * both claims are reflinked extents and the refcount B+tree says as many
 * owners as there are claims; link counts equal the names found. A log that
 * needs recovery is refused unless the caller says to ignore it.
 *
 * Any failure is -EUCLEAN with a message naming the structure, AG, block or
 * inode. B+tree walks cannot loop: every child must carry its parent's level
 * minus one and the records a walk returns must strictly increase.
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

#include "xal_internal.h"

#define XFS_SB_MAGIC 0x58465342u         /* XFSB */
#define XFS_AGI_MAGIC 0x58414749u        /* XAGI */
#define XFS_AGF_MAGIC 0x58414746u        /* XAGF */
#define XFS_AGFL_MAGIC 0x5841464cu       /* XAFL */
#define XFS_IBT_CRC_MAGIC 0x49414233u    /* IAB3 */
#define XFS_ABTB_CRC_MAGIC 0x41423342u   /* AB3B */
#define XFS_REFC_CRC_MAGIC 0x52334643u   /* R3FC */
#define XFS_BMAP_CRC_MAGIC 0x424d4133u   /* BMA3 */
#define XFS_DIR3_BLOCK_MAGIC 0x58444233u /* XDB3 */
#define XFS_DIR3_DATA_MAGIC 0x58444433u  /* XDD3 */
#define XFS_SYMLINK_MAGIC 0x58534c4du    /* XSLM */
#define XFS_DINODE_MAGIC 0x494eu         /* IN */
#define XLOG_HEADER_MAGIC 0xfeedbabeu

/* Where each structure keeps its CRC32c (little endian, computed with the field zero). */
#define XFS_SB_CRC_OFF 224
#define XFS_AGF_CRC_OFF 216
#define XFS_AGI_CRC_OFF 312
#define XFS_AGFL_CRC_OFF 32
#define XFS_DINODE_CRC_OFF 100
#define XFS_SBLOCK_CRC_OFF 52
#define XFS_LBLOCK_CRC_OFF 64
#define XFS_DIR3_CRC_OFF 4
#define XFS_SYMLINK_CRC_OFF 12

#define XFS_SB_VERSION_NUMBITS 0xf
#define XFS_SB_VERSION_BORGBIT 0x4000 /* ASCII case-insensitive names: another name hash */
#define XFS_SB_FEAT_INCOMPAT_FTYPE 0x1u
#define XFS_SB_FEAT_INCOMPAT_SPINODES 0x2u
#define XFS_SB_FEAT_INCOMPAT_META_UUID 0x4u
#define XFS_SB_FEAT_INCOMPAT_BIGTIME 0x8u
#define XFS_SB_FEAT_INCOMPAT_NEEDSREPAIR 0x10u
#define XFS_SB_FEAT_INCOMPAT_NREXT64 0x20u
#define XFS_SB_FEAT_INCOMPAT_EXCHRANGE 0x40u
#define XFS_SB_FEAT_INCOMPAT_PARENT 0x80u
#define XFS_SB_FEAT_INCOMPAT_KNOWN                                                                      \
	(XFS_SB_FEAT_INCOMPAT_FTYPE | XFS_SB_FEAT_INCOMPAT_SPINODES | XFS_SB_FEAT_INCOMPAT_META_UUID |  \
	 XFS_SB_FEAT_INCOMPAT_BIGTIME | XFS_SB_FEAT_INCOMPAT_NREXT64 | XFS_SB_FEAT_INCOMPAT_EXCHRANGE | \
	 XFS_SB_FEAT_INCOMPAT_PARENT)
#define XFS_SB_FEAT_RO_COMPAT_REFLINK 0x4u

#define XFS_DINODE_FMT_DEV 0
#define XFS_DINODE_FMT_LOCAL 1
#define XFS_DINODE_FMT_EXTENTS 2
#define XFS_DINODE_FMT_BTREE 3
#define XFS_DIFLAG_REALTIME 0x1u
#define XFS_DIFLAG2_NREXT64 (1ull << 4)
#define XFS_DINODE_V3_CORE 176
#define XFS_SBLOCK_HDR 56 /* v5 short-form (AG) btree block header */
#define XFS_LBLOCK_HDR 72 /* v5 long-form (bmbt) btree block header */
#define XFS_DIR3_DATA_HDR 64
#define XFS_DIR3_DATA_FIRST 96 /* after the header, "." and ".." */
#define XFS_DIR3_FT_MAX 8
#define XFS_AGFL_HDR 36
#define XFS_SYMLINK_HDR 56
#define XFS_SYMLINK_MAXLEN 1024
#define XFS_REFC_COWFLAG (1u << 31)
#define XFS_MAX_FILEOFF ((1ull << 54) - 1)
#define NULLAGBLOCK 0xffffffffu
#define NULLFSBLOCK UINT64_MAX
#define XAL_XFS_MAXLEVELS 12
#define XFS_DIR2_LEAF_OFFSET (32ull << 30)
/* Inode chunks (or directory blocks) announced ahead of the one being read:
 * 64 x 32 KiB (512-byte inodes) keeps a virtio or NVMe queue busy while one
 * core parses, at most 8 MiB of page cache with 2 KiB inodes. */
#define XAL_XFS_AHEAD 64

/* The log: 512-byte blocks, each starting with the cycle of the pass that wrote it. */
#define XLOG_BBSIZE 512
#define XLOG_UNMOUNT_TRANS 0x20
#define XLOG_HEADER_CYCLE_SIZE (32 * 1024)
#define XLOG_TOTAL_REC_BBLKS (8 * (256 * 1024) / XLOG_BBSIZE) /* 8 iclogs of at most 256 KiB in flight */
#define XLOG_READ_BBLKS 128                                   /* blocks read at a time when scanning */
#define XLOG_REC_BBLKS (256 * 1024 / XLOG_BBSIZE + 8)         /* one record and its headers */

/* Owners of metadata claims (xal_claim.owner), named by claim_name. */
enum {
	OWN_FREE = XAL_CLAIM_META,
	OWN_AGHDR,
	OWN_AGFL,
	OWN_LOG,
	OWN_BNOBT,
	OWN_INOBT,
	OWN_REFCBT,
	OWN_INODES,
	OWN_COW,
	OWN_SYSINODE,
};

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}
static inline uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

struct xext {         /* a fork mapping, in file-system blocks */
	uint64_t off; /* file block */
	uint64_t lin; /* linear disk block: agno * agblocks + agbno (realtime: rt block) */
	uint64_t len;
	uint32_t flags;
};

/* The mappings of one fork of the inode being parsed. */
struct fork {
	struct xext *v;
	size_t n, cap;
	uint64_t bt_blocks; /* bmbt blocks below the root in the inode */
	const char *name;   /* "data" or "attr", for messages */
};

struct rcext {
	uint64_t lin;
	uint64_t len;
	uint32_t refs;
};

/* Sibling pointers of a B+tree walk: the last block seen at each level and its right sibling. */
struct siblings {
	uint64_t last[XAL_XFS_MAXLEVELS + 1];
	uint64_t right[XAL_XFS_MAXLEVELS + 1];
	bool seen[XAL_XFS_MAXLEVELS + 1];
};

struct xfs_ctx {
	struct xal_build *b;
	const char *dev;
	int fd; /* -1 with a read function */
	xal_read_fn read;
	void *read_arg;
	uint64_t dev_size;
	uint32_t open_flags;
	/* superblock */
	uint32_t bs, sectsize, agblocks, agcount, isize, inopblock, dirbs, logblocks;
	uint8_t blocklog, agblklog, inopblog, dirblklog;
	uint64_t dblocks, rblocks, rootino, logstart;
	uint64_t sysino[5]; /* realtime bitmap and summary, quota inodes: no names */
	uint64_t sysino_max;
	uint32_t incompat, ro_compat;
	uint16_t versionnum;
	uint8_t uuid[16];      /* of the file system (log records) */
	uint8_t meta_uuid[16]; /* in every metadata block */
	bool ftype, spinodes, reflink, ascii_ci, nrext64;
	/* buffers */
	uint8_t *lvl[XAL_XFS_MAXLEVELS + 1]; /* one block per B+tree level */
	uint8_t *sect;                       /* one sector: AG headers */
	uint8_t *chunk;                      /* 64 inodes */
	uint8_t *dbuf;                       /* one directory block, or the blocks of a remote symlink */
	size_t dbuf_len;
	/* forks of the inode being parsed */
	struct fork dfork, afork;
	uint32_t cur_owner; /* claim owner of its blocks: its index, or OWN_SYSINODE */
	uint64_t last_key;  /* B+tree walk: last record key, for the ordering check */
	bool have_key;
	struct siblings sib;
	uint64_t ag_free, ag_longest; /* sums of the free-space B+tree walk */
	uint64_t ag_inodes, ag_ifree; /* sums of the inode B+tree walk */
	/* shared ranges from the refcount B+trees, sorted */
	struct rcext *rc;
	size_t nrc, caprc;
	/* blocks claimed by metadata and by what is no regular file; regular files' come from the pool */
	struct xal_claim *claims;
	size_t nclaims, capclaims;
	uint64_t last_chunk_claim;
	/* inode chunks to read */
	struct chunk_rec {
		uint32_t agno, startino;
		uint64_t alloc; /* bit i: inode startino+i allocated */
	} * chunks;
	size_t nchunks, capchunks;
	uint64_t ninodes;
	/* Directories in extents or B+tree format, read after every inode chunk so
	 * that their blocks can be read ahead too (reading them when their inode is
	 * parsed was one synchronous random read per block). */
	struct pdir {
		uint64_t ino;
		uint32_t idx;
		size_t ext0, next;    /* their mappings in dext */
		size_t item0, nitems; /* their directory blocks in ditems */
		bool leaf;            /* blocks at the leaf offset: leaf or node format, data blocks are XDD3 */
		uint8_t dots;         /* "." and ".." seen */
	} * pdirs;
	size_t npdirs, cappdirs;
	struct xext *dext;
	size_t ndext, capdext;
	struct ditem {
		uint64_t dblk, lin0; /* directory block, linear disk block of its first fs block */
		bool contig;         /* all its fs blocks follow lin0: one read (else assembled) */
	} * ditems;
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

/*
 * XFS's checksum: CRC32c of the structure with its CRC field as zero, stored
 * little endian. The field is zeroed in our copy, which nothing reads again.
 */
static bool cksum_ok(uint8_t *p, size_t len, size_t off)
{
	uint32_t want = le32(p + off);

	memset(p + off, 0, 4);
	return ~xal_crc32c(~0u, p, len) == want;
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
	if (c->fd >= 0 && in_dev(c, off, len))
		(void)posix_fadvise(c->fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
}

static int fd_read(void *arg, uint64_t off, void *buf, size_t len)
{
	int fd = *(const int *)arg;
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* short: the device ended early */
		done += (size_t)n;
	}
	return 0;
}

static int rd(struct xfs_ctx *c, uint64_t off, void *buf, size_t len, const char *what)
{
	int err;

	if (!in_dev(c, off, len))
		return xal_err(c->b, -EUCLEAN, "%s at byte %llu (+%zu) is beyond the end of the device (%llu bytes)",
			       what, (unsigned long long)off, len, (unsigned long long)c->dev_size);
	if ((err = c->read(c->read_arg, off, buf, len)))
		return xal_err(c->b, err, "reading %s at byte %llu: %s", what, (unsigned long long)off, strerror(-err));
	return 0;
}

static uint64_t ag_byte(const struct xfs_ctx *c, uint32_t agno, uint64_t agbno)
{
	return ((uint64_t)agno * c->agblocks + agbno) * c->bs;
}

/* Blocks of AG agno: agblocks, fewer for the last one. */
static uint32_t ag_len(const struct xfs_ctx *c, uint32_t agno)
{
	return agno + 1 < c->agcount ? c->agblocks : (uint32_t)(c->dblocks - (uint64_t)agno * c->agblocks);
}

/* 512-byte disk address of a linear block, as self-describing blocks record it. */
static uint64_t lin_daddr(const struct xfs_ctx *c, uint64_t lin)
{
	return lin << (c->blocklog - 9);
}

/* fsblock (agno << agblklog | agbno) -> linear block; -EUCLEAN when outside the file system or its AG. */
static int fsb_to_lin(const struct xfs_ctx *c, uint64_t fsb, uint64_t len, uint64_t *lin)
{
	uint64_t agno = fsb >> c->agblklog, agbno = fsb & ((1ull << c->agblklog) - 1);

	if (agno >= c->agcount || agbno >= ag_len(c, (uint32_t)agno) || len > ag_len(c, (uint32_t)agno) - agbno)
		return -EUCLEAN;
	*lin = agno * c->agblocks + agbno;
	return 0;
}

/* A metadata block's UUID is the file system's (two words, no call: it runs once per inode). */
static bool uuid_ok(const struct xfs_ctx *c, const uint8_t *u)
{
	uint64_t a, b2, x, y;

	memcpy(&a, u, 8);
	memcpy(&b2, u + 8, 8);
	memcpy(&x, c->meta_uuid, 8);
	memcpy(&y, c->meta_uuid + 8, 8);
	return a == x && b2 == y;
}

static bool is_sysino(const struct xfs_ctx *c, uint64_t ino)
{
	if (ino > c->sysino_max)
		return false;
	for (size_t i = 0; i < sizeof(c->sysino) / sizeof(c->sysino[0]); i++)
		if (c->sysino[i] && c->sysino[i] == ino)
			return true;
	return false;
}

/* An inode number that can exist: inside an AG, past its header blocks (as xfs_verify_ino). */
static bool ino_ok(const struct xfs_ctx *c, uint64_t ino)
{
	unsigned shift = c->agblklog + c->inopblog;
	uint64_t agno = ino >> shift, agbno = (ino & ((1ull << shift) - 1)) >> c->inopblog;

	return agno < c->agcount && agbno > 0 && agbno < ag_len(c, (uint32_t)agno);
}

/* The block buffer of one B+tree level, allocated when a walk first goes that deep. */
static uint8_t *level_buf(struct xfs_ctx *c, uint32_t level)
{
	if (!c->lvl[level])
		c->lvl[level] = malloc(c->bs);
	return c->lvl[level];
}

static int claim(struct xfs_ctx *c, uint64_t lin, uint64_t len, uint32_t owner)
{
	while (len) {
		uint64_t n = len > XAL_CLAIM_LEN_MAX ? XAL_CLAIM_LEN_MAX : len;
		int err;

		if ((err = grow((void **)&c->claims, &c->capclaims, c->nclaims, sizeof(*c->claims))))
			return err;
		c->claims[c->nclaims++] = (struct xal_claim){lin, (uint32_t)n, owner};
		lin += n;
		len -= n;
	}
	return 0;
}

static int read_sb(struct xfs_ctx *c)
{
	uint8_t *sb;
	uint32_t ver;
	int err;

	/* The first 512 bytes say the sector size; the checksum covers the whole sector. */
	if (!(sb = malloc(512)))
		return -ENOMEM;
	if ((err = rd(c, 0, sb, 512, "superblock")))
		goto out;
	err = -EUCLEAN;
	if (be32(sb) != XFS_SB_MAGIC) {
		err = xal_err(c->b, -EMEDIUMTYPE, "not an XFS file system (superblock magic 0x%08x)", be32(sb));
		goto out;
	}
	c->versionnum = be16(sb + 100);
	ver = c->versionnum & XFS_SB_VERSION_NUMBITS;
	if (ver != 5) {
		err = xal_err(c->b, -EOPNOTSUPP, "XFS version %u file system; only v5 (CRC-enabled) is supported", ver);
		goto out;
	}
	c->sectsize = be16(sb + 102);
	if (c->sectsize < 512 || c->sectsize > 32768 || (c->sectsize & (c->sectsize - 1))) {
		CORRUPT(c, "superblock: sector size %u", c->sectsize);
		goto out;
	}
	if (c->sectsize > 512) {
		uint8_t *big = realloc(sb, c->sectsize);

		if (!big) {
			err = -ENOMEM;
			goto out;
		}
		sb = big;
		if ((err = rd(c, 0, sb, c->sectsize, "superblock")))
			goto out;
	}
	err = -EUCLEAN;
	if (!cksum_ok(sb, c->sectsize, XFS_SB_CRC_OFF)) {
		CORRUPT(c, "superblock: bad checksum");
		goto out;
	}
	c->bs = be32(sb + 4);
	c->dblocks = be64(sb + 8);
	c->rblocks = be64(sb + 16);
	memcpy(c->uuid, sb + 32, 16);
	c->logstart = be64(sb + 48);
	c->rootino = be64(sb + 56);
	c->sysino[0] = be64(sb + 64); /* realtime bitmap */
	c->sysino[1] = be64(sb + 72); /* realtime summary */
	c->agblocks = be32(sb + 84);
	c->agcount = be32(sb + 88);
	c->logblocks = be32(sb + 96);
	c->isize = be16(sb + 104);
	c->inopblock = be16(sb + 106);
	c->blocklog = sb[120];
	c->inopblog = sb[123];
	c->agblklog = sb[124];
	c->sysino[2] = be64(sb + 160); /* user quota */
	c->sysino[3] = be64(sb + 168); /* group quota */
	c->dirblklog = sb[192];
	c->ro_compat = be32(sb + 212);
	c->incompat = be32(sb + 216);
	c->sysino[4] = be64(sb + 232); /* project quota */
	for (size_t i = 0; i < sizeof(c->sysino) / sizeof(c->sysino[0]); i++) {
		if (c->sysino[i] == NULLFSBLOCK)
			c->sysino[i] = 0; /* NULLFSINO: none */
		if (c->sysino[i] > c->sysino_max)
			c->sysino_max = c->sysino[i];
	}
	memcpy(c->meta_uuid, (c->incompat & XFS_SB_FEAT_INCOMPAT_META_UUID) ? sb + 248 : sb + 32, 16);
	if (c->blocklog < 9 || c->blocklog > 16 || c->bs != 1u << c->blocklog || c->sectsize > c->bs) {
		CORRUPT(c, "superblock: block size %u, log %u, sector size %u", c->bs, c->blocklog, c->sectsize);
		goto out;
	}
	if (c->isize < 512 || c->isize > 2048 || (c->isize & (c->isize - 1)) || c->isize > c->bs ||
	    c->inopblock != c->bs / c->isize || c->inopblog > 7 || (1u << c->inopblog) != c->inopblock) {
		CORRUPT(c, "superblock: inode size %u, %u per block (log %u)", c->isize, c->inopblock, c->inopblog);
		goto out;
	}
	if (!c->agcount || c->agblocks < 8 || c->agblklog > 31 || (1ull << c->agblklog) < c->agblocks ||
	    (c->agblklog && (1ull << (c->agblklog - 1)) >= c->agblocks)) {
		CORRUPT(c, "superblock: %u AGs of %u blocks (log %u)", c->agcount, c->agblocks, c->agblklog);
		goto out;
	}
	if (c->dblocks > (uint64_t)c->agcount * c->agblocks || c->dblocks <= (uint64_t)(c->agcount - 1) * c->agblocks) {
		CORRUPT(c, "superblock: %llu blocks do not fit %u AGs of %u", (unsigned long long)c->dblocks,
			c->agcount, c->agblocks);
		goto out;
	}
	if (c->dirblklog + c->blocklog > 16) {
		CORRUPT(c, "superblock: directory block log %u", c->dirblklog);
		goto out;
	}
	if (sb[126]) {
		CORRUPT(c, "superblock: mkfs.xfs did not finish (sb_inprogress)");
		goto out;
	}
	if (c->incompat & XFS_SB_FEAT_INCOMPAT_NEEDSREPAIR) {
		CORRUPT(c, "the file system needs xfs_repair");
		goto out;
	}
	if (c->incompat & ~XFS_SB_FEAT_INCOMPAT_KNOWN) {
		err = xal_err(c->b, -EOPNOTSUPP, "unknown incompatible XFS features 0x%x",
			      c->incompat & ~XFS_SB_FEAT_INCOMPAT_KNOWN);
		goto out;
	}
	if (c->dblocks * c->bs > c->dev_size) {
		CORRUPT(c, "truncated: the superblock says %llu bytes, the device has %llu",
			(unsigned long long)(c->dblocks * c->bs), (unsigned long long)c->dev_size);
		goto out;
	}
	if (!ino_ok(c, c->rootino)) {
		CORRUPT(c, "superblock: root inode %llu out of range", (unsigned long long)c->rootino);
		goto out;
	}
	c->dirbs = c->bs << c->dirblklog;
	c->ftype = c->incompat & XFS_SB_FEAT_INCOMPAT_FTYPE;
	c->spinodes = c->incompat & XFS_SB_FEAT_INCOMPAT_SPINODES;
	c->nrext64 = c->incompat & XFS_SB_FEAT_INCOMPAT_NREXT64;
	c->reflink = c->ro_compat & XFS_SB_FEAT_RO_COMPAT_REFLINK;
	c->ascii_ci = c->versionnum & XFS_SB_VERSION_BORGBIT;
	err = 0;
out:
	free(sb);
	return err;
}

/* ---- the log: clean, or in need of recovery (what xfs_logprint and xfs_repair find) ---- */

struct log_ctx {
	struct xfs_ctx *c;
	uint64_t base; /* byte offset of the log */
	uint64_t nblk; /* 512-byte blocks */
	uint8_t *buf;  /* XLOG_READ_BBLKS blocks */
};

static uint64_t log_wrap(const struct log_ctx *l, int64_t blk)
{
	int64_t n = (int64_t)l->nblk;

	return (uint64_t)(((blk % n) + n) % n);
}

static int log_read(struct log_ctx *l, uint64_t blk, uint64_t n, uint8_t *buf)
{
	return rd(l->c, l->base + blk * XLOG_BBSIZE, buf, n * XLOG_BBSIZE, "log block");
}

/* A record header keeps its cycle after the magic, every other block in its first word. */
static uint32_t block_cycle(const uint8_t *b)
{
	return be32(b) == XLOG_HEADER_MAGIC ? be32(b + 4) : be32(b);
}

static int log_cycle(struct log_ctx *l, uint64_t blk, uint32_t *cycle)
{
	uint8_t w[8];
	int err = rd(l->c, l->base + blk * XLOG_BBSIZE, w, 8, "log block");

	*cycle = block_cycle(w);
	return err;
}

/* First block in (first, last] whose cycle is cyc, when last's is and first's is not (binary search). */
static int log_cycle_start(struct log_ctx *l, uint64_t first, uint64_t *last, uint32_t cyc)
{
	while (*last - first > 1) {
		uint64_t mid = first + (*last - first) / 2;
		uint32_t mc;
		int err = log_cycle(l, mid, &mc);

		if (err)
			return err;
		if (mc == cyc)
			*last = mid;
		else
			first = mid;
	}
	return 0;
}

/* Writes still in flight at a crash leave holes: the first block of cycle cyc in [start, end) is the head. */
static int log_first_of_cycle(struct log_ctx *l, uint64_t start, uint64_t end, uint32_t cyc, uint64_t *head)
{
	while (start < end) {
		uint64_t n = end - start > XLOG_READ_BBLKS ? XLOG_READ_BBLKS : end - start;
		int err = log_read(l, start, n, l->buf);

		if (err)
			return err;
		for (uint64_t i = 0; i < n; i++)
			if (block_cycle(l->buf + i * XLOG_BBSIZE) == cyc) {
				*head = start + i;
				return 0;
			}
		start += n;
	}
	return 0;
}

/* Scans back from before blk (wrapping, at most XLOG_REC_BBLKS blocks) for a record header: 1 if found. */
static int log_prev_header(struct log_ctx *l, uint64_t blk, uint64_t *hdr_blk, uint8_t *hdr)
{
	for (uint64_t k = 1; k <= XLOG_REC_BBLKS && k <= l->nblk; k++) {
		uint64_t b = log_wrap(l, (int64_t)blk - (int64_t)k);
		int err = log_read(l, b, 1, hdr);

		if (err)
			return err;
		if (be32(hdr) == XLOG_HEADER_MAGIC) {
			*hdr_blk = b;
			return 1;
		}
	}
	return 0;
}

/* Blocks a record takes: its header blocks (v2 logs: one per 32 KiB of iclog) and its data. */
static uint64_t log_rec_blocks(const uint8_t *h, uint64_t *hblks)
{
	uint32_t version = be32(h + 8), size = be32(h + 320);

	*hblks = version == 2 && size > XLOG_HEADER_CYCLE_SIZE
			 ? (size + XLOG_HEADER_CYCLE_SIZE - 1) / XLOG_HEADER_CYCLE_SIZE
			 : 1;
	return *hblks + (be32(h + 12) + XLOG_BBSIZE - 1) / XLOG_BBSIZE;
}

#define XLOG_START_TRANS 0x01
#define XLOG_COMMIT_TRANS 0x02
#define XLOG_PARTIAL_TRANS (0x04 | 0x08 | 0x10) /* continued, was continued, end */
#define XFS_TRANSACTION 0x69
#define XFS_LOG_CLIENT 0xaa
#define XFS_TRANS_HEADER_MAGIC 0x5452414eu /* "TRAN", host (little) endian like every log item */
#define XFS_LI_BUF 0x123c
#define XLOG_FMT_LINUX_LE 1
#define XLOG_COVER_RECORDS 16

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p + 4) << 32 | le32(p);
}

/*
 * Whether the records from the tail to the head change nothing but the
 * superblock: a covered log (xfs_log_cover: a frozen or idle file system logs
 * its superblock twice after writing everything in place, so that recovery
 * finds nothing to replay but that). Anything else (another log item, an
 * operation split over records, a record of more than 32 KiB, a big-endian
 * log) counts as changes not written yet.
 */
static int log_covered(struct log_ctx *l, uint64_t tail_lsn, uint64_t head, bool *covered)
{
	uint64_t r = (uint32_t)tail_lsn, hblks;
	uint8_t *h = l->buf, *d = l->buf + XLOG_BBSIZE;
	int err;

	*covered = false;
	for (int n = 0; r != head; n++) {
		uint32_t len, regions = 0, state = 0; /* 0: start, 1: header, 2: item, 3: its regions */
		uint64_t nb, blocks;

		if (n == XLOG_COVER_RECORDS || r >= l->nblk || (err = log_read(l, r, 1, h)))
			return n == XLOG_COVER_RECORDS || r >= l->nblk ? 0 : err;
		len = be32(h + 12);
		blocks = log_rec_blocks(h, &hblks);
		nb = (len + XLOG_BBSIZE - 1) / XLOG_BBSIZE;
		if (be32(h) != XLOG_HEADER_MAGIC || (n == 0 && be64(h + 16) != tail_lsn) || hblks != 1 || !len ||
		    nb + 1 > XLOG_READ_BBLKS || nb > 64 || be32(h + 300) != XLOG_FMT_LINUX_LE ||
		    memcmp(h + 304, l->c->uuid, 16))
			return 0;
		/* the record's data, its first word per block given back from the header */
		for (uint64_t b = 0; b < nb; b++) {
			if ((err = log_read(l, log_wrap(l, (int64_t)(r + 1 + b)), 1, d + b * XLOG_BBSIZE)))
				return err;
			memcpy(d + b * XLOG_BBSIZE, h + 44 + 4 * b, 4);
		}
		/* h_num_logops operations; the rest of the record is padding */
		for (uint32_t pos = 0, op = 0; op < be32(h + 40); op++) {
			uint32_t olen;
			uint8_t client, flags;
			const uint8_t *p;

			if (len - pos < 12)
				return 0;
			olen = be32(d + pos + 4);
			client = d[pos + 8];
			flags = d[pos + 9];
			p = d + pos + 12;
			if (olen > len - pos - 12 || (flags & XLOG_PARTIAL_TRANS))
				return 0;
			if (client == XFS_LOG_CLIENT && (flags & XLOG_UNMOUNT_TRANS)) {
				; /* an unmount record: changes nothing */
			} else if (client != XFS_TRANSACTION) {
				return 0;
			} else if (flags & XLOG_START_TRANS) {
				if (state != 0)
					return 0;
				state = 1;
			} else if (flags & XLOG_COMMIT_TRANS) {
				if (state != 2)
					return 0;
				state = 0;
			} else if (state == 1) {
				if (olen < 16 || le32(p) != XFS_TRANS_HEADER_MAGIC)
					return 0;
				state = 2;
			} else if (state == 2) {
				/* a buffer item of the superblock (disk address 0, one sector) */
				if (olen < 16 || le16(p) != XFS_LI_BUF || le16(p + 2) < 2 || le64(p + 8) != 0 ||
				    le16(p + 6) != l->c->sectsize / XLOG_BBSIZE)
					return 0;
				regions = le16(p + 2) - 1u;
				state = 3;
			} else if (state == 3) {
				if (--regions == 0)
					state = 2;
			} else {
				return 0;
			}
			pos += 12 + olen;
		}
		if (state != 0)
			return 0;
		r = log_wrap(l, (int64_t)(r + blocks));
	}
	*covered = true;
	return 0;
}

/*
 * As the kernel's log recovery finds it: the head is where the cycle number
 * drops (a hole of writes in flight moves it back), a record torn at the head
 * does not count; the log is clean when it is all zero (mkfs.xfs, xfs_repair)
 * or the last record before the head is an unmount record that ends there.
 * *why says what was found when it is not.
 */
static int log_is_clean(struct xfs_ctx *c, bool *clean, char *why, size_t whylen)
{
	struct log_ctx l = {.c = c};
	uint32_t c0, cl, stop;
	uint64_t head, hb, hblks, lin, tail_lsn;
	int err, found;
	uint8_t *h;

	*clean = false;
	if (!c->logstart) {
		snprintf(why, whylen, "the log is on an external device, which XAL cannot read");
		return 0;
	}
	if (fsb_to_lin(c, c->logstart, c->logblocks, &lin) || c->logblocks < 64)
		return CORRUPT(c, "superblock: log of %u blocks at block %llu out of range", c->logblocks,
			       (unsigned long long)c->logstart);
	l.base = lin * c->bs;
	l.nblk = (uint64_t)c->logblocks << (c->blocklog - 9);
	if ((err = claim(c, lin, c->logblocks, OWN_LOG)))
		return err;
	if ((err = log_cycle(&l, 0, &c0)))
		return err;
	if (c0 == 0) {
		*clean = true; /* all zero: nothing was ever logged after mkfs or repair zeroed it */
		return 0;
	}
	if (!(l.buf = malloc((size_t)XLOG_READ_BBLKS * XLOG_BBSIZE)))
		return -ENOMEM;
	h = l.buf;
	if ((err = log_cycle(&l, l.nblk - 1, &cl)))
		goto out;
	head = l.nblk - 1;
	if (cl == 0) {
		stop = 0; /* partly written: the head is the first zero block */
		err = log_cycle_start(&l, 0, &head, 0);
	} else if (c0 == cl) {
		stop = cl - 1; /* wrapped exactly: head at the end unless a hole of the last pass is left */
		head = l.nblk;
	} else {
		stop = cl;
		err = log_cycle_start(&l, 0, &head, cl);
	}
	if (err)
		goto out;
	/* A hole of writes in flight before the head moves the head to it. */
	{
		uint64_t start = head > XLOG_TOTAL_REC_BBLKS ? head - XLOG_TOTAL_REC_BBLKS : 0;

		if ((err = log_first_of_cycle(&l, start, head, stop, &head)))
			goto out;
	}
	head = log_wrap(&l, (int64_t)head);
	/* A record not wholly before the head was torn: the head goes back to its start. */
	found = log_prev_header(&l, head, &hb, h);
	if (found < 0) {
		err = found;
		goto out;
	}
	if (found && log_wrap(&l, (int64_t)(hb + log_rec_blocks(h, &hblks))) != head) {
		head = hb;
		found = log_prev_header(&l, head, &hb, h);
		if (found < 0) {
			err = found;
			goto out;
		}
	}
	if (!found) {
		snprintf(why, whylen, "no log record before the head at log block %llu", (unsigned long long)head);
		goto out;
	}
	if (memcmp(h + 304, c->uuid, 16)) {
		snprintf(why, whylen, "the log record at block %llu is of another file system", (unsigned long long)hb);
		goto out;
	}
	if (be32(h + 8) < 1 || be32(h + 8) > 2 || log_wrap(&l, (int64_t)(hb + log_rec_blocks(h, &hblks))) != head) {
		snprintf(why, whylen, "the log record at block %llu does not end at the head", (unsigned long long)hb);
		goto out;
	}
	tail_lsn = be64(h + 24);
	if (be32(h + 40) == 1) {
		if ((err = log_read(&l, log_wrap(&l, (int64_t)(hb + hblks)), 1, h)))
			goto out;
		/* The op header after the record header: flags at byte 9 (its first word carries the cycle). */
		if (h[9] & XLOG_UNMOUNT_TRANS) {
			*clean = true;
			goto out;
		}
	}
	/* Frozen, or idle at a crash: the log is covered, every change is written in place. */
	err = log_covered(&l, tail_lsn, head, clean);
	if (!err && !*clean)
		snprintf(why, whylen, "changes between log blocks %u and %llu are not all written in place",
			 (uint32_t)tail_lsn, (unsigned long long)head);
out:
	free(l.buf);
	return err;
}

/* Whether the block device is mounted (or held otherwise): it cannot be opened exclusively then. */
static bool dev_busy(const struct xfs_ctx *c)
{
	struct stat st;
	int fd;

	if (c->fd < 0 || fstat(c->fd, &st) || !S_ISBLK(st.st_mode))
		return false;
	fd = open(c->dev, O_RDONLY | O_EXCL | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return false;
	}
	return errno == EBUSY;
}

static int check_log(struct xfs_ctx *c, struct xal_hdr *hdr)
{
	bool ignore = c->open_flags & XAL_OPEN_IGNORE_LOG;
	const char *source = c->b->source;
	char why[160] = "";
	bool clean;
	int err;

	/* Ignored, a log too damaged to read counts as dirty: its message would be a false alarm. */
	if (ignore)
		c->b->source = NULL;
	err = log_is_clean(c, &clean, why, sizeof(why));
	c->b->source = source;
	if (err && !ignore)
		return err;
	if (!err && clean)
		return 0;
	if (ignore) {
		hdr->flags |= XAL_HDR_LOG_DIRTY;
		return 0;
	}
	if (dev_busy(c))
		return xal_err(c->b, -EUCLEAN,
			       "the log needs recovery (%s); the device is mounted or in use: index the mount point "
			       "(FIEMAP backend) or freeze it (xfs_freeze -f)",
			       why);
	return xal_err(c->b, -EUCLEAN,
		       "the log needs recovery (%s): mount and unmount the file system once, or run xfs_repair", why);
}

/* ---- short-form (AG) B+trees: free space, inodes, refcounts ---- */

typedef int (*sbt_rec_cb)(struct xfs_ctx *c, uint32_t agno, uint32_t agbno, const uint8_t *rec);

struct sbt {
	const char *name;
	uint32_t magic;
	size_t recsize, keysize;
	uint32_t owner; /* claim of its blocks */
	sbt_rec_cb cb;
};

/* Left and right sibling of a block at one level, in the order a depth-first walk meets them. */
static int sibling_check(struct xfs_ctx *c, uint32_t level, uint64_t self, uint64_t left, uint64_t right, uint64_t null)
{
	struct siblings *s = &c->sib;

	if (s->seen[level] ? left != s->last[level] || s->right[level] != self : left != null)
		return -EUCLEAN;
	s->seen[level] = true;
	s->last[level] = self;
	s->right[level] = right;
	return 0;
}

/* After a walk: the last block of every level has no right sibling. */
static int siblings_done(const struct xfs_ctx *c, uint64_t null)
{
	for (int l = 0; l <= XAL_XFS_MAXLEVELS; l++)
		if (c->sib.seen[l] && c->sib.right[l] != null)
			return -EUCLEAN;
	return 0;
}

/* key: what the parent says this block's first key is (NULL for the root). */
static int sbt_walk(struct xfs_ctx *c, const struct sbt *t, uint32_t agno, uint32_t agbno, uint32_t level,
		    const uint8_t *key)
{
	uint8_t *blk = level_buf(c, level);
	uint32_t nrecs, maxrecs;
	const uint8_t *first;
	int err;

	if (!blk)
		return -ENOMEM;
	if (agbno == 0 || agbno >= ag_len(c, agno))
		return CORRUPT(c, "AG %u %s: block pointer %u out of range", agno, t->name, agbno);
	if ((err = rd(c, ag_byte(c, agno, agbno), blk, c->bs, t->name)))
		return err;
	if (!cksum_ok(blk, c->bs, XFS_SBLOCK_CRC_OFF))
		return CORRUPT(c, "AG %u %s block %u: bad checksum", agno, t->name, agbno);
	if (be32(blk) != t->magic)
		return CORRUPT(c, "AG %u %s block %u: bad magic 0x%08x", agno, t->name, agbno, be32(blk));
	if (be16(blk + 4) != level)
		return CORRUPT(c, "AG %u %s block %u: level %u, expected %u", agno, t->name, agbno, be16(blk + 4),
			       level);
	if (be32(blk + 48) != agno || !uuid_ok(c, blk + 32) ||
	    be64(blk + 16) != lin_daddr(c, (uint64_t)agno * c->agblocks + agbno))
		return CORRUPT(c, "AG %u %s block %u: owner AG %u, address %llu or UUID of another block", agno,
			       t->name, agbno, be32(blk + 48), (unsigned long long)be64(blk + 16));
	if (sibling_check(c, level, agbno, be32(blk + 8), be32(blk + 12), NULLAGBLOCK))
		return CORRUPT(c, "AG %u %s block %u: sibling pointers %u and %u do not match the walk", agno, t->name,
			       agbno, be32(blk + 8), be32(blk + 12));
	nrecs = be16(blk + 6);
	maxrecs = (c->bs - XFS_SBLOCK_HDR) / (level ? t->keysize + 4 : t->recsize);
	if (nrecs > maxrecs || (!nrecs && (key || level)))
		return CORRUPT(c, "AG %u %s block %u: %u records (at most %u)", agno, t->name, agbno, nrecs, maxrecs);
	first = blk + XFS_SBLOCK_HDR;
	if (key && nrecs && memcmp(first, key, t->keysize))
		return CORRUPT(c, "AG %u %s block %u: first key differs from its parent's", agno, t->name, agbno);
	if ((err = claim(c, (uint64_t)agno * c->agblocks + agbno, 1, t->owner)))
		return err;
	if (!level) {
		for (uint32_t i = 0; i < nrecs; i++)
			if ((err = t->cb(c, agno, agbno, blk + XFS_SBLOCK_HDR + i * t->recsize)))
				return err;
		return 0;
	}
	for (uint32_t i = 0; i < nrecs; i++) {
		/* Child pointers live after maxrecs keys; the block buffer of this level stays valid. */
		const uint8_t *k = blk + XFS_SBLOCK_HDR + i * t->keysize;
		uint32_t ptr = be32(blk + XFS_SBLOCK_HDR + maxrecs * t->keysize + i * 4);

		if (i && memcmp(k - t->keysize, k, t->keysize) >= 0)
			return CORRUPT(c, "AG %u %s block %u: keys out of order", agno, t->name, agbno);
		if ((err = sbt_walk(c, t, agno, ptr, level - 1, k)))
			return err;
	}
	return 0;
}

static int sbt_read(struct xfs_ctx *c, const struct sbt *t, uint32_t agno, uint32_t root, uint32_t levels)
{
	int err;

	memset(&c->sib, 0, sizeof(c->sib));
	c->have_key = false;
	if ((err = sbt_walk(c, t, agno, root, levels - 1, NULL)))
		return err;
	if (siblings_done(c, NULLAGBLOCK))
		return CORRUPT(c, "AG %u %s: the last block of a level has a right sibling", agno, t->name);
	return 0;
}

static int free_rec(struct xfs_ctx *c, uint32_t agno, uint32_t agbno, const uint8_t *r)
{
	uint32_t start = be32(r), len = be32(r + 4);

	if (!len || start >= ag_len(c, agno) || len > ag_len(c, agno) - start || (c->have_key && start < c->last_key))
		return CORRUPT(c, "AG %u free-space block %u: record %u+%u out of order or range", agno, agbno, start,
			       len);
	c->have_key = true;
	c->last_key = (uint64_t)start + len;
	c->ag_free += len;
	if (len > c->ag_longest)
		c->ag_longest = len;
	return claim(c, (uint64_t)agno * c->agblocks + start, len, OWN_FREE);
}

static int inobt_rec(struct xfs_ctx *c, uint32_t agno, uint32_t agbno, const uint8_t *r)
{
	uint32_t startino = be32(r);
	uint16_t holemask = c->spinodes ? be16(r + 4) : 0;
	uint32_t count = c->spinodes ? r[6] : 64, freecount = c->spinodes ? r[7] : be32(r + 4);
	uint64_t freemask = be64(r + 8), holes = 0;
	uint64_t alloc;
	struct chunk_rec *cr;
	int err;

	if ((startino & 63) || (startino >> c->inopblog) >= ag_len(c, agno) || (c->have_key && startino <= c->last_key))
		return CORRUPT(c, "AG %u inobt block %u: record start inode %u out of order or range", agno, agbno,
			       startino);
	c->have_key = true;
	c->last_key = startino;
	for (int i = 0; i < 16; i++)
		if (holemask & (1u << i))
			holes |= 0xfull << (4 * i);
	alloc = ~freemask & ~holes;
	/* Holes are free, the counts are those of the masks (xfs_inobt_check_irec). */
	if ((holes & ~freemask) || count != 64u - (unsigned)__builtin_popcountll(holes) ||
	    freecount != (unsigned)__builtin_popcountll(freemask & ~holes))
		return CORRUPT(c, "AG %u inobt block %u: record of inode %u: counts %u/%u do not match its masks", agno,
			       agbno, startino, count, freecount);
	c->ag_inodes += count;
	c->ag_ifree += freecount;
	/* The chunk's blocks, hole by hole (a chunk smaller than a block shares it with its neighbour). */
	for (int i = 0; i < 64;) {
		int j;
		uint64_t a, e, lin;

		if (holes & (1ull << i)) {
			i++;
			continue;
		}
		for (j = i; j < 64 && !(holes & (1ull << j)); j++)
			;
		a = (startino + (uint32_t)i) >> c->inopblog;
		e = ((uint64_t)startino + (uint32_t)j + c->inopblock - 1) >> c->inopblog;
		lin = (uint64_t)agno * c->agblocks + a;
		if (e > ag_len(c, agno))
			return CORRUPT(c, "AG %u: inode chunk at agino %u runs past the AG", agno, startino);
		if (c->nclaims && c->last_chunk_claim == lin + 1 && e - a == 1)
			; /* the block the previous chunk claimed */
		else if ((err = claim(c, lin, e - a, OWN_INODES)))
			return err;
		c->last_chunk_claim = lin + (e - a);
		i = j;
	}
	if (!alloc)
		return 0;
	if ((err = grow((void **)&c->chunks, &c->capchunks, c->nchunks, sizeof(*c->chunks))))
		return err;
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
	uint32_t s = start & ~XFS_REFC_COWFLAG;
	int err;

	/* Keys run through the shared domain, then the CoW domain (flag bit set). */
	if (!len || s >= ag_len(c, agno) || len > ag_len(c, agno) - s || (c->have_key && start < c->last_key) ||
	    ((start & XFS_REFC_COWFLAG) ? refs != 1 : refs < 2))
		return CORRUPT(c, "AG %u refcount block %u: record %u+%u (%u references) out of order or range", agno,
			       agbno, s, len, refs);
	c->have_key = true;
	c->last_key = (uint64_t)start + len;
	if (start & XFS_REFC_COWFLAG)
		return claim(c, (uint64_t)agno * c->agblocks + s, len, OWN_COW); /* staging for copy-on-write */
	if ((err = grow((void **)&c->rc, &c->caprc, c->nrc, sizeof(*c->rc))))
		return err;
	c->rc[c->nrc].lin = (uint64_t)agno * c->agblocks + start;
	c->rc[c->nrc].len = len;
	c->rc[c->nrc].refs = refs;
	c->nrc++;
	return 0;
}

static const struct sbt bnobt = {"free-space btree", XFS_ABTB_CRC_MAGIC, 8, 8, OWN_BNOBT, free_rec};
static const struct sbt inobt = {"inobt", XFS_IBT_CRC_MAGIC, 16, 4, OWN_INOBT, inobt_rec};
static const struct sbt refcbt = {"refcountbt", XFS_REFC_CRC_MAGIC, 12, 4, OWN_REFCBT, refc_rec};

/* Reads one AG header sector into c->sect and verifies its checksum, magic, sequence and UUID. */
static int ag_header(struct xfs_ctx *c, uint32_t agno, uint32_t sector, const char *name, uint32_t magic,
		     size_t crc_off, size_t uuid_off)
{
	uint64_t off = ag_byte(c, agno, 0) + (uint64_t)sector * c->sectsize;
	int err;

	if ((err = rd(c, off, c->sect, c->sectsize, name)))
		return err;
	if (!cksum_ok(c->sect, c->sectsize, crc_off))
		return CORRUPT(c, "AG %u %s (byte %llu): bad checksum", agno, name, (unsigned long long)off);
	if (be32(c->sect) != magic || be32(c->sect + (magic == XFS_AGFL_MAGIC ? 4 : 8)) != agno ||
	    !uuid_ok(c, c->sect + uuid_off))
		return CORRUPT(c, "AG %u %s (byte %llu): bad magic 0x%08x, sequence or UUID", agno, name,
			       (unsigned long long)off, be32(c->sect));
	return 0;
}

static int read_ag(struct xfs_ctx *c, uint32_t agno)
{
	uint32_t aglen = ag_len(c, agno), root, level, flfirst, fllast, flcount, freeblks, longest;
	uint32_t agfl_size = (c->sectsize - XFS_AGFL_HDR) / 4, icount, ifree, rc_root = 0, rc_level = 0;
	int err;

	/* Sectors 0-3 of the AG: superblock (copy), AGF, AGI, AGFL. */
	if ((err = claim(c, (uint64_t)agno * c->agblocks, (4ull * c->sectsize + c->bs - 1) / c->bs, OWN_AGHDR)))
		return err;
	if ((err = ag_header(c, agno, 1, "AGF", XFS_AGF_MAGIC, XFS_AGF_CRC_OFF, 64)))
		return err;
	root = be32(c->sect + 16);
	level = be32(c->sect + 28);
	flfirst = be32(c->sect + 40);
	fllast = be32(c->sect + 44);
	flcount = be32(c->sect + 48);
	freeblks = be32(c->sect + 52);
	longest = be32(c->sect + 56);
	if (c->reflink) {
		rc_root = be32(c->sect + 88);
		rc_level = be32(c->sect + 92);
	}
	if (be32(c->sect + 4) != 1 || be32(c->sect + 12) != aglen || level < 1 || level > XAL_XFS_MAXLEVELS ||
	    freeblks > aglen || longest > freeblks || (c->reflink && (rc_level < 1 || rc_level > XAL_XFS_MAXLEVELS)))
		return CORRUPT(c,
			       "AG %u AGF: length %u, free-space level %u, free list %u..%u (%u), %u free, "
			       "refcount level %u",
			       agno, be32(c->sect + 12), level, flfirst, fllast, flcount, freeblks, rc_level);
	/*
	 * The AGFL: blocks kept free for B+tree splits, in neither free-space tree.
	 * A list that does not add up (kernels before 4.16 sized it differently) is
	 * reset by the next mount (xfs_agfl_needs_reset): its blocks are not claimed.
	 */
	if (flcount && flcount <= agfl_size && flfirst < agfl_size && fllast < agfl_size &&
	    (fllast + agfl_size - flfirst) % agfl_size + 1 == flcount) {
		if ((err = ag_header(c, agno, 3, "AGFL", XFS_AGFL_MAGIC, XFS_AGFL_CRC_OFF, 8)))
			return err;
		for (uint32_t i = 0, k = flfirst; i < flcount; i++, k = (k + 1) % agfl_size) {
			uint32_t bno = be32(c->sect + XFS_AGFL_HDR + 4 * k);

			if (!bno || bno >= aglen)
				return CORRUPT(c, "AG %u AGFL: entry %u: block %u out of range", agno, k, bno);
			if ((err = claim(c, (uint64_t)agno * c->agblocks + bno, 1, OWN_AGFL)))
				return err;
		}
	}
	c->ag_free = c->ag_longest = 0;
	if ((err = sbt_read(c, &bnobt, agno, root, level)))
		return err;
	if (c->ag_free != freeblks || c->ag_longest != longest)
		return CORRUPT(c,
			       "AG %u: the free-space btree holds %llu free blocks (longest %llu), the AGF "
			       "says %u (%u)",
			       agno, (unsigned long long)c->ag_free, (unsigned long long)c->ag_longest, freeblks,
			       longest);
	if (c->reflink && (err = sbt_read(c, &refcbt, agno, rc_root, rc_level)))
		return err;
	if ((err = ag_header(c, agno, 2, "AGI", XFS_AGI_MAGIC, XFS_AGI_CRC_OFF, 296)))
		return err;
	icount = be32(c->sect + 16);
	root = be32(c->sect + 20);
	level = be32(c->sect + 24);
	ifree = be32(c->sect + 28);
	if (be32(c->sect + 4) != 1 || be32(c->sect + 12) != aglen || level < 1 || level > XAL_XFS_MAXLEVELS ||
	    ifree > icount)
		return CORRUPT(c, "AG %u AGI: length %u, inobt level %u, %u inodes (%u free)", agno, be32(c->sect + 12),
			       level, icount, ifree);
	c->ag_inodes = c->ag_ifree = 0;
	if ((err = sbt_read(c, &inobt, agno, root, level)))
		return err;
	if (c->ag_inodes != icount || c->ag_ifree != ifree)
		return CORRUPT(c, "AG %u: the inobt holds %llu inodes (%llu free), the AGI says %u (%u)", agno,
			       (unsigned long long)c->ag_inodes, (unsigned long long)c->ag_ifree, icount, ifree);
	return 0;
}

/* ---- forks ---- */

/* One extent record of fork f; realtime: its blocks are on the realtime device. */
static int fork_add(struct xfs_ctx *c, struct fork *f, uint64_t ino, const uint8_t *rec, bool realtime)
{
	uint64_t l0 = be64(rec), l1 = be64(rec + 8);
	uint64_t off = (l0 & ((1ull << 63) - 1)) >> 9;
	uint64_t fsb = ((l0 & 0x1ff) << 43) | (l1 >> 21);
	uint64_t len = l1 & ((1ull << 21) - 1);
	bool unwritten = l0 >> 63;
	struct xext *e;
	uint64_t lin = fsb;
	int err;

	if (!len || off + len - 1 > XFS_MAX_FILEOFF || (off + len) > (1ull << 63) >> c->blocklog)
		return CORRUPT(c,
			       "inode %llu %s fork: extent at file block %llu of %llu blocks: offset out of "
			       "range",
			       (unsigned long long)ino, f->name, (unsigned long long)off, (unsigned long long)len);
	if (realtime ? fsb >= c->rblocks || len > c->rblocks - fsb : fsb_to_lin(c, fsb, len, &lin) != 0)
		return CORRUPT(c, "inode %llu: extent at file block %llu: disk block %llu+%llu out of range",
			       (unsigned long long)ino, (unsigned long long)off, (unsigned long long)fsb,
			       (unsigned long long)len);
	if (unwritten && f != &c->dfork)
		return CORRUPT(c, "inode %llu attr fork: unwritten extent at block %llu", (unsigned long long)ino,
			       (unsigned long long)off);
	if (f->n && off < f->v[f->n - 1].off + f->v[f->n - 1].len)
		return CORRUPT(c, "inode %llu %s fork: extent at file block %llu overlaps or is out of order",
			       (unsigned long long)ino, f->name, (unsigned long long)off);
	if ((err = grow((void **)&f->v, &f->cap, f->n, sizeof(*f->v))))
		return err;
	e = &f->v[f->n++];
	e->off = off;
	e->lin = lin;
	e->len = len;
	e->flags = unwritten ? XAL_EXT_UNWRITTEN : 0;
	return 0;
}

/* A bmbt block below the inode's root; key: the first file block its parent gives it. */
static int bmbt_walk(struct xfs_ctx *c, struct fork *f, uint64_t ino, uint64_t fsb, uint32_t level, uint64_t key,
		     bool realtime)
{
	uint8_t *blk = level_buf(c, level);
	uint32_t nrecs, maxrecs;
	uint64_t lin, first;
	int err;

	if (!blk)
		return -ENOMEM;
	if (fsb_to_lin(c, fsb, 1, &lin))
		return CORRUPT(c, "inode %llu bmbt: block pointer %llu out of range", (unsigned long long)ino,
			       (unsigned long long)fsb);
	if ((err = rd(c, lin * c->bs, blk, c->bs, "bmbt block")))
		return err;
	if (!cksum_ok(blk, c->bs, XFS_LBLOCK_CRC_OFF))
		return CORRUPT(c, "inode %llu bmbt block %llu: bad checksum", (unsigned long long)ino,
			       (unsigned long long)lin);
	if (be32(blk) != XFS_BMAP_CRC_MAGIC || be16(blk + 4) != level || be64(blk + 56) != ino ||
	    be64(blk + 24) != lin_daddr(c, lin) || !uuid_ok(c, blk + 40))
		return CORRUPT(c,
			       "inode %llu bmbt block %llu: magic 0x%08x level %u owner %llu, expected level "
			       "%u (or its address or UUID is another block's)",
			       (unsigned long long)ino, (unsigned long long)lin, be32(blk), be16(blk + 4),
			       (unsigned long long)be64(blk + 56), level);
	if (sibling_check(c, level, fsb, be64(blk + 8), be64(blk + 16), NULLFSBLOCK))
		return CORRUPT(c, "inode %llu bmbt block %llu: sibling pointers do not match the walk",
			       (unsigned long long)ino, (unsigned long long)lin);
	nrecs = be16(blk + 6);
	maxrecs = (c->bs - XFS_LBLOCK_HDR) / 16;
	if (!nrecs || nrecs > maxrecs)
		return CORRUPT(c, "inode %llu bmbt block %llu: %u records", (unsigned long long)ino,
			       (unsigned long long)lin, nrecs);
	first = level ? be64(blk + XFS_LBLOCK_HDR) : (be64(blk + XFS_LBLOCK_HDR) & ((1ull << 63) - 1)) >> 9;
	if (first != key)
		return CORRUPT(c, "inode %llu bmbt block %llu: first key %llu, its parent says %llu",
			       (unsigned long long)ino, (unsigned long long)lin, (unsigned long long)first,
			       (unsigned long long)key);
	f->bt_blocks++;
	if ((err = claim(c, lin, 1, c->cur_owner)))
		return err;
	for (uint32_t i = 0; i < nrecs; i++) {
		const uint8_t *k = blk + XFS_LBLOCK_HDR + i * (level ? 8 : 16);

		if (!level)
			err = fork_add(c, f, ino, k, realtime);
		else if (i && be64(k) <= be64(k - 8))
			err = CORRUPT(c, "inode %llu bmbt block %llu: keys out of order", (unsigned long long)ino,
				      (unsigned long long)lin);
		else
			err = bmbt_walk(c, f, ino, be64(blk + XFS_LBLOCK_HDR + maxrecs * 8 + i * 8), level - 1, be64(k),
					realtime);
		if (err)
			return err;
	}
	return 0;
}

/* Fills f with the mappings of a fork in extents or B+tree format (fsize bytes in the inode). */
static int read_fork(struct xfs_ctx *c, struct fork *f, uint64_t ino, int fmt, const uint8_t *fork, size_t fsize,
		     uint64_t nextents, bool realtime)
{
	f->n = 0;
	f->bt_blocks = 0;
	if (fmt == XFS_DINODE_FMT_EXTENTS) {
		if (nextents > fsize / 16)
			return CORRUPT(c, "inode %llu: %llu extents do not fit the %zu-byte %s fork",
				       (unsigned long long)ino, (unsigned long long)nextents, fsize, f->name);
		for (uint64_t i = 0; i < nextents; i++) {
			int err = fork_add(c, f, ino, fork + i * 16, realtime);

			if (err)
				return err;
		}
		return 0;
	}
	if (fmt == XFS_DINODE_FMT_BTREE) {
		uint32_t level = fsize < 4 ? 0 : be16(fork), nrecs = fsize < 4 ? 0 : be16(fork + 2);
		uint32_t maxrecs = fsize < 4 ? 0 : (uint32_t)((fsize - 4) / 16);

		/* A fork whose extents fit the inode is in extents format (xfs_iformat_btree). */
		if (level < 1 || level > XAL_XFS_MAXLEVELS - 1 || !nrecs || nrecs > maxrecs || nextents <= fsize / 16)
			return CORRUPT(c, "inode %llu: %s fork bmbt root level %u with %u records for %llu extents",
				       (unsigned long long)ino, f->name, level, nrecs, (unsigned long long)nextents);
		memset(&c->sib, 0, sizeof(c->sib));
		for (uint32_t i = 0; i < nrecs; i++) {
			uint64_t key = be64(fork + 4 + i * 8);
			int err;

			if (i && key <= be64(fork + 4 + (i - 1) * 8))
				return CORRUPT(c, "inode %llu: %s fork bmbt root keys out of order",
					       (unsigned long long)ino, f->name);
			err = bmbt_walk(c, f, ino, be64(fork + 4 + maxrecs * 8 + i * 8), level - 1, key, realtime);
			if (err)
				return err;
		}
		if (siblings_done(c, NULLFSBLOCK))
			return CORRUPT(c, "inode %llu: %s fork bmbt: the last block of a level has a right sibling",
				       (unsigned long long)ino, f->name);
		if (f->n != nextents)
			return CORRUPT(c, "inode %llu: bmbt holds %zu extents, the inode says %llu",
				       (unsigned long long)ino, f->n, (unsigned long long)nextents);
		return 0;
	}
	return CORRUPT(c, "inode %llu: %s fork format %d", (unsigned long long)ino, f->name, fmt);
}

static uint64_t fork_blocks(const struct fork *f)
{
	uint64_t n = f->bt_blocks;

	for (size_t i = 0; i < f->n; i++)
		n += f->v[i].len;
	return n;
}

static inline int claim_fork(struct xfs_ctx *c, const struct fork *f, uint32_t owner)
{
	for (size_t i = 0; i < f->n; i++) {
		int err = claim(c, f->v[i].lin, f->v[i].len, owner);

		if (err)
			return err;
	}
	return 0;
}

/* Copies the data fork into the pool, split where refcount records say blocks are shared. */
static int emit_file_extents(struct xfs_ctx *c, uint32_t idx, bool realtime)
{
	struct xal_build *b = c->b;
	uint64_t first = b->n_exts;
	int err;

	for (size_t i = 0; i < c->dfork.n; i++) {
		const struct xext *e = &c->dfork.v[i];
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

static uint32_t rol32(uint32_t w, unsigned s)
{
	return w << s | w >> (32 - s);
}

/* The directory name hash (xfs_da_hashname; case-folded on ASCII-CI file systems). */
static uint32_t dir_hash(const struct xfs_ctx *c, const uint8_t *name, size_t n)
{
	uint8_t ch[4];
	uint32_t h = 0;
	size_t i = 0;

	for (; n - i >= 4; i += 4) {
		for (int k = 0; k < 4; k++)
			ch[k] = c->ascii_ci && name[i + k] >= 'A' && name[i + k] <= 'Z' ? name[i + k] + 32
											: name[i + k];
		h = ((uint32_t)ch[0] << 21) ^ ((uint32_t)ch[1] << 14) ^ ((uint32_t)ch[2] << 7) ^ ch[3] ^
		    rol32(h, 7 * 4);
	}
	for (size_t k = 0; i + k < n; k++)
		ch[k] = c->ascii_ci && name[i + k] >= 'A' && name[i + k] <= 'Z' ? name[i + k] + 32 : name[i + k];
	switch (n - i) {
	case 3: return ((uint32_t)ch[0] << 14) ^ ((uint32_t)ch[1] << 7) ^ ch[2] ^ rol32(h, 7 * 3);
	case 2: return ((uint32_t)ch[0] << 7) ^ ch[1] ^ rol32(h, 7 * 2);
	case 1: return ch[0] ^ rol32(h, 7);
	default: return h;
	}
}

/* The type an entry's ftype byte gives (0: not recorded). */
static enum xal_type ftype_type(unsigned ft)
{
	static const enum xal_type t[XFS_DIR3_FT_MAX] = {XAL_TYPE_UNKNOWN, XAL_TYPE_REG,  XAL_TYPE_DIR,  XAL_TYPE_CHR,
							 XAL_TYPE_BLK,     XAL_TYPE_FIFO, XAL_TYPE_SOCK, XAL_TYPE_LNK};

	return ft < XFS_DIR3_FT_MAX ? t[ft] : XAL_TYPE_UNKNOWN;
}

/* No byte of the word is 0 or '/' (the exact zero-byte test, on w and on w ^ "////////"). */
static inline bool word_clean(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t x = w ^ (ones * '/');

	return !(((w - ones) & ~w & highs) | ((x - ones) & ~x & highs));
}

/* A name without '/' or NUL (xfs_dir2_namecheck), eight bytes at a time: it runs once per entry. */
static inline bool name_ok(const uint8_t *p, size_t n)
{
	uint64_t w;
	size_t k = 0;

	for (; k + 8 <= n; k += 8) {
		memcpy(&w, p + k, 8);
		if (!word_clean(w))
			return false;
	}
	for (; k < n; k++)
		if (!p[k] || p[k] == '/')
			return false;
	return true;
}

/* The message of a bad entry (out of the way of the check, which runs once per entry). */
static __attribute__((cold, noinline)) int dent_bad(struct xfs_ctx *c, uint64_t dir, const uint8_t *name, size_t nl,
						    uint64_t ino, unsigned ft, const char *where)
{
	char esc[XAL_NAME_ESC_MAX];

	xal_name_escape((const char *)name, nl, esc, sizeof(esc));
	if (!name_ok(name, nl))
		return CORRUPT(c, "directory inode %llu %s: name '%s' holds '/' or NUL", (unsigned long long)dir, where,
			       esc);
	if (ft >= XFS_DIR3_FT_MAX)
		return CORRUPT(c, "directory inode %llu %s: entry '%s' has file type %u", (unsigned long long)dir,
			       where, esc, ft);
	return CORRUPT(c, "directory inode %llu %s: entry '%s' names inode %llu, which cannot be",
		       (unsigned long long)dir, where, esc, (unsigned long long)ino);
}

/* One entry's name and inode number, as xfs_dir2_namecheck and xfs_verify_dir_ino want them. */
static inline int dent_check(struct xfs_ctx *c, uint64_t dir, const uint8_t *name, size_t nl, uint64_t ino, unsigned ft,
			     const char *where)
{
	if (name_ok(name, nl) && ft < XFS_DIR3_FT_MAX && ino_ok(c, ino) && !is_sysino(c, ino))
		return 0;
	return dent_bad(c, dir, name, nl, ino, ft, where);
}

static int sf_dir(struct xfs_ctx *c, uint64_t ino, uint32_t idx, const uint8_t *fork, size_t fsize, uint64_t size)
{
	uint64_t first = c->b->n_dents, parent;
	size_t pos, count, i8, off = XFS_DIR3_DATA_FIRST, ft = c->ftype ? 1 : 0, n8 = 0;
	int err;

	if (size > fsize || size < 6)
		return CORRUPT(c, "inode %llu: shortform directory of %llu bytes in a %zu-byte fork",
			       (unsigned long long)ino, (unsigned long long)size, fsize);
	count = fork[0];
	i8 = fork[1] ? 8 : 4; /* any 8-byte inode number makes them all 8 bytes */
	if (2 + i8 > size)
		goto bad;
	parent = i8 == 8 ? be64(fork + 2) : be32(fork + 2);
	n8 += parent > UINT32_MAX;
	if (!ino_ok(c, parent))
		return CORRUPT(c, "inode %llu: shortform directory: parent inode %llu out of range",
			       (unsigned long long)ino, (unsigned long long)parent);
	if ((err = xal_build_dotdot(c->b, idx, parent)))
		return err;
	pos = 2 + i8;
	for (size_t n = 0; n < count; n++) {
		size_t nl, eoff;
		uint64_t cino;
		unsigned type;

		if (pos + 3 > size)
			goto bad;
		nl = fork[pos];
		eoff = be16(fork + pos + 1);
		if (!nl || pos + 3 + nl + ft + i8 > size)
			goto bad;
		type = ft ? fork[pos + 3 + nl] : 0;
		cino = i8 == 8 ? be64(fork + pos + 3 + nl + ft) : be32(fork + pos + 3 + nl + ft);
		n8 += cino > UINT32_MAX;
		/* Offsets are where the entries would go in a block: increasing (xfs_dir2_sf_verify). */
		if (eoff < off)
			return CORRUPT(c, "inode %llu: shortform directory entry %zu: offset %zu before %zu",
				       (unsigned long long)ino, n, eoff, off);
		off = eoff + ((8 + 1 + nl + ft + 2 + 7) & ~(size_t)7);
		if ((err = dent_check(c, ino, fork + pos + 3, nl, cino, type, "(shortform)")))
			return err;
		if ((err = xal_build_dent_typed(c->b, (const char *)fork + pos + 3, nl, cino, ftype_type(type))))
			return err;
		pos += 3 + nl + ft + i8;
	}
	if (pos != size || fork[1] != n8 || off > c->dirbs)
		return CORRUPT(c,
			       "inode %llu: shortform directory: %zu of %llu bytes used, %u of %zu 8-byte "
			       "inode numbers",
			       (unsigned long long)ino, pos, (unsigned long long)size, fork[1], n8);
	if ((err = xal_build_dir_done(c->b, idx, first)))
		return CORRUPT(c, "inode %llu: shortform directory holds a name twice", (unsigned long long)ino);
	return 0;
bad:
	return CORRUPT(c, "inode %llu: shortform directory entry runs past its %llu bytes", (unsigned long long)ino,
		       (unsigned long long)size);
}

/* A name hash and the entry it belongs to, to match a block directory's leaf against its entries. */
struct hashent {
	uint32_t addr; /* byte offset / 8 */
	uint32_t hash;
	bool used; /* a leaf entry named it */
};

static int dir_data_block(struct xfs_ctx *c, struct pdir *pd, const struct ditem *it, uint8_t *d)
{
	uint32_t magic = be32(d), count = 0, stale = 0, nseen = 0;
	size_t end = c->dirbs, pos = XFS_DIR3_DATA_HDR;
	unsigned freeseen = 0, lastfree = 0;
	struct hashent *ents = NULL;
	size_t nents = 0, capents = 0;
	char where[64];
	int err = -EUCLEAN;

	snprintf(where, sizeof(where), "block %llu", (unsigned long long)it->dblk);
	if (!cksum_ok(d, c->dirbs, XFS_DIR3_CRC_OFF))
		return CORRUPT(c, "directory inode %llu block %llu: bad checksum", (unsigned long long)pd->ino,
			       (unsigned long long)it->dblk);
	/* The block format keeps its leaf in its one block; leaf and node formats in blocks of their own. */
	if (magic != (pd->leaf ? XFS_DIR3_DATA_MAGIC : XFS_DIR3_BLOCK_MAGIC) || (!pd->leaf && pd->nitems != 1))
		return CORRUPT(c, "directory inode %llu block %llu: bad magic 0x%08x", (unsigned long long)pd->ino,
			       (unsigned long long)it->dblk, magic);
	if (be64(d + 40) != pd->ino || be64(d + 8) != lin_daddr(c, it->lin0) || !uuid_ok(c, d + 24))
		return CORRUPT(c,
			       "directory inode %llu block %llu: owner %llu, address %llu or UUID of another "
			       "block",
			       (unsigned long long)pd->ino, (unsigned long long)it->dblk,
			       (unsigned long long)be64(d + 40), (unsigned long long)be64(d + 8));
	if (magic == XFS_DIR3_BLOCK_MAGIC) {
		count = be32(d + c->dirbs - 8);
		stale = be32(d + c->dirbs - 4);
		if ((uint64_t)count * 8 + 8 + XFS_DIR3_DATA_HDR > c->dirbs || stale > count)
			return CORRUPT(c, "directory inode %llu block %llu: %u leaf entries do not fit",
				       (unsigned long long)pd->ino, (unsigned long long)it->dblk, count);
		end = c->dirbs - 8 - (size_t)count * 8;
	}
	/* Best free spaces: longest first, unused slots zero. */
	for (int i = 0; i < 3; i++) {
		uint16_t bo = be16(d + 48 + 4 * i), bl = be16(d + 50 + 4 * i);

		if (!bl) {
			if (bo)
				goto bad_free;
			freeseen |= 1u << i;
		}
		if (i && bl > be16(d + 50 + 4 * (i - 1)))
			goto bad_free;
	}
	while (pos < end) {
		size_t len, nl;
		const uint8_t *name;
		uint64_t cino;
		unsigned type;

		if (end - pos < 8)
			goto bad;
		if (be16(d + pos) == 0xffff) {
			int slot;

			len = be16(d + pos + 2);
			if (len < 8 || (len & 7) || len > end - pos || be16(d + pos + len - 2) != pos || lastfree)
				goto bad;
			for (slot = 0; slot < 3; slot++)
				if (be16(d + 48 + 4 * slot) == pos && be16(d + 50 + 4 * slot))
					break;
			if (slot < 3) {
				if (be16(d + 50 + 4 * slot) != len || (freeseen & (1u << slot)))
					goto bad_free;
				freeseen |= 1u << slot;
			} else if (len > be16(d + 50 + 8)) {
				goto bad_free; /* longer than the third best, yet not listed */
			}
			lastfree = 1;
			pos += len;
			continue;
		}
		lastfree = 0;
		if (end - pos < 16)
			goto bad;
		nl = d[pos + 8];
		len = (8 + 1 + nl + (c->ftype ? 1 : 0) + 2 + 7) & ~(size_t)7;
		if (!nl || len > end - pos || be16(d + pos + len - 2) != pos)
			goto bad;
		name = d + pos + 9;
		cino = be64(d + pos);
		type = c->ftype ? d[pos + 9 + nl] : 0;
		if ((err = dent_check(c, pd->ino, name, nl, cino, type, where)))
			goto out;
		err = -EUCLEAN;
		nseen++;
		if (magic == XFS_DIR3_BLOCK_MAGIC &&
		    (err = xal_push((void **)&ents, &nents, &capents,
				    &(struct hashent){(uint32_t)(pos >> 3), dir_hash(c, name, nl), false},
				    sizeof(*ents))))
			goto out;
		err = -EUCLEAN;
		if (nl == 1 && name[0] == '.') {
			if (cino != pd->ino || (pd->dots & 1)) {
				CORRUPT(c, "directory inode %llu block %llu: '.' names inode %llu",
					(unsigned long long)pd->ino, (unsigned long long)it->dblk,
					(unsigned long long)cino);
				goto out;
			}
			pd->dots |= 1;
		} else if (nl == 2 && name[0] == '.' && name[1] == '.') {
			if (pd->dots & 2) {
				CORRUPT(c, "directory inode %llu block %llu: a second '..'",
					(unsigned long long)pd->ino, (unsigned long long)it->dblk);
				goto out;
			}
			pd->dots |= 2;
			if ((err = xal_build_dotdot(c->b, pd->idx, cino)))
				goto out;
		} else if ((err = xal_build_dent_typed(c->b, (const char *)name, nl, cino, ftype_type(type)))) {
			goto out;
		}
		err = -EUCLEAN;
		pos += len;
	}
	if (freeseen != 7)
		goto bad_free;
	if (magic == XFS_DIR3_BLOCK_MAGIC) {
		/* Every live leaf entry names an entry of this block by the hash of its name, each once. */
		const uint8_t *lp = d + end;
		uint32_t nstale = 0, live = 0;

		for (uint32_t i = 0; i < count; i++) {
			uint32_t hv = be32(lp + 8 * i), addr = be32(lp + 8 * i + 4);
			size_t lo = 0, hi = nents;

			if (i && hv < be32(lp + 8 * (i - 1)))
				goto bad_leaf;
			if (!addr) {
				nstale++;
				continue;
			}
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;

				if (ents[mid].addr < addr)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo >= nents || ents[lo].addr != addr || ents[lo].hash != hv || ents[lo].used)
				goto bad_leaf;
			ents[lo].used = true;
			live++;
		}
		if (nstale != stale || live != nseen)
			goto bad_leaf;
	}
	err = 0;
	goto out;
bad:
	CORRUPT(c, "directory inode %llu block %llu: entry at byte %zu runs past the block or has a wrong tag",
		(unsigned long long)pd->ino, (unsigned long long)it->dblk, pos);
	goto out;
bad_free:
	CORRUPT(c, "directory inode %llu block %llu: best free space table does not match the block",
		(unsigned long long)pd->ino, (unsigned long long)it->dblk);
	goto out;
bad_leaf:
	CORRUPT(c, "directory inode %llu block %llu: leaf entries do not match the names", (unsigned long long)pd->ino,
		(unsigned long long)it->dblk);
out:
	free(ents);
	return err;
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
 * A directory in extents or B+tree format (mappings in c->dfork): records its
 * data blocks (below the leaf offset) for read_dirs. Holes inside a directory
 * block are refused here, while its inode is parsed.
 */
static int defer_dir(struct xfs_ctx *c, uint64_t ino, uint32_t idx)
{
	uint64_t leaf_fblk = XFS_DIR2_LEAF_OFFSET >> c->blocklog;
	uint32_t per = 1u << c->dirblklog;
	uint64_t last_done = UINT64_MAX;
	const struct fork *f = &c->dfork;
	struct pdir *pd;
	int err;

	if ((err = grow((void **)&c->pdirs, &c->cappdirs, c->npdirs, sizeof(*c->pdirs))))
		return err;
	pd = &c->pdirs[c->npdirs];
	memset(pd, 0, sizeof(*pd));
	pd->ino = ino;
	pd->idx = idx;
	pd->ext0 = c->ndext;
	pd->next = f->n;
	pd->item0 = c->nditems;
	pd->leaf = f->n && f->v[f->n - 1].off + f->v[f->n - 1].len > leaf_fblk;
	for (size_t i = 0; i < f->n; i++) {
		if ((err = grow((void **)&c->dext, &c->capdext, c->ndext, sizeof(*c->dext))))
			return err;
		c->dext[c->ndext++] = f->v[i];
	}
	for (size_t i = 0; i < f->n; i++) {
		const struct xext *e = &f->v[i];

		for (uint64_t fb = e->off & ~(uint64_t)(per - 1); fb < e->off + e->len && fb < leaf_fblk; fb += per) {
			uint64_t dblk = fb >> c->dirblklog, lin, lin0;
			bool contig = true;

			if (dblk == last_done)
				continue;
			last_done = dblk;
			if (map_block(f->v, f->n, fb, &lin0))
				return CORRUPT(c, "directory inode %llu: directory block %llu is partly a hole",
					       (unsigned long long)ino, (unsigned long long)dblk);
			for (uint32_t k = 1; k < per; k++) {
				if (map_block(f->v, f->n, fb + k, &lin))
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
	if (!pd->nitems)
		return CORRUPT(c, "directory inode %llu has no data block", (unsigned long long)ino);
	c->npdirs++;
	return 0;
}

/* Reads and parses the blocks of every deferred directory, in the order they were found. */
static int read_dirs(struct xfs_ctx *c)
{
	size_t ahead = 0; /* next directory block to announce */
	int err;

	for (size_t p = 0; p < c->npdirs; p++) {
		struct pdir *pd = &c->pdirs[p];
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
				uint64_t fb = it->dblk << c->dirblklog, lin;

				err = 0;
				for (uint32_t k = 0; k < (1u << c->dirblklog) && !err; k++) {
					if (map_block(c->dext + pd->ext0, pd->next, fb + k, &lin))
						return CORRUPT(
							c,
							"directory inode %llu: directory block %llu is partly a hole",
							(unsigned long long)pd->ino, (unsigned long long)it->dblk);
					err = rd(c, lin * c->bs, c->dbuf + (size_t)k * c->bs, c->bs, "directory block");
				}
			}
			if (err)
				return err;
			if ((err = dir_data_block(c, pd, it, c->dbuf)))
				return err;
		}
		if (pd->dots != 3)
			return CORRUPT(c, "directory inode %llu: no '.' or no '..' entry", (unsigned long long)pd->ino);
		if ((err = xal_build_dir_done(c->b, pd->idx, first)))
			return CORRUPT(c, "directory inode %llu holds a name twice", (unsigned long long)pd->ino);
	}
	return 0;
}

/* A symlink's remote blocks: one header per mapping, as the kernel writes them (xfs_symlink_write_target). */
static int remote_symlink(struct xfs_ctx *c, uint64_t ino, uint32_t idx, uint64_t size)
{
	char target[XFS_SYMLINK_MAXLEN];
	uint64_t space = c->bs - XFS_SYMLINK_HDR, want = (size + space - 1) / space, got_blocks = 0;
	size_t got = 0;
	int err;

	for (size_t i = 0; i < c->dfork.n; i++) {
		const struct xext *e = &c->dfork.v[i];
		size_t n;

		if (e->off != got_blocks || e->len > want - got_blocks)
			break;
		got_blocks += e->len;
		if ((err = rd(c, e->lin * c->bs, c->dbuf, e->len * c->bs, "symlink block")))
			return err;
		n = (size_t)(e->len * c->bs - XFS_SYMLINK_HDR);
		if (n > size - got)
			n = size - got;
		if (!cksum_ok(c->dbuf, e->len * c->bs, XFS_SYMLINK_CRC_OFF))
			return CORRUPT(c, "symlink inode %llu block %llu: bad checksum", (unsigned long long)ino,
				       (unsigned long long)e->lin);
		if (be32(c->dbuf) != XFS_SYMLINK_MAGIC || be32(c->dbuf + 4) != got || be32(c->dbuf + 8) != n ||
		    be64(c->dbuf + 32) != ino || be64(c->dbuf + 40) != lin_daddr(c, e->lin) ||
		    !uuid_ok(c, c->dbuf + 16))
			return CORRUPT(c, "symlink inode %llu block %llu: bad header", (unsigned long long)ino,
				       (unsigned long long)e->lin);
		memcpy(target + got, c->dbuf + XFS_SYMLINK_HDR, n);
		got += n;
	}
	if (got != size || got_blocks != want || memchr(target, 0, got))
		return CORRUPT(c, "symlink inode %llu: %zu of %llu target bytes found in %llu of %llu blocks",
			       (unsigned long long)ino, got, (unsigned long long)size, (unsigned long long)got_blocks,
			       (unsigned long long)want);
	return xal_build_symlink(c->b, idx, target, got);
}

static int parse_inode(struct xfs_ctx *c, uint64_t ino, uint8_t *d)
{
	uint16_t mode = be16(d + 2);
	int fmt = d[5], afmt = (int8_t)d[83];
	uint32_t nlink = be32(d + 16);
	uint64_t size = be64(d + 56), nblocks = be64(d + 64);
	uint64_t flags2 = be64(d + 120);
	uint16_t diflags = be16(d + 90);
	uint32_t forkoff = d[82];
	size_t lit = c->isize - XFS_DINODE_V3_CORE, dsize, asize;
	uint8_t *fork = d + XFS_DINODE_V3_CORE;
	bool big = flags2 & XFS_DIFLAG2_NREXT64, realtime = diflags & XFS_DIFLAG_REALTIME, sys = is_sysino(c, ino);
	uint64_t nextents = big ? be64(d + 24) : be32(d + 76), anextents = big ? be32(d + 76) : be16(d + 80);
	enum xal_type type;
	uint32_t idx = UINT32_MAX, owner;
	int err, okfmt;

	if (!cksum_ok(d, c->isize, XFS_DINODE_CRC_OFF))
		return CORRUPT(c, "inode %llu: bad checksum", (unsigned long long)ino);
	if (be16(d) != XFS_DINODE_MAGIC || d[4] != 3 || be64(d + 152) != ino || !uuid_ok(c, d + 160))
		return CORRUPT(c, "inode %llu: bad magic 0x%04x, version %u, number %llu or UUID",
			       (unsigned long long)ino, be16(d), d[4], (unsigned long long)be64(d + 152));
	type = xal_type_from_mode(mode);
	if (type == XAL_TYPE_UNKNOWN)
		return CORRUPT(c, "inode %llu: mode 0%o is no file type (the inode B+tree says it is allocated)",
			       (unsigned long long)ino, mode);
	if (size >> 63 || ((type == XAL_TYPE_DIR || type == XAL_TYPE_LNK) && !size))
		return CORRUPT(c, "inode %llu (%s): size %llu", (unsigned long long)ino, xal_type_str(type),
			       (unsigned long long)size);
	if ((big && !c->nrext64) || (realtime && (!c->rblocks || type != XAL_TYPE_REG)))
		return CORRUPT(c, "inode %llu: flags 0x%x/0x%llx need features the file system lacks",
			       (unsigned long long)ino, diflags, (unsigned long long)flags2);
	/* Formats the mode allows (xfs_dinode_verify) and the extent counts they allow. */
	switch (type) {
	case XAL_TYPE_REG: okfmt = fmt == XFS_DINODE_FMT_EXTENTS || fmt == XFS_DINODE_FMT_BTREE; break;
	case XAL_TYPE_DIR: okfmt = fmt >= XFS_DINODE_FMT_LOCAL && fmt <= XFS_DINODE_FMT_BTREE; break;
	case XAL_TYPE_LNK: okfmt = fmt == XFS_DINODE_FMT_LOCAL || fmt == XFS_DINODE_FMT_EXTENTS; break;
	default: okfmt = fmt == XFS_DINODE_FMT_DEV; break;
	}
	if (!okfmt || ((fmt == XFS_DINODE_FMT_LOCAL || fmt == XFS_DINODE_FMT_DEV) && nextents))
		return CORRUPT(c, "inode %llu (%s): data fork format %d with %llu extents", (unsigned long long)ino,
			       xal_type_str(type), fmt, (unsigned long long)nextents);
	if (forkoff ? (fmt == XFS_DINODE_FMT_DEV ? forkoff != 1 : forkoff * 8u >= lit)
		    : (afmt != 0 && afmt != XFS_DINODE_FMT_EXTENTS) || anextents)
		return CORRUPT(c, "inode %llu: fork offset %u (attr format %d, %llu attr extents)",
			       (unsigned long long)ino, forkoff, afmt, (unsigned long long)anextents);
	if (nextents + anextents > nblocks || (!nextents && !anextents && nblocks))
		return CORRUPT(c, "inode %llu: %llu + %llu extents in %llu blocks", (unsigned long long)ino,
			       (unsigned long long)nextents, (unsigned long long)anextents,
			       (unsigned long long)nblocks);
	dsize = forkoff ? forkoff * 8u : lit;
	asize = lit - (forkoff ? forkoff * 8u : lit);
	if (!sys) {
		err = xal_build_inode(c->b, ino, type, size, nlink, &idx);
		if (err < 0)
			return err;
		if (err == 0)
			return CORRUPT(c, "inode %llu indexed twice", (unsigned long long)ino);
		if (ino == c->rootino) {
			c->b->root = idx;
			c->b->root_ino = ino;
		}
	}
	owner = sys ? OWN_SYSINODE : idx;
	c->cur_owner = owner;
	c->dfork.n = c->dfork.bt_blocks = 0;
	c->afork.n = c->afork.bt_blocks = 0;
	if (fmt == XFS_DINODE_FMT_EXTENTS || fmt == XFS_DINODE_FMT_BTREE) {
		if ((err = read_fork(c, &c->dfork, ino, fmt, fork, dsize, nextents, realtime)))
			return err;
	}
	if (forkoff && afmt != XFS_DINODE_FMT_LOCAL &&
	    (err = read_fork(c, &c->afork, ino, afmt, fork + dsize, asize, anextents, false)))
		return err;
	if (fork_blocks(&c->dfork) + fork_blocks(&c->afork) != nblocks)
		return CORRUPT(c, "inode %llu: its forks map %llu blocks, the inode says %llu", (unsigned long long)ino,
			       (unsigned long long)(fork_blocks(&c->dfork) + fork_blocks(&c->afork)),
			       (unsigned long long)nblocks);
	if ((err = claim_fork(c, &c->afork, owner)))
		return err;
	/* Regular files claim their blocks from the pool, split where shared; realtime ones are elsewhere. */
	if ((type != XAL_TYPE_REG || sys) && !realtime && (err = claim_fork(c, &c->dfork, owner)))
		return err;
	if (sys)
		return 0;
	switch (type) {
	case XAL_TYPE_REG: return emit_file_extents(c, idx, realtime);
	case XAL_TYPE_DIR:
		if (fmt == XFS_DINODE_FMT_LOCAL)
			return sf_dir(c, ino, idx, fork, dsize, size);
		return defer_dir(c, ino, idx);
	case XAL_TYPE_LNK:
		if (size > XFS_SYMLINK_MAXLEN)
			return CORRUPT(c, "symlink inode %llu: %llu-byte target", (unsigned long long)ino,
				       (unsigned long long)size);
		if (fmt == XFS_DINODE_FMT_LOCAL) {
			if (size > dsize || memchr(fork, 0, size))
				return CORRUPT(c,
					       "symlink inode %llu: %llu-byte target in a %zu-byte fork, or a NUL in "
					       "it",
					       (unsigned long long)ino, (unsigned long long)size, dsize);
			return xal_build_symlink(c->b, idx, (const char *)fork, size);
		}
		return remote_symlink(c, ino, idx, size);
	default:
		/* Devices, FIFOs and sockets: no data fork to read. */
		return 0;
	}
}

/* Byte range of the allocated inodes of chunk record cr: 0, or 1 when the chunk runs past its AG. */
static int chunk_span(const struct xfs_ctx *c, const struct chunk_rec *cr, uint64_t *off, size_t *len)
{
	size_t clen = 64 * (size_t)c->isize;
	uint64_t agbno = cr->startino >> c->inopblog;
	int first = __builtin_ctzll(cr->alloc), last = 63 - __builtin_clzll(cr->alloc);

	if (agbno + (clen + c->bs - 1) / c->bs > ag_len(c, cr->agno))
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
	size_t ahead = 0; /* next chunk to announce */

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

/* ---- no block with two owners ---- */

static const char *claim_name(const struct xfs_ctx *c, const struct xal_claim *cl, char *buf, size_t len)
{
	static const char *const meta[] = {"free space",
					   "the AG headers",
					   "the AGFL",
					   "the log",
					   "the free-space btree",
					   "the inobt",
					   "the refcountbt",
					   "an inode chunk",
					   "a CoW staging extent",
					   "a quota or realtime metadata inode"};

	if (cl->owner >= XAL_CLAIM_META && cl->owner - XAL_CLAIM_META < sizeof(meta) / sizeof(meta[0]))
		snprintf(buf, len, "%s", meta[cl->owner - XAL_CLAIM_META]);
	else if (cl->owner < c->b->n_inodes)
		snprintf(buf, len, "inode %llu (%s)", (unsigned long long)c->b->inodes[cl->owner].ino,
			 xal_type_str((enum xal_type)c->b->inodes[cl->owner].type));
	else
		snprintf(buf, len, "owner %u", cl->owner);
	return buf;
}

static int claim_clash(struct xfs_ctx *c, const struct xal_claim *a, const struct xal_claim *b, const char *why)
{
	char na[96], nb[96];
	uint64_t blk = b->start > a->start ? b->start : a->start;

	return CORRUPT(c, "block %llu (AG %llu block %llu) %s: %s and %s", (unsigned long long)blk,
		       (unsigned long long)(blk / c->agblocks), (unsigned long long)(blk % c->agblocks), why,
		       claim_name(c, a, na, sizeof(na)), claim_name(c, b, nb, sizeof(nb)));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Coverage of one refcount record by the shared claims starting in it: its count at every block. */
static int refcount_cover(struct xfs_ctx *c, const struct rcext *rc, const uint64_t *starts, uint64_t *ends, size_t m)
{
	uint64_t p = rc->lin, rend = rc->lin + rc->len;
	size_t si = 0, ei = 0, cov = 0;

	if (m) /* ends is NULL when no claim starts here */
		qsort(ends, m, sizeof(*ends), cmp_u64);
	while (p < rend) {
		uint64_t q = rend;

		for (; si < m && starts[si] <= p; si++)
			cov++;
		for (; ei < m && ends[ei] <= p; ei++)
			cov--;
		if (cov != rc->refs)
			return CORRUPT(c,
				       "block %llu (AG %llu block %llu): the refcount btree says %u owners, %zu "
				       "extents claim it",
				       (unsigned long long)p, (unsigned long long)(p / c->agblocks),
				       (unsigned long long)(p % c->agblocks), rc->refs, cov);
		if (si < m && starts[si] < q)
			q = starts[si];
		if (ei < m && ends[ei] < q)
			q = ends[ei];
		p = q;
	}
	return 0;
}

/*
 * Shared claims (sorted) against the refcount records: every block of a record
 * with k references is claimed by exactly k shared extents, and no shared
 * extent lies outside a record.
 */
static int check_refcounts(struct xfs_ctx *c, const struct xal_claim *v, size_t n)
{
	uint64_t *starts = NULL, *ends = NULL;
	size_t ns = 0, caps = 0, ne = 0, cape = 0, r = 0;
	int err = 0;

	for (size_t i = 0; i <= n && !err; i++) {
		const struct xal_claim *cl = i < n ? &v[i] : NULL;
		uint64_t end;

		if (cl && !(cl->len & XAL_CLAIM_SHARED))
			continue;
		/* records before this claim are complete: check them */
		while (r < c->nrc && (!cl || c->rc[r].lin + c->rc[r].len <= cl->start)) {
			if ((err = refcount_cover(c, &c->rc[r], starts, ends, ns)))
				goto out;
			ns = ne = 0;
			r++;
		}
		if (!cl)
			break;
		end = cl->start + (cl->len & XAL_CLAIM_LEN_MAX);
		if (r >= c->nrc || cl->start < c->rc[r].lin || end > c->rc[r].lin + c->rc[r].len) {
			err = claim_clash(c, cl, cl, "is flagged shared outside any refcount record");
			goto out;
		}
		if ((err = xal_push((void **)&starts, &ns, &caps, &cl->start, sizeof(cl->start))) ||
		    (err = xal_push((void **)&ends, &ne, &cape, &end, sizeof(end))))
			goto out;
	}
out:
	free(starts);
	free(ends);
	return err;
}

/* The regular files' extents in the pool, one claim at a time in inode order (realtime ones left out). */
struct file_claims {
	const struct xal_build *b;
	uint64_t k;                        /* next inode */
	const struct xal_ext_rec *e, *end; /* extents of the current one left */
	const struct xal_claim *v;         /* or a sorted copy, when the pool is not in disk order */
	size_t n, i;
};

static inline bool file_claim_next(struct file_claims *it, struct xal_claim *out)
{
	const struct xal_build *b = it->b;

	if (it->v) {
		if (it->i == it->n)
			return false;
		*out = it->v[it->i++];
		return true;
	}
	for (;;) {
		uint32_t fl;

		while (it->e == it->end) {
			const struct xal_ino_rec *r;

			if (it->k == b->n_inodes)
				return false;
			r = &b->inodes[it->k++];
			if (r->type == XAL_TYPE_REG) {
				it->e = b->exts + r->first;
				it->end = it->e + r->count;
			}
		}
		fl = (uint32_t)(it->e->w0 >> XAL_REC_FOFF_BITS);
		if (fl & XAL_EXT_UNKNOWN) {
			it->e++; /* realtime */
			continue;
		}
		out->start = it->e->w1 & XAL_REC_PBLK_MAX;
		out->len = (uint32_t)(it->e->w1 >> XAL_REC_PBLK_BITS) | ((fl & XAL_EXT_SHARED) ? XAL_CLAIM_SHARED : 0);
		out->owner = (uint32_t)(it->k - 1);
		it->e++;
		return true;
	}
}

/* One pass of the sweep over the merged streams; -EAGAIN when the files' stream turns out of order. */
static int sweep_claims(struct xfs_ctx *c, struct file_claims *it, struct xal_claim **shared, size_t *nshared,
			size_t *capshared)
{
	struct xal_sweep sw = {0};
	struct xal_claim fc, other;
	uint64_t last_file = 0;
	size_t i = 0;
	bool more = file_claim_next(it, &fc);

	*nshared = 0;
	while (more || i < c->nclaims) {
		struct xal_claim cl;
		int err;

		if (more && (i == c->nclaims || fc.start < c->claims[i].start)) {
			if (fc.start < last_file)
				return -EAGAIN;
			last_file = fc.start;
			cl = fc;
			more = file_claim_next(it, &fc);
		} else {
			cl = c->claims[i++];
		}
		if (cl.start + (cl.len & XAL_CLAIM_LEN_MAX) > c->dblocks)
			return claim_clash(c, &cl, &cl, "lies beyond the end of the file system");
		if (xal_sweep_add(&sw, &cl, &other))
			return claim_clash(c, &other, &cl, "has two owners");
		if ((cl.len & XAL_CLAIM_SHARED) &&
		    (err = xal_push((void **)shared, nshared, capshared, &cl, sizeof(cl))))
			return err;
	}
	return 0;
}

/*
 * Every block read or mapped has one owner (or several shared owners, as many
 * as the refcount btree says). Metadata claims are sorted; the files' come
 * from the pool as they are while it is in disk order (an image written in one
 * pass), else from a sorted copy; the two streams are merged into one sweep.
 */
static int check_claims(struct xfs_ctx *c)
{
	struct file_claims it = {.b = c->b};
	struct xal_claim *copy = NULL, *shared = NULL, fc;
	size_t ncopy = 0, capcopy = 0, nshared = 0, capshared = 0;
	int err;

	if ((err = xal_claims_sort(c->claims, c->nclaims)))
		return err;
	err = sweep_claims(c, &it, &shared, &nshared, &capshared);
	if (err == -EAGAIN) {
		it = (struct file_claims){.b = c->b};
		while (file_claim_next(&it, &fc))
			if ((err = xal_push((void **)&copy, &ncopy, &capcopy, &fc, sizeof(fc))))
				goto out;
		if ((err = xal_claims_sort(copy, ncopy)))
			goto out;
		it = (struct file_claims){.b = c->b, .v = copy, .n = ncopy};
		err = sweep_claims(c, &it, &shared, &nshared, &capshared);
	}
	if (!err)
		err = check_refcounts(c, shared, nshared);
out:
	free(copy);
	free(shared);
	return err;
}

int xal_xfs_index(struct xal_build *b, const char *dev, const struct xal_opts *opts, struct xal_hdr *hdr)
{
	struct xfs_ctx c;
	struct stat st;
	int err;

	memset(&c, 0, sizeof(c));
	c.b = b;
	c.dev = dev;
	c.open_flags = opts->flags;
	c.dfork.name = "data";
	c.afork.name = "attr";
	c.fd = -1;
	if (opts->read) {
		c.read = opts->read;
		c.read_arg = opts->read_arg;
		c.dev_size = opts->read_size;
		hdr->part_offset = 0;
	} else {
		c.fd = open(dev, O_RDONLY | O_CLOEXEC);
		if (c.fd < 0)
			return xal_err(b, -errno, "%s", strerror(errno));
		c.read = fd_read;
		c.read_arg = &c.fd;
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
	}
	if ((err = read_sb(&c)))
		goto out;
	b->block_size = c.bs;
	hdr->block_size = c.bs;
	snprintf(hdr->fstype, sizeof(hdr->fstype), "xfs");
	c.chunk = malloc(64 * (size_t)c.isize);
	c.dbuf_len = c.dirbs > 4 * c.bs ? c.dirbs : 4 * c.bs; /* a remote symlink: at most 3 blocks */
	c.dbuf = malloc(c.dbuf_len);
	c.sect = malloc(c.sectsize);
	if (!c.chunk || !c.dbuf || !c.sect) {
		err = -ENOMEM;
		goto out;
	}
	if ((err = check_log(&c, hdr)))
		goto out;
	for (uint32_t ag = 0; ag < c.agcount; ag++)
		if ((err = read_ag(&c, ag)))
			goto out;
	/* Pools sized from the real counts: inodes from the inode B+trees, entries about one per inode. */
	{
		struct xal_build nb;

		if ((err = xal_build_init(&nb, c.ninodes, c.ninodes, c.ninodes)))
			goto out;
		nb.source = b->source;
		nb.block_size = c.bs;
		xal_build_free(b);
		*b = nb;
	}
	b->exact_links = 1;
	err = read_chunks(&c);
	if (!err)
		err = read_dirs(&c);
	if (!err && b->root == UINT32_MAX)
		err = CORRUPT(&c, "root inode %llu is not allocated", (unsigned long long)c.rootino);
	if (!err)
		err = check_claims(&c);
out:
	if (err)
		xal_err(b, err, "%s", strerror(-err));
	for (int i = 0; i <= XAL_XFS_MAXLEVELS; i++)
		free(c.lvl[i]);
	free(c.chunk);
	free(c.dbuf);
	free(c.sect);
	free(c.pdirs);
	free(c.dext);
	free(c.ditems);
	free(c.dfork.v);
	free(c.afork.v);
	free(c.rc);
	free(c.claims);
	free(c.chunks);
	if (c.fd >= 0)
		close(c.fd);
	return err;
}
