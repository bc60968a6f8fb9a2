/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * FIEMAP backend: walks a directory of a mounted file system with *at() calls
 * (no path is ever built, so long paths work), stats without following
 * symlinks, maps every regular file with FS_IOC_FIEMAP + FIEMAP_FLAG_SYNC.
 * One descriptor is open per directory level.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "xal_internal.h"

#define FIEMAP_BATCH 256

struct fm_ctx {
	struct xal_build *b;
	dev_t dev;
	uint32_t flags;
	struct fiemap *fm;
	int depth;
};

/* Appends every extent of the open file fd to c->b's extent pool. */
static int map_extents(struct fm_ctx *c, int fd)
{
	struct fiemap *fm = c->fm;
	uint64_t start = 0;
	int err;

	for (;;) {
		memset(fm, 0, sizeof(*fm));
		fm->fm_start = start;
		fm->fm_length = FIEMAP_MAX_OFFSET - start;
		fm->fm_flags = (c->flags & XAL_OPEN_NO_SYNC) ? 0 : FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = FIEMAP_BATCH;
		if (ioctl(fd, FS_IOC_FIEMAP, fm))
			return -errno;
		if (!fm->fm_mapped_extents)
			break;
		for (uint32_t i = 0; i < fm->fm_mapped_extents; i++) {
			struct fiemap_extent *e = &fm->fm_extents[i];

			if ((err = xal_build_extent(c->b, e->fe_logical, e->fe_physical, e->fe_length,
						    e->fe_flags & ~FIEMAP_EXTENT_LAST)))
				return err;
		}
		struct fiemap_extent *l = &fm->fm_extents[fm->fm_mapped_extents - 1];
		if (l->fe_flags & FIEMAP_EXTENT_LAST)
			break;
		if (l->fe_logical + l->fe_length <= start)
			return -EIO; /* no progress: refuse to spin */
		start = l->fe_logical + l->fe_length;
	}
	return 0;
}

static int map_file(struct fm_ctx *c, int fd, uint32_t idx)
{
	uint64_t first = c->b->n_exts;
	int err = map_extents(c, fd);

	if (err)
		return err;
	c->b->inodes[idx].first = (uint32_t)first;
	c->b->inodes[idx].count = (uint32_t)(c->b->n_exts - first);
	return 0;
}

static int add_stat(struct fm_ctx *c, const struct stat *st, uint32_t *idx)
{
	return xal_build_inode(c->b, st->st_ino, xal_type_from_mode(st->st_mode), (uint64_t)st->st_size,
			       (uint32_t)st->st_nlink, idx);
}

static int index_dir(struct fm_ctx *c, int dfd, uint32_t dir_idx);

static int index_entry(struct fm_ctx *c, int dfd, const char *name, uint32_t *child_idx, int *descend)
{
	struct stat st;
	uint32_t idx;
	int isnew, fd, err;

	*descend = 0;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	isnew = add_stat(c, &st, &idx);
	if (isnew < 0)
		return isnew;
	*child_idx = idx;
	if (!isnew)
		return 0; /* a hard link to an inode already mapped */
	if (S_ISDIR(st.st_mode)) {
		if (st.st_dev != c->dev) {
			c->b->inodes[idx].flags |= XAL_INO_MOUNTPOINT;
			return 0;
		}
		*descend = 1;
		return 0;
	}
	if (S_ISLNK(st.st_mode)) {
		char buf[PATH_MAX + 1];
		ssize_t n = readlinkat(dfd, name, buf, sizeof(buf) - 1);

		if (n < 0)
			return -errno;
		return xal_build_symlink(c->b, idx, buf, (size_t)n);
	}
	if (!S_ISREG(st.st_mode))
		return 0;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = map_file(c, fd, idx);
	close(fd);
	return err;
}

struct pending {
	char *name;
	uint32_t idx;
};

static int index_dir(struct fm_ctx *c, int dfd, uint32_t dir_idx)
{
	struct pending *sub = NULL;
	size_t nsub = 0, capsub = 0;
	uint64_t first = c->b->n_dents;
	struct dirent *de;
	DIR *d;
	int fd2, err = 0;

	if (++c->depth > 100000)
		return -ELOOP;
	/* fdopendir takes the descriptor: give it a duplicate, keep dfd for the *at calls. */
	fd2 = dup(dfd);
	if (fd2 < 0)
		return -errno;
	d = fdopendir(fd2);
	if (!d) {
		err = -errno;
		close(fd2);
		return err;
	}
	while ((errno = 0, de = readdir(d))) {
		uint32_t child;
		int descend;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		err = index_entry(c, dfd, de->d_name, &child, &descend);
		if (err == -ENOENT)
			continue; /* removed while we walked */
		if (err) {
			xal_err(c->b, err, "entry '%s' (directory inode %llu): %s", de->d_name,
				(unsigned long long)c->b->inodes[dir_idx].ino, strerror(-err));
			goto out;
		}
		if ((err = xal_build_dent(c->b, de->d_name, strlen(de->d_name), c->b->inodes[child].ino)))
			goto out;
		if (descend) {
			if (nsub == capsub) {
				struct pending *np;

				capsub = capsub ? capsub * 2 : 16;
				np = realloc(sub, capsub * sizeof(*sub));
				if (!np) {
					err = -ENOMEM;
					goto out;
				}
				sub = np;
			}
			sub[nsub].name = strdup(de->d_name);
			sub[nsub].idx = child;
			if (!sub[nsub].name) {
				err = -ENOMEM;
				goto out;
			}
			nsub++;
		}
	}
	if (errno) {
		err = -errno;
		goto out;
	}
	closedir(d);
	d = NULL;
	/* Entries of this directory are contiguous: sort them before descending adds others. */
	if ((err = xal_build_dir_done(c->b, dir_idx, first)))
		goto out;
	for (size_t i = 0; i < nsub; i++) {
		int cfd = openat(dfd, sub[i].name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (cfd < 0) {
			if (errno == ENOENT)
				continue;
			err = -errno;
			goto out;
		}
		err = index_dir(c, cfd, sub[i].idx);
		close(cfd);
		if (err)
			goto out;
	}
out:
	if (d)
		closedir(d);
	for (size_t i = 0; i < nsub; i++)
		free(sub[i].name);
	free(sub);
	c->depth--;
	return err;
}

static const char *fs_name(long type)
{
	switch ((unsigned long)type) {
	case 0x58465342: return "xfs";
	case 0xEF53: return "ext4";
	case 0x9123683E: return "btrfs";
	case 0x01021994: return "tmpfs";
	case 0xF2F52010: return "f2fs";
	default: return "unknown";
	}
}

/* Start of the partition holding dev, in bytes; 0 for a whole disk, loop device or unknown. */
uint64_t xal_part_offset(dev_t dev)
{
	char path[96];
	unsigned long long start = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/start", major(dev), minor(dev));
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &start) != 1)
		start = 0;
	fclose(f);
	return start * 512;
}

int xal_fiemap_index(struct xal_build *b, const char *dir, uint32_t flags, struct xal_hdr *hdr)
{
	struct fm_ctx c = {.b = b, .flags = flags};
	struct statfs sfs;
	struct stat st;
	int dfd, bsz = 0, err;
	uint32_t root;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return xal_err(b, -errno, "%s", strerror(errno));
	if (fstat(dfd, &st) || fstatfs(dfd, &sfs) || ioctl(dfd, FIGETBSZ, &bsz)) {
		err = -errno;
		close(dfd);
		return xal_err(b, err, "%s", strerror(-err));
	}
	if (bsz <= 0 || (bsz & (bsz - 1))) {
		close(dfd);
		return xal_err(b, -EINVAL, "block size %d", bsz);
	}
	b->block_size = (uint32_t)bsz;
	hdr->block_size = (uint32_t)bsz;
	snprintf(hdr->fstype, sizeof(hdr->fstype), "%s", fs_name(sfs.f_type));
	hdr->part_offset = xal_part_offset(st.st_dev);
	c.dev = st.st_dev;
	c.fm = malloc(sizeof(struct fiemap) + FIEMAP_BATCH * sizeof(struct fiemap_extent));
	if (!c.fm) {
		close(dfd);
		return -ENOMEM;
	}
	err = add_stat(&c, &st, &root);
	if (err >= 0) {
		b->root = root;
		b->root_ino = st.st_ino;
		err = index_dir(&c, dfd, root);
	}
	if (err < 0)
		err = xal_err(b, err, "indexing failed: %s", strerror(-err));
	free(c.fm);
	close(dfd);
	return err < 0 ? err : 0;
}

/* ---- watch mode: one entry or one file at a time (xal_update.c) ---- */

static int ctx_init(struct fm_ctx *c, struct xal_build *b, dev_t dev, uint32_t flags)
{
	memset(c, 0, sizeof(*c));
	c->b = b;
	c->dev = dev;
	c->flags = flags;
	c->fm = malloc(sizeof(struct fiemap) + FIEMAP_BATCH * sizeof(struct fiemap_extent));
	return c->fm ? 0 : -ENOMEM;
}

int xal_fiemap_entry(struct xal_build *b, int dfd, const char *name, dev_t dev, uint32_t flags, uint32_t *idx)
{
	struct fm_ctx c;
	int descend, err;

	if ((err = ctx_init(&c, b, dev, flags)))
		return err;
	err = index_entry(&c, dfd, name, idx, &descend);
	if (!err && descend) {
		int cfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		err = cfd < 0 ? -errno : index_dir(&c, cfd, *idx);
		if (cfd >= 0)
			close(cfd);
	}
	free(c.fm);
	return err;
}

int xal_fiemap_extents(struct xal_build *b, int fd, uint32_t flags)
{
	struct fm_ctx c;
	int err;

	if ((err = ctx_init(&c, b, 0, flags)))
		return err;
	err = map_extents(&c, fd);
	free(c.fm);
	return err;
}
