/* SPDX-License-Identifier: BSD-3-Clause */
/* State of the block I/O layer, shared by its transports (bio.c, bio_homi.c). */
#ifndef AISIO_BIO_INTERNAL_H
#define AISIO_BIO_INTERNAL_H

#include <aisio/bio.h>
#include <aisio/devstr.h>
#include <aisio/dma.h>
#include <aisio/nvmed.h>

#include <pthread.h>

#define BIO_DEFAULT_ARENA (64u << 20)

struct bio_dev {
	struct nvmed_ctrl *nv;
	struct nvmed_ns ns; /* user-space driver and homi: the namespace opened */
	struct kio_dev *kd;
	struct bio_homi *homi; /* homi: a device of the homid daemon */
	/* kernel paths and homi: one buffer arena (registered with every kernel queue as its fixed
	 * buffer; with the daemon for homi:, DMA memory whose bus address it returned) */
	struct dma_mem arena;
	struct dma_heap heap;
	struct dma_mem *data_mem; /* user-space driver: the caller's memory for data buffers (heap over it) */
	pthread_mutex_t lock;
	const char *backend;
	const char *fs_signature; /* found at open: writes refused unless allowed */
	bool allow_fs_writes;
};

/* A command in flight: the caller's callback, kept apart from the backend's. */
struct bio_req {
	bio_cb cb;
	void *arg;
	struct bio_queue *q;
};

struct bio_queue {
	struct bio_dev *d;
	struct nvmed_qpair *qp;    /* user-space driver and homi: */
	struct bio_homi_queue *hq; /* homi: what the granted queue pair holds */
	struct kio_queue *kq;
	struct bio_req *reqs;
	struct bio_req **free;
	unsigned nfree;
	unsigned qdepth;
	void *user;
};

struct bio_homi;
struct bio_homi_queue;

/* homi: (bio_homi.c): the device through the daemon's socket, queue pairs it grants */
int bio_homi_open(struct bio_dev *d, const struct devstr *ds, const struct bio_dev_opts *o);
void bio_homi_close(struct bio_dev *d);
int bio_homi_queue_create(struct bio_queue *q, unsigned depth);
void bio_homi_queue_destroy(struct bio_queue *q);
unsigned bio_homi_max_qdepth(const struct bio_dev *d);
uint32_t bio_homi_max_xfer(const struct bio_dev *d);
unsigned bio_homi_free_queues(const struct bio_dev *d);

#endif
