/* SPDX-License-Identifier: BSD-3-Clause */
/* aisio bind: move an NVMe PCI function between drivers, refused while anything uses it. */
#include "commands.h"
#include "devices.h"

#include <aisio/devstr.h>
#include <aisio/pci.h>
#include <aisio/pci_sysfs.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage_bind(FILE *f)
{
	fprintf(f, "usage: aisio bind BDF vfio-pci|uio_pci_generic|nvme|none\n"
		   "Bind an NVMe PCI function to a driver (driver_override, unbind, drivers_probe). Refused\n"
		   "while a namespace of it is mounted or held, or while any process has it open.\n");
}

int cmd_bind(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage_bind(stdout);
		return 0;
	}
	if (argc != 3) {
		usage_bind(stderr);
		return 2;
	}
	char bdf[16];
	if (devstr_pci_addr_parse(argv[1], bdf) < 0) {
		fprintf(stderr, "aisio bind: '%s' is not a PCI address (expected 0000:01:00.0)\n", argv[1]);
		return 2;
	}
	const char *drv = argv[2];
	static const char *const known[] = {"vfio-pci", "uio_pci_generic", "nvme", "none"};
	bool ok = false;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		ok |= strcmp(drv, known[i]) == 0;
	if (!ok) {
		fprintf(stderr, "aisio bind: unknown driver '%s': choose vfio-pci, uio_pci_generic, nvme or none\n",
			drv);
		return 2;
	}
	int rc = pci_sysfs_is_nvme(NULL, bdf);
	if (rc == -ENODEV) {
		fprintf(stderr, "aisio bind: no PCI function %s on this machine\n", bdf);
		return 1;
	}
	if (rc <= 0) {
		fprintf(stderr, "aisio bind: %s is not an NVMe controller (class 0x0108); aisio leaves it alone\n",
			bdf);
		return 1;
	}
	struct pci_sysfs_fn fn;
	rc = pci_sysfs_fn_load(NULL, bdf, &fn);
	if (rc < 0) {
		fprintf(stderr, "aisio bind: %s: %s\n", bdf, strerror(-rc));
		return 1;
	}
	int ret = 1;
	if (fn.mounts_err) {
		fprintf(stderr, "aisio bind: cannot read /proc/self/mountinfo, so cannot tell whether %s is in use\n",
			bdf);
		goto out;
	}
	const char *cur = fn.driver[0] ? fn.driver : "none";
	if (strcmp(cur, drv) == 0) {
		printf("%s is already bound to %s\n", bdf, drv);
		ret = 0;
		goto out;
	}
	if (fn.in_use) {
		fprintf(stderr, "aisio bind: %s is in use, refusing to unbind it from %s:", bdf, cur);
		for (unsigned i = 0; i < fn.nns; i++) {
			for (unsigned m = 0; m < fn.ns[i].nmounts; m++)
				fprintf(stderr, " %s mounted on %s;", fn.ns[i].name, fn.ns[i].mounts[m]);
			if (fn.ns[i].held)
				fprintf(stderr, " %s held (device mapper, md or swap);", fn.ns[i].name);
		}
		fprintf(stderr, " unmount first\n");
		goto out;
	}
	if (fn.aisio_pid) {
		fprintf(stderr, "aisio bind: %s is open in aisio process %ld; stop it first\n", bdf, fn.aisio_pid);
		goto out;
	}
	if (fn.nusers) {
		fprintf(stderr, "aisio bind: %s is open:", bdf);
		for (unsigned i = 0; i < fn.nusers; i++)
			fprintf(stderr, " %s (pid %ld) has %s;", fn.users[i].comm, fn.users[i].pid, fn.users[i].node);
		fprintf(stderr, " stop them first\n");
		goto out;
	}
	if (strcmp(drv, "vfio-pci") == 0 && fn.iommu_group < 0) {
		fprintf(stderr,
			"aisio bind: %s has no IOMMU group (the IOMMU is off): vfio-pci cannot take it. "
			"Boot with intel_iommu=on / amd_iommu=on, or bind to uio_pci_generic\n",
			bdf);
		goto out;
	}
	char path[PATH_MAX];
	if (strcmp(drv, "none") != 0) {
		snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s", drv);
		if (access(path, F_OK) < 0) {
			fprintf(stderr, "aisio bind: the %s driver is not loaded (modprobe %s)\n", drv, drv);
			goto out;
		}
	}
	/* driver_override makes the next probe pick exactly this driver (and "none" none at all). */
	snprintf(path, sizeof(path), PCI_SYSFS_DEVICES "/%s/driver_override", bdf);
	rc = attr_write(path, strcmp(drv, "none") == 0 ? "\n" : drv);
	if (rc < 0) {
		fprintf(stderr, "aisio bind: %s: writing %s failed: %s%s\n", bdf, path, strerror(-rc),
			rc == -EACCES ? " (needs root)" : "");
		goto out;
	}
	if (fn.driver[0]) {
		snprintf(path, sizeof(path), PCI_SYSFS_DEVICES "/%s/driver/unbind", bdf);
		rc = attr_write(path, bdf);
		if (rc < 0) {
			fprintf(stderr, "aisio bind: %s: unbinding from %s failed: %s\n", bdf, fn.driver,
				strerror(-rc));
			goto out;
		}
	}
	if (strcmp(drv, "none") == 0) {
		printf("%s unbound from %s\n", bdf, cur);
		ret = 0;
		goto out;
	}
	rc = attr_write("/sys/bus/pci/drivers_probe", bdf);
	if (rc < 0 && rc != -EINVAL) {
		fprintf(stderr, "aisio bind: %s: drivers_probe failed: %s\n", bdf, strerror(-rc));
		goto out;
	}
	/* nvme probes asynchronously: give it a bounded while. */
	if (nvme_sriov_wait_driver(bdf, drv, 5000) < 0) {
		char now[64];
		pci_sysfs_driver(NULL, bdf, now, sizeof(now));
		fprintf(stderr, "aisio bind: %s did not bind to %s (now: %s); see the kernel log (dmesg)\n", bdf, drv,
			now[0] ? now : "no driver");
		goto out;
	}
	printf("%s bound to %s (was %s)\n", bdf, drv, cur);
	ret = 0;
out:
	pci_sysfs_fn_clear(&fn);
	return ret;
}
