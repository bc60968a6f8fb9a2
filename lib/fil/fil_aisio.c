/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fil's aisio-cpu backend: a file's extents from XAL become LBA runs that a bio queue (one per
 * worker) reads straight into the batch buffer, allocated from the device's DMA memory. Holes
 * and unwritten extents are zero-filled; a file the index does not hold as a regular file of
 * the size seen at open, or with an extent that cannot be read raw (inline, encoded, unknown:
 * xal_extent_lba -ENODATA, or not on LBA boundaries), is read by buffered pread instead.
 */
#include "fil_internal.h"

#include <aisio/clock.h>
#include <aisio/bio.h>
#include <aisio/log.h>
#include <aisio/xal.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct aisio_ds {
	struct bio_dev *dev;
	struct fil_index ix;
	char *device;
	unsigned lba_shift;
	uint32_t max_lbas; /* per command */
};

struct aisio_worker {
	struct bio_queue *q;
	int *errs; /* per file of the part being read */
};

static void read_done(struct bio_queue *q, void *arg, int err, uint16_t status)
{
	int *e = arg;
	if (err && !*e)
		*e = err;
}

static int aisio_open(struct fil_dataset *ds)
{
	const struct fil_opts *o = &ds->o;
	if (!o->device) {
		aisio_log(AISIO_LOG_ERROR, "fil", "aisio-cpu needs a device string");
		return -EINVAL;
	}
	struct aisio_ds *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	ds->be = a;
	a->device = strdup(o->device);
	if (!a->device)
		return -ENOMEM;
	int rc = fil_index_open(&a->ix, ds, "aisio-cpu");
	if (rc < 0)
		return rc;
	size_t dma = (size_t)ds->nslots * ds->slot_cap + (32u << 20);
	if (dma < (64u << 20))
		dma = 64u << 20;
	struct bio_dev_opts bo = {.nsid = o->nsid ? o->nsid : 1, .dma_bytes = fil_round_up(dma, 2u << 20)};
	rc = bio_dev_open(&a->dev, o->device, &bo);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, o->device, "aisio-cpu: cannot open the device: %s", strerror(-rc));
		return rc;
	}
	a->lba_shift = bio_dev_lba_shift(a->dev);
	if ((1u << a->lba_shift) > ds->align) {
		aisio_log(AISIO_LOG_ERROR, o->device,
			  "aisio-cpu: LBAs of %u bytes are larger than the %zu-byte alignment", 1u << a->lba_shift,
			  ds->align);
		return -ENOTSUP;
	}
	uint32_t max = bio_dev_max_xfer(a->dev) >> a->lba_shift;
	a->max_lbas = max ? max : 8;
	return 0;
}

static void aisio_close(struct fil_dataset *ds)
{
	struct aisio_ds *a = ds->be;
	if (!a)
		return;
	if (a->dev)
		bio_dev_close(a->dev);
	fil_index_close(&a->ix);
	free(a->device);
	free(a);
	ds->be = NULL;
}

static void *aisio_buf_alloc(struct fil_dataset *ds, size_t len)
{
	struct aisio_ds *a = ds->be;
	return bio_dev_buf_alloc(a->dev, len);
}

static void aisio_buf_free(struct fil_dataset *ds, void *buf)
{
	struct aisio_ds *a = ds->be;
	bio_dev_buf_free(a->dev, buf);
}

static int make_queue(struct fil_worker *w)
{
	struct fil_dataset *ds = w->ds;
	struct aisio_ds *a = ds->be;
	struct aisio_worker *aw = w->be;
	unsigned depth = ds->o.queue_depth, max = bio_dev_max_qdepth(a->dev);
	if (max && depth > max)
		depth = max;
	int rc = bio_queue_create(a->dev, depth, &aw->q);
	if (rc < 0) {
		aw->q = NULL;
		aisio_log(AISIO_LOG_ERROR, a->device, "aisio-cpu: queue of depth %u for worker %u: %s", depth, w->id,
			  strerror(-rc));
	}
	return rc;
}

static int aisio_worker_init(struct fil_worker *w)
{
	struct fil_dataset *ds = w->ds;
	struct aisio_worker *aw = calloc(1, sizeof(*aw));
	if (!aw)
		return -ENOMEM;
	w->be = aw;
	aw->errs = calloc(ds->o.batch_size, sizeof(*aw->errs));
	if (!aw->errs)
		return -ENOMEM;
	return make_queue(w);
}

static void aisio_worker_fini(struct fil_worker *w)
{
	struct aisio_worker *aw = w->be;
	if (!aw)
		return;
	if (aw->q)
		bio_queue_destroy(aw->q);
	free(aw->errs);
	free(aw);
	w->be = NULL;
}

/* Queue one read, making room by polling while the queue is full (bounded). */
static int queue_read(struct fil_worker *w, uint64_t slba, uint32_t nlb, void *buf, int *err)
{
	struct aisio_worker *aw = w->be;
	uint64_t deadline = 0;
	for (;;) {
		int rc = bio_queue_rw(aw->q, false, slba, nlb, buf, read_done, err);
		w->ios += rc == 0;
		if (rc != -EAGAIN)
			return rc;
		rc = bio_queue_submit(aw->q);
		if (rc < 0)
			return rc;
		rc = bio_queue_poll(aw->q, UINT_MAX);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			uint64_t now = aisio_mono_ms();
			if (!deadline)
				deadline = now + w->ds->o.timeout_ms;
			else if (now > deadline)
				return -ETIMEDOUT;
		} else {
			deadline = 0;
		}
	}
}

/* Queue the reads of one file, zero-filling holes and unwritten extents. */
struct cpu_file {
	struct fil_worker *w;
	uint8_t *dst; /* the file's place in the batch */
	int *err;
};

static int cpu_read(void *arg, uint64_t off, uint64_t slba, uint32_t nlb)
{
	struct cpu_file *f = arg;
	return queue_read(f->w, slba, nlb, f->dst + off, f->err);
}

static int cpu_zero(void *arg, uint64_t off, uint64_t len)
{
	struct cpu_file *f = arg;
	memset(f->dst + off, 0, len);
	return 0;
}

static int queue_file(struct fil_worker *w, struct fil_slot *s, unsigned at, const struct xal_inode *ino, int *err)
{
	static const struct fil_extent_sink sink = {.read = cpu_read, .zero = cpu_zero};
	struct aisio_ds *a = w->ds->be;
	struct cpu_file f = {.w = w, .dst = s->buf + s->offsets[at], .err = err};
	return fil_index_walk(&a->ix, ino, s->lengths[at], 1u << a->lba_shift, a->max_lbas, &sink, &f);
}

static int aisio_read(struct fil_worker *w, struct fil_slot *s, unsigned first, unsigned count)
{
	struct fil_dataset *ds = w->ds;
	struct aisio_ds *a = ds->be;
	struct aisio_worker *aw = w->be;
	if (!aw->q && make_queue(w) < 0)
		return fil_fail(w, first, -EIO, "%s: no queue on %s", s->paths[first], a->device);
	int rc = 0;
	for (unsigned k = 0; k < count; k++)
		aw->errs[k] = 0;
	for (unsigned k = 0; k < count && rc == 0; k++) {
		unsigned at = first + k;
		struct xal_inode ino;
		int ok = fil_index_raw(&a->ix, s, at, 1u << a->lba_shift, &ino);
		if (ok < 0) {
			rc = fil_fail(w, at, ok, "%s: extents in the index of %s: %s", s->paths[at], a->device,
				      strerror(-ok));
		} else if (!ok) {
			w->fallback++;
			rc = fil_read_buffered(w, s, at);
		} else {
			rc = queue_file(w, s, at, &ino, &aw->errs[k]);
			if (rc < 0)
				rc = fil_fail(w, at, rc, "%s: queueing reads on %s: %s", s->paths[at], a->device,
					      strerror(-rc));
		}
	}
	int drc = bio_queue_drain(aw->q, ds->o.timeout_ms);
	if (drc < 0) {
		/* reads may still land in the slot: a queue destroyed cancels and waits for them */
		bio_queue_destroy(aw->q);
		aw->q = NULL;
		if (rc == 0)
			rc = fil_fail(w, first, drc, "%s: reads on %s did not complete: %s", s->paths[first], a->device,
				      strerror(-drc));
	}
	if (rc < 0)
		return rc;
	for (unsigned k = 0; k < count; k++) {
		unsigned at = first + k;
		if (aw->errs[k])
			return fil_fail(w, at, aw->errs[k], "%s: read on %s: %s", s->paths[at], a->device,
					strerror(-aw->errs[k]));
		/* a size change while the device was read: the bytes may be stale */
		rc = fil_check_path(w, s, at);
		if (rc < 0)
			return rc;
		fil_zero_tail(ds, s, at);
	}
	return 0;
}

const struct fil_backend_ops fil_aisio_cpu_ops = {
	.name = "aisio-cpu",
	.align = 4096,
	.open = aisio_open,
	.close = aisio_close,
	.buf_alloc = aisio_buf_alloc,
	.buf_free = aisio_buf_free,
	.worker_init = aisio_worker_init,
	.worker_fini = aisio_worker_fini,
	.read = aisio_read,
};
