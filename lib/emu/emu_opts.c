/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The option parser of both emulated controllers, emu: (this layer) and gpuemu: (lib/gpu):
 * TYPE[:SIZE][,opt=val]... One table of keys gives every key's name, the models that take it, its
 * range per model, its default and its help; parsing, defaults, error messages and --help all come
 * from it, so the two models cannot drift apart.
 */
#include "emu_internal.h"

#include <aisio/log.h>
#include <aisio/strparse.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FOR_EMU 1u
#define FOR_GPUEMU 2u
#define FOR_BOTH (FOR_EMU | FOR_GPUEMU)
#define EMU_AUTO UINT64_MAX /* default chosen at parse time */

static unsigned kind_bit(enum devstr_kind kind)
{
	return kind == DEVSTR_GPUEMU ? FOR_GPUEMU : FOR_EMU;
}

/* ---- namespace types ---- */

static const struct {
	unsigned kinds;
	const char *name;
	int type;
	uint64_t bytes; /* default size; 0: the file's */
	const char *help;
} emu_ns_types[] = {
	{FOR_BOTH, "null", EMU_NS_NULL, 1ull << 40,
	 "namespace that moves no data (default 1T): measures the stack's own cost"},
	{FOR_EMU, "ram", EMU_NS_RAM, 256ull << 20, "namespace in memory (default 256M)"},
	{FOR_EMU, "file", EMU_NS_FILE, 0, "namespace backed by an existing file (its size)"},
	{FOR_GPUEMU, "hbm", EMU_NS_HBM, 256ull << 20, "namespace in GPU memory (default 256M)"},
	{FOR_GPUEMU, "host", EMU_NS_HOST, 256ull << 20,
	 "namespace in pinned host memory: data crosses PCIe as from an SSD (default 256M)"},
};
#define EMU_NS_TYPES (sizeof(emu_ns_types) / sizeof(emu_ns_types[0]))

/* ---- keys ---- */

enum emu_key_id {
	KEY_LBA,
	KEY_NS,
	KEY_MDTS,
	KEY_QPAIRS,
	KEY_MQES,
	KEY_THREADS,
	KEY_DSTRD,
	KEY_TO,
	KEY_RDY_DELAY,
	KEY_ERR,
	KEY_DROP,
	KEY_DELAY,
	KEY_FATAL_AFTER,
	KEY_ENGINE,
	KEY_SMS,
	KEY_WARPS,
	KEY_FILE,
	KEY_COUNT
};

struct emu_key {
	const char *name;
	unsigned kinds;
	const char *syntax;        /* the value, as help and errors write it */
	uint64_t min, max;         /* numbers: emu:'s range ... */
	uint64_t gpu_min, gpu_max; /* ... and gpuemu:'s */
	uint64_t def;              /* the default of both models (EMU_AUTO: chosen at parse) */
	const char *def_text;      /* the default as help says it, where not the number */
	const char *help;
	const char *gpu_help; /* gpuemu's help where it differs from emu's */
};

/*
 * The defaults are emu:'s for both models: gpuemu: needs none of its own for performance. Its
 * benchmarks pass what they measure explicitly (bench/gpu: qpairs=1024 for up to 528 queues,
 * mdts=8 for 1 MiB commands); its depth (2 x commands in flight per queue, 256 at most there) fits
 * MQES 1023.
 */
static const struct emu_key emu_keys[KEY_COUNT] = {
	[KEY_LBA] = {"lba", FOR_BOTH, "512|4096", 0, 0, 0, 0, 512, NULL, "LBA data size", NULL},
	[KEY_NS] = {"ns", FOR_BOTH, "N", 1, EMU_MAX_NS, 1, 1, 1, NULL, "number of identical namespaces", NULL},
	/* gpuemu: the engine walks at most 4 MiB per command (GPUEMU_MAX_XFER; chained PRP lists from 2 MiB on) */
	[KEY_MDTS] = {"mdts", FOR_BOTH, "N", 0, 15, 0, 10, 5, "5 = 128 KiB", "max transfer 2^N x 4 KiB, 0 = no limit",
		      "max transfer 2^N x 4 KiB, 0 = 4 MiB"},
	[KEY_QPAIRS] = {"qpairs", FOR_BOTH, "N", 1, EMU_MAX_QPAIRS, 1, EMU_MAX_QPAIRS, 64, NULL,
			"I/O queue pairs granted", NULL},
	/* gpuemu: a GPU queue holds a whole warp's round (32) in depth - 1 entries, depth a power of two */
	[KEY_MQES] = {"mqes", FOR_BOTH, "N", 1, 65535, 63, 65535, 1023, NULL, "max queue entries, 0's based", NULL},
	[KEY_THREADS] = {"threads", FOR_BOTH, "N", 0, EMU_MAX_ENGINES, 1, EMU_MAX_ENGINES, EMU_AUTO, "by CPU count",
			 "engine threads serving I/O queues; 0 = inline: the driver's\n"
			 "poll serves its own queue (deterministic)",
			 "CPU engine threads (engine=cpu)"},
	[KEY_DSTRD] = {"dstrd", FOR_BOTH, "N", 0, 12, 0, 8, 0, NULL,
		       "doorbell stride 2^(2+N) bytes (10: a page per doorbell, each queue's own)", NULL},
	[KEY_TO] = {"to", FOR_EMU, "N", 1, 255, 0, 0, 2, NULL, "CAP.TO ready timeout in 500 ms units", NULL},
	[KEY_RDY_DELAY] = {"rdy_delay", FOR_EMU, "MS", 0, 120000, 0, 0, 0, NULL, "time CSTS.RDY takes to follow CC.EN",
			   NULL},
	[KEY_ERR] = {"err", FOR_BOTH, "SLBA-ELBA[:ST]", 0, 0, 0, 0, 0, NULL,
		     "commands touching LBAs SLBA..ELBA fail with status ST\n"
		     "(hex SCT<<8|SC, default 0x281 Unrecovered Read Error)",
		     NULL},
	[KEY_DROP] = {"drop", FOR_BOTH, "SLBA-ELBA", 0, 0, 0, 0, 0, NULL, "completions for those LBAs are never posted",
		      NULL},
	[KEY_DELAY] = {"delay", FOR_EMU, "SLBA-ELBA:US", 0, 0, 0, 0, 0, NULL,
		       "completions for those LBAs are posted US microseconds late", NULL},
	[KEY_FATAL_AFTER] = {"fatal_after", FOR_EMU, "N", 0, UINT64_MAX, 0, 0, 0, "0 = never",
			     "controller fatal status (CSTS.CFS) after N I/O commands", NULL},
	[KEY_ENGINE] = {"engine", FOR_GPUEMU, "gpu|cpu|fused", 0, 0, 0, 0, EMU_ENGINE_GPU, "gpu",
			"who serves the I/O queues: a persistent kernel, host threads\n"
			"(queues then in pinned host memory), or engine blocks inside each job's\n"
			"own launch (for tools that serialize kernels, e.g. compute-sanitizer)",
			NULL},
	[KEY_SMS] = {"sms", FOR_GPUEMU, "N", 0, 0, 1, 1024, 8, NULL, "engine blocks, one per SM", NULL},
	[KEY_WARPS] = {"warps", FOR_GPUEMU, "N", 0, 0, 1, 32, 8, NULL, "warps per engine block", NULL},
	[KEY_FILE] = {"file", FOR_GPUEMU, "PATH", 0, 0, 0, 0, 0, "none",
		      "hbm or host namespace loaded from this image file at open (size: the\n"
		      "file's, rounded up to an LBA, unless SIZE is given); writes stay in memory",
		      NULL},
};

static const char *const emu_engine_names[] = {
	[EMU_ENGINE_GPU] = "gpu", [EMU_ENGINE_CPU] = "cpu", [EMU_ENGINE_FUSED] = "fused"};

static int default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n <= 4)
		return 1;
	return n / 4 > 8 ? 8 : (int)(n / 4);
}

static void key_range(const struct emu_key *k, enum devstr_kind kind, uint64_t *min, uint64_t *max)
{
	*min = kind == DEVSTR_GPUEMU ? k->gpu_min : k->min;
	*max = kind == DEVSTR_GPUEMU ? k->gpu_max : k->max;
}

static int key_is_number(enum emu_key_id id)
{
	return id != KEY_LBA && id != KEY_ERR && id != KEY_DROP && id != KEY_DELAY && id != KEY_ENGINE &&
	       id != KEY_FILE;
}

static void key_set(struct emu_opts *o, enum emu_key_id id, uint64_t v)
{
	switch (id) {
	case KEY_LBA: o->lba_shift = v == 4096 ? 12 : 9; break;
	case KEY_NS: o->nr_ns = (unsigned)v; break;
	case KEY_MDTS: o->mdts = (unsigned)v; break;
	case KEY_QPAIRS: o->max_qpairs = (unsigned)v; break;
	case KEY_MQES: o->mqes = (unsigned)v; break;
	case KEY_THREADS: o->threads = v == EMU_AUTO ? -1 : (int)v; break;
	case KEY_DSTRD: o->dstrd = (unsigned)v; break;
	case KEY_TO: o->cap_to = (unsigned)v; break;
	case KEY_RDY_DELAY: o->rdy_delay_ms = (unsigned)v; break;
	case KEY_FATAL_AFTER: o->fatal_after = v; break;
	case KEY_ENGINE: o->engine = (int)v; break;
	case KEY_SMS: o->sms = (unsigned)v; break;
	case KEY_WARPS: o->warps = (unsigned)v; break;
	case KEY_ERR: o->err_slba = 1, o->err_elba = 0, o->err_status = NVME_SC_READ_ERROR; break;
	case KEY_DROP: o->drop_slba = 1, o->drop_elba = 0; break;
	case KEY_DELAY: o->delay_slba = 1, o->delay_elba = 0, o->delay_us = 0; break;
	case KEY_FILE: o->path[0] = 0; break;
	case KEY_COUNT: break;
	}
}

/* A value for key id: 0, or -EINVAL when it is not one (the caller says so). */
static int key_parse(struct emu_opts *o, enum devstr_kind kind, enum emu_key_id id, const char *val)
{
	uint64_t v, a, b, x;
	switch (id) {
	case KEY_LBA:
		if (strparse_u64(val, 0, UINT64_MAX, &v) < 0 || (v != 512 && v != 4096))
			return -EINVAL;
		break;
	case KEY_ERR:
		x = NVME_SC_READ_ERROR;
		if (strparse_range(val, &a, &b, &x, 1) < 0 || x == 0 || x > 0x7ff)
			return -EINVAL;
		o->err_slba = a, o->err_elba = b, o->err_status = (uint16_t)x;
		return 0;
	case KEY_DROP:
		if (strparse_range(val, &a, &b, NULL, 0) < 0)
			return -EINVAL;
		o->drop_slba = a, o->drop_elba = b;
		return 0;
	case KEY_DELAY:
		x = 0;
		if (strparse_range(val, &a, &b, &x, 0) < 0 || x == 0 || x > 60000000)
			return -EINVAL;
		o->delay_slba = a, o->delay_elba = b, o->delay_us = (unsigned)x;
		return 0;
	case KEY_FILE:
		if (!*val || strlen(val) >= sizeof(o->path))
			return -EINVAL;
		snprintf(o->path, sizeof(o->path), "%s", val);
		return 0;
	case KEY_ENGINE:
		for (v = 0; v < sizeof(emu_engine_names) / sizeof(emu_engine_names[0]); v++)
			if (!strcmp(val, emu_engine_names[v]))
				break;
		if (v == sizeof(emu_engine_names) / sizeof(emu_engine_names[0]))
			return -EINVAL;
		break;
	default: {
		uint64_t min, max;
		key_range(&emu_keys[id], kind, &min, &max);
		if (strparse_u64(val, min, max, &v) < 0)
			return -EINVAL;
		break;
	}
	}
	key_set(o, id, v);
	return 0;
}

/* "lba, ns, mdts, ..." for a kind. */
static void known_keys(enum devstr_kind kind, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = 0;
	for (unsigned i = 0; i < KEY_COUNT && n < len; i++)
		if (emu_keys[i].kinds & kind_bit(kind))
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", emu_keys[i].name);
}

static void known_types(enum devstr_kind kind, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = 0;
	for (unsigned i = 0; i < EMU_NS_TYPES && n < len; i++)
		if (emu_ns_types[i].kinds & kind_bit(kind))
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", emu_ns_types[i].name);
}

/* What a value of key id must be, for an error message: "0..15" or its syntax. */
static void key_expect(enum devstr_kind kind, enum emu_key_id id, char *buf, size_t len)
{
	uint64_t min, max;
	key_range(&emu_keys[id], kind, &min, &max);
	if (key_is_number(id))
		snprintf(buf, len, "%" PRIu64 "..%" PRIu64, min, max);
	else
		snprintf(buf, len, "%s", emu_keys[id].syntax);
}

static void emu_opts_defaults(struct emu_opts *o, enum devstr_kind kind)
{
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	for (unsigned i = 0; i < KEY_COUNT; i++)
		key_set(o, (enum emu_key_id)i, emu_keys[i].def);
}

int emu_opts_parse(struct emu_opts *o, enum devstr_kind kind, const char *spec)
{
	const char *kn = devstr_kind_name(kind);
	char list[256];
	if (kind != DEVSTR_EMU && kind != DEVSTR_GPUEMU) {
		aisio_log(AISIO_LOG_ERROR, NULL, "emu_opts_parse: %s is not an emulated controller", kn);
		return -EINVAL;
	}
	emu_opts_defaults(o, kind);

	char buf[512];
	if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf)) {
		aisio_log(AISIO_LOG_ERROR, kn, "device string too long");
		return -EINVAL;
	}
	char *opts = strchr(buf, ',');
	if (opts)
		*opts++ = 0;
	char *size = strchr(buf, ':');
	if (size)
		*size++ = 0;

	unsigned t;
	for (t = 0; t < EMU_NS_TYPES; t++)
		if ((emu_ns_types[t].kinds & kind_bit(kind)) && !strcmp(buf, emu_ns_types[t].name))
			break;
	if (t == EMU_NS_TYPES) {
		known_types(kind, list, sizeof(list));
		aisio_log(AISIO_LOG_ERROR, kn, "unknown namespace type '%s' (%s)", buf, list);
		return -EINVAL;
	}
	o->ns_type = emu_ns_types[t].type;
	o->ns_bytes = emu_ns_types[t].bytes;
	if (o->ns_type == EMU_NS_FILE) {
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
	}
	if (size && strparse_size(size, &o->ns_bytes) < 0) {
		aisio_log(AISIO_LOG_ERROR, kn, "bad size '%s' (e.g. 256M, 4G, 1T)", size);
		return -EINVAL;
	}
	while (opts && *opts) {
		char *next = strchr(opts, ',');
		if (next)
			*next++ = 0;
		char *eq = strchr(opts, '=');
		if (eq)
			*eq = 0;
		unsigned k;
		for (k = 0; k < KEY_COUNT; k++)
			if ((emu_keys[k].kinds & kind_bit(kind)) && !strcmp(opts, emu_keys[k].name))
				break;
		if (k == KEY_COUNT) {
			known_keys(kind, list, sizeof(list));
			aisio_log(AISIO_LOG_ERROR, kn, "unknown option '%s' (known: %s)", opts, list);
			return -EINVAL;
		}
		if (!eq) {
			aisio_log(AISIO_LOG_ERROR, kn, "option '%s' needs a value (%s=%s)", opts, opts,
				  emu_keys[k].syntax);
			return -EINVAL;
		}
		if (key_parse(o, kind, (enum emu_key_id)k, eq + 1) < 0) {
			key_expect(kind, (enum emu_key_id)k, list, sizeof(list));
			aisio_log(AISIO_LOG_ERROR, kn, "bad value '%s' for option '%s' (%s)", eq + 1, opts, list);
			return -EINVAL;
		}
		opts = next;
	}
	if (o->threads < 0)
		o->threads = default_threads();
	uint64_t lba = 1ull << o->lba_shift;
	if (kind == DEVSTR_GPUEMU && o->path[0]) {
		/* an image behind a GPU-side namespace: its size unless SIZE asks for more room */
		if (o->ns_type != EMU_NS_HBM && o->ns_type != EMU_NS_HOST) {
			aisio_log(AISIO_LOG_ERROR, kn, "file= loads an hbm or host namespace, not a null one");
			return -EINVAL;
		}
		struct stat st;
		if (stat(o->path, &st) < 0) {
			int err = errno;
			aisio_log(AISIO_LOG_ERROR, kn, "file=%s: %s", o->path, strerror(err));
			return -err;
		}
		if (!S_ISREG(st.st_mode) || st.st_size == 0) {
			aisio_log(AISIO_LOG_ERROR, kn, "file=%s: not a regular file with data", o->path);
			return -EINVAL;
		}
		uint64_t need = ((uint64_t)st.st_size + lba - 1) / lba * lba;
		if (!size || !*size) {
			o->ns_bytes = need;
		} else if (o->ns_bytes < (uint64_t)st.st_size) {
			aisio_log(AISIO_LOG_ERROR, kn,
				  "file=%s holds %lld bytes, more than the namespace size %" PRIu64, o->path,
				  (long long)st.st_size, o->ns_bytes);
			return -EINVAL;
		}
	}
	if (o->ns_bytes < lba || o->ns_bytes % lba) {
		aisio_log(AISIO_LOG_ERROR, kn, "namespace size %" PRIu64 " is not a multiple of the LBA size %" PRIu64,
			  o->ns_bytes, lba);
		return -EINVAL;
	}
	if (o->ns_type == EMU_NS_RAM && o->ns_bytes * o->nr_ns > (64ull << 30)) {
		aisio_log(AISIO_LOG_ERROR, NULL, "emu:ram namespaces are limited to 64 GiB in all");
		return -EINVAL;
	}
	if (o->engine == EMU_ENGINE_CPU && o->ns_type == EMU_NS_HBM) {
		aisio_log(AISIO_LOG_ERROR, "gpuemu",
			  "engine=cpu serves host memory only: use gpuemu:host or gpuemu:null");
		return -EINVAL;
	}
	return 0;
}

/* ---- help ---- */

struct help_buf {
	char *buf;
	size_t len, n;
};

static void help_add(struct help_buf *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void help_add(struct help_buf *h, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(h->n < h->len ? h->buf + h->n : NULL, h->n < h->len ? h->len - h->n : 0, fmt, ap);
	va_end(ap);
	if (r > 0)
		h->n += (size_t)r;
}

/* One entry: the name column, then the text, its later lines indented under the first. */
static void help_entry(struct help_buf *h, const char *name, const char *text, const char *tail)
{
	help_add(h, "  %-20s ", name);
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		help_add(h, "%.*s", (int)n, p);
		if (!nl)
			break;
		help_add(h, "\n  %-20s ", "");
		p = nl + 1;
	}
	help_add(h, "%s\n", tail);
}

size_t emu_opts_help(enum devstr_kind kind, char *buf, size_t len)
{
	struct help_buf h = {buf, len, 0};
	const char *kn = devstr_kind_name(kind);
	if (len)
		buf[0] = 0;
	help_add(&h, kind == DEVSTR_GPUEMU ? "GPU-resident emulated NVMe controller (a GPU, no SSD needed):\n"
					   : "Emulated NVMe controller (no hardware needed):\n");
	for (unsigned t = 0; t < EMU_NS_TYPES; t++) {
		if (!(emu_ns_types[t].kinds & kind_bit(kind)))
			continue;
		char name[64];
		snprintf(name, sizeof(name), "%s:%s%s", kn, emu_ns_types[t].name,
			 emu_ns_types[t].type == EMU_NS_FILE ? ":PATH" : "[:SIZE]");
		help_entry(&h, name, emu_ns_types[t].help, "");
	}
	help_add(&h, "  SIZE takes K, M, G, T suffixes (powers of 1024).\nOptions, appended as ,name=value:\n");
	for (unsigned i = 0; i < KEY_COUNT; i++) {
		const struct emu_key *k = &emu_keys[i];
		if (!(k->kinds & kind_bit(kind)))
			continue;
		char name[64], def[32], tail[96] = "";
		uint64_t min, max;
		snprintf(name, sizeof(name), "%s=%s", k->name, k->syntax);
		if (k->def_text)
			snprintf(def, sizeof(def), "%s", k->def_text);
		else
			snprintf(def, sizeof(def), "%" PRIu64, k->def);
		key_range(k, kind, &min, &max);
		if (key_is_number((enum emu_key_id)i) && min == max)
			snprintf(tail, sizeof(tail), " (always %" PRIu64 ")", min);
		else if (key_is_number((enum emu_key_id)i) && max != UINT64_MAX)
			snprintf(tail, sizeof(tail), ", %" PRIu64 "..%" PRIu64 " (default %s)", min, max, def);
		else if (key_is_number((enum emu_key_id)i) || i == KEY_LBA || i == KEY_ENGINE)
			snprintf(tail, sizeof(tail), " (default %s)", def);
		const char *text = kind == DEVSTR_GPUEMU && k->gpu_help ? k->gpu_help : k->help;
		help_entry(&h, name, text, tail);
	}
	return h.n;
}
