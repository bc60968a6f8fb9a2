/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aisio xal: file extents from a mounted file system (FIEMAP) or an XFS image /
 * block device (on-disk parser). SOURCE may also be shm:/NAME, an index exported
 * by `aisio xal export`.
 */
#include "commands.h"
#include "json.h"

#include <aisio/xal.h>
#include <aisio_version.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

struct xopts {
	int json;
	uint32_t lba_size;
	enum xal_backend backend;
	double seconds;
	int watch;
	int ignore_log;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: aisio xal VERB SOURCE [ARGS] [OPTIONS]\n"
		"  ls SOURCE [PATH]        list a directory (or one file)\n"
		"  extents SOURCE PATH     extents of a file, bytes (and LBAs with --lba-size)\n"
		"  stats SOURCE            counts, index memory and time\n"
		"  find SOURCE             every path, one per line (like find -printf '%%P\\n')\n"
		"  dump SOURCE             every path with its extents, one JSON object per line\n"
		"  check SOURCE            every path found by its hash, and the hash holds nothing else\n"
		"  export SOURCE /NAME     index into POSIX shared memory NAME (--watch: keep it updated)\n"
		"  unlink /NAME            remove an exported index\n"
		"SOURCE: a directory of a mounted file system, an XFS image or block device, or shm:/NAME\n"
		"options: --json  --backend fiemap|xfs  --lba-size N  --watch  --seconds S (export --watch)\n"
		"         --ignore-log  index an XFS image whose log needs recovery (answers may be stale: warned)\n");
}

static void json_flags(FILE *f, uint32_t flags)
{
	char buf[256];
	const char *s;
	int first = 1;

	xal_ext_flags_str(flags & ~XAL_EXT_LAST, buf, sizeof(buf), ",");
	fputc('[', f);
	for (s = buf; *s;) {
		const char *e = strchr(s, ',');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		fprintf(f, "%s\"%.*s\"", first ? "" : ", ", (int)n, s);
		first = 0;
		s += n + (e ? 1 : 0);
	}
	fputc(']', f);
}

static int open_source(const char *src, const struct xopts *o, struct xal **x)
{
	struct xal_opts xo = {.backend = o->backend};
	int rc;

	if (!strncmp(src, "shm:", 4)) {
		rc = xal_shm_open(x, src + 4);
		if (rc)
			fprintf(stderr, "aisio xal: %s: %s\n", src, strerror(-rc));
		return rc;
	}
	if (o->watch)
		xo.flags |= XAL_OPEN_WATCHABLE;
	if (o->ignore_log)
		xo.flags |= XAL_OPEN_IGNORE_LOG;
	rc = xal_open(x, src, &xo);
	if (rc)
		fprintf(stderr, "aisio xal: %s: %s\n", src, strerror(-rc));
	return rc;
}

static void print_extents_json(FILE *f, const struct xal *x, const struct xal_inode *in, uint32_t lba_size)
{
	fputc('[', f);
	for (uint32_t i = 0; in->type == XAL_TYPE_REG && i < in->count; i++) {
		struct xal_extent e;
		uint64_t slba, nlb;

		if (xal_extent_get(x, in, i, &e))
			break;
		fprintf(f,
			"%s{\"file_offset\": %llu, \"disk_offset\": %llu, \"length\": %llu, \"flags\": ", i ? ", " : "",
			(unsigned long long)e.file_offset, (unsigned long long)e.disk_offset,
			(unsigned long long)e.length);
		json_flags(f, e.flags);
		if (lba_size && xal_extent_lba(x, &e, lba_size, &slba, &nlb) == 0)
			fprintf(f, ", \"slba\": %llu, \"nlb\": %llu", (unsigned long long)slba,
				(unsigned long long)nlb);
		fputc('}', f);
	}
	fputc(']', f);
}

static void print_entry_json(FILE *f, const char *name, size_t len, const struct xal_inode *in)
{
	json_str(f, name, len);
	fprintf(f, ", \"type\": \"%s\", \"ino\": %llu, \"size\": %llu, \"nlink\": %u", xal_type_str(in->type),
		(unsigned long long)in->ino, (unsigned long long)in->size, in->nlink);
	if (in->type == XAL_TYPE_REG)
		fprintf(f, ", \"extents\": %u", in->count);
}

static int do_ls(struct xal *x, const char *path, const struct xopts *o)
{
	struct xal_inode in;
	int rc = xal_lookup(x, path, &in);

	if (rc) {
		fprintf(stderr, "aisio xal ls: %s: %s\n", path, strerror(-rc));
		return 1;
	}
	if (in.type != XAL_TYPE_DIR) {
		if (o->json) {
			printf("{\"path\": ");
			print_entry_json(stdout, path, strlen(path), &in);
			printf("}\n");
		} else {
			printf("%-8s %12llu %14llu %5u %7u %s\n", xal_type_str(in.type), (unsigned long long)in.ino,
			       (unsigned long long)in.size, in.nlink, in.type == XAL_TYPE_REG ? in.count : 0, path);
		}
		return 0;
	}
	if (o->json) {
		printf("{\"path\": ");
		json_str(stdout, path, strlen(path));
		printf(", \"entries\": [");
	} else {
		printf("%-8s %12s %14s %5s %7s %s\n", "type", "inode", "size", "links", "extents", "name");
	}
	for (uint32_t i = 0; i < in.count; i++) {
		struct xal_inode c;
		const char *name;
		size_t len;

		if ((rc = xal_dirent(x, &in, i, &name, &len, &c)))
			break;
		if (o->json) {
			printf("%s{\"name\": ", i ? ", " : "");
			print_entry_json(stdout, name, len, &c);
			printf("}");
		} else {
			printf("%-8s %12llu %14llu %5u %7u %.*s\n", xal_type_str(c.type), (unsigned long long)c.ino,
			       (unsigned long long)c.size, c.nlink, c.type == XAL_TYPE_REG ? c.count : 0, (int)len,
			       name);
		}
	}
	if (o->json)
		printf("]}\n");
	return rc ? 1 : 0;
}

static int do_extents(struct xal *x, const char *path, const struct xopts *o)
{
	struct xal_stats st;
	struct xal_inode in;
	char fl[256];
	int rc = xal_lookup(x, path, &in);

	if (rc) {
		fprintf(stderr, "aisio xal extents: %s: %s\n", path, strerror(-rc));
		return 1;
	}
	if (in.type != XAL_TYPE_REG) {
		fprintf(stderr, "aisio xal extents: %s: not a regular file (%s)\n", path, xal_type_str(in.type));
		return 1;
	}
	xal_stats(x, &st);
	if (o->json) {
		printf("{\"path\": ");
		json_str(stdout, path, strlen(path));
		printf(", \"ino\": %llu, \"size\": %llu, \"block_size\": %u, \"part_offset\": %llu",
		       (unsigned long long)in.ino, (unsigned long long)in.size, st.block_size,
		       (unsigned long long)st.part_offset);
		if (o->lba_size)
			printf(", \"lba_size\": %u", o->lba_size);
		printf(", \"extents\": ");
		print_extents_json(stdout, x, &in, o->lba_size);
		printf("}\n");
		return 0;
	}
	printf("%s: inode %llu, %llu bytes, %u extents, block size %u, partition offset %llu\n", path,
	       (unsigned long long)in.ino, (unsigned long long)in.size, in.count, st.block_size,
	       (unsigned long long)st.part_offset);
	printf("%14s %16s %14s%s  %s\n", "file_offset", "disk_offset", "length",
	       o->lba_size ? "         slba        nlb" : "", "flags");
	for (uint32_t i = 0; i < in.count; i++) {
		struct xal_extent e;
		uint64_t slba, nlb;

		if ((rc = xal_extent_get(x, &in, i, &e)))
			return 1;
		printf("%14llu %16llu %14llu", (unsigned long long)e.file_offset, (unsigned long long)e.disk_offset,
		       (unsigned long long)e.length);
		if (o->lba_size) {
			if (xal_extent_lba(x, &e, o->lba_size, &slba, &nlb) == 0)
				printf(" %12llu %10llu", (unsigned long long)slba, (unsigned long long)nlb);
			else
				printf(" %12s %10s", "-", "-");
		}
		printf("  %s\n", xal_ext_flags_str(e.flags, fl, sizeof(fl), ","));
	}
	return 0;
}

static void now_iso(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int do_stats(struct xal *x, const char *src, const struct xopts *o)
{
	struct xal_stats s;
	struct utsname u;
	char date[32];
	double per_file;

	xal_stats(x, &s);
	per_file = s.inodes ? (double)(s.mem_bytes - s.extents * 16) / (double)s.inodes : 0;
	if (o->json) {
		uname(&u);
		now_iso(date, sizeof(date));
		printf("{\"version\": \"%s\", \"machine\": \"%s %s\", \"date\": \"%s\", \"source\": ", AISIO_VERSION,
		       u.nodename, u.machine, date);
		json_str(stdout, src, strlen(src));
		printf(", \"backend\": \"%s\", \"fstype\": \"%s\", \"block_size\": %u, \"part_offset\": %llu, "
		       "\"inodes\": %llu, \"reachable\": %llu, \"dirs\": %llu, \"files\": %llu, \"symlinks\": %llu, "
		       "\"others\": %llu, \"dentries\": %llu, \"extents\": %llu, \"name_bytes\": %llu, "
		       "\"hash_slots\": %llu, \"hash_collisions\": %llu, \"mem_bytes\": %llu, "
		       "\"bytes_per_inode_excl_extents\": %.1f, \"index_seconds\": %.6f, \"log_dirty\": %s}\n",
		       s.backend, s.fstype, s.block_size, (unsigned long long)s.part_offset,
		       (unsigned long long)s.inodes, (unsigned long long)s.reachable, (unsigned long long)s.dirs,
		       (unsigned long long)s.files, (unsigned long long)s.symlinks, (unsigned long long)s.others,
		       (unsigned long long)s.dentries, (unsigned long long)s.extents, (unsigned long long)s.name_bytes,
		       (unsigned long long)s.hash_slots, (unsigned long long)s.hash_collisions,
		       (unsigned long long)s.mem_bytes, per_file, s.index_seconds, s.log_dirty ? "true" : "false");
		return 0;
	}
	printf("source          %s\n", src);
	printf("backend         %s (%s, block size %u, partition offset %llu)\n", s.backend, s.fstype, s.block_size,
	       (unsigned long long)s.part_offset);
	printf("inodes          %llu (%llu reachable): %llu dirs, %llu files, %llu symlinks, %llu other\n",
	       (unsigned long long)s.inodes, (unsigned long long)s.reachable, (unsigned long long)s.dirs,
	       (unsigned long long)s.files, (unsigned long long)s.symlinks, (unsigned long long)s.others);
	printf("entries         %llu (%llu name bytes)\n", (unsigned long long)s.dentries,
	       (unsigned long long)s.name_bytes);
	printf("extents         %llu\n", (unsigned long long)s.extents);
	printf("hash            %llu slots, %llu colliding paths\n", (unsigned long long)s.hash_slots,
	       (unsigned long long)s.hash_collisions);
	printf("memory          %llu bytes (%.1f per inode + 16 per extent)\n", (unsigned long long)s.mem_bytes,
	       per_file);
	printf("index time      %.3f s\n", s.index_seconds);
	if (s.log_dirty)
		printf("log             needs recovery, ignored (--ignore-log): answers may be stale\n");
	return 0;
}

static int find_cb(const struct xal *x, const char *path, const struct xal_inode *in, void *arg)
{
	if (path[0])
		printf("%s\n", path);
	return 0;
}

static int dump_cb(const struct xal *x, const char *path, const struct xal_inode *in, void *arg)
{
	printf("{\"path\": ");
	json_str(stdout, path, strlen(path));
	printf(", \"type\": \"%s\", \"ino\": %llu, \"size\": %llu, \"nlink\": %u", xal_type_str(in->type),
	       (unsigned long long)in->ino, (unsigned long long)in->size, in->nlink);
	if (in->type == XAL_TYPE_REG) {
		printf(", \"extents\": [");
		for (uint32_t i = 0; i < in->count; i++) {
			struct xal_extent e;

			if (xal_extent_get(x, in, i, &e))
				break;
			printf("%s[%llu, %llu, %llu, %u]", i ? ", " : "", (unsigned long long)e.file_offset,
			       (unsigned long long)e.disk_offset, (unsigned long long)e.length,
			       e.flags & ~XAL_EXT_LAST);
		}
		printf("]");
	} else if (in->type == XAL_TYPE_LNK) {
		const char *t;
		size_t n;

		if (xal_symlink_target(x, in, &t, &n) == 0) {
			printf(", \"target\": ");
			json_str(stdout, t, n);
		}
	}
	printf("}\n");
	return 0;
}

struct check_ctx {
	uint64_t paths, bad;
};

static int check_cb(const struct xal *x, const char *path, const struct xal_inode *in, void *arg)
{
	struct check_ctx *c = arg;
	struct xal_inode h;
	int rc = xal_lookup_hash(x, xal_path_hash(path), &h);

	c->paths++;
	if (rc == -ENOTUNIQ)
		return 0;
	if (rc || h.idx != in->idx) {
		if (c->bad++ < 10)
			fprintf(stderr, "aisio xal check: '%s': by hash %s\n", path,
				rc ? strerror(-rc) : "another inode");
	}
	return 0;
}

/* The path hash agrees with the tree: every path resolves by hash to the inode the
 * walk reached, and the table holds one slot per path (none left from removed ones). */
static int do_check(struct xal *x)
{
	struct check_ctx c = {0, 0};
	struct xal_stats s;
	int rc = xal_walk(x, check_cb, &c);

	if (rc || xal_stats(x, &s))
		return 1;
	if (s.hash_used + s.hash_collisions != c.paths) {
		fprintf(stderr, "aisio xal check: %llu paths but %llu hash slots used (%llu collisions)\n",
			(unsigned long long)c.paths, (unsigned long long)s.hash_used,
			(unsigned long long)s.hash_collisions);
		c.bad++;
	}
	printf("checked %llu paths, %llu mismatches\n", (unsigned long long)c.paths, (unsigned long long)c.bad);
	return c.bad ? 1 : 0;
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	stop_flag = 1;
}

static int do_export(struct xal *x, const char *name, const struct xopts *o)
{
	struct timespec t0, t1;
	struct xal_stats st;
	uint64_t full_seen;
	int rc = xal_shm_export(x, name);

	if (rc) {
		fprintf(stderr, "aisio xal export: %s: %s\n", name, strerror(-rc));
		return 1;
	}
	if (!o->watch) {
		printf("exported %s\n", name);
		return 0;
	}
	if ((rc = xal_watch_start(x))) {
		fprintf(stderr, "aisio xal export --watch: %s\n", strerror(-rc));
		xal_shm_unlink(name);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	xal_stats(x, &st);
	full_seen = st.updates_full;
	printf("exported %s, watching\n", name);
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop_flag) {
		double el;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		el = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
		if (o->seconds > 0 && el >= o->seconds)
			break;
		rc = xal_watch_poll(x, 200);
		if (rc == -EAGAIN) {
			fprintf(stderr,
				"aisio xal export --watch: files changed while re-indexed; kept the last index\n");
			rc = 0;
			continue;
		}
		if (rc < 0) {
			fprintf(stderr, "aisio xal export --watch: %s\n", strerror(-rc));
			break;
		}
		if (rc > 0) {
			/* stats walk the pools: read them after an update only, never while idle */
			xal_stats(x, &st);
			printf("updated %d (%s)\n", rc, st.updates_full > full_seen ? "full" : "incremental");
			fflush(stdout);
			full_seen = st.updates_full;
		}
	}
	xal_shm_unlink(name);
	return rc < 0 ? 1 : 0;
}

int cmd_xal(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"json", no_argument, NULL, 'j'},           {"backend", required_argument, NULL, 'b'},
		{"lba-size", required_argument, NULL, 'l'}, {"seconds", required_argument, NULL, 's'},
		{"watch", no_argument, NULL, 'w'},          {"help", no_argument, NULL, 'h'},
		{"ignore-log", no_argument, NULL, 'i'},     {NULL, 0, NULL, 0},
	};
	struct xopts o = {0};
	const char *verb, *src, *arg;
	struct xal *x = NULL;
	int c, rc;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	verb = argv[1];
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "jb:l:s:whi", lopts, NULL)) != -1) {
		switch (c) {
		case 'j': o.json = 1; break;
		case 'i': o.ignore_log = 1; break;
		case 'w': o.watch = 1; break;
		case 's': o.seconds = atof(optarg); break;
		case 'l':
			o.lba_size = (uint32_t)strtoul(optarg, NULL, 0);
			if (!o.lba_size || (o.lba_size & (o.lba_size - 1))) {
				fprintf(stderr, "aisio xal: --lba-size must be a power of two\n");
				return 2;
			}
			break;
		case 'b':
			if (!strcmp(optarg, "fiemap"))
				o.backend = XAL_BACKEND_FIEMAP;
			else if (!strcmp(optarg, "xfs"))
				o.backend = XAL_BACKEND_XFS;
			else {
				fprintf(stderr, "aisio xal: unknown backend '%s' (fiemap, xfs)\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	/* positional arguments after the verb: argv + 1 was permuted by getopt */
	{
		char **pos = argv + 1 + optind;
		int npos = argc - 1 - optind;

		if (!strcmp(verb, "unlink")) {
			if (npos < 1) {
				usage(stderr);
				return 2;
			}
			rc = xal_shm_unlink(pos[0]);
			if (rc)
				fprintf(stderr, "aisio xal unlink: %s: %s\n", pos[0], strerror(-rc));
			return rc ? 1 : 0;
		}
		if (npos < 1) {
			usage(stderr);
			return 2;
		}
		src = pos[0];
		arg = npos > 1 ? pos[1] : NULL;
	}
	if ((!strcmp(verb, "extents") || !strcmp(verb, "export")) && !arg) {
		usage(stderr);
		return 2;
	}
	if (strcmp(verb, "ls") && strcmp(verb, "extents") && strcmp(verb, "stats") && strcmp(verb, "find") &&
	    strcmp(verb, "dump") && strcmp(verb, "export") && strcmp(verb, "check")) {
		fprintf(stderr, "aisio xal: unknown verb '%s'\n", verb);
		usage(stderr);
		return 2;
	}
	if (open_source(src, &o, &x))
		return 1;
	if (!strcmp(verb, "ls"))
		rc = do_ls(x, arg ? arg : "", &o);
	else if (!strcmp(verb, "extents"))
		rc = do_extents(x, arg, &o);
	else if (!strcmp(verb, "stats"))
		rc = do_stats(x, src, &o);
	else if (!strcmp(verb, "find"))
		rc = xal_walk(x, find_cb, NULL) ? 1 : 0;
	else if (!strcmp(verb, "dump"))
		rc = xal_walk(x, dump_cb, NULL) ? 1 : 0;
	else if (!strcmp(verb, "check"))
		rc = do_check(x);
	else
		rc = do_export(x, arg, &o);
	xal_close(x);
	return rc;
}
