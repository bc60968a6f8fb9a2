/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aisio perf: the command line (verbs, options, help) and the opening of devices that run
 * and verify share, over any device string, with xnvmeperf's interface.
 */
#include "commands.h"
#include "perf.h"

#include <aisio/bio.h>
#include <aisio/dma.h>
#include <aisio/dmabuf_import.h>
#include <aisio/emu.h>
#include <aisio/nvmed.h>
#include <aisio/strparse.h>
#ifdef AISIO_HAVE_GPU
#include <aisio/gpu.h>
#endif

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const pattern_names[] = {"read", "write", "randread", "randwrite"};

static void perf_usage(FILE *f)
{
	char emu_help[4096];
	emu_opts_help(DEVSTR_EMU, emu_help, sizeof(emu_help));
	fprintf(f,
		"usage: aisio perf run|verify [options] DEVICE...\n"
		"       aisio perf cuda-run|cuda-verify [options] DEVICE...   (GPU-initiated I/O)\n"
		"\n"
		"DEVICE is a PCI function bound to vfio-pci or uio_pci_generic (0000:01:00.0), an\n"
		"emulated controller (emu:null, emu:ram:256M, emu:file:PATH, options after commas),\n"
		"both driven by the user-space driver; or a path for the kernel's I/O paths through\n"
		"io_uring: a block device (/dev/nvme0n1) or file, or an NVMe generic char device\n"
		"(/dev/ng0n1: passthrough). One run takes devices of one kind.\n"
		"\n"
		"run options:\n"
		"  --iopattern P     read | write | randread | randwrite (default randread)\n"
		"  --qdepth N        I/Os in flight per queue (default 64)\n"
		"  --iosize BYTES    bytes per I/O, a multiple of the LBA size (default 4096; K/M suffixes);\n"
		"                    the user-space driver sends an I/O over the controller's transfer limit\n"
		"                    (MDTS) as several commands, and the header says what goes on the wire\n"
		"  --runtime SEC     seconds to run (default 5)\n"
		"  --nqueues N       queue pairs per device per thread (default 1)\n"
		"  --cpumask HEX     one submitting thread per CPU in the mask\n"
		"  --cpulist LIST    same, as 0,2-5 (default: one thread, not pinned)\n"
		"  --nsid N          namespace (default 1)\n"
		"  --offset LBA      first LBA of the range (default 0)\n"
		"  --size LBAS       LBAs in the range (default: to the end of the namespace)\n"
		"  --seed N          random LBA seed (default 1)\n"
		"  --timeout-ms N    per-command timeout (default 5000)\n"
		"  --mem WHERE       data buffers in host memory (host, the default), in a dma-buf\n"
		"                    (dmabuf:SOURCE; SOURCE: an exporter's device node such as\n"
		"                    /dev/aisio-ivshmem-export, udmabuf[:SIZE] over a memfd, or fd:N, an\n"
		"                    inherited dma-buf fd) or in GPU memory (cuda: cudaMalloc exported as a\n"
		"                    dma-buf); one device. vfio maps the dma-buf's CPU mapping into its\n"
		"                    container; uio needs the aisio-dmabuf module (kmod/, docs/P2P.md)\n"
		"  --force           allow writes to a namespace that carries a file-system signature\n"
		"  --json            print one JSON object instead of the table\n"
		"verify writes LBA-stamped blocks over the range, reads them back and compares;\n"
		"  it takes --nsid --offset --size (default: whole namespace, at most 1 GiB) --iosize\n"
		"  --qdepth --seed --force --mem --json.\n"
		"\n%s",
		emu_help);
}

/* A numeric flag within [min, max], or a message naming the flag and its range. */
static int flag_u64(const char *flag, const char *val, uint64_t min, uint64_t max, uint64_t *out)
{
	if (strparse_u64(val, min, max, out) == 0)
		return 0;
	fprintf(stderr, "aisio perf: --%s must be %" PRIu64 "..%" PRIu64 ", not '%s'\n", flag, min, max, val);
	return -EINVAL;
}

static int parse_cpulist(struct perf_args *a, const char *s)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", s);
	a->ncpus = 0;
	for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
		char *end;
		long lo = strtol(tok, &end, 10), hi = lo;
		if (end == tok)
			return -EINVAL;
		if (*end == '-') {
			char *e2;
			hi = strtol(end + 1, &e2, 10);
			if (e2 == end + 1 || *e2)
				return -EINVAL;
		} else if (*end) {
			return -EINVAL;
		}
		if (lo < 0 || hi < lo || hi >= MAX_CPUS)
			return -EINVAL;
		for (long c = lo; c <= hi; c++) {
			if (a->ncpus == MAX_CPUS)
				return -EINVAL;
			a->cpus[a->ncpus++] = (int)c;
		}
	}
	snprintf(a->cpus_text, sizeof(a->cpus_text), "%s", s);
	return a->ncpus ? 0 : -EINVAL;
}

static int parse_cpumask(struct perf_args *a, const char *s)
{
	if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2))
		s += 2;
	size_t n = strlen(s);
	if (n == 0 || n > MAX_CPUS / 4)
		return -EINVAL;
	char list[1024] = "";
	a->ncpus = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[n - 1 - i];
		int v;
		if (ch >= '0' && ch <= '9')
			v = ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			v = ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			v = ch - 'A' + 10;
		else
			return -EINVAL;
		for (int b = 0; b < 4; b++)
			if (v & (1 << b)) {
				int cpu = (int)i * 4 + b;
				a->cpus[a->ncpus++] = cpu;
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%d",
					 a->ncpus > 1 ? "," : "", cpu);
			}
	}
	snprintf(a->cpus_text, sizeof(a->cpus_text), "%s", list);
	return a->ncpus ? 0 : -EINVAL;
}

static int perf_parse(struct perf_args *a, int argc, char **argv, bool verify)
{
	static const struct option opts[] = {
		{"iopattern", required_argument, 0, 'p'},
		{"qdepth", required_argument, 0, 'q'},
		{"iosize", required_argument, 0, 's'},
		{"runtime", required_argument, 0, 't'},
		{"nqueues", required_argument, 0, 'Q'},
		{"cpumask", required_argument, 0, 'm'},
		{"cpulist", required_argument, 0, 'c'},
		{"nsid", required_argument, 0, 'n'},
		{"offset", required_argument, 0, 'o'},
		{"size", required_argument, 0, 'S'},
		{"seed", required_argument, 0, 'r'},
		{"json", no_argument, 0, 'j'},
		{"force", no_argument, 0, 'f'},
		{"timeout-ms", required_argument, 0, 'T'},
		{"mem", required_argument, 0, 'M'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	memset(a, 0, sizeof(*a));
	a->pattern = PAT_RANDREAD;
	a->qdepth = verify ? 32 : 64;
	a->iosize = verify ? 0 : 4096;
	a->runtime = 5;
	a->nqueues = 1;
	a->nsid = 1;
	a->seed = 1;
	a->timeout_ms = 5000;
	optind = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		uint64_t v;
		char *end;
		switch (ch) {
		case 'p': {
			unsigned i;
			for (i = 0; i < 4 && strcmp(optarg, pattern_names[i]); i++)
				;
			if (i == 4) {
				fprintf(stderr,
					"aisio perf: --iopattern must be read, write, randread or randwrite, not '%s'\n",
					optarg);
				return -EINVAL;
			}
			a->pattern = (enum pattern)i;
			break;
		}
		case 'q':
			if (flag_u64("qdepth", optarg, 1, 65535, &v) < 0)
				return -EINVAL;
			a->qdepth = (unsigned)v;
			break;
		case 's':
			if (strparse_size(optarg, &v) < 0 || v == 0 || v > (64u << 20)) {
				fprintf(stderr, "aisio perf: --iosize must be 1 byte .. 64M, not '%s'\n", optarg);
				return -EINVAL;
			}
			a->iosize = (uint32_t)v;
			break;
		case 't':
			a->runtime = strtod(optarg, &end);
			if (*end || a->runtime <= 0 || a->runtime > 86400) {
				fprintf(stderr, "aisio perf: --runtime must be seconds > 0, not '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case 'Q':
			if (flag_u64("nqueues", optarg, 1, 1024, &v) < 0)
				return -EINVAL;
			a->nqueues = (unsigned)v;
			break;
		case 'm':
			if (parse_cpumask(a, optarg) < 0) {
				fprintf(stderr, "aisio perf: bad --cpumask '%s' (hex, e.g. 0x3)\n", optarg);
				return -EINVAL;
			}
			break;
		case 'c':
			if (parse_cpulist(a, optarg) < 0) {
				fprintf(stderr, "aisio perf: bad --cpulist '%s' (e.g. 0,2-5)\n", optarg);
				return -EINVAL;
			}
			break;
		case 'n':
			if (flag_u64("nsid", optarg, 1, 0xfffffffe, &v) < 0)
				return -EINVAL;
			a->nsid = (uint32_t)v;
			break;
		case 'o':
			if (flag_u64("offset", optarg, 0, UINT64_MAX, &a->offset) < 0)
				return -EINVAL;
			break;
		case 'S':
			if (flag_u64("size", optarg, 1, UINT64_MAX, &a->size) < 0)
				return -EINVAL;
			break;
		case 'r':
			if (flag_u64("seed", optarg, 0, UINT64_MAX, &a->seed) < 0)
				return -EINVAL;
			break;
		case 'T':
			if (flag_u64("timeout-ms", optarg, 1, 3600000, &v) < 0)
				return -EINVAL;
			a->timeout_ms = (unsigned)v;
			break;
		case 'M':
			if (strcmp(optarg, "host") && strcmp(optarg, "cuda") && strncmp(optarg, "dmabuf:", 7)) {
				fprintf(stderr, "aisio perf: --mem must be host, dmabuf:SOURCE or cuda, not '%s'\n",
					optarg);
				return -EINVAL;
			}
			a->mem = strcmp(optarg, "host") ? optarg : NULL;
			break;
		case 'j': a->json = true; break;
		case 'f': a->force = true; break;
		case 'h': perf_usage(stdout); exit(0);
		default: fprintf(stderr, "aisio perf: see aisio perf --help\n"); return -EINVAL;
		}
	}
	for (int i = optind; i < argc; i++) {
		if (a->ndevs == MAX_DEVS) {
			fprintf(stderr, "aisio perf: at most %d devices\n", MAX_DEVS);
			return -EINVAL;
		}
		a->devs[a->ndevs++] = argv[i];
	}
	if (a->mem && a->ndevs > 1) {
		fprintf(stderr, "aisio perf: --mem %s takes one device\n", a->mem);
		return -EINVAL;
	}
	if (!a->ndevs) {
		fprintf(stderr, "aisio perf: no device given (e.g. aisio perf %s emu:null)\n",
			verify ? "verify" : "run");
		return -EINVAL;
	}
	return 0;
}

/* ---- device setup shared by run and verify ---- */

/* The dma-buf fd --mem names; for cuda, GPU memory of bytes (kept in d->cuda_mem). */
static int mem_dmabuf(const struct perf_args *a, size_t bytes, struct perf_dev *d, int *fd, int *memfd)
{
	if (!strcmp(a->mem, "cuda")) {
#ifdef AISIO_HAVE_GPU
		char why[256];
		if (gpu_probe(why, sizeof(why))) {
			fprintf(stderr, "aisio perf: --mem cuda: no usable GPU: %s\n", why);
			return -ENODEV;
		}
		int rc = gpu_dmabuf_alloc(bytes, &d->cuda_mem, fd);
		if (rc < 0)
			fprintf(stderr,
				"aisio perf: --mem cuda: cannot export %zu bytes of GPU memory as a dma-buf: %s\n",
				bytes, strerror(-rc));
		return rc;
#else
		fprintf(stderr, "aisio perf: --mem cuda: this aisio was built without CUDA\n");
		return -EOPNOTSUPP;
#endif
	}
	int rc = dma_buf_open_source(a->mem + strlen("dmabuf:"), memfd);
	if (rc < 0)
		fprintf(stderr, "aisio perf: --mem %s: no dma-buf: %s\n", a->mem, strerror(-rc));
	*fd = rc;
	return rc < 0 ? rc : 0;
}

/* The DMA memory over the dma-buf --mem names, in d->data_mem. */
static int mem_open(const struct perf_args *a, size_t bytes, struct perf_dev *d)
{
	int fd, memfd = -1;
	int rc = mem_dmabuf(a, bytes, d, &fd, &memfd);
	if (rc < 0)
		return rc;
	d->data_mem = calloc(1, sizeof(*d->data_mem));
	rc = d->data_mem ? dma_mem_from_dmabuf(d->data_mem, fd, memfd) : -ENOMEM;
	close(fd); /* duplicated */
	if (memfd >= 0)
		close(memfd); /* mapped */
	if (rc == 0 && !d->data_mem->cpu_access && access(AISIO_DMABUF_DEVICE, F_OK) != 0) {
		/* say it before a device is opened: only the import can give a device this memory */
		fprintf(stderr,
			"aisio perf: --mem %s: the CPU cannot map this memory, so only a function on uio can DMA to "
			"it, through the aisio-dmabuf kernel module, and %s does not exist: the module is not loaded "
			"(build it with `make kmod`, then `insmod aisio_dmabuf.ko`; on a machine that loads no "
			"modules, this path cannot run)\n",
			a->mem, AISIO_DMABUF_DEVICE);
		dma_mem_free(d->data_mem);
		rc = -ENOENT;
	}
	if (rc < 0) {
		if (rc != -ENOENT)
			fprintf(stderr, "aisio perf: --mem %s: %s\n", a->mem, strerror(-rc));
		free(d->data_mem);
		d->data_mem = NULL;
	}
	return rc;
}

int open_dev(const struct perf_args *a, unsigned i, bool writes, bool verify, uint32_t iosize, size_t dma_bytes,
	     struct perf_dev *d)
{
	struct bio_dev_opts o = {
		.nsid = a->nsid, .dma_bytes = dma_bytes, .io_timeout_ms = a->timeout_ms, .allow_fs_writes = a->force};
	int rc = 0;
	if (a->mem) {
		rc = mem_open(a, dma_bytes, d);
		if (rc < 0)
			return rc;
		o.data_mem = d->data_mem;
	}
	rc = bio_dev_open(&d->bd, a->devs[i], &o);
	if (rc < 0 && d->data_mem) {
		dma_mem_free(d->data_mem);
		free(d->data_mem);
		d->data_mem = NULL;
	}
	if (rc < 0) {
		fprintf(stderr, "aisio perf: cannot open %s: %s\n", a->devs[i], strerror(-rc));
		return rc;
	}
	if (verify && d->data_mem && !d->data_mem->cpu_access) {
		fprintf(stderr,
			"aisio perf verify: --mem %s: the CPU cannot map this dma-buf, and verify checks the data "
			"on the CPU; perf run works without\n",
			a->mem);
		return -EOPNOTSUPP;
	}
	d->nvme = bio_dev_is_nvme(d->bd);
	d->nsid = bio_dev_nsid(d->bd);
	d->lba_shift = bio_dev_lba_shift(d->bd);
	d->nlba = bio_dev_nlba(d->bd);
	if (d->nsid)
		snprintf(d->what, sizeof(d->what), "namespace %u", d->nsid);
	else
		snprintf(d->what, sizeof(d->what), "the device");
	uint32_t lba = 1u << d->lba_shift;
	if (!iosize)
		iosize = bio_dev_max_xfer(d->bd) < (128u << 10) ? bio_dev_max_xfer(d->bd) : (128u << 10);
	d->iosize = iosize;
	if (iosize % lba) {
		fprintf(stderr, "aisio perf: --iosize %u is not a multiple of %s's LBA size %u\n", iosize, a->devs[i],
			lba);
		return -EINVAL;
	}
	uint32_t max_xfer = bio_dev_max_xfer(d->bd);
	if (iosize > max_xfer && !d->nvme) {
		fprintf(stderr,
			"aisio perf: --iosize %u exceeds %s's largest transfer of %u bytes (the kernel paths "
			"take I/Os of at most that size)\n",
			iosize, a->devs[i], max_xfer);
		return -EINVAL;
	}
	d->nlb = iosize / lba;
	d->cmd_bytes = iosize;
	d->cmds_per_io = 1;
	if (d->nvme) {
		/* the driver splits by the namespace's LBAs per command */
		uint32_t max_lbas = bio_dev_max_lbas(d->bd);
		d->cmds_per_io = (d->nlb + max_lbas - 1) / max_lbas;
		if (d->cmds_per_io > 1)
			d->cmd_bytes = max_lbas << d->lba_shift;
	}
	d->first_lba = a->offset;
	if (a->offset >= d->nlba) {
		fprintf(stderr, "aisio perf: --offset %" PRIu64 " is past the end of %s (%" PRIu64 " LBAs)\n",
			a->offset, d->what, d->nlba);
		return -EINVAL;
	}
	d->nlbas = a->size ? a->size : d->nlba - a->offset;
	if (d->nlbas > d->nlba - a->offset) {
		fprintf(stderr, "aisio perf: --offset + --size run past the end of %s (%" PRIu64 " LBAs)\n", d->what,
			d->nlba);
		return -EINVAL;
	}
	d->slots = d->nlbas / d->nlb;
	if (d->slots == 0 && !verify) {
		fprintf(stderr, "aisio perf: the LBA range is smaller than one I/O\n");
		return -EINVAL;
	}
	/* bio refuses the writes themselves; say why before any is tried */
	const char *sig = bio_dev_fs_signature(d->bd);
	if (writes && sig && !a->force) {
		fprintf(stderr, "aisio perf: %s: %s carries %s; refusing to write (--force overrides)\n", a->devs[i],
			d->what, sig);
		return -EPERM;
	}
	return 0;
}

void close_devs(struct perf_dev *devs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		bio_dev_close(devs[i].bd);
		devs[i].bd = NULL;
		if (devs[i].data_mem)
			dma_mem_free(devs[i].data_mem);
		free(devs[i].data_mem);
		devs[i].data_mem = NULL;
#ifdef AISIO_HAVE_GPU
		gpu_dmabuf_free(devs[i].cuda_mem);
		devs[i].cuda_mem = NULL;
#endif
	}
}

int cmd_perf(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		perf_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *verb = argv[1];
	if (!strcmp(verb, "cuda-run") || !strcmp(verb, "cuda-verify")) {
#ifdef AISIO_HAVE_CMD_GPU
		return cmd_perf_cuda(argc - 1, argv + 1);
#else
		fprintf(stderr, "aisio perf %s: this build has no GPU support (CUDA was not found at build time)\n",
			verb);
		return 2;
#endif
	}
	bool verify = !strcmp(verb, "verify");
	if (!verify && strcmp(verb, "run")) {
		fprintf(stderr, "aisio perf: unknown command '%s' (run, verify, cuda-run, cuda-verify)\n", verb);
		return 2;
	}
	struct perf_args a;
	if (perf_parse(&a, argc - 1, argv + 1, verify) < 0)
		return 2;
	return verify ? perf_verify(&a) : perf_run(&a, argc, argv);
}
