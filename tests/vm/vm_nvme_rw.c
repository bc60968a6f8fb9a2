/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vm-nvme-rw: move exact bytes between a file and LBAs of a namespace through the
 * user-space driver, so that a test can compare them with what the kernel sees.
 *
 *   vm-nvme-rw read  DEVICE NSID SLBA NLB FILE   NLB blocks at SLBA into FILE (appended)
 *   vm-nvme-rw write DEVICE NSID SLBA NLB FILE   NLB blocks at SLBA from FILE (must be long enough)
 *
 * One queue pair, one command in flight, transfers split at the controller's limit.
 */
#include <aisio/nvmed.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct done {
	int finished;
	int err;
	uint16_t status;
};

static void on_done(struct nvmed_qpair *qp, void *arg, int err, const struct nvme_cqe *cqe)
{
	struct done *d = arg;
	d->finished = 1;
	d->err = err;
	d->status = nvmed_cqe_status(cqe);
}

int main(int argc, char **argv)
{
	if (argc != 7 || (strcmp(argv[1], "read") && strcmp(argv[1], "write"))) {
		fprintf(stderr, "usage: vm-nvme-rw read|write DEVICE NSID SLBA NLB FILE\n");
		return 2;
	}
	bool wr = strcmp(argv[1], "write") == 0;
	const char *dev = argv[2];
	uint32_t nsid = (uint32_t)strtoul(argv[3], NULL, 0);
	uint64_t slba = strtoull(argv[4], NULL, 0), nlb = strtoull(argv[5], NULL, 0);
	FILE *f = fopen(argv[6], wr ? "rb" : "ab");
	if (!f) {
		fprintf(stderr, "vm-nvme-rw: %s: %s\n", argv[6], strerror(errno));
		return 1;
	}
	int ret = 1;
	struct nvmed_ctrl *c = NULL;
	struct nvmed_qpair *qp = NULL;
	void *buf = NULL;
	/* generous: a TCG guest on a loaded host can stall for seconds */
	struct nvmed_ctrl_opts opts = {.io_timeout_ms = 30000};
	int rc = nvmed_ctrl_open(&c, dev, &opts);
	if (rc < 0) {
		fprintf(stderr, "vm-nvme-rw: cannot open %s: %s\n", dev, strerror(-rc));
		goto out;
	}
	struct nvmed_ns ns;
	rc = nvmed_ctrl_ns(c, nsid, &ns);
	if (rc < 0) {
		fprintf(stderr, "vm-nvme-rw: %s has no namespace %u\n", dev, nsid);
		goto out;
	}
	uint32_t chunk = nvmed_ctrl_max_xfer(c) >> ns.lba_shift;
	if (ns.max_lbas && ns.max_lbas < chunk)
		chunk = ns.max_lbas;
	size_t chunk_bytes = (size_t)chunk << ns.lba_shift;
	rc = nvmed_qpair_create(c, 2, &qp);
	if (rc < 0) {
		fprintf(stderr, "vm-nvme-rw: %s: cannot create a queue pair: %s\n", dev, strerror(-rc));
		goto out;
	}
	buf = nvmed_dma_alloc(c, chunk_bytes);
	if (!buf) {
		fprintf(stderr, "vm-nvme-rw: %s: no DMA memory for %zu bytes\n", dev, chunk_bytes);
		goto out;
	}
	for (uint64_t done_lbas = 0; done_lbas < nlb;) {
		uint32_t n = nlb - done_lbas < chunk ? (uint32_t)(nlb - done_lbas) : chunk;
		size_t bytes = (size_t)n << ns.lba_shift;
		if (wr && fread(buf, 1, bytes, f) != bytes) {
			fprintf(stderr, "vm-nvme-rw: %s is shorter than %llu blocks\n", argv[6],
				(unsigned long long)nlb);
			goto out;
		}
		struct done d = {0};
		uint64_t lba = slba + done_lbas;
		rc = wr ? nvmed_qpair_write(qp, nsid, lba, n, buf, on_done, &d)
			: nvmed_qpair_read(qp, nsid, lba, n, buf, on_done, &d);
		if (rc < 0) {
			fprintf(stderr, "vm-nvme-rw: %s: submitting %s of %u blocks at %llu: %s\n", dev, argv[1], n,
				(unsigned long long)lba, strerror(-rc));
			goto out;
		}
		rc = nvmed_qpair_drain(qp, 60000);
		if (rc < 0 || !d.finished || d.err) {
			fprintf(stderr, "vm-nvme-rw: %s: %s of %u blocks at LBA %llu failed: %s%s%s\n", dev, argv[1], n,
				(unsigned long long)lba,
				strerror(-(rc < 0       ? rc
					   : d.finished ? d.err
							: -ETIMEDOUT)),
				d.status ? ", " : "", d.status ? nvmed_status_str(d.status) : "");
			goto out;
		}
		if (!wr && fwrite(buf, 1, bytes, f) != bytes) {
			fprintf(stderr, "vm-nvme-rw: writing %s: %s\n", argv[6], strerror(errno));
			goto out;
		}
		done_lbas += n;
	}
	printf("%s %llu blocks of %u bytes at LBA %llu of %s ns %u\n", wr ? "wrote" : "read", (unsigned long long)nlb,
	       1u << ns.lba_shift, (unsigned long long)slba, dev, nsid);
	ret = 0;
out:
	if (buf)
		nvmed_dma_free(c, buf);
	if (qp)
		nvmed_qpair_destroy(qp);
	nvmed_ctrl_close(c);
	if (fclose(f) && !wr)
		ret = 1;
	return ret;
}
