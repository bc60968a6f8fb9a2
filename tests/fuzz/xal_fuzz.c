/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target of the XAL XFS parser (libFuzzer; `make fuzz` runs it, see tests/fuzz/run).
 *
 * An input is a sparse image: "XALF", a u32 of flags, then records of (u64 offset, u32 length,
 * bytes), little endian, laid into a 1 GiB image kept in memory as 4 KiB pages (only the pages
 * written exist, the rest reads as zeros) that the parser reads through xal_opts.read. So a few KiB
 * of input carry the superblock, AG headers, B+tree blocks, inodes, directory and symlink blocks of
 * a real image at their real offsets (tests/fuzz/xal_seeds.py makes seeds that way).
 *
 * Every metadata block of v5 XFS carries a CRC32c, and a mutation almost always breaks it: the
 * parser would refuse nearly every input at the first block. So before indexing, the harness finds
 * the structures of the image by their magic numbers where XFS puts them (inodes on inode-size
 * boundaries, B+tree, directory and symlink blocks on block boundaries, AG headers in the first
 * sectors of each AG, geometry from the superblock) and writes their checksums anew, unless flag
 * bit 0 says to leave them stale (the checksum path is fuzzed too). Flag bit 1 opens with
 * XAL_OPEN_IGNORE_LOG, so inputs with a dirty log still reach the rest of the parser.
 *
 * Built with -DXAL_FUZZ_REPLAY it is a plain program that runs the files and directories given as
 * arguments through the same entry point: the regression test of the seeds and of every crash found.
 * `xal-fuzz-replay --make-seed FLAGS IMAGE OUT` writes a seed of an image (tests/fuzz/xal_seeds.py).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <aisio/log.h>
#include <aisio/xal.h>

#include "xal_internal.h"

#define IMAGE_SIZE (1ull << 30)
#define PAGE 4096u
#define MAX_PAGES 2048u /* 8 MiB of written image at most; later records are dropped */
#define SLOTS 4096u     /* hash table of page numbers, load <= 1/2 */
#define FLAG_STALE_CRC 0x1u
#define FLAG_IGNORE_LOG 0x2u
/* The harness's own code: its coverage guides nothing and its comparisons cost time. */
#if defined(__clang__) && __clang_major__ >= 13
#define HARNESS __attribute__((no_sanitize("coverage")))
#else
#define HARNESS
#endif

/* The image of one input: its written pages, found by page number. */
struct image {
	uint64_t pgno[SLOTS];
	uint8_t *data[SLOTS];     /* NULL: free slot */
	uint32_t used[MAX_PAGES]; /* slots in use, in the order they were added */
	uint32_t nused;
	uint8_t pool[MAX_PAGES][PAGE];
};

HARNESS static uint8_t *page_find(struct image *im, uint64_t pg, int create)
{
	uint32_t s = (uint32_t)(xal_mix64(pg) & (SLOTS - 1));

	for (; im->data[s]; s = (s + 1) & (SLOTS - 1))
		if (im->pgno[s] == pg)
			return im->data[s];
	if (!create || im->nused == MAX_PAGES)
		return NULL;
	im->pgno[s] = pg;
	im->data[s] = im->pool[im->nused];
	memset(im->data[s], 0, PAGE);
	im->used[im->nused++] = s;
	return im->data[s];
}

HARNESS static void image_reset(struct image *im)
{
	for (uint32_t i = 0; i < im->nused; i++)
		im->data[im->used[i]] = NULL;
	im->nused = 0;
}

/* 0, or -ENOSPC when the page pool is full (the rest of the write is dropped). */
HARNESS static int image_write(struct image *im, uint64_t off, const uint8_t *p, size_t len)
{
	while (len) {
		uint64_t pg = off / PAGE;
		size_t in = (size_t)(off % PAGE), n = len < PAGE - in ? len : PAGE - in;
		uint8_t *d = page_find(im, pg, 1);

		if (!d)
			return -ENOSPC;
		memcpy(d + in, p, n);
		off += n;
		p += n;
		len -= n;
	}
	return 0;
}

HARNESS static int image_read(void *arg, uint64_t off, void *buf, size_t len)
{
	struct image *im = arg;
	uint8_t *o = buf;

	while (len) {
		size_t in = (size_t)(off % PAGE), n = len < PAGE - in ? len : PAGE - in;
		const uint8_t *d = page_find(im, off / PAGE, 0);

		if (d)
			memcpy(o, d + in, n);
		else
			memset(o, 0, n);
		off += n;
		o += n;
		len -= n;
	}
	return 0;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Writes the XFS checksum of the len-byte structure at off (CRC field at crc_off). */
HARNESS static void fix_crc(struct image *im, uint64_t off, size_t len, size_t crc_off, uint8_t *tmp)
{
	uint32_t crc;
	uint8_t le[4];

	if (off + len > IMAGE_SIZE)
		return;
	image_read(im, off, tmp, len);
	memset(tmp + crc_off, 0, 4);
	crc = ~xal_crc32c(~0u, tmp, len);
	le[0] = (uint8_t)crc;
	le[1] = (uint8_t)(crc >> 8);
	le[2] = (uint8_t)(crc >> 16);
	le[3] = (uint8_t)(crc >> 24);
	(void)image_write(im, off + crc_off, le, 4);
}

HARNESS static bool pow2_in(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v >= lo && v <= hi && !(v & (v - 1));
}

/* Checksums of every structure found where XFS keeps it: inodes first, then the blocks holding them. */
HARNESS static void fix_checksums(struct image *im, uint8_t *tmp)
{
	uint8_t sb[512];
	uint32_t bs, sect, isize, dirbs, agblocks, agcount;

	image_read(im, 0, sb, sizeof(sb));
	bs = be32(sb + 4);
	sect = be16(sb + 102);
	isize = be16(sb + 104);
	agblocks = be32(sb + 84);
	agcount = be32(sb + 88);
	if (be32(sb) != 0x58465342u || !pow2_in(bs, 512, 65536) || !pow2_in(sect, 512, bs) ||
	    !pow2_in(isize, 256, bs) || sb[192] > 8 || (bs << sb[192]) > 65536 || !agblocks)
		return;
	dirbs = bs << sb[192];
	for (int pass = 0; pass < 3; pass++) {
		for (uint32_t i = 0; i < im->nused; i++) {
			uint64_t base = im->pgno[im->used[i]] * PAGE;
			const uint8_t *pg = im->data[im->used[i]];

			for (uint32_t o = 0; o < PAGE; o += 512) {
				uint64_t p = base + o;
				const uint8_t *h = pg + o;

				if (pass == 0 && p % isize == 0 && be16(h) == 0x494e && h[4] == 3)
					fix_crc(im, p, isize, 100, tmp);
				if (pass == 1 && p % bs == 0) {
					switch (be32(h)) {
					case 0x49414233: /* IAB3 */
					case 0x46494233: /* FIB3 */
					case 0x41423342: /* AB3B */
					case 0x41423343: /* AB3C */
					case 0x52334643: /* R3FC */ fix_crc(im, p, bs, 52, tmp); break;
					case 0x424d4133: fix_crc(im, p, bs, 64, tmp); break;   /* BMA3 */
					case 0x58534c4d: fix_crc(im, p, bs, 12, tmp); break;   /* XSLM */
					case 0x58444233:                                       /* XDB3 */
					case 0x58444433: fix_crc(im, p, dirbs, 4, tmp); break; /* XDD3 */
					}
				}
				if (pass == 2 && p / ((uint64_t)agblocks * bs) <= agcount &&
				    p % ((uint64_t)agblocks * bs) < 4ull * sect && p % sect == 0) {
					switch (be32(h)) {
					case 0x58465342: fix_crc(im, p, sect, 224, tmp); break; /* XFSB */
					case 0x58414746: fix_crc(im, p, sect, 216, tmp); break; /* XAGF */
					case 0x58414749: fix_crc(im, p, sect, 312, tmp); break; /* XAGI */
					case 0x5841464c: fix_crc(im, p, sect, 32, tmp); break;  /* XAFL */
					}
				}
			}
		}
	}
}

static int walk_cb(const struct xal *x, const char *path, const struct xal_inode *in, void *arg)
{
	struct xal_extent e;
	uint64_t slba, nlb;

	/* Touch what a caller would: every extent of every file, in LBAs. */
	for (uint32_t i = 0; in->type == XAL_TYPE_REG && i < in->count; i++)
		if (xal_extent_get(x, in, i, &e) == 0) {
			(*(uint64_t *)arg) += e.length;
			(void)xal_extent_lba(x, &e, 512, &slba, &nlb);
		}
	return 0;
}

/*
 * Nearly every input is a corrupt image: its message is expected, and would only slow the run. The
 * replay program shows it (XAL_FUZZ_VERBOSE): the hook keeps the last error in *arg then.
 */
static void log_quiet(void *arg, enum aisio_log_level level, const char *dev, const char *msg)
{
	if (arg && level == AISIO_LOG_ERROR)
		snprintf(arg, 256, "%s", msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	aisio_log_hook_set(log_quiet, NULL);
	return 0;
}

/* One input: 0 and the number of paths when it indexed, else the error (its message to the hook). */
static int run_input(const uint8_t *data, size_t size, uint64_t *paths)
{
	static struct image im;
	static uint8_t tmp[65536];
	struct xal_opts o = {.backend = XAL_BACKEND_XFS, .read = image_read, .read_arg = &im, .read_size = IMAGE_SIZE};
	struct xal *x;
	uint32_t flags;
	size_t pos = 8;
	uint64_t sum = 0;
	int rc;

	if (size < 8 || memcmp(data, "XALF", 4))
		return -EINVAL;
	memcpy(&flags, data + 4, 4);
	image_reset(&im);
	while (pos + 12 <= size) {
		uint64_t off = 0;
		uint32_t len = 0;

		memcpy(&off, data + pos, 8);
		memcpy(&len, data + pos + 8, 4);
		pos += 12;
		if (len > size - pos)
			len = (uint32_t)(size - pos);
		off %= IMAGE_SIZE - len + 1;
		if (image_write(&im, off, data + pos, len))
			break;
		pos += len;
	}
	if (!(flags & FLAG_STALE_CRC))
		fix_checksums(&im, tmp);
	if (flags & FLAG_IGNORE_LOG)
		o.flags |= XAL_OPEN_IGNORE_LOG;
	rc = xal_open(&x, "fuzz-image", &o);
	if (rc == 0) {
		struct xal_inode in;
		struct xal_stats st;

		xal_walk(x, walk_cb, &sum);
		xal_lookup(x, "a/b", &in);
		xal_stats(x, &st);
		*paths = st.reachable;
		xal_close(x);
	}
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t paths;

	(void)run_input(data, size, &paths);
	return 0;
}

#ifdef XAL_FUZZ_REPLAY
/*
 * --make-seed: indexes an image through a reader that notes every range read, then writes those
 * ranges (their non-zero runs) as an input: a seed holds what the parser reads and nothing else.
 */
struct tracer {
	FILE *f;
	struct range {
		uint64_t off, len;
	} * v;
	size_t n, cap;
};

static int trace_read(void *arg, uint64_t off, void *buf, size_t len)
{
	struct tracer *t = arg;

	if (fseeko(t->f, (off_t)off, SEEK_SET) || fread(buf, 1, len, t->f) != len)
		return -EIO;
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 1024;
		struct range *nv = realloc(t->v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		t->v = nv;
		t->cap = nc;
	}
	t->v[t->n].off = off;
	t->v[t->n++].len = len;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

static void put_record(FILE *o, uint64_t off, const uint8_t *p, uint32_t len)
{
	fwrite(&off, 8, 1, o);
	fwrite(&len, 4, 1, o);
	fwrite(p, 1, len, o);
}

static int make_seed(uint32_t flags, const char *img, const char *out)
{
	struct tracer t = {0};
	char err[256] = "";
	struct xal_opts xo = {
		.backend = XAL_BACKEND_XFS, .flags = XAL_OPEN_IGNORE_LOG, .read = trace_read, .read_arg = &t};
	struct stat st;
	struct xal *x;
	uint8_t *buf = NULL;
	size_t bytes = 0;
	FILE *o;
	int rc;

	if (stat(img, &st) || !(t.f = fopen(img, "rb")) || !(o = fopen(out, "wb"))) {
		perror(img);
		return 1;
	}
	xo.read_size = (uint64_t)st.st_size;
	aisio_log_hook_set(log_quiet, err);
	rc = xal_open(&x, img, &xo);
	aisio_log_hook_set(log_quiet, NULL);
	if (rc)
		fprintf(stderr, "%s: %s (the seed holds what was read up to there)\n", img, err);
	else
		xal_close(x);
	qsort(t.v, t.n, sizeof(*t.v), range_cmp);
	fwrite("XALF", 1, 4, o);
	fwrite(&flags, 4, 1, o);
	for (size_t i = 0; i < t.n;) {
		uint64_t a = t.v[i].off, e = a + t.v[i].len;

		for (i++; i < t.n && t.v[i].off <= e; i++)
			if (t.v[i].off + t.v[i].len > e)
				e = t.v[i].off + t.v[i].len;
		if (!(buf = realloc(buf, (size_t)(e - a))) || fseeko(t.f, (off_t)a, SEEK_SET) ||
		    fread(buf, 1, (size_t)(e - a), t.f) != e - a)
			return 1;
		/* runs of non-zero bytes; 16 zero bytes or more end a run */
		for (size_t k = 0; k < e - a;) {
			size_t r, z = 0;

			if (!buf[k]) {
				k++;
				continue;
			}
			for (r = k; r < e - a && z < 16; r++)
				z = buf[r] ? 0 : z + 1;
			r -= z;
			put_record(o, a + k, buf + k, (uint32_t)(r - k));
			bytes += 12 + r - k;
			k = r;
		}
	}
	printf("%s: %zu reads, seed of %zu bytes\n", out, t.n, bytes + 8);
	free(buf);
	free(t.v);
	fclose(t.f);
	return fclose(o) ? 1 : 0;
}

#include "fuzz_replay.h"

static int run_file(const char *p)
{
	uint8_t *buf;
	size_t len = 0;
	int frc = fuzz_read_file(p, &buf, &len);

	if (frc < 0)
		return frc;
	if (getenv("XAL_FUZZ_VERBOSE")) {
		char err[256] = "";
		uint64_t paths = 0;
		int rc;

		aisio_log_hook_set(log_quiet, err);
		rc = run_input(buf, len, &paths);
		aisio_log_hook_set(log_quiet, NULL);

		if (rc)
			printf("%s: refused: %s\n", p, err);
		else
			printf("%s: indexed, %llu inodes reachable\n", p, (unsigned long long)paths);
	} else {
		LLVMFuzzerTestOneInput(buf, len);
	}
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	LLVMFuzzerInitialize(&argc, &argv);
	if (argc == 5 && !strcmp(argv[1], "--make-seed"))
		return make_seed((uint32_t)strtoul(argv[2], NULL, 0), argv[3], argv[4]);
	return fuzz_replay(argc, argv, "xal-fuzz-replay", run_file);
}
#endif
