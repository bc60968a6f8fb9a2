/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Watch mode of the FIEMAP backend: an inotify watch on every directory of the
 * index. xal_watch_poll blocks in poll(2) (no spinning), drains the events of
 * one burst (bounded: at most XAL_WATCH_SETTLE_MS of quiet or XAL_WATCH_MAX_MS
 * in all), then brings the index up to date (xal_update.c):
 *   - a directory with entries created, removed or renamed: re-read it, index
 *     what is new (whole subtrees for new directories),
 *   - a file written or its attributes changed (link count): re-map it,
 *   - a directory moved along with changes inside it, a queue overflow, or
 *     garbage past the live size: re-index the whole tree,
 * checks that no two files' extents share a block (unless both are shared:
 * reflink), re-indexing the whole tree when they do (a file's blocks moved to
 * another between two events), and publishes the result under the seqlock
 * (into the shared region if exported).
 */
#include <aisio/clock.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xal_internal.h"

#define XAL_WATCH_SETTLE_MS 20
#define XAL_WATCH_MAX_MS 1000
#define XAL_WATCH_MASK                                                                                  \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | \
	 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

/* A growing list of relative paths; sorted and deduplicated before use. */
struct path_list {
	char **v;
	size_t n, cap;
};

struct xal_watch {
	int fd;
	dev_t dev;         /* the file system's device: mount points are not crossed */
	char **path_by_wd; /* relative path of each watched directory, by watch descriptor */
	uint64_t cap_wd;
	struct path_list dirty_dirs;  /* entries created, removed or renamed */
	struct path_list dirty_files; /* contents written */
	struct path_list gone;        /* watched directories removed (IN_IGNORED) in this burst */
	struct path_list fresh;       /* directories whose watch was just added */
	struct xal_links links;       /* link counts to settle after the directory updates */
	int full;                     /* only a full re-index brings the index up to date */
	int dirs_changed;             /* a directory was created or moved: watches to add or re-path */
};

static const char *wd_path(const struct xal_watch *w, int wd)
{
	return wd >= 0 && (size_t)wd < w->cap_wd ? w->path_by_wd[wd] : NULL;
}

static int list_add(struct path_list *l, const char *dir, const char *name)
{
	char *p;
	int err;

	if (name ? asprintf(&p, "%s%s%s", dir, dir[0] ? "/" : "", name) < 0 : !(p = strdup(dir)))
		return -ENOMEM;
	if ((err = xal_push((void **)&l->v, &l->n, &l->cap, &p, sizeof(p))))
		free(p);
	return err;
}

static void list_clear(struct path_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

/* Shallow paths first, so a parent is re-read before its children are looked up. */
static int path_cmp(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t lx = strlen(x), ly = strlen(y);

	return lx != ly ? (lx > ly) - (lx < ly) : strcmp(x, y);
}

static void list_sort_unique(struct path_list *l)
{
	size_t k = 0;

	qsort(l->v, l->n, sizeof(*l->v), path_cmp);
	for (size_t i = 0; i < l->n; i++) {
		if (k && !strcmp(l->v[k - 1], l->v[i]))
			free(l->v[i]);
		else
			l->v[k++] = l->v[i];
	}
	l->n = k;
}

/* Watches the directory path (relative to the source), or gives its existing watch this path. */
static int add_dir_watch(const struct xal *x, struct xal_watch *w, const char *path)
{
	char *full, *p;
	int wd, err;

	if (asprintf(&full, "%s/%s", x->source, path) < 0)
		return -ENOMEM;
	wd = inotify_add_watch(w->fd, full, XAL_WATCH_MASK);
	free(full);
	if (wd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	if ((err = xal_grow((void **)&w->path_by_wd, &w->cap_wd, (uint64_t)wd + 1, sizeof(char *), 1)))
		return err;
	/* an existing watch (a moved directory) gets its new path */
	if (w->path_by_wd[wd] && !strcmp(w->path_by_wd[wd], path))
		return 0;
	if (!w->path_by_wd[wd] && list_add(&w->fresh, path, NULL))
		return -ENOMEM;
	if (!(p = strdup(path)))
		return -ENOMEM;
	free(w->path_by_wd[wd]);
	w->path_by_wd[wd] = p;
	return 0;
}

static int add_dir_cb(const struct xal *x, const char *path, const struct xal_inode *in, void *arg)
{
	return in->type == XAL_TYPE_DIR ? add_dir_watch(x, arg, path) : 0;
}

struct dir_frame {
	uint32_t idx;
	char *path;
};

/* Watches every directory of the subtree at rel, directories only (no walk over the
 * files of the whole tree); bounded by the inode pool, as a tree cannot hold more. */
static int watch_subtree(struct xal *x, struct xal_watch *w, const char *rel)
{
	struct xal_inode in;
	struct dir_frame *st = NULL;
	size_t n = 0, cap = 0;
	uint64_t visited = 0;
	int err;

	if ((err = xal_lookup(x, rel, &in)))
		return err == -ENOENT ? 0 : err;
	if (in.type != XAL_TYPE_DIR)
		return 0;
	{
		struct dir_frame f = {in.idx, strdup(rel)};

		err = f.path ? xal_push((void **)&st, &n, &cap, &f, sizeof(f)) : -ENOMEM;
		if (err) {
			free(f.path);
			return err;
		}
	}
	while (n && !err) {
		struct dir_frame f = st[--n];
		const struct xal_ino_rec *d = &x->inodes[f.idx];

		if (++visited > x->local.n_inodes) {
			err = -ELOOP;
		} else {
			err = add_dir_watch(x, w, f.path);
		}
		for (uint32_t i = 0; !err && i < d->count; i++) {
			const struct xal_dent *e = &x->dents[d->first + i];
			char *p;

			if (x->inodes[e->inode].type != XAL_TYPE_DIR)
				continue;
			if (asprintf(&p, "%s%s%s", f.path, f.path[0] ? "/" : "", x->names + e->name + 1) < 0) {
				err = -ENOMEM;
				break;
			}
			struct dir_frame c = {e->inode, p};

			if ((err = xal_push((void **)&st, &n, &cap, &c, sizeof(c))))
				free(p);
		}
		free(f.path);
	}
	while (n)
		free(st[--n].path);
	free(st);
	return err;
}

/* path is a directory removed in this burst, or lies below one. */
static int under_gone(const struct xal_watch *w, const char *path)
{
	for (size_t i = 0; i < w->gone.n; i++) {
		size_t n = strlen(w->gone.v[i]);

		if (!strncmp(path, w->gone.v[i], n) && (path[n] == 0 || path[n] == '/'))
			return 1;
	}
	return 0;
}

static void clear_dirty(struct xal_watch *w)
{
	list_clear(&w->dirty_dirs);
	list_clear(&w->dirty_files);
	list_clear(&w->gone);
	list_clear(&w->fresh);
	w->links.ndec = w->links.nset = 0;
	w->full = 0;
	w->dirs_changed = 0;
}

static void drop_dirs(struct xal_watch *w)
{
	for (size_t i = 0; i < w->cap_wd; i++) {
		if (w->path_by_wd[i]) {
			inotify_rm_watch(w->fd, (int)i);
			free(w->path_by_wd[i]);
			w->path_by_wd[i] = NULL;
		}
	}
}

int xal_watch_start(struct xal *x)
{
	struct xal_watch *w;
	struct stat st;
	int err;

	if (!x || x->hdr != &x->local || x->local.backend != XAL_BACKEND_FIEMAP)
		return -EOPNOTSUPP;
	if (x->watch)
		return -EBUSY;
	if (stat(x->source, &st))
		return -errno;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->dev = st.st_dev;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		err = -errno;
		free(w);
		return err;
	}
	x->watch = w;
	if ((err = xal_walk(x, add_dir_cb, w))) {
		xal_watch_stop(x);
		return err;
	}
	list_clear(&w->fresh);
	return 0;
}

int xal_watch_fd(const struct xal *x)
{
	return x && x->watch ? x->watch->fd : -EINVAL;
}

void xal_watch_stop(struct xal *x)
{
	struct xal_watch *w;

	if (!x || !x->watch)
		return;
	w = x->watch;
	drop_dirs(w);
	clear_dirty(w);
	free(w->dirty_dirs.v);
	free(w->dirty_files.v);
	free(w->gone.v);
	free(w->fresh.v);
	free(w->path_by_wd);
	xal_links_free(&w->links);
	close(w->fd);
	free(w);
	x->watch = NULL;
}

/* Reads what is queued; returns the number of events that call for an update (the
 * IN_IGNORED of watches this side removed do not). */
static int drain(struct xal_watch *w)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	int events = 0, err = 0;

	for (;;) {
		ssize_t n = read(w->fd, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return events;
			return -errno;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			const char *dir = wd_path(w, ev->wd);

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				w->full = 1;
				events++;
			} else if (ev->mask & IN_IGNORED) {
				/* the directory is gone: its parent's entry update drops it */
				if (dir) {
					err = list_add(&w->gone, dir, NULL);
					free(w->path_by_wd[ev->wd]);
					w->path_by_wd[ev->wd] = NULL;
					events++;
				}
			} else if (!dir) {
				w->full = 1; /* an event of a watch we no longer know */
				events++;
			} else if (ev->mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)) {
				err = list_add(&w->dirty_dirs, dir, NULL);
				if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO)))
					w->dirs_changed = 1;
				events++;
			} else if ((ev->mask & (IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB)) && !(ev->mask & IN_ISDIR) &&
				   ev->len) {
				/* written, or its link count changed (a hard link made elsewhere) */
				err = list_add(&w->dirty_files, dir, ev->name);
				events++;
			}
			if (err)
				return err;
		}
	}
}

/* Re-indexes the whole tree and re-creates every watch. */
static int reindex(struct xal *x, struct xal_watch *w, int *updated)
{
	int err = xal_reindex(x);

	/* exported: a path hash of the region's size, so that publishing copies it */
	if (!err && x->map)
		err = xal_update_hash(x);
	if (!err) {
		drop_dirs(w);
		err = xal_walk(x, add_dir_cb, w);
	}
	if (!err) {
		x->updates_full++;
		*updated = (int)(x->local.n_inodes > INT32_MAX ? INT32_MAX : x->local.n_inodes);
	}
	return err;
}

/* Applies one burst: the changed directories, then the written files. */
static int update_changes(struct xal *x, struct xal_watch *w, int *updated)
{
	int err = 0;

	*updated = 0;
	list_sort_unique(&w->dirty_dirs);
	list_sort_unique(&w->dirty_files);
	for (size_t i = 0; !w->full && !err && i < w->dirty_dirs.n; i++) {
		unsigned added;

		if (under_gone(w, w->dirty_dirs.v[i]))
			continue; /* removed: its parent's re-read drops it */
		err = xal_update_dir(x, w->dirty_dirs.v[i], w->dev, &w->links, &added);
		if (err == -ENOENT || err == -ESTALE) {
			/* Removed after this burst was read? Its IN_IGNORED is queued by now. */
			int e = drain(w);

			if (e < 0)
				return e;
			if (under_gone(w, w->dirty_dirs.v[i])) {
				err = 0;
				continue;
			}
		}
		if (err == -ENOENT || err == -ESTALE) {
			/* moved (its changes would be lost under the old path) or replaced */
			w->full = 1;
			err = 0;
		} else if (!err) {
			*updated += 1 + (int)added;
		}
	}
	if (!w->full && !err)
		xal_links_apply(x, &w->links);
	for (size_t i = 0; !w->full && !err && i < w->dirty_files.n; i++) {
		if (under_gone(w, w->dirty_files.v[i]))
			continue;
		err = xal_update_file(x, w->dirty_files.v[i]);
		if (err == -ESTALE) {
			w->full = 1;
			err = 0;
		} else if (!err) {
			(*updated)++;
		}
	}
	if (err)
		return err;
	if (!w->full && x->hash_stale && (err = xal_update_hash(x)))
		return err;
	if (w->full || xal_update_wants_compaction(x))
		return reindex(x, w, updated);
	x->updates_incremental++;
	if (!w->dirs_changed)
		return 0;
	/* New or moved directories: watch the new ones, give moved ones their new path.
	 * What a new directory gained between its indexing and its watch would be
	 * missed: re-read each once more now that it is watched. */
	list_clear(&w->fresh);
	for (size_t i = 0; i < w->dirty_dirs.n && !err; i++)
		err = watch_subtree(x, w, w->dirty_dirs.v[i]);
	if (err)
		return err;
	for (size_t i = 0; i < w->fresh.n; i++) {
		unsigned added;

		err = xal_update_dir(x, w->fresh.v[i], w->dev, &w->links, &added);
		if (err == -ENOENT || err == -ESTALE)
			err = 0; /* changed again: its events are queued */
		if (err)
			return err;
	}
	xal_links_apply(x, &w->links);
	return x->hash_stale ? xal_update_hash(x) : 0;
}

/*
 * One burst, then the whole-index check: extents on one block in two files mean
 * the blocks of one moved to the other between the events read so far, and a
 * full re-index (which checks itself) reads them again. Should the files keep
 * changing through that too, it is tried once more after a quiet period; the
 * error then leaves the shared region at its last good state.
 */
static int update(struct xal *x, struct xal_watch *w, int *updated)
{
	uint64_t full_before = x->updates_full;
	int err = update_changes(x, w, updated);

	if (!err && x->updates_full == full_before)
		err = xal_index_check_overlaps(x, NULL);
	else if (err != -EAGAIN)
		return err;
	if (err == -EAGAIN)
		err = reindex(x, w, updated);
	if (err == -EAGAIN) {
		struct pollfd pfd = {.fd = w->fd, .events = POLLIN};

		(void)poll(&pfd, 1, XAL_WATCH_SETTLE_MS * 5);
		err = reindex(x, w, updated);
	}
	return err;
}

int xal_watch_poll(struct xal *x, int timeout_ms)
{
	struct xal_watch *w;
	struct pollfd pfd;
	int64_t t0;
	uint64_t full_before;
	int n, events = 0, updated = 0, err;

	if (!x || !x->watch)
		return -EINVAL;
	w = x->watch;
	pfd.fd = w->fd;
	pfd.events = POLLIN;
	n = poll(&pfd, 1, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return 0;
	/* Drain one burst: stop after a short quiet period, or a bounded total time. */
	t0 = (int64_t)aisio_mono_ms();
	for (;;) {
		int e = drain(w);

		if (e < 0)
			return e;
		events += e;
		if ((int64_t)aisio_mono_ms() - t0 >= XAL_WATCH_MAX_MS)
			break;
		n = poll(&pfd, 1, XAL_WATCH_SETTLE_MS);
		if (n <= 0)
			break;
	}
	if (!events)
		return 0;
	full_before = x->updates_full;
	x->local.seq++; /* in process: odd while the pools change */
	err = update(x, w, &updated);
	x->local.seq++;
	clear_dirty(w);
	if (err)
		return err;
	err = xal_shm_publish(x);
	if (err == -ENOSPC && x->updates_full == full_before && xal_update_wants_compaction(x)) {
		/* the region's slack went to garbage: compact and publish again */
		x->local.seq++;
		err = reindex(x, w, &updated);
		x->local.seq++;
		if (!err)
			err = xal_shm_publish(x);
	}
	if (err == -ENOSPC)
		err = xal_shm_regrow(x); /* the tree itself outgrew the region */
	if (err)
		return err;
	return updated ? updated : 1;
}
