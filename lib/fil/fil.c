/* SPDX-License-Identifier: BSD-3-Clause */
/* fil: the dataset, the epoch order, the pool of batches and the worker threads (fil.h). */
#include "fil_internal.h"

#include <aisio/log.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FIL_LOG_DEV "fil"

static const char *const backend_names[] = {
	[FIL_BACKEND_POSIX_BUFFERED] = "posix-buffered",
	[FIL_BACKEND_POSIX_DIRECT] = "posix-direct",
	[FIL_BACKEND_POSIX_URING] = "posix-uring",
	[FIL_BACKEND_AISIO_CPU] = "aisio-cpu",
	[FIL_BACKEND_AISIO_GPU] = "aisio-gpu",
	[FIL_BACKEND_AISIO_P2P] = "aisio-p2p",
	[FIL_BACKEND_GDS] = "gds",
};

const char *fil_backend_str(enum fil_backend b)
{
	if ((unsigned)b < sizeof(backend_names) / sizeof(backend_names[0]))
		return backend_names[b];
	return "unknown";
}

int fil_backend_parse(const char *name, enum fil_backend *out)
{
	if (!name)
		return -EINVAL;
	if (strcmp(name, "posix") == 0) {
		*out = FIL_BACKEND_POSIX_BUFFERED;
		return 0;
	}
	for (unsigned i = 0; i < sizeof(backend_names) / sizeof(backend_names[0]); i++) {
		if (strcmp(name, backend_names[i]) == 0) {
			*out = (enum fil_backend)i;
			return 0;
		}
	}
	return -EINVAL;
}

size_t fil_round_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

/* ---- hash ---- */

static inline uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

uint64_t fil_hash64(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t h = 0x243f6a8885a308d3ull ^ (len * 0x9e3779b97f4a7c15ull);
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	uint64_t tail = 0;
	for (size_t k = 0; i + k < len; k++)
		tail |= (uint64_t)p[i + k] << (8 * k);
	h = (h ^ tail) * 0x100000001b3ull;
	return mix64(h);
}

/* ---- epoch order ---- */

static inline uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The whole dataset's order for an epoch into perm (nfiles entries). */
static void epoch_perm(const struct fil_dataset *ds, uint64_t epoch, uint32_t *perm)
{
	for (uint32_t i = 0; i < ds->nfiles; i++)
		perm[i] = i;
	if (!ds->o.shuffle || ds->nfiles < 2)
		return;
	uint64_t st = ds->o.seed ^ (0x9e3779b97f4a7c15ull * (epoch + 1));
	for (uint32_t i = ds->nfiles - 1; i > 0; i--) {
		uint64_t r = splitmix64(&st);
		uint32_t j = (uint32_t)(((unsigned __int128)r * (i + 1)) >> 64);
		uint32_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
}

static uint64_t share_len(const struct fil_dataset *ds)
{
	uint64_t w = ds->o.world_size, r = ds->o.rank;
	return ds->nfiles > r ? (ds->nfiles - r + w - 1) / w : 0;
}

uint64_t fil_epoch_files(const struct fil_dataset *ds)
{
	return share_len(ds);
}

uint64_t fil_epoch_batches(const struct fil_dataset *ds)
{
	uint64_t n = share_len(ds), b = ds->o.batch_size;
	return ds->o.drop_last ? n / b : (n + b - 1) / b;
}

/* Shares the order in place: position i goes to rank i % world_size. */
static uint64_t take_share(const struct fil_dataset *ds, uint32_t *perm)
{
	uint64_t n = 0;
	for (uint64_t i = ds->o.rank; i < ds->nfiles; i += ds->o.world_size)
		perm[n++] = perm[i];
	return n;
}

int fil_epoch_order(const struct fil_dataset *ds, uint64_t epoch, uint32_t *files)
{
	uint32_t *perm = malloc(sizeof(*perm) * (ds->nfiles ? ds->nfiles : 1));
	if (!perm)
		return -ENOMEM;
	epoch_perm(ds, epoch, perm);
	uint64_t n = take_share(ds, perm);
	memcpy(files, perm, sizeof(*perm) * n);
	free(perm);
	return 0;
}

/* ---- dataset listing ---- */

struct name_list {
	char **v;
	size_t n, cap;
};

static int names_push(struct name_list *l, const char *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = strdup(s);
	if (!l->v[l->n])
		return -ENOMEM;
	l->n++;
	return 0;
}

static void names_free(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Entries of dir, sorted; dirs: only directories, else only what is not one. */
static int list_dir(const char *dir, bool dirs, struct name_list *out)
{
	DIR *d = opendir(dir);
	if (!d) {
		int rc = -errno;
		aisio_log(AISIO_LOG_ERROR, dir, "cannot open the dataset directory: %s", strerror(-rc));
		return rc;
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		bool is_dir = e->d_type == DT_DIR;
		if (e->d_type == DT_UNKNOWN) {
			struct stat st;
			is_dir = fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
		}
		if (is_dir == dirs)
			rc = names_push(out, e->d_name);
	}
	closedir(d);
	if (rc == 0)
		qsort(out->v, out->n, sizeof(*out->v), cmp_str);
	return rc;
}

static int files_push(struct fil_dataset *ds, size_t *cap, char *path, int32_t label)
{
	if (ds->nfiles == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		struct fil_file *f = realloc(ds->files, ncap * sizeof(*f));
		if (!f) {
			free(path);
			return -ENOMEM;
		}
		ds->files = f;
		*cap = ncap;
	}
	if (ds->nfiles == UINT32_MAX - 1) {
		free(path);
		return -EFBIG;
	}
	ds->files[ds->nfiles++] = (struct fil_file){.path = path, .label = label};
	return 0;
}

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);
	if (!p)
		return NULL;
	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	return p;
}

static int list_class_dirs(struct fil_dataset *ds)
{
	struct name_list classes = {0};
	size_t cap = 0;
	int rc = list_dir(ds->root, true, &classes);
	for (size_t c = 0; rc == 0 && c < classes.n; c++) {
		char *cdir = join(ds->root, classes.v[c]);
		struct name_list names = {0};
		rc = cdir ? list_dir(cdir, false, &names) : -ENOMEM;
		for (size_t i = 0; rc == 0 && i < names.n; i++) {
			char *p = join(cdir, names.v[i]);
			rc = p ? files_push(ds, &cap, p, (int32_t)c) : -ENOMEM;
		}
		names_free(&names);
		free(cdir);
	}
	ds->nclasses = (uint32_t)classes.n;
	names_free(&classes);
	return rc;
}

static int list_file(struct fil_dataset *ds)
{
	FILE *f = fopen(ds->root, "re");
	if (!f) {
		int rc = -errno;
		aisio_log(AISIO_LOG_ERROR, ds->root, "cannot open the file list: %s", strerror(-rc));
		return rc;
	}
	char *dir = strdup(ds->root);
	if (!dir) {
		fclose(f);
		return -ENOMEM;
	}
	char *slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	else
		strcpy(dir, ".");
	char *line = NULL;
	size_t lcap = 0, cap = 0;
	ssize_t n;
	int rc = 0;
	int32_t max_label = -1;
	unsigned lineno = 0;
	while (rc == 0 && (n = getline(&line, &lcap, f)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		int32_t label = 0;
		char *tab = strchr(line, '\t');
		if (tab) {
			*tab = '\0';
			char *end;
			errno = 0;
			long v = strtol(tab + 1, &end, 10);
			if (errno || end == tab + 1 || *end || v < 0 || v > INT32_MAX) {
				aisio_log(AISIO_LOG_ERROR, ds->root, "line %u: label '%s' is not a number 0..%d",
					  lineno, tab + 1, INT32_MAX);
				rc = -EINVAL;
				break;
			}
			label = (int32_t)v;
		}
		char *p = line[0] == '/' ? strdup(line) : join(dir, line);
		rc = p ? files_push(ds, &cap, p, label) : -ENOMEM;
		if (label > max_label)
			max_label = label;
	}
	free(line);
	free(dir);
	fclose(f);
	ds->nclasses = (uint32_t)(max_label + 1);
	return rc;
}

/* ---- slots ---- */

static int cmp_u64_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The largest batch: the batch_size largest files, each padded to the alignment. */
static int size_slots(struct fil_dataset *ds)
{
	uint64_t *sz = malloc(sizeof(*sz) * (ds->nfiles ? ds->nfiles : 1));
	if (!sz)
		return -ENOMEM;
	for (uint32_t i = 0; i < ds->nfiles; i++) {
		uint64_t s = ds->files[i].size == FIL_SIZE_UNKNOWN ? 0 : ds->files[i].size;
		sz[i] = fil_round_up(s, ds->align);
	}
	qsort(sz, ds->nfiles, sizeof(*sz), cmp_u64_desc);
	uint64_t cap = 0;
	for (uint32_t i = 0; i < ds->nfiles && i < ds->o.batch_size; i++)
		cap += sz[i];
	ds->max_file = ds->nfiles ? sz[0] : 0;
	free(sz);
	ds->slot_cap = fil_round_up(cap ? cap : ds->align, 4096);
	return 0;
}

static int alloc_slots(struct fil_dataset *ds)
{
	unsigned b = ds->o.batch_size;
	ds->slots = calloc(ds->nslots, sizeof(*ds->slots));
	if (!ds->slots)
		return -ENOMEM;
	for (unsigned i = 0; i < ds->nslots; i++) {
		struct fil_slot *s = &ds->slots[i];
		s->buf = ds->ops->buf_alloc(ds, ds->slot_cap);
		s->offsets = calloc(b, sizeof(*s->offsets));
		s->lengths = calloc(b, sizeof(*s->lengths));
		s->hashes = calloc(b, sizeof(*s->hashes));
		s->labels = calloc(b, sizeof(*s->labels));
		s->files = calloc(b, sizeof(*s->files));
		s->paths = calloc(b, sizeof(*s->paths));
		if (!s->buf || !s->offsets || !s->lengths || !s->hashes || !s->labels || !s->files || !s->paths) {
			aisio_log(AISIO_LOG_ERROR, FIL_LOG_DEV, "cannot allocate %u batch buffers of %zu bytes (%s)",
				  ds->nslots, ds->slot_cap, ds->ops->name);
			return -ENOMEM;
		}
	}
	return 0;
}

static void free_slots(struct fil_dataset *ds)
{
	if (!ds->slots)
		return;
	for (unsigned i = 0; i < ds->nslots; i++) {
		struct fil_slot *s = &ds->slots[i];
		if (s->buf)
			ds->ops->buf_free(ds, s->buf);
		free(s->offsets);
		free(s->lengths);
		free(s->hashes);
		free(s->labels);
		free(s->files);
		free(s->paths);
	}
	free(ds->slots);
	ds->slots = NULL;
}

/* Lay batch seq out in a free slot; under mu. */
static void arm(struct fil_dataset *ds, struct fil_slot *s, uint64_t seq)
{
	uint64_t first = ds->start_index + seq * ds->o.batch_size;
	uint64_t n = ds->order_n - first < ds->o.batch_size ? ds->order_n - first : ds->o.batch_size;
	uint64_t off = 0;
	for (unsigned i = 0; i < n; i++) {
		uint32_t f = ds->order[first + i];
		uint64_t len = ds->files[f].size == FIL_SIZE_UNKNOWN ? 0 : ds->files[f].size;
		s->files[i] = f;
		s->paths[i] = ds->files[f].path;
		s->labels[i] = ds->files[f].label;
		s->offsets[i] = off;
		s->lengths[i] = len;
		s->hashes[i] = 0;
		off += fil_round_up(len, ds->align);
	}
	s->b = (struct fil_batch){
		.epoch = ds->epoch,
		.index = first,
		.count = (unsigned)n,
		.data = s->buf,
		.data_len = off,
		.offsets = s->offsets,
		.lengths = s->lengths,
		.labels = s->labels,
		.files = s->files,
		.paths = s->paths,
		.hashes = ds->o.verify ? s->hashes : NULL,
	};
	s->msg[0] = '\0';
	s->err_at = UINT_MAX;
	s->parts_done = 0;
	s->seq = seq;
	s->state = FIL_SLOT_FILLING;
}

static void arm_more(struct fil_dataset *ds)
{
	bool armed = false;
	for (unsigned i = 0; i < ds->nslots && ds->next_arm < ds->nbatches; i++) {
		if (ds->slots[i].state == FIL_SLOT_FREE) {
			arm(ds, &ds->slots[i], ds->next_arm++);
			armed = true;
		}
	}
	if (armed)
		pthread_cond_broadcast(&ds->work_cv);
}

/* ---- per-file helpers of the backends ---- */

int fil_fail(struct fil_worker *w, unsigned at, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
	w->err_at = at;
	return err;
}

void fil_zero_tail(struct fil_dataset *ds, struct fil_slot *s, unsigned at)
{
	uint64_t len = s->lengths[at];
	uint64_t end = fil_round_up(len, ds->align);
	memset(s->buf + s->offsets[at] + len, 0, end - len);
}

/* What fstat or stat found against what the dataset recorded at open. */
static int check_stat(struct fil_worker *w, struct fil_slot *s, unsigned at, int rc, const struct stat *st)
{
	const char *path = s->paths[at];
	uint64_t want = w->ds->files[s->files[at]].size;
	if (rc < 0)
		return fil_fail(w, at, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st->st_mode))
		return fil_fail(w, at, -EINVAL, "%s: not a regular file", path);
	if (want == FIL_SIZE_UNKNOWN || (uint64_t)st->st_size != want)
		return fil_fail(w, at, -ESTALE,
				"%s: size changed since the dataset was opened (%" PRIu64 " -> %lld bytes)", path,
				want == FIL_SIZE_UNKNOWN ? 0 : want, (long long)st->st_size);
	return 0;
}

int fil_check_fd(struct fil_worker *w, struct fil_slot *s, unsigned at, int fd)
{
	struct stat st;
	return check_stat(w, s, at, fstat(fd, &st), &st);
}

int fil_check_path(struct fil_worker *w, struct fil_slot *s, unsigned at)
{
	struct stat st;
	return check_stat(w, s, at, stat(s->paths[at], &st), &st);
}

/* Open a dataset file for reading without blocking on a FIFO. */
static int open_file(struct fil_worker *w, unsigned at, const char *path, int flags)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | flags);
	if (fd < 0)
		return fil_fail(w, at, -errno, "%s: %s", path, strerror(errno));
	return fd;
}

int fil_pread_span(struct fil_worker *w, struct fil_slot *s, unsigned at, int fd, uint8_t *dst, uint64_t span,
		   unsigned align)
{
	const char *path = s->paths[at];
	uint64_t len = s->lengths[at], got = 0;
	while (got < len) {
		size_t chunk = span - got > (1u << 30) ? (1u << 30) : (size_t)(span - got);
		ssize_t n = pread(fd, dst + got, chunk, (off_t)got);
		w->ios++;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fil_fail(w, at, -errno, "%s: read at %" PRIu64 ": %s", path, got, strerror(errno));
		/* the file ended early: it shrank, or (direct) a short read mid-file */
		if (n == 0 || (align > 1 && got + (uint64_t)n < len && n % align))
			return fil_fail(w, at, -ESTALE, "%s: ended at %" PRIu64 " of %" PRIu64 " bytes while read",
					path, got + (uint64_t)n, len);
		got += (uint64_t)n;
	}
	return 0;
}

/* Buffered read of the file into dst, size checked before and after. */
static int pread_whole(struct fil_worker *w, struct fil_slot *s, unsigned at, uint8_t *dst)
{
	int fd = open_file(w, at, s->paths[at], 0);
	if (fd < 0)
		return fd;
	int rc = fil_check_fd(w, s, at, fd);
	if (rc == 0)
		rc = fil_pread_span(w, s, at, fd, dst, s->lengths[at], 1);
	if (rc == 0)
		rc = fil_check_fd(w, s, at, fd);
	close(fd);
	return rc;
}

int fil_read_buffered(struct fil_worker *w, struct fil_slot *s, unsigned at)
{
	int rc = pread_whole(w, s, at, s->buf + s->offsets[at]);
	if (rc == 0)
		fil_zero_tail(w->ds, s, at);
	return rc;
}

void *fil_host_buf_alloc(struct fil_dataset *ds, size_t len)
{
	void *p = NULL;
	if (posix_memalign(&p, 4096, fil_round_up(len, 4096)) != 0)
		return NULL;
	return p;
}

void fil_host_buf_free(struct fil_dataset *ds, void *buf)
{
	free(buf);
}

/* Verify: the delivered bytes against an independent buffered read. */
static int verify_file(struct fil_worker *w, struct fil_slot *s, unsigned at)
{
	uint64_t len = s->lengths[at];
	if (len > w->scratch_cap) {
		uint8_t *p = realloc(w->scratch, len);
		if (!p)
			return fil_fail(w, at, -ENOMEM, "%s: no memory to verify %" PRIu64 " bytes", s->paths[at], len);
		w->scratch = p;
		w->scratch_cap = len;
	}
	const uint8_t *delivered = s->buf + s->offsets[at];
	if (w->ds->ops->copy_out) {
		/* device memory: the delivered bytes come back first, the independent read after */
		if (len > w->out_cap) {
			uint8_t *p = realloc(w->out, len);
			if (!p)
				return fil_fail(w, at, -ENOMEM, "%s: no memory to verify %" PRIu64 " bytes",
						s->paths[at], len);
			w->out = p;
			w->out_cap = len;
		}
		int rc = w->ds->ops->copy_out(w, w->out, delivered, len);
		if (rc < 0)
			return fil_fail(w, at, rc, "%s: verify: copying the delivered bytes back: %s", s->paths[at],
					strerror(-rc));
		delivered = w->out;
	}
	uint64_t got = fil_hash64(delivered, len);
	uint64_t ios = w->ios; /* the check's own reads are not the backend's */
	int rc = pread_whole(w, s, at, w->scratch);
	w->ios = ios;
	if (rc < 0)
		return rc;
	uint64_t want = fil_hash64(w->scratch, len);
	if (got != want)
		return fil_fail(w, at, -EILSEQ,
				"%s: verify: the %s bytes differ from a buffered read (hash %016" PRIx64
				" != %016" PRIx64 ")",
				s->paths[at], w->ds->ops->name, got, want);
	s->hashes[at] = got;
	return 0;
}

/* ---- workers ---- */

static void deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static struct fil_slot *find_slot(struct fil_dataset *ds, uint64_t seq, bool any_state)
{
	for (unsigned i = 0; i < ds->nslots; i++) {
		struct fil_slot *s = &ds->slots[i];
		if (s->seq == seq && (s->state == FIL_SLOT_FILLING || (any_state && s->state == FIL_SLOT_READY)))
			return s;
	}
	return NULL;
}

static void *worker_main(void *arg)
{
	struct fil_worker *w = arg;
	struct fil_dataset *ds = w->ds;
	pthread_mutex_lock(&ds->mu);
	for (;;) {
		if (ds->stop)
			break;
		if (w->gen != ds->gen) {
			w->gen = ds->gen;
			w->seq = 0;
		}
		struct fil_slot *s = find_slot(ds, w->seq, false);
		if (!s) {
			/* idle: a bounded nap, woken by arming, repositioning or close */
			struct timespec ts;
			deadline_in(&ts, 1000);
			pthread_cond_timedwait(&ds->work_cv, &ds->mu, &ts);
			continue;
		}
		pthread_mutex_unlock(&ds->mu);

		/* this worker's part: a contiguous run of the batch */
		unsigned n = s->b.count, first = (unsigned)((uint64_t)n * w->id / ds->nworkers);
		unsigned end = (unsigned)((uint64_t)n * (w->id + 1) / ds->nworkers);
		w->msg[0] = '\0';
		w->err_at = UINT_MAX;
		w->fallback = 0;
		w->ios = 0;
		int rc = end > first ? ds->ops->read(w, s, first, end - first) : 0;
		for (unsigned i = first; rc == 0 && ds->o.verify && i < end; i++)
			rc = verify_file(w, s, i);

		pthread_mutex_lock(&ds->mu);
		if (rc < 0 && w->err_at < s->err_at) {
			s->b.err = rc;
			s->err_at = w->err_at;
			snprintf(s->msg, sizeof(s->msg), "%s", w->msg);
			s->b.error = s->msg;
		}
		if (rc == 0) {
			ds->stats.files += end - first;
			for (unsigned i = first; i < end; i++)
				ds->stats.bytes += s->lengths[i];
		}
		ds->stats.files_fallback += w->fallback;
		ds->stats.ios += w->ios;
		if (++s->parts_done == ds->nworkers) {
			ds->stats.batches_failed += s->b.err != 0;
			s->state = FIL_SLOT_READY;
			pthread_cond_broadcast(&ds->done_cv);
		}
		w->seq++;
	}
	pthread_mutex_unlock(&ds->mu);
	return NULL;
}

/* ---- epochs and positions ---- */

/* Wait until no slot is being read; under mu. */
static int wait_idle(struct fil_dataset *ds)
{
	struct timespec ts;
	deadline_in(&ts, ds->o.timeout_ms);
	for (;;) {
		bool busy = false;
		for (unsigned i = 0; i < ds->nslots; i++)
			busy |= ds->slots[i].state == FIL_SLOT_FILLING;
		if (!busy)
			return 0;
		if (pthread_cond_timedwait(&ds->done_cv, &ds->mu, &ts) == ETIMEDOUT)
			return -ETIMEDOUT;
	}
}

static int start_at(struct fil_dataset *ds, const struct fil_position *pos)
{
	if (pos->epoch != ds->epoch || !ds->order) {
		uint32_t *perm = malloc(sizeof(*perm) * (ds->nfiles ? ds->nfiles : 1));
		if (!perm)
			return -ENOMEM;
		epoch_perm(ds, pos->epoch, perm);
		free(ds->order);
		ds->order = perm;
		ds->order_n = take_share(ds, perm);
		ds->epoch = pos->epoch;
	}
	ds->start_index = pos->index;
	uint64_t left = ds->order_n - pos->index, b = ds->o.batch_size;
	ds->nbatches = ds->o.drop_last ? left / b : (left + b - 1) / b;
	ds->pos = *pos;
	ds->gen++;
	ds->next_arm = ds->next_out = 0;
	/* batches the caller holds stay valid and come back through fil_batch_release */
	for (unsigned i = 0; i < ds->nslots; i++)
		if (ds->slots[i].state != FIL_SLOT_USER)
			ds->slots[i].state = FIL_SLOT_FREE;
	arm_more(ds);
	return 0;
}

int fil_position_set(struct fil_dataset *ds, const struct fil_position *pos)
{
	if (pos->index > share_len(ds)) {
		aisio_log(AISIO_LOG_ERROR, FIL_LOG_DEV, "position %" PRIu64 " is past the %" PRIu64 " files of rank %u",
			  pos->index, share_len(ds), ds->o.rank);
		return -ERANGE;
	}
	pthread_mutex_lock(&ds->mu);
	int rc = wait_idle(ds);
	if (rc == 0)
		rc = start_at(ds, pos);
	pthread_mutex_unlock(&ds->mu);
	if (rc == -ETIMEDOUT)
		aisio_log(AISIO_LOG_ERROR, FIL_LOG_DEV, "position change: reads in flight did not end within %u ms",
			  ds->o.timeout_ms);
	return rc;
}

int fil_epoch_next(struct fil_dataset *ds)
{
	struct fil_position p = {.epoch = ds->epoch + 1, .index = 0};
	return fil_position_set(ds, &p);
}

void fil_dataset_stats(struct fil_dataset *ds, struct fil_stats *st)
{
	pthread_mutex_lock(&ds->mu);
	*st = ds->stats;
	pthread_mutex_unlock(&ds->mu);
}

void fil_position_get(const struct fil_dataset *ds, struct fil_position *pos)
{
	*pos = ds->pos;
}

/* ---- batches ---- */

int fil_next(struct fil_dataset *ds, struct fil_batch **out, unsigned timeout_ms)
{
	*out = NULL;
	pthread_mutex_lock(&ds->mu);
	arm_more(ds);
	int rc;
	struct fil_slot *s = NULL;
	if (ds->next_out >= ds->nbatches) {
		rc = -ENODATA;
	} else if (!(s = find_slot(ds, ds->next_out, true))) {
		rc = -ENOBUFS;
	} else {
		struct timespec ts;
		deadline_in(&ts, timeout_ms);
		rc = 0;
		while (s->state != FIL_SLOT_READY && rc == 0)
			if (pthread_cond_timedwait(&ds->done_cv, &ds->mu, &ts) == ETIMEDOUT &&
			    s->state != FIL_SLOT_READY)
				rc = -ETIMEDOUT;
	}
	if (rc == 0) {
		s->state = FIL_SLOT_USER;
		ds->held++;
		ds->next_out++;
		ds->pos.epoch = s->b.epoch;
		ds->pos.index = s->b.index + s->b.count;
		rc = s->b.err;
		*out = &s->b;
	}
	pthread_mutex_unlock(&ds->mu);
	if (rc < 0 && *out)
		aisio_log(AISIO_LOG_ERROR, FIL_LOG_DEV, "%s", (*out)->error);
	return rc;
}

void fil_batch_release(struct fil_dataset *ds, struct fil_batch *batch)
{
	if (!batch)
		return;
	struct fil_slot *s = (struct fil_slot *)((char *)batch - offsetof(struct fil_slot, b));
	pthread_mutex_lock(&ds->mu);
	if (s->state == FIL_SLOT_USER) {
		s->state = FIL_SLOT_FREE;
		ds->held--;
		arm_more(ds);
	}
	pthread_mutex_unlock(&ds->mu);
}

/* ---- open / close ---- */

static const struct fil_backend_ops *backend_ops(enum fil_backend b)
{
	switch (b) {
	case FIL_BACKEND_POSIX_BUFFERED: return &fil_posix_buffered_ops;
	case FIL_BACKEND_POSIX_DIRECT: return &fil_posix_direct_ops;
	case FIL_BACKEND_POSIX_URING: return &fil_posix_uring_ops;
	case FIL_BACKEND_AISIO_CPU: return &fil_aisio_cpu_ops;
	default: return NULL;
	}
}

/* The backend that delivers into the memory the options ask for; *inner the posix backend a GPU-memory
 * wrapper reads with. NULL with a message when there is none. */
static const struct fil_backend_ops *pick_ops(const struct fil_opts *o, const struct fil_backend_ops **inner)
{
	*inner = NULL;
	const bool gpu_only = o->backend == FIL_BACKEND_AISIO_GPU || o->backend == FIL_BACKEND_GDS;
	if (o->mem == FIL_MEM_HOST && !gpu_only) {
		const struct fil_backend_ops *ops = backend_ops(o->backend);
		if (!ops)
			aisio_log(AISIO_LOG_ERROR, FIL_LOG_DEV, "backend %s is not built yet",
				  fil_backend_str(o->backend));
		return ops;
	}
	if (o->mem != FIL_MEM_HOST && o->mem != FIL_MEM_CUDA) {
		aisio_log(AISIO_LOG_ERROR, FIL_LOG_DEV, "unknown memory placement %d", (int)o->mem);
		return NULL;
	}
	if (!o->gpu) {
		aisio_log(
			AISIO_LOG_ERROR, FIL_LOG_DEV,
			"%s into GPU memory needs the GPU layer (a program built with CUDA passes fil_gpu_backends())",
			fil_backend_str(o->backend));
		return NULL;
	}
	const struct fil_backend_ops *ops = NULL;
	switch (o->backend) {
	case FIL_BACKEND_AISIO_GPU: ops = o->gpu->aisio_gpu; break;
	case FIL_BACKEND_GDS: ops = o->gpu->gds; break;
	case FIL_BACKEND_POSIX_BUFFERED:
	case FIL_BACKEND_POSIX_DIRECT:
	case FIL_BACKEND_POSIX_URING:
		*inner = backend_ops(o->backend);
		ops = o->gpu->posix_cuda;
		break;
	default: break;
	}
	if (!ops)
		aisio_log(AISIO_LOG_ERROR, FIL_LOG_DEV, "backend %s does not deliver into GPU memory",
			  fil_backend_str(o->backend));
	return ops;
}

uint32_t fil_dataset_files(const struct fil_dataset *ds)
{
	return ds->nfiles;
}

uint32_t fil_dataset_classes(const struct fil_dataset *ds)
{
	return ds->nclasses;
}

const char *fil_file_path(const struct fil_dataset *ds, uint32_t file)
{
	return file < ds->nfiles ? ds->files[file].path : NULL;
}

int32_t fil_file_label(const struct fil_dataset *ds, uint32_t file)
{
	return file < ds->nfiles ? ds->files[file].label : -1;
}

uint64_t fil_file_size(const struct fil_dataset *ds, uint32_t file)
{
	return file < ds->nfiles ? ds->files[file].size : FIL_SIZE_UNKNOWN;
}

int fil_dataset_open(struct fil_dataset **out, const struct fil_opts *opts)
{
	*out = NULL;
	if (!opts || !opts->path) {
		aisio_log(AISIO_LOG_ERROR, FIL_LOG_DEV, "no dataset path");
		return -EINVAL;
	}
	const struct fil_backend_ops *inner;
	const struct fil_backend_ops *ops = pick_ops(opts, &inner);
	if (!ops)
		return -ENOTSUP;
	struct fil_dataset *ds = calloc(1, sizeof(*ds));
	if (!ds)
		return -ENOMEM;
	ds->o = *opts;
	ds->ops = ops;
	ds->inner = inner;
	ds->align = inner && inner->align > ops->align ? inner->align : ops->align;
	if (ops != backend_ops(opts->backend))
		ds->o.mem = FIL_MEM_CUDA;
	if (!ds->o.batch_size)
		ds->o.batch_size = 32;
	if (!ds->o.batches_in_flight)
		ds->o.batches_in_flight = 4;
	if (!ds->o.world_size)
		ds->o.world_size = 1;
	if (!ds->o.timeout_ms)
		ds->o.timeout_ms = 30000;
	if (!ds->o.queue_depth)
		ds->o.queue_depth = 64;
	if (!ds->o.threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		ds->o.threads = n > 0 ? (unsigned)n : 1;
	}
	if (ds->o.threads > 256)
		ds->o.threads = 256;
	pthread_mutex_init(&ds->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ds->work_cv, &ca);
	pthread_cond_init(&ds->done_cv, &ca);
	pthread_condattr_destroy(&ca);

	int rc = 0;
	if (ds->o.rank >= ds->o.world_size) {
		aisio_log(AISIO_LOG_ERROR, FIL_LOG_DEV, "rank %u is not below world size %u", ds->o.rank,
			  ds->o.world_size);
		rc = -EINVAL;
	}
	struct stat st;
	if (rc == 0) {
		ds->root = strdup(opts->path);
		rc = ds->root ? 0 : -ENOMEM;
	}
	if (rc == 0 && stat(ds->root, &st) < 0) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, ds->root, "dataset: %s", strerror(-rc));
	}
	if (rc == 0)
		rc = S_ISDIR(st.st_mode) ? list_class_dirs(ds) : list_file(ds);
	if (rc == 0 && ds->nfiles == 0) {
		aisio_log(AISIO_LOG_ERROR, ds->root, "dataset holds no files");
		rc = -ENOENT;
	}
	for (uint32_t i = 0; rc == 0 && i < ds->nfiles; i++) {
		struct stat fs;
		/* an entry that cannot be stat'ed now fails when read, naming itself */
		ds->files[i].size = stat(ds->files[i].path, &fs) == 0 && S_ISREG(fs.st_mode) ? (uint64_t)fs.st_size
											     : FIL_SIZE_UNKNOWN;
	}
	if (rc == 0)
		rc = size_slots(ds);
	ds->nslots = ds->o.batches_in_flight;
	if (rc == 0 && ops->open)
		rc = ops->open(ds);
	/* the caller's strings are not kept: ds->root and the backend's copies are */
	ds->o.path = ds->o.device = ds->o.xal_source = ds->o.xal_mount = NULL;
	if (rc == 0)
		rc = alloc_slots(ds);
	if (rc == 0) {
		ds->nworkers = ds->o.threads;
		ds->workers = calloc(ds->nworkers, sizeof(*ds->workers));
		rc = ds->workers ? 0 : -ENOMEM;
	}
	for (unsigned i = 0; rc == 0 && i < ds->nworkers; i++) {
		struct fil_worker *w = &ds->workers[i];
		w->ds = ds;
		w->id = i;
		w->gen = UINT64_MAX;
		if (ops->worker_init)
			rc = ops->worker_init(w);
	}
	if (rc == 0) {
		struct fil_position p = {0};
		ds->epoch = UINT64_MAX;
		pthread_mutex_lock(&ds->mu);
		rc = start_at(ds, &p);
		pthread_mutex_unlock(&ds->mu);
	}
	for (unsigned i = 0; rc == 0 && i < ds->nworkers; i++) {
		int e = pthread_create(&ds->workers[i].thread, NULL, worker_main, &ds->workers[i]);
		if (e) {
			aisio_log(AISIO_LOG_ERROR, FIL_LOG_DEV, "cannot start worker thread %u: %s", i, strerror(e));
			rc = -e;
		} else {
			ds->workers[i].started = true;
		}
	}
	if (rc < 0) {
		fil_dataset_close(ds);
		return rc;
	}
	*out = ds;
	return 0;
}

void fil_dataset_close(struct fil_dataset *ds)
{
	if (!ds)
		return;
	pthread_mutex_lock(&ds->mu);
	ds->stop = true;
	pthread_cond_broadcast(&ds->work_cv);
	pthread_mutex_unlock(&ds->mu);
	for (unsigned i = 0; ds->workers && i < ds->nworkers; i++) {
		struct fil_worker *w = &ds->workers[i];
		if (w->started)
			pthread_join(w->thread, NULL);
		if (ds->ops->worker_fini && w->ds)
			ds->ops->worker_fini(w);
		free(w->scratch);
		free(w->out);
	}
	free(ds->workers);
	free_slots(ds);
	if (ds->ops->close)
		ds->ops->close(ds);
	for (uint32_t i = 0; i < ds->nfiles; i++) {
		free(ds->files[i].path);
		free(ds->files[i].xal_path);
	}
	free(ds->files);
	free(ds->order);
	free(ds->root);
	pthread_cond_destroy(&ds->work_cv);
	pthread_cond_destroy(&ds->done_cv);
	pthread_mutex_destroy(&ds->mu);
	free(ds);
}
