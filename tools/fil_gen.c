/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aisio fil gen: a deterministic file dataset (fil_gen.h says the layout and the content rule) written
 * into a directory, or into a fresh XFS/ext4 image (mkfs, loop mount in a private temp dir,
 * populate, syncfs, unmount) that then serves as an emu:file: namespace.
 */
#include <aisio/clock.h>
#include "commands.h"
#include "fil_gen.h"
#include "json.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define KiB (1024ULL)
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)

static const struct filgen_shape fil_shapes[] = {
	{"imagenetish", 1281167, 1000, 75000, 150000, 0, "ImageNet-1k train split: 1,281,167 files, 1,000 classes"},
	{"tiktokish", 10000, 1, 7 * MiB, 8 * MiB, 0, "short videos: 10,000 files of 7-8 MiB"},
	{"filesize8gib", 8, 1, 8 * GiB, 8 * GiB, 1, "8 files of 8 GiB (the scale sizes the files)"},
};

const struct filgen_shape *filgen_shape_find(const char *name)
{
	for (size_t i = 0; i < sizeof(fil_shapes) / sizeof(fil_shapes[0]); i++)
		if (!strcmp(name, fil_shapes[i].name))
			return &fil_shapes[i];
	return NULL;
}

const char *filgen_shape_names(void)
{
	return "imagenetish|tiktokish|filesize8gib";
}

/* x * scale rounded to nearest, at least 1; -ERANGE past 2^53 (where doubles stop counting exactly) */
static int scaled(uint64_t x, double scale, uint64_t *out)
{
	double v = round((double)x * scale);

	if (!(v < 9007199254740992.0))
		return -ERANGE;
	*out = v < 1 ? 1 : (uint64_t)v;
	return 0;
}

int filgen_layout_init(struct filgen_layout *l, const struct filgen_shape *shape, double scale, uint64_t seed)
{
	int rc;

	if (!shape || !isfinite(scale) || !(scale > 0))
		return -EINVAL;
	*l = (struct filgen_layout){.shape = shape, .scale = scale, .seed = seed};
	if (shape->scale_sizes) {
		l->files = shape->files;
		if ((rc = scaled(shape->size_min, scale, &l->size_min)) ||
		    (rc = scaled(shape->size_max, scale, &l->size_max)))
			return rc;
	} else {
		if ((rc = scaled(shape->files, scale, &l->files)))
			return rc;
		l->size_min = shape->size_min;
		l->size_max = shape->size_max;
	}
	l->classes = l->files < shape->classes ? (uint32_t)l->files : shape->classes;
	return 0;
}

void filgen_layout_class(const struct filgen_layout *l, uint32_t c, uint64_t *first, uint64_t *count)
{
	uint64_t base = l->files / l->classes, rem = l->files % l->classes;

	*count = base + (c < rem);
	*first = c * base + (c < rem ? c : rem);
}

uint64_t filgen_file_size(const struct filgen_layout *l, uint64_t index)
{
	uint64_t span = l->size_max - l->size_min + 1;

	return l->size_min + (span ? fil_mix64(~filgen_file_key(l->seed, index)) % span : 0);
}

int filgen_class_name(char *buf, size_t len, uint32_t c)
{
	return snprintf(buf, len, "n%08u", c);
}

int filgen_file_name(char *buf, size_t len, uint32_t c, uint64_t index)
{
	return snprintf(buf, len, "n%08u_%08llu.bin", c, (unsigned long long)index);
}

void filgen_fill(uint64_t key, uint64_t offset, void *buf, size_t len)
{
	uint64_t w = offset / 8;
	unsigned char *p = buf;

	for (; len >= 8; len -= 8, p += 8, w++) {
		uint64_t v = htole64(fil_mix64(key + FIL_GOLDEN * (w + 1)));

		memcpy(p, &v, 8);
	}
	if (len) {
		uint64_t v = htole64(fil_mix64(key + FIL_GOLDEN * (w + 1)));

		memcpy(p, &v, len);
	}
}

/* ---- the command ---- */

struct gen_opts {
	const struct filgen_shape *shape;
	double scale;
	uint64_t seed;
	const char *dir;   /* without --image: the dataset root; with it: a path inside the image (or NULL) */
	const char *image; /* NULL: write into dir */
	const char *fs;    /* "xfs" or "ext4" */
	int force, json, dry_run;
};

struct gen_totals {
	uint64_t files, bytes, image_bytes;
	double seconds;
	int progress;        /* stderr is a terminal: a progress line, redrawn once a second */
	double t0, shown_at; /* start, and when the progress line was last drawn */
};

/* Set by SIGINT/SIGTERM so that an interrupted run still unmounts and removes its temp dir. */
static volatile sig_atomic_t gen_stop;

static void on_signal(int sig)
{
	(void)sig;
	gen_stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: aisio fil gen --shape SHAPE [--scale S] [--seed N] [--force] [--json] [--dry-run] DIR\n"
		"       aisio fil gen --shape SHAPE [--scale S] [--seed N] --image FILE [--fs xfs|ext4] [DIR]\n"
		"  --shape     imagenetish   1,281,167 files of 75,000-150,000 bytes in 1,000 class folders\n"
		"              tiktokish     10,000 files of 7-8 MiB (one class folder)\n"
		"              filesize8gib  8 files of 8 GiB (one class folder)\n"
		"  --scale S   a float > 0 (default 1): imagenetish and tiktokish scale the file count, filesize8gib\n"
		"              the file size; rounded to the nearest integer, at least 1; classes are min(1000, files)\n"
		"  --seed N    content and sizes are a function of the seed and the file's index (default 0)\n"
		"  --image F   build a file-system image F holding the dataset (root: loop mount); DIR is then\n"
		"              a folder inside the image (default: its root). Serve it as emu:file:F\n"
		"  --fs        xfs (default) or ext4, with --image\n"
		"  --force     write into a non-empty DIR, or replace an existing image\n"
		"  --dry-run   count files and bytes, write nothing\n"
		"  --json      the summary as one JSON object\n"
		"Layout: DIR/nCCCCCCCC/nCCCCCCCC_IIIIIIII.bin; content rule in tools/fil_gen.h.\n");
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR && !gen_stop)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* mkdir -p of path (relative to dirfd, or absolute) */
static int mkdir_p(int dirfd, const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char save = buf[i];

		buf[i] = '\0';
		if (mkdirat(dirfd, buf, 0755) && errno != EEXIST)
			return -errno;
		buf[i] = save;
	}
	return 0;
}

/* Write one file of size bytes, its content from key, through buf. */
static int gen_file(int cfd, const char *name, uint64_t key, uint64_t size, void *buf, size_t buflen)
{
	int fd = openat(cfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = 0;

	if (fd < 0)
		return -errno;
	for (uint64_t off = 0; off < size && !rc; off += buflen) {
		size_t n = size - off < buflen ? (size_t)(size - off) : buflen;

		filgen_fill(key, off, buf, n);
		rc = write_all(fd, buf, n);
		if (gen_stop)
			rc = -EINTR;
	}
	if (close(fd) && !rc)
		rc = -errno;
	return rc;
}

static void show_progress(const struct filgen_layout *l, struct gen_totals *t, int last)
{
	double now = aisio_mono_s();

	if (!t->progress)
		return;
	if (last) {
		/* the summary goes where the progress line was */
		if (t->shown_at > t->t0)
			fprintf(stderr, "\r\033[K");
		return;
	}
	if (now - t->shown_at < 1)
		return;
	t->shown_at = now;
	fprintf(stderr, "\r\033[K  %llu/%llu files, %.1f MiB, %.1f MiB/s", (unsigned long long)t->files,
		(unsigned long long)l->files, (double)t->bytes / MiB, (double)t->bytes / MiB / (now - t->t0));
}

/* The dataset under rootfd (whose path, for messages, is shown). */
static int gen_tree(int rootfd, const char *shown, const struct filgen_layout *l, struct gen_totals *t)
{
	const size_t buflen = 1 * MiB;
	void *buf = aligned_alloc(4096, buflen);
	char cname[32], fname[64];
	int rc = 0;

	if (!buf) {
		fprintf(stderr, "aisio fil gen: out of memory\n");
		return -ENOMEM;
	}
	for (uint32_t c = 0; c < l->classes && !rc; c++) {
		uint64_t first, count;
		int cfd;

		filgen_layout_class(l, c, &first, &count);
		filgen_class_name(cname, sizeof(cname), c);
		if (mkdirat(rootfd, cname, 0755) && errno != EEXIST) {
			rc = -errno;
			fprintf(stderr, "aisio fil gen: mkdir %s/%s: %s\n", shown, cname, strerror(-rc));
			break;
		}
		cfd = openat(rootfd, cname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cfd < 0) {
			rc = -errno;
			fprintf(stderr, "aisio fil gen: %s/%s: %s\n", shown, cname, strerror(-rc));
			break;
		}
		for (uint64_t i = first; i < first + count; i++) {
			uint64_t size = filgen_file_size(l, i);

			filgen_file_name(fname, sizeof(fname), c, i);
			rc = gen_file(cfd, fname, filgen_file_key(l->seed, i), size, buf, buflen);
			if (rc) {
				fprintf(stderr, "aisio fil gen: %s/%s/%s: %s\n", shown, cname, fname,
					rc == -EINTR ? "interrupted" : strerror(-rc));
				break;
			}
			t->files++;
			t->bytes += size;
			show_progress(l, t, 0);
		}
		close(cfd);
	}
	show_progress(l, t, 1);
	free(buf);
	return rc;
}

/* 1: dir holds something, 0: empty, negative errno */
static int dir_nonempty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int found = 0;

	if (!d)
		return -errno;
	while (!found && (e = readdir(d)))
		found = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return found;
}

/* Run argv[0] (looked up in PATH), its output passed through; the exit status, or negative errno.
 * Bounded: a child still running after limit_s seconds is killed (-ETIMEDOUT). */
static int run_tool(char *const argv[], double limit_s)
{
	double deadline = aisio_mono_s() + limit_s;
	pid_t pid;
	int st, rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);

	if (rc)
		return -rc;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (aisio_mono_s() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -ETIMEDOUT;
		}
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int run_tool_msg(char *const argv[], double limit_s, const char *why)
{
	int rc = run_tool(argv, limit_s);

	if (rc == -ENOENT)
		fprintf(stderr, "aisio fil gen: %s: %s not found (%s)\n", why, argv[0],
			!strncmp(argv[0], "mkfs.xfs", 8)    ? "install xfsprogs"
			: !strncmp(argv[0], "mkfs.ext4", 9) ? "install e2fsprogs"
							    : "install util-linux");
	else if (rc < 0)
		fprintf(stderr, "aisio fil gen: %s: %s: %s\n", why, argv[0], strerror(-rc));
	else if (rc > 0)
		fprintf(stderr, "aisio fil gen: %s: %s exited with status %d\n", why, argv[0], rc);
	return rc;
}

/* Image bytes for the dataset: every file rounded to 4 KiB blocks, 2 KiB of inode and directory
 * entry per file, 64 KiB per class folder, 1/16 more for the log, bitmaps and allocation slack,
 * plus 64 MiB; at least the smallest file system mkfs accepts (XFS refuses under 300 MB). */
static uint64_t image_size(const struct filgen_layout *l, const char *fs)
{
	uint64_t data = 0, sz;

	for (uint64_t i = 0; i < l->files; i++)
		data += (filgen_file_size(l, i) + 4095) & ~4095ULL;
	sz = data + l->files * 2 * KiB + (uint64_t)l->classes * 64 * KiB;
	sz += sz / 16 + 64 * MiB;
	if (!strcmp(fs, "xfs") && sz < 320 * MiB)
		sz = 320 * MiB;
	if (sz < 32 * MiB)
		sz = 32 * MiB;
	return (sz + MiB - 1) & ~(MiB - 1);
}

static int gen_into_dir(const struct gen_opts *o, const struct filgen_layout *l, struct gen_totals *t)
{
	struct stat st;
	int rc, fd;

	if (stat(o->dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			fprintf(stderr, "aisio fil gen: %s: exists and is not a directory\n", o->dir);
			return -ENOTDIR;
		}
		rc = dir_nonempty(o->dir);
		if (rc < 0) {
			fprintf(stderr, "aisio fil gen: %s: %s\n", o->dir, strerror(-rc));
			return rc;
		}
		if (rc && !o->force) {
			fprintf(stderr, "aisio fil gen: %s: not empty (--force writes over it)\n", o->dir);
			return -EEXIST;
		}
	} else if (errno != ENOENT) {
		rc = -errno;
		fprintf(stderr, "aisio fil gen: %s: %s\n", o->dir, strerror(-rc));
		return rc;
	} else if ((rc = mkdir_p(AT_FDCWD, o->dir))) {
		fprintf(stderr, "aisio fil gen: mkdir %s: %s\n", o->dir, strerror(-rc));
		return rc;
	}
	fd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		fprintf(stderr, "aisio fil gen: %s: %s\n", o->dir, strerror(-rc));
		return rc;
	}
	rc = gen_tree(fd, o->dir, l, t);
	close(fd);
	return rc;
}

static int gen_into_image(const struct gen_opts *o, const struct filgen_layout *l, struct gen_totals *t)
{
	char mnt[] = "/tmp/aisio-fil-gen-XXXXXX";
	char shown[PATH_MAX + 64];
	struct stat st;
	int rc, fd, rootfd, mounted = 0;

	if (geteuid() != 0) {
		fprintf(stderr, "aisio fil gen: --image needs root: the image is loop-mounted to be populated "
				"(run as root, or generate into a directory without --image)\n");
		return -EPERM;
	}
	if (stat(o->image, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			fprintf(stderr, "aisio fil gen: %s: exists and is not a regular file\n", o->image);
			return -EEXIST;
		}
		if (st.st_size > 0 && !o->force) {
			fprintf(stderr, "aisio fil gen: %s: exists (--force replaces it)\n", o->image);
			return -EEXIST;
		}
	}
	t->image_bytes = image_size(l, o->fs);
	fd = open(o->image, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		fprintf(stderr, "aisio fil gen: %s: %s\n", o->image, strerror(-rc));
		return rc;
	}
	rc = ftruncate(fd, (off_t)t->image_bytes) ? -errno : 0;
	close(fd);
	if (rc) {
		fprintf(stderr, "aisio fil gen: %s: size %llu: %s\n", o->image, (unsigned long long)t->image_bytes,
			strerror(-rc));
		goto out_unlink;
	}
	{
		char inodes[32];
		/* ext4 gets an inode per file and folder (its default ratio may fall short for small files) */
		snprintf(inodes, sizeof(inodes), "%llu", (unsigned long long)(l->files + l->classes + 1024));
		char *xfs[] = {"mkfs.xfs", "-q", "-f", (char *)o->image, NULL};
		char *ext4[] = {"mkfs.ext4", "-q", "-F", "-N", inodes, (char *)o->image, NULL};

		rc = run_tool_msg(!strcmp(o->fs, "xfs") ? xfs : ext4, 600, "mkfs");
		if (rc) {
			rc = rc < 0 ? rc : -EIO;
			goto out_unlink;
		}
	}
	if (!mkdtemp(mnt)) {
		rc = -errno;
		fprintf(stderr, "aisio fil gen: mkdtemp %s: %s\n", mnt, strerror(-rc));
		goto out_unlink;
	}
	{
		char *mount[] = {"mount", "-t", (char *)o->fs, "-o", "loop", (char *)o->image, mnt, NULL};

		rc = run_tool_msg(mount, 120, "loop mount");
		if (rc) {
			rc = rc < 0 ? rc : -EIO;
			goto out_rmdir;
		}
		mounted = 1;
	}
	rootfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		rc = -errno;
		fprintf(stderr, "aisio fil gen: %s: %s\n", mnt, strerror(-rc));
		goto out_umount;
	}
	if (o->dir) {
		int sub;

		if ((rc = mkdir_p(rootfd, o->dir))) {
			fprintf(stderr, "aisio fil gen: mkdir %s in the image: %s\n", o->dir, strerror(-rc));
			close(rootfd);
			goto out_umount;
		}
		sub = openat(rootfd, o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(rootfd);
		if (sub < 0) {
			rc = -errno;
			fprintf(stderr, "aisio fil gen: %s in the image: %s\n", o->dir, strerror(-rc));
			goto out_umount;
		}
		rootfd = sub;
	}
	snprintf(shown, sizeof(shown), "%s:%s%s", o->image, o->dir ? "/" : "", o->dir ? o->dir : "");
	rc = gen_tree(rootfd, shown, l, t);
	if (!rc && syncfs(rootfd)) {
		rc = -errno;
		fprintf(stderr, "aisio fil gen: syncfs %s: %s\n", mnt, strerror(-rc));
	}
	close(rootfd);
out_umount:
	if (mounted) {
		char *umount[] = {"umount", mnt, NULL};

		if (run_tool_msg(umount, 600, "unmount")) {
			fprintf(stderr, "aisio fil gen: %s stays mounted at %s: unmount it by hand\n", o->image, mnt);
			return rc ? rc : -EBUSY;
		}
	}
out_rmdir:
	rmdir(mnt);
out_unlink:
	if (rc) {
		/* an image left half-built would pass for a dataset */
		unlink(o->image);
		fprintf(stderr, "aisio fil gen: %s removed\n", o->image);
	}
	return rc;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-')
		return -EINVAL;
	*v = x;
	return 0;
}

/* the shortest decimal that reads back as v */
static void print_double(double v)
{
	char buf[32];

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, stdout);
}

static void print_summary(const struct gen_opts *o, const struct filgen_layout *l, const struct gen_totals *t)
{
	double mibs = t->seconds > 0 ? (double)t->bytes / MiB / t->seconds : 0;

	if (o->json) {
		printf("{\"shape\": ");
		json_string(stdout, l->shape->name);
		printf(", \"scale\": ");
		print_double(l->scale);
		printf(", \"seed\": %llu, \"dir\": ", (unsigned long long)l->seed);
		if (o->dir)
			json_string(stdout, o->dir);
		else
			printf("null");
		printf(", \"image\": ");
		if (o->image) {
			json_string(stdout, o->image);
			printf(", \"fs\": ");
			json_string(stdout, o->fs);
			printf(", \"image_bytes\": %llu", (unsigned long long)t->image_bytes);
		} else {
			printf("null");
		}
		printf(", \"dry_run\": %s, \"files\": %llu, \"classes\": %u, \"bytes\": %llu, \"size_min\": %llu, "
		       "\"size_max\": %llu, \"seconds\": %.3f, \"mib_per_s\": %.1f}\n",
		       o->dry_run ? "true" : "false", (unsigned long long)t->files, l->classes,
		       (unsigned long long)t->bytes, (unsigned long long)l->size_min, (unsigned long long)l->size_max,
		       t->seconds, mibs);
		return;
	}
	printf("aisio fil gen: %s scale %g seed %llu: %s%llu files in %u class%s, %llu bytes (%.1f MiB), %.2f s "
	       "(%.1f MiB/s)",
	       l->shape->name, l->scale, (unsigned long long)l->seed, o->dry_run ? "would write " : "",
	       (unsigned long long)t->files, l->classes, l->classes == 1 ? "" : "es", (unsigned long long)t->bytes,
	       (double)t->bytes / MiB, t->seconds, mibs);
	if (o->image)
		printf(" -> %s image %s (%llu MiB)%s%s, serve as emu:file:%s\n", o->fs, o->image,
		       (unsigned long long)(t->image_bytes / MiB), o->dir ? " folder /" : "", o->dir ? o->dir : "",
		       o->image);
	else
		printf(" -> %s\n", o->dir);
}

int cmd_fil_gen(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"shape", required_argument, NULL, 'S'}, {"scale", required_argument, NULL, 's'},
		{"seed", required_argument, NULL, 'r'},  {"image", required_argument, NULL, 'i'},
		{"fs", required_argument, NULL, 'f'},    {"force", no_argument, NULL, 'F'},
		{"json", no_argument, NULL, 'j'},        {"dry-run", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
	};
	struct gen_opts o = {.scale = 1, .fs = NULL};
	struct gen_totals t = {0};
	struct filgen_layout l;
	const char *fs = NULL;
	char *end;
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'S':
			o.shape = filgen_shape_find(optarg);
			if (!o.shape) {
				fprintf(stderr, "aisio fil gen: unknown shape '%s' (expected %s)\n", optarg,
					filgen_shape_names());
				return 2;
			}
			break;
		case 's':
			errno = 0;
			o.scale = strtod(optarg, &end);
			if (errno || end == optarg || *end || !isfinite(o.scale) || !(o.scale > 0)) {
				fprintf(stderr, "aisio fil gen: --scale %s: expected a number > 0 (e.g. 0.001)\n",
					optarg);
				return 2;
			}
			break;
		case 'r':
			if (parse_u64(optarg, &o.seed)) {
				fprintf(stderr, "aisio fil gen: --seed %s: expected an unsigned 64-bit integer\n",
					optarg);
				return 2;
			}
			break;
		case 'i': o.image = optarg; break;
		case 'f':
			if (strcmp(optarg, "xfs") && strcmp(optarg, "ext4")) {
				fprintf(stderr, "aisio fil gen: --fs %s: expected xfs or ext4\n", optarg);
				return 2;
			}
			fs = optarg;
			break;
		case 'F': o.force = 1; break;
		case 'j': o.json = 1; break;
		case 'n': o.dry_run = 1; break;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "aisio fil gen: unknown or incomplete option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (!o.shape) {
		fprintf(stderr, "aisio fil gen: --shape %s is required\n", filgen_shape_names());
		return 2;
	}
	if (fs && !o.image) {
		fprintf(stderr, "aisio fil gen: --fs goes with --image\n");
		return 2;
	}
	o.fs = fs ? fs : "xfs";
	if (optind < argc) {
		o.dir = argv[optind++];
		if (!*o.dir) {
			fprintf(stderr, "aisio fil gen: DIR is empty\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "aisio fil gen: one DIR expected, '%s' is extra\n", argv[optind]);
		return 2;
	}
	if (!o.dir && !o.image) {
		fprintf(stderr, "aisio fil gen: DIR (or --image FILE) is required\n");
		usage(stderr);
		return 2;
	}
	if (o.image && o.dir) {
		/* a folder inside the image: relative, no way out of it */
		while (*o.dir == '/')
			o.dir++;
		if (!*o.dir)
			o.dir = NULL;
		else if (!strcmp(o.dir, "..") || !strncmp(o.dir, "../", 3) || strstr(o.dir, "/../") ||
			 (strlen(o.dir) >= 3 && !strcmp(o.dir + strlen(o.dir) - 3, "/.."))) {
			fprintf(stderr, "aisio fil gen: DIR %s: a folder inside the image may not contain '..'\n",
				o.dir);
			return 2;
		}
	}
	rc = filgen_layout_init(&l, o.shape, o.scale, o.seed);
	if (rc) {
		fprintf(stderr, "aisio fil gen: scale %g: %s\n", o.scale,
			rc == -ERANGE ? "too large (over 2^53 files or bytes per file)" : strerror(-rc));
		return 2;
	}
	if (o.dry_run) {
		for (uint64_t i = 0; i < l.files; i++)
			t.bytes += filgen_file_size(&l, i);
		t.files = l.files;
		if (o.image)
			t.image_bytes = image_size(&l, o.fs);
		print_summary(&o, &l, &t);
		return 0;
	}

	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;

	sigemptyset(&sa.sa_mask);
	gen_stop = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	double t0 = aisio_mono_s();

	t.progress = !o.json && isatty(STDERR_FILENO);
	t.t0 = t.shown_at = t0;
	rc = o.image ? gen_into_image(&o, &l, &t) : gen_into_dir(&o, &l, &t);
	t.seconds = aisio_mono_s() - t0;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (rc)
		return 1;
	print_summary(&o, &l, &t);
	return 0;
}
