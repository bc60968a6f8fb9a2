/* SPDX-License-Identifier: BSD-3-Clause */
/* XAL core: the builder the backends fill, lookups, walk, LBA conversion. */
#include <aisio/clock.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xal_internal.h"

int xal_err(struct xal_build *b, int err, const char *fmt, ...)
{
	va_list ap;

	if (b->source && !b->logged) {
		va_start(ap, fmt);
		aisio_vlog(AISIO_LOG_ERROR, b->source, fmt, ap);
		va_end(ap);
		b->logged = 1;
	}
	return err;
}

const char *xal_name_escape(const char *name, size_t len, char *buf, size_t buflen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!buflen)
		return buf;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		/* room for one escape and the "..." that says the name goes on */
		if (o + 4 + 4 > buflen) {
			memcpy(buf + o, "...", buflen - o > 3 ? 3 : buflen - o - 1);
			o += buflen - o > 3 ? 3 : buflen - o - 1;
			break;
		}
		if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
			buf[o++] = (char)ch;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[ch >> 4];
			buf[o++] = hex[ch & 15];
		}
	}
	buf[o] = 0;
	return buf;
}

int xal_grow(void **p, uint64_t *cap, uint64_t need, size_t elem, int zero)
{
	uint64_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 64;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * elem);
	if (!np)
		return -ENOMEM;
	if (zero)
		memset((char *)np + *cap * elem, 0, (ncap - *cap) * elem);
	*p = np;
	*cap = ncap;
	return 0;
}

static int grow(void **p, uint64_t *cap, uint64_t need, size_t elem)
{
	return xal_grow(p, cap, need, elem, 0);
}

int xal_push(void **v, size_t *n, size_t *cap, const void *e, size_t elem)
{
	uint64_t c = *cap;
	int err = xal_grow(v, &c, *n + 1, elem, 0);

	if (err)
		return err;
	*cap = (size_t)c;
	memcpy((char *)*v + *n * elem, e, elem);
	(*n)++;
	return 0;
}

static int map_resize(struct xal_build *b, uint64_t slots)
{
	uint64_t *ino = malloc(slots * sizeof(*ino));
	uint32_t *idx = malloc(slots * sizeof(*idx));

	if (!ino || !idx) {
		free(ino);
		free(idx);
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < slots; i++)
		idx[i] = UINT32_MAX;
	for (uint64_t i = 0; b->map_ino && i <= b->map_mask; i++) {
		uint64_t s;

		if (b->map_idx[i] == UINT32_MAX)
			continue;
		for (s = xal_mix64(b->map_ino[i]) & (slots - 1); idx[s] != UINT32_MAX; s = (s + 1) & (slots - 1))
			;
		ino[s] = b->map_ino[i];
		idx[s] = b->map_idx[i];
	}
	free(b->map_ino);
	free(b->map_idx);
	b->map_ino = ino;
	b->map_idx = idx;
	b->map_mask = slots - 1;
	return 0;
}

static uint64_t pow2_at_least(uint64_t n)
{
	uint64_t p = 64;

	while (p < n)
		p *= 2;
	return p;
}

int xal_build_init(struct xal_build *b, uint64_t inodes_hint, uint64_t dents_hint, uint64_t exts_hint)
{
	int err;

	memset(b, 0, sizeof(*b));
	b->root = UINT32_MAX;
	if (inodes_hint && (err = grow((void **)&b->inodes, &b->cap_inodes, inodes_hint, sizeof(*b->inodes))))
		return err;
	if (dents_hint) {
		uint64_t c = 0;

		if ((err = grow((void **)&b->dents, &b->cap_dents, dents_hint, sizeof(*b->dents))))
			return err;
		if ((err = grow((void **)&b->dent_ino, &c, dents_hint, sizeof(*b->dent_ino))))
			return err;
	}
	if (exts_hint && (err = grow((void **)&b->exts, &b->cap_exts, exts_hint, sizeof(*b->exts))))
		return err;
	return 0;
}

void xal_build_free(struct xal_build *b)
{
	free(b->inodes);
	free(b->dents);
	free(b->dent_ino);
	free(b->dotdot);
	free(b->exts);
	free(b->names);
	free(b->map_ino);
	free(b->map_idx);
	memset(b, 0, sizeof(*b));
}

/*
 * While inodes arrive in increasing number order (the XFS backend walks the inode B+trees in
 * order), the pool itself is the map: a binary search, no hash table to fill. The first inode out
 * of order builds the hash map from the pool and the map serves from then on.
 */
static uint32_t sorted_search(const struct xal_build *b, uint64_t ino, uint64_t lo, uint64_t hi)
{
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (b->inodes[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint32_t)lo;
}

static int map_insert_all(struct xal_build *b)
{
	int err = map_resize(b, pow2_at_least(b->n_inodes * 2 + 2));

	if (err)
		return err;
	for (uint64_t i = 0; i < b->n_inodes; i++) {
		uint64_t s;

		for (s = xal_mix64(b->inodes[i].ino) & b->map_mask; b->map_idx[s] != UINT32_MAX;
		     s = (s + 1) & b->map_mask)
			;
		b->map_ino[s] = b->inodes[i].ino;
		b->map_idx[s] = (uint32_t)i;
	}
	b->map_used = b->n_inodes;
	b->unsorted = 1;
	return 0;
}

int xal_build_find(const struct xal_build *b, uint64_t ino, uint32_t *idx)
{
	if (!b->unsorted) {
		uint32_t i = sorted_search(b, ino, 0, b->n_inodes);

		if (i < b->n_inodes && b->inodes[i].ino == ino) {
			*idx = i;
			return 0;
		}
		return -ENOENT;
	}
	for (uint64_t s = xal_mix64(ino) & b->map_mask; b->map_idx[s] != UINT32_MAX; s = (s + 1) & b->map_mask) {
		if (b->map_ino[s] == ino) {
			*idx = b->map_idx[s];
			return 0;
		}
	}
	return -ENOENT;
}

int xal_build_inode(struct xal_build *b, uint64_t ino, enum xal_type type, uint64_t size, uint32_t nlink, uint32_t *idx)
{
	struct xal_ino_rec *r;
	uint64_t s;
	int err;

	if (!b->unsorted && b->n_inodes && ino <= b->inodes[b->n_inodes - 1].ino && (err = map_insert_all(b)))
		return err;
	if (b->unsorted && xal_build_find(b, ino, idx) == 0)
		return 0;
	if (b->n_inodes >= UINT32_MAX - 1)
		return -EOVERFLOW;
	if (b->unsorted && (b->map_used + 1) * 2 > b->map_mask + 1 && (err = map_resize(b, (b->map_mask + 1) * 2)))
		return err;
	if ((err = grow((void **)&b->inodes, &b->cap_inodes, b->n_inodes + 1, sizeof(*b->inodes))))
		return err;
	r = &b->inodes[b->n_inodes];
	memset(r, 0, sizeof(*r));
	r->ino = ino;
	r->type = type;
	r->size = size;
	r->nlink = nlink;
	if (b->unsorted) {
		for (s = xal_mix64(ino) & b->map_mask; b->map_idx[s] != UINT32_MAX; s = (s + 1) & b->map_mask)
			;
		b->map_ino[s] = ino;
		b->map_idx[s] = (uint32_t)b->n_inodes;
		b->map_used++;
	}
	*idx = (uint32_t)b->n_inodes++;
	return 1;
}

int xal_build_extent_blocks(struct xal_build *b, uint64_t fblk, uint64_t pblk, uint64_t nblk, uint32_t flags)
{
	uint32_t f = flags & 0x7fffu;
	int err;

	if (flags & ~0x7fffu)
		f |= XAL_EXT_OTHER;
	while (nblk) {
		uint64_t n = nblk > XAL_REC_LEN_MAX ? XAL_REC_LEN_MAX : nblk;

		if (fblk > XAL_REC_FOFF_MAX || fblk + n - 1 > XAL_REC_FOFF_MAX || pblk > XAL_REC_PBLK_MAX)
			return -EFBIG;
		if ((err = grow((void **)&b->exts, &b->cap_exts, b->n_exts + 1, sizeof(*b->exts))))
			return err;
		b->exts[b->n_exts].w0 = fblk | ((uint64_t)f << XAL_REC_FOFF_BITS);
		b->exts[b->n_exts].w1 = pblk | (n << XAL_REC_PBLK_BITS);
		b->n_exts++;
		fblk += n;
		/* Unknown locations stay at 0 rather than pretending to be contiguous. */
		if (pblk)
			pblk += n;
		nblk -= n;
	}
	return 0;
}

int xal_build_extent(struct xal_build *b, uint64_t foff, uint64_t doff, uint64_t len, uint32_t flags)
{
	uint64_t bs = b->block_size;
	uint64_t first = foff / bs, end = (foff + len + bs - 1) / bs;

	/* Not block-aligned extents (inline, tail) are kept as the blocks that contain them. */
	return xal_build_extent_blocks(b, first, doff / bs, end - first, flags);
}

static int names_add(struct xal_build *b, const char *s, size_t len, int with_len, uint32_t *off)
{
	uint64_t need = b->n_names + len + 2;
	int err;

	if (need > UINT32_MAX)
		return -EOVERFLOW;
	if ((err = grow((void **)&b->names, &b->cap_names, need, 1)))
		return err;
	*off = (uint32_t)b->n_names;
	if (with_len)
		b->names[b->n_names++] = (char)len;
	memcpy(b->names + b->n_names, s, len);
	b->n_names += len;
	b->names[b->n_names++] = 0;
	return 0;
}

int xal_build_dent_typed(struct xal_build *b, const char *name, size_t len, uint64_t child_ino, enum xal_type type)
{
	uint64_t cap;
	uint32_t off;
	int err;

	if (len == 0 || len > 255)
		return -ENAMETOOLONG;
	if (b->n_dents >= UINT32_MAX - 1)
		return -EOVERFLOW;
	cap = b->cap_dents;
	if ((err = grow((void **)&b->dents, &b->cap_dents, b->n_dents + 1, sizeof(*b->dents))))
		return err;
	if (b->cap_dents != cap || !b->dent_ino) {
		uint64_t *np = realloc(b->dent_ino, b->cap_dents * sizeof(*np));

		if (!np)
			return -ENOMEM;
		b->dent_ino = np;
	}
	if ((err = names_add(b, name, len, 1, &off)))
		return err;
	b->dents[b->n_dents].name = off;
	b->dents[b->n_dents].inode = (uint32_t)type; /* until the entries are resolved */
	b->dent_ino[b->n_dents] = child_ino;
	b->n_dents++;
	return 0;
}

int xal_build_dent(struct xal_build *b, const char *name, size_t len, uint64_t child_ino)
{
	return xal_build_dent_typed(b, name, len, child_ino, XAL_TYPE_UNKNOWN);
}

int xal_build_dotdot(struct xal_build *b, uint32_t dir_idx, uint64_t parent_ino)
{
	struct xal_dotdot d = {dir_idx, parent_ino};

	return xal_push((void **)&b->dotdot, &b->n_dotdot, &b->cap_dotdot, &d, sizeof(d));
}

static int dotdot_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct xal_dotdot *)a)->dir, y = ((const struct xal_dotdot *)b)->dir;

	return x < y ? -1 : x > y;
}

/* The ".." a directory names, 0 if none was recorded (b->dotdot sorted by dir). */
static uint64_t dotdot_of(const struct xal_build *b, uint32_t dir)
{
	size_t lo = 0, hi = b->n_dotdot;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (b->dotdot[mid].dir < dir)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < b->n_dotdot && b->dotdot[lo].dir == dir ? b->dotdot[lo].parent : 0;
}

int xal_name_order(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int name_cmp(const char *names, uint32_t a, const char *s, size_t slen)
{
	return xal_name_order(names + a + 1, (unsigned char)names[a], s, slen);
}

static void dent_swap(struct xal_dent *d, uint64_t *ino, uint64_t a, uint64_t b)
{
	struct xal_dent td = d[a];
	uint64_t ti = ino[a];

	d[a] = d[b];
	ino[a] = ino[b];
	d[b] = td;
	ino[b] = ti;
}

/* Restore the max-heap order (by name) below root within the first end entries. */
static void dent_sift_down(const char *names, struct xal_dent *d, uint64_t *ino, uint64_t root, uint64_t end)
{
	for (;;) {
		uint64_t c = 2 * root + 1;

		if (c >= end)
			break;
		if (c + 1 < end &&
		    name_cmp(names, d[c].name, names + d[c + 1].name + 1, (unsigned char)names[d[c + 1].name]) < 0)
			c++;
		if (name_cmp(names, d[root].name, names + d[c].name + 1, (unsigned char)names[d[c].name]) >= 0)
			break;
		dent_swap(d, ino, root, c);
		root = c;
	}
}

/* Sorts entries by name with their inode numbers alongside (insertion sort for small runs). */
static void dent_sort(const char *names, struct xal_dent *d, uint64_t *ino, uint64_t n)
{
	uint64_t k;

	/* Directories are often already in name order (entries kept in creation order): check first. */
	for (k = 1; k < n; k++)
		if (name_cmp(names, d[k - 1].name, names + d[k].name + 1, (unsigned char)names[d[k].name]) > 0)
			break;
	if (k >= n)
		return;
	if (n < 16) {
		for (uint64_t i = 1; i < n; i++) {
			struct xal_dent kd = d[i];
			uint64_t ki = ino[i];
			uint64_t j = i;

			while (j > 0 &&
			       name_cmp(names, d[j - 1].name, names + kd.name + 1, (unsigned char)names[kd.name]) > 0) {
				d[j] = d[j - 1];
				ino[j] = ino[j - 1];
				j--;
			}
			d[j] = kd;
			ino[j] = ki;
		}
		return;
	}
	/* Heap sort: in place, O(n log n) worst case whatever a corrupt directory holds. */
	for (uint64_t start = n / 2; start-- > 0;)
		dent_sift_down(names, d, ino, start, n);
	for (uint64_t end = n; end-- > 1;) {
		dent_swap(d, ino, 0, end);
		dent_sift_down(names, d, ino, 0, end);
	}
}

int xal_build_dir_done(struct xal_build *b, uint32_t dir_idx, uint64_t first)
{
	struct xal_ino_rec *r = &b->inodes[dir_idx];
	uint64_t n = b->n_dents - first;

	dent_sort(b->names, b->dents + first, b->dent_ino + first, n);
	/* Duplicate names in one directory: a corrupt directory, or a name seen twice by a racing walk. */
	for (uint64_t i = 1; i < n; i++) {
		const struct xal_dent *p = &b->dents[first + i - 1], *q = &b->dents[first + i];

		if (name_cmp(b->names, p->name, b->names + q->name + 1, (unsigned char)b->names[q->name]) == 0)
			return -EUCLEAN;
	}
	r->first = (uint32_t)first;
	r->count = (uint32_t)n;
	return 0;
}

int xal_build_symlink(struct xal_build *b, uint32_t idx, const char *target, size_t len)
{
	uint32_t off;
	int err;

	if (len > 65535)
		return -ENAMETOOLONG;
	if ((err = names_add(b, target, len, 0, &off)))
		return err;
	b->inodes[idx].first = off;
	b->inodes[idx].count = (uint32_t)len;
	b->inodes[idx].flags |= XAL_INO_HAS_TARGET;
	return 0;
}

static void *shrink(void *p, uint64_t n, size_t elem)
{
	void *np;

	if (!n) {
		free(p);
		return NULL;
	}
	np = realloc(p, n * elem);
	return np ? np : p;
}

struct walk_frame {
	uint32_t dir;
	uint32_t pos;
	uint64_t hash;
	size_t path_len;
};

/* Bitmap of visited directories: a corrupt tree may name one directory twice or loop. */
static int visited_test_set(uint64_t *bm, uint32_t i)
{
	uint64_t m = 1ull << (i & 63);
	int was = !!(bm[i >> 6] & m);

	bm[i >> 6] |= m;
	return was;
}

static void hash_insert(struct xal_hent *t, uint64_t mask, uint64_t h, uint32_t inode, uint64_t *dups)
{
	uint64_t s;

	for (s = xal_mix64(h) & mask; t[s].flags & XAL_HENT_USED; s = (s + 1) & mask) {
		if (t[s].hash == h) {
			if (!(t[s].flags & XAL_HENT_DUP))
				(*dups)++;
			t[s].flags |= XAL_HENT_DUP;
			return;
		}
	}
	t[s].hash = h;
	t[s].inode = inode;
	t[s].flags = XAL_HENT_USED;
}

/*
 * Inserts into the path hash wait in a short queue, their slot prefetched when
 * they join it: a table of 16 bytes per slot and two slots per path is far
 * larger than the caches, and one insert at a time waited for one memory miss
 * after another (the whole walk of 1M paths took about 0.35 s, most of it there).
 */
#define HASH_AHEAD 16

struct hash_queue {
	struct xal_hent *t;
	uint64_t mask, *dups;
	struct {
		uint64_t hash;
		uint32_t inode;
	} q[HASH_AHEAD];
	unsigned n, head;
};

static void hash_queue_add(struct hash_queue *hq, uint64_t hash, uint32_t inode)
{
	unsigned k;

	if (hq->n == HASH_AHEAD) {
		hash_insert(hq->t, hq->mask, hq->q[hq->head].hash, hq->q[hq->head].inode, hq->dups);
		hq->head = (hq->head + 1) % HASH_AHEAD;
		hq->n--;
	}
	__builtin_prefetch(&hq->t[xal_mix64(hash) & hq->mask], 1);
	k = (hq->head + hq->n++) % HASH_AHEAD;
	hq->q[k].hash = hash;
	hq->q[k].inode = inode;
}

static void hash_queue_flush(struct hash_queue *hq)
{
	for (; hq->n; hq->n--, hq->head = (hq->head + 1) % HASH_AHEAD)
		hash_insert(hq->t, hq->mask, hq->q[hq->head].hash, hq->q[hq->head].inode, hq->dups);
}

/* Walks the finished pools from the root: counts reachable inodes, fills the path hash. */
int xal_hash_build(struct xal *x, struct xal_hent *t, uint64_t mask, uint64_t *reachable, uint64_t *dups)
{
	struct xal_hdr *h = x->hdr;
	uint64_t nbm = (h->n_inodes + 63) / 64 + 1;
	uint64_t *dirs = calloc(nbm, 8), *seen = calloc(nbm, 8);
	struct hash_queue hq = {.t = t, .mask = mask, .dups = dups};
	struct walk_frame *st = NULL;
	uint64_t depth = 0, cap = 0;
	int err = 0;

	if (!dirs || !seen) {
		err = -ENOMEM;
		goto out;
	}
	*reachable = 0;
	*dups = 0;
	if (h->root >= h->n_inodes)
		goto out;
	visited_test_set(seen, h->root);
	(*reachable)++;
	if (t)
		hash_insert(t, mask, XAL_HASH_SEED, h->root, dups);
	visited_test_set(dirs, h->root);
	if ((err = grow((void **)&st, &cap, 1, sizeof(*st))))
		goto out;
	st[depth++] = (struct walk_frame){.dir = h->root, .hash = XAL_HASH_SEED};
	while (depth) {
		struct walk_frame *f = &st[depth - 1];
		const struct xal_ino_rec *d = &x->inodes[f->dir];
		const struct xal_dent *e;
		const struct xal_ino_rec *c;
		uint64_t hh;

		if (f->pos >= d->count) {
			depth--;
			continue;
		}
		e = &x->dents[d->first + f->pos++];
		c = &x->inodes[e->inode];
		hh = xal_hash_child(f->hash, f->dir == h->root && depth == 1, x->names + e->name + 1,
				    (unsigned char)x->names[e->name]);
		if (!visited_test_set(seen, e->inode))
			(*reachable)++;
		if (t)
			hash_queue_add(&hq, hh, e->inode);
		if (c->type == XAL_TYPE_DIR && !visited_test_set(dirs, e->inode)) {
			if ((err = grow((void **)&st, &cap, depth + 1, sizeof(*st))))
				goto out;
			st[depth++] = (struct walk_frame){.dir = e->inode, .hash = hh};
		}
	}
	if (t)
		hash_queue_flush(&hq);
out:
	free(st);
	free(dirs);
	free(seen);
	return err;
}

static const char *dent_name_esc(const struct xal_build *b, uint64_t i, char *esc)
{
	const char *n = b->names + b->dents[i].name;

	return xal_name_escape(n + 1, (unsigned char)n[0], esc, XAL_NAME_ESC_MAX);
}

/*
 * Exact link counts (after the entries are resolved): a file has as many names
 * as links, a directory one name (none for the root) and 2 + its subdirectories
 * links, and its ".." names the directory that holds it. A name moved onto
 * another file, a lost entry or a directory named twice breaks one of these.
 */
static int check_links(struct xal_build *b, const uint32_t *names, const uint8_t *ctype)
{
	char esc[XAL_NAME_ESC_MAX];
	int err = 0;

	/* Directories are parsed in inode order, so the list is mostly sorted already. */
	for (size_t k = 1; k < b->n_dotdot; k++)
		if (b->dotdot[k - 1].dir > b->dotdot[k].dir) {
			qsort(b->dotdot, b->n_dotdot, sizeof(*b->dotdot), dotdot_cmp);
			break;
		}
	/* Per directory: its subdirectories, and that their ".." name it; names counted per inode. */
	for (uint64_t d = 0; d < b->n_inodes; d++) {
		const struct xal_ino_rec *r = &b->inodes[d];
		uint64_t subdirs = 0;

		if (r->type != XAL_TYPE_DIR)
			continue;
		for (uint64_t k = r->first; k < (uint64_t)r->first + r->count; k++) {
			uint32_t c = b->dents[k].inode;
			uint64_t dd;

			if (c == b->root) {
				err = xal_err(b, -EUCLEAN, "directory inode %llu: entry '%s' names the root directory",
					      (unsigned long long)r->ino, dent_name_esc(b, k, esc));
				goto out;
			}
			if (ctype[k] != XAL_TYPE_DIR)
				continue;
			subdirs++;
			dd = dotdot_of(b, c);
			if (dd != r->ino) {
				err = xal_err(b, -EUCLEAN,
					      "directory inode %llu: '..' names inode %llu, its parent is inode %llu",
					      (unsigned long long)b->inodes[c].ino, (unsigned long long)dd,
					      (unsigned long long)r->ino);
				goto out;
			}
		}
		/* an unlinked directory (removed while still open, on a frozen file system) is empty */
		if (r->nlink ? r->nlink != 2 + subdirs : subdirs != 0) {
			err = xal_err(b, -EUCLEAN, "directory inode %llu has %u links, and 2 + %llu subdirectories",
				      (unsigned long long)r->ino, r->nlink, (unsigned long long)subdirs);
			goto out;
		}
	}
	for (uint64_t i = 0; i < b->n_inodes; i++) {
		const struct xal_ino_rec *r = &b->inodes[i];

		if (r->type != XAL_TYPE_DIR) {
			if (r->nlink != names[i]) {
				err = xal_err(b, -EUCLEAN,
					      "inode %llu (%s) has %u links, the directories hold %u names of it",
					      (unsigned long long)r->ino, xal_type_str((enum xal_type)r->type),
					      r->nlink, names[i]);
				goto out;
			}
		} else if (i == b->root ? dotdot_of(b, (uint32_t)i) != r->ino : names[i] != (r->nlink ? 1u : 0u)) {
			err = xal_err(b, -EUCLEAN, "directory inode %llu (%u links) has %u names%s",
				      (unsigned long long)r->ino, r->nlink, names[i],
				      i == b->root ? " or its '..' is not itself" : "");
			goto out;
		}
	}
out:
	return err;
}

int xal_build_finish(struct xal_build *b, struct xal *x)
{
	struct xal_hdr *h = x->hdr;
	uint64_t slots, reach, dups;
	int exact = b->exact_links;
	uint32_t *names = NULL; /* exact_links: names of each inode, and the type of each entry's inode */
	uint8_t *ctype = NULL;
	int err;

	if (b->root == UINT32_MAX)
		return xal_err(b, -EUCLEAN, "no root directory indexed");
	if (b->inodes[b->root].type != XAL_TYPE_DIR)
		return xal_err(b, -EUCLEAN, "root inode %llu is not a directory", (unsigned long long)b->root_ino);
	if (exact && (!(names = calloc(b->n_inodes + 1, sizeof(*names))) || !(ctype = malloc(b->n_dents + 1)))) {
		err = -ENOMEM;
		goto out_links;
	}
	for (uint64_t i = 0, last = 0; i < b->n_dents; i++) {
		uint64_t ino = b->dent_ino[i];
		uint32_t idx;
		int err2;

		if (!b->unsorted && b->n_inodes) {
			/* Entries of a directory mostly name neighbouring inodes: gallop from the last one found. */
			uint64_t lo, hi, step = 1;

			if (b->inodes[last].ino <= ino) {
				lo = last;
				while (lo + step < b->n_inodes && b->inodes[lo + step].ino <= ino)
					step *= 2;
				hi = lo + step < b->n_inodes ? lo + step + 1 : b->n_inodes;
			} else {
				hi = last;
				while (hi > step && b->inodes[hi - step].ino > ino)
					step *= 2;
				lo = hi > step ? hi - step : 0;
			}
			idx = sorted_search(b, ino, lo, hi);
			err2 = idx < b->n_inodes && b->inodes[idx].ino == ino ? 0 : -ENOENT;
			if (!err2)
				last = idx;
		} else {
			err2 = xal_build_find(b, ino, &idx);
		}
		if (err2) {
			char esc[XAL_NAME_ESC_MAX];

			err = xal_err(b, -EUCLEAN, "directory entry '%s' names inode %llu, which is not allocated",
				      dent_name_esc(b, i, esc), (unsigned long long)b->dent_ino[i]);
			goto out_links;
		}
		if (b->dents[i].inode != XAL_TYPE_UNKNOWN && b->dents[i].inode != b->inodes[idx].type) {
			char esc[XAL_NAME_ESC_MAX];

			err = xal_err(b, -EUCLEAN, "directory entry '%s' says inode %llu is a %s, the inode is a %s",
				      dent_name_esc(b, i, esc), (unsigned long long)ino,
				      xal_type_str((enum xal_type)b->dents[i].inode),
				      xal_type_str((enum xal_type)b->inodes[idx].type));
			goto out_links;
		}
		b->dents[i].inode = idx;
		if (exact) {
			names[idx]++;
			ctype[i] = (uint8_t)b->inodes[idx].type;
		}
	}
	err = exact ? check_links(b, names, ctype) : 0;
out_links:
	free(names);
	free(ctype);
	if (err)
		return err;
	free(b->dent_ino);
	b->dent_ino = NULL;
	free(b->map_ino);
	free(b->map_idx);
	b->map_ino = NULL;
	b->map_idx = NULL;

	x->inodes = shrink(b->inodes, b->n_inodes, sizeof(*b->inodes));
	x->dents = shrink(b->dents, b->n_dents, sizeof(*b->dents));
	x->exts = shrink(b->exts, b->n_exts, sizeof(*b->exts));
	x->names = shrink(b->names, b->n_names, 1);
	x->owns_pools = 1;
	h->n_inodes = x->cap_inodes = b->n_inodes;
	h->n_dents = x->cap_dents = b->n_dents;
	h->n_exts = x->cap_exts = b->n_exts;
	h->n_names = x->cap_names = b->n_names;
	h->root = b->root;
	h->block_size = b->block_size;
	b->inodes = NULL;
	b->dents = NULL;
	b->exts = NULL;
	b->names = NULL;
	b->n_inodes = b->n_dents = b->n_exts = b->n_names = 0;

	slots = pow2_at_least((h->n_dents + 1) * 2);
	x->hash = calloc(slots, sizeof(*x->hash));
	if (!x->hash)
		return -ENOMEM;
	x->n_hash = h->n_hash = slots;
	if ((err = xal_hash_build(x, x->hash, slots - 1, &reach, &dups)))
		return err;
	h->reachable = reach;
	h->hash_collisions = dups;
	if (exact) {
		uint64_t linked = 0;

		for (uint64_t i = 0; i < h->n_inodes; i++)
			linked += x->inodes[i].nlink != 0;
		/* Link counts matched the names, so only a cycle of directories cut off from the root is left. */
		if (reach != linked)
			return xal_err(
				b, -EUCLEAN,
				"%llu inodes have links, %llu are reachable from the root: directories form a cycle",
				(unsigned long long)linked, (unsigned long long)reach);
	}
	return 0;
}

/* ---- blocks with two owners ---- */

#define CLAIM_DIGIT_BITS 11
#define CLAIM_DIGITS 6 /* 66 bits: any 64-bit start */

int xal_claims_sort(struct xal_claim *v, size_t n)
{
	uint32_t(*hist)[1u << CLAIM_DIGIT_BITS];
	struct xal_claim *tmp, *src = v, *dst;
	size_t k;

	uint64_t max = 0;
	int digits = 0;

	for (k = 1; k < n && v[k - 1].start <= v[k].start; k++)
		;
	if (k >= n)
		return 0; /* already in order: the usual case for an image written in one pass */
	if (n < 64) {
		for (size_t i = 1; i < n; i++) {
			struct xal_claim c = v[i];
			size_t j = i;

			for (; j && v[j - 1].start > c.start; j--)
				v[j] = v[j - 1];
			v[j] = c;
		}
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		max = v[i].start > max ? v[i].start : max;
	for (; digits < CLAIM_DIGITS && (digits == 0 || max >> (digits * CLAIM_DIGIT_BITS)); digits++)
		;
	hist = calloc((size_t)digits, sizeof(*hist));
	tmp = malloc(n * sizeof(*tmp));
	if (!hist || !tmp) {
		free(hist);
		free(tmp);
		return -ENOMEM;
	}
	/* LSD radix sort: one pass counts every digit, a digit all claims share is skipped. */
	for (size_t i = 0; i < n; i++)
		for (int d = 0; d < digits; d++)
			hist[d][(v[i].start >> (d * CLAIM_DIGIT_BITS)) & ((1u << CLAIM_DIGIT_BITS) - 1)]++;
	dst = tmp;
	for (int d = 0; d < digits; d++) {
		uint32_t sum = 0;
		int shift = d * CLAIM_DIGIT_BITS;

		if (hist[d][(src[0].start >> shift) & ((1u << CLAIM_DIGIT_BITS) - 1)] == n)
			continue;
		for (uint32_t b = 0; b < (1u << CLAIM_DIGIT_BITS); b++) {
			uint32_t c = hist[d][b];

			hist[d][b] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[hist[d][(src[i].start >> shift) & ((1u << CLAIM_DIGIT_BITS) - 1)]++] = src[i];
		dst = src;
		src = src == v ? tmp : v;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(tmp);
	free(hist);
	return 0;
}

int xal_claims_overlap(const struct xal_claim *v, size_t n, size_t *a, size_t *b)
{
	struct xal_sweep s = {0};
	struct xal_claim other;

	for (size_t i = 0; i < n; i++) {
		if (xal_sweep_add(&s, &v[i], &other)) {
			/* the claim it overlaps is an earlier one: find it by its content */
			for (*a = 0; *a < i && memcmp(&v[*a], &other, sizeof(other)); (*a)++)
				;
			*b = i;
			return 1;
		}
	}
	return 0;
}

int xal_index_check_overlaps(const struct xal *x, const char *source)
{
	const struct xal_hdr *h = x->hdr;
	uint64_t nbm = (h->n_inodes + 63) / 64 + 1;
	uint64_t *seen = calloc(nbm, 8);
	uint32_t *stack = NULL;
	struct xal_claim *v = NULL;
	size_t n = 0, cap = 0, depth = 0, capst = 0, i, j;
	int err = 0;

	if (!seen)
		return -ENOMEM;
	if (h->root >= h->n_inodes)
		goto out;
	/* Every file reachable from the root once (hard links, garbage of replaced runs left out). */
	visited_test_set(seen, h->root);
	if ((err = xal_push((void **)&stack, &depth, &capst, &h->root, sizeof(*stack))))
		goto out;
	while (depth) {
		const struct xal_ino_rec *d = &x->inodes[stack[--depth]];

		for (uint64_t k = d->first; k < (uint64_t)d->first + d->count && k < h->n_dents; k++) {
			uint32_t c = x->dents[k].inode;
			const struct xal_ino_rec *r;

			if (c >= h->n_inodes || visited_test_set(seen, c))
				continue;
			r = &x->inodes[c];
			if (r->type == XAL_TYPE_DIR && (err = xal_push((void **)&stack, &depth, &capst, &c, sizeof(c))))
				goto out;
			for (uint64_t e = r->first;
			     r->type == XAL_TYPE_REG && e < (uint64_t)r->first + r->count && e < h->n_exts; e++) {
				const struct xal_ext_rec *er = &x->exts[e];
				uint32_t fl = (uint32_t)(er->w0 >> XAL_REC_FOFF_BITS);
				struct xal_claim cl = {er->w1 & XAL_REC_PBLK_MAX,
						       (uint32_t)(er->w1 >> XAL_REC_PBLK_BITS), c};

				if (fl & XAL_EXT_NO_RAW_READ)
					continue; /* no place on the device (delalloc, inline, unknown) */
				if (fl & XAL_EXT_SHARED)
					cl.len |= XAL_CLAIM_SHARED;
				if ((err = xal_push((void **)&v, &n, &cap, &cl, sizeof(cl))))
					goto out;
			}
		}
	}
	if ((err = xal_claims_sort(v, n)))
		goto out;
	if (xal_claims_overlap(v, n, &i, &j)) {
		err = -EAGAIN;
		if (source)
			aisio_log(AISIO_LOG_ERROR, source,
				  "inodes %llu and %llu both have an extent on disk byte %llu: the files changed while "
				  "they were read",
				  (unsigned long long)x->inodes[v[i].owner].ino,
				  (unsigned long long)x->inodes[v[j].owner].ino,
				  (unsigned long long)(v[j].start * h->block_size));
	}
out:
	free(seen);
	free(stack);
	free(v);
	return err;
}

void xal_warn_log_dirty(const char *source)
{
	aisio_log(AISIO_LOG_WARNING, source,
		  "warning: indexed although the log needs recovery (ignored on request): files changed since "
		  "its last checkpoint may be missing, stale or wrong in every answer of this index");
}

void xal_pools_free(struct xal *x)
{
	if (x->owns_pools) {
		free(x->inodes);
		free(x->dents);
		free(x->exts);
		free(x->names);
		free(x->hash);
	}
	x->inodes = NULL;
	x->dents = NULL;
	x->exts = NULL;
	x->names = NULL;
	x->hash = NULL;
	x->owns_pools = 0;
}

/* Indexes x->source into fresh pools of x (x->hdr must point at x->local). */
static int index_source(struct xal *x, enum xal_backend be, const char *source)
{
	struct xal_opts o = {.backend = be,
			     .flags = x->open_flags,
			     .read = x->read,
			     .read_arg = x->read_arg,
			     .read_size = x->read_size};
	struct xal_build b;
	double t0 = aisio_mono_s();
	int err;

	if ((err = xal_build_init(&b, 0, 0, 0)))
		return err;
	b.source = source;
	if (be == XAL_BACKEND_FIEMAP)
		err = xal_fiemap_index(&b, x->source, x->open_flags, x->hdr);
	else
		err = xal_xfs_index(&b, x->source, &o, x->hdr);
	if (!err)
		err = xal_build_finish(&b, x);
	/* The XFS backend checked every block it read against every other; FIEMAP answers per file. */
	if (!err && be == XAL_BACKEND_FIEMAP)
		err = xal_index_check_overlaps(x, source);
	xal_build_free(&b);
	x->hdr->backend = be;
	x->hdr->index_seconds = aisio_mono_s() - t0;
	return err;
}

int xal_reindex(struct xal *x)
{
	struct xal nx;
	int err;

	memset(&nx, 0, sizeof(nx));
	nx.hdr = &nx.local;
	nx.source = x->source;
	nx.open_flags = x->open_flags;
	nx.read = x->read;
	nx.read_arg = x->read_arg;
	nx.read_size = x->read_size;
	/* A watch update logs nothing: its caller resolves the failure (compaction, a retry). */
	err = index_source(&nx, (enum xal_backend)x->local.backend, NULL);
	if (err) {
		xal_pools_free(&nx);
		return err;
	}
	xal_pools_free(x);
	nx.local.seq = x->local.seq;
	x->local = nx.local;
	x->local.magic = XAL_MAGIC;
	x->local.version = XAL_VERSION;
	x->inodes = nx.inodes;
	x->dents = nx.dents;
	x->exts = nx.exts;
	x->names = nx.names;
	x->hash = nx.hash;
	x->cap_inodes = nx.cap_inodes;
	x->cap_dents = nx.cap_dents;
	x->cap_exts = nx.cap_exts;
	x->cap_names = nx.cap_names;
	x->n_hash = nx.n_hash;
	x->owns_pools = 1;
	x->garbage_dents = x->garbage_exts = 0;
	x->hash_stale = 0;
	return 0;
}

int xal_open(struct xal **out, const char *source, const struct xal_opts *opts)
{
	struct xal_opts def = {0};
	enum xal_backend be;
	struct stat st;
	struct xal *x;
	int err;

	if (!out || !source)
		return -EINVAL;
	if (!opts)
		opts = &def;
	be = opts->backend;
	if (opts->read) {
		if (be == XAL_BACKEND_FIEMAP || (opts->flags & XAL_OPEN_WATCHABLE)) {
			aisio_log(AISIO_LOG_ERROR, source, "a device read through a function has only the XFS backend");
			return -EINVAL;
		}
		be = XAL_BACKEND_XFS;
	} else {
		if (stat(source, &st)) {
			err = -errno;
			aisio_log(AISIO_LOG_ERROR, source, "%s", strerror(-err));
			return err;
		}
		if (be == XAL_BACKEND_AUTO)
			be = S_ISDIR(st.st_mode) ? XAL_BACKEND_FIEMAP : XAL_BACKEND_XFS;
		if (be == XAL_BACKEND_FIEMAP && !S_ISDIR(st.st_mode)) {
			aisio_log(AISIO_LOG_ERROR, source,
				  "the FIEMAP backend needs a directory of a mounted file system");
			return -ENOTDIR;
		}
		if (be == XAL_BACKEND_XFS && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
			aisio_log(AISIO_LOG_ERROR, source, "the XFS backend needs an image file or a block device");
			return -EINVAL;
		}
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->hdr = &x->local;
	x->open_flags = opts->flags;
	x->read = opts->read;
	x->read_arg = opts->read_arg;
	x->read_size = opts->read_size;
	x->source = strdup(source);
	if (!x->source) {
		free(x);
		return -ENOMEM;
	}
	err = index_source(x, be, x->source);
	if (err) {
		xal_close(x);
		return err;
	}
	x->local.magic = XAL_MAGIC;
	x->local.version = XAL_VERSION;
	if (x->local.flags & XAL_HDR_LOG_DIRTY)
		xal_warn_log_dirty(source);
	*out = x;
	return 0;
}

/* Bounds-checked accessors: a shared index may be torn while a reader looks. */
static int ino_view(const struct xal *x, uint32_t idx, struct xal_inode *out)
{
	const struct xal_ino_rec *r;

	if (idx >= x->cap_inodes)
		return -EUCLEAN;
	r = &x->inodes[idx];
	out->idx = idx;
	out->type = (enum xal_type)r->type;
	out->ino = r->ino;
	out->size = r->size;
	out->nlink = r->nlink;
	out->count = r->count;
	if (out->type != XAL_TYPE_DIR && out->type != XAL_TYPE_REG && !(r->flags & XAL_INO_HAS_TARGET))
		out->count = 0;
	return 0;
}

int xal_inode_get(const struct xal *x, uint32_t idx, struct xal_inode *out)
{
	if (!x || !out)
		return -EINVAL;
	if (idx >= __atomic_load_n(&x->hdr->n_inodes, __ATOMIC_RELAXED))
		return -ENOENT;
	return ino_view(x, idx, out);
}

int xal_root(const struct xal *x, struct xal_inode *root)
{
	if (!x || !root)
		return -EINVAL;
	return ino_view(x, x->hdr->root, root);
}

static int dent_at(const struct xal *x, const struct xal_ino_rec *d, uint32_t i, const struct xal_dent **e)
{
	uint64_t k = (uint64_t)d->first + i;

	if (i >= d->count || k >= x->cap_dents)
		return -EUCLEAN;
	*e = &x->dents[k];
	if ((*e)->name >= x->cap_names || (*e)->name + 1ull + (unsigned char)x->names[(*e)->name] >= x->cap_names)
		return -EUCLEAN;
	return 0;
}

int xal_dir_find(const struct xal *x, uint32_t dir, const char *name, size_t len, const struct xal_dent **entry)
{
	const struct xal_ino_rec *d;
	uint32_t lo = 0, hi;

	if (dir >= x->cap_inodes)
		return -EUCLEAN;
	d = &x->inodes[dir];
	if (d->type != XAL_TYPE_DIR)
		return -ENOTDIR;
	hi = d->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct xal_dent *e;
		int c, err;

		if ((err = dent_at(x, d, mid, &e)))
			return err;
		c = name_cmp(x->names, e->name, name, len);
		if (c == 0) {
			*entry = e;
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -ENOENT;
}

static int dir_search(const struct xal *x, uint32_t dir, const char *name, size_t len, uint32_t *child)
{
	const struct xal_dent *e;
	int err = xal_dir_find(x, dir, name, len, &e);

	if (!err)
		*child = e->inode;
	return err;
}

int xal_dir_lookup(const struct xal *x, const struct xal_inode *dir, const char *name, size_t len,
		   struct xal_inode *child)
{
	uint32_t c;
	int err;

	if (!x || !dir || !name || !child)
		return -EINVAL;
	if ((err = dir_search(x, dir->idx, name, len, &c)))
		return err;
	return ino_view(x, c, child);
}

/* Skip slashes at *p and return the length of the path component there (0 at the end). */
size_t xal_path_next(const char **p)
{
	while (**p == '/')
		(*p)++;
	const char *s = strchr(*p, '/');
	return s ? (size_t)(s - *p) : strlen(*p);
}

int xal_lookup(const struct xal *x, const char *path, struct xal_inode *out)
{
	uint32_t cur;
	const char *p;

	if (!x || !path || !out)
		return -EINVAL;
	cur = x->hdr->root;
	p = path;
	size_t len;
	while ((len = xal_path_next(&p))) {
		int err;

		if (len == 1 && p[0] == '.') {
			p += len;
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return -EINVAL;
		if (len > 255)
			return -ENAMETOOLONG;
		if ((err = dir_search(x, cur, p, len, &cur)))
			return err;
		p += len;
	}
	return ino_view(x, cur, out);
}

uint64_t xal_path_hash(const char *path)
{
	uint64_t h = XAL_HASH_SEED;
	int root = 1;
	const char *p = path;

	size_t len;
	while (p && (len = xal_path_next(&p))) {
		if (!(len == 1 && p[0] == '.')) {
			h = xal_hash_child(h, root, p, len);
			root = 0;
		}
		p += len;
	}
	return h;
}

int xal_lookup_hash(const struct xal *x, uint64_t hash, struct xal_inode *out)
{
	uint64_t mask, s, n = 0;

	if (!x || !out)
		return -EINVAL;
	if (!x->n_hash)
		return -ENOENT;
	mask = x->n_hash - 1;
	for (s = xal_mix64(hash) & mask; n <= mask; s = (s + 1) & mask, n++) {
		const struct xal_hent *e = &x->hash[s];

		if (!(e->flags & XAL_HENT_USED))
			return -ENOENT;
		if (e->hash == hash) {
			if (e->flags & XAL_HENT_DUP)
				return -ENOTUNIQ;
			return ino_view(x, e->inode, out);
		}
	}
	return -ENOENT;
}

int xal_dirent(const struct xal *x, const struct xal_inode *dir, uint32_t i, const char **name, size_t *name_len,
	       struct xal_inode *child)
{
	const struct xal_dent *e;
	int err;

	if (!x || !dir || dir->idx >= x->cap_inodes)
		return -EINVAL;
	if (x->inodes[dir->idx].type != XAL_TYPE_DIR)
		return -ENOTDIR;
	if (i >= x->inodes[dir->idx].count)
		return -ENOENT;
	if ((err = dent_at(x, &x->inodes[dir->idx], i, &e)))
		return err;
	if (name)
		*name = x->names + e->name + 1;
	if (name_len)
		*name_len = (unsigned char)x->names[e->name];
	return child ? ino_view(x, e->inode, child) : 0;
}

int xal_extent_get(const struct xal *x, const struct xal_inode *file, uint32_t i, struct xal_extent *out)
{
	const struct xal_ino_rec *r;
	const struct xal_ext_rec *e;
	uint64_t k, bs;

	if (!x || !file || !out || file->idx >= x->cap_inodes)
		return -EINVAL;
	r = &x->inodes[file->idx];
	if (r->type != XAL_TYPE_REG)
		return -EISDIR;
	k = (uint64_t)r->first + i;
	if (i >= r->count)
		return -ENOENT;
	if (k >= x->cap_exts)
		return -EUCLEAN;
	e = &x->exts[k];
	bs = x->hdr->block_size;
	out->file_offset = (e->w0 & XAL_REC_FOFF_MAX) * bs;
	out->flags = (uint32_t)(e->w0 >> XAL_REC_FOFF_BITS);
	out->disk_offset = (e->w1 & XAL_REC_PBLK_MAX) * bs;
	out->length = (e->w1 >> XAL_REC_PBLK_BITS) * bs;
	if (i + 1 == r->count)
		out->flags |= XAL_EXT_LAST;
	else
		out->flags &= ~XAL_EXT_LAST;
	return 0;
}

int xal_symlink_target(const struct xal *x, const struct xal_inode *lnk, const char **target, size_t *len)
{
	const struct xal_ino_rec *r;

	if (!x || !lnk || lnk->idx >= x->cap_inodes)
		return -EINVAL;
	r = &x->inodes[lnk->idx];
	if (r->type != XAL_TYPE_LNK)
		return -EINVAL;
	if (!(r->flags & XAL_INO_HAS_TARGET))
		return -ENODATA;
	if ((uint64_t)r->first + r->count >= x->cap_names)
		return -EUCLEAN;
	*target = x->names + r->first;
	*len = r->count;
	return 0;
}

int xal_extent_lba(const struct xal *x, const struct xal_extent *ext, uint32_t lba_size, uint64_t *slba, uint64_t *nlb)
{
	uint64_t start;

	if (!x || !ext || !lba_size || (lba_size & (lba_size - 1)))
		return -EINVAL;
	if (ext->flags & XAL_EXT_NO_RAW_READ)
		return -ENODATA;
	start = x->hdr->part_offset + ext->disk_offset;
	if (start % lba_size || ext->length % lba_size)
		return -EINVAL;
	*slba = start / lba_size;
	*nlb = ext->length / lba_size;
	return 0;
}

int xal_walk(const struct xal *x, xal_walk_cb cb, void *arg)
{
	uint64_t nbm, depth = 0, cap = 0;
	struct walk_frame *st = NULL;
	struct xal_inode in;
	uint64_t *dirs;
	char *path;
	size_t pcap = 4096;
	int err;

	if (!x || !cb)
		return -EINVAL;
	nbm = (x->cap_inodes + 63) / 64 + 1;
	dirs = calloc(nbm, 8);
	path = malloc(pcap);
	if (!dirs || !path) {
		err = -ENOMEM;
		goto out;
	}
	path[0] = 0;
	if ((err = ino_view(x, x->hdr->root, &in)))
		goto out;
	if ((err = cb(x, "", &in, arg)))
		goto out;
	visited_test_set(dirs, in.idx);
	if ((err = grow((void **)&st, &cap, 1, sizeof(*st))))
		goto out;
	st[depth++] = (struct walk_frame){.dir = in.idx, .path_len = 0};
	while (depth) {
		struct walk_frame *f = &st[depth - 1];
		const struct xal_dent *e;
		size_t nlen, plen;

		if (f->pos >= x->inodes[f->dir].count) {
			depth--;
			continue;
		}
		if ((err = dent_at(x, &x->inodes[f->dir], f->pos++, &e)))
			goto out;
		nlen = (unsigned char)x->names[e->name];
		plen = f->path_len + (f->path_len ? 1 : 0) + nlen;
		if (plen + 1 > pcap) {
			char *np;

			while (plen + 1 > pcap)
				pcap *= 2;
			np = realloc(path, pcap);
			if (!np) {
				err = -ENOMEM;
				goto out;
			}
			path = np;
		}
		if (f->path_len)
			path[f->path_len] = '/';
		memcpy(path + plen - nlen, x->names + e->name + 1, nlen);
		path[plen] = 0;
		if ((err = ino_view(x, e->inode, &in)))
			goto out;
		if ((err = cb(x, path, &in, arg)))
			goto out;
		if (in.type == XAL_TYPE_DIR && !visited_test_set(dirs, in.idx)) {
			if ((err = grow((void **)&st, &cap, depth + 1, sizeof(*st))))
				goto out;
			st[depth++] = (struct walk_frame){.dir = in.idx, .path_len = plen};
		}
	}
out:
	free(st);
	free(dirs);
	free(path);
	return err;
}

int xal_stats(const struct xal *x, struct xal_stats *s)
{
	const struct xal_hdr *h;

	if (!x || !s)
		return -EINVAL;
	h = x->hdr;
	memset(s, 0, sizeof(*s));
	s->backend = h->backend == XAL_BACKEND_FIEMAP ? "fiemap" : "xfs";
	s->fstype = h->fstype;
	s->block_size = h->block_size;
	s->part_offset = h->part_offset;
	s->inodes = h->n_inodes;
	s->reachable = h->reachable;
	s->dentries = h->n_dents;
	s->extents = h->n_exts;
	s->name_bytes = h->n_names;
	s->hash_slots = h->n_hash;
	for (uint64_t i = 0; x->hash && i < h->n_hash && i < x->n_hash; i++)
		s->hash_used += !!(x->hash[i].flags & XAL_HENT_USED);
	s->hash_collisions = h->hash_collisions;
	s->index_seconds = h->index_seconds;
	s->updates_incremental = x->updates_incremental;
	s->updates_full = x->updates_full;
	s->log_dirty = __atomic_load_n(&h->flags, __ATOMIC_ACQUIRE) & XAL_HDR_LOG_DIRTY;
	for (uint64_t i = 0; i < h->n_inodes && i < x->cap_inodes; i++) {
		switch (x->inodes[i].type) {
		case XAL_TYPE_DIR: s->dirs++; break;
		case XAL_TYPE_REG: s->files++; break;
		case XAL_TYPE_LNK: s->symlinks++; break;
		default: s->others++; break;
		}
	}
	s->mem_bytes = sizeof(*x) + h->n_inodes * sizeof(struct xal_ino_rec) + h->n_dents * sizeof(struct xal_dent) +
		       h->n_exts * sizeof(struct xal_ext_rec) + h->n_names + h->n_hash * sizeof(struct xal_hent);
	return 0;
}

const char *xal_type_str(enum xal_type t)
{
	static const char *const names[] = {"unknown", "file", "dir", "symlink", "chr", "blk", "fifo", "sock"};

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}

const char *xal_ext_flags_str(uint32_t flags, char *buf, size_t len, const char *sep)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} tab[] = {
		{XAL_EXT_LAST, "last"},       {XAL_EXT_UNKNOWN, "unknown"},     {XAL_EXT_DELALLOC, "delalloc"},
		{XAL_EXT_ENCODED, "encoded"}, {XAL_EXT_ENCRYPTED, "encrypted"}, {XAL_EXT_NOT_ALIGNED, "not_aligned"},
		{XAL_EXT_INLINE, "inline"},   {XAL_EXT_TAIL, "tail"},           {XAL_EXT_UNWRITTEN, "unwritten"},
		{XAL_EXT_MERGED, "merged"},   {XAL_EXT_SHARED, "shared"},       {XAL_EXT_OTHER, "other"},
	};
	size_t off = 0;

	if (!len)
		return buf;
	buf[0] = 0;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		int n;

		if (!(flags & tab[i].bit))
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off ? sep : "", tab[i].name);
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
	return buf;
}

void xal_close(struct xal *x)
{
	if (!x)
		return;
	xal_watch_stop(x);
	xal_pools_free(x);
	if (x->map)
		xal_shm_unmap(x);
	free(x->shm_name);
	free(x->source);
	free(x);
}
