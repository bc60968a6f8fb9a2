/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SR-IOV of an NVMe PF that stays on the kernel nvme driver: its admin commands (Identify of the
 * primary and secondary controllers, Virtualization Management, Namespace Attachment) go through
 * the kernel's admin passthrough (NVME_IOCTL_ADMIN_CMD on /dev/nvmeN), its VFs through sysfs.
 * Shared by `aisio sriov` and homid.
 *
 * Errors: a command returns 0, -errno from the ioctl, or the controller's status (SCT << 8 | SC,
 * nvmed_status_str) as a positive number; sysfs calls return -errno. Nothing is printed.
 */
#ifndef AISIO_NVME_SRIOV_H
#define AISIO_NVME_SRIOV_H

#include <aisio/nvme_spec.h>

#include <stdbool.h>
#include <stdint.h>

/* One admin command through the passthrough of fd (/dev/nvmeN); the kernel aborts it after
 * timeout_ms. dw0 (may be NULL) gets completion dword 0. */
int nvme_sriov_admin(int fd, uint8_t opc, uint32_t nsid, uint32_t cdw10, uint32_t cdw11, void *buf, uint32_t len,
		     unsigned timeout_ms, uint32_t *dw0);

/* Identify Primary Controller Capabilities and the Secondary Controller List (numid clamped). */
int nvme_sriov_read(int fd, unsigned timeout_ms, struct nvme_pri_ctrl_cap *pri, struct nvme_sec_ctrl_list *sec);

/* The secondary controller of VF vfn (from 1), or NULL. */
const struct nvme_sec_ctrl_entry *nvme_sriov_secondary(const struct nvme_sec_ctrl_list *sec, unsigned vfn);

/* Virtualization Management: act, resource type rt, controller cntlid, nr resources. */
int nvme_sriov_virt_mgmt(int fd, unsigned timeout_ms, unsigned act, unsigned rt, uint16_t cntlid, uint16_t nr,
			 uint32_t *dw0);

/* Namespace Attachment of nsid to (attach) or from (detach) controller cntlid. */
int nvme_sriov_ns_attach(int fd, unsigned timeout_ms, uint32_t nsid, uint16_t cntlid, bool attach);

/* The address of VF vfn (from 1) of pf while it is enabled (its virtfnN link), into out; -ENOENT
 * when it is not. */
int nvme_sriov_vf_bdf(const char *pf, unsigned vfn, char out[16]);

/* Write val to a sysfs (or procfs) attribute in one write. */
int nvme_sriov_attr_write(const char *path, const char *val);
/* An attribute of a PCI function: /sys/bus/pci/devices/<bdf>/<attr>; read as a number. */
int nvme_sriov_fn_attr_write(const char *bdf, const char *attr, long val);
int nvme_sriov_fn_attr_read(const char *bdf, const char *attr, long *val);

/* Wait (bounded by timeout_ms) until bdf is bound to driver want; -ETIMEDOUT. */
int nvme_sriov_wait_driver(const char *bdf, const char *want, unsigned timeout_ms);

#endif /* AISIO_NVME_SRIOV_H */
