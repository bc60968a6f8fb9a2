/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Discovery and locks of PCI functions (pci_sysfs.h) over a fake system tree in a temporary
 * directory: three NVMe functions (one on the kernel nvme driver with a mounted partition,
 * a namespace in swap and SR-IOV; its VF on vfio-pci open by another process; one with a
 * native-multipath namespace name), one bridge. proc/locks is the kernel's own, so the lock
 * holder is what the kernel says.
 */
#include <aisio/devstr.h>
#include <aisio/pci.h>
#include <aisio/pci_sysfs.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#define PF "0000:01:00.0"
#define VF "0000:02:00.0"
#define MP "0000:03:00.0"
#define BRIDGE "0000:00:1f.0"

struct tree {
	char root[PATH_MAX];
	long other_pid; /* the fake process holding the VF's vfio group */
};

static void tree_path(char *out, const struct tree *t, const char *rel)
{
	snprintf(out, PATH_MAX, "%s/%s", t->root, rel);
}

static void mkdirs(const struct tree *t, const char *rel)
{
	char path[PATH_MAX];
	tree_path(path, t, rel);
	for (char *p = path + strlen(t->root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		mkdir(path, 0755);
		*p = '/';
	}
	mkdir(path, 0755);
}

static void parent_dirs(const struct tree *t, const char *rel)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", rel);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		mkdirs(t, dir);
	}
}

static void put(const struct tree *t, const char *rel, const char *fmt, ...)
{
	parent_dirs(t, rel);
	char path[PATH_MAX];
	tree_path(path, t, rel);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static void link_to(const struct tree *t, const char *rel, const char *target)
{
	parent_dirs(t, rel);
	char path[PATH_MAX];
	tree_path(path, t, rel);
	assert_int_equal(symlink(target, path), 0);
}

static void function(const struct tree *t, const char *bdf, const char *cls, const char *driver)
{
	char rel[256], target[256];
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/class", bdf);
	put(t, rel, "%s\n", cls);
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/vendor", bdf);
	put(t, rel, "0x1b36\n");
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/device", bdf);
	put(t, rel, "0x0010\n");
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/numa_node", bdf);
	put(t, rel, "-1\n");
	if (driver) {
		snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/driver", bdf);
		snprintf(target, sizeof(target), "../../../bus/pci/drivers/%s", driver);
		link_to(t, rel, target);
	}
}

static void block(const struct tree *t, const char *name, const char *devnum, unsigned long long sectors)
{
	char rel[256];
	snprintf(rel, sizeof(rel), "sys/class/block/%s/dev", name);
	put(t, rel, "%s\n", devnum);
	snprintf(rel, sizeof(rel), "sys/class/block/%s/size", name);
	put(t, rel, "%llu\n", sectors);
	snprintf(rel, sizeof(rel), "sys/class/block/%s/holders", name);
	mkdirs(t, rel);
}

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	const char *tmp = getenv("TMPDIR");
	snprintf(t->root, sizeof(t->root), "%s/aisio-pci-sysfs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(t->root));

	/* PF on nvme: nvme0n1 (partition 1 mounted on /mnt, itself on "/data x"), nvme0n2 in swap */
	function(t, PF, "0x010802", "nvme");
	link_to(t, "sys/bus/pci/devices/" PF "/iommu_group", "../../../kernel/iommu_groups/7");
	put(t, "sys/bus/pci/devices/" PF "/sriov_numvfs", "1\n");
	put(t, "sys/bus/pci/devices/" PF "/sriov_totalvfs", "2\n");
	put(t, "sys/bus/pci/devices/" PF "/nvme/nvme0/serial", "SN-PF-1\n");
	put(t, "sys/bus/pci/devices/" PF "/nvme/nvme0/model", "QEMU NVMe Ctrl\n");
	put(t, "sys/bus/pci/devices/" PF "/nvme/nvme0/firmware_rev", "8.2.0\n");
	mkdirs(t, "sys/bus/pci/devices/" PF "/nvme/nvme0/nvme0n2");
	mkdirs(t, "sys/bus/pci/devices/" PF "/nvme/nvme0/nvme0n1");
	block(t, "nvme0n1", "259:0", 2097152);
	block(t, "nvme0n1/nvme0n1p1", "259:1", 1000000);
	block(t, "nvme0n2", "259:2", 4096);

	/* its VF on vfio-pci, group 12 open by another process */
	function(t, VF, "0x010802", "vfio-pci");
	link_to(t, "sys/bus/pci/devices/" VF "/iommu_group", "../../../kernel/iommu_groups/12");
	link_to(t, "sys/bus/pci/devices/" VF "/physfn", "../" PF);
	t->other_pid = getpid() == 4242 ? 4243 : 4242;
	char rel[128];
	snprintf(rel, sizeof(rel), "proc/%ld/fd/5", t->other_pid);
	link_to(t, rel, "/dev/vfio/12");
	snprintf(rel, sizeof(rel), "proc/%ld/fd/0", t->other_pid);
	link_to(t, rel, "/dev/null");
	snprintf(rel, sizeof(rel), "proc/%ld/comm", t->other_pid);
	put(t, rel, "qemu-system-x86\n");

	/* native multipath: the controller path nvme1c1n1 is block device nvme1n1 */
	function(t, MP, "0x010802", "nvme");
	put(t, "sys/bus/pci/devices/" MP "/nvme/nvme1/serial", "SN-MP-2\n");
	mkdirs(t, "sys/bus/pci/devices/" MP "/nvme/nvme1/nvme1c1n1");
	block(t, "nvme1n1", "259:3", 8);

	function(t, BRIDGE, "0x060100", NULL);

	put(t, "proc/self/mountinfo",
	    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	    "36 22 259:1 / /mnt rw,relatime shared:2 - xfs /dev/nvme0n1p1 rw\n"
	    "37 22 259:0 / /data\\040x rw,relatime shared:3 - xfs /dev/nvme0n1 rw\n");
	put(t, "proc/swaps", "Filename Type Size Used Priority\n/dev/nvme0n2 partition 2044 0 -2\n");
	link_to(t, "proc/locks", "/proc/locks");
	mkdirs(t, "run/lock");
	*state = t;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	nftw(t->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

static const struct pci_sysfs_fn *find_fn(const struct pci_sysfs_list *l, const char *bdf)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->fn[i].bdf, bdf) == 0)
			return &l->fn[i];
	return NULL;
}

static void test_list(void **state)
{
	struct tree *t = *state;
	struct pci_sysfs_list l;
	assert_int_equal(pci_sysfs_list(t->root, &l), 0);
	assert_int_equal(l.mounts_err, 0);
	/* NVMe functions only, by address */
	assert_int_equal(l.n, 3);
	assert_string_equal(l.fn[0].bdf, PF);
	assert_string_equal(l.fn[1].bdf, VF);
	assert_string_equal(l.fn[2].bdf, MP);

	const struct pci_sysfs_fn *pf = &l.fn[0];
	assert_int_equal(pf->vendor, 0x1b36);
	assert_int_equal(pf->device, 0x0010);
	assert_int_equal(pf->class_code, 0x010802);
	assert_string_equal(pf->driver, "nvme");
	assert_int_equal(pf->iommu_group, 7);
	assert_int_equal(pf->numa_node, -1);
	assert_int_equal(pf->sriov_numvfs, 1);
	assert_int_equal(pf->sriov_totalvfs, 2);
	assert_string_equal(pf->physfn, "");
	assert_string_equal(pf->ctrl, "nvme0");
	assert_string_equal(pf->serial, "SN-PF-1");
	assert_string_equal(pf->model, "QEMU NVMe Ctrl");
	assert_string_equal(pf->firmware, "8.2.0");
	assert_int_equal(pf->nns, 2);
	assert_string_equal(pf->ns[0].name, "nvme0n1");
	assert_int_equal(pf->ns[0].size_bytes, 2097152ull * 512);
	/* the whole device's mount and its partition's, mountinfo's \040 unescaped */
	assert_int_equal(pf->ns[0].nmounts, 2);
	assert_string_equal(pf->ns[0].mounts[0], "/data x");
	assert_string_equal(pf->ns[0].mounts[1], "/mnt");
	assert_false(pf->ns[0].held);
	assert_string_equal(pf->ns[1].name, "nvme0n2");
	assert_int_equal(pf->ns[1].nmounts, 0);
	assert_true(pf->ns[1].held); /* swap */
	assert_true(pf->in_use);
	assert_int_equal(pf->aisio_pid, 0);
	assert_int_equal(pf->nusers, 0);

	const struct pci_sysfs_fn *vf = &l.fn[1];
	assert_string_equal(vf->driver, "vfio-pci");
	assert_int_equal(vf->iommu_group, 12);
	assert_string_equal(vf->physfn, PF);
	assert_int_equal(vf->sriov_totalvfs, -1);
	assert_string_equal(vf->ctrl, "");
	assert_string_equal(vf->serial, "");
	assert_int_equal(vf->nns, 0);
	assert_false(vf->in_use);
	assert_int_equal(vf->nusers, 1);
	assert_int_equal(vf->users[0].pid, t->other_pid);
	assert_string_equal(vf->users[0].comm, "qemu-system-x86");
	assert_string_equal(vf->users[0].node, "/dev/vfio/12");

	const struct pci_sysfs_fn *mp = &l.fn[2];
	assert_string_equal(mp->driver, "nvme");
	assert_int_equal(mp->iommu_group, -1);
	assert_int_equal(mp->nns, 1);
	assert_string_equal(mp->ns[0].name, "nvme1n1");
	assert_int_equal(mp->ns[0].size_bytes, 8 * 512);
	assert_false(mp->in_use);
	assert_null(find_fn(&l, BRIDGE));
	pci_sysfs_list_free(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.fn);
}

static void test_fn_load(void **state)
{
	struct tree *t = *state;
	struct pci_sysfs_fn fn;
	/* the short form names the same function */
	assert_int_equal(pci_sysfs_fn_load(t->root, "01:00.0", &fn), 0);
	assert_string_equal(fn.bdf, PF);
	assert_int_equal(fn.nns, 2);
	pci_sysfs_fn_clear(&fn);
	assert_null(fn.ns);
	/* any class loads; a bridge has no controller */
	assert_int_equal(pci_sysfs_fn_load(t->root, BRIDGE, &fn), 0);
	assert_int_equal(fn.class_code, 0x060100);
	assert_string_equal(fn.driver, "");
	pci_sysfs_fn_clear(&fn);
	assert_int_equal(pci_sysfs_fn_load(t->root, "0000:09:00.0", &fn), -ENODEV);
	assert_int_equal(pci_sysfs_fn_load(t->root, "nvme0", &fn), -EINVAL);
	assert_int_equal(pci_sysfs_fn_load(t->root, "../../../etc", &fn), -EINVAL);
	assert_int_equal(pci_sysfs_fn_load(t->root, PF "/../x", &fn), -EINVAL);

	assert_int_equal(pci_sysfs_is_nvme(t->root, PF), 1);
	assert_int_equal(pci_sysfs_is_nvme(t->root, BRIDGE), 0);
	assert_int_equal(pci_sysfs_is_nvme(t->root, "0000:09:00.0"), -ENODEV);
	char drv[64];
	assert_int_equal(pci_sysfs_driver(t->root, VF, drv, sizeof(drv)), 0);
	assert_string_equal(drv, "vfio-pci");
	assert_int_equal(pci_sysfs_driver(t->root, BRIDGE, drv, sizeof(drv)), 0);
	assert_string_equal(drv, "");
	assert_int_equal(pci_sysfs_driver(t->root, "0000:09:00.0", drv, sizeof(drv)), -ENODEV);
}

static void test_find_serial(void **state)
{
	struct tree *t = *state;
	char bdf[16];
	assert_int_equal(pci_sysfs_find_serial(t->root, "SN-MP-2", bdf), 0);
	assert_string_equal(bdf, MP);
	/* Identify's space padding does not matter */
	assert_int_equal(pci_sysfs_find_serial(t->root, "SN-PF-1      ", bdf), 0);
	assert_string_equal(bdf, PF);
	assert_int_equal(pci_sysfs_find_serial(t->root, "SN-PF", bdf), -ENOENT);
	assert_int_equal(pci_sysfs_find_serial(t->root, "SN-PF-1X", bdf), -ENOENT);
	assert_int_equal(pci_sysfs_find_serial(t->root, "", bdf), -EINVAL);
}

/* Without mountinfo the list still comes, saying that mounts are unknown. */
static void test_no_mountinfo(void **state)
{
	struct tree *t = *state;
	char path[PATH_MAX], moved[PATH_MAX];
	tree_path(path, t, "proc/self/mountinfo");
	tree_path(moved, t, "proc/self/mountinfo.away");
	assert_int_equal(rename(path, moved), 0);
	struct pci_sysfs_list l;
	assert_int_equal(pci_sysfs_list(t->root, &l), 0);
	assert_int_equal(l.mounts_err, -ENOENT);
	const struct pci_sysfs_fn *pf = find_fn(&l, PF);
	assert_non_null(pf);
	assert_int_equal(pf->mounts_err, -ENOENT);
	assert_int_equal(pf->ns[0].nmounts, 0);
	assert_true(pf->in_use); /* the swap is still seen */
	pci_sysfs_list_free(&l);
	assert_int_equal(rename(moved, path), 0);

	char empty[PATH_MAX];
	snprintf(empty, sizeof(empty), "%s/nothing-here", t->root);
	assert_int_equal(pci_sysfs_list(empty, &l), -ENOENT);
}

/* One validation of an address for sysfs names and lock files: strict, canonical out. */
static void test_parse_bdf(void **state)
{
	static const struct {
		const char *in, *out;
	} good[] = {
		{"0000:01:00.0", "0000:01:00.0"}, {"01:00.0", "0000:01:00.0"},   {"1:0.0", "0000:01:00.0"},
		{"ABCD:EF:1F.7", "abcd:ef:1f.7"}, {"0:ff:1f.7", "0000:ff:1f.7"},
	};
	static const char *const bad[] = {
		"",        "01:00",    "01.00.0", "0x01:00.0",     "01:00.0x", " 01:00.0",  "01:00.0 ",
		"+1:00.0", "01:20.0",  "01:00.8", "00001:01:00.0", "001:00.0", "1:2:3:4.0", "0000:01:00.0/../x",
		"nvme0",   "emu:null",
	};
	char out[16];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(devstr_pci_addr_parse(good[i].in, out), 0);
		assert_string_equal(out, good[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (devstr_pci_addr_parse(bad[i], out) != -EINVAL)
			fail_msg("'%s' was taken as a PCI address", bad[i]);
	}
}

static void test_lock_path(void **state)
{
	struct tree *t = *state;
	char a[PATH_MAX], b[PATH_MAX], want[PATH_MAX];
	assert_int_equal(pci_lock_path(t->root, PF, a, sizeof(a)), 0);
	assert_int_equal(pci_lock_path(t->root, "1:0.0", b, sizeof(b)), 0);
	snprintf(want, sizeof(want), "%s/run/lock/aisio-" PF ".lock", t->root);
	assert_string_equal(a, want);
	assert_string_equal(b, want);
	assert_int_equal(pci_lock_path(t->root, "../" PF, a, sizeof(a)), -EINVAL);
	assert_int_equal(pci_lock_path(t->root, PF "x", a, sizeof(a)), -EINVAL);
	assert_int_equal(pci_lock_path(t->root, PF, a, 10), -ENAMETOOLONG);
	/* no run/lock: tmp */
	char other[PATH_MAX];
	snprintf(other, sizeof(other), "%s/bare", t->root);
	assert_int_equal(mkdir(other, 0755), 0);
	assert_int_equal(pci_lock_path(other, PF, a, sizeof(a)), 0);
	snprintf(want, sizeof(want), "%s/tmp/aisio-" PF ".lock", other);
	assert_string_equal(a, want);
	rmdir(other);
}

/* Two opens in one process: the second is refused and names this process. */
static void test_lock_twice(void **state)
{
	struct tree *t = *state;
	long holder = -1, pid = -1;
	assert_int_equal(pci_lock_holder(t->root, PF, &pid), 0);
	assert_int_equal(pid, 0);
	int fd = pci_lock(t->root, PF, &holder);
	assert_true(fd >= 0);
	assert_int_equal(holder, 0);
	assert_int_equal(pci_lock(t->root, "01:00.0", &holder), -EBUSY);
	assert_int_equal(holder, getpid());
	assert_int_equal(pci_lock(t->root, PF, NULL), -EBUSY);
	assert_int_equal(pci_lock_holder(t->root, PF, &pid), 0);
	assert_int_equal(pid, getpid());
	/* a lock of one function leaves the others free */
	int vf = pci_lock(t->root, VF, NULL);
	assert_true(vf >= 0);
	/* discovery reports the holder */
	struct pci_sysfs_fn fn;
	assert_int_equal(pci_sysfs_fn_load(t->root, PF, &fn), 0);
	assert_int_equal(fn.aisio_pid, getpid());
	pci_sysfs_fn_clear(&fn);
	pci_unlock(vf);
	pci_unlock(fd);
	assert_int_equal(pci_lock_holder(t->root, PF, &pid), 0);
	assert_int_equal(pid, 0);
	fd = pci_lock(t->root, PF, NULL);
	assert_true(fd >= 0);
	pci_unlock(fd);
	assert_int_equal(pci_lock(t->root, "garbage", NULL), -EINVAL);
}

/* Another process holds the lock: refused with its pid; once it has died its file is taken. */
static void test_lock_other_process(void **state)
{
	struct tree *t = *state;
	int ready[2], done[2];
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(done), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		char c = pci_lock(t->root, PF, NULL) >= 0 ? 'y' : 'n';
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		/* hold it until told, then die without unlocking */
		if (read(done[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	char c = 0;
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	long holder = 0, pid = 0;
	assert_int_equal(pci_lock(t->root, PF, &holder), -EBUSY);
	assert_int_equal(holder, child);
	assert_int_equal(pci_lock_holder(t->root, PF, &pid), 0);
	assert_int_equal(pid, child);
	assert_int_equal(write(done[1], "x", 1), 1);
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (int i = 0; i < 4; i++)
		close(i < 2 ? ready[i] : done[i - 2]);
	/* the file is still there, the lock is not */
	char path[PATH_MAX];
	assert_int_equal(pci_lock_path(t->root, PF, path, sizeof(path)), 0);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(pci_lock_holder(t->root, PF, &pid), 0);
	assert_int_equal(pid, 0);
	int fd = pci_lock(t->root, PF, &holder);
	assert_true(fd >= 0);
	pci_unlock(fd);
}

/* A lock file with anything in it (left by an older aisio, or by hand) is taken. */
static void test_lock_stale_file(void **state)
{
	struct tree *t = *state;
	char path[PATH_MAX];
	assert_int_equal(pci_lock_path(t->root, MP, path, sizeof(path)), 0);
	int wfd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(wfd >= 0);
	assert_int_equal(write(wfd, "12345\n", 6), 6);
	close(wfd);
	int fd = pci_lock(t->root, MP, NULL);
	assert_true(fd >= 0);
	pci_unlock(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_fn_load, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_find_serial, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_no_mountinfo, tree_setup, tree_teardown),
		cmocka_unit_test(test_parse_bdf),
		cmocka_unit_test_setup_teardown(test_lock_path, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_lock_twice, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_lock_other_process, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_lock_stale_file, tree_setup, tree_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
