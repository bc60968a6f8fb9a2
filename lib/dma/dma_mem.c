/* SPDX-License-Identifier: BSD-3-Clause */
/* DMA memory allocation: memfd or hugepage backed, and physical address lookup. */
#include <aisio/dma.h>
#include <aisio/log.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGEPAGE_SHIFT 21
/* glibc's <sys/mman.h> has MFD_HUGETLB but not the size encoding; <linux/memfd.h> would
 * redefine MFD_CLOEXEC. The value is the kernel's HUGETLB_FLAG_ENCODE_SHIFT. */
#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT 26
#endif

int dma_mem_alloc(struct dma_mem *m, size_t len, enum dma_kind kind)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->import_fd = -1;
	m->kind = kind;
	m->page_shift = kind == DMA_KIND_HUGEPAGE ? HUGEPAGE_SHIFT : 12;
	size_t page = (size_t)1 << m->page_shift;
	if (len == 0)
		return -EINVAL;
	len = (len + page - 1) & ~(page - 1);

	/* sealed at its size below: a daemon that maps it for a device needs it never to shrink */
	unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	if (kind == DMA_KIND_HUGEPAGE)
		flags |= MFD_HUGETLB | (HUGEPAGE_SHIFT << MFD_HUGE_SHIFT);
	int fd = memfd_create("aisio-dma", flags);
	if (fd < 0) {
		int err = errno;
		aisio_log(AISIO_LOG_ERROR, NULL, "memfd_create(%s) failed: %s",
			  kind == DMA_KIND_HUGEPAGE ? "hugetlb" : "plain", strerror(err));
		return -err;
	}
	if (ftruncate(fd, (off_t)len) < 0) {
		int err = errno;
		close(fd);
		aisio_log(AISIO_LOG_ERROR, NULL, "sizing DMA memory to %zu bytes failed: %s", len, strerror(err));
		return -err;
	}
	fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	int mflags = MAP_SHARED | MAP_POPULATE;
	void *va = mmap(NULL, len, PROT_READ | PROT_WRITE, mflags, fd, 0);
	if (va == MAP_FAILED) {
		int err = errno;
		close(fd);
		if (kind == DMA_KIND_HUGEPAGE)
			aisio_log(AISIO_LOG_ERROR, NULL,
				  "no hugepages for %zu MiB of DMA memory: reserve them with "
				  "`sysctl vm.nr_hugepages=N` (2 MiB each) or `aisio hugepages --reserve N`",
				  len >> 20);
		else
			aisio_log(AISIO_LOG_ERROR, NULL, "mapping %zu bytes of DMA memory failed: %s", len,
				  strerror(err));
		return -ENOMEM;
	}
	/* No mlock: hugetlb pages are never swapped, and the kernel does not lock hugetlb mappings
	 * (mlock_fixup skips them) yet checks RLIMIT_MEMLOCK first, so it only failed callers without
	 * CAP_IPC_LOCK (homi: clients). What keeps the pages in place for a device is the pin that
	 * VFIO_IOMMU_MAP_DMA takes, charged to whoever maps them (the daemon, for homi:). */
	m->va = va;
	m->len = len;
	m->fd = fd;
	m->cpu_access = true;
	return 0;
}

void dma_mem_free(struct dma_mem *m)
{
	if (m->kind == DMA_KIND_DMABUF)
		dma_mem_dmabuf_release(m);
	if (m->va)
		munmap(m->va, m->len);
	if (m->fd >= 0)
		close(m->fd);
	free(m->iova_pages);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->import_fd = -1;
}

int dma_mem_phys_map(struct dma_mem *m)
{
	size_t npages = m->len >> m->page_shift;
	uint64_t *tab = calloc(npages, sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(tab);
		return -errno;
	}
	int rc = 0;
	for (size_t i = 0; i < npages; i++) {
		uintptr_t va = (uintptr_t)m->va + (i << m->page_shift);
		uint64_t ent;
		off_t off = (off_t)(va >> 12) * 8;
		if (pread(fd, &ent, sizeof(ent), off) != sizeof(ent)) {
			rc = -EIO;
			break;
		}
		uint64_t pfn = ent & ((1ull << 55) - 1);
		if (!(ent & (1ull << 63)) || pfn == 0) {
			/* Not present, or the kernel hides PFNs from non-root readers. */
			aisio_log(AISIO_LOG_ERROR, NULL,
				  "no physical address for DMA page %zu (need root and locked pages)", i);
			rc = -EPERM;
			break;
		}
		tab[i] = pfn << 12;
	}
	close(fd);
	if (rc) {
		free(tab);
		return rc;
	}
	free(m->iova_pages);
	m->iova_pages = tab;
	return 0;
}
