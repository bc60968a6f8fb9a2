/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aisio's exclusive lock on a PCI function: a flock on run/lock/aisio-<bdf>.lock. A flock
 * belongs to the open file, so two opens conflict even within one process, and the kernel
 * drops it when its holder dies. Who holds it is read from proc/locks, never by taking it.
 */
#include <aisio/devstr.h>
#include <aisio/pci.h>
#include <aisio/pci_sysfs.h>

#include "pci_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int pci_lock_path(const char *root, const char *bdf, char *out, size_t len)
{
	/* the canonical address, never the caller's spelling, goes into the file name */
	char canon[16];
	if (devstr_pci_addr_parse(bdf, canon) < 0)
		return -EINVAL;
	/* One place for every process whatever its privileges, so that the opener and anyone
	 * looking agree: run/lock where the system has it, else tmp. */
	char dir[PATH_MAX];
	int rc = pci_root_path(dir, sizeof(dir), root, "/run/lock");
	struct stat st;
	if (rc == 0 && (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)))
		rc = pci_root_path(dir, sizeof(dir), root, "/tmp");
	if (rc < 0)
		return rc;
	int n = snprintf(out, len, "%s/aisio-%s.lock", dir, canon);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pci_lock(const char *root, const char *bdf, long *holder)
{
	if (holder)
		*holder = 0;
	char path[PATH_MAX];
	int rc = pci_lock_path(root, bdf, path, sizeof(path));
	if (rc < 0)
		return rc;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		close(fd);
		if (err != EWOULDBLOCK)
			return -err;
		if (holder)
			pci_lock_holder(root, bdf, holder);
		return -EBUSY;
	}
	return fd;
}

void pci_unlock(int fd)
{
	/* The file stays: unlinking it would let a later opener lock a new file while a
	 * process that opened the old one still takes the old lock. */
	if (fd >= 0)
		close(fd);
}

int pci_lock_holder(const char *root, const char *bdf, long *pid)
{
	*pid = 0;
	char path[PATH_MAX];
	int rc = pci_lock_path(root, bdf, path, sizeof(path));
	if (rc < 0)
		return rc;
	struct stat st;
	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	rc = pci_root_path(path, sizeof(path), root, "/proc/locks");
	if (rc < 0)
		return rc;
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char line[256];
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
			*pid = p;
	}
	fclose(f);
	return 0;
}
