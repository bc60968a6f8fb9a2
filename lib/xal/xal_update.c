/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Incremental updates of an in-process index (watch mode, FIEMAP backend).
 *
 * Pools only grow, so nothing a reader holds moves under it: a changed directory
 * gets a new name-sorted entry run at the end of the entry pool; a file whose
 * extents no longer fit its run gets a new run at the end of the extent pool; new
 * objects (with whole subtrees for new directories) are indexed by the FIEMAP
 * backend into a builder whose pools are then appended ("spliced"), offsets
 * shifted. What the replaced runs and removed objects held becomes garbage,
 * counted in x->garbage_*; the watcher re-indexes (compacts) once garbage passes
 * the live size. The path hash is updated in place (rebuilt only when it cannot be).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xal_internal.h"

/* Pools of x grow by doubling, zeroed: a bounds check by capacity never reads
 * uninitialised bytes; records are addressed by 32-bit indexes. */
static int reserve(void **p, uint64_t *cap, uint64_t need, size_t elem)
{
	return need > UINT32_MAX ? -EOVERFLOW : xal_grow(p, cap, need, elem, 1);
}

/* Appends the pools of builder b to x: b's inode i becomes x's inode *base + i. */
static int splice_build(struct xal *x, struct xal_build *b, uint32_t *base)
{
	struct xal_hdr *h = &x->local;
	uint64_t bi = h->n_inodes, bd = h->n_dents, be = h->n_exts, bn = h->n_names;
	int err;

	for (uint64_t i = 0; i < b->n_dents; i++) {
		uint32_t idx;

		if (xal_build_find(b, b->dent_ino[i], &idx))
			return -EUCLEAN;
		b->dents[i].inode = idx;
	}
	if ((err = reserve((void **)&x->inodes, &x->cap_inodes, bi + b->n_inodes, sizeof(*x->inodes))) ||
	    (err = reserve((void **)&x->dents, &x->cap_dents, bd + b->n_dents, sizeof(*x->dents))) ||
	    (err = reserve((void **)&x->exts, &x->cap_exts, be + b->n_exts, sizeof(*x->exts))) ||
	    (err = reserve((void **)&x->names, &x->cap_names, bn + b->n_names, 1)))
		return err;
	for (uint64_t i = 0; i < b->n_inodes; i++) {
		struct xal_ino_rec r = b->inodes[i];

		if (r.type == XAL_TYPE_DIR)
			r.first += (uint32_t)bd;
		else if (r.type == XAL_TYPE_REG)
			r.first += (uint32_t)be;
		else if (r.flags & XAL_INO_HAS_TARGET)
			r.first += (uint32_t)bn;
		x->inodes[bi + i] = r;
	}
	for (uint64_t i = 0; i < b->n_dents; i++) {
		x->dents[bd + i].name = b->dents[i].name + (uint32_t)bn;
		x->dents[bd + i].inode = b->dents[i].inode + (uint32_t)bi;
	}
	memcpy(x->exts + be, b->exts, b->n_exts * sizeof(*b->exts));
	memcpy(x->names + bn, b->names, b->n_names);
	h->n_inodes += b->n_inodes;
	h->n_dents += b->n_dents;
	h->n_exts += b->n_exts;
	h->n_names += b->n_names;
	*base = (uint32_t)bi;
	return 0;
}

/* ---- the path hash, kept in place ----
 * Linear probing with backward-shift deletion, so no tombstones build up. A path
 * whose 64-bit hash collides (XAL_HENT_DUP) or a table past half full makes the
 * update give up and mark the hash stale; the caller then rebuilds it. */

static int hash_del(struct xal *x, uint64_t h)
{
	uint64_t mask = x->n_hash - 1, s = xal_mix64(h) & mask;

	for (uint64_t n = 0; n <= mask; n++, s = (s + 1) & mask) {
		if (!(x->hash[s].flags & XAL_HENT_USED))
			return 0; /* not there */
		if (x->hash[s].hash != h)
			continue;
		if (x->hash[s].flags & XAL_HENT_DUP)
			return -EAGAIN;
		/* shift later members of the probe run back over the hole */
		for (uint64_t hole = s, j = (s + 1) & mask;; j = (j + 1) & mask) {
			uint64_t home;

			if (!(x->hash[j].flags & XAL_HENT_USED)) {
				memset(&x->hash[hole], 0, sizeof(x->hash[hole]));
				return 0;
			}
			home = xal_mix64(x->hash[j].hash) & mask;
			/* j may move to hole when its home is not in (hole, j] cyclically */
			if (((j - home) & mask) >= ((j - hole) & mask)) {
				x->hash[hole] = x->hash[j];
				hole = j;
			}
		}
	}
	return -EAGAIN;
}

static int hash_add(struct xal *x, uint64_t h, uint32_t inode)
{
	uint64_t mask = x->n_hash - 1, s = xal_mix64(h) & mask;

	for (uint64_t n = 0; n <= mask; n++, s = (s + 1) & mask) {
		if (!(x->hash[s].flags & XAL_HENT_USED)) {
			x->hash[s].hash = h;
			x->hash[s].inode = inode;
			x->hash[s].flags = XAL_HENT_USED;
			return 0;
		}
		if (x->hash[s].hash == h)
			return -EAGAIN; /* a collision: let the rebuild mark it */
	}
	return -EAGAIN;
}

/* Adds or deletes the path hash of entry inode (hash h) and of everything below
 * it; the walk is bounded by the pool size, as a tree cannot hold more. */
static int hash_subtree(struct xal *x, uint32_t inode, uint64_t h, int add, int64_t *paths)
{
	struct frame {
		uint32_t dir;
		uint64_t h;
	} *st = NULL, f = {inode, h};
	size_t n = 0, cap = 0;
	uint64_t visited = 0;
	int err = add ? hash_add(x, h, inode) : hash_del(x, h);

	*paths += add ? 1 : -1;
	if (err || x->inodes[inode].type != XAL_TYPE_DIR)
		return err;
	if ((err = xal_push((void **)&st, &n, &cap, &f, sizeof(f))))
		return err;
	while (n && !err) {
		uint32_t dir = st[--n].dir;
		uint64_t dh = st[n].h;
		const struct xal_ino_rec *d = &x->inodes[dir];

		if (++visited > x->local.n_inodes) {
			err = -ELOOP;
			break;
		}
		for (uint32_t i = 0; !err && i < d->count; i++) {
			const struct xal_dent *e = &x->dents[d->first + i];
			uint64_t ch = xal_hash_child(dh, 0, x->names + e->name + 1, (unsigned char)x->names[e->name]);

			err = add ? hash_add(x, ch, e->inode) : hash_del(x, ch);
			*paths += add ? 1 : -1;
			if (!err && x->inodes[e->inode].type == XAL_TYPE_DIR) {
				f = (struct frame){e->inode, ch};
				err = xal_push((void **)&st, &n, &cap, &f, sizeof(f));
			}
		}
	}
	free(st);
	return err;
}

/* Opens the directory rel (relative to the source) one component at a time, never
 * following a symlink, so paths of any length work. */
static int open_rel(const struct xal *x, const char *rel)
{
	int fd = open(x->source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t len;

	while (fd >= 0 && (len = xal_path_next(&rel))) {
		char name[256];
		int nfd;

		if (len >= sizeof(name)) {
			close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(name, rel, len);
		name[len] = 0;
		nfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = nfd;
		rel += len;
	}
	return fd < 0 ? -errno : fd;
}

/* Re-maps the extents of file idx from the open descriptor fd: in place when they
 * fit the old run, else into a new run at the end of the pool. */
static int remap_fd(struct xal *x, uint32_t idx, int fd, const struct stat *st)
{
	struct xal_ino_rec *r = &x->inodes[idx];
	struct xal_build b;
	int err;

	memset(&b, 0, sizeof(b));
	b.block_size = x->local.block_size;
	err = xal_fiemap_extents(&b, fd, x->open_flags);
	if (!err && b.n_exts > r->count) {
		uint64_t at = x->local.n_exts;

		err = reserve((void **)&x->exts, &x->cap_exts, at + b.n_exts, sizeof(*x->exts));
		if (!err) {
			x->garbage_exts += r->count;
			r->first = (uint32_t)at;
			x->local.n_exts += b.n_exts;
		}
	} else if (!err) {
		x->garbage_exts += r->count - b.n_exts;
	}
	if (!err) {
		memcpy(&x->exts[r->first], b.exts, b.n_exts * sizeof(*b.exts));
		r->count = (uint32_t)b.n_exts;
		r->size = (uint64_t)st->st_size;
		r->nlink = (uint32_t)st->st_nlink;
	}
	free(b.exts);
	return err;
}

int xal_update_file(struct xal *x, const char *rel)
{
	const char *slash = strrchr(rel, '/');
	const char *name = slash ? slash + 1 : rel;
	char *parent = slash ? strndup(rel, (size_t)(slash - rel)) : strdup("");
	struct xal_inode in;
	struct stat st;
	int dfd, fd, err;

	if (!parent)
		return -ENOMEM;
	/* through the parent, so that no path component is followed as a symlink */
	dfd = open_rel(x, parent);
	free(parent);
	if (dfd < 0)
		return -ESTALE; /* the directory moved or went: only a full index knows */
	err = xal_lookup(x, rel, &in);
	if (err == -ENOENT) {
		/* gone from the index: fine if gone from the disk too (removed in this burst) */
		err = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) ? 0 : -ESTALE;
		close(dfd);
		return err;
	}
	if (err || in.type != XAL_TYPE_REG) {
		close(dfd);
		return err;
	}
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	err = fd < 0 ? (errno == ENOENT ? 0 : -errno) : 0;
	close(dfd);
	if (fd < 0)
		return err; /* removed since: its directory's update drops it */
	if (fstat(fd, &st))
		err = -errno;
	else if (st.st_ino != in.ino || !S_ISREG(st.st_mode))
		err = -ESTALE; /* replaced by another object under the same name */
	else
		err = remap_fd(x, in.idx, fd, &st);
	close(fd);
	return err;
}

struct new_dent {
	char *name;
	size_t len;
	uint32_t idx;      /* in x, or in the builder while from_build */
	uint32_t name_off; /* in x->names, UINT32_MAX until placed */
	int from_build;
};

static int new_dent_cmp(const void *pa, const void *pb)
{
	const struct new_dent *a = pa, *b = pb;

	return xal_name_order(a->name, a->len, b->name, b->len);
}

/* ---- link counts ----
 * One record per inode (the FIEMAP index and these updates keep hard links on one
 * record). A name removed from a re-read directory takes one link off its record;
 * a count read from the disk (stat of any name seen in this burst) overrides that
 * arithmetic, whichever directory the burst re-read first: a file moved between
 * directories loses a name in one and gains it in the other. */

static int links_dec(struct xal_links *l, uint32_t idx)
{
	return xal_push((void **)&l->dec, &l->ndec, &l->capdec, &idx, sizeof(idx));
}

static int links_set(struct xal_links *l, uint32_t idx, uint32_t nlink)
{
	struct xal_link_set e = {idx, nlink};

	return xal_push((void **)&l->set, &l->nset, &l->capset, &e, sizeof(e));
}

static int link_set_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct xal_link_set *)a)->idx, y = ((const struct xal_link_set *)b)->idx;

	return (x > y) - (x < y);
}

void xal_links_apply(struct xal *x, struct xal_links *l)
{
	/* sorted, so that each decrement looks its record up in log time */
	qsort(l->set, l->nset, sizeof(*l->set), link_set_cmp);
	for (size_t i = 0; i < l->ndec; i++) {
		struct xal_ino_rec *r = &x->inodes[l->dec[i]];
		struct xal_link_set key = {l->dec[i], 0};

		if (!bsearch(&key, l->set, l->nset, sizeof(*l->set), link_set_cmp) && r->nlink > 1)
			r->nlink--;
	}
	for (size_t k = 0; k < l->nset; k++)
		x->inodes[l->set[k].idx].nlink = l->set[k].nlink;
	l->ndec = l->nset = 0;
}

void xal_links_free(struct xal_links *l)
{
	free(l->dec);
	free(l->set);
	memset(l, 0, sizeof(*l));
}

/* A removed name: its file loses a link; below a removed directory every file
 * with other names does (bounded by the pool, as a tree cannot hold more). */
static int links_removed(struct xal *x, struct xal_links *l, uint32_t idx)
{
	uint32_t *st = NULL;
	size_t n = 0, cap = 0;
	uint64_t visited = 0;
	int err;

	if (x->inodes[idx].type == XAL_TYPE_REG)
		return x->inodes[idx].nlink > 1 ? links_dec(l, idx) : 0;
	if (x->inodes[idx].type != XAL_TYPE_DIR)
		return 0;
	if ((err = xal_push((void **)&st, &n, &cap, &idx, sizeof(idx))))
		return err;
	while (n && !err) {
		const struct xal_ino_rec *d = &x->inodes[st[--n]];

		if (++visited > x->local.n_inodes)
			break;
		for (uint32_t i = 0; !err && i < d->count; i++) {
			uint32_t c = x->dents[d->first + i].inode;

			if (x->inodes[c].type == XAL_TYPE_REG && x->inodes[c].nlink > 1)
				err = links_dec(l, c);
			else if (x->inodes[c].type == XAL_TYPE_DIR)
				err = xal_push((void **)&st, &n, &cap, &c, sizeof(c));
		}
	}
	free(st);
	return err;
}

/*
 * One record per file: a new name of a file the index already has a record for (a
 * hard link, or a rename, which also comes as a new name) points at that record,
 * which takes the fresh data read for the name (numbers are unique among live files;
 * a stale record of a deleted file whose number was reused is refreshed by the same
 * copy). Keeping this invariant makes the older record unique. One pass over the
 * older records, with the new records' inode numbers in a small hash table.
 */
static int links_merge(struct xal *x, uint32_t base, uint64_t dents_from, struct new_dent *ents, size_t n,
		       struct xal_links *l)
{
	uint32_t *newrec = NULL, *to = NULL, *slot = NULL;
	uint64_t mask = 15;
	size_t nm = 0;
	int err = 0;

	for (uint64_t j = base; j < x->local.n_inodes; j++)
		nm += x->inodes[j].type == XAL_TYPE_REG;
	if (!nm)
		return 0;
	while (mask + 1 < nm * 2)
		mask = mask * 2 + 1;
	newrec = malloc(nm * sizeof(*newrec));
	to = malloc(nm * sizeof(*to));
	slot = malloc((mask + 1) * sizeof(*slot));
	if (!newrec || !to || !slot) {
		err = -ENOMEM;
		goto out;
	}
	memset(slot, 0xff, (mask + 1) * sizeof(*slot));
	nm = 0;
	for (uint64_t j = base; j < x->local.n_inodes; j++) {
		if (x->inodes[j].type != XAL_TYPE_REG)
			continue;
		uint64_t h = xal_mix64(x->inodes[j].ino) & mask;

		while (slot[h] != UINT32_MAX)
			h = (h + 1) & mask;
		slot[h] = (uint32_t)nm;
		newrec[nm] = (uint32_t)j;
		to[nm++] = UINT32_MAX;
	}
	for (uint32_t i = 0; i < base; i++) {
		if (x->inodes[i].type != XAL_TYPE_REG)
			continue;
		for (uint64_t h = xal_mix64(x->inodes[i].ino) & mask; slot[h] != UINT32_MAX; h = (h + 1) & mask)
			if (x->inodes[newrec[slot[h]]].ino == x->inodes[i].ino)
				to[slot[h]] = i;
	}
	for (size_t k = 0; k < nm && !err; k++) {
		struct xal_ino_rec *old, *fresh = &x->inodes[newrec[k]];

		if (to[k] == UINT32_MAX)
			continue;
		old = &x->inodes[to[k]];
		old->size = fresh->size;
		old->first = fresh->first;
		old->count = fresh->count;
		old->nlink = fresh->nlink;
		/* the new record is unreachable from here on: it must never match again */
		fresh->type = XAL_TYPE_UNKNOWN;
		fresh->ino = 0;
		fresh->count = 0;
		err = links_set(l, to[k], old->nlink);
		for (uint64_t e = dents_from; e < x->local.n_dents; e++)
			if (x->dents[e].inode == newrec[k])
				x->dents[e].inode = to[k];
		for (size_t e = 0; e < n; e++)
			if (ents[e].idx == newrec[k])
				ents[e].idx = to[k];
	}
out:
	free(newrec);
	free(to);
	free(slot);
	return err;
}

int xal_update_dir(struct xal *x, const char *rel, dev_t dev, struct xal_links *links, unsigned *added)
{
	uint8_t *kept = NULL;
	struct xal_inode din;
	struct xal_build b;
	struct new_dent *ents = NULL;
	size_t n = 0, cap = 0;
	struct stat st;
	struct dirent *de;
	DIR *dir = NULL;
	int dfd, err;
	uint32_t base = 0;

	*added = 0;
	if ((err = xal_lookup(x, rel, &din)))
		return err;
	if (din.type != XAL_TYPE_DIR)
		return -ESTALE;
	if ((dfd = open_rel(x, rel)) < 0)
		return dfd == -ENOENT || dfd == -ENOTDIR ? -ESTALE : dfd;
	if (fstat(dfd, &st) || st.st_ino != din.ino) {
		close(dfd);
		return -ESTALE; /* not the directory the index knows under this path */
	}
	if ((err = xal_build_init(&b, 0, 0, 0))) {
		close(dfd);
		return err;
	}
	b.block_size = x->local.block_size;
	kept = calloc(x->inodes[din.idx].count + 1, 1);
	if (!kept) {
		err = -ENOMEM;
		goto out;
	}
	{
		int fd2 = dup(dfd);

		dir = fd2 < 0 ? NULL : fdopendir(fd2);
		if (!dir) {
			err = -errno;
			if (fd2 >= 0)
				close(fd2);
			goto out;
		}
	}
	while ((errno = 0, de = readdir(dir))) {
		const struct xal_ino_rec *d = &x->inodes[din.idx];
		size_t len = strlen(de->d_name);
		const struct xal_dent *old;
		struct stat cst;
		struct new_dent *e;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dfd, de->d_name, &cst, AT_SYMLINK_NOFOLLOW)) {
			if (errno == ENOENT)
				continue; /* removed while we read */
			err = -errno;
			goto out;
		}
		{
			struct new_dent ne = {.name = strdup(de->d_name), .len = len, .name_off = UINT32_MAX};

			err = ne.name ? xal_push((void **)&ents, &n, &cap, &ne, sizeof(ne)) : -ENOMEM;
			if (err) {
				free(ne.name);
				goto out;
			}
		}
		e = &ents[n - 1];
		if (xal_dir_find(x, din.idx, de->d_name, len, &old))
			old = NULL;
		if (old && old->inode < x->local.n_inodes && x->inodes[old->inode].ino == cst.st_ino &&
		    x->inodes[old->inode].type == xal_type_from_mode(cst.st_mode)) {
			/* the same object under the same name: keep it (and its subtree) */
			kept[old - &x->dents[d->first]] = 1;
			e->idx = old->inode;
			e->name_off = old->name;
			if (S_ISREG(cst.st_mode) && (err = links_set(links, old->inode, (uint32_t)cst.st_nlink)))
				goto out;
			if (S_ISREG(cst.st_mode) && x->inodes[old->inode].size != (uint64_t)cst.st_size) {
				int fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

				if (fd >= 0) {
					err = remap_fd(x, e->idx, fd, &cst);
					close(fd);
					if (err)
						goto out;
				}
			}
			continue;
		}
		err = xal_fiemap_entry(&b, dfd, de->d_name, dev, x->open_flags, &e->idx);
		if (err == -ENOENT) {
			free(e->name);
			n--;
			err = 0;
			continue;
		}
		if (err)
			goto out;
		e->from_build = 1;
		(*added)++;
	}
	if (errno) {
		err = -errno;
		goto out;
	}
	{
		uint64_t dents_from = x->local.n_dents;

		if ((err = splice_build(x, &b, &base)))
			goto out;
		for (size_t i = 0; i < n; i++)
			if (ents[i].from_build)
				ents[i].idx += base;
		/* hard links to files the index has: one record per file */
		if ((err = links_merge(x, base, dents_from, ents, n, links)))
			goto out;
	}
	/* names of new entries, then the new run in name order */
	for (size_t i = 0; i < n; i++) {
		struct new_dent *e = &ents[i];
		uint64_t at = x->local.n_names;

		if (e->name_off != UINT32_MAX)
			continue;
		if ((err = reserve((void **)&x->names, &x->cap_names, at + e->len + 2, 1)))
			goto out;
		x->names[at] = (char)e->len;
		memcpy(x->names + at + 1, e->name, e->len);
		x->names[at + 1 + e->len] = 0;
		e->name_off = (uint32_t)at;
		x->local.n_names = at + e->len + 2;
	}
	qsort(ents, n, sizeof(*ents), new_dent_cmp);
	{
		uint64_t at = x->local.n_dents;
		struct xal_ino_rec *d;

		if ((err = reserve((void **)&x->dents, &x->cap_dents, at + n, sizeof(*x->dents))))
			goto out;
		for (size_t i = 0; i < n; i++) {
			x->dents[at + i].name = ents[i].name_off;
			x->dents[at + i].inode = ents[i].idx;
		}
		d = &x->inodes[din.idx];
		/* names removed from this directory (with everything below them) */
		for (uint32_t i = 0; !err && i < d->count; i++)
			if (!kept[i])
				err = links_removed(x, links, x->dents[d->first + i].inode);
		if (err)
			goto out;
		/* the path hash: paths below removed names go, paths below new ones come */
		if (!x->hash_stale && (x->local.n_dents + n + 1) * 2 > x->n_hash)
			x->hash_stale = 1; /* past half full: the rebuild sizes a new table */
		if (!x->hash_stale) {
			uint64_t dh = xal_path_hash(rel);
			int is_root = din.idx == x->local.root;
			int64_t paths = 0;

			for (uint32_t i = 0; !x->hash_stale && i < d->count; i++) {
				const struct xal_dent *oe = &x->dents[d->first + i];

				if (!kept[i] && hash_subtree(x, oe->inode,
							     xal_hash_child(dh, is_root, x->names + oe->name + 1,
									    (unsigned char)x->names[oe->name]),
							     0, &paths))
					x->hash_stale = 1;
			}
			for (size_t i = 0; !x->hash_stale && i < n; i++)
				if (ents[i].from_build &&
				    hash_subtree(x, ents[i].idx, xal_hash_child(dh, is_root, ents[i].name, ents[i].len),
						 1, &paths))
					x->hash_stale = 1;
			x->local.reachable = (uint64_t)((int64_t)x->local.reachable + paths);
		}
		x->garbage_dents += d->count;
		d->first = (uint32_t)at;
		d->count = (uint32_t)n;
		d->size = (uint64_t)st.st_size;
		d->nlink = (uint32_t)st.st_nlink;
		x->local.n_dents = at + n;
	}
out:
	if (dir)
		closedir(dir);
	close(dfd);
	for (size_t i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
	free(kept);
	xal_build_free(&b);
	return err;
}

int xal_update_hash(struct xal *x)
{
	uint64_t slots = 64, reach, dups;
	struct xal_hent *t;
	int err;

	while (slots < (x->local.n_dents + 1) * 2)
		slots *= 2;
	/* exported: the region's size while it fits, so that publishing copies the table */
	if (x->map && ((const struct xal_hdr *)x->map)->n_hash >= slots)
		slots = ((const struct xal_hdr *)x->map)->n_hash;
	t = calloc(slots, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if ((err = xal_hash_build(x, t, slots - 1, &reach, &dups))) {
		free(t);
		return err;
	}
	free(x->hash);
	x->hash = t;
	x->n_hash = x->local.n_hash = slots;
	x->local.reachable = reach;
	x->local.hash_collisions = dups;
	x->hash_stale = 0;
	return 0;
}

bool xal_update_wants_compaction(const struct xal *x)
{
	const struct xal_hdr *h = &x->local;

	return h->n_inodes > 2 * h->reachable + 1024 || x->garbage_dents > h->n_dents / 2 + 1024 ||
	       x->garbage_exts > h->n_exts / 2 + 1024;
}
