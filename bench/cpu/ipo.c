/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Instructions per I/O of the driver's hot path: a minimal submit / ring / poll
 * loop over an inline emulated controller (threads=0, null namespace), meant to
 * run under callgrind. The driver's inline functions are wrapped in two noinline
 * functions, as an application would inline them into its own loop: one submits
 * a batch and rings the doorbell once, one polls. Callgrind's self cost of the
 * two is the driver's cost (plus a loop counter); the controller's work (emu_*)
 * and the callback are functions of their own and not counted.
 *
 * usage: ipo [IOS] [QDEPTH] [IOSIZE]
 */
#include <aisio/nvmed.h>

#include <stdio.h>
#include <stdlib.h>

struct ctx {
	uint64_t done;
	uint64_t failed;
};

__attribute__((noinline)) static void ipo_cb(struct nvmed_qpair *qp, void *arg, int err, const struct nvme_cqe *cqe)
{
	struct ctx *x = qp->user;
	x->done++;
	x->failed += err != 0;
}

/* Submit n reads (LBAs lba, lba + 8, ...) and ring once. Returns how many went in. */
__attribute__((noinline)) static unsigned drv_submit_batch(struct nvmed_qpair *qp, unsigned n, uint64_t lba,
							   uint32_t nlb, void *buf)
{
	unsigned i;
	for (i = 0; i < n; i++)
		if (nvmed_qpair_read(qp, 1, lba + 8 * i, nlb, buf, ipo_cb, NULL) < 0)
			break;
	nvmed_qpair_ring(qp);
	return i;
}

__attribute__((noinline)) static int drv_poll(struct nvmed_qpair *qp, unsigned max)
{
	return nvmed_qpair_poll(qp, max);
}

int main(int argc, char **argv)
{
	uint64_t ios = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000000;
	unsigned qd = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 128;
	uint32_t iosize = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) : 512;
	struct nvmed_ctrl *c;
	if (nvmed_ctrl_open(&c, "emu:null,threads=0", NULL) < 0)
		return 1;
	struct nvmed_qpair *qp;
	if (nvmed_qpair_create(c, qd + 1, &qp) < 0)
		return 1;
	struct ctx x = {0};
	qp->user = &x;
	uint8_t *buf = nvmed_dma_alloc(c, iosize);
	uint32_t nlb = iosize / 512;
	uint64_t submitted = 0;
	while (x.done < ios) {
		uint64_t room = qd - (submitted - x.done), left = ios - submitted;
		unsigned n = (unsigned)(room < left ? room : left);
		if (n && drv_submit_batch(qp, n, (submitted * 8) & 0xffffff, nlb, buf) != n)
			return 1;
		submitted += n;
		if (drv_poll(qp, qd) < 0)
			return 1;
	}
	printf("{\"ios\": %llu, \"failed\": %llu, \"qdepth\": %u, \"iosize\": %u}\n", (unsigned long long)x.done,
	       (unsigned long long)x.failed, qd, iosize);
	nvmed_qpair_destroy(qp);
	nvmed_ctrl_close(c);
	return x.failed ? 1 : 0;
}
