/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vm-kio-status: the kernel I/O paths (kio.h) in the QEMU guest, command by command:
 * exact bytes between a file and LBAs through io_uring (/dev/nvmeXnY) or NVMe
 * passthrough (/dev/ngXnY), and NVMe error statuses reaching the caller.
 *
 *   vm-kio-status read  DEV SLBA NLB FILE [fixed[=BYTES]]   NLB blocks at SLBA into FILE (appended)
 *   vm-kio-status write DEV SLBA NLB FILE [fixed[=BYTES]]   NLB blocks at SLBA from FILE
 *                                           fixed: the I/O buffer is registered with the ring
 *                                           (READ_FIXED/WRITE_FIXED, IORING_URING_CMD_FIXED);
 *                                           =BYTES: it is the start of a registered region of
 *                                           BYTES (a larger region, as aisio perf registers)
 *   vm-kio-status errors DEV                on /dev/ngXnY: raw commands the device fails
 *                                           (an invalid opcode, a read past the last LBA)
 *                                           must complete with -EIO and their NVMe status;
 *                                           a read past the end through kio_queue_rw is
 *                                           refused with -ERANGE before submission
 *
 * One queue, one command in flight, transfers split at 256 KiB or the device's limit if lower:
 * a passthrough command is never split by the kernel, and 6.1 refuses one whose pages, unless
 * physically contiguous, outnumber the queue's max_segments (127 pages for QEMU's controller,
 * below its 512 KiB max_hw_sectors_kb).
 */
#include <aisio/kio.h>
#include <aisio/nvmed.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 60000 /* a TCG guest on a loaded host can stall for seconds */

struct done {
	int finished;
	int err;
	uint16_t status;
};

static void on_done(struct kio_queue *q, void *arg, int err, uint16_t nvme_status)
{
	(void)q;
	struct done *d = arg;
	d->finished = 1;
	d->err = err;
	d->status = nvme_status;
}

/* Submit what is queued and wait for its one completion. */
static int complete_one(struct kio_queue *q, struct done *d)
{
	int rc = kio_queue_wait(q, 1, WAIT_MS);
	if (rc < 0)
		return rc;
	return d->finished ? 0 : -ETIMEDOUT;
}

static int cmd_rw(bool wr, const char *path, uint64_t slba, uint64_t nlb, const char *file, bool fixed, size_t region)
{
	FILE *f = fopen(file, wr ? "rb" : "ab");
	if (!f) {
		fprintf(stderr, "vm-kio-status: %s: %s\n", file, strerror(errno));
		return 1;
	}
	int ret = 1;
	struct kio_dev *d = NULL;
	struct kio_queue *q = NULL;
	void *buf = NULL;
	int rc = kio_dev_open(&d, path, NULL);
	if (rc < 0) {
		fprintf(stderr, "vm-kio-status: cannot open %s: %s\n", path, strerror(-rc));
		goto out;
	}
	unsigned shift = kio_dev_lba_shift(d);
	uint32_t max_xfer = kio_dev_max_xfer(d) < (256u << 10) ? kio_dev_max_xfer(d) : 256u << 10;
	uint32_t chunk = max_xfer >> shift;
	if (nlb < chunk)
		chunk = (uint32_t)nlb;
	size_t chunk_bytes = (size_t)chunk << shift;
	rc = kio_queue_create(d, 2, &q);
	if (rc < 0) {
		fprintf(stderr, "vm-kio-status: %s: cannot create a queue: %s\n", path, strerror(-rc));
		goto out;
	}
	if (region < chunk_bytes)
		region = chunk_bytes;
	if (posix_memalign(&buf, 4096, region)) {
		buf = NULL;
		fprintf(stderr, "vm-kio-status: no memory for %zu bytes\n", region);
		goto out;
	}
	if (fixed && (rc = kio_queue_register_buffer(q, buf, region)) < 0) {
		fprintf(stderr, "vm-kio-status: %s: cannot register the buffer: %s\n", path, strerror(-rc));
		goto out;
	}
	for (uint64_t done_lbas = 0; done_lbas < nlb;) {
		uint32_t n = nlb - done_lbas < chunk ? (uint32_t)(nlb - done_lbas) : chunk;
		size_t bytes = (size_t)n << shift;
		if (wr && fread(buf, 1, bytes, f) != bytes) {
			fprintf(stderr, "vm-kio-status: %s is shorter than %llu blocks\n", file,
				(unsigned long long)nlb);
			goto out;
		}
		struct done dn = {0};
		uint64_t lba = slba + done_lbas;
		rc = kio_queue_rw(q, wr, lba, n, buf, on_done, &dn);
		if (rc == 0)
			rc = complete_one(q, &dn);
		if (rc < 0 || dn.err) {
			fprintf(stderr, "vm-kio-status: %s: %s of %u blocks at LBA %llu failed: %s%s%s\n", path,
				wr ? "write" : "read", n, (unsigned long long)lba, strerror(-(rc < 0 ? rc : dn.err)),
				dn.status ? ", " : "", dn.status ? nvmed_status_str(dn.status) : "");
			goto out;
		}
		if (!wr && fwrite(buf, 1, bytes, f) != bytes) {
			fprintf(stderr, "vm-kio-status: writing %s: %s\n", file, strerror(errno));
			goto out;
		}
		done_lbas += n;
	}
	struct kio_queue_stats st;
	kio_queue_stats(q, &st);
	printf("%s %llu blocks of %u bytes at LBA %llu of %s (%s), %llu of %llu commands on a registered buffer\n",
	       wr ? "wrote" : "read", (unsigned long long)nlb, 1u << shift, (unsigned long long)slba, path,
	       kio_dev_backend(d), (unsigned long long)st.fixed_ios, (unsigned long long)st.completed);
	ret = 0;
out:
	free(buf);
	if (q)
		kio_queue_destroy(q);
	if (d)
		kio_dev_close(d);
	if (fclose(f) && !wr)
		ret = 1;
	return ret;
}

/* One raw command; prints what came back and whether it is the expected status. */
static int raw_expect(struct kio_queue *q, const char *what, uint8_t opcode, const uint32_t cdw[6], void *buf,
		      uint32_t len, uint16_t want)
{
	struct done dn = {0};
	int rc = kio_queue_nvme_cmd(q, opcode, cdw, buf, len, on_done, &dn);
	if (rc == 0)
		rc = complete_one(q, &dn);
	if (rc < 0) {
		printf("%s: not completed: %s\n", what, strerror(-rc));
		return 1;
	}
	bool ok = dn.err == -EIO && dn.status == want;
	printf("%s: err %d (%s), nvme_status 0x%03x (%s): %s\n", what, dn.err, strerror(-dn.err), dn.status,
	       nvmed_status_str(dn.status), ok ? "as expected" : "UNEXPECTED");
	if (!ok)
		printf("%s: expected -EIO with nvme_status 0x%03x (%s)\n", what, want, nvmed_status_str(want));
	return ok ? 0 : 1;
}

static int cmd_errors(const char *path)
{
	struct kio_dev *d = NULL;
	struct kio_queue *q = NULL;
	void *buf = NULL;
	int bad = 1;
	int rc = kio_dev_open(&d, path, NULL);
	if (rc < 0) {
		fprintf(stderr, "vm-kio-status: cannot open %s: %s\n", path, strerror(-rc));
		return 1;
	}
	if (kio_dev_kind(d) != KIO_DEV_NVME_CHAR) {
		fprintf(stderr, "vm-kio-status: %s is not an NVMe generic char device (backend %s)\n", path,
			kio_dev_backend(d));
		goto out;
	}
	unsigned shift = kio_dev_lba_shift(d);
	uint64_t nlba = kio_dev_nlba(d);
	printf("%s: backend %s, nsid %u, %llu LBAs of %u bytes\n", path, kio_dev_backend(d), kio_dev_nsid(d),
	       (unsigned long long)nlba, 1u << shift);
	rc = kio_queue_create(d, 2, &q);
	if (rc < 0) {
		fprintf(stderr, "vm-kio-status: %s: cannot create a queue: %s\n", path, strerror(-rc));
		goto out;
	}
	if (posix_memalign(&buf, 4096, 4096)) {
		buf = NULL;
		goto out;
	}
	bad = 0;

	/* Refused before submission: nothing reaches the device. */
	struct done dn = {0};
	rc = kio_queue_rw(q, false, nlba, 1, buf, on_done, &dn);
	printf("kio_queue_rw read at LBA %llu (the end): %d (%s): %s\n", (unsigned long long)nlba, rc, strerror(-rc),
	       rc == -ERANGE ? "as expected" : "UNEXPECTED, expected -ERANGE");
	bad |= rc != -ERANGE;
	if (rc == 0) /* do not leave it queued */
		complete_one(q, &dn);

	/* Generic status 0x01 Invalid Command Opcode: 0x7c is no NVM command (no data). */
	uint32_t none[6] = {0};
	bad |= raw_expect(q, "raw opcode 0x7c", 0x7c, none, NULL, 0, 0x001);

	/* Generic status 0x80 LBA Out of Range: a one-block Read (0x02) at the first LBA past the end. */
	uint32_t past[6] = {(uint32_t)nlba, (uint32_t)(nlba >> 32), 0, 0, 0, 0};
	bad |= raw_expect(q, "raw read at the end", 0x02, past, buf, 1u << shift, 0x080);

	/* The queue still works after the errors: the last LBA reads back. */
	uint32_t last[6] = {(uint32_t)(nlba - 1), (uint32_t)((nlba - 1) >> 32), 0, 0, 0, 0};
	dn = (struct done){0};
	rc = kio_queue_nvme_cmd(q, 0x02, last, buf, 1u << shift, on_done, &dn);
	if (rc == 0)
		rc = complete_one(q, &dn);
	printf("raw read of the last LBA: %d, err %d, nvme_status 0x%03x: %s\n", rc, dn.err, dn.status,
	       rc == 0 && dn.err == 0 ? "as expected" : "UNEXPECTED");
	bad |= rc != 0 || dn.err != 0;
	struct kio_queue_stats st;
	kio_queue_stats(q, &st);
	printf("queue: %llu completed, %llu errors\n", (unsigned long long)st.completed, (unsigned long long)st.errors);
out:
	free(buf);
	if (q)
		kio_queue_destroy(q);
	kio_dev_close(d);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "errors") == 0)
		return cmd_errors(argv[2]);
	bool fixed = argc == 7 && (strcmp(argv[6], "fixed") == 0 || strncmp(argv[6], "fixed=", 6) == 0);
	if ((argc == 6 || fixed) && (strcmp(argv[1], "read") == 0 || strcmp(argv[1], "write") == 0))
		return cmd_rw(strcmp(argv[1], "write") == 0, argv[2], strtoull(argv[3], NULL, 0),
			      strtoull(argv[4], NULL, 0), argv[5], fixed,
			      fixed && argv[6][5] == '=' ? strtoull(argv[6] + 6, NULL, 0) : 0);
	fprintf(stderr, "usage: vm-kio-status read|write DEV SLBA NLB FILE [fixed[=BYTES]]\n"
			"       vm-kio-status errors /dev/ngXnY\n");
	return 2;
}
