/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device commands of the aisio tool:
 *
 *   aisio devices [--json]                       NVMe PCI functions: driver, IOMMU group, namespaces, use
 *   aisio bind BDF vfio-pci|uio_pci_generic|nvme|none
 *   aisio hugepages [--reserve N] [--json]
 *   aisio id-ctrl [--json] DEVICE
 *   aisio id-ns [--nsid N] [--json] DEVICE
 *   aisio smart-log [--json] DEVICE
 *
 * Everything about a function comes from sysfs (/sys/bus/pci/devices/<bdf>), mounts from
 * /proc/self/mountinfo, aisio's own users from the flock on /run/lock/aisio-<bdf>.lock as
 * listed in /proc/locks (looked at, never taken). The identify and log commands open the
 * function with the user-space driver, so they work where nvme-cli cannot: on functions
 * bound to vfio-pci or uio_pci_generic, and on emulated controllers (emu:...).
 */
#include "commands.h"

#include <aisio/nvme_spec.h>
#include <aisio/nvmed.h>
#include <aisio/pci.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define SYS_PCI "/sys/bus/pci/devices"
#define MAX_NS_LIST 64
#define MAX_MOUNTS_PER_DEV 8

/* ---- small sysfs helpers ---------------------------------------------------------------------------------- */

/* Read a sysfs attribute into buf without the trailing newline; -errno when absent. */
static int sysfs_read(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sysfs_read(char *buf, size_t len, const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	int err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	return 0;
}

static int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = strlen(val);
	ssize_t n = write(fd, val, len);
	int err = errno;
	close(fd);
	if (n < 0)
		return -err;
	return (size_t)n == len ? 0 : -EIO;
}

/* Basename of a sysfs symlink (driver, iommu_group, physfn), "" when there is none. */
static void sysfs_link_name(char *out, size_t len, const char *bdf, const char *link)
{
	char path[PATH_MAX], target[PATH_MAX];
	snprintf(path, sizeof(path), SYS_PCI "/%s/%s", bdf, link);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	out[0] = 0;
	if (n < 0)
		return;
	target[n] = 0;
	const char *base = strrchr(target, '/');
	snprintf(out, len, "%.*s", (int)(len - 1), base ? base + 1 : target);
}

/* ---- JSON output helpers ---------------------------------------------------------------------------------- */

static void json_str(FILE *f, const char *s, size_t maxlen)
{
	fputc('"', f);
	for (size_t i = 0; i < maxlen && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* A fixed-width, space-padded identify string (sn, mn, fr) without the padding. */
static void id_string(char *out, size_t outlen, const char *field, size_t len)
{
	while (len > 0 && (field[len - 1] == ' ' || field[len - 1] == 0))
		len--;
	if (len >= outlen)
		len = outlen - 1;
	for (size_t i = 0; i < len; i++)
		out[i] = isprint((unsigned char)field[i]) ? field[i] : '.';
	out[len] = 0;
}

/* ---- what uses a function: mounts, holders, aisio locks --------------------------------------------------- */

struct mount_ent {
	dev_t dev;
	char point[256];
};

struct mount_tab {
	struct mount_ent *e;
	size_t n;
};

/* Unescape mountinfo's octal escapes (\040 for a space) in place. */
static void mountinfo_unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && isdigit((unsigned char)r[1]) && isdigit((unsigned char)r[2]) &&
		    isdigit((unsigned char)r[3])) {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = 0;
}

static int mount_tab_load(struct mount_tab *t)
{
	t->e = NULL;
	t->n = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char line[4096];
	size_t cap = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned maj, mnr;
		char point[1024];
		if (sscanf(line, "%*u %*u %u:%u %*s %1023s", &maj, &mnr, point) != 3)
			continue;
		if (t->n == cap) {
			cap = cap ? cap * 2 : 32;
			struct mount_ent *n = realloc(t->e, cap * sizeof(*n));
			if (!n) {
				fclose(f);
				free(t->e);
				t->e = NULL;
				t->n = 0;
				return -ENOMEM;
			}
			t->e = n;
		}
		mountinfo_unescape(point);
		t->e[t->n].dev = makedev(maj, mnr);
		snprintf(t->e[t->n].point, sizeof(t->e[t->n].point), "%.255s", point);
		t->n++;
	}
	fclose(f);
	return 0;
}

/* The swap areas in /proc/swaps are block devices in use too. */
static bool swap_uses(const char *blk)
{
	FILE *f = fopen("/proc/swaps", "re");
	if (!f)
		return false;
	char line[512], want[64];
	snprintf(want, sizeof(want), "/dev/%.50s", blk);
	bool used = false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, want, strlen(want)) == 0)
			used = true;
	}
	fclose(f);
	return used;
}

/* A namespace block device as the kernel nvme driver shows it. */
struct ns_info {
	char name[32];          /* nvme0n1 */
	unsigned long long size_bytes;
	char mounts[MAX_MOUNTS_PER_DEV][256];
	unsigned nmounts;
	bool held;              /* holders (dm, md) or swap on it or a partition */
};

static dev_t blk_devnum(const char *sysdir)
{
	char buf[32];
	unsigned maj, mnr;
	if (sysfs_read(buf, sizeof(buf), "%s/dev", sysdir) < 0 || sscanf(buf, "%u:%u", &maj, &mnr) != 2)
		return 0;
	return makedev(maj, mnr);
}

static bool dir_nonempty(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return false;
	bool any = false;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			any = true;
	closedir(d);
	return any;
}

static void ns_add_mounts(struct ns_info *ns, const struct mount_tab *mt, dev_t dev)
{
	for (size_t i = 0; i < mt->n; i++) {
		if (mt->e[i].dev != dev || ns->nmounts == MAX_MOUNTS_PER_DEV)
			continue;
		snprintf(ns->mounts[ns->nmounts++], sizeof(ns->mounts[0]), "%s", mt->e[i].point);
	}
}

/* Fill what is mounted or held on block device blk and its partitions. */
static void ns_usage(struct ns_info *ns, const struct mount_tab *mt)
{
	char dir[64], sub[PATH_MAX];
	snprintf(dir, sizeof(dir), "/sys/class/block/%.40s", ns->name);
	char buf[32];
	if (sysfs_read(buf, sizeof(buf), "%s/size", dir) == 0)
		ns->size_bytes = strtoull(buf, NULL, 10) * 512ull;
	ns_add_mounts(ns, mt, blk_devnum(dir));
	snprintf(sub, sizeof(sub), "%s/holders", dir);
	ns->held = dir_nonempty(sub) || swap_uses(ns->name);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	size_t nlen = strlen(ns->name);
	while ((e = readdir(d))) {
		/* partitions: nvme0n1p1 */
		if (strncmp(e->d_name, ns->name, nlen) != 0 || e->d_name[nlen] != 'p')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		ns_add_mounts(ns, mt, blk_devnum(sub));
		char hold[PATH_MAX + 16];
		snprintf(hold, sizeof(hold), "%s/holders", sub);
		if (dir_nonempty(hold) || swap_uses(e->d_name))
			ns->held = true;
	}
	closedir(d);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ns_info *)a)->name, ((const struct ns_info *)b)->name);
}

/*
 * Namespaces of a function on the kernel nvme driver: /sys/bus/pci/devices/<bdf>/nvme/nvmeX/
 * holds nvmeXnY, or with native multipath nvmeScXnY paths whose block device is nvmeSnY.
 */
static unsigned function_namespaces(const char *bdf, struct ns_info *out, unsigned max, const struct mount_tab *mt,
				    char *ctrl_name, size_t ctrl_len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), SYS_PCI "/%s/nvme", bdf);
	ctrl_name[0] = 0;
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "nvme", 4) == 0)
			snprintf(ctrl_name, ctrl_len, "%.*s", (int)ctrl_len - 1, e->d_name);
	closedir(d);
	if (!ctrl_name[0])
		return 0;
	snprintf(path, sizeof(path), SYS_PCI "/%s/nvme/%s", bdf, ctrl_name);
	d = opendir(path);
	if (!d)
		return 0;
	unsigned n = 0;
	while ((e = readdir(d)) && n < max) {
		unsigned s, c, ns;
		char tail;
		struct ns_info *ni = &out[n];
		memset(ni, 0, sizeof(*ni));
		if (sscanf(e->d_name, "nvme%uc%un%u%c", &s, &c, &ns, &tail) == 3)
			snprintf(ni->name, sizeof(ni->name), "nvme%un%u", s, ns);
		else if (sscanf(e->d_name, "nvme%un%u%c", &s, &ns, &tail) == 2)
			snprintf(ni->name, sizeof(ni->name), "nvme%un%u", s, ns);
		else
			continue;
		ns_usage(ni, mt);
		n++;
	}
	closedir(d);
	qsort(out, n, sizeof(*out), name_cmp);
	return n;
}

/* The aisio lock file of a function, as lib/pci/pci.c names it. */
static void lock_path(char *out, size_t len, const char *bdf)
{
	const char *dir = access("/run/lock", F_OK) == 0 ? "/run/lock" : "/tmp";
	snprintf(out, len, "%s/aisio-%s.lock", dir, bdf);
}

/* The pid holding aisio's flock on a function (from /proc/locks), 0 when none, without touching the lock. */
static long aisio_holder(const char *bdf)
{
	char path[PATH_MAX];
	lock_path(path, sizeof(path), bdf);
	struct stat st;
	if (stat(path, &st) < 0)
		return 0;
	FILE *f = fopen("/proc/locks", "re");
	if (!f)
		return 0;
	char line[256];
	long pid = 0;
	while (fgets(line, sizeof(line), f)) {
		/* "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"; "->" lines are waiters */
		char kind[16];
		long p;
		unsigned maj, mnr;
		unsigned long long ino;
		if (strstr(line, "->"))
			continue;
		if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%llu", kind, &p, &maj, &mnr, &ino) != 5)
			continue;
		if (strcmp(kind, "FLOCK") == 0 && ino == (unsigned long long)st.st_ino &&
		    makedev(maj, mnr) == st.st_dev)
			pid = p;
	}
	fclose(f);
	return pid;
}

/* A process holding one of a function's device nodes open. */
struct fd_user {
	long pid;
	char comm[20];
	char node[80];
};

#define MAX_USERS 4
#define MAX_NODES (MAX_NS_LIST + 4)

/* Does an fd target (readlink of /proc/PID/fd/N) name one of the nodes? A node ending in
 * '*' matches by prefix (partitions nvme0n1p1 of nvme0n1, sysfs resource files). */
static const char *node_match(const char *target, char nodes[][80], unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		size_t len = strlen(nodes[i]);
		if (len && nodes[i][len - 1] == '*') {
			if (strncmp(target, nodes[i], len - 1) == 0)
				return nodes[i];
		} else if (strcmp(target, nodes[i]) == 0) {
			return nodes[i];
		}
	}
	return NULL;
}

/*
 * Processes other than this one with the function's device nodes open: namespace block
 * devices (and partitions), the controller's character device, the vfio group, the uio
 * node, the sysfs resource files (BAR mappings of user-space drivers). Needs root to see
 * other users' processes.
 */
static unsigned fd_users(const char *bdf, const char *ctrl, const char *group, const struct ns_info *ns,
			 unsigned nns, struct fd_user *out, unsigned max)
{
	char nodes[MAX_NODES][80];
	unsigned n = 0;
	for (unsigned i = 0; i < nns && n < MAX_NODES; i++)
		snprintf(nodes[n++], sizeof(nodes[0]), "/dev/%.40s*", ns[i].name);
	if (ctrl[0])
		snprintf(nodes[n++], sizeof(nodes[0]), "/dev/%.40s", ctrl);
	if (group[0])
		snprintf(nodes[n++], sizeof(nodes[0]), "/dev/vfio/%.40s", group);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), SYS_PCI "/%s/uio", bdf);
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (strncmp(e->d_name, "uio", 3) == 0 && n < MAX_NODES)
				snprintf(nodes[n++], sizeof(nodes[0]), "/dev/%.40s", e->d_name);
		closedir(d);
	}
	/* /sys/devices/.../<bdf>/resource0 is what readlink shows for an mmapped BAR file */
	snprintf(nodes[n++], sizeof(nodes[0]), "/sys/devices/*");
	char resource_tail[32];
	snprintf(resource_tail, sizeof(resource_tail), "/%s/resource", bdf);

	unsigned found = 0;
	DIR *proc = opendir("/proc");
	if (!proc)
		return 0;
	struct dirent *pe;
	long self = (long)getpid();
	while ((pe = readdir(proc)) && found < max) {
		char *end;
		long pid = strtol(pe->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self)
			continue;
		char fddir[64];
		snprintf(fddir, sizeof(fddir), "/proc/%ld/fd", pid);
		DIR *fds = opendir(fddir);
		if (!fds)
			continue;
		struct dirent *fe;
		while ((fe = readdir(fds))) {
			char link[96], target[PATH_MAX];
			snprintf(link, sizeof(link), "%s/%.20s", fddir, fe->d_name);
			ssize_t len = readlink(link, target, sizeof(target) - 1);
			if (len <= 0)
				continue;
			target[len] = 0;
			const char *m = node_match(target, nodes, n);
			if (m && strcmp(m, "/sys/devices/*") == 0 && !strstr(target, resource_tail))
				m = NULL;
			if (!m)
				continue;
			struct fd_user *u = &out[found++];
			u->pid = pid;
			snprintf(u->node, sizeof(u->node), "%.79s", target);
			char comm[32];
			if (sysfs_read(comm, sizeof(comm), "/proc/%ld/comm", pid) == 0)
				snprintf(u->comm, sizeof(u->comm), "%.19s", comm);
			else
				snprintf(u->comm, sizeof(u->comm), "?");
			break; /* one line per process */
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

/* ---- aisio devices ---------------------------------------------------------------------------------------- */

struct pci_fn {
	char bdf[16];
	char vendor[8], device[8], class_[12];
	char driver[64];
	char iommu_group[16];
	char physfn[16];        /* set on an SR-IOV virtual function */
	char ctrl[32];          /* nvme0 when on the kernel driver */
	int numa_node;
	int sriov_numvfs, sriov_totalvfs;  /* -1 without SR-IOV */
	struct ns_info ns[MAX_NS_LIST];
	unsigned nns;
	bool in_use;            /* a namespace mounted or held */
	long aisio_pid;
	struct fd_user users[MAX_USERS]; /* processes with a device node of the function open */
	unsigned nusers;
};

static bool fn_is_nvme(const char *bdf)
{
	char cls[16];
	if (sysfs_read(cls, sizeof(cls), SYS_PCI "/%s/class", bdf) < 0)
		return false;
	return (strtoul(cls, NULL, 16) >> 8) == 0x0108;
}

static void fn_load(struct pci_fn *fn, const char *bdf, const struct mount_tab *mt)
{
	memset(fn, 0, sizeof(*fn));
	char buf[32];
	snprintf(fn->bdf, sizeof(fn->bdf), "%s", bdf);
	if (sysfs_read(buf, sizeof(buf), SYS_PCI "/%s/vendor", bdf) == 0)
		snprintf(fn->vendor, sizeof(fn->vendor), "%.4s", buf + (strncmp(buf, "0x", 2) ? 0 : 2));
	if (sysfs_read(buf, sizeof(buf), SYS_PCI "/%s/device", bdf) == 0)
		snprintf(fn->device, sizeof(fn->device), "%.4s", buf + (strncmp(buf, "0x", 2) ? 0 : 2));
	sysfs_read(fn->class_, sizeof(fn->class_), SYS_PCI "/%s/class", bdf);
	sysfs_link_name(fn->driver, sizeof(fn->driver), bdf, "driver");
	sysfs_link_name(fn->iommu_group, sizeof(fn->iommu_group), bdf, "iommu_group");
	sysfs_link_name(fn->physfn, sizeof(fn->physfn), bdf, "physfn");
	fn->numa_node = sysfs_read(buf, sizeof(buf), SYS_PCI "/%s/numa_node", bdf) == 0 ? atoi(buf) : -1;
	fn->sriov_numvfs = sysfs_read(buf, sizeof(buf), SYS_PCI "/%s/sriov_numvfs", bdf) == 0 ? atoi(buf) : -1;
	fn->sriov_totalvfs = sysfs_read(buf, sizeof(buf), SYS_PCI "/%s/sriov_totalvfs", bdf) == 0 ? atoi(buf) : -1;
	fn->nns = function_namespaces(bdf, fn->ns, MAX_NS_LIST, mt, fn->ctrl, sizeof(fn->ctrl));
	for (unsigned i = 0; i < fn->nns; i++)
		if (fn->ns[i].nmounts || fn->ns[i].held)
			fn->in_use = true;
	fn->aisio_pid = aisio_holder(bdf);
	fn->nusers = fd_users(bdf, fn->ctrl, strcmp(fn->driver, "vfio-pci") == 0 ? fn->iommu_group : "", fn->ns,
			      fn->nns, fn->users, MAX_USERS);
}

static int bdf_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* NVMe functions (class 0x0108xx), sorted by address. *out is freed by the caller. */
static int nvme_functions(char (**out)[16], size_t *count)
{
	*out = NULL;
	*count = 0;
	DIR *d = opendir(SYS_PCI);
	if (!d) {
		int err = errno;
		fprintf(stderr, "aisio: cannot list %s: %s\n", SYS_PCI, strerror(err));
		return -err;
	}
	char(*list)[16] = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !fn_is_nvme(e->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			char(*nl)[16] = realloc(list, cap * sizeof(*nl));
			if (!nl) {
				free(list);
				closedir(d);
				return -ENOMEM;
			}
			list = nl;
		}
		snprintf(list[n++], 16, "%.15s", e->d_name);
	}
	closedir(d);
	if (n)
		qsort(list, n, sizeof(*list), bdf_cmp);
	*out = list;
	*count = n;
	return 0;
}

static void fn_print_json(FILE *f, const struct pci_fn *fn)
{
	fprintf(f, "{\"bdf\": \"%s\", \"vendor\": \"0x%s\", \"device\": \"0x%s\", \"class\": \"%s\", ", fn->bdf,
		fn->vendor, fn->device, fn->class_);
	fprintf(f, "\"driver\": ");
	if (fn->driver[0])
		json_str(f, fn->driver, sizeof(fn->driver));
	else
		fprintf(f, "null");
	if (fn->iommu_group[0])
		fprintf(f, ", \"iommu_group\": %d, ", atoi(fn->iommu_group));
	else
		fprintf(f, ", \"iommu_group\": null, ");
	fprintf(f, "\"numa_node\": %d, ", fn->numa_node);
	if (fn->physfn[0])
		fprintf(f, "\"physfn\": \"%s\", ", fn->physfn);
	if (fn->sriov_totalvfs >= 0)
		fprintf(f, "\"sriov\": {\"numvfs\": %d, \"totalvfs\": %d}, ", fn->sriov_numvfs, fn->sriov_totalvfs);
	if (fn->ctrl[0])
		fprintf(f, "\"controller\": \"%s\", ", fn->ctrl);
	fprintf(f, "\"namespaces\": [");
	for (unsigned i = 0; i < fn->nns; i++) {
		const struct ns_info *ns = &fn->ns[i];
		fprintf(f, "%s{\"name\": \"%s\", \"size_bytes\": %llu, \"mounts\": [", i ? ", " : "", ns->name,
			ns->size_bytes);
		for (unsigned m = 0; m < ns->nmounts; m++) {
			fprintf(f, "%s", m ? ", " : "");
			json_str(f, ns->mounts[m], sizeof(ns->mounts[m]));
		}
		fprintf(f, "], \"held\": %s}", ns->held ? "true" : "false");
	}
	fprintf(f, "], \"in_use\": %s, \"aisio_open\": %s", fn->in_use ? "true" : "false",
		fn->aisio_pid ? "true" : "false");
	if (fn->aisio_pid)
		fprintf(f, ", \"aisio_pid\": %ld", fn->aisio_pid);
	fprintf(f, ", \"open_by\": [");
	for (unsigned i = 0; i < fn->nusers; i++) {
		fprintf(f, "%s{\"pid\": %ld, \"comm\": ", i ? ", " : "", fn->users[i].pid);
		json_str(f, fn->users[i].comm, sizeof(fn->users[i].comm));
		fprintf(f, ", \"node\": ");
		json_str(f, fn->users[i].node, sizeof(fn->users[i].node));
		fprintf(f, "}");
	}
	fprintf(f, "]}");
}

static void fn_print_row(const struct pci_fn *fn)
{
	char ns[256] = "-", use[128] = "-";
	size_t o = 0;
	for (unsigned i = 0; i < fn->nns && o < sizeof(ns); i++)
		o += (size_t)snprintf(ns + o, sizeof(ns) - o, "%s%s", i ? "," : "", fn->ns[i].name);
	o = 0;
	for (unsigned i = 0; i < fn->nns && o < sizeof(use); i++) {
		for (unsigned m = 0; m < fn->ns[i].nmounts && o < sizeof(use); m++)
			o += (size_t)snprintf(use + o, sizeof(use) - o, "%s%s", o ? "," : "", fn->ns[i].mounts[m]);
		if (fn->ns[i].held && o < sizeof(use))
			o += (size_t)snprintf(use + o, sizeof(use) - o, "%s%s held", o ? "," : "", fn->ns[i].name);
	}
	char aisio[64] = "-";
	if (fn->aisio_pid)
		snprintf(aisio, sizeof(aisio), "open (pid %ld)", fn->aisio_pid);
	else if (fn->nusers)
		snprintf(aisio, sizeof(aisio), "%s (pid %ld)%s", fn->users[0].comm, fn->users[0].pid,
			 fn->nusers > 1 ? " +" : "");
	char kind[24] = "";
	if (fn->physfn[0])
		snprintf(kind, sizeof(kind), " VF of %s", fn->physfn);
	else if (fn->sriov_totalvfs > 0)
		snprintf(kind, sizeof(kind), " PF %d/%d VFs", fn->sriov_numvfs, fn->sriov_totalvfs);
	printf("%-13s %s:%s  %-16s %-6s %-24s %-20s %s%s\n", fn->bdf, fn->vendor, fn->device,
	       fn->driver[0] ? fn->driver : "(none)", fn->iommu_group[0] ? fn->iommu_group : "-", ns, use, aisio, kind);
}

static void usage_devices(FILE *f)
{
	fprintf(f, "usage: aisio devices [--json]\n"
		   "List NVMe PCI functions (class 0x0108): driver, IOMMU group, namespaces (block devices),\n"
		   "what is mounted on them, and who has the function open: an aisio process (its lock), or\n"
		   "any process holding a device node (block device, /dev/nvmeN, /dev/vfio/G, /dev/uioN, BAR).\n");
}

int cmd_devices(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			usage_devices(stdout);
			return 0;
		default:
			usage_devices(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage_devices(stderr);
		return 2;
	}
	char(*list)[16];
	size_t n;
	if (nvme_functions(&list, &n) < 0)
		return 1;
	struct mount_tab mt;
	if (mount_tab_load(&mt) < 0)
		fprintf(stderr, "aisio: cannot read /proc/self/mountinfo: mounts are not shown\n");
	struct pci_fn *fn = malloc(sizeof(*fn));
	if (!fn) {
		free(list);
		free(mt.e);
		return 1;
	}
	if (json)
		printf("{\"devices\": [");
	else if (n)
		printf("%-13s %-9s  %-16s %-6s %-24s %-20s %s\n", "PCI", "ID", "DRIVER", "IOMMU", "NAMESPACES",
		       "MOUNTED", "OPEN BY");
	else
		printf("no NVMe PCI functions\n");
	for (size_t i = 0; i < n; i++) {
		fn_load(fn, list[i], &mt);
		if (json) {
			printf("%s", i ? ", " : "");
			fn_print_json(stdout, fn);
		} else {
			fn_print_row(fn);
		}
	}
	if (json)
		printf("]}\n");
	free(fn);
	free(mt.e);
	free(list);
	return 0;
}

/* ---- aisio bind ------------------------------------------------------------------------------------------- */

static void usage_bind(FILE *f)
{
	fprintf(f, "usage: aisio bind BDF vfio-pci|uio_pci_generic|nvme|none\n"
		   "Bind an NVMe PCI function to a driver (driver_override, unbind, drivers_probe). Refused\n"
		   "while a namespace of it is mounted or held, or while any process has it open.\n");
}

static int wait_driver(const char *bdf, const char *want, unsigned timeout_ms)
{
	char cur[64];
	for (unsigned waited = 0;; waited += 10) {
		sysfs_link_name(cur, sizeof(cur), bdf, "driver");
		if (strcmp(cur, want) == 0)
			return 0;
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int cmd_bind(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage_bind(stdout);
		return 0;
	}
	if (argc != 3) {
		usage_bind(stderr);
		return 2;
	}
	char bdf[16];
	if (pci_parse_bdf(argv[1], bdf) < 0) {
		fprintf(stderr, "aisio bind: '%s' is not a PCI address (expected 0000:01:00.0)\n", argv[1]);
		return 2;
	}
	const char *drv = argv[2];
	static const char *const known[] = {"vfio-pci", "uio_pci_generic", "nvme", "none"};
	bool ok = false;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		ok |= strcmp(drv, known[i]) == 0;
	if (!ok) {
		fprintf(stderr, "aisio bind: unknown driver '%s': choose vfio-pci, uio_pci_generic, nvme or none\n", drv);
		return 2;
	}
	char path[PATH_MAX];
	snprintf(path, sizeof(path), SYS_PCI "/%s", bdf);
	if (access(path, F_OK) < 0) {
		fprintf(stderr, "aisio bind: no PCI function %s on this machine\n", bdf);
		return 1;
	}
	if (!fn_is_nvme(bdf)) {
		fprintf(stderr, "aisio bind: %s is not an NVMe controller (class 0x0108); aisio leaves it alone\n", bdf);
		return 1;
	}
	struct mount_tab mt;
	if (mount_tab_load(&mt) < 0) {
		fprintf(stderr, "aisio bind: cannot read /proc/self/mountinfo, so cannot tell whether %s is in use\n",
			bdf);
		return 1;
	}
	struct pci_fn *fn = malloc(sizeof(*fn));
	if (!fn) {
		free(mt.e);
		return 1;
	}
	fn_load(fn, bdf, &mt);
	free(mt.e);
	int ret = 1;
	const char *cur = fn->driver[0] ? fn->driver : "none";
	if (strcmp(cur, drv) == 0) {
		printf("%s is already bound to %s\n", bdf, drv);
		ret = 0;
		goto out;
	}
	if (fn->in_use) {
		fprintf(stderr, "aisio bind: %s is in use, refusing to unbind it from %s:", bdf, cur);
		for (unsigned i = 0; i < fn->nns; i++) {
			for (unsigned m = 0; m < fn->ns[i].nmounts; m++)
				fprintf(stderr, " %s mounted on %s;", fn->ns[i].name, fn->ns[i].mounts[m]);
			if (fn->ns[i].held)
				fprintf(stderr, " %s held (device mapper, md or swap);", fn->ns[i].name);
		}
		fprintf(stderr, " unmount first\n");
		goto out;
	}
	if (fn->aisio_pid) {
		fprintf(stderr, "aisio bind: %s is open in aisio process %ld; stop it first\n", bdf, fn->aisio_pid);
		goto out;
	}
	if (fn->nusers) {
		fprintf(stderr, "aisio bind: %s is open:", bdf);
		for (unsigned i = 0; i < fn->nusers; i++)
			fprintf(stderr, " %s (pid %ld) has %s;", fn->users[i].comm, fn->users[i].pid, fn->users[i].node);
		fprintf(stderr, " stop them first\n");
		goto out;
	}
	if (strcmp(drv, "vfio-pci") == 0 && !fn->iommu_group[0]) {
		fprintf(stderr, "aisio bind: %s has no IOMMU group (the IOMMU is off): vfio-pci cannot take it. "
			"Boot with intel_iommu=on / amd_iommu=on, or bind to uio_pci_generic\n", bdf);
		goto out;
	}
	if (strcmp(drv, "none") != 0) {
		snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s", drv);
		if (access(path, F_OK) < 0) {
			fprintf(stderr, "aisio bind: the %s driver is not loaded (modprobe %s)\n", drv, drv);
			goto out;
		}
	}
	/* driver_override makes the next probe pick exactly this driver (and "none" none at all). */
	snprintf(path, sizeof(path), SYS_PCI "/%s/driver_override", bdf);
	int rc = sysfs_write(path, strcmp(drv, "none") == 0 ? "\n" : drv);
	if (rc < 0) {
		fprintf(stderr, "aisio bind: %s: writing %s failed: %s%s\n", bdf, path, strerror(-rc),
			rc == -EACCES ? " (needs root)" : "");
		goto out;
	}
	if (fn->driver[0]) {
		snprintf(path, sizeof(path), SYS_PCI "/%s/driver/unbind", bdf);
		rc = sysfs_write(path, bdf);
		if (rc < 0) {
			fprintf(stderr, "aisio bind: %s: unbinding from %s failed: %s\n", bdf, fn->driver, strerror(-rc));
			goto out;
		}
	}
	if (strcmp(drv, "none") == 0) {
		printf("%s unbound from %s\n", bdf, cur);
		ret = 0;
		goto out;
	}
	rc = sysfs_write("/sys/bus/pci/drivers_probe", bdf);
	if (rc < 0 && rc != -EINVAL) {
		fprintf(stderr, "aisio bind: %s: drivers_probe failed: %s\n", bdf, strerror(-rc));
		goto out;
	}
	/* nvme probes asynchronously: give it a bounded while. */
	if (wait_driver(bdf, drv, 5000) < 0) {
		char now[64];
		sysfs_link_name(now, sizeof(now), bdf, "driver");
		fprintf(stderr, "aisio bind: %s did not bind to %s (now: %s); see the kernel log (dmesg)\n", bdf, drv,
			now[0] ? now : "no driver");
		goto out;
	}
	printf("%s bound to %s (was %s)\n", bdf, drv, cur);
	ret = 0;
out:
	free(fn);
	return ret;
}

/* ---- aisio hugepages -------------------------------------------------------------------------------------- */

struct huge_state {
	long total, free_, rsvd, surp, size_kb;
};

static int huge_read(struct huge_state *h)
{
	memset(h, 0, sizeof(*h));
	FILE *f = fopen("/proc/meminfo", "re");
	if (!f)
		return -errno;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "HugePages_Total: %ld", &h->total);
		sscanf(line, "HugePages_Free: %ld", &h->free_);
		sscanf(line, "HugePages_Rsvd: %ld", &h->rsvd);
		sscanf(line, "HugePages_Surp: %ld", &h->surp);
		sscanf(line, "Hugepagesize: %ld kB", &h->size_kb);
	}
	fclose(f);
	return 0;
}

static void usage_hugepages(FILE *f)
{
	fprintf(f, "usage: aisio hugepages [--reserve N] [--json]\n"
		   "Show the hugepages reserved for DMA memory of real devices, or reserve N of the default\n"
		   "size (vm.nr_hugepages; needs root). The memlock limit is shown too: DMA memory is locked.\n");
}

int cmd_hugepages(int argc, char **argv)
{
	static const struct option opts[] = {
		{"reserve", required_argument, NULL, 'r'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool json = false;
	long reserve = -1;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': {
			char *end;
			reserve = strtol(optarg, &end, 10);
			if (*end || reserve < 0) {
				fprintf(stderr, "aisio hugepages: --reserve wants a count of pages, got '%s'\n", optarg);
				return 2;
			}
			break;
		}
		case 'j':
			json = true;
			break;
		case 'h':
			usage_hugepages(stdout);
			return 0;
		default:
			usage_hugepages(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage_hugepages(stderr);
		return 2;
	}
	int ret = 0;
	if (reserve >= 0) {
		char val[32];
		snprintf(val, sizeof(val), "%ld\n", reserve);
		int rc = sysfs_write("/proc/sys/vm/nr_hugepages", val);
		if (rc < 0) {
			fprintf(stderr, "aisio hugepages: writing /proc/sys/vm/nr_hugepages failed: %s%s\n", strerror(-rc),
				rc == -EACCES || rc == -EPERM ? " (needs root)" : "");
			return 1;
		}
	}
	struct huge_state h;
	if (huge_read(&h) < 0) {
		fprintf(stderr, "aisio hugepages: cannot read /proc/meminfo\n");
		return 1;
	}
	if (reserve >= 0 && h.total < reserve) {
		fprintf(stderr, "aisio hugepages: asked for %ld, the kernel reserved %ld (memory too fragmented or "
			"too small; reserve at boot with hugepages=%ld)\n", reserve, h.total, reserve);
		ret = 1;
	}
	struct rlimit rl;
	bool have_rl = getrlimit(RLIMIT_MEMLOCK, &rl) == 0;
	if (json) {
		printf("{\"page_kb\": %ld, \"total\": %ld, \"free\": %ld, \"reserved\": %ld, \"surplus\": %ld, "
		       "\"free_bytes\": %lld, \"memlock_bytes\": ",
		       h.size_kb, h.total, h.free_, h.rsvd, h.surp, (long long)h.free_ * h.size_kb * 1024);
		if (have_rl && rl.rlim_cur != RLIM_INFINITY)
			printf("%llu}\n", (unsigned long long)rl.rlim_cur);
		else
			printf("null}\n");
	} else {
		printf("hugepages of %ld kB: %ld reserved, %ld free (%ld MiB), %ld in use%s\n", h.size_kb, h.total, h.free_,
		       h.free_ * h.size_kb / 1024, h.total - h.free_, h.total == 0 ? " -- aisio needs some for real "
		       "devices: aisio hugepages --reserve N" : "");
		if (have_rl) {
			if (rl.rlim_cur == RLIM_INFINITY)
				printf("memlock limit: unlimited\n");
			else
				printf("memlock limit: %llu KiB%s\n", (unsigned long long)rl.rlim_cur / 1024,
				       geteuid() == 0 ? " (root: not enforced)" : "");
		}
	}
	return ret;
}

/* ---- id-ctrl, id-ns, smart-log ---------------------------------------------------------------------------- */

struct dev_cmd_args {
	bool json;
	uint32_t nsid;
	const char *dev;
};

static int parse_dev_args(int argc, char **argv, struct dev_cmd_args *a, bool want_nsid, const char *usage)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"nsid", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	a->json = false;
	a->nsid = 1;
	a->dev = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "jn:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			a->json = true;
			break;
		case 'n': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 0);
			if (!want_nsid || *end || v == 0 || v > 0xfffffffeul) {
				fprintf(stderr, "%s: bad --nsid '%s'\n%s", argv[0], optarg, usage);
				return 2;
			}
			a->nsid = (uint32_t)v;
			break;
		}
		case 'h':
			printf("%s", usage);
			return 1;
		default:
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	a->dev = argv[optind];
	return 0;
}

/* Little-endian 128-bit counter as a decimal string. */
static void u128_str(char *out, size_t len, const uint8_t v[16])
{
	unsigned __int128 x = 0;
	for (int i = 15; i >= 0; i--)
		x = (x << 8) | v[i];
	char tmp[48];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + (int)(x % 10));
		x /= 10;
	} while (x && n < (int)sizeof(tmp));
	size_t o = 0;
	while (n > 0 && o + 1 < len)
		out[o++] = tmp[--n];
	out[o] = 0;
}

static const char usage_id_ctrl[] =
	"usage: aisio id-ctrl [--json] DEVICE\n"
	"Identify Controller of a function bound to vfio-pci or uio_pci_generic (0000:01:00.0), or of an\n"
	"emulated controller (emu:...), through the user-space driver.\n";

int cmd_id_ctrl(int argc, char **argv)
{
	struct dev_cmd_args a;
	int rc = parse_dev_args(argc, argv, &a, false, usage_id_ctrl);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct nvmed_ctrl *c;
	rc = nvmed_ctrl_open(&c, a.dev, NULL);
	if (rc < 0) {
		fprintf(stderr, "aisio id-ctrl: cannot open %s: %s\n", a.dev, strerror(-rc));
		return 1;
	}
	struct nvme_id_ctrl *id = calloc(1, sizeof(*id));
	int ret = 1;
	if (!id)
		goto out;
	rc = nvmed_identify(c, NVME_ID_CNS_CTRL, 0, id);
	if (rc < 0) {
		fprintf(stderr, "aisio id-ctrl: %s: Identify Controller failed: %s\n", a.dev, strerror(-rc));
		goto out;
	}
	char sn[24], mn[44], fr[12], nqn[260];
	id_string(sn, sizeof(sn), id->sn, sizeof(id->sn));
	id_string(mn, sizeof(mn), id->mn, sizeof(id->mn));
	id_string(fr, sizeof(fr), id->fr, sizeof(id->fr));
	id_string(nqn, sizeof(nqn), id->subnqn, sizeof(id->subnqn));
	uint64_t cap = nvmed_ctrl_cap(c);
	if (a.json) {
		printf("{\"device\": ");
		json_str(stdout, a.dev, strlen(a.dev));
		printf(", \"vid\": %u, \"ssvid\": %u, \"sn\": ", id->vid, id->ssvid);
		json_str(stdout, sn, sizeof(sn));
		printf(", \"mn\": ");
		json_str(stdout, mn, sizeof(mn));
		printf(", \"fr\": ");
		json_str(stdout, fr, sizeof(fr));
		printf(", \"rab\": %u, \"ieee\": \"%02x%02x%02x\", \"cmic\": %u, \"mdts\": %u, \"cntlid\": %u, "
		       "\"ver\": %u, \"oacs\": %u, \"acl\": %u, \"aerl\": %u, \"frmw\": %u, \"lpa\": %u, \"elpe\": %u, "
		       "\"npss\": %u, \"wctemp\": %u, \"cctemp\": %u, \"sqes\": %u, \"cqes\": %u, \"maxcmd\": %u, "
		       "\"nn\": %u, \"oncs\": %u, \"fuses\": %u, \"vwc\": %u, \"sgls\": %u, \"subnqn\": ",
		       id->rab, id->ieee[2], id->ieee[1], id->ieee[0], id->cmic, id->mdts, id->cntlid, id->ver,
		       id->oacs, id->acl, id->aerl, id->frmw, id->lpa, id->elpe, id->npss, id->wctemp, id->cctemp,
		       id->sqes, id->cqes, id->maxcmd, id->nn, id->oncs, id->fuses, id->vwc, id->sgls);
		json_str(stdout, nqn, sizeof(nqn));
		printf(", \"driver\": {\"cap\": %llu, \"max_xfer_bytes\": %u, \"io_qpairs\": %u, \"max_qdepth\": %u, "
		       "\"namespaces\": %u}}\n",
		       (unsigned long long)cap, nvmed_ctrl_max_xfer(c), nvmed_ctrl_max_qpairs(c),
		       nvmed_ctrl_max_qdepth(c), nvmed_ctrl_ns_count(c));
	} else {
		printf("device   : %s\n", a.dev);
		printf("vid      : 0x%04x\nssvid    : 0x%04x\n", id->vid, id->ssvid);
		printf("sn       : %s\nmn       : %s\nfr       : %s\n", sn, mn, fr);
		printf("rab      : %u\nieee     : %02x%02x%02x\ncmic     : 0x%x\n", id->rab, id->ieee[2], id->ieee[1],
		       id->ieee[0], id->cmic);
		printf("mdts     : %u%s\n", id->mdts, id->mdts ? "" : " (no limit)");
		printf("cntlid   : %u\nver      : %u.%u.%u\n", id->cntlid, id->ver >> 16, (id->ver >> 8) & 0xff,
		       id->ver & 0xff);
		printf("oacs     : 0x%x\nacl      : %u\naerl     : %u\nfrmw     : 0x%x\nlpa      : 0x%x\n", id->oacs,
		       id->acl, id->aerl, id->frmw, id->lpa);
		printf("elpe     : %u\nnpss     : %u\nwctemp   : %u K\ncctemp   : %u K\n", id->elpe, id->npss,
		       id->wctemp, id->cctemp);
		printf("sqes     : 0x%x\ncqes     : 0x%x\nmaxcmd   : %u\nnn       : %u\n", id->sqes, id->cqes, id->maxcmd,
		       id->nn);
		printf("oncs     : 0x%x%s%s\nfuses    : 0x%x\nvwc      : 0x%x\nsgls     : 0x%x\nsubnqn   : %s\n", id->oncs,
		       id->oncs & NVME_ONCS_DSM ? " (dataset management)" : "",
		       id->oncs & NVME_ONCS_WRITE_ZEROES ? " (write zeroes)" : "", id->fuses, id->vwc, id->sgls, nqn);
		printf("-- as the driver uses it --\n");
		printf("CAP      : 0x%016llx (MQES %u, DSTRD %u, TO %u ms, MPSMIN %u KiB)\n", (unsigned long long)cap,
		       NVME_CAP_MQES(cap) + 1, NVME_CAP_DSTRD(cap), NVME_CAP_TO(cap) * 500,
		       4u << NVME_CAP_MPSMIN(cap));
		printf("max xfer : %u bytes\nio qpairs: %u\nmax depth: %u\nnamespaces active: %u\n",
		       nvmed_ctrl_max_xfer(c), nvmed_ctrl_max_qpairs(c), nvmed_ctrl_max_qdepth(c), nvmed_ctrl_ns_count(c));
	}
	ret = 0;
out:
	free(id);
	nvmed_ctrl_close(c);
	return ret;
}

static const char usage_id_ns[] =
	"usage: aisio id-ns [--nsid N] [--json] DEVICE\n"
	"Identify Namespace N (default 1) of a function bound to vfio-pci or uio_pci_generic, or of an\n"
	"emulated controller (emu:...).\n";

int cmd_id_ns(int argc, char **argv)
{
	struct dev_cmd_args a;
	int rc = parse_dev_args(argc, argv, &a, true, usage_id_ns);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct nvmed_ctrl *c;
	rc = nvmed_ctrl_open(&c, a.dev, NULL);
	if (rc < 0) {
		fprintf(stderr, "aisio id-ns: cannot open %s: %s\n", a.dev, strerror(-rc));
		return 1;
	}
	struct nvme_id_ns *id = calloc(1, sizeof(*id));
	int ret = 1;
	if (!id)
		goto out;
	rc = nvmed_identify(c, NVME_ID_CNS_NS, a.nsid, id);
	if (rc < 0) {
		fprintf(stderr, "aisio id-ns: %s: Identify Namespace %u failed: %s\n", a.dev, a.nsid, strerror(-rc));
		goto out;
	}
	if (id->nsze == 0) {
		fprintf(stderr, "aisio id-ns: %s: namespace %u is not active\n", a.dev, a.nsid);
		goto out;
	}
	unsigned fmt = NVME_NS_FLBAS_INDEX(id->flbas);
	unsigned nlbaf = id->nlbaf + 1u > 64 ? 64 : id->nlbaf + 1u;
	uint64_t lba_bytes = fmt < 64 ? (uint64_t)1 << id->lbaf[fmt].ds : 0;
	if (a.json) {
		printf("{\"device\": ");
		json_str(stdout, a.dev, strlen(a.dev));
		printf(", \"nsid\": %u, \"nsze\": %llu, \"ncap\": %llu, \"nuse\": %llu, \"nsfeat\": %u, \"nlbaf\": %u, "
		       "\"flbas\": %u, \"mc\": %u, \"dpc\": %u, \"dps\": %u, \"nmic\": %u, \"lba_bytes\": %llu, "
		       "\"size_bytes\": %llu, \"nguid\": \"",
		       a.nsid, (unsigned long long)id->nsze, (unsigned long long)id->ncap, (unsigned long long)id->nuse,
		       id->nsfeat, id->nlbaf, id->flbas, id->mc, id->dpc, id->dps, id->nmic, (unsigned long long)lba_bytes,
		       (unsigned long long)(id->nsze * lba_bytes));
		for (int i = 0; i < 16; i++)
			printf("%02x", id->nguid[i]);
		printf("\", \"eui64\": \"");
		for (int i = 0; i < 8; i++)
			printf("%02x", id->eui64[i]);
		printf("\", \"lbafs\": [");
		for (unsigned i = 0; i < nlbaf; i++)
			printf("%s{\"ms\": %u, \"ds\": %u, \"rp\": %u, \"in_use\": %s}", i ? ", " : "", id->lbaf[i].ms,
			       id->lbaf[i].ds, id->lbaf[i].rp, i == fmt ? "true" : "false");
		printf("]}\n");
	} else {
		printf("device   : %s\nnsid     : %u\n", a.dev, a.nsid);
		printf("nsze     : %llu\nncap     : %llu\nnuse     : %llu\n", (unsigned long long)id->nsze,
		       (unsigned long long)id->ncap, (unsigned long long)id->nuse);
		printf("size     : %llu bytes (%llu MiB), %llu-byte LBAs\n", (unsigned long long)(id->nsze * lba_bytes),
		       (unsigned long long)(id->nsze * lba_bytes >> 20), (unsigned long long)lba_bytes);
		printf("nsfeat   : 0x%x\nnlbaf    : %u\nflbas    : 0x%x\nmc       : 0x%x\ndpc      : 0x%x\n"
		       "dps      : 0x%x\nnmic     : 0x%x\n",
		       id->nsfeat, id->nlbaf, id->flbas, id->mc, id->dpc, id->dps, id->nmic);
		printf("nguid    : ");
		for (int i = 0; i < 16; i++)
			printf("%02x", id->nguid[i]);
		printf("\neui64    : ");
		for (int i = 0; i < 8; i++)
			printf("%02x", id->eui64[i]);
		printf("\n");
		for (unsigned i = 0; i < nlbaf; i++)
			printf("lbaf %2u  : ms:%-3u lbads:%-2u rp:%u%s\n", i, id->lbaf[i].ms, id->lbaf[i].ds, id->lbaf[i].rp,
			       i == fmt ? " (in use)" : "");
	}
	ret = 0;
out:
	free(id);
	nvmed_ctrl_close(c);
	return ret;
}

static const char usage_smart_log[] =
	"usage: aisio smart-log [--json] DEVICE\n"
	"SMART / Health Information log page of a function bound to vfio-pci or uio_pci_generic, or of an\n"
	"emulated controller (emu:...).\n";

int cmd_smart_log(int argc, char **argv)
{
	struct dev_cmd_args a;
	int rc = parse_dev_args(argc, argv, &a, false, usage_smart_log);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct nvmed_ctrl *c;
	rc = nvmed_ctrl_open(&c, a.dev, NULL);
	if (rc < 0) {
		fprintf(stderr, "aisio smart-log: cannot open %s: %s\n", a.dev, strerror(-rc));
		return 1;
	}
	struct nvme_smart_log log;
	/* The controller-wide page: nsid all-ones. */
	rc = nvmed_get_log_page(c, NVME_LOG_SMART, 0xffffffffu, &log, sizeof(log));
	if (rc < 0) {
		fprintf(stderr, "aisio smart-log: %s: Get Log Page (SMART) failed: %s\n", a.dev, strerror(-rc));
		nvmed_ctrl_close(c);
		return 1;
	}
	static const struct {
		const char *name;
		size_t off;
	} ctr[] = {
		{"data_units_read", offsetof(struct nvme_smart_log, data_units_read)},
		{"data_units_written", offsetof(struct nvme_smart_log, data_units_written)},
		{"host_read_commands", offsetof(struct nvme_smart_log, host_reads)},
		{"host_write_commands", offsetof(struct nvme_smart_log, host_writes)},
		{"controller_busy_time", offsetof(struct nvme_smart_log, ctrl_busy_time)},
		{"power_cycles", offsetof(struct nvme_smart_log, power_cycles)},
		{"power_on_hours", offsetof(struct nvme_smart_log, power_on_hours)},
		{"unsafe_shutdowns", offsetof(struct nvme_smart_log, unsafe_shutdowns)},
		{"media_errors", offsetof(struct nvme_smart_log, media_errors)},
		{"num_err_log_entries", offsetof(struct nvme_smart_log, num_err_log_entries)},
	};
	unsigned temp_k = log.temperature[0] | (unsigned)log.temperature[1] << 8;
	char num[48];
	if (a.json) {
		printf("{\"device\": ");
		json_str(stdout, a.dev, strlen(a.dev));
		printf(", \"critical_warning\": %u, \"temperature_k\": %u, \"avail_spare\": %u, \"spare_thresh\": %u, "
		       "\"percent_used\": %u, \"endurance_grp_critical_warning\": %u",
		       log.critical_warning, temp_k, log.avail_spare, log.spare_thresh, log.percent_used,
		       log.endu_grp_crit_warn);
		for (size_t i = 0; i < sizeof(ctr) / sizeof(ctr[0]); i++) {
			u128_str(num, sizeof(num), (const uint8_t *)&log + ctr[i].off);
			printf(", \"%s\": %s", ctr[i].name, num);
		}
		printf(", \"warning_temp_time\": %u, \"critical_comp_time\": %u, \"temperature_sensors_k\": [",
		       log.warning_temp_time, log.critical_comp_time);
		bool first = true;
		for (int i = 0; i < 8; i++) {
			if (!log.temp_sensor[i])
				continue;
			printf("%s%u", first ? "" : ", ", log.temp_sensor[i]);
			first = false;
		}
		printf("]}\n");
	} else {
		printf("SMART / health log of %s\n", a.dev);
		printf("critical_warning        : 0x%x\n", log.critical_warning);
		printf("temperature             : %d C (%u K)\n", (int)temp_k - 273, temp_k);
		printf("available_spare         : %u%%\n", log.avail_spare);
		printf("available_spare_thresh  : %u%%\n", log.spare_thresh);
		printf("percentage_used         : %u%%\n", log.percent_used);
		printf("endurance_grp_crit_warn : 0x%x\n", log.endu_grp_crit_warn);
		for (size_t i = 0; i < sizeof(ctr) / sizeof(ctr[0]); i++) {
			u128_str(num, sizeof(num), (const uint8_t *)&log + ctr[i].off);
			printf("%-24s: %s\n", ctr[i].name, num);
		}
		printf("warning_temp_time       : %u min\ncritical_comp_time      : %u min\n", log.warning_temp_time,
		       log.critical_comp_time);
		for (int i = 0; i < 8; i++)
			if (log.temp_sensor[i])
				printf("temperature_sensor_%d    : %d C\n", i + 1, (int)log.temp_sensor[i] - 273);
	}
	nvmed_ctrl_close(c);
	return 0;
}
