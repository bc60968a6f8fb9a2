/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helper: read LBA runs of a device through bio (any device string, homi: included) and write
 * the bytes to stdout, so a test can compare them with a file read through the kernel.
 * usage: homi-read DEVICE SLBA:NLB...
 */
#include <aisio/bio.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct done {
	int err;
};

static void cb(struct bio_queue *q, void *arg, int err, uint16_t status)
{
	((struct done *)arg)->err = err;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: homi-read DEVICE SLBA:NLB...\n");
		return 2;
	}
	struct bio_dev_opts o = {.nsid = 1, .dma_bytes = 8u << 20};
	struct bio_dev *d;
	int rc = bio_dev_open(&d, argv[1], &o);
	if (rc < 0) {
		fprintf(stderr, "homi-read: %s: %s\n", argv[1], strerror(-rc));
		return 1;
	}
	unsigned shift = bio_dev_lba_shift(d);
	uint32_t chunk = bio_dev_max_xfer(d) >> shift;
	struct bio_queue *q;
	uint8_t *buf = bio_dev_buf_alloc(d, (size_t)chunk << shift);
	rc = buf ? bio_queue_create(d, 1, &q) : -ENOMEM;
	for (int i = 2; rc == 0 && i < argc; i++) {
		uint64_t slba, nlb;
		if (sscanf(argv[i], "%" SCNu64 ":%" SCNu64, &slba, &nlb) != 2) {
			fprintf(stderr, "homi-read: '%s' is not SLBA:NLB\n", argv[i]);
			rc = -EINVAL;
			break;
		}
		while (nlb && rc == 0) {
			uint32_t n = nlb < chunk ? (uint32_t)nlb : chunk;
			struct done dn = {0};
			rc = bio_queue_rw(q, false, slba, n, buf, cb, &dn);
			if (rc == 0)
				rc = bio_queue_drain(q, 10000);
			if (rc == 0)
				rc = dn.err;
			if (rc == 0 && fwrite(buf, 1, (size_t)n << shift, stdout) != (size_t)n << shift)
				rc = -EIO;
			slba += n;
			nlb -= n;
		}
	}
	if (rc < 0)
		fprintf(stderr, "homi-read: %s\n", strerror(-rc));
	if (buf)
		bio_queue_destroy(q);
	bio_dev_buf_free(d, buf);
	bio_dev_close(d);
	return rc < 0;
}
