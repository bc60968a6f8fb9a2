/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aisio perf, what its files share: perf_opts.c (verbs, options, help, opening the devices),
 * perf_run.c (run: IOPS, bandwidth, latency), perf_verify.c (verify: LBA-stamped data). The
 * cuda-run and cuda-verify verbs are gpu_cmd.c.
 */
#ifndef AISIO_TOOLS_PERF_H
#define AISIO_TOOLS_PERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bio_dev;
struct nvmed_ctrl;

#define MAX_DEVS 16
#define MAX_CPUS 256

enum pattern { PAT_READ, PAT_WRITE, PAT_RANDREAD, PAT_RANDWRITE };
extern const char *const pattern_names[];

struct perf_args {
	enum pattern pattern;
	unsigned qdepth;
	uint32_t iosize;
	double runtime;
	unsigned nqueues;
	int cpus[MAX_CPUS];
	unsigned ncpus;
	char cpus_text[256];
	uint32_t nsid;
	uint64_t offset; /* LBA */
	uint64_t size;   /* LBAs; 0 = to the end */
	uint64_t seed;
	bool json;
	bool force;
	unsigned timeout_ms;
	const char *mem; /* --mem: host (NULL), dmabuf:SOURCE or cuda */
	const char *devs[MAX_DEVS];
	unsigned ndevs;
};

/* A device of the run: any path bio opens; nvme is set for NVMe queue pairs of this process (the
 * user-space driver, homi:), which the run loop drives directly through the inline hot path. */
struct perf_dev {
	struct bio_dev *bd;
	bool nvme;
	uint32_t nsid;
	char what[32]; /* "namespace N", or "the device" for a block device or file */
	unsigned lba_shift;
	uint64_t nlba;
	uint64_t first_lba;
	uint64_t nlbas;           /* size of the range */
	uint32_t iosize;          /* bytes per I/O */
	uint32_t nlb;             /* LBAs per I/O */
	uint32_t cmds_per_io;     /* commands on the wire per I/O: the driver splits I/Os over MDTS */
	uint32_t cmd_bytes;       /* bytes per command on the wire (the last of an I/O may be shorter) */
	uint64_t slots;           /* I/O-sized slots in the range */
	struct dma_mem *data_mem; /* --mem other than host: the dma-buf the buffers lie in */
	void *cuda_mem;           /* --mem cuda: the GPU memory behind it */
};

/* Open device i for run (whole I/Os only) or verify (a short last I/O is fine).
 * iosize 0 picks 128 KiB or the device's transfer limit, whichever is smaller. */
int open_dev(const struct perf_args *a, unsigned i, bool writes, bool verify, uint32_t iosize, size_t dma_bytes,
	     struct perf_dev *d);
void close_devs(struct perf_dev *devs, unsigned n);

/* The verbs; each returns the process exit status. */
int perf_run(struct perf_args *a, int argc, char **argv);
int perf_verify(struct perf_args *a);

#endif /* AISIO_TOOLS_PERF_H */
