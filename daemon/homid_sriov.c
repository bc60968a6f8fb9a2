/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * homid's SR-IOV devices: a PF that stays on the kernel nvme driver (its file systems stay
 * mounted) is managed through the kernel's admin passthrough; the daemon assigns flexible
 * resources to its secondary controllers, enables the VFs with no driver probing them, attaches
 * to each VF only the namespaces granted to it (and detaches the others), brings the secondaries
 * online and binds the VFs to vfio-pci. The VFs are then opened like any vfio device
 * (homid_dev.c). Teardown undoes exactly what bring-up did, in the reverse order; every admin
 * command is bounded by admin_timeout, every sysfs wait by a fixed bound.
 */
#include "homid.h"

#include <aisio/nvme_sriov.h>
#include <aisio/nvmed.h>
#include <aisio/pci_sysfs.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SRIOV_BIND_TIMEOUT_MS 10000 /* vfio-pci probing a VF */
#define SRIOV_USERS_TIMEOUT_S 10    /* at teardown: processes still holding a VF (clients told to go) */

struct sriov_ctx {
	const char *name; /* the PF device's, for messages */
	struct homid_sriov *s;
	unsigned tmo_ms;
};

/* A failed admin command, logged with what it was; -EIO for a controller's refusal. */
static int cmd_failed(const struct sriov_ctx *x, const char *what, int rc)
{
	if (rc < 0)
		aisio_log(AISIO_LOG_ERROR, x->name, "%s: %s failed: %s", x->s->node, what, strerror(-rc));
	else
		aisio_log(AISIO_LOG_ERROR, x->name, "%s: %s failed: %s (status 0x%03x)", x->s->node, what,
			  nvmed_status_str((uint16_t)rc), rc);
	return rc < 0 ? rc : -EIO;
}

static int virt_mgmt(const struct sriov_ctx *x, unsigned act, unsigned rt, uint16_t scid, uint16_t nr, uint32_t *dw0)
{
	int rc = nvme_sriov_virt_mgmt(x->s->fd, x->tmo_ms, act, rt, scid, nr, dw0);
	if (rc == 0)
		return 0;
	char what[96];
	snprintf(what, sizeof(what), "Virtualization Management (action %u, resource type %u, controller %u, %u)", act,
		 rt, scid, nr);
	return cmd_failed(x, what, rc);
}

static int attr_write(const struct sriov_ctx *x, const char *bdf, const char *attr, long val)
{
	int rc = nvme_sriov_fn_attr_write(bdf, attr, val);
	if (rc < 0)
		aisio_log(AISIO_LOG_ERROR, x->name, "writing %ld to %s/%s failed: %s", val, bdf, attr, strerror(-rc));
	return rc;
}

/* The PF: on the kernel nvme driver, with SR-IOV and enough VFs, none enabled yet. */
static int pf_open(const struct sriov_ctx *x, const struct homid_dev_conf *dc)
{
	struct pci_sysfs_fn fn;
	int rc = pci_sysfs_fn_load(NULL, dc->sriov_pf, &fn);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, x->name, "sriov = %s: %s", dc->sriov_pf,
			  rc == -ENODEV ? "no such PCI function" : strerror(-rc));
		return rc;
	}
	const char *why = NULL;
	char hint[160] = "";
	if (fn.physfn[0]) {
		why = "is a VF";
		snprintf(hint, sizeof(hint), "; give its PF %s", fn.physfn);
	} else if (fn.sriov_totalvfs < (int)dc->sriov_vfs) {
		why = fn.sriov_totalvfs <= 0 ? "has no SR-IOV capability" : "has fewer VFs than sriov_vfs";
	} else if (strcmp(fn.driver, "nvme") || !fn.ctrl[0]) {
		why = "is not on the kernel nvme driver (its admin commands go through the kernel's passthrough)";
		snprintf(hint, sizeof(hint), "; aisio bind %s nvme", fn.bdf);
	} else if (fn.sriov_numvfs > 0) {
		why = "has VFs enabled already (by hand, or by a daemon that was killed)";
		snprintf(hint, sizeof(hint), "; return them first: aisio sriov disable %s", fn.bdf);
	}
	if (why) {
		aisio_log(AISIO_LOG_ERROR, x->name, "sriov = %s %s%s", fn.bdf, why, hint);
		pci_sysfs_fn_clear(&fn);
		return -EINVAL;
	}
	snprintf(x->s->node, sizeof(x->s->node), "/dev/%s", fn.ctrl);
	pci_sysfs_fn_clear(&fn);
	x->s->fd = open(x->s->node, O_RDWR | O_CLOEXEC);
	if (x->s->fd < 0) {
		int err = errno;
		aisio_log(AISIO_LOG_ERROR, x->name, "cannot open %s (the PF's admin passthrough): %s", x->s->node,
			  strerror(err));
		return -err;
	}
	return 0;
}

/* Attach the granted namespaces to VF v, detach the others it has: what changed is recorded. */
static int vf_namespaces(const struct sriov_ctx *x, unsigned v, uint32_t granted)
{
	struct homid_sriov_vf *vf = &x->s->vf[v];
	uint32_t last = x->s->nn < HOMI_MAX_NS ? x->s->nn : HOMI_MAX_NS;
	for (uint32_t nsid = 1; nsid <= last; nsid++) {
		bool attach = granted & (1u << nsid);
		int rc = nvme_sriov_ns_attach(x->s->fd, x->tmo_ms, nsid, vf->scid, attach);
		if (rc == 0) {
			if (attach)
				vf->ns_attached |= 1u << nsid;
			else
				vf->ns_detached |= 1u << nsid;
		} else if (attach && rc != NVME_SC_NS_ALREADY_ATTACHED) {
			char what[96];
			snprintf(what, sizeof(what), "attaching namespace %u to VF %u (controller %u)", nsid, v,
				 vf->scid);
			return cmd_failed(x, what, rc);
		} else if (!attach && rc != NVME_SC_NS_NOT_ATTACHED && rc != NVME_SC_INVALID_NS &&
			   rc != NVME_SC_INVALID_FIELD) {
			/* not attached, or no such namespace allocated: nothing to take away */
			char what[96];
			snprintf(what, sizeof(what), "detaching namespace %u from VF %u (controller %u)", nsid, v,
				 vf->scid);
			return cmd_failed(x, what, rc);
		}
		if (attach)
			vf->ns |= 1u << nsid;
	}
	if (granted & ~vf->ns) {
		aisio_log(AISIO_LOG_ERROR, x->name,
			  "VF %u is granted namespaces the controller does not have (it supports %u)", v, x->s->nn);
		return -ENOENT;
	}
	return 0;
}

/* vfio-pci for a VF that no driver probed: driver_override, then a probe, waited for (bounded). */
static int vf_bind(const struct sriov_ctx *x, unsigned v)
{
	struct homid_sriov_vf *vf = &x->s->vf[v];
	struct pci_sysfs_fn fn;
	int rc = pci_sysfs_fn_load(NULL, vf->bdf, &fn);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, x->name, "VF %u (%s) is gone from sysfs: %s", v, vf->bdf, strerror(-rc));
		return rc;
	}
	int group = fn.iommu_group;
	pci_sysfs_fn_clear(&fn);
	if (group < 0) {
		aisio_log(AISIO_LOG_ERROR, x->name,
			  "VF %u (%s) has no IOMMU group (the IOMMU is off): its DMA could not be confined; boot "
			  "with intel_iommu=on / amd_iommu=on",
			  v, vf->bdf);
		return -ENODEV;
	}
	if (access("/sys/bus/pci/drivers/vfio-pci", F_OK) < 0) {
		aisio_log(AISIO_LOG_ERROR, x->name, "the vfio-pci driver is not loaded (modprobe vfio-pci)");
		return -ENODEV;
	}
	char path[PATH_MAX];
	snprintf(path, sizeof(path), PCI_SYSFS_DEVICES "/%s/driver_override", vf->bdf);
	rc = nvme_sriov_attr_write(path, "vfio-pci");
	if (rc == 0) {
		rc = nvme_sriov_attr_write("/sys/bus/pci/drivers_probe", vf->bdf);
		if (rc == -EINVAL)
			rc = 0; /* the probe's own answer; whether it bound is what the wait says */
	}
	if (rc == 0)
		rc = nvme_sriov_wait_driver(vf->bdf, "vfio-pci", SRIOV_BIND_TIMEOUT_MS);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, x->name, "binding VF %u (%s) to vfio-pci failed: %s; see the kernel log", v,
			  vf->bdf, strerror(-rc));
		return rc;
	}
	vf->bound = true;
	return 0;
}

int homid_sriov_up(struct homid *hd, struct homid_dev *d)
{
	const struct homid_dev_conf *dc = &d->conf;
	struct homid_sriov *s = calloc(1, sizeof(*s));
	struct nvme_pri_ctrl_cap *pri = malloc(sizeof(*pri));
	struct nvme_sec_ctrl_list *sec = malloc(sizeof(*sec));
	struct nvme_id_ctrl *idc = malloc(sizeof(*idc));
	int rc = -ENOMEM;
	if (!s || !pri || !sec || !idc) {
		free(s);
		goto out;
	}
	s->fd = -1;
	s->autoprobe = -1;
	d->sriov = s;
	d->kind = HOMI_DEV_SRIOV_PF;
	struct sriov_ctx x = {.name = dc->name, .s = s, .tmo_ms = hd->cfg.admin_timeout_s * 1000};
	rc = pf_open(&x, dc);
	if (rc < 0)
		goto out;
	rc = nvme_sriov_admin(s->fd, NVME_ADMIN_IDENTIFY, 0, NVME_ID_CNS_CTRL, 0, idc, sizeof(*idc), x.tmo_ms, NULL);
	if (rc) {
		rc = cmd_failed(&x, "Identify Controller", rc);
		goto out;
	}
	s->nn = idc->nn;
	rc = nvme_sriov_read(s->fd, x.tmo_ms, pri, sec);
	if (rc) {
		rc = cmd_failed(&x, "Identify Primary Controller Capabilities / Secondary Controller List", rc);
		goto out;
	}
	s->cntlid = pri->cntlid;
	s->vq_flexible = pri->vqfrt;
	s->vi_flexible = pri->vifrt;
	/* 1. flexible resources, while the secondaries are offline */
	for (unsigned v = 1; v <= dc->sriov_vfs; v++) {
		const struct nvme_sec_ctrl_entry *sc = nvme_sriov_secondary(sec, v);
		if (!sc) {
			aisio_log(AISIO_LOG_ERROR, dc->name, "%s lists no secondary controller for VF %u", s->node, v);
			rc = -ENODEV;
			goto out;
		}
		struct homid_sriov_vf *vf = &s->vf[v];
		vf->scid = sc->scid;
		if ((sc->scs & NVME_SEC_SCS_ONLINE) &&
		    (rc = virt_mgmt(&x, NVME_VIRT_MGMT_SECONDARY_OFFLINE, 0, vf->scid, 0, NULL)) < 0)
			goto out;
		uint32_t n = 0;
		rc = virt_mgmt(&x, NVME_VIRT_MGMT_SECONDARY_ASSIGN, NVME_VIRT_MGMT_RT_VQ, vf->scid,
			       (uint16_t)dc->sriov_vq, &n);
		vf->vq = (uint16_t)(rc == 0 ? n : 0);
		if (rc == 0)
			rc = virt_mgmt(&x, NVME_VIRT_MGMT_SECONDARY_ASSIGN, NVME_VIRT_MGMT_RT_VI, vf->scid,
				       (uint16_t)dc->sriov_vi, &n);
		if (rc < 0) {
			s->nvfs = v; /* what teardown returns covers this one's VQ */
			goto out;
		}
		vf->vi = (uint16_t)n;
	}
	/* 2. the VFs, with no driver probing them (the kernel nvme driver would take them) */
	if (nvme_sriov_fn_attr_read(dc->sriov_pf, "sriov_drivers_autoprobe", &s->autoprobe) < 0)
		s->autoprobe = -1;
	if ((rc = attr_write(&x, dc->sriov_pf, "sriov_drivers_autoprobe", 0)) < 0)
		goto out;
	if ((rc = attr_write(&x, dc->sriov_pf, "sriov_numvfs", (long)dc->sriov_vfs)) < 0)
		goto out;
	s->nvfs = dc->sriov_vfs;
	s->enabled = true;
	for (unsigned v = 1; v <= s->nvfs; v++) {
		struct homid_sriov_vf *vf = &s->vf[v];
		rc = nvme_sriov_vf_bdf(dc->sriov_pf, v, vf->bdf);
		if (rc < 0) {
			aisio_log(AISIO_LOG_ERROR, dc->name, "VF %u of %s is not in sysfs after enabling it", v,
				  dc->sriov_pf);
			goto out;
		}
		/* 3. the granted namespaces only, 4. online, 5. vfio-pci */
		if ((rc = vf_namespaces(&x, v, hd->cfg.devs[d->index + v].policy.ns_mask)) < 0)
			goto out;
		if ((rc = virt_mgmt(&x, NVME_VIRT_MGMT_SECONDARY_ONLINE, 0, vf->scid, 0, NULL)) < 0)
			goto out;
		vf->online = true;
		if ((rc = vf_bind(&x, v)) < 0)
			goto out;
		snprintf(hd->cfg.devs[d->index + v].target, sizeof(hd->cfg.devs[0].target), "%s", vf->bdf);
		aisio_log(AISIO_LOG_INFO, dc->name,
			  "VF %u: %s, secondary controller %u, %u VQ, %u VI, online, vfio-pci", v, vf->bdf, vf->scid,
			  vf->vq, vf->vi);
	}
	aisio_log(AISIO_LOG_INFO, dc->name, "SR-IOV PF %s (%s, controller %u): %u VF(s) up", dc->sriov_pf, s->node,
		  s->cntlid, s->nvfs);
	rc = 0;
out:
	free(pri);
	free(sec);
	free(idc);
	return rc;
}

/* Processes (clients told to go, or stopped ones) holding a VF's vfio device: waited for, bounded;
 * disabling the VFs under them would block in the kernel until they let go. */
static bool vfs_free(const struct sriov_ctx *x)
{
	for (unsigned waited = 0;; waited++) {
		bool busy = false;
		for (unsigned v = 1; v <= x->s->nvfs && !busy; v++) {
			struct pci_sysfs_fn fn;
			if (!x->s->vf[v].bdf[0] || pci_sysfs_fn_load(NULL, x->s->vf[v].bdf, &fn) < 0)
				continue;
			busy = fn.nusers > 0;
			if (busy && waited == SRIOV_USERS_TIMEOUT_S)
				aisio_log(AISIO_LOG_ERROR, x->name,
					  "VF %u (%s) is still open by %s (pid %ld) after %u s: the VFs stay enabled; "
					  "stop it, then aisio sriov disable %s",
					  v, x->s->vf[v].bdf, fn.users[0].comm, fn.users[0].pid, SRIOV_USERS_TIMEOUT_S,
					  x->s->node);
			pci_sysfs_fn_clear(&fn);
		}
		if (!busy)
			return true;
		if (waited == SRIOV_USERS_TIMEOUT_S)
			return false;
		sleep(1);
	}
}

void homid_sriov_down(struct homid *hd, struct homid_dev *d)
{
	struct homid_sriov *s = d->sriov;
	if (!s)
		return;
	struct sriov_ctx x = {.name = d->conf.name, .s = s, .tmo_ms = hd->cfg.admin_timeout_s * 1000};
	bool ok = s->fd >= 0 && vfs_free(&x);
	for (unsigned v = s->nvfs; ok && v >= 1; v--) {
		struct homid_sriov_vf *vf = &s->vf[v];
		for (uint32_t nsid = 1; nsid <= HOMI_MAX_NS; nsid++) {
			bool undo_attach = vf->ns_attached & (1u << nsid), undo_detach = vf->ns_detached & (1u << nsid);
			if (!undo_attach && !undo_detach)
				continue;
			int rc = nvme_sriov_ns_attach(s->fd, x.tmo_ms, nsid, vf->scid, undo_detach);
			if (rc)
				cmd_failed(&x,
					   undo_attach ? "detaching a namespace at teardown"
						       : "attaching a namespace back at teardown",
					   rc);
		}
		if (vf->online && virt_mgmt(&x, NVME_VIRT_MGMT_SECONDARY_OFFLINE, 0, vf->scid, 0, NULL) == 0)
			vf->online = false;
	}
	if (ok && s->enabled) {
		if (attr_write(&x, d->conf.sriov_pf, "sriov_numvfs", 0) == 0)
			aisio_log(AISIO_LOG_INFO, d->conf.name, "%u VF(s) disabled", s->nvfs);
		else
			ok = false;
	}
	/* resources return only from offline secondaries */
	for (unsigned v = 1; ok && v <= s->nvfs; v++) {
		struct homid_sriov_vf *vf = &s->vf[v];
		if (vf->online)
			continue;
		if (vf->vq &&
		    virt_mgmt(&x, NVME_VIRT_MGMT_SECONDARY_ASSIGN, NVME_VIRT_MGMT_RT_VQ, vf->scid, 0, NULL) == 0)
			vf->vq = 0;
		if (vf->vi &&
		    virt_mgmt(&x, NVME_VIRT_MGMT_SECONDARY_ASSIGN, NVME_VIRT_MGMT_RT_VI, vf->scid, 0, NULL) == 0)
			vf->vi = 0;
	}
	if (ok && s->autoprobe >= 0)
		attr_write(&x, d->conf.sriov_pf, "sriov_drivers_autoprobe", s->autoprobe);
	if (ok)
		aisio_log(AISIO_LOG_INFO, d->conf.name, "SR-IOV PF %s: resources returned, namespaces as before",
			  d->conf.sriov_pf);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	d->sriov = NULL;
}

const struct homid_sriov_vf *homid_sriov_vf_of(const struct homid *hd, const struct homid_dev *vf)
{
	const struct homid_sriov *s = hd->devs[vf->conf.sriov_pf_dev].sriov;
	return s && vf->conf.sriov_vfn <= s->nvfs ? &s->vf[vf->conf.sriov_vfn] : NULL;
}
