/* SPDX-License-Identifier: BSD-3-Clause */
/* Built instead of kio_queue.c when liburing is missing (e.g. the GPU test
 * machine): the library keeps its symbols, kio_dev_open refuses with -ENOTSUP and
 * says why, so no queue can ever be created and the rest is unreachable. */
#include <errno.h>

#include "kio_internal.h"

bool kio_backend_built(void)
{
	return false;
}

int kio_queue_create(struct kio_dev *d, unsigned depth, struct kio_queue **out)
{
	*out = NULL;
	return -ENOTSUP;
}

void kio_queue_destroy(struct kio_queue *q)
{
}

int kio_queue_register_buffer(struct kio_queue *q, void *base, size_t len)
{
	return -ENOTSUP;
}

void *kio_queue_buffer(const struct kio_queue *q, size_t *len)
{
	if (len)
		*len = 0;
	return NULL;
}

int kio_queue_rw(struct kio_queue *q, bool write, uint64_t slba, uint32_t nlb, void *buf, kio_cb cb, void *arg)
{
	return -ENOTSUP;
}

int kio_queue_flush(struct kio_queue *q, kio_cb cb, void *arg)
{
	return -ENOTSUP;
}

int kio_queue_nvme_cmd(struct kio_queue *q, uint8_t opcode, const uint32_t cdw[6], void *buf, uint32_t len, kio_cb cb,
		       void *arg)
{
	return -ENOTSUP;
}

int kio_queue_submit(struct kio_queue *q)
{
	return -ENOTSUP;
}

int kio_queue_poll(struct kio_queue *q, unsigned max)
{
	return -ENOTSUP;
}

int kio_queue_wait(struct kio_queue *q, unsigned min, unsigned timeout_ms)
{
	return -ENOTSUP;
}

unsigned kio_queue_inflight(const struct kio_queue *q)
{
	return 0;
}

unsigned kio_queue_depth(const struct kio_queue *q)
{
	return 0;
}

struct kio_dev *kio_queue_dev(const struct kio_queue *q)
{
	return NULL;
}

void *kio_queue_user(const struct kio_queue *q)
{
	return NULL;
}

void kio_queue_set_user(struct kio_queue *q, void *user)
{
}

void kio_queue_stats(const struct kio_queue *q, struct kio_queue_stats *out)
{
	*out = (struct kio_queue_stats){0};
}
