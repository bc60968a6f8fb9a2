/* SPDX-License-Identifier: BSD-3-Clause */
/* aisio hugepages: the hugepages that back DMA memory of real devices, shown or reserved. */
#include "commands.h"
#include "devices.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct huge_state {
	long total, free_, rsvd, surp, size_kb;
};

static int huge_read(struct huge_state *h)
{
	memset(h, 0, sizeof(*h));
	FILE *f = fopen("/proc/meminfo", "re");
	if (!f)
		return -errno;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "HugePages_Total: %ld", &h->total);
		sscanf(line, "HugePages_Free: %ld", &h->free_);
		sscanf(line, "HugePages_Rsvd: %ld", &h->rsvd);
		sscanf(line, "HugePages_Surp: %ld", &h->surp);
		sscanf(line, "Hugepagesize: %ld kB", &h->size_kb);
	}
	fclose(f);
	return 0;
}

static void usage_hugepages(FILE *f)
{
	fprintf(f, "usage: aisio hugepages [--reserve N] [--json]\n"
		   "Show the hugepages reserved for DMA memory of real devices, or reserve N of the default\n"
		   "size (vm.nr_hugepages; needs root). The memlock limit is shown too: vfio-pci pins the DMA\n"
		   "memory it maps against it (not enforced for root; for homi: clients, the daemon's limit).\n");
}

int cmd_hugepages(int argc, char **argv)
{
	static const struct option opts[] = {
		{"reserve", required_argument, NULL, 'r'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool json = false;
	long reserve = -1;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': {
			char *end;
			reserve = strtol(optarg, &end, 10);
			if (*end || reserve < 0) {
				fprintf(stderr, "aisio hugepages: --reserve wants a count of pages, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		}
		case 'j': json = true; break;
		case 'h': usage_hugepages(stdout); return 0;
		default: usage_hugepages(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage_hugepages(stderr);
		return 2;
	}
	int ret = 0;
	if (reserve >= 0) {
		char val[32];
		snprintf(val, sizeof(val), "%ld\n", reserve);
		int rc = attr_write("/proc/sys/vm/nr_hugepages", val);
		if (rc < 0) {
			fprintf(stderr, "aisio hugepages: writing /proc/sys/vm/nr_hugepages failed: %s%s\n",
				strerror(-rc), rc == -EACCES || rc == -EPERM ? " (needs root)" : "");
			return 1;
		}
	}
	struct huge_state h;
	if (huge_read(&h) < 0) {
		fprintf(stderr, "aisio hugepages: cannot read /proc/meminfo\n");
		return 1;
	}
	if (reserve >= 0 && h.total < reserve) {
		fprintf(stderr,
			"aisio hugepages: asked for %ld, the kernel reserved %ld (memory too fragmented or "
			"too small; reserve at boot with hugepages=%ld)\n",
			reserve, h.total, reserve);
		ret = 1;
	}
	struct rlimit rl;
	bool have_rl = getrlimit(RLIMIT_MEMLOCK, &rl) == 0;
	if (json) {
		printf("{\"page_kb\": %ld, \"total\": %ld, \"free\": %ld, \"reserved\": %ld, \"surplus\": %ld, "
		       "\"free_bytes\": %lld, \"memlock_bytes\": ",
		       h.size_kb, h.total, h.free_, h.rsvd, h.surp, (long long)h.free_ * h.size_kb * 1024);
		if (have_rl && rl.rlim_cur != RLIM_INFINITY)
			printf("%llu}\n", (unsigned long long)rl.rlim_cur);
		else
			printf("null}\n");
	} else {
		printf("hugepages of %ld kB: %ld reserved, %ld free (%ld MiB), %ld in use%s\n", h.size_kb, h.total,
		       h.free_, h.free_ * h.size_kb / 1024, h.total - h.free_,
		       h.total == 0 ? " -- aisio needs some for real "
				      "devices: aisio hugepages --reserve N"
				    : "");
		if (have_rl) {
			if (rl.rlim_cur == RLIM_INFINITY)
				printf("memlock limit: unlimited\n");
			else
				printf("memlock limit: %llu KiB%s\n", (unsigned long long)rl.rlim_cur / 1024,
				       geteuid() == 0 ? " (root: not enforced)" : "");
		}
	}
	return ret;
}
