/* SPDX-License-Identifier: BSD-3-Clause */
/* The aisio command: dispatch to the command families. */
#include "commands.h"

#include <aisio/log.h>
#include <aisio_version.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{"perf", cmd_perf, "run | verify | cuda-run | cuda-verify: I/O benchmark and data check"},
	{"devices", cmd_devices, "list NVMe PCI functions, their drivers, namespaces and users"},
	{"bind", cmd_bind, "bind a PCI function to vfio-pci, uio_pci_generic or nvme"},
	{"hugepages", cmd_hugepages, "show or reserve hugepages for DMA memory"},
	{"id-ctrl", cmd_id_ctrl, "identify controller of a user-space bound or emulated device"},
	{"id-ns", cmd_id_ns, "identify namespace"},
	{"smart-log", cmd_smart_log, "SMART / health log"},
	{"sriov", cmd_sriov, "status | assign | enable | online | offline | disable: SR-IOV of a PF on nvme"},
	{"homi", cmd_homi, "status: devices, queue pairs and clients of the homid daemon"},
#ifdef AISIO_HAVE_CMD_XAL
	{"xal", cmd_xal, "ls | extents | stats: file extents from a mounted file system or an XFS device"},
#endif
#ifdef AISIO_HAVE_CMD_FIL
	{"fil", cmd_fil, "gen (| perf): file datasets of class folders, in a directory or a file-system image"},
#endif
};

static void usage(FILE *f)
{
	fprintf(f, "usage: aisio COMMAND [ARGS...]   (aisio COMMAND --help for each)\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n  --version  print the version\n");
}

int main(int argc, char **argv)
{
	/* The libraries log through one hook (include/aisio/log.h): the default sink on stderr, at the
	 * level AISIO_LOG names (debug shows the GPU layer's trace). */
	const char *level = getenv("AISIO_LOG");
	if (level && *level) {
		enum aisio_log_level l;
		if (aisio_log_level_parse(level, &l) < 0) {
			fprintf(stderr, "aisio: AISIO_LOG=%s: expected error, warning, info or debug\n", level);
			return 2;
		}
		aisio_log_level_set(l);
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("aisio %s\n", AISIO_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "aisio: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
