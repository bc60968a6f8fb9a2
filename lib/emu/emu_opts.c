/* SPDX-License-Identifier: BSD-3-Clause */
/* Parsing of the emulated controller's spec string: TYPE[:SIZE][,opt=val]... */
#include "emu_internal.h"

#include <aisio/log.h>
#include <aisio/strparse.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char emu_help_text[] =
	"Emulated NVMe controller (no hardware needed):\n"
	"  emu:null[:SIZE]      namespace that moves no data (default 1T): measures the stack's own cost\n"
	"  emu:ram[:SIZE]       namespace in memory (default 256M)\n"
	"  emu:file:PATH        namespace backed by an existing file (its size)\n"
	"  SIZE takes K, M, G, T suffixes (powers of 1024).\n"
	"Options, appended as ,name=value:\n"
	"  lba=512|4096         LBA data size (default 512)\n"
	"  ns=N                 number of identical namespaces, 1..16 (default 1)\n"
	"  mdts=N               max transfer 2^N * 4 KiB, 0 = no limit (default 5 = 128 KiB)\n"
	"  qpairs=N             I/O queue pairs granted, 1..1023 (default 64)\n"
	"  mqes=N               max queue entries, 0's based, 1..65535 (default 1023)\n"
	"  threads=N            engine threads serving I/O queues; 0 = inline: the driver's\n"
	"                       poll serves its own queue (deterministic; default: by CPU count)\n"
	"  dstrd=N              doorbell stride 2^(2+N) bytes, 0..8 (default 0)\n"
	"  to=N                 CAP.TO ready timeout in 500 ms units (default 2)\n"
	"  rdy_delay=MS         time CSTS.RDY takes to follow CC.EN (default 0)\n"
	"Fault injection:\n"
	"  err=SLBA-ELBA[:ST]   commands touching LBAs SLBA..ELBA fail with status ST\n"
	"                       (hex SCT<<8|SC, default 0x281 Unrecovered Read Error)\n"
	"  drop=SLBA-ELBA       completions for those LBAs are never posted\n"
	"  delay=SLBA-ELBA:US   completions for those LBAs are posted US microseconds late\n"
	"  fatal_after=N        controller fatal status (CSTS.CFS) after N I/O commands\n";

const char *emu_ctrl_help(void)
{
	return emu_help_text;
}

static int default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n <= 4)
		return 1;
	return n / 4 > 8 ? 8 : (int)(n / 4);
}

static int set_opt(struct emu_opts *o, const char *name, const char *val)
{
	uint64_t v = 0, a, b, x;
	if (!strcmp(name, "err")) {
		x = NVME_SC_READ_ERROR;
		if (strparse_range(val, &a, &b, &x, 1) < 0 || x == 0 || x > 0x7ff)
			return -EINVAL;
		o->err_slba = a, o->err_elba = b, o->err_status = (uint16_t)x;
		return 0;
	}
	if (!strcmp(name, "drop")) {
		if (strparse_range(val, &a, &b, NULL, 0) < 0)
			return -EINVAL;
		o->drop_slba = a, o->drop_elba = b;
		return 0;
	}
	if (!strcmp(name, "delay")) {
		x = 0;
		if (strparse_range(val, &a, &b, &x, 0) < 0 || x == 0 || x > 60000000)
			return -EINVAL;
		o->delay_slba = a, o->delay_elba = b, o->delay_us = (unsigned)x;
		return 0;
	}
	static const char *const numeric[] = {"lba", "ns", "mdts", "qpairs", "mqes", "threads",
					      "dstrd", "to", "rdy_delay", "fatal_after"};
	size_t k;
	for (k = 0; k < sizeof(numeric) / sizeof(numeric[0]) && strcmp(name, numeric[k]); k++)
		;
	if (k == sizeof(numeric) / sizeof(numeric[0]))
		return -ENOENT;
	if (strparse_u64(val, 0, UINT64_MAX, &v) < 0)
		return -EINVAL;
	if (!strcmp(name, "lba")) {
		if (v != 512 && v != 4096)
			return -EINVAL;
		o->lba_shift = v == 512 ? 9 : 12;
	} else if (!strcmp(name, "ns")) {
		if (v < 1 || v > EMU_MAX_NS)
			return -EINVAL;
		o->nr_ns = (unsigned)v;
	} else if (!strcmp(name, "mdts")) {
		if (v > 15)
			return -EINVAL;
		o->mdts = (unsigned)v;
	} else if (!strcmp(name, "qpairs")) {
		if (v < 1 || v > 1023)
			return -EINVAL;
		o->max_qpairs = (unsigned)v;
	} else if (!strcmp(name, "mqes")) {
		if (v < 1 || v > 65535)
			return -EINVAL;
		o->mqes = (unsigned)v;
	} else if (!strcmp(name, "threads")) {
		if (v > EMU_MAX_ENGINES)
			return -EINVAL;
		o->threads = (int)v;
	} else if (!strcmp(name, "dstrd")) {
		if (v > 8)
			return -EINVAL;
		o->dstrd = (unsigned)v;
	} else if (!strcmp(name, "to")) {
		if (v < 1 || v > 255)
			return -EINVAL;
		o->cap_to = (unsigned)v;
	} else if (!strcmp(name, "rdy_delay")) {
		if (v > 120000)
			return -EINVAL;
		o->rdy_delay_ms = (unsigned)v;
	} else if (!strcmp(name, "fatal_after")) {
		o->fatal_after = v;
	} else {
		return -ENOENT;
	}
	return 0;
}

int emu_opts_parse(struct emu_opts *o, const char *spec)
{
	memset(o, 0, sizeof(*o));
	o->lba_shift = 9;
	o->nr_ns = 1;
	o->mdts = 5;
	o->max_qpairs = 64;
	o->mqes = 1023;
	o->threads = -1;
	o->cap_to = 2;
	o->err_status = NVME_SC_READ_ERROR;

	char buf[512];
	if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf)) {
		aisio_log(AISIO_LOG_ERROR, "emu", "device string too long");
		return -EINVAL;
	}
	char *opts = strchr(buf, ',');
	if (opts)
		*opts++ = 0;
	char *size = strchr(buf, ':');
	if (size)
		*size++ = 0;

	if (!strcmp(buf, "null")) {
		o->ns_type = EMU_NS_NULL;
		o->ns_bytes = 1ull << 40;
	} else if (!strcmp(buf, "ram")) {
		o->ns_type = EMU_NS_RAM;
		o->ns_bytes = 256ull << 20;
	} else if (!strcmp(buf, "file")) {
		o->ns_type = EMU_NS_FILE;
		if (!size || !*size) {
			aisio_log(AISIO_LOG_ERROR, NULL, "emu:file needs a path: emu:file:/path/to/image");
			return -EINVAL;
		}
		snprintf(o->path, sizeof(o->path), "%s", size);
		struct stat st;
		if (stat(o->path, &st) < 0) {
			int err = errno;
			aisio_log(AISIO_LOG_ERROR, NULL, "emu:file:%s: %s", o->path, strerror(err));
			return -err;
		}
		o->ns_bytes = (uint64_t)st.st_size;
		size = NULL;
	} else {
		aisio_log(AISIO_LOG_ERROR, "emu", "unknown namespace type '%s' (null, ram or file)", buf);
		return -EINVAL;
	}
	if (size && strparse_size(size, &o->ns_bytes) < 0) {
		aisio_log(AISIO_LOG_ERROR, "emu", "bad size '%s' (e.g. 256M, 4G, 1T)", size);
		return -EINVAL;
	}
	while (opts && *opts) {
		char *next = strchr(opts, ',');
		if (next)
			*next++ = 0;
		char *eq = strchr(opts, '=');
		if (!eq) {
			aisio_log(AISIO_LOG_ERROR, "emu", "option '%s' needs a value (name=value)", opts);
			return -EINVAL;
		}
		*eq = 0;
		int rc = set_opt(o, opts, eq + 1);
		if (rc == -ENOENT) {
			aisio_log(AISIO_LOG_ERROR, "emu", "unknown option '%s' (see aisio perf --help)", opts);
			return -EINVAL;
		}
		if (rc < 0) {
			aisio_log(AISIO_LOG_ERROR, "emu", "bad value '%s' for option '%s' (see aisio perf --help)",
				  eq + 1, opts);
			return -EINVAL;
		}
		opts = next;
	}
	if (o->threads < 0)
		o->threads = default_threads();
	uint64_t lba = 1ull << o->lba_shift;
	if (o->ns_bytes < lba || o->ns_bytes % lba) {
		aisio_log(AISIO_LOG_ERROR, "emu",
			  "namespace size %" PRIu64 " is not a multiple of the LBA size %" PRIu64, o->ns_bytes, lba);
		return -EINVAL;
	}
	if (o->ns_type == EMU_NS_RAM && o->ns_bytes * o->nr_ns > (64ull << 30)) {
		aisio_log(AISIO_LOG_ERROR, NULL, "emu:ram namespaces are limited to 64 GiB in all");
		return -EINVAL;
	}
	return 0;
}
