/* SPDX-License-Identifier: BSD-3-Clause */
/* One block I/O API over the user-space driver and the kernel paths. */
#include "bio_internal.h"

#include <aisio/bio.h>
#include <aisio/devstr.h>
#include <aisio/dma.h>
#include <aisio/kio.h>
#include <aisio/log.h>
#include <aisio/nvmed.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* File-system and partition-table signatures at the start of a namespace: what a raw
 * writer must not overwrite by accident. */
static const char *fs_signature(const uint8_t *b, size_t len)
{
	if (len >= 4 && !memcmp(b, "XFSB", 4))
		return "XFS";
	if (len >= 1082 && b[1080] == 0x53 && b[1081] == 0xef)
		return "ext2/3/4";
	if (len >= 0x10048 && !memcmp(b + 0x10040, "_BHRfS_M", 8))
		return "btrfs";
	if (len >= 520 && !memcmp(b + 512, "EFI PART", 8))
		return "a GPT partition table";
	if (len >= 4096 && !memcmp(b + 4086, "SWAPSPACE2", 10))
		return "swap";
	if (len >= 6 && !memcmp(b, "LUKS\xba\xbe", 6))
		return "LUKS";
	if (len >= 512 && b[510] == 0x55 && b[511] == 0xaa) {
		for (int i = 0; i < 4; i++)
			if (b[446 + 16 * i + 4] != 0)
				return "an MBR partition table";
	}
	return NULL;
}

struct bio_sync {
	int err;
};

static void bio_sync_cb(struct bio_queue *q, void *arg, int err, uint16_t status)
{
	((struct bio_sync *)arg)->err = err;
}

/* Read the first 68 KiB (the deepest signature, btrfs's, ends at 64 KiB + 72) and note
 * what they carry. An unreadable start (a media error) holds no usable file system. */
static int bio_dev_read_signature(struct bio_dev *d, const char *devstr)
{
	unsigned shift = bio_dev_lba_shift(d);
	size_t len = 68u << 10;
	uint32_t nlb = (uint32_t)(len >> shift);
	if (nlb > bio_dev_nlba(d))
		nlb = (uint32_t)bio_dev_nlba(d);
	uint32_t chunk = bio_dev_max_xfer(d) >> shift;
	uint8_t *buf = bio_dev_buf_alloc(d, len);
	struct bio_queue *q;
	if (!buf)
		return -ENOMEM;
	int rc = bio_queue_create(d, 1, &q);
	if (rc < 0) {
		bio_dev_buf_free(d, buf);
		return rc;
	}
	for (uint32_t done = 0; done < nlb && rc == 0;) {
		uint32_t n = nlb - done < chunk ? nlb - done : chunk;
		struct bio_sync s = {0};
		rc = bio_queue_rw(q, false, done, n, buf + ((size_t)done << shift), bio_sync_cb, &s);
		if (rc >= 0)
			rc = bio_queue_drain(q, 10000);
		if (rc == 0)
			rc = s.err;
		done += n;
	}
	if (rc == 0)
		d->fs_signature = fs_signature(buf, (size_t)nlb << shift);
	bio_queue_destroy(q);
	bio_dev_buf_free(d, buf);
	if (rc == -EIO) {
		aisio_log(AISIO_LOG_WARNING, devstr,
			  "the start cannot be read (media error); no file-system signature checked");
		rc = 0;
	}
	if (rc < 0)
		aisio_log(AISIO_LOG_ERROR, devstr, "reading the start to look for a file system failed: %s",
			  strerror(-rc));
	return rc;
}

int bio_dev_open(struct bio_dev **out, const char *devstr, const struct bio_dev_opts *opts)
{
	struct bio_dev_opts o = {.nsid = 1};
	if (opts)
		o = *opts;
	if (!o.nsid)
		o.nsid = 1;
	struct devstr ds;
	int rc = devstr_parse(&ds, devstr);
	if (rc < 0)
		return rc;
	if (ds.kind != DEVSTR_KERNEL && ds.kind != DEVSTR_PCI && ds.kind != DEVSTR_EMU && ds.kind != DEVSTR_HOMI)
		return devstr_refuse(&ds, "the block I/O layer");
	if (o.data_mem && ds.kind != DEVSTR_PCI && ds.kind != DEVSTR_EMU) {
		aisio_log(AISIO_LOG_ERROR, devstr, "dma-buf data buffers need the user-space driver (a PCI function)");
		return -EOPNOTSUPP;
	}
	struct bio_dev *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->arena.fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	if (ds.kind == DEVSTR_KERNEL) {
		struct kio_dev_opts ko = {.sqpoll = o.sqpoll, .sqpoll_cpu = -1, .iopoll = o.iopoll};
		rc = kio_dev_open(&d->kd, devstr, &ko);
		if (rc < 0)
			goto fail;
		d->backend = kio_dev_backend(d->kd);
		rc = dma_mem_alloc(&d->arena, o.dma_bytes ? o.dma_bytes : BIO_DEFAULT_ARENA, DMA_KIND_MEMFD);
		if (rc == 0)
			rc = dma_heap_init(&d->heap, &d->arena);
		if (rc < 0)
			goto fail;
	} else if (ds.kind == DEVSTR_HOMI) {
		rc = bio_homi_open(d, &ds, &o);
		if (rc < 0)
			goto fail;
	} else {
		struct nvmed_ctrl_opts no = {.dma_bytes = o.dma_bytes, .io_timeout_ms = o.io_timeout_ms};
		rc = nvmed_ctrl_open(&d->nv, devstr, &no);
		if (rc < 0)
			goto fail;
		rc = nvmed_ctrl_ns(d->nv, o.nsid, &d->ns);
		if (rc < 0) {
			aisio_log(AISIO_LOG_ERROR, devstr, "no active namespace %u (it has %u)", o.nsid,
				  nvmed_ctrl_ns_count(d->nv));
			goto fail;
		}
		d->backend = nvmed_ctrl_pci(d->nv)->ops->name;
		if (o.data_mem) {
			rc = dma_heap_init(&d->heap, o.data_mem);
			if (rc == 0)
				rc = nvmed_ctrl_map_data_mem(d->nv, o.data_mem); /* unmapped by nvmed_ctrl_close */
			if (rc < 0)
				goto fail;
			d->data_mem = o.data_mem;
		}
	}
	d->allow_fs_writes = o.allow_fs_writes;
	rc = bio_dev_read_signature(d, devstr);
	if (rc < 0)
		goto fail;
	*out = d;
	return 0;
fail:
	bio_dev_close(d);
	return rc;
}

void bio_dev_close(struct bio_dev *d)
{
	if (!d)
		return;
	if (d->kd) {
		dma_heap_term(&d->heap);
		dma_mem_free(&d->arena);
		kio_dev_close(d->kd);
	}
	bio_homi_close(d);
	if (d->nv)
		dma_heap_term(&d->heap);
	nvmed_ctrl_close(d->nv); /* bus mastering off, then the data memory unmapped */
	pthread_mutex_destroy(&d->lock);
	free(d);
}

const char *bio_dev_backend(const struct bio_dev *d)
{
	return d->backend;
}
uint32_t bio_dev_nsid(const struct bio_dev *d)
{
	return d->kd ? kio_dev_nsid(d->kd) : d->ns.nsid;
}
const char *bio_dev_fs_signature(const struct bio_dev *d)
{
	return d->fs_signature;
}
struct nvmed_ctrl *bio_dev_nvmed(struct bio_dev *d)
{
	return d->nv;
}
struct kio_dev *bio_dev_kio(struct bio_dev *d)
{
	return d->kd;
}

unsigned bio_dev_lba_shift(const struct bio_dev *d)
{
	return d->kd ? kio_dev_lba_shift(d->kd) : d->ns.lba_shift;
}

uint64_t bio_dev_nlba(const struct bio_dev *d)
{
	return d->kd ? kio_dev_nlba(d->kd) : d->ns.nlba;
}

uint32_t bio_dev_max_xfer(const struct bio_dev *d)
{
	if (d->homi)
		return bio_homi_max_xfer(d);
	return d->kd ? kio_dev_max_xfer(d->kd) : nvmed_ctrl_max_xfer(d->nv);
}

unsigned bio_dev_max_qdepth(const struct bio_dev *d)
{
	if (d->homi)
		return bio_homi_max_qdepth(d);
	/* a queue pair of N entries holds N - 1 commands */
	return d->kd ? KIO_MAX_DEPTH : nvmed_ctrl_max_qdepth(d->nv) - 1;
}

unsigned bio_dev_max_queues(const struct bio_dev *d)
{
	if (d->homi)
		return bio_homi_free_queues(d);
	return d->nv ? nvmed_ctrl_max_qpairs(d->nv) : UINT_MAX;
}

uint32_t bio_dev_max_lbas(const struct bio_dev *d)
{
	return d->kd ? kio_dev_max_xfer(d->kd) >> kio_dev_lba_shift(d->kd) : d->ns.max_lbas;
}

bool bio_dev_is_nvme(const struct bio_dev *d)
{
	return d->nv || d->homi;
}

void *bio_dev_buf_alloc(struct bio_dev *d, size_t len)
{
	if (d->nv && !d->data_mem)
		return nvmed_dma_alloc(d->nv, len);
	pthread_mutex_lock(&d->lock);
	void *p = dma_heap_alloc(&d->heap, len, 4096);
	pthread_mutex_unlock(&d->lock);
	return p;
}

void bio_dev_buf_free(struct bio_dev *d, void *buf)
{
	if (d->nv && !d->data_mem) {
		nvmed_dma_free(d->nv, buf);
		return;
	}
	pthread_mutex_lock(&d->lock);
	dma_heap_free(&d->heap, buf);
	pthread_mutex_unlock(&d->lock);
}

/* ---- queues ---- */

static void bio_done(struct bio_req *r, int err, uint16_t status)
{
	struct bio_queue *q = r->q;
	bio_cb cb = r->cb;
	void *arg = r->arg;
	q->free[q->nfree++] = r;
	cb(q, arg, err, status);
}

static void bio_nvmed_cb(struct nvmed_qpair *qp, void *arg, int err, const struct nvme_cqe *cqe)
{
	bio_done(arg, err, nvmed_cqe_status(cqe));
}

static void bio_kio_cb(struct kio_queue *kq, void *arg, int err, uint16_t status)
{
	bio_done(arg, err, status);
}

int bio_queue_create(struct bio_dev *d, unsigned qdepth, struct bio_queue **out)
{
	if (qdepth == 0 || qdepth > bio_dev_max_qdepth(d))
		return -EINVAL;
	struct bio_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->d = d;
	q->qdepth = qdepth;
	q->reqs = calloc(qdepth, sizeof(*q->reqs));
	q->free = calloc(qdepth, sizeof(*q->free));
	int rc = -ENOMEM;
	if (!q->reqs || !q->free)
		goto fail;
	for (unsigned i = 0; i < qdepth; i++) {
		q->reqs[i].q = q;
		q->free[q->nfree++] = &q->reqs[qdepth - 1 - i];
	}
	if (d->nv || d->homi) {
		rc = d->nv ? nvmed_qpair_create(d->nv, qdepth + 1, &q->qp) : bio_homi_queue_create(q, qdepth + 1);
		if (rc < 0)
			goto fail;
		q->qp->user = q;
	} else {
		rc = kio_queue_create(d->kd, qdepth, &q->kq);
		if (rc < 0)
			goto fail;
		kio_queue_set_user(q->kq, q);
		/* Registered buffers save pinning pages per I/O on the block path. Not for
		 * passthrough: Linux 6.1 maps a fixed buffer from the I/O's start to the end
		 * of the registered region and refuses it (EINVAL) when that spans more
		 * pages than the queue's max_segments, whatever the I/O's own size. */
		if (kio_dev_kind(d->kd) != KIO_DEV_NVME_CHAR) {
			rc = kio_queue_register_buffer(q->kq, d->arena.va, d->arena.len);
			if (rc < 0) /* plain buffers still work, only slower */
				aisio_log(AISIO_LOG_WARNING, kio_dev_path(d->kd),
					  "no registered buffers (%s); using plain ones", strerror(-rc));
		}
	}
	*out = q;
	return 0;
fail:
	bio_queue_destroy(q);
	return rc;
}

void bio_queue_destroy(struct bio_queue *q)
{
	if (!q)
		return;
	if (q->hq)
		bio_homi_queue_destroy(q);
	else if (q->qp)
		nvmed_qpair_destroy(q->qp);
	if (q->kq)
		kio_queue_destroy(q->kq);
	free(q->reqs);
	free(q->free);
	free(q);
}

static struct bio_req *bio_req_get(struct bio_queue *q, bio_cb cb, void *arg)
{
	if (!q->nfree)
		return NULL;
	struct bio_req *r = q->free[--q->nfree];
	r->cb = cb;
	r->arg = arg;
	return r;
}

int bio_queue_rw(struct bio_queue *q, bool write, uint64_t slba, uint32_t nlb, void *buf, bio_cb cb, void *arg)
{
	if (write && __builtin_expect(q->d->fs_signature != NULL, 0) && !q->d->allow_fs_writes)
		return -EPERM; /* a file system's blocks are not ours to overwrite */
	struct bio_req *r = bio_req_get(q, cb, arg);
	if (!r)
		return -EAGAIN;
	int rc;
	if (q->qp)
		rc = nvmed_qpair_rw(q->qp, write ? NVME_CMD_WRITE : NVME_CMD_READ, q->d->ns.nsid, slba, nlb, buf,
				    bio_nvmed_cb, r);
	else
		rc = kio_queue_rw(q->kq, write, slba, nlb, buf, bio_kio_cb, r);
	if (rc < 0) {
		q->nfree++;
		return rc;
	}
	return 0;
}

int bio_queue_flush(struct bio_queue *q, bio_cb cb, void *arg)
{
	struct bio_req *r = bio_req_get(q, cb, arg);
	if (!r)
		return -EAGAIN;
	int rc;
	if (q->qp) {
		struct nvme_sqe cmd = {.opc = NVME_CMD_FLUSH, .nsid = q->d->ns.nsid};
		rc = nvmed_qpair_submit(q->qp, &cmd, NULL, 0, bio_nvmed_cb, r);
	} else {
		rc = kio_queue_flush(q->kq, bio_kio_cb, r);
	}
	if (rc < 0) {
		q->nfree++;
		return rc;
	}
	return 0;
}

int bio_queue_submit(struct bio_queue *q)
{
	if (q->qp) {
		nvmed_qpair_ring(q->qp);
		return 0;
	}
	int rc = kio_queue_submit(q->kq);
	return rc < 0 ? rc : 0;
}

int bio_queue_poll(struct bio_queue *q, unsigned max)
{
	return q->qp ? nvmed_qpair_poll(q->qp, max) : kio_queue_poll(q->kq, max);
}

int bio_queue_drain(struct bio_queue *q, unsigned timeout_ms)
{
	if (q->qp)
		return nvmed_qpair_drain(q->qp, timeout_ms);
	int rc = kio_queue_wait(q->kq, kio_queue_inflight(q->kq), timeout_ms);
	return rc < 0 ? rc : 0;
}

unsigned bio_queue_inflight(const struct bio_queue *q)
{
	return q->qdepth - q->nfree;
}

void *bio_queue_user(const struct bio_queue *q)
{
	return q->user;
}
void bio_queue_set_user(struct bio_queue *q, void *user)
{
	q->user = user;
}
struct bio_dev *bio_queue_dev(const struct bio_queue *q)
{
	return q->d;
}
struct nvmed_qpair *bio_queue_nvmed(struct bio_queue *q)
{
	return q->qp;
}
struct kio_queue *bio_queue_kio(struct bio_queue *q)
{
	return q->kq;
}
