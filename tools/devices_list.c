/* SPDX-License-Identifier: BSD-3-Clause */
/* aisio devices: the NVMe PCI functions and what uses them, as a table or JSON (pci_sysfs.h). */
#include "commands.h"
#include "devices.h"

#include <aisio/pci_sysfs.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void fn_print_json(FILE *f, const struct pci_sysfs_fn *fn)
{
	fprintf(f, "{\"bdf\": \"%s\", \"vendor\": \"0x%04x\", \"device\": \"0x%04x\", \"class\": \"0x%06x\", ", fn->bdf,
		fn->vendor, fn->device, fn->class_code);
	fprintf(f, "\"driver\": ");
	if (fn->driver[0])
		json_str(f, fn->driver, sizeof(fn->driver));
	else
		fprintf(f, "null");
	if (fn->iommu_group >= 0)
		fprintf(f, ", \"iommu_group\": %d, ", fn->iommu_group);
	else
		fprintf(f, ", \"iommu_group\": null, ");
	fprintf(f, "\"numa_node\": %d, ", fn->numa_node);
	if (fn->physfn[0])
		fprintf(f, "\"physfn\": \"%s\", ", fn->physfn);
	if (fn->sriov_totalvfs >= 0)
		fprintf(f, "\"sriov\": {\"numvfs\": %d, \"totalvfs\": %d}, ", fn->sriov_numvfs, fn->sriov_totalvfs);
	if (fn->ctrl[0])
		fprintf(f, "\"controller\": \"%s\", ", fn->ctrl);
	fprintf(f, "\"namespaces\": [");
	for (unsigned i = 0; i < fn->nns; i++) {
		const struct pci_sysfs_ns *ns = &fn->ns[i];
		fprintf(f, "%s{\"name\": \"%s\", \"size_bytes\": %llu, \"mounts\": [", i ? ", " : "", ns->name,
			(unsigned long long)ns->size_bytes);
		for (unsigned m = 0; m < ns->nmounts; m++) {
			fprintf(f, "%s", m ? ", " : "");
			json_str(f, ns->mounts[m], sizeof(ns->mounts[m]));
		}
		fprintf(f, "], \"held\": %s}", ns->held ? "true" : "false");
	}
	fprintf(f, "], \"in_use\": %s, \"aisio_open\": %s", fn->in_use ? "true" : "false",
		fn->aisio_pid ? "true" : "false");
	if (fn->aisio_pid)
		fprintf(f, ", \"aisio_pid\": %ld", fn->aisio_pid);
	fprintf(f, ", \"open_by\": [");
	for (unsigned i = 0; i < fn->nusers; i++) {
		fprintf(f, "%s{\"pid\": %ld, \"comm\": ", i ? ", " : "", fn->users[i].pid);
		json_str(f, fn->users[i].comm, sizeof(fn->users[i].comm));
		fprintf(f, ", \"node\": ");
		json_str(f, fn->users[i].node, sizeof(fn->users[i].node));
		fprintf(f, "}");
	}
	fprintf(f, "]}");
}

static void fn_print_row(const struct pci_sysfs_fn *fn)
{
	char ns[256] = "-", use[128] = "-";
	size_t o = 0;
	for (unsigned i = 0; i < fn->nns && o < sizeof(ns); i++)
		o += (size_t)snprintf(ns + o, sizeof(ns) - o, "%s%s", i ? "," : "", fn->ns[i].name);
	o = 0;
	for (unsigned i = 0; i < fn->nns && o < sizeof(use); i++) {
		for (unsigned m = 0; m < fn->ns[i].nmounts && o < sizeof(use); m++)
			o += (size_t)snprintf(use + o, sizeof(use) - o, "%s%s", o ? "," : "", fn->ns[i].mounts[m]);
		if (fn->ns[i].held && o < sizeof(use))
			o += (size_t)snprintf(use + o, sizeof(use) - o, "%s%s held", o ? "," : "", fn->ns[i].name);
	}
	char aisio[64] = "-";
	if (fn->aisio_pid)
		snprintf(aisio, sizeof(aisio), "open (pid %ld)", fn->aisio_pid);
	else if (fn->nusers)
		snprintf(aisio, sizeof(aisio), "%s (pid %ld)%s", fn->users[0].comm, fn->users[0].pid,
			 fn->nusers > 1 ? " +" : "");
	char kind[24] = "";
	if (fn->physfn[0])
		snprintf(kind, sizeof(kind), " VF of %s", fn->physfn);
	else if (fn->sriov_totalvfs > 0)
		snprintf(kind, sizeof(kind), " PF %d/%d VFs", fn->sriov_numvfs, fn->sriov_totalvfs);
	char group[16] = "-";
	if (fn->iommu_group >= 0)
		snprintf(group, sizeof(group), "%d", fn->iommu_group);
	printf("%-13s %04x:%04x  %-16s %-6s %-24s %-20s %s%s\n", fn->bdf, fn->vendor, fn->device,
	       fn->driver[0] ? fn->driver : "(none)", group, ns, use, aisio, kind);
}

static void usage_devices(FILE *f)
{
	fprintf(f, "usage: aisio devices [--json]\n"
		   "List NVMe PCI functions (class 0x0108): driver, IOMMU group, namespaces (block devices),\n"
		   "what is mounted on them, and who has the function open: an aisio process (its lock), or\n"
		   "any process holding a device node (block device, /dev/nvmeN, /dev/vfio/G, /dev/uioN, BAR).\n");
}

int cmd_devices(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'h': usage_devices(stdout); return 0;
		default: usage_devices(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage_devices(stderr);
		return 2;
	}
	struct pci_sysfs_list list;
	int rc = pci_sysfs_list(NULL, &list);
	if (rc < 0) {
		fprintf(stderr, "aisio: cannot list %s: %s\n", PCI_SYSFS_DEVICES, strerror(-rc));
		return 1;
	}
	if (list.mounts_err)
		fprintf(stderr, "aisio: cannot read /proc/self/mountinfo: mounts are not shown\n");
	if (json)
		printf("{\"devices\": [");
	else if (list.n)
		printf("%-13s %-9s  %-16s %-6s %-24s %-20s %s\n", "PCI", "ID", "DRIVER", "IOMMU", "NAMESPACES",
		       "MOUNTED", "OPEN BY");
	else
		printf("no NVMe PCI functions\n");
	for (size_t i = 0; i < list.n; i++) {
		if (json) {
			printf("%s", i ? ", " : "");
			fn_print_json(stdout, &list.fn[i]);
		} else {
			fn_print_row(&list.fn[i]);
		}
	}
	if (json)
		printf("]}\n");
	pci_sysfs_list_free(&list);
	return 0;
}
