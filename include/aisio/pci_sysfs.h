/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the host says about NVMe PCI functions, without opening them: discovery from sysfs
 * (class, driver, IOMMU group, SR-IOV, the kernel's serial and model, namespaces and their
 * partitions), what uses them (mounts, holders, swap, processes with a device node open)
 * and aisio's own exclusive lock per function.
 *
 * Every call takes a root: NULL (or "") for the running system, or a directory that holds
 * a tree shaped like it (root/sys/bus/pci/devices, root/sys/class/block, root/proc/locks,
 * root/proc/self/mountinfo, root/proc/swaps, root/proc/PID/fd, root/run/lock) so that
 * tests point it at a fake tree. Names reported (/dev/..., mount points) are as the system
 * names them, never prefixed with the root.
 *
 * Errors are negative errno; nothing is printed. Ownership: the caller owns what a call
 * fills and frees it with the paired call. Thread-safety: none needed, no shared state.
 */
#ifndef AISIO_PCI_SYSFS_H
#define AISIO_PCI_SYSFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The PCI functions, under the root. */
#define PCI_SYSFS_DEVICES "/sys/bus/pci/devices"

#define PCI_SYSFS_MAX_NS 64    /* namespaces listed per function */
#define PCI_SYSFS_MAX_MOUNTS 8 /* mount points listed per namespace (with its partitions) */
#define PCI_SYSFS_MAX_USERS 4  /* processes listed per function */

/* A namespace block device as the kernel nvme driver shows it. */
struct pci_sysfs_ns {
	char name[32]; /* block device: nvme0n1 */
	uint64_t size_bytes;
	char mounts[PCI_SYSFS_MAX_MOUNTS][256]; /* of it and its partitions */
	unsigned nmounts;
	bool held; /* holders (dm, md), swap, on it or a partition */
};

/* A process other than the caller with one of the function's device nodes open. */
struct pci_sysfs_user {
	long pid;
	char comm[20];
	char node[80]; /* what its fd points at: /dev/nvme0n1, /dev/vfio/12, .../resource0 */
};

struct pci_sysfs_fn {
	char bdf[16]; /* dddd:bb:dd.f */
	uint16_t vendor, device;
	uint32_t class_code;              /* 0x010802 for an NVMe I/O controller */
	char driver[64];                  /* bound driver, "" when none */
	int iommu_group;                  /* -1 without an IOMMU group */
	int numa_node;                    /* -1 when the kernel does not say */
	char physfn[16];                  /* the PF of an SR-IOV virtual function, else "" */
	int sriov_numvfs, sriov_totalvfs; /* -1 without SR-IOV */
	/* kernel nvme driver bound: its controller and what it read from Identify; else "" */
	char ctrl[32]; /* nvme0 */
	char serial[24];
	char model[44];
	char firmware[12];
	struct pci_sysfs_ns *ns; /* sorted by name; nns of them */
	unsigned nns;
	bool in_use;    /* a namespace mounted or held */
	int mounts_err; /* 0, or -errno: mountinfo unreadable, mounts not known */
	long aisio_pid; /* the aisio process holding the function's lock, 0 when none */
	struct pci_sysfs_user users[PCI_SYSFS_MAX_USERS];
	unsigned nusers;
};

/* The NVMe functions (class 0x0108xx) of a root, sorted by address. */
struct pci_sysfs_list {
	struct pci_sysfs_fn *fn;
	size_t n;
	int mounts_err; /* 0, or -errno when mountinfo was unreadable (no mounts in fn) */
};

/* List and load every NVMe function. -errno when the PCI device directory cannot be read. */
int pci_sysfs_list(const char *root, struct pci_sysfs_list *out);
void pci_sysfs_list_free(struct pci_sysfs_list *list);

/* Load one function (any class) by address. -EINVAL malformed address, -ENODEV no such
 * function. A mountinfo that cannot be read is not a failure: fn->mounts_err says so. */
int pci_sysfs_fn_load(const char *root, const char *bdf, struct pci_sysfs_fn *fn);
void pci_sysfs_fn_clear(struct pci_sysfs_fn *fn);

/* Is the function an NVMe controller (class 0x0108xx)? 1 yes, 0 no, -ENODEV absent. */
int pci_sysfs_is_nvme(const char *root, const char *bdf);

/* The driver a function is bound to into drv ("" when none). -ENODEV no such function. */
int pci_sysfs_driver(const char *root, const char *bdf, char *drv, size_t len);

/* The NVMe function whose kernel-reported serial is serial (padding ignored), into bdf.
 * -ENOENT when none matches (the serial is known only while the nvme driver is bound). */
int pci_sysfs_find_serial(const char *root, const char *serial, char bdf[16]);

/*
 * aisio's exclusive lock on a function: a flock on root/run/lock/aisio-<bdf>.lock (root/tmp
 * when there is no run/lock directory), the address canonicalised first, so every spelling
 * of one function takes one lock. The kernel drops the lock when its holder dies, so a file
 * left by a dead process is taken like a fresh one. Two opens of the lock conflict even in
 * one process.
 */

/* The lock file's path. -EINVAL malformed address, -ENAMETOOLONG. */
int pci_lock_path(const char *root, const char *bdf, char *out, size_t len);

/* Take the lock: returns its fd (>= 0) for pci_unlock, or -EBUSY when held, with the
 * holder's pid in *holder (0 when it cannot be told; holder may be NULL); other -errno
 * when the file cannot be opened. */
int pci_lock(const char *root, const char *bdf, long *holder);
void pci_unlock(int fd);

/* The pid holding the lock (from root/proc/locks), without taking it: *pid 0 when none. */
int pci_lock_holder(const char *root, const char *bdf, long *pid);

#endif /* AISIO_PCI_SYSFS_H */
