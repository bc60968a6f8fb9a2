/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared index: one POSIX shared-memory object holding the header and every
 * pool at fixed capacities (with slack, so watch updates fit in place). The
 * writer republishes under a seqlock (hdr->seq odd while it writes); readers
 * map it read-only and bound every index by the capacities, which never change
 * for a mapping, so a torn read gives a wrong answer the seqlock rejects, never
 * an access outside the mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xal_internal.h"

#define ALIGN_UP(x, a) (((x) + (a)-1) & ~((uint64_t)(a)-1))

static uint64_t slack(uint64_t n)
{
	return n + n / 2 + 1024;
}

static uint64_t pow2_ge(uint64_t n)
{
	uint64_t p = 64;

	while (p < n)
		p *= 2;
	return p;
}

/* Points the pools of v at the region described by h (h at base). */
static void view_region(struct xal *v, struct xal_hdr *h)
{
	uint8_t *base = (uint8_t *)h;

	v->hdr = h;
	v->inodes = (struct xal_ino_rec *)(base + h->off_inodes);
	v->dents = (struct xal_dent *)(base + h->off_dents);
	v->exts = (struct xal_ext_rec *)(base + h->off_exts);
	v->names = (char *)(base + h->off_names);
	v->hash = (struct xal_hent *)(base + h->off_hash);
	v->cap_inodes = h->cap_inodes;
	v->cap_dents = h->cap_dents;
	v->cap_exts = h->cap_exts;
	v->cap_names = h->cap_names;
	v->n_hash = h->n_hash;
}

/* Copies the pools of x into the region (the writer holds the seqlock). */
static int fill_region(struct xal *x, struct xal_hdr *h)
{
	struct xal v;
	uint64_t reach, dups;
	int err;

	if (x->local.n_inodes > h->cap_inodes || x->local.n_dents > h->cap_dents || x->local.n_exts > h->cap_exts ||
	    x->local.n_names > h->cap_names)
		return -ENOSPC;
	memset(&v, 0, sizeof(v));
	view_region(&v, h);
	memcpy(v.inodes, x->inodes, x->local.n_inodes * sizeof(*x->inodes));
	memcpy(v.dents, x->dents, x->local.n_dents * sizeof(*x->dents));
	memcpy(v.exts, x->exts, x->local.n_exts * sizeof(*x->exts));
	memcpy(v.names, x->names, x->local.n_names);
	h->block_size = x->local.block_size;
	h->root = x->local.root;
	h->backend = x->local.backend;
	memcpy(h->fstype, x->local.fstype, sizeof(h->fstype));
	h->part_offset = x->local.part_offset;
	h->n_inodes = x->local.n_inodes;
	h->n_dents = x->local.n_dents;
	h->n_exts = x->local.n_exts;
	h->n_names = x->local.n_names;
	h->index_seconds = x->local.index_seconds;
	/* readers see that answers may be stale; the writer's REPLACED bit is its own */
	__atomic_fetch_or(&h->flags, x->local.flags & XAL_HDR_LOG_DIRTY, __ATOMIC_RELEASE);
	if (x->hash && x->n_hash == h->n_hash) {
		/* the writer keeps its own table at the region's size: copy, no walk */
		memcpy(v.hash, x->hash, h->n_hash * sizeof(*v.hash));
		h->reachable = x->local.reachable;
		h->hash_collisions = x->local.hash_collisions;
		return 0;
	}
	memset(v.hash, 0, h->n_hash * sizeof(*v.hash));
	if ((err = xal_hash_build(&v, v.hash, h->n_hash - 1, &reach, &dups)))
		return err;
	h->reachable = reach;
	h->hash_collisions = dups;
	return 0;
}

/* Creates the shared object name sized for x's counts with slack and fills it; on
 * success *mapp and *sizep describe the writable mapping. The name must not exist. */
static int create_region(struct xal *x, const char *name, void **mapp, uint64_t *sizep)
{
	struct xal_hdr h;
	uint64_t size;
	void *map;
	int fd, err;

	memset(&h, 0, sizeof(h));
	h.magic = XAL_MAGIC;
	h.version = XAL_VERSION;
	h.hdr_size = sizeof(h);
	h.cap_inodes = slack(x->local.n_inodes);
	h.cap_dents = slack(x->local.n_dents);
	h.cap_exts = slack(x->local.n_exts);
	h.cap_names = slack(x->local.n_names);
	h.n_hash = pow2_ge((h.cap_dents + 1) * 2);
	h.off_inodes = 4096;
	h.off_dents = ALIGN_UP(h.off_inodes + h.cap_inodes * sizeof(struct xal_ino_rec), 64);
	h.off_exts = ALIGN_UP(h.off_dents + h.cap_dents * sizeof(struct xal_dent), 64);
	h.off_names = ALIGN_UP(h.off_exts + h.cap_exts * sizeof(struct xal_ext_rec), 64);
	h.off_hash = ALIGN_UP(h.off_names + h.cap_names, 64);
	size = ALIGN_UP(h.off_hash + h.n_hash * sizeof(struct xal_hent), 4096);
	h.region_size = size;

	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size)) {
		err = -errno;
		goto fail;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	close(fd);
	memcpy(map, &h, sizeof(h));
	if ((err = fill_region(x, map))) {
		munmap(map, size);
		shm_unlink(name);
		return err;
	}
	*mapp = map;
	*sizep = size;
	return 0;
fail:
	close(fd);
	shm_unlink(name);
	return err;
}

/* From now on the writer's own path hash has the region's size, so that a publish
 * copies it instead of walking the tree again. */
static void adopt_region_hash(struct xal *x)
{
	struct xal_hdr *r = x->map;
	struct xal_hent *t;

	if (!x->owns_pools || x->n_hash == r->n_hash || !(t = malloc(r->n_hash * sizeof(*t))))
		return;
	memcpy(t, (uint8_t *)x->map + r->off_hash, r->n_hash * sizeof(*t));
	free(x->hash);
	x->hash = t;
	x->n_hash = x->local.n_hash = r->n_hash;
}

int xal_shm_export(struct xal *x, const char *name)
{
	void *map;
	uint64_t size;
	int err;

	if (!x || !name || name[0] != '/' || x->map || x->hdr != &x->local)
		return -EINVAL;
	if ((err = create_region(x, name, &map, &size)))
		return err;
	x->map = map;
	x->map_len = size;
	x->shm_name = strdup(name);
	adopt_region_hash(x);
	return 0;
}

int xal_shm_regrow(struct xal *x)
{
	struct xal_hdr *old = x->map;
	void *map;
	uint64_t size, s;
	int err;

	if (!old || !x->shm_name || x->hdr != &x->local)
		return -EINVAL;
	/* the name now leads to a new, larger object; readers of the old one see
	 * xal_shm_replaced() and keep a consistent (if stale) view until they reopen */
	shm_unlink(x->shm_name);
	if ((err = create_region(x, x->shm_name, &map, &size)))
		return err;
	s = __atomic_load_n(&old->seq, __ATOMIC_RELAXED);
	__atomic_store_n(&old->seq, s + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	old->flags |= XAL_HDR_REPLACED;
	__atomic_store_n(&old->seq, s + 2, __ATOMIC_RELEASE);
	munmap(x->map, x->map_len);
	x->map = map;
	x->map_len = size;
	adopt_region_hash(x);
	return 0;
}

bool xal_shm_replaced(const struct xal *x)
{
	return x && x->map && x->hdr != &x->local &&
	       (__atomic_load_n(&x->hdr->flags, __ATOMIC_ACQUIRE) & XAL_HDR_REPLACED);
}

int xal_shm_publish(struct xal *x)
{
	struct xal_hdr *h = x->map;
	uint64_t s;
	int err;

	if (!h || x->hdr != &x->local)
		return 0; /* not exported (or an imported, read-only index) */
	s = __atomic_load_n(&h->seq, __ATOMIC_RELAXED);
	__atomic_store_n(&h->seq, s + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	err = fill_region(x, h);
	__atomic_store_n(&h->seq, s + 2, __ATOMIC_RELEASE);
	return err;
}

int xal_shm_open(struct xal **out, const char *name)
{
	struct xal_hdr *h;
	struct stat st;
	struct xal *x;
	void *map;
	int fd, err = -EUCLEAN;

	if (!out || !name)
		return -EINVAL;
	fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	if ((uint64_t)st.st_size < 4096) {
		close(fd);
		return -EUCLEAN;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -errno;
	h = map;
	/* The layout is fixed at export; check it all against the mapping before trusting an offset. */
	if (h->magic != XAL_MAGIC || h->version != XAL_VERSION || h->hdr_size != sizeof(*h) ||
	    h->region_size != (uint64_t)st.st_size)
		goto bad;
	{
		uint64_t sz = h->region_size;
		const struct {
			uint64_t off, cap, elem;
		} p[] = {
			{h->off_inodes, h->cap_inodes, sizeof(struct xal_ino_rec)},
			{h->off_dents, h->cap_dents, sizeof(struct xal_dent)},
			{h->off_exts, h->cap_exts, sizeof(struct xal_ext_rec)},
			{h->off_names, h->cap_names, 1},
			{h->off_hash, h->n_hash, sizeof(struct xal_hent)},
		};

		for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
			if (p[i].off < 4096 || p[i].off > sz || p[i].cap > (sz - p[i].off) / p[i].elem ||
			    (p[i].off & 7))
				goto bad;
		if (!h->n_hash || (h->n_hash & (h->n_hash - 1)) || !h->cap_names)
			goto bad;
	}
	x = calloc(1, sizeof(*x));
	if (!x) {
		err = -ENOMEM;
		goto bad;
	}
	view_region(x, h);
	x->map = map;
	x->map_len = (size_t)st.st_size;
	if (__atomic_load_n(&h->flags, __ATOMIC_ACQUIRE) & XAL_HDR_LOG_DIRTY)
		xal_warn_log_dirty(name);
	*out = x;
	return 0;
bad:
	munmap(map, (size_t)st.st_size);
	return err;
}

void xal_shm_unmap(struct xal *x)
{
	if (x->map)
		munmap(x->map, x->map_len);
	x->map = NULL;
}

int xal_shm_unlink(const char *name)
{
	return shm_unlink(name) ? -errno : 0;
}

uint64_t xal_seq_begin(const struct xal *x)
{
	return __atomic_load_n(&x->hdr->seq, __ATOMIC_ACQUIRE);
}

bool xal_seq_retry(const struct xal *x, uint64_t seq)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return (seq & 1) || __atomic_load_n(&x->hdr->seq, __ATOMIC_RELAXED) != seq;
}
