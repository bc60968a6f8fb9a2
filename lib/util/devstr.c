/* SPDX-License-Identifier: BSD-3-Clause */
/* Device strings: classification, PCI addresses, the homi: grammar, refusals that name the owner. */
#include <aisio/devstr.h>
#include <aisio/log.h>
#include <aisio/strparse.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* One row per kind: what it is called and which layer opens it. */
static const struct {
	const char *prefix; /* NULL: recognised by shape */
	const char *name;
	const char *what;
	const char *owner;
} devstr_kinds[] = {
	[DEVSTR_PCI] = {NULL, "PCI function", "a PCI function",
			"the user-space driver (aisio perf run|verify, id-ctrl)"},
	[DEVSTR_EMU] = {"emu:", "emu", "an emulated controller",
			"the user-space driver (aisio perf run|verify, id-ctrl)"},
	[DEVSTR_GPUEMU] = {"gpuemu:", "gpuemu", "a GPU-resident emulated controller",
			   "the GPU layer (aisio perf cuda-run|cuda-verify)"},
	[DEVSTR_KERNEL] = {NULL, "kernel path", "a kernel device or file",
			   "the kernel I/O paths (aisio perf run|verify)"},
	[DEVSTR_HOMI] = {"homi:", "homi", "a homid device",
			 "the block I/O layer through the homid daemon (aisio perf run|verify)"},
};

const char *devstr_kind_name(enum devstr_kind kind)
{
	return (unsigned)kind < sizeof(devstr_kinds) / sizeof(devstr_kinds[0]) ? devstr_kinds[kind].name : "?";
}

/* 1..max hex digits at *p, then the separator sep (0: the end of the string). */
static int bdf_field(const char **p, unsigned max, char sep, unsigned *out)
{
	unsigned v = 0, n = 0;
	for (; n < max && isxdigit((unsigned char)**p); n++, (*p)++) {
		int c = tolower((unsigned char)**p);
		v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
	}
	if (n == 0 || **p != sep)
		return -EINVAL;
	if (sep)
		(*p)++;
	*out = v;
	return 0;
}

int devstr_pci_addr_parse(const char *s, char out[16])
{
	/* strictly [dddd:]bb:dd.f in hex: the result names sysfs entries and lock files */
	unsigned dom = 0, bus, dev, fn;
	const char *p = s;
	int colons = 0;
	for (const char *c = s; *c; c++)
		colons += *c == ':';
	if (colons == 2 && bdf_field(&p, 4, ':', &dom) < 0)
		return -EINVAL;
	if ((colons != 1 && colons != 2) || bdf_field(&p, 2, ':', &bus) < 0 || bdf_field(&p, 2, '.', &dev) < 0 ||
	    bdf_field(&p, 1, 0, &fn) < 0)
		return -EINVAL;
	if (dev > 0x1f || fn > 7)
		return -EINVAL;
	snprintf(out, 16, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return 0;
}

static int homi_name_ok(const char *s, size_t len)
{
	if (len == 0 || len >= DEVSTR_HOMI_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

/* homi:NAME[,socket=PATH][,nsid=N] */
static int devstr_parse_homi(struct devstr *d, const char *rest)
{
	const char *opts = strchr(rest, ',');
	size_t nlen = opts ? (size_t)(opts - rest) : strlen(rest);
	if (!homi_name_ok(rest, nlen)) {
		aisio_log(AISIO_LOG_ERROR, "homi",
			  "bad device name '%.*s' in '%s' (1 to %d letters, digits, '.', '_', '-')", (int)nlen, rest,
			  d->str, DEVSTR_HOMI_NAME_MAX - 1);
		return -EINVAL;
	}
	memcpy(d->homi_name, rest, nlen);
	d->homi_name[nlen] = 0;
	while (opts && *opts) {
		const char *opt = opts + 1;
		const char *next = strchr(opt, ',');
		size_t olen = next ? (size_t)(next - opt) : strlen(opt);
		const char *eq = memchr(opt, '=', olen);
		size_t klen = eq ? (size_t)(eq - opt) : olen;
		char val[256];
		int is_socket = klen == 6 && !strncmp(opt, "socket", 6);
		int is_nsid = klen == 4 && !strncmp(opt, "nsid", 4);
		if (!is_socket && !is_nsid) {
			aisio_log(AISIO_LOG_ERROR, "homi", "unknown option '%.*s' (known: socket, nsid)", (int)klen,
				  opt);
			return -EINVAL;
		}
		if (!eq) {
			aisio_log(AISIO_LOG_ERROR, "homi", "option '%.*s' needs a value (%s)", (int)klen, opt,
				  is_socket ? "socket=PATH" : "nsid=N");
			return -EINVAL;
		}
		size_t vlen = olen - klen - 1;
		if (vlen >= sizeof(val))
			vlen = sizeof(val) - 1;
		memcpy(val, eq + 1, vlen);
		val[vlen] = 0;
		if (is_socket) {
			if (!vlen || vlen >= DEVSTR_HOMI_SOCKET_MAX) {
				aisio_log(AISIO_LOG_ERROR, "homi",
					  "bad value '%s' for option 'socket' (a path of 1 to %d bytes)", val,
					  DEVSTR_HOMI_SOCKET_MAX - 1);
				return -EINVAL;
			}
			memcpy(d->homi_socket, val, vlen + 1);
		} else {
			uint64_t v;
			if (strparse_u64(val, 1, 0xfffffffe, &v) < 0) {
				aisio_log(AISIO_LOG_ERROR, "homi", "bad value '%s' for option 'nsid' (1..4294967294)",
					  val);
				return -EINVAL;
			}
			d->homi_nsid = (uint32_t)v;
		}
		opts = next;
	}
	return 0;
}

int devstr_parse(struct devstr *d, const char *s)
{
	memset(d, 0, sizeof(*d));
	d->str = s;
	if (!s || !*s) {
		aisio_log(AISIO_LOG_ERROR, NULL, "no device string");
		return -EINVAL;
	}
	for (unsigned k = 0; k < sizeof(devstr_kinds) / sizeof(devstr_kinds[0]); k++) {
		const char *p = devstr_kinds[k].prefix;
		if (p && !strncmp(s, p, strlen(p))) {
			d->kind = (enum devstr_kind)k;
			d->spec = s + strlen(p);
			return d->kind == DEVSTR_HOMI ? devstr_parse_homi(d, d->spec) : 0;
		}
	}
	/* what bio has always taken for a kernel path: an absolute or explicitly relative one */
	if (s[0] == '/' || s[0] == '.') {
		d->kind = DEVSTR_KERNEL;
		d->spec = s;
		return 0;
	}
	if (devstr_pci_addr_parse(s, d->pci_addr) == 0) {
		d->kind = DEVSTR_PCI;
		return 0;
	}
	aisio_log(AISIO_LOG_ERROR, NULL,
		  "'%s' is not a device: expected a PCI address (0000:01:00.0), an emulated controller "
		  "(emu:null, emu:ram:256M, emu:file:PATH), a GPU-resident one (gpuemu:null, gpuemu:hbm:1G), a path "
		  "(/dev/nvme0n1, /dev/ng0n1, ./file) or homi:NAME",
		  s);
	return -EINVAL;
}

int devstr_refuse(const struct devstr *d, const char *opener)
{
	aisio_log(AISIO_LOG_ERROR, d->str, "%s, opened by %s, not by %s", devstr_kinds[d->kind].what,
		  devstr_kinds[d->kind].owner, opener);
	return -EINVAL;
}
