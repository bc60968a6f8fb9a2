/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The extent index of fil's aisio backends (aisio-cpu, aisio-gpu): XAL over the dataset's file
 * system (an XFS image or device, or a mount point read through FIEMAP), each dataset file mapped
 * to its inode by its real path under the mount point, and the check that a file's extents can be
 * read raw (inline, encoded or unknown extents and ones off LBA boundaries cannot: posix reads
 * those files).
 */
#include "fil_internal.h"

#include <aisio/log.h>
#include <aisio/xal.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The path inside the file system of each file, by its real path under the mount point. */
static int map_paths(struct fil_index *ix, struct fil_dataset *ds, const char *mount, const char *who)
{
	char *mp = realpath(mount, NULL);
	if (!mp) {
		int rc = -errno;
		aisio_log(AISIO_LOG_ERROR, mount, "%s: the mount point: %s", who, strerror(-rc));
		return rc;
	}
	size_t ml = strcmp(mp, "/") == 0 ? 0 : strlen(mp);
	uint64_t mapped = 0;
	for (uint32_t i = 0; i < ds->nfiles; i++) {
		ix->inode[i] = FIL_NO_INODE;
		char *rp = realpath(ds->files[i].path, NULL);
		if (!rp)
			continue; /* fails when read, naming itself */
		if (strncmp(rp, mp, ml) == 0 && (rp[ml] == '/' || rp[ml] == '\0')) {
			struct xal_inode ino;
			if (xal_lookup(ix->xal, rp + ml, &ino) == 0) {
				ix->inode[i] = ino.idx;
				mapped++;
			}
		}
		free(rp);
	}
	if (mapped == 0) {
		aisio_log(AISIO_LOG_ERROR, ds->root, "%s: no file of the dataset is in the index of %s (mounted at %s)",
			  who, ds->o.xal_source, mp);
		free(mp);
		return -ENOENT;
	}
	if (mapped < ds->nfiles)
		aisio_log(AISIO_LOG_INFO, ds->root, "%s: %" PRIu64 " of %u files not in the index: read by posix", who,
			  ds->nfiles - mapped, ds->nfiles);
	free(mp);
	return 0;
}

int fil_index_open(struct fil_index *ix, struct fil_dataset *ds, const char *who)
{
	const struct fil_opts *o = &ds->o;
	memset(ix, 0, sizeof(*ix));
	if (!o->xal_source) {
		aisio_log(AISIO_LOG_ERROR, "fil", "%s needs an XAL source (the file system's image or mount point)",
			  who);
		return -EINVAL;
	}
	const char *mount = o->xal_mount;
	struct stat st;
	if (!mount && stat(o->xal_source, &st) == 0 && S_ISDIR(st.st_mode))
		mount = o->xal_source;
	if (!mount) {
		aisio_log(AISIO_LOG_ERROR, o->xal_source,
			  "%s: where is this file system mounted? (xal_mount maps dataset paths into it)", who);
		return -EINVAL;
	}
	ix->inode = calloc(ds->nfiles, sizeof(*ix->inode));
	if (!ix->inode)
		return -ENOMEM;
	struct xal_opts xo = {.backend = XAL_BACKEND_AUTO};
	int rc = xal_open(&ix->xal, o->xal_source, &xo);
	if (rc < 0) {
		ix->xal = NULL;
		aisio_log(AISIO_LOG_ERROR, o->xal_source, "%s: cannot index the file system: %s", who, strerror(-rc));
		return rc;
	}
	return map_paths(ix, ds, mount, who);
}

void fil_index_close(struct fil_index *ix)
{
	if (ix->xal)
		xal_close(ix->xal);
	free(ix->inode);
	memset(ix, 0, sizeof(*ix));
}

/* Can every extent of the file be read raw? 1 yes, 0 no (posix reads it), <0 an index error. */
static int extents_readable(struct fil_index *ix, const struct xal_inode *ino, uint64_t size, uint32_t lba)
{
	for (uint32_t e = 0; e < ino->count; e++) {
		struct xal_extent x;
		int rc = xal_extent_get(ix->xal, ino, e, &x);
		if (rc < 0)
			return rc;
		if (x.file_offset >= size)
			break;
		if (x.flags & XAL_EXT_UNWRITTEN)
			continue;
		uint64_t slba, nlb;
		rc = xal_extent_lba(ix->xal, &x, lba, &slba, &nlb);
		if (rc == -ENODATA || rc == -EINVAL)
			return 0;
		if (rc < 0)
			return rc;
	}
	return 1;
}

int fil_index_raw(struct fil_index *ix, const struct fil_slot *s, unsigned at, uint32_t lba, struct xal_inode *ino)
{
	/* No stat here: the index must hold the size recorded at open, and the one stat after the
	 * reads sees a change made before they completed (a path lookup per file each). */
	uint32_t idx = ix->inode[s->files[at]];
	int ok = idx != FIL_NO_INODE && xal_inode_get(ix->xal, idx, ino) == 0 && ino->type == XAL_TYPE_REG &&
		 ino->size == s->lengths[at];
	return ok ? extents_readable(ix, ino, s->lengths[at], lba) : 0;
}

int fil_index_walk(struct fil_index *ix, const struct xal_inode *ino, uint64_t size, uint32_t lba, uint32_t max_lbas,
		   const struct fil_extent_sink *sink, void *arg)
{
	uint64_t cursor = 0;
	for (uint32_t e = 0; e < ino->count && cursor < size; e++) {
		struct xal_extent x;
		int rc = xal_extent_get(ix->xal, ino, e, &x);
		if (rc < 0)
			return rc;
		if (x.file_offset >= size)
			break;
		uint64_t end = x.file_offset + x.length < size ? x.file_offset + x.length : size;
		if (x.file_offset > cursor && (rc = sink->zero(arg, cursor, x.file_offset - cursor)) < 0)
			return rc;
		if (x.flags & XAL_EXT_UNWRITTEN) {
			rc = sink->zero(arg, x.file_offset, end - x.file_offset);
			if (rc < 0)
				return rc;
		} else {
			uint64_t slba, nlb;
			rc = xal_extent_lba(ix->xal, &x, lba, &slba, &nlb);
			if (rc < 0)
				return rc;
			uint64_t need = (end - x.file_offset + lba - 1) / lba;
			for (uint64_t done = 0; done < need;) {
				uint32_t n = need - done > max_lbas ? max_lbas : (uint32_t)(need - done);
				rc = sink->read(arg, x.file_offset + done * lba, slba + done, n);
				if (rc < 0)
					return rc;
				done += n;
			}
		}
		cursor = end;
	}
	return cursor < size ? sink->zero(arg, cursor, size - cursor) : 0;
}
