/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Discovery of NVMe PCI functions and what uses them. Everything about a function comes from
 * sysfs (sys/bus/pci/devices/<bdf>, sys/class/block), mounts from proc/self/mountinfo and
 * proc/swaps, processes from proc/PID/fd, aisio's own users from its lock (pci_lock.c).
 */
#include <aisio/devstr.h>
#include <aisio/pci.h>
#include <aisio/pci_sysfs.h>

#include "pci_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int pci_root_path(char *out, size_t len, const char *root, const char *fmt, ...)
{
	if (!root)
		root = "";
	size_t rlen = strlen(root);
	while (rlen > 0 && root[rlen - 1] == '/')
		rlen--;
	if (rlen >= len)
		return -ENAMETOOLONG;
	memcpy(out, root, rlen);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out + rlen, len - rlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - rlen)
		return -ENAMETOOLONG;
	return 0;
}

/* Read an attribute file into buf without the trailing newline and spaces; -errno when absent. */
static int read_attr(char *buf, size_t len, const char *path)
{
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

/* An attribute of a function: root/sys/bus/pci/devices/<bdf>/<attr>. */
static int fn_attr(char *buf, size_t len, const char *root, const char *bdf, const char *attr)
{
	char path[PATH_MAX];
	int rc = pci_root_path(path, sizeof(path), root, PCI_SYSFS_DEVICES "/%s/%s", bdf, attr);
	return rc < 0 ? rc : read_attr(buf, len, path);
}

/* Basename of a function's symlink (driver, iommu_group, physfn), "" when there is none. */
static void fn_link_name(char *out, size_t len, const char *root, const char *bdf, const char *link)
{
	char path[PATH_MAX], target[PATH_MAX];
	out[0] = 0;
	if (pci_root_path(path, sizeof(path), root, PCI_SYSFS_DEVICES "/%s/%s", bdf, link) < 0)
		return;
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return;
	target[n] = 0;
	const char *base = strrchr(target, '/');
	snprintf(out, len, "%.*s", (int)(len - 1), base ? base + 1 : target);
}

static int fn_exists(const char *root, const char *bdf)
{
	char path[PATH_MAX];
	int rc = pci_root_path(path, sizeof(path), root, PCI_SYSFS_DEVICES "/%s", bdf);
	if (rc < 0)
		return rc;
	struct stat st;
	return stat(path, &st) == 0 ? 0 : -ENODEV;
}

/* The canonical form of a caller's address (-EINVAL when malformed), of a function that exists (-ENODEV). */
static int fn_find(const char *root, const char *bdf, char canon[16])
{
	if (devstr_pci_addr_parse(bdf, canon) < 0)
		return -EINVAL;
	return fn_exists(root, canon);
}

int pci_sysfs_driver(const char *root, const char *bdf, char *drv, size_t len)
{
	drv[0] = 0;
	char canon[16];
	int rc = fn_find(root, bdf, canon);
	if (rc < 0)
		return rc;
	fn_link_name(drv, len, root, canon, "driver");
	return 0;
}

static bool class_is_nvme(const char *root, const char *bdf)
{
	char cls[16];
	if (fn_attr(cls, sizeof(cls), root, bdf, "class") < 0)
		return false;
	return (strtoul(cls, NULL, 16) >> 8) == 0x0108;
}

int pci_sysfs_is_nvme(const char *root, const char *bdf)
{
	char canon[16];
	int rc = fn_find(root, bdf, canon);
	if (rc < 0)
		return rc;
	return class_is_nvme(root, canon);
}

/* ---- mounts, holders, swap -------------------------------------------------------------------------------- */

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

static int mount_tab_load(const char *root, struct mount_tab *t)
{
	t->e = NULL;
	t->n = 0;
	char path[PATH_MAX];
	int rc = pci_root_path(path, sizeof(path), root, "/proc/self/mountinfo");
	if (rc < 0)
		return rc;
	FILE *f = fopen(path, "re");
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

/* The swap areas in proc/swaps are block devices in use too. */
static bool swap_uses(const char *root, const char *blk)
{
	char path[PATH_MAX];
	if (pci_root_path(path, sizeof(path), root, "/proc/swaps") < 0)
		return false;
	FILE *f = fopen(path, "re");
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

static dev_t blk_devnum(const char *sysdir)
{
	char path[PATH_MAX], buf[32];
	unsigned maj, mnr;
	snprintf(path, sizeof(path), "%s/dev", sysdir);
	if (read_attr(buf, sizeof(buf), path) < 0 || sscanf(buf, "%u:%u", &maj, &mnr) != 2)
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

static void ns_add_mounts(struct pci_sysfs_ns *ns, const struct mount_tab *mt, dev_t dev)
{
	for (size_t i = 0; i < mt->n; i++) {
		if (mt->e[i].dev != dev || ns->nmounts == PCI_SYSFS_MAX_MOUNTS)
			continue;
		snprintf(ns->mounts[ns->nmounts++], sizeof(ns->mounts[0]), "%s", mt->e[i].point);
	}
}

/* Size, and what is mounted or held on the namespace's block device and its partitions. */
static void ns_usage(const char *root, struct pci_sysfs_ns *ns, const struct mount_tab *mt)
{
	char dir[PATH_MAX], sub[PATH_MAX + 300];
	if (pci_root_path(dir, sizeof(dir), root, "/sys/class/block/%.40s", ns->name) < 0)
		return;
	char buf[32];
	snprintf(sub, sizeof(sub), "%s/size", dir);
	if (read_attr(buf, sizeof(buf), sub) == 0)
		ns->size_bytes = strtoull(buf, NULL, 10) * 512ull;
	ns_add_mounts(ns, mt, blk_devnum(dir));
	snprintf(sub, sizeof(sub), "%s/holders", dir);
	ns->held = dir_nonempty(sub) || swap_uses(root, ns->name);
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
		char hold[PATH_MAX + 320];
		snprintf(hold, sizeof(hold), "%s/holders", sub);
		if (dir_nonempty(hold) || swap_uses(root, e->d_name))
			ns->held = true;
	}
	closedir(d);
}

static int ns_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pci_sysfs_ns *)a)->name, ((const struct pci_sysfs_ns *)b)->name);
}

/* The kernel nvme driver's controller of a function (nvme0), "" when it is not bound. */
static void fn_ctrl(const char *root, const char *bdf, char *ctrl, size_t len)
{
	char path[PATH_MAX];
	ctrl[0] = 0;
	if (pci_root_path(path, sizeof(path), root, PCI_SYSFS_DEVICES "/%s/nvme", bdf) < 0)
		return;
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "nvme", 4) == 0)
			snprintf(ctrl, len, "%.*s", (int)len - 1, e->d_name);
	closedir(d);
}

/* An attribute of that controller (serial, model, firmware_rev). */
static int ctrl_attr(char *buf, size_t len, const char *root, const struct pci_sysfs_fn *fn, const char *attr)
{
	char rel[96];
	snprintf(rel, sizeof(rel), "nvme/%s/%s", fn->ctrl, attr);
	return fn_attr(buf, len, root, fn->bdf, rel);
}

/*
 * The kernel nvme driver's controller of a function and its namespaces: sys/bus/pci/devices/<bdf>/nvme/nvmeX/
 * holds nvmeXnY, or with native multipath nvmeScXnY paths whose block device is nvmeSnY.
 */
static int fn_namespaces(const char *root, struct pci_sysfs_fn *fn, const struct mount_tab *mt)
{
	fn_ctrl(root, fn->bdf, fn->ctrl, sizeof(fn->ctrl));
	if (!fn->ctrl[0])
		return 0;
	ctrl_attr(fn->serial, sizeof(fn->serial), root, fn, "serial");
	ctrl_attr(fn->model, sizeof(fn->model), root, fn, "model");
	ctrl_attr(fn->firmware, sizeof(fn->firmware), root, fn, "firmware_rev");
	char path[PATH_MAX];
	if (pci_root_path(path, sizeof(path), root, PCI_SYSFS_DEVICES "/%s/nvme/%s", fn->bdf, fn->ctrl) < 0)
		return 0;
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *e;
	unsigned cap = 0;
	while ((e = readdir(d)) && fn->nns < PCI_SYSFS_MAX_NS) {
		unsigned s, c, ns;
		char tail, name[32];
		if (sscanf(e->d_name, "nvme%uc%un%u%c", &s, &c, &ns, &tail) == 3)
			snprintf(name, sizeof(name), "nvme%un%u", s, ns);
		else if (sscanf(e->d_name, "nvme%un%u%c", &s, &ns, &tail) == 2)
			snprintf(name, sizeof(name), "nvme%un%u", s, ns);
		else
			continue;
		if (fn->nns == cap) {
			cap = cap ? cap * 2 : 4;
			struct pci_sysfs_ns *grown = realloc(fn->ns, cap * sizeof(*grown));
			if (!grown) {
				closedir(d);
				return -ENOMEM;
			}
			fn->ns = grown;
		}
		struct pci_sysfs_ns *ni = &fn->ns[fn->nns++];
		memset(ni, 0, sizeof(*ni));
		snprintf(ni->name, sizeof(ni->name), "%s", name);
		ns_usage(root, ni, mt);
	}
	closedir(d);
	if (fn->nns)
		qsort(fn->ns, fn->nns, sizeof(*fn->ns), ns_name_cmp);
	return 0;
}

/* ---- processes with a device node open -------------------------------------------------------------------- */

#define MAX_NODES (PCI_SYSFS_MAX_NS + 4)

/* Does an fd target (readlink of proc/PID/fd/N) name one of the nodes? A node ending in
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
 * devices (and partitions), the controller's character device, the vfio group (when bound
 * to vfio-pci), the uio node, the sysfs resource files (BAR mappings of user-space drivers).
 * Needs root to see other users' processes.
 */
static void fn_users(const char *root, struct pci_sysfs_fn *fn)
{
	char nodes[MAX_NODES][80];
	unsigned n = 0;
	for (unsigned i = 0; i < fn->nns && n < MAX_NODES; i++)
		snprintf(nodes[n++], sizeof(nodes[0]), "/dev/%.40s*", fn->ns[i].name);
	if (fn->ctrl[0])
		snprintf(nodes[n++], sizeof(nodes[0]), "/dev/%.40s", fn->ctrl);
	if (fn->iommu_group >= 0 && strcmp(fn->driver, "vfio-pci") == 0)
		snprintf(nodes[n++], sizeof(nodes[0]), "/dev/vfio/%d", fn->iommu_group);
	char path[PATH_MAX];
	if (pci_root_path(path, sizeof(path), root, PCI_SYSFS_DEVICES "/%s/uio", fn->bdf) < 0)
		return;
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (strncmp(e->d_name, "uio", 3) == 0 && n < MAX_NODES - 1) /* room for the BAR below */
				snprintf(nodes[n++], sizeof(nodes[0]), "/dev/%.40s", e->d_name);
		closedir(d);
	}
	/* /sys/devices/.../<bdf>/resource0 is what readlink shows for an mmapped BAR file */
	snprintf(nodes[n++], sizeof(nodes[0]), "/sys/devices/*");
	char resource_tail[32];
	snprintf(resource_tail, sizeof(resource_tail), "/%s/resource", fn->bdf);

	char procdir[PATH_MAX];
	if (pci_root_path(procdir, sizeof(procdir), root, "/proc") < 0)
		return;
	DIR *proc = opendir(procdir);
	if (!proc)
		return;
	struct dirent *pe;
	long self = (long)getpid();
	while ((pe = readdir(proc)) && fn->nusers < PCI_SYSFS_MAX_USERS) {
		char *end;
		long pid = strtol(pe->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self)
			continue;
		char fddir[PATH_MAX + 32];
		snprintf(fddir, sizeof(fddir), "%s/%ld/fd", procdir, pid);
		DIR *fds = opendir(fddir);
		if (!fds)
			continue;
		struct dirent *fe;
		while ((fe = readdir(fds))) {
			char link[PATH_MAX + 64], target[PATH_MAX];
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
			struct pci_sysfs_user *u = &fn->users[fn->nusers++];
			u->pid = pid;
			snprintf(u->node, sizeof(u->node), "%.79s", target);
			char comm[32];
			snprintf(link, sizeof(link), "%s/%ld/comm", procdir, pid);
			if (read_attr(comm, sizeof(comm), link) == 0)
				snprintf(u->comm, sizeof(u->comm), "%.19s", comm);
			else
				snprintf(u->comm, sizeof(u->comm), "?");
			break; /* one entry per process */
		}
		closedir(fds);
	}
	closedir(proc);
}

/* ---- functions -------------------------------------------------------------------------------------------- */

static int attr_int(const char *root, const char *bdf, const char *attr, int absent)
{
	char buf[32];
	return fn_attr(buf, sizeof(buf), root, bdf, attr) == 0 ? atoi(buf) : absent;
}

static unsigned long attr_hex(const char *root, const char *bdf, const char *attr)
{
	char buf[32];
	return fn_attr(buf, sizeof(buf), root, bdf, attr) == 0 ? strtoul(buf, NULL, 16) : 0;
}

/* Load a function known to exist (canonical address) against a loaded mount table. */
static int fn_load(const char *root, const char *bdf, struct pci_sysfs_fn *fn, const struct mount_tab *mt,
		   int mounts_err)
{
	memset(fn, 0, sizeof(*fn));
	snprintf(fn->bdf, sizeof(fn->bdf), "%s", bdf);
	fn->mounts_err = mounts_err;
	fn->vendor = (uint16_t)attr_hex(root, bdf, "vendor");
	fn->device = (uint16_t)attr_hex(root, bdf, "device");
	fn->class_code = (uint32_t)attr_hex(root, bdf, "class");
	fn_link_name(fn->driver, sizeof(fn->driver), root, bdf, "driver");
	char group[16];
	fn_link_name(group, sizeof(group), root, bdf, "iommu_group");
	fn->iommu_group = group[0] ? atoi(group) : -1;
	fn_link_name(fn->physfn, sizeof(fn->physfn), root, bdf, "physfn");
	fn->numa_node = attr_int(root, bdf, "numa_node", -1);
	fn->sriov_numvfs = attr_int(root, bdf, "sriov_numvfs", -1);
	fn->sriov_totalvfs = attr_int(root, bdf, "sriov_totalvfs", -1);
	int rc = fn_namespaces(root, fn, mt);
	if (rc < 0) {
		pci_sysfs_fn_clear(fn);
		return rc;
	}
	for (unsigned i = 0; i < fn->nns; i++)
		if (fn->ns[i].nmounts || fn->ns[i].held)
			fn->in_use = true;
	pci_lock_holder(root, bdf, &fn->aisio_pid);
	fn_users(root, fn);
	return 0;
}

int pci_sysfs_fn_load(const char *root, const char *bdf, struct pci_sysfs_fn *fn)
{
	memset(fn, 0, sizeof(*fn));
	char canon[16];
	int rc = fn_find(root, bdf, canon);
	if (rc < 0)
		return rc;
	struct mount_tab mt;
	int mounts_err = mount_tab_load(root, &mt);
	rc = fn_load(root, canon, fn, &mt, mounts_err);
	free(mt.e);
	return rc;
}

void pci_sysfs_fn_clear(struct pci_sysfs_fn *fn)
{
	free(fn->ns);
	fn->ns = NULL;
	fn->nns = 0;
}

static int bdf_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* Addresses of the NVMe functions (class 0x0108xx), sorted. *out is freed by the caller. */
static int nvme_bdfs(const char *root, char (**out)[16], size_t *count)
{
	*out = NULL;
	*count = 0;
	char path[PATH_MAX];
	int rc = pci_root_path(path, sizeof(path), root, PCI_SYSFS_DEVICES);
	if (rc < 0)
		return rc;
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	char(*list)[16] = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char canon[16];
		if (e->d_name[0] == '.' || devstr_pci_addr_parse(e->d_name, canon) < 0 ||
		    strcmp(canon, e->d_name) != 0 || !class_is_nvme(root, e->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			char(*grown)[16] = realloc(list, cap * sizeof(*grown));
			if (!grown) {
				free(list);
				closedir(d);
				return -ENOMEM;
			}
			list = grown;
		}
		snprintf(list[n++], 16, "%s", canon);
	}
	closedir(d);
	if (n)
		qsort(list, n, sizeof(*list), bdf_cmp);
	*out = list;
	*count = n;
	return 0;
}

int pci_sysfs_list(const char *root, struct pci_sysfs_list *out)
{
	memset(out, 0, sizeof(*out));
	char(*bdfs)[16];
	size_t n;
	int rc = nvme_bdfs(root, &bdfs, &n);
	if (rc < 0)
		return rc;
	struct mount_tab mt;
	out->mounts_err = mount_tab_load(root, &mt);
	if (n) {
		out->fn = calloc(n, sizeof(*out->fn));
		if (!out->fn) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		/* a function removed since the directory was read is left out */
		if (fn_exists(root, bdfs[i]) < 0)
			continue;
		rc = fn_load(root, bdfs[i], &out->fn[out->n], &mt, out->mounts_err);
		if (rc < 0)
			goto out;
		out->n++;
	}
out:
	free(mt.e);
	free(bdfs);
	if (rc < 0)
		pci_sysfs_list_free(out);
	return rc;
}

void pci_sysfs_list_free(struct pci_sysfs_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		pci_sysfs_fn_clear(&list->fn[i]);
	free(list->fn);
	list->fn = NULL;
	list->n = 0;
}

int pci_sysfs_find_serial(const char *root, const char *serial, char bdf[16])
{
	size_t want = strlen(serial);
	while (want > 0 && serial[want - 1] == ' ')
		want--;
	if (!want)
		return -EINVAL;
	char(*bdfs)[16];
	size_t n;
	int rc = nvme_bdfs(root, &bdfs, &n);
	if (rc < 0)
		return rc;
	rc = -ENOENT;
	for (size_t i = 0; i < n && rc == -ENOENT; i++) {
		/* only the controller's name and serial: no namespaces, mounts or processes */
		struct pci_sysfs_fn fn;
		memset(&fn, 0, sizeof(fn));
		snprintf(fn.bdf, sizeof(fn.bdf), "%s", bdfs[i]);
		fn_ctrl(root, fn.bdf, fn.ctrl, sizeof(fn.ctrl));
		if (fn.ctrl[0] && ctrl_attr(fn.serial, sizeof(fn.serial), root, &fn, "serial") == 0 &&
		    strlen(fn.serial) == want && strncmp(fn.serial, serial, want) == 0) {
			memcpy(bdf, fn.bdf, 16);
			rc = 0;
		}
	}
	free(bdfs);
	return rc;
}
