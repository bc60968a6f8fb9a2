/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * homid's GPU-resident devices: a gpuemu controller (engine=gpu) whose queue pairs are granted to GPU
 * clients. A client registers its GPU allocations by CUDA IPC handle (REG_GPU_MEM), its rings lie in
 * them, and it rings the device's emulated BAR, which it imports (GPU_INFO). The daemon keeps the
 * admin queue and the engine; taking a client's queues back deletes them (SQ, then CQ) and then
 * releases its imports, which stops the engine for the moment of the release: a stopped engine
 * touches nothing, so no command of a deleted queue is still being served when the memory goes.
 */
#include "homid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define WHY(...) (snprintf(why, whylen, __VA_ARGS__))

#ifdef AISIO_HAVE_GPU
#include <aisio/emu.h>
#include <aisio/gpu.h>
#include <aisio/gpuemu.h>

int homid_gpu_open(struct homid_dev *d)
{
	if (d->conf.ublk_nsid || d->conf.extents[0]) {
		aisio_log(AISIO_LOG_ERROR, d->conf.name,
			  "%s: ublk and extents need a controller the CPU reaches; a GPU-resident device serves GPU "
			  "clients only",
			  d->conf.target);
		return -EINVAL;
	}
	int rc = gpu_ctrl_open(&d->gpu, d->conf.target);
	if (rc == 0)
		rc = gpu_ctrl_serve_check(d->gpu);
	if (rc == 0)
		rc = gpu_ctrl_engine_start(d->gpu);
	if (rc) {
		aisio_log(AISIO_LOG_ERROR, d->conf.name, "cannot serve %s: %s", d->conf.target, strerror(-rc));
		gpu_ctrl_close(d->gpu);
		d->gpu = NULL;
		return rc;
	}
	d->kind = HOMI_DEV_GPUEMU;
	d->max_qpairs = gpu_ctrl_max_qpairs(d->gpu);
	if (d->max_qpairs > NVMED_MAX_QPAIRS)
		d->max_qpairs = NVMED_MAX_QPAIRS;
	d->isolated = false; /* a client imports the whole emulated BAR */
	aisio_log(AISIO_LOG_INFO, d->conf.name, "%s up on %s: %u queue pairs for GPU clients", d->conf.target,
		  gpu_name(), d->max_qpairs);
	return 0;
}

void homid_gpu_close(struct homid_dev *d)
{
	gpu_ctrl_close(d->gpu);
	d->gpu = NULL;
}

void homid_gpu_fill_dev(const struct homid_dev *d, struct homi_dev *o)
{
	o->dma_kind = 0; /* memory comes by REG_GPU_MEM */
	o->max_xfer = gpu_ctrl_mdts_bytes(d->gpu);
	o->max_qdepth = gpu_ctrl_max_qdepth(d->gpu);
	const unsigned shift = gpu_ctrl_lba_shift(d->gpu);
	o->nns = 1;
	o->ns[0] = (struct homi_ns){.nsid = 1,
				    .lba_shift = shift,
				    .nlba = gpu_ctrl_nsze(d->gpu),
				    .max_lbas = gpu_ctrl_mdts_bytes(d->gpu) >> shift};
}

unsigned homid_gpu_max_qdepth(const struct homid_dev *d)
{
	return gpu_ctrl_max_qdepth(d->gpu);
}

int homid_gpu_info(struct homid_dev *d, struct homi_gpu_info_reply *rp, char *why, size_t whylen)
{
	memset(rp, 0, sizeof(*rp));
	struct gpu_ipc_handle h;
	uint32_t dstrd = 0;
	int rc = gpu_ctrl_bar_export(d->gpu, &h, &rp->bar_len, &dstrd);
	if (rc) {
		WHY("cannot export the BAR of %s", d->conf.name);
		return rc;
	}
	memcpy(rp->bar_handle, h.bytes, sizeof(rp->bar_handle));
	rp->dstrd = dstrd;
	rp->ns_type = (uint32_t)gpu_ctrl_emu_opts(d->gpu)->ns_type;
	snprintf(rp->gpu, sizeof(rp->gpu), "%s", gpu_name());
	return 0;
}

int homid_gpu_import(struct homid_dev *d, const struct homi_reg_gpu_mem *rq, uint64_t *bus, char *why, size_t whylen)
{
	if (rq->len == 0 || rq->len % 4096 || rq->len > (1ull << 40)) {
		WHY("length %llu: a multiple of 4096 bytes", (unsigned long long)rq->len);
		return -EINVAL;
	}
	struct gpu_ipc_handle h;
	memcpy(h.bytes, rq->handle, sizeof(h.bytes));
	int rc = gpu_ctrl_import(d->gpu, &h, rq->len, bus);
	if (rc == -EINVAL)
		WHY("not a CUDA IPC handle of an allocation of at least %llu bytes on %s", (unsigned long long)rq->len,
		    gpu_name());
	else if (rc == -ENOSPC)
		WHY("%s holds as many imported regions as it can", d->conf.name);
	else if (rc)
		WHY("importing the region failed: %s", strerror(-rc));
	return rc;
}

void homid_gpu_unimport(struct homid_dev *d, uint64_t bus)
{
	int rc = gpu_ctrl_unimport(d->gpu, bus);
	if (rc)
		aisio_log(AISIO_LOG_ERROR, d->conf.name, "releasing an imported region failed: %s", strerror(-rc));
}

int homid_gpu_queue_create(struct homid_dev *d, uint16_t qid, uint32_t entries, uint64_t sq_bus, uint64_t cq_bus)
{
	return gpu_ctrl_qpair_add(d->gpu, qid, entries, sq_bus, cq_bus);
}

int homid_gpu_queue_delete(struct homid_dev *d, uint16_t qid)
{
	return gpu_ctrl_qpair_remove(d->gpu, qid);
}

void homid_gpu_doorbells(const struct homid_dev *d, uint16_t qid, struct homi_grant_qp_reply *rp)
{
	const uint32_t dstrd = gpu_ctrl_emu_opts(d->gpu)->dstrd;
	rp->flags = HOMI_QP_GPU_BAR;
	rp->dstrd = dstrd;
	rp->sq_db_off = gpu_doorbell_offset(qid, 0, dstrd);
	rp->cq_db_off = gpu_doorbell_offset(qid, 1, dstrd);
}

void homid_gpu_tick(struct homid *hd)
{
	for (unsigned i = 0; i < hd->ndev; i++) {
		struct homid_dev *d = &hd->devs[i];
		if (!d->gpu || gpu_ctrl_engine_running(d->gpu))
			continue;
		/* its watchdog ended it (or a fault): the queues keep their state, so start it again */
		aisio_log(AISIO_LOG_WARNING, d->conf.name, "the engine stopped; starting it again");
		gpu_ctrl_engine_stop(d->gpu, NULL);
		int rc = gpu_ctrl_engine_start(d->gpu);
		if (rc)
			aisio_log(AISIO_LOG_ERROR, d->conf.name, "the engine does not start again: %s", strerror(-rc));
	}
}

#else /* homid built without CUDA: a gpuemu device is refused at open, so nothing below it is reached */

int homid_gpu_open(struct homid_dev *d)
{
	aisio_log(AISIO_LOG_ERROR, d->conf.name, "%s: this homid was built without CUDA (the GPU layer)",
		  d->conf.target);
	return -ENOTSUP;
}
void homid_gpu_close(struct homid_dev *d)
{
}
void homid_gpu_fill_dev(const struct homid_dev *d, struct homi_dev *o)
{
}
unsigned homid_gpu_max_qdepth(const struct homid_dev *d)
{
	return 0;
}
int homid_gpu_info(struct homid_dev *d, struct homi_gpu_info_reply *rp, char *why, size_t whylen)
{
	WHY("no GPU layer in this homid");
	return -ENOTSUP;
}
int homid_gpu_import(struct homid_dev *d, const struct homi_reg_gpu_mem *rq, uint64_t *bus, char *why, size_t whylen)
{
	WHY("no GPU layer in this homid");
	return -ENOTSUP;
}
void homid_gpu_unimport(struct homid_dev *d, uint64_t bus)
{
}
int homid_gpu_queue_create(struct homid_dev *d, uint16_t qid, uint32_t entries, uint64_t sq_bus, uint64_t cq_bus)
{
	return -ENOTSUP;
}
int homid_gpu_queue_delete(struct homid_dev *d, uint16_t qid)
{
	return -ENOTSUP;
}
void homid_gpu_doorbells(const struct homid_dev *d, uint16_t qid, struct homi_grant_qp_reply *rp)
{
}
void homid_gpu_tick(struct homid *hd)
{
}
#endif
