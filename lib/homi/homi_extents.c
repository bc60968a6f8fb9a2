/* SPDX-License-Identifier: BSD-3-Clause */
/* The daemon's shared XAL index: a file's LBA runs on its namespace, read under the seqlock. */
#include <aisio/homi.h>
#include <aisio/log.h>
#include <aisio/xal.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HOMI_EXTENTS_TRIES 1000 /* lookups torn by a watch update, retried (each is microseconds) */

struct homi_index {
	struct xal *x;
	struct homi_extents_reply info;
};

int homi_index_open(struct homi_client *hc, uint32_t dev, struct homi_index **out)
{
	struct homi_index *he = calloc(1, sizeof(*he));
	if (!he)
		return -ENOMEM;
	int rc = homi_extents_info(hc, dev, &he->info);
	if (rc == 0)
		rc = xal_shm_open(&he->x, he->info.shm);
	if (rc < 0) {
		free(he);
		return rc;
	}
	*out = he;
	return 0;
}

void homi_index_close(struct homi_index *he)
{
	if (!he)
		return;
	xal_close(he->x);
	free(he);
}

uint32_t homi_index_nsid(const struct homi_index *he)
{
	return he->info.nsid;
}

/* One consistent look: 0, a negative errno, or 1 when a watch update tore it (retry). */
static int lookup_once(struct homi_index *he, const char *path, uint32_t lba_size, struct homi_run *runs, unsigned max,
		       unsigned *n, uint64_t *size)
{
	uint64_t seq = xal_seq_begin(he->x);
	struct xal_inode ino;
	int rc = xal_lookup(he->x, path, &ino);
	if (rc == 0 && ino.type != XAL_TYPE_REG)
		rc = -EISDIR;
	unsigned k = 0;
	for (uint32_t i = 0; rc == 0 && i < ino.count; i++) {
		struct xal_extent e;
		rc = xal_extent_get(he->x, &ino, i, &e);
		if (rc < 0)
			break;
		if (k == max) {
			rc = -ENOBUFS;
			break;
		}
		uint64_t slba, nlb;
		rc = xal_extent_lba(he->x, &e, lba_size, &slba, &nlb);
		if (rc < 0)
			break;
		runs[k++] = (struct homi_run){.file_offset = e.file_offset,
					      .slba = slba,
					      .nlb = nlb,
					      .unwritten = (e.flags & XAL_EXT_UNWRITTEN) != 0};
	}
	if (xal_seq_retry(he->x, seq))
		return 1;
	if (rc == 0) {
		*n = k;
		*size = ino.size;
	}
	return rc;
}

int homi_index_lookup(struct homi_index *he, const char *path, uint32_t lba_size, struct homi_run *runs, unsigned max,
		      unsigned *n, uint64_t *size)
{
	for (int t = 0; t < HOMI_EXTENTS_TRIES; t++) {
		if (xal_shm_replaced(he->x)) {
			/* the index outgrew its object: the daemon moved it to a new one under the same name */
			struct xal *nx;
			int rc = xal_shm_open(&nx, he->info.shm);
			if (rc < 0)
				return rc;
			xal_close(he->x);
			he->x = nx;
		}
		int rc = lookup_once(he, path, lba_size, runs, max, n, size);
		if (rc <= 0)
			return rc;
	}
	aisio_log(AISIO_LOG_ERROR, he->info.source, "the index kept changing under %d lookups of %s",
		  HOMI_EXTENTS_TRIES, path);
	return -EAGAIN;
}
