/* SPDX-License-Identifier: BSD-3-Clause */
/* gpuemu device strings: parsing and help. Plain C, no CUDA: the unit tests use it everywhere. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <aisio/gpu.h>
#include <aisio/log.h>
#include <aisio/strparse.h>

#define GPUEMU_MAX_QUEUES_OPT 1024

/* ---- options ---- */

const char *gpu_emu_help(void)
{
	return "GPU-resident emulated controller: gpuemu:TYPE[:SIZE][,opt=val]...\n"
	       "  TYPE    null (no data moves, default 1T), hbm (namespace in GPU memory, default 256M),\n"
	       "          host (namespace in pinned host memory: data crosses PCIe, default 256M)\n"
	       "  lba=512|4096   LBA size (512)          mdts=N     2^N 4 KiB pages per command, 0 = 4 MiB (8)\n"
	       "  qpairs=N       I/O queue pairs (256)    mqes=N     0's based max queue entries (4095)\n"
	       "  dstrd=N        doorbell stride 4<<N (0) ns=1       one namespace\n"
	       "  engine=gpu|cpu|fused  who serves the I/O queues: a persistent kernel, host threads (queues\n"
	       "                 then in pinned host memory), or engine blocks inside each job's own launch\n"
	       "                 (for tools that serialize kernels, e.g. compute-sanitizer)  (gpu)\n"
	       "  sms=N          engine blocks, one per SM (8)        warps=N   warps per engine block (8)\n"
	       "  threads=N      CPU engine threads (2)\n"
	       "  err=A-B[:ST]   commands touching LBAs A..B fail with status ST, hex (281), as for emu:\n"
	       "  drop=A-B       completions of commands touching LBAs A..B never come, as for emu:\n"
	       "                 (also err_slba=A,err_elba=B,err_status=S and drop_slba=A,drop_elba=B)\n";
}

static int opt_u64(const char *v, uint64_t *out)
{
	return strparse_u64(v, 0, UINT64_MAX, out);
}

int gpu_emu_opts_parse(struct gpu_emu_opts *o, const char *spec)
{
	memset(o, 0, sizeof(*o));
	o->lba_shift = 9;
	o->mdts = 8;
	o->max_qpairs = 256;
	o->mqes = 4095;
	o->engine = GPU_ENGINE_GPU;
	o->sms = 8;
	o->warps = 8;
	o->threads = 2;
	o->err_slba = 1;
	o->err_elba = 0;
	o->err_status = NVME_SC_READ_ERROR;
	o->drop_slba = 1;
	o->drop_elba = 0;
	char buf[512];
	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	char *save = NULL;
	char *tok = strtok_r(buf, ",", &save);
	if (!tok)
		return -EINVAL;
	char *colon = strchr(tok, ':');
	if (colon)
		*colon++ = 0;
	if (!strcmp(tok, "null")) {
		o->ns_kind = GPU_NS_NULL;
		o->ns_bytes = 1ull << 40;
	} else if (!strcmp(tok, "hbm")) {
		o->ns_kind = GPU_NS_HBM;
		o->ns_bytes = 256ull << 20;
	} else if (!strcmp(tok, "host")) {
		o->ns_kind = GPU_NS_HOST;
		o->ns_bytes = 256ull << 20;
	} else {
		aisio_log(AISIO_LOG_ERROR, NULL, "gpuemu:%s: unknown namespace type '%s' (null, hbm, host)", spec, tok);
		return -EINVAL;
	}
	if (colon && strparse_size(colon, &o->ns_bytes)) {
		aisio_log(AISIO_LOG_ERROR, NULL, "gpuemu:%s: bad size '%s'", spec, colon);
		return -EINVAL;
	}
	while ((tok = strtok_r(NULL, ",", &save))) {
		char *eq = strchr(tok, '=');
		uint64_t v = 0;
		if (!eq)
			goto bad;
		*eq++ = 0;
		if (!strcmp(tok, "engine")) {
			if (!strcmp(eq, "gpu"))
				o->engine = GPU_ENGINE_GPU;
			else if (!strcmp(eq, "cpu"))
				o->engine = GPU_ENGINE_CPU;
			else if (!strcmp(eq, "fused"))
				o->engine = GPU_ENGINE_FUSED;
			else
				goto bad;
			continue;
		}
		/* fault ranges in the emulated controller's syntax (lib/emu), one parser for both */
		if (!strcmp(tok, "err")) {
			uint64_t st = NVME_SC_READ_ERROR;
			if (strparse_range(eq, &o->err_slba, &o->err_elba, &st, 1) || st == 0 || st > 0x7ff)
				goto bad;
			o->err_status = (uint16_t)st;
			continue;
		}
		if (!strcmp(tok, "drop")) {
			if (strparse_range(eq, &o->drop_slba, &o->drop_elba, NULL, 0))
				goto bad;
			continue;
		}
		if (opt_u64(eq, &v))
			goto bad;
		if (!strcmp(tok, "lba") && (v == 512 || v == 4096))
			o->lba_shift = v == 512 ? 9 : 12;
		else if (!strcmp(tok, "mdts") && v <= 10)
			o->mdts = (unsigned)v;
		else if (!strcmp(tok, "qpairs") && v >= 1 && v <= GPUEMU_MAX_QUEUES_OPT)
			o->max_qpairs = (unsigned)v;
		else if (!strcmp(tok, "mqes") && v >= 63 && v <= 65535)
			o->mqes = (unsigned)v;
		else if (!strcmp(tok, "dstrd") && v <= 8)
			o->dstrd = (unsigned)v;
		else if (!strcmp(tok, "ns") && v == 1)
			;
		else if (!strcmp(tok, "sms") && v >= 1 && v <= 1024)
			o->sms = (unsigned)v;
		else if (!strcmp(tok, "warps") && v >= 1 && v <= 32)
			o->warps = (unsigned)v;
		else if (!strcmp(tok, "threads") && v >= 1 && v <= 256)
			o->threads = (unsigned)v;
		else if (!strcmp(tok, "err_slba"))
			o->err_slba = v;
		else if (!strcmp(tok, "err_elba"))
			o->err_elba = v;
		else if (!strcmp(tok, "err_status") && v <= 0x7ff)
			o->err_status = (uint16_t)v;
		else if (!strcmp(tok, "drop_slba"))
			o->drop_slba = v;
		else if (!strcmp(tok, "drop_elba"))
			o->drop_elba = v;
		else
			goto bad;
		continue;
bad:
	aisio_log(AISIO_LOG_ERROR, NULL, "gpuemu:%s: bad option '%s%s%s' (see aisio perf cuda-run --help)", spec, tok,
		  eq ? "=" : "", eq ? eq : "");
	return -EINVAL;
	}
	if (o->ns_bytes < (1ull << o->lba_shift) || (o->ns_bytes & ((1ull << o->lba_shift) - 1))) {
		aisio_log(AISIO_LOG_ERROR, NULL, "gpuemu:%s: size must be a multiple of the LBA size", spec);
		return -EINVAL;
	}
	return 0;
}

