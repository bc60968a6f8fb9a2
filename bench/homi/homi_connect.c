/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Time from connect to a usable queue pair through homid, stage by stage, repeated:
 *   connect  socket + HELLO
 *   list     LIST (the device record)
 *   reg_mem  a sealed memfd of --mem bytes allocated, sent, mapped by the daemon for the device
 *   grant    GRANT_QP (the daemon creates the CQ and SQ) + mmap of the doorbells + attach
 *   first_io one 4 KiB read submitted and completed (the queue pair is usable)
 * and the same whole path through bio (bio_dev_open + bio_queue_create + one read), which also reads
 * the namespace's first 68 KiB for a file-system signature.
 * usage: homi-connect SOCKET DEVICE [ROUNDS] [MEM_BYTES]   prints one JSON object
 */
#include <aisio/bio.h>
#include <aisio/dma.h>
#include <aisio/homi.h>
#include <aisio/nvmed.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void summary(const char *name, double *v, int n, int last)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	printf("\"%s\": {\"median_us\": %.1f, \"p90_us\": %.1f, \"min_us\": %.1f, \"max_us\": %.1f}%s", name, v[n / 2],
	       v[(n * 9) / 10], v[0], v[n - 1], last ? "" : ", ");
}

struct done {
	int n, err;
};

static void cb(struct nvmed_qpair *qp, void *arg, int err, const struct nvme_cqe *cqe)
{
	struct done *d = arg;
	d->n++;
	d->err = err;
}

static void bio_done_cb(struct bio_queue *q, void *arg, int err, uint16_t st)
{
	struct done *d = arg;
	d->n++;
	d->err = err;
}

/* One round with the client API; t[0..4] get the stage times. */
static int round_raw(const char *sock, const char *name, size_t mem, double *t)
{
	double t0 = now_us();
	struct homi_client *hc;
	int rc = homi_connect(&hc, sock, "homi-connect", 5000);
	if (rc < 0)
		return rc;
	double t1 = now_us();
	struct homi_dev dev;
	rc = homi_find(hc, name, &dev);
	double t2 = now_us();
	struct dma_mem m = {.fd = -1};
	uint32_t mem_id = 0;
	if (rc == 0)
		rc = dma_mem_alloc(&m, mem, (enum dma_kind)dev.dma_kind);
	if (rc == 0)
		rc = homi_reg_mem(hc, dev.index, m.fd, m.len, &mem_id, &m.iova_base);
	double t3 = now_us();
	struct homi_grant_qp_reply rep;
	struct nvmed_qpair *qp = NULL;
	void *db = MAP_FAILED;
	const uint32_t entries = 64;
	uint8_t *sq = m.va, *cq = m.va + 4096, *prp = m.va + 8192, *buf = m.va + 65536;
	if (rc == 0) {
		struct homi_grant_qp rq = {.dev = dev.index,
					   .nsid = dev.ns[0].nsid,
					   .entries = entries,
					   .mem_id = mem_id,
					   .sq_off = 0,
					   .cq_off = 4096};
		int fd;
		rc = homi_grant_qp(hc, &rq, &rep, &fd);
		if (rc == 0) {
			db = mmap(NULL, rep.db_map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)rep.db_map_off);
			close(fd);
			rc = db == MAP_FAILED ? -errno : 0;
		}
	}
	if (rc == 0) {
		struct nvmed_qpair_desc d = {
			.name = name,
			.qid = rep.qid,
			.depth = entries,
			.entries = entries,
			.sq = (struct nvme_sqe *)sq,
			.cq = (struct nvme_cqe *)cq,
			.sq_db = (volatile uint32_t *)((uint8_t *)db + rep.sq_db_off),
			.cq_db = (volatile uint32_t *)((uint8_t *)db + rep.cq_db_off),
			.dma = {.va = m.va, .len = m.len, .iova_base = m.iova_base, .page_shift = 12},
			.prp_lists = prp,
			.max_xfer = dev.max_xfer < 32768 ? dev.max_xfer : 32768,
			.nsid = dev.ns[0].nsid,
			.lba_shift = dev.ns[0].lba_shift,
			.max_lbas = dev.ns[0].max_lbas};
		rc = nvmed_qpair_attach(&d, &qp);
	}
	double t4 = now_us();
	if (rc == 0) {
		struct done dn = {0};
		rc = nvmed_qpair_read(qp, dev.ns[0].nsid, 0, 4096u >> dev.ns[0].lba_shift, buf, cb, &dn);
		if (rc >= 0)
			rc = nvmed_qpair_drain(qp, 5000);
		if (rc == 0)
			rc = dn.err;
	}
	double t5 = now_us();
	if (qp) {
		homi_release_qp(hc, dev.index, rep.qid);
		nvmed_qpair_detach(qp);
	}
	if (db != MAP_FAILED)
		munmap(db, rep.db_map_len);
	if (mem_id)
		homi_unreg_mem(hc, mem_id);
	if (m.va)
		dma_mem_free(&m);
	homi_disconnect(hc);
	t[0] = t1 - t0, t[1] = t2 - t1, t[2] = t3 - t2, t[3] = t4 - t3, t[4] = t5 - t4;
	return rc;
}

static int round_bio(const char *devstr, size_t mem, double *t)
{
	double t0 = now_us();
	struct bio_dev *d;
	struct bio_dev_opts o = {.nsid = 1, .dma_bytes = mem};
	int rc = bio_dev_open(&d, devstr, &o);
	if (rc < 0)
		return rc;
	struct bio_queue *q;
	rc = bio_queue_create(d, 63, &q);
	void *buf = bio_dev_buf_alloc(d, 4096);
	if (rc == 0 && buf) {
		struct done dn = {0};
		rc = bio_queue_rw(q, false, 0, 4096u >> bio_dev_lba_shift(d), buf, bio_done_cb, &dn);
		if (rc == 0)
			rc = bio_queue_drain(q, 5000);
		if (rc == 0)
			rc = dn.err;
	}
	*t = now_us() - t0;
	if (buf)
		bio_dev_buf_free(d, buf);
	bio_queue_destroy(q);
	bio_dev_close(d);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: homi-connect SOCKET DEVICE [ROUNDS] [MEM_BYTES]\n");
		return 2;
	}
	int rounds = argc > 3 ? atoi(argv[3]) : 200;
	size_t mem = argc > 4 ? strtoull(argv[4], NULL, 0) : (1u << 20);
	if (rounds < 1 || mem < (128u << 10)) {
		fprintf(stderr, "homi-connect: ROUNDS >= 1, MEM_BYTES >= 128K\n");
		return 2;
	}
	double *st[6];
	for (int i = 0; i < 6; i++)
		st[i] = calloc((size_t)rounds, sizeof(double));
	char devstr[512];
	snprintf(devstr, sizeof(devstr), "homi:%s,socket=%s", argv[2], argv[1]);
	for (int r = 0; r < rounds; r++) {
		double t[5];
		int rc = round_raw(argv[1], argv[2], mem, t);
		if (rc < 0) {
			fprintf(stderr, "homi-connect: round %d: %s\n", r, strerror(-rc));
			return 1;
		}
		double total = 0;
		for (int i = 0; i < 5; i++) {
			st[i][r] = t[i];
			total += t[i];
		}
		st[5][r] = total;
	}
	double *bt = calloc((size_t)rounds, sizeof(double));
	for (int r = 0; r < rounds; r++) {
		int rc = round_bio(devstr, mem, &bt[r]);
		if (rc < 0) {
			fprintf(stderr, "homi-connect: bio round %d: %s\n", r, strerror(-rc));
			return 1;
		}
	}
	printf("{\"rounds\": %d, \"mem_bytes\": %zu, ", rounds, mem);
	summary("connect", st[0], rounds, 0);
	summary("list", st[1], rounds, 0);
	summary("reg_mem", st[2], rounds, 0);
	summary("grant", st[3], rounds, 0);
	summary("first_io", st[4], rounds, 0);
	summary("total", st[5], rounds, 0);
	summary("bio_open_queue_io", bt, rounds, 1);
	printf("}\n");
	return 0;
}
