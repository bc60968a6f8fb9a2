/* SPDX-License-Identifier: BSD-3-Clause */
/* bench/gpu/aisio-ablate: the names of --ablate (gpu_ablate.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gpu_ablate.h"

/* the pieces of per-command work to leave out */
static const struct {
	const char *name;
	uint32_t d, e;
} ablate_names[] = {
	{"ref", GPU_ABLATE_D_REF, 0},           {"sqe", GPU_ABLATE_D_SQE, 0},
	{"prp", GPU_ABLATE_D_PRP, 0},           {"cpl", GPU_ABLATE_D_CPL, 0},
	{"fence", GPU_ABLATE_D_FENCE, 0},       {"sqfence", GPU_ABLATE_D_SQFENCE, 0},
	{"sqhd", GPU_ABLATE_D_SQHD, 0},         {"driver", 0x3f, 0},
	{"faults", 0, GPU_ABLATE_E_FAULTS},     {"decode", 0, GPU_ABLATE_E_DECODE},
	{"serialdb", 0, GPU_ABLATE_E_SERIALDB},
};

int gpu_ablate_parse(const char *list, uint32_t *driver_bits, uint32_t *engine_bits)
{
	char buf[256];
	uint32_t d = 0, e = 0;
	snprintf(buf, sizeof(buf), "%s", list);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",+", &save); tok; tok = strtok_r(NULL, ",+", &save)) {
		size_t i;
		for (i = 0; i < sizeof(ablate_names) / sizeof(ablate_names[0]); i++)
			if (!strcmp(tok, ablate_names[i].name))
				break;
		if (i == sizeof(ablate_names) / sizeof(ablate_names[0]))
			return -EINVAL;
		d |= ablate_names[i].d;
		e |= ablate_names[i].e;
	}
	if (d)
		d |= GPU_ABLATE_D_REF; /* the pieces apply to the reference owned path */
	/* one driver piece at a time, or all of them (the instantiated variants) */
	uint32_t p = d & ~GPU_ABLATE_D_REF;
	if (p && p != 0x3f && (p & (p - 1)))
		return -EINVAL;
	*driver_bits = d;
	*engine_bits = e;
	return 0;
}
