/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * homid's devices: brought up as the driver does (the daemon keeps the admin queue), queue pairs
 * granted on clients' memory, and taken back in the order the controller needs: SQs deleted, then
 * CQs (the controller aborts what was in flight), then the memory unmapped.
 */
#include "homid.h"

#include <aisio/devstr.h>
#include <aisio/emu.h>
#include <aisio/pci.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* the daemon's own DMA memory: the admin queue and its bounce buffer (and ublk queues, homid_ublk.c) */
#define HOMID_DMA_BYTES (4u << 20)

/* The device string the daemon opens: an emulated device gets a doorbell stride of a page unless
 * the configuration chose one, so that each client maps its own queues' doorbells only. */
static int open_target(const struct homid_dev_conf *dc, char *out, size_t len)
{
	struct devstr ds;
	int rc = devstr_parse(&ds, dc->target);
	if (rc < 0)
		return rc;
	if (ds.kind != DEVSTR_EMU) {
		snprintf(out, len, "%s", dc->target);
		return 0;
	}
	struct emu_opts o;
	rc = emu_opts_parse(&o, DEVSTR_EMU, ds.spec);
	if (rc < 0)
		return rc;
	if (o.threads == 0) {
		aisio_log(AISIO_LOG_ERROR, dc->name,
			  "%s: threads=0 (inline) serves a queue from its own process only; a daemon's device needs "
			  "engine threads",
			  dc->target);
		return -EINVAL;
	}
	snprintf(out, len, "%s%s", dc->target, strstr(ds.spec, "dstrd=") ? "" : ",dstrd=10");
	return 0;
}

static int dev_open(struct homid *hd, struct homid_dev *d)
{
	struct devstr ds;
	if (devstr_parse(&ds, d->conf.target) == 0 && ds.kind == DEVSTR_GPUEMU)
		return homid_gpu_open(d);
	char target[300];
	int rc = open_target(&d->conf, target, sizeof(target));
	if (rc < 0)
		return rc;
	/* the daemon's own queue pairs are the ublk queues': their command timeout */
	struct nvmed_ctrl_opts o = {.dma_bytes = HOMID_DMA_BYTES + homid_ublk_dma_bytes(&d->conf),
				    .io_timeout_ms = d->conf.ublk_timeout_s * 1000,
				    .admin_timeout_ms = hd->cfg.admin_timeout_s * 1000};
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned tries = 0;; tries++) {
		rc = nvmed_ctrl_open(&d->ctrl, target, &o);
		if (rc != -EBUSY)
			break;
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((unsigned)(t.tv_sec - t0.tv_sec) >= hd->cfg.open_retry_s)
			break;
		if (tries % 10 == 0)
			aisio_log(AISIO_LOG_WARNING, d->conf.name,
				  "%s is busy (an earlier daemon's clients may still hold it); retrying for up to %u s",
				  d->conf.target, hd->cfg.open_retry_s);
		sleep(1);
	}
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, d->conf.name, "cannot open %s: %s", d->conf.target, strerror(-rc));
		return rc;
	}
	d->pci = nvmed_ctrl_pci(d->ctrl);
	d->kind = d->pci->backend == PCI_BACKEND_EMU ? HOMI_DEV_EMU
		  : d->conf.sriov_vfn                ? HOMI_DEV_SRIOV_VF
						     : HOMI_DEV_VFIO;
	if (d->pci->backend == PCI_BACKEND_UIO) {
		aisio_log(AISIO_LOG_ERROR, d->conf.name,
			  "%s is bound to uio_pci_generic: without an IOMMU the daemon cannot map a client's memory "
			  "for it; bind it to vfio-pci",
			  d->conf.target);
		return -ENOTSUP;
	}
	d->dstrd = (unsigned)((nvmed_ctrl_cap(d->ctrl) >> 32) & 0xf);
	d->max_qpairs = nvmed_ctrl_max_qpairs(d->ctrl);
	d->isolated = d->kind == HOMI_DEV_EMU && (4u << d->dstrd) >= 4096;
	aisio_log(AISIO_LOG_INFO, d->conf.name, "%s up: %u queue pairs, %u namespace(s), doorbells %s", target,
		  d->max_qpairs, nvmed_ctrl_ns_count(d->ctrl),
		  d->isolated ? "isolated per queue" : "shared (a client can reach every register)");
	return 0;
}

int homid_devs_open(struct homid *hd)
{
	for (unsigned i = 0; i < hd->cfg.ndev; i++) {
		struct homid_dev *d = &hd->devs[i];
		memset(d, 0, sizeof(*d));
		d->index = i;
		hd->ndev = i + 1;
		/* an SR-IOV PF's bring-up fills in its VFs' addresses (the devices after it) */
		const struct homid_dev_conf *dc = &hd->cfg.devs[i];
		d->conf = *dc;
		int rc = dc->sriov_pf[0] && !dc->sriov_vfn ? homid_sriov_up(hd, d) : dev_open(hd, d);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* In the reverse order: an SR-IOV PF's VFs are closed before it tears them down. */
void homid_devs_close(struct homid *hd)
{
	for (unsigned i = hd->ndev; i-- > 0;) {
		if (hd->devs[i].gpu)
			homid_gpu_close(&hd->devs[i]);
		nvmed_ctrl_close(hd->devs[i].ctrl);
		hd->devs[i].ctrl = NULL;
		homid_sriov_down(hd, &hd->devs[i]);
	}
	hd->ndev = 0;
}

/* A VF its client let go of (or died holding), reset and closed: a fresh controller and IOMMU
 * container, so nothing of that client's survives for the next one. */
static void vf_reopen(struct homid *hd, struct homid_dev *d)
{
	d->resets++;
	memset(d->qps, 0, sizeof(d->qps)); /* a reset controller has no I/O queues: none lost either */
	d->used = 0;
	int rc = dev_open(hd, d);
	if (rc < 0) {
		nvmed_ctrl_close(d->ctrl);
		d->ctrl = NULL;
		d->pci = NULL;
		aisio_log(AISIO_LOG_ERROR, d->conf.name,
			  "VF %s did not come back after its reset: %s; it is out of service until the daemon restarts",
			  d->conf.target, strerror(-rc));
		return;
	}
	aisio_log(AISIO_LOG_INFO, d->conf.name, "VF %s reset (%u so far): ready for the next client", d->conf.target,
		  d->resets);
}

bool homid_policy_allows(const struct homid_dev *dev, const struct homid_client *cl)
{
	const struct homid_policy *p = &dev->conf.policy;
	if (cl->uid == 0)
		return true;
	for (unsigned i = 0; i < p->nuids; i++)
		if (p->uids[i] == cl->uid)
			return true;
	for (unsigned i = 0; i < p->ngids; i++) {
		if (p->gids[i] == cl->gid)
			return true;
		for (unsigned j = 0; j < cl->ngroups; j++)
			if (p->gids[i] == cl->groups[j])
				return true;
	}
	return false;
}

#define WHY(...) (snprintf(why, whylen, __VA_ARGS__))

static struct homid_mem *find_mem(struct homid_client *cl, uint32_t id)
{
	for (unsigned i = 0; i < HOMI_MAX_MEMS; i++)
		if (cl->mems[i].used && cl->mems[i].id == id)
			return &cl->mems[i];
	return NULL;
}

static struct homid_mem *free_mem(struct homid_client *cl, char *why, size_t whylen)
{
	for (unsigned i = 0; i < HOMI_MAX_MEMS; i++)
		if (!cl->mems[i].used)
			return &cl->mems[i];
	WHY("at most %u regions per client", HOMI_MAX_MEMS);
	return NULL;
}

static struct homid_dev *get_dev(struct homid *hd, struct homid_client *cl, uint32_t index, int *err, char *why,
				 size_t whylen)
{
	if (index >= hd->ndev) {
		WHY("no device %u (the daemon has %u)", index, hd->ndev);
		*err = -ENODEV;
		return NULL;
	}
	struct homid_dev *d = &hd->devs[index];
	if (!homid_policy_allows(d, cl)) {
		WHY("uid %u may not use device %s", (unsigned)cl->uid, d->conf.name);
		*err = -EACCES;
		return NULL;
	}
	if (d->sriov) {
		WHY("device %s is an SR-IOV PF on the kernel nvme driver: its VFs are the devices (%s.vf1 ...)",
		    d->conf.name, d->conf.name);
		*err = -ENOTSUP;
		return NULL;
	}
	if (!d->ctrl && !d->gpu) {
		WHY("device %s is out of service (see the daemon's log)", d->conf.name);
		*err = -EIO;
		return NULL;
	}
	if (d->holder && d->holder != cl) {
		WHY("VF %s is granted to client %u (pid %d, uid %u): one client per VF", d->conf.name, d->holder->id,
		    (int)d->holder->pid, (unsigned)d->holder->uid);
		*err = -EBUSY;
		return NULL;
	}
	return d;
}

int homid_mem_register(struct homid *hd, struct homid_client *cl, const struct homi_reg_mem *rq, int fd,
		       struct homi_reg_mem_reply *rp, char *why, size_t whylen)
{
	int err;
	struct homid_dev *d = get_dev(hd, cl, rq->dev, &err, why, whylen);
	if (!d)
		return err;
	if (d->gpu) {
		WHY("%s is GPU-resident: it takes GPU memory (REG_GPU_MEM)", d->conf.name);
		return -EINVAL;
	}
	if (fd < 0) {
		WHY("REG_MEM carries no memfd");
		return -EBADF;
	}
	struct homid_mem *slot = free_mem(cl, why, whylen);
	if (!slot)
		return -ENOSPC;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		WHY("the fd is not a memfd");
		return -EBADF;
	}
	/* A region that could shrink under the device would fault the daemon: it must be sealed. */
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
		WHY("the memfd is not sealed against shrinking (F_SEAL_SHRINK)");
		return -EPERM;
	}
	size_t page = d->pci->ops->dma_kind == DMA_KIND_HUGEPAGE ? (2u << 20) : 4096u;
	if (rq->len == 0 || rq->len > (uint64_t)st.st_size || rq->len % page || rq->len > (1ull << 40)) {
		WHY("length %llu: a multiple of %zu bytes up to the memfd's size (%lld)", (unsigned long long)rq->len,
		    page, (long long)st.st_size);
		return -EINVAL;
	}
	void *va = mmap(NULL, rq->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (va == MAP_FAILED) {
		err = errno;
		WHY("cannot map the memfd: %s", strerror(err));
		return -err;
	}
	struct dma_mem m = {.va = va,
			    .len = rq->len,
			    .fd = fd,
			    .kind = d->pci->ops->dma_kind,
			    .page_shift = page == 4096 ? 12 : 21};
	int rc = pci_dev_dma_map(d->pci, &m);
	if (rc < 0) {
		munmap(va, rq->len);
		WHY("mapping %llu bytes for the device failed: %s", (unsigned long long)rq->len, strerror(-rc));
		return rc;
	}
	*slot = (struct homid_mem){.used = true, .id = ++cl->next_mem_id, .dev = rq->dev, .m = m};
	if (d->kind == HOMI_DEV_SRIOV_VF && !d->holder) {
		/* its first memory makes the VF this client's: its DMA is confined to the VF's own
		 * IOMMU container, which holds only this client's memory (and the daemon's admin queue) */
		d->holder = cl;
		aisio_log(AISIO_LOG_INFO, d->conf.name, "VF %s granted to client %u (pid %d, uid %u)", d->conf.target,
			  cl->id, (int)cl->pid, (unsigned)cl->uid);
	}
	cl->mem_bytes += rq->len;
	rp->mem_id = slot->id;
	rp->iova = m.iova_base;
	return 0; /* the fd is kept (closed at unregister) */
}

int homid_gpu_mem_register(struct homid *hd, struct homid_client *cl, const struct homi_reg_gpu_mem *rq,
			   struct homi_reg_mem_reply *rp, char *why, size_t whylen)
{
	int err;
	struct homid_dev *d = get_dev(hd, cl, rq->dev, &err, why, whylen);
	if (!d)
		return err;
	if (!d->gpu) {
		WHY("%s is not GPU-resident: it takes a memfd (REG_MEM)", d->conf.name);
		return -EINVAL;
	}
	struct homid_mem *slot = free_mem(cl, why, whylen);
	if (!slot)
		return -ENOSPC;
	uint64_t bus = 0;
	int rc = homid_gpu_import(d, rq, &bus, why, whylen);
	if (rc)
		return rc;
	*slot = (struct homid_mem){.used = true,
				   .id = ++cl->next_mem_id,
				   .dev = rq->dev,
				   .gpu = true,
				   .m = {.len = rq->len, .fd = -1, .iova_base = bus}};
	cl->mem_bytes += rq->len;
	rp->mem_id = slot->id;
	rp->iova = bus;
	return 0;
}

int homid_gpu_info_get(struct homid *hd, struct homid_client *cl, uint32_t dev, struct homi_gpu_info_reply *rp,
		       char *why, size_t whylen)
{
	int err;
	struct homid_dev *d = get_dev(hd, cl, dev, &err, why, whylen);
	if (!d)
		return err;
	if (!d->gpu) {
		WHY("%s is not GPU-resident", d->conf.name);
		return -EINVAL;
	}
	return homid_gpu_info(d, rp, why, whylen);
}

static void mem_release(struct homid *hd, struct homid_client *cl, struct homid_mem *mem)
{
	if (mem->gpu) {
		homid_gpu_unimport(&hd->devs[mem->dev], mem->m.iova_base);
	} else {
		if (hd->devs[mem->dev].pci) /* NULL: its VF was reset, its IOMMU container gone with the mappings */
			pci_dev_dma_unmap(hd->devs[mem->dev].pci, &mem->m);
		munmap(mem->m.va, mem->m.len);
		close(mem->m.fd);
	}
	cl->mem_bytes -= mem->m.len;
	memset(mem, 0, sizeof(*mem));
}

int homid_mem_unregister(struct homid *hd, struct homid_client *cl, uint32_t mem_id, char *why, size_t whylen)
{
	struct homid_mem *mem = find_mem(cl, mem_id);
	if (!mem) {
		WHY("no region %u of this client", mem_id);
		return -ENOENT;
	}
	if (mem->refs) {
		WHY("region %u holds the rings of %u queue(s): release them first", mem_id, mem->refs);
		return -EBUSY;
	}
	mem_release(hd, cl, mem);
	return 0;
}

static bool dev_has_ns(const struct homid_dev *d, uint32_t nsid)
{
	struct nvmed_ns ns;
	return d->gpu ? nsid == 1 : nvmed_ctrl_ns(d->ctrl, nsid, &ns) == 0;
}

/* A GPU-resident device's qids are the daemon's to hand out: any not granted and not retired. */
static int dev_qid_alloc(struct homid_dev *d)
{
	if (!d->gpu)
		return nvmed_qid_alloc(d->ctrl);
	for (unsigned q = 1; q <= d->max_qpairs; q++)
		if (!d->qps[q].owner && !d->qps[q].lost)
			return (int)q;
	return -ENOSPC;
}

static void dev_qid_free(struct homid_dev *d, uint16_t qid)
{
	if (!d->gpu)
		nvmed_qid_free(d->ctrl, qid);
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int homid_qp_grant(struct homid *hd, struct homid_client *cl, const struct homi_grant_qp *rq,
		   struct homi_grant_qp_reply *rp, int *db_fd, char *why, size_t whylen)
{
	int err;
	struct homid_dev *d = get_dev(hd, cl, rq->dev, &err, why, whylen);
	if (!d)
		return err;
	if (rq->nsid == 0 || !dev_has_ns(d, rq->nsid)) {
		WHY("device %s has no active namespace %u", d->conf.name, rq->nsid);
		return -ENODEV;
	}
	if (d->conf.policy.ns_mask && (rq->nsid > 31 || !(d->conf.policy.ns_mask & (1u << rq->nsid)))) {
		WHY("namespace %u of %s is not granted to clients", rq->nsid, d->conf.name);
		return -EACCES;
	}
	unsigned max_entries = d->gpu ? homid_gpu_max_qdepth(d) : nvmed_ctrl_max_qdepth(d->ctrl);
	if (rq->entries < 2 || rq->entries > max_entries || (rq->entries & (rq->entries - 1))) {
		WHY("%u ring entries: a power of two, 2..%u", rq->entries, max_entries);
		return -EINVAL;
	}
	struct homid_mem *mem = find_mem(cl, rq->mem_id);
	if (!mem || mem->dev != rq->dev) {
		WHY("no region %u of this client for device %s", rq->mem_id, d->conf.name);
		return -ENOENT;
	}
	uint64_t sq_len = (uint64_t)rq->entries * sizeof(struct nvme_sqe);
	uint64_t cq_len = (uint64_t)rq->entries * sizeof(struct nvme_cqe);
	if ((rq->sq_off | rq->cq_off) & 4095 || rq->sq_off > mem->m.len || sq_len > mem->m.len - rq->sq_off ||
	    rq->cq_off > mem->m.len || cq_len > mem->m.len - rq->cq_off ||
	    ranges_overlap(rq->sq_off, sq_len, rq->cq_off, cq_len)) {
		WHY("rings at %llu and %llu: page-aligned, apart, inside the region (%zu bytes)",
		    (unsigned long long)rq->sq_off, (unsigned long long)rq->cq_off, mem->m.len);
		return -EINVAL;
	}
	unsigned mine = 0;
	for (unsigned q = 1; q <= d->max_qpairs; q++)
		mine += d->qps[q].owner == cl;
	if (d->conf.policy.max_queues && mine >= d->conf.policy.max_queues) {
		WHY("this client holds %u queue pairs of %s, the most it may", mine, d->conf.name);
		return -EDQUOT;
	}
	int qid = dev_qid_alloc(d);
	if (qid < 0) {
		WHY("no queue pair left on %s: the controller granted %u, all in use", d->conf.name, d->max_qpairs);
		return -ENOSPC;
	}
	uint64_t iova = mem->m.iova_base;
	struct nvme_db_map db = {.fd = -1};
	int rc;
	if (d->gpu) {
		/* the SQ goes with its CQ: gpu_ctrl_qpair_add deletes the CQ when the SQ is refused */
		rc = homid_gpu_queue_create(d, (uint16_t)qid, rq->entries, iova + rq->sq_off, iova + rq->cq_off);
	} else {
		rc = pci_dev_doorbells(d->pci, (uint16_t)qid, d->dstrd, &db);
		if (rc < 0) {
			nvmed_qid_free(d->ctrl, (uint16_t)qid);
			WHY("cannot hand out the doorbells of queue %d: %s", qid, strerror(-rc));
			return rc;
		}
		rc = nvmed_admin_create_cq(d->ctrl, (uint16_t)qid, rq->entries, iova + rq->cq_off);
		if (rc == 0) {
			rc = nvmed_admin_create_sq(d->ctrl, (uint16_t)qid, rq->entries, iova + rq->sq_off,
						   (uint16_t)qid);
			if (rc < 0 && nvmed_admin_delete_cq(d->ctrl, (uint16_t)qid) < 0) {
				d->qps[qid] = (struct homid_qp){.lost = true};
				WHY("creating the SQ of queue %d failed and its CQ could not be deleted", qid);
				return rc;
			}
		}
	}
	if (rc < 0) {
		dev_qid_free(d, (uint16_t)qid);
		WHY("the controller refused queue %d: %s", qid, strerror(-rc));
		return rc;
	}
	d->qps[qid] = (struct homid_qp){.owner = cl, .mem_id = rq->mem_id, .entries = rq->entries, .nsid = rq->nsid};
	d->used++;
	mem->refs++;
	cl->nqueues++;
	*rp = (struct homi_grant_qp_reply){
		.qid = (uint16_t)qid,
		.flags = db.isolated ? HOMI_DEV_DOORBELLS_ISOLATED : 0,
		.dstrd = d->dstrd,
		.db_map_off = db.map_off,
		.db_map_len = db.map_len,
		.sq_db_off = db.sq_db_off,
		.cq_db_off = db.cq_db_off,
	};
	if (d->gpu)
		homid_gpu_doorbells(d, (uint16_t)qid, rp);
	*db_fd = db.fd;
	return 0;
}

/* Delete the SQ, then the CQ; a qid whose deletion failed is never handed out again. */
static void qp_take_back(struct homid_dev *d, struct homid_client *cl, uint16_t qid)
{
	int rc = 0, rc2 = 0;
	if (d->gpu) {
		rc = homid_gpu_queue_delete(d, qid);
	} else {
		rc = nvmed_admin_delete_sq(d->ctrl, qid);
		rc2 = nvmed_admin_delete_cq(d->ctrl, qid);
	}
	struct homid_mem *mem = find_mem(cl, d->qps[qid].mem_id);
	if (mem && mem->refs)
		mem->refs--;
	cl->nqueues--;
	d->used--;
	if (rc < 0 || rc2 < 0) {
		aisio_log(AISIO_LOG_ERROR, d->conf.name,
			  "deleting queue %u of client %u failed (%s); the qid is retired, and the client's memory "
			  "stays mapped",
			  qid, cl->id, strerror(-(rc < 0 ? rc : rc2)));
		d->qps[qid] = (struct homid_qp){.lost = true};
		if (mem)
			mem->refs = 1u << 30; /* never unmapped: the controller may still write there */
		return;
	}
	d->qps[qid] = (struct homid_qp){0};
	dev_qid_free(d, qid);
}

int homid_qp_release(struct homid *hd, struct homid_client *cl, uint32_t dev, uint16_t qid, char *why, size_t whylen)
{
	if (dev >= hd->ndev || qid == 0 || qid > hd->devs[dev].max_qpairs || hd->devs[dev].qps[qid].owner != cl) {
		WHY("queue %u of device %u is not this client's", qid, dev);
		return -ENOENT;
	}
	qp_take_back(&hd->devs[dev], cl, qid);
	return 0;
}

void homid_client_reclaim(struct homid *hd, struct homid_client *cl)
{
	unsigned n = 0;
	for (unsigned i = 0; i < hd->ndev; i++) {
		struct homid_dev *d = &hd->devs[i];
		/* every SQ first, then every CQ would let no SQ post to a CQ gone; per queue pair, SQ then
		 * CQ, is the same for queues that pair one to one */
		for (unsigned q = 1; q <= d->max_qpairs; q++)
			if (d->qps[q].owner == cl) {
				qp_take_back(d, cl, (uint16_t)q);
				n++;
			}
	}
	/* a VF this client held: reset (no DMA of its after this), then its memory goes whatever a lost
	 * queue said, then the VF comes back for the next client */
	for (unsigned i = 0; i < hd->ndev; i++) {
		struct homid_dev *d = &hd->devs[i];
		if (d->holder != cl)
			continue;
		d->holder = NULL;
		int rc = pci_dev_reset(d->pci);
		if (rc < 0 && rc != -ENOTSUP)
			aisio_log(AISIO_LOG_WARNING, d->conf.name,
				  "function level reset failed (%s); the controller reset follows", strerror(-rc));
		else
			aisio_log(AISIO_LOG_DEBUG, d->conf.name, "function level reset: %s",
				  rc == 0 ? "done" : "not offered by the function; the controller reset alone");
		nvmed_ctrl_close(d->ctrl);
		d->ctrl = NULL;
		d->pci = NULL;
		for (unsigned m = 0; m < HOMI_MAX_MEMS; m++)
			if (cl->mems[m].used && cl->mems[m].dev == i)
				mem_release(hd, cl, &cl->mems[m]);
		if (!hd->stopping)
			vf_reopen(hd, d);
	}
	for (unsigned i = 0; i < HOMI_MAX_MEMS; i++)
		if (cl->mems[i].used && cl->mems[i].refs == 0)
			mem_release(hd, cl, &cl->mems[i]);
	hd->reclaimed_qps += n;
	if (n)
		aisio_log(AISIO_LOG_INFO, NULL, "client %u (pid %d) gone: took back %u queue pair(s)", cl->id,
			  (int)cl->pid, n);
}
