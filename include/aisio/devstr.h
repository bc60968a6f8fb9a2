/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device strings: one grammar for every tool and library, classified here and nowhere else.
 *
 *   0000:01:00.0, 01:00.0           a PCI function (lib/pci: vfio-pci or uio_pci_generic)
 *   emu:TYPE[:SIZE][,opt=val]...    the software controller in this process (lib/pci's emu backend)
 *   gpuemu:TYPE[:SIZE][,opt=val]... the GPU-resident emulated controller (lib/gpu)
 *   /dev/nvme0n1, /dev/ng0n1, ./f   a kernel path: block device, NVMe generic device or file (lib/kio)
 *   homi:NAME[,socket=PATH][,nsid=N] a device of the homid daemon (lib/bio over lib/homi)
 *
 * Each kind is opened by the layer that owns it; the others refuse it with devstr_refuse, which
 * names the owner. The options of emu: and gpuemu: are parsed by emu_opts_parse (emu.h), one
 * parser and one key table for both.
 *
 * Pure functions: no state, safe from any thread. Errors: negative errno and a message that
 * quotes the string.
 */
#ifndef AISIO_DEVSTR_H
#define AISIO_DEVSTR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum devstr_kind {
	DEVSTR_PCI,
	DEVSTR_EMU,
	DEVSTR_GPUEMU,
	DEVSTR_KERNEL,
	DEVSTR_HOMI,
};

#define DEVSTR_HOMI_NAME_MAX 64
#define DEVSTR_HOMI_SOCKET_MAX 108 /* sun_path */

/* A classified device string. Points into the string it was parsed from: keep that alive. */
struct devstr {
	enum devstr_kind kind;
	const char *str;   /* the whole string */
	const char *spec;  /* EMU, GPUEMU: what follows the prefix; KERNEL: the path; else NULL */
	char pci_addr[16]; /* PCI: canonical dddd:bb:dd.f */
	/* HOMI */
	char homi_name[DEVSTR_HOMI_NAME_MAX];
	char homi_socket[DEVSTR_HOMI_SOCKET_MAX]; /* "" = the daemon's default socket */
	uint32_t homi_nsid;                       /* 0 = not given (namespace 1) */
};

/* Classify s and check what belongs to no other parser (PCI address, homi: options).
 * -EINVAL with a message when s is no device string. */
int devstr_parse(struct devstr *d, const char *s);

/* "PCI function", "emu", "gpuemu", "kernel path", "homi". */
const char *devstr_kind_name(enum devstr_kind kind);

/* Parse "[dddd:]bb:dd.f" (hex; nothing else, no "0x") into the canonical "dddd:bb:dd.f" that names
 * sysfs entries and lock files. -EINVAL, no message, when it is not one. */
int devstr_pci_addr_parse(const char *s, char out[16]);

/* For a string the caller's layer (opener, e.g. "the user-space driver") does not open: say which
 * layer does and return -EINVAL. */
int devstr_refuse(const struct devstr *d, const char *opener);

#ifdef __cplusplus
}
#endif

#endif /* AISIO_DEVSTR_H */
