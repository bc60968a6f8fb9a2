/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device commands of the aisio tool, one file per verb:
 *
 *   aisio devices [--json]                       devices_list.c: NVMe PCI functions, driver, IOMMU group,
 *                                                namespaces, use
 *   aisio bind BDF vfio-pci|uio_pci_generic|nvme|none                         devices_bind.c
 *   aisio hugepages [--reserve N] [--json]                                    devices_hugepages.c
 *   aisio id-ctrl [--json] DEVICE                                             devices_admin.c
 *   aisio id-ns [--nsid N] [--json] DEVICE                                    devices_admin.c
 *   aisio smart-log [--json] DEVICE                                           devices_admin.c
 *
 * What the system says about a function (sysfs, mounts, holders, processes, aisio's lock)
 * comes from the PCI layer's discovery (include/aisio/pci_sysfs.h). The identify and log
 * commands open the function with the user-space driver, so they work where nvme-cli cannot:
 * on functions bound to vfio-pci or uio_pci_generic, and on emulated controllers (emu:...).
 *
 * This header holds what those files share.
 */
#ifndef AISIO_TOOLS_DEVICES_H
#define AISIO_TOOLS_DEVICES_H

#include "json.h"

#include <aisio/nvme_sriov.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A JSON string of at most maxlen bytes of s; bytes outside printable ASCII escaped. */
/* Write val to a sysfs or procfs attribute file in one write. */
static inline int attr_write(const char *path, const char *val)
{
	return nvme_sriov_attr_write(path, val);
}

#endif /* AISIO_TOOLS_DEVICES_H */
