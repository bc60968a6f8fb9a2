/* SPDX-License-Identifier: BSD-3-Clause */
/* aisio fil: file datasets. One file per verb: fil_gen.c (gen), fil_perf.c (perf). */
#include "commands.h"

#include <stdio.h>
#include <string.h>

struct fil_verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct fil_verb fil_verbs[] = {
	{"gen", cmd_fil_gen,
	 "generate a dataset (imagenetish, tiktokish, filesize8gib) into DIR or a file-system image"},
#ifdef AISIO_HAVE_CMD_FIL_PERF
	{"perf", cmd_fil_perf, "read a dataset in batches through a backend: files/s, MiB/s, IOPS, CPU s/GiB"},
#endif
};

static void usage(FILE *f)
{
	fprintf(f, "usage: aisio fil VERB [ARGS...]   (aisio fil VERB --help for each)\n\n");
	for (size_t i = 0; i < sizeof(fil_verbs) / sizeof(fil_verbs[0]); i++)
		fprintf(f, "  %-6s %s\n", fil_verbs[i].name, fil_verbs[i].help);
}

int cmd_fil(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(fil_verbs) / sizeof(fil_verbs[0]); i++)
		if (!strcmp(argv[1], fil_verbs[i].name))
			return fil_verbs[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "aisio fil: unknown verb '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
