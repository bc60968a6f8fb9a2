/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Watch mode of the FIEMAP backend: an inotify watch on every directory of the
 * index. xal_watch_poll blocks in poll(2) (no spinning), drains the events of
 * one burst (bounded: at most XAL_WATCH_SETTLE_MS of quiet or XAL_WATCH_MAX_MS
 * in all), then brings the index up to date:
 *   - only file contents changed (IN_MODIFY / IN_CLOSE_WRITE on a file): re-map
 *     those files; a file whose extent count did not grow is updated in place,
 *   - anything else (create, delete, rename, a grown file): re-index the tree,
 * and publishes the result under the seqlock (into the shared region if exported).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xal_priv.h"

#define XAL_WATCH_SETTLE_MS 20
#define XAL_WATCH_MAX_MS 1000
#define XAL_WATCH_MASK                                                                                         \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB |          \
	 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct wdir {
	int wd;
	char *path;     /* relative to the source */
};

struct xal_watch {
	int fd;
	struct wdir *dirs;
	size_t ndirs, capdirs;
	/* files whose contents changed in this burst: relative paths */
	char **dirty;
	size_t ndirty, capdirty;
	int structural;
};

static const char *wd_path(const struct xal_watch *w, int wd)
{
	for (size_t i = 0; i < w->ndirs; i++)
		if (w->dirs[i].wd == wd)
			return w->dirs[i].path;
	return NULL;
}

struct add_ctx {
	struct xal *x;
	struct xal_watch *w;
};

static int add_dir_cb(const struct xal *x, const char *path, const struct xal_inode *in, void *arg)
{
	struct add_ctx *a = arg;
	struct xal_watch *w = a->w;
	char *full;
	int wd;

	if (in->type != XAL_TYPE_DIR)
		return 0;
	if (asprintf(&full, "%s/%s", x->source, path) < 0)
		return -ENOMEM;
	wd = inotify_add_watch(w->fd, full, XAL_WATCH_MASK);
	free(full);
	if (wd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (wd_path(w, wd))
		return 0;
	if (w->ndirs == w->capdirs) {
		size_t n = w->capdirs ? w->capdirs * 2 : 64;
		struct wdir *np = realloc(w->dirs, n * sizeof(*np));

		if (!np)
			return -ENOMEM;
		w->dirs = np;
		w->capdirs = n;
	}
	w->dirs[w->ndirs].wd = wd;
	w->dirs[w->ndirs].path = strdup(path);
	if (!w->dirs[w->ndirs].path)
		return -ENOMEM;
	w->ndirs++;
	return 0;
}

static void clear_dirty(struct xal_watch *w)
{
	for (size_t i = 0; i < w->ndirty; i++)
		free(w->dirty[i]);
	w->ndirty = 0;
	w->structural = 0;
}

static void drop_dirs(struct xal_watch *w)
{
	for (size_t i = 0; i < w->ndirs; i++) {
		inotify_rm_watch(w->fd, w->dirs[i].wd);
		free(w->dirs[i].path);
	}
	w->ndirs = 0;
}

int xal_watch_start(struct xal *x)
{
	struct add_ctx a;
	struct xal_watch *w;
	int err;

	if (!x || x->hdr != &x->local || x->local.backend != XAL_BACKEND_FIEMAP)
		return -EOPNOTSUPP;
	if (x->watch)
		return -EBUSY;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		err = -errno;
		free(w);
		return err;
	}
	x->watch = w;
	a.x = x;
	a.w = w;
	if ((err = xal_walk(x, add_dir_cb, &a))) {
		xal_watch_stop(x);
		return err;
	}
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
	free(w->dirty);
	free(w->dirs);
	close(w->fd);
	free(w);
	x->watch = NULL;
}

static int note_dirty(struct xal_watch *w, const char *dir, const char *name)
{
	char *p;

	for (size_t i = 0; i < w->ndirty; i++) {
		size_t dl = strlen(dir);

		if (!strncmp(w->dirty[i], dir, dl) && !strcmp(w->dirty[i] + dl + (dl ? 1 : 0), name))
			return 0;
	}
	if (w->ndirty == w->capdirty) {
		size_t n = w->capdirty ? w->capdirty * 2 : 16;
		char **np = realloc(w->dirty, n * sizeof(*np));

		if (!np)
			return -ENOMEM;
		w->dirty = np;
		w->capdirty = n;
	}
	if (asprintf(&p, "%s%s%s", dir, dir[0] ? "/" : "", name) < 0)
		return -ENOMEM;
	w->dirty[w->ndirty++] = p;
	return 0;
}

/* Reads what is queued; returns the number of events. */
static int drain(struct xal_watch *w)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	int events = 0;

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

			events++;
			p += sizeof(*ev) + ev->len;
			if ((ev->mask & (IN_MODIFY | IN_CLOSE_WRITE)) && !(ev->mask & IN_ISDIR) && ev->len && dir) {
				int err = note_dirty(w, dir, ev->name);

				if (err)
					return err;
			} else if (ev->mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF |
					       IN_MOVE_SELF | IN_Q_OVERFLOW)) {
				w->structural = 1;
			}
		}
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Re-maps one file into its existing extent slots; -EAGAIN when it no longer fits. */
static int remap_in_place(struct xal *x, const char *rel)
{
	struct xal_inode in;
	struct xal_build b;
	char *full;
	int fd, err;

	if ((err = xal_lookup(x, rel, &in)))
		return err == -ENOENT ? -EAGAIN : err;
	if (in.type != XAL_TYPE_REG)
		return 0;
	if (asprintf(&full, "%s/%s", x->source, rel) < 0)
		return -ENOMEM;
	fd = open(full, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	free(full);
	if (fd < 0)
		return -EAGAIN;
	memset(&b, 0, sizeof(b));
	b.block_size = x->local.block_size;
	err = 0;
	{
		size_t sz = sizeof(struct fiemap) + 256 * sizeof(struct fiemap_extent);
		struct fiemap *fm = calloc(1, sz);
		struct stat st;

		if (!fm) {
			close(fd);
			return -ENOMEM;
		}
		if (fstat(fd, &st) || st.st_ino != in.ino) {
			err = -EAGAIN;
		} else {
			fm->fm_length = FIEMAP_MAX_OFFSET;
			fm->fm_flags = (x->open_flags & XAL_OPEN_NO_SYNC) ? 0 : FIEMAP_FLAG_SYNC;
			fm->fm_extent_count = 256;
			if (ioctl(fd, FS_IOC_FIEMAP, fm))
				err = -errno;
			else if (fm->fm_mapped_extents == 256 &&
				 !(fm->fm_extents[255].fe_flags & FIEMAP_EXTENT_LAST))
				err = -EAGAIN;  /* long file: let the full re-index handle it */
			for (uint32_t i = 0; !err && i < fm->fm_mapped_extents; i++)
				err = xal_build_extent(&b, fm->fm_extents[i].fe_logical, fm->fm_extents[i].fe_physical,
						       fm->fm_extents[i].fe_length,
						       fm->fm_extents[i].fe_flags & ~FIEMAP_EXTENT_LAST);
		}
		free(fm);
		if (!err) {
			struct xal_ino_rec *r = &x->inodes[in.idx];

			if (b.n_exts > r->count) {
				err = -EAGAIN;
			} else {
				memcpy(&x->exts[r->first], b.exts, b.n_exts * sizeof(*b.exts));
				r->count = (uint32_t)b.n_exts;
				r->size = (uint64_t)st.st_size;
				r->nlink = (uint32_t)st.st_nlink;
			}
		}
	}
	free(b.exts);
	close(fd);
	return err;
}

int xal_watch_poll(struct xal *x, int timeout_ms)
{
	struct xal_watch *w;
	struct pollfd pfd;
	int64_t t0;
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
	t0 = now_ms();
	for (;;) {
		int e = drain(w);

		if (e < 0)
			return e;
		events += e;
		if (now_ms() - t0 >= XAL_WATCH_MAX_MS)
			break;
		n = poll(&pfd, 1, XAL_WATCH_SETTLE_MS);
		if (n <= 0)
			break;
	}
	if (!events)
		return 0;
	x->local.seq++;  /* in process: odd while the pools change */
	if (!w->structural) {
		for (size_t i = 0; i < w->ndirty; i++) {
			err = remap_in_place(x, w->dirty[i]);
			if (err == -EAGAIN) {
				w->structural = 1;
				break;
			}
			if (err) {
				x->local.seq++;
				clear_dirty(w);
				return err;
			}
			updated++;
		}
	}
	if (w->structural) {
		struct add_ctx a = { x, w };
		char eb[256] = "";

		err = xal_reindex(x, eb, sizeof(eb));
		if (!err) {
			drop_dirs(w);
			err = xal_walk(x, add_dir_cb, &a);
		}
		if (err) {
			x->local.seq++;
			clear_dirty(w);
			return err;
		}
		updated = (int)(x->local.n_inodes > INT32_MAX ? INT32_MAX : x->local.n_inodes);
	}
	x->local.seq++;
	clear_dirty(w);
	if ((err = xal_shm_publish(x)))
		return err;
	return updated ? updated : 1;
}
