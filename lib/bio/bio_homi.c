/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * homi: transport of the I/O layer. The device belongs to the homid daemon; this process holds a
 * connection, one DMA arena the daemon mapped for the device (buffers, rings and PRP lists all in
 * it), and per queue the doorbells the daemon handed over. The daemon is not on the data path:
 * queue pairs are driven by the driver's own hot path (nvmed_qpair_attach).
 */
#include "bio_internal.h"

#include <aisio/homi.h>
#include <aisio/log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BIO_HOMI_TIMEOUT_MS 5000

struct bio_homi {
	struct homi_client *hc;
	struct homi_dev dev;
	uint32_t mem_id;
	int mem_registered;
	unsigned io_timeout_ms;              /* per I/O command, as bio_dev_opts says; 0: the driver's default */
	char name[DEVSTR_HOMI_NAME_MAX + 8]; /* "homi:NAME", for messages */
};

struct bio_homi_queue {
	uint16_t qid;
	void *sq, *cq, *prp_lists;
	void *db_map;
	size_t db_map_len;
};

static int health(void *ctx)
{
	return homi_client_health(ctx);
}

int bio_homi_open(struct bio_dev *d, const struct devstr *ds, const struct bio_dev_opts *o)
{
	struct bio_homi *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	d->homi = h;
	snprintf(h->name, sizeof(h->name), "homi:%s", ds->homi_name);
	h->io_timeout_ms = o->io_timeout_ms;
	int rc = homi_connect(&h->hc, ds->homi_socket, "aisio", BIO_HOMI_TIMEOUT_MS);
	if (rc < 0)
		return rc;
	rc = homi_find(h->hc, ds->homi_name, &h->dev);
	if (rc < 0)
		return rc;
	if (h->dev.kind == HOMI_DEV_SRIOV_PF) {
		aisio_log(AISIO_LOG_ERROR, h->name,
			  "is an SR-IOV PF on the kernel nvme driver: its VFs are the devices (homi:%s.vf1 ...)",
			  ds->homi_name);
		return -ENOTSUP;
	}
	/* nsid= in the string wins over the caller's */
	uint32_t nsid = ds->homi_nsid ? ds->homi_nsid : o->nsid;
	const struct homi_ns *ns = NULL;
	for (uint32_t i = 0; i < h->dev.nns && i < HOMI_MAX_NS; i++)
		if (h->dev.ns[i].nsid == nsid)
			ns = &h->dev.ns[i];
	if (!ns || nsid > NVMED_MAX_NS) {
		aisio_log(AISIO_LOG_ERROR, h->name, "no active namespace %u (it has %u)", nsid, h->dev.nns);
		return -ENODEV;
	}
	d->ns = (struct nvmed_ns){.nsid = nsid, .lba_shift = ns->lba_shift, .nlba = ns->nlba, .max_lbas = ns->max_lbas};
	rc = dma_mem_alloc(&d->arena, o->dma_bytes ? o->dma_bytes : BIO_DEFAULT_ARENA, (enum dma_kind)h->dev.dma_kind);
	if (rc == 0)
		rc = dma_heap_init(&d->heap, &d->arena);
	if (rc < 0)
		return rc;
	rc = homi_reg_mem(h->hc, h->dev.index, d->arena.fd, d->arena.len, &h->mem_id, &d->arena.iova_base);
	if (rc < 0)
		return rc;
	h->mem_registered = 1;
	d->backend = "homi";
	return 0;
}

void bio_homi_close(struct bio_dev *d)
{
	struct bio_homi *h = d->homi;
	if (!h)
		return;
	if (h->mem_registered && homi_client_health(h->hc) == 0)
		homi_unreg_mem(h->hc, h->mem_id);
	homi_disconnect(h->hc); /* the daemon reclaims whatever is left */
	if (d->arena.va) {
		dma_heap_term(&d->heap);
		dma_mem_free(&d->arena);
	}
	free(h);
	d->homi = NULL;
}

unsigned bio_homi_max_qdepth(const struct bio_dev *d)
{
	return d->homi->dev.max_qdepth - 1;
}

unsigned bio_homi_free_queues(const struct bio_dev *d)
{
	return d->homi->dev.free_qpairs;
}

uint32_t bio_homi_max_xfer(const struct bio_dev *d)
{
	return d->homi->dev.max_xfer;
}

int bio_homi_queue_create(struct bio_queue *q, unsigned depth)
{
	struct bio_dev *d = q->d;
	struct bio_homi *h = d->homi;
	struct bio_homi_queue *hq = calloc(1, sizeof(*hq));
	if (!hq)
		return -ENOMEM;
	q->hq = hq;
	uint32_t entries = nvme_ring_entries(depth);
	uint32_t prp_bytes = nvme_prp_list_bytes(h->dev.max_xfer, NVMED_PAGE_SHIFT);
	hq->sq = bio_dev_buf_alloc(d, (size_t)entries * sizeof(struct nvme_sqe));
	hq->cq = bio_dev_buf_alloc(d, (size_t)entries * sizeof(struct nvme_cqe));
	if (prp_bytes)
		hq->prp_lists = bio_dev_buf_alloc(d, (size_t)depth * prp_bytes);
	if (!hq->sq || !hq->cq || (prp_bytes && !hq->prp_lists)) {
		aisio_log(AISIO_LOG_ERROR, h->name,
			  "no DMA memory for a queue pair of depth %u (raise the DMA pool size)", depth);
		return -ENOMEM;
	}
	struct homi_grant_qp req = {
		.dev = h->dev.index,
		.nsid = d->ns.nsid,
		.entries = entries,
		.mem_id = h->mem_id,
		.sq_off = (uint64_t)((uint8_t *)hq->sq - d->arena.va),
		.cq_off = (uint64_t)((uint8_t *)hq->cq - d->arena.va),
	};
	struct homi_grant_qp_reply rep;
	int db_fd;
	int rc = homi_grant_qp(h->hc, &req, &rep, &db_fd);
	if (rc < 0)
		return rc;
	hq->qid = rep.qid;
	void *map = mmap(NULL, rep.db_map_len, PROT_READ | PROT_WRITE, MAP_SHARED, db_fd, (off_t)rep.db_map_off);
	close(db_fd);
	if (map == MAP_FAILED || rep.sq_db_off + 4 > rep.db_map_len || rep.cq_db_off + 4 > rep.db_map_len) {
		rc = map == MAP_FAILED ? -errno : -EPROTO;
		aisio_log(AISIO_LOG_ERROR, h->name, "cannot map the doorbells of queue %u: %s", rep.qid, strerror(-rc));
		if (map != MAP_FAILED)
			munmap(map, rep.db_map_len);
		homi_release_qp(h->hc, h->dev.index, rep.qid);
		hq->qid = 0;
		return rc;
	}
	hq->db_map = map;
	hq->db_map_len = rep.db_map_len;
	struct nvmed_qpair_desc desc = {
		.name = h->name,
		.qid = rep.qid,
		.depth = depth,
		.entries = entries,
		.sq = hq->sq,
		.cq = hq->cq,
		.sq_db = (volatile uint32_t *)((uint8_t *)map + rep.sq_db_off),
		.cq_db = (volatile uint32_t *)((uint8_t *)map + rep.cq_db_off),
		.dma = {.va = d->arena.va, .len = d->arena.len, .iova_base = d->arena.iova_base, .page_shift = 12},
		.prp_lists = hq->prp_lists,
		.max_xfer = h->dev.max_xfer,
		.nsid = d->ns.nsid,
		.lba_shift = d->ns.lba_shift,
		.max_lbas = d->ns.max_lbas,
		.timeout_ms = h->io_timeout_ms,
		.health = health,
		.health_ctx = h->hc,
	};
	return nvmed_qpair_attach(&desc, &q->qp);
}

void bio_homi_queue_destroy(struct bio_queue *q)
{
	struct bio_homi_queue *hq = q->hq;
	struct bio_dev *d = q->d;
	if (!hq)
		return;
	/* the daemon deletes the SQ, then the CQ, before the rings go back to the arena (bio_dev_buf_free) */
	if (hq->qid && homi_client_health(d->homi->hc) == 0)
		homi_release_qp(d->homi->hc, d->homi->dev.index, hq->qid);
	nvmed_qpair_detach(q->qp);
	q->qp = NULL;
	if (hq->db_map)
		munmap(hq->db_map, hq->db_map_len);
	bio_dev_buf_free(d, hq->sq);
	bio_dev_buf_free(d, hq->cq);
	bio_dev_buf_free(d, hq->prp_lists);
	free(hq);
	q->hq = NULL;
}
