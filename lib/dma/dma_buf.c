/* SPDX-License-Identifier: BSD-3-Clause */
/* dma-buf as DMA memory: the CPU mapping, the import through aisio-dmabuf, dma-buf sources. */
#include <aisio/dma.h>
#include <aisio/dmabuf_import.h>
#include <aisio/log.h>
#include <aisio/strparse.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/udmabuf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define NVME_PAGE_SHIFT 12
#define UDMABUF_DEFAULT_BYTES (8u << 20)

int dma_mem_from_dmabuf(struct dma_mem *m, int dmabuf_fd, int cpu_fd)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->import_fd = -1;
	m->kind = DMA_KIND_DMABUF;
	m->page_shift = NVME_PAGE_SHIFT;
	off_t size = lseek(dmabuf_fd, 0, SEEK_END);
	if (size < 0) {
		int err = errno;
		aisio_log(AISIO_LOG_ERROR, NULL, "fd %d is not a dma-buf (lseek: %s)", dmabuf_fd, strerror(err));
		return -err;
	}
	lseek(dmabuf_fd, 0, SEEK_SET);
	if (size == 0 || size % ((off_t)1 << NVME_PAGE_SHIFT)) {
		aisio_log(AISIO_LOG_ERROR, NULL, "dma-buf fd %d has %lld bytes: not a multiple of 4 KiB", dmabuf_fd,
			  (long long)size);
		return -EINVAL;
	}
	int fd = fcntl(dmabuf_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	void *va = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu_fd >= 0 ? cpu_fd : fd, 0);
	m->cpu_access = va != MAP_FAILED;
	if (va == MAP_FAILED) {
		/* no CPU mapping from this exporter: reserve addresses that name offsets only */
		/* 524 is the kernel's ENOTSUPP (NVIDIA's export answers it), which libc has no text for */
		int err = errno;
		aisio_log(AISIO_LOG_INFO, NULL, "dma-buf fd %d cannot be mapped by the CPU (%s): device access only",
			  dmabuf_fd, err == 524 ? "the exporter does not support mmap, ENOTSUPP" : strerror(err));
		va = mmap(NULL, (size_t)size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (va == MAP_FAILED) {
			close(fd);
			return -ENOMEM;
		}
	}
	m->va = va;
	m->len = (size_t)size;
	m->fd = fd;
	return 0;
}

static int import_fail(struct dma_mem *m, const char *bdf, int rc, const char *what)
{
	aisio_log(AISIO_LOG_ERROR, bdf, "aisio-dmabuf %s failed: %s", what, strerror(-rc));
	dma_mem_dmabuf_release(m);
	return rc;
}

int dma_mem_dmabuf_import(struct dma_mem *m, const char *bdf)
{
	if (m->kind != DMA_KIND_DMABUF || m->import_handle)
		return -EINVAL;
	int dev = open(AISIO_DMABUF_DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		int err = errno;
		if (err == ENOENT)
			aisio_log(AISIO_LOG_ERROR, bdf,
				  "%s does not exist: the aisio-dmabuf kernel module is not loaded (build it with "
				  "`make kmod`, then `insmod aisio_dmabuf.ko`); a function on uio needs it to DMA into "
				  "a dma-buf",
				  AISIO_DMABUF_DEVICE);
		else
			aisio_log(AISIO_LOG_ERROR, bdf, "cannot open %s: %s", AISIO_DMABUF_DEVICE, strerror(err));
		return -err;
	}
	struct aisio_dmabuf_attach a = {.fd = m->fd};
	if (snprintf(a.pci_addr, sizeof(a.pci_addr), "%s", bdf) >= (int)sizeof(a.pci_addr)) {
		close(dev);
		return -EINVAL;
	}
	if (ioctl(dev, AISIO_DMABUF_ATTACH, &a) < 0) {
		int err = errno;
		close(dev);
		aisio_log(AISIO_LOG_ERROR, bdf, "aisio-dmabuf ATTACH of %zu bytes failed: %s", m->len, strerror(err));
		return -err;
	}
	m->import_fd = dev;
	m->import_handle = a.handle;
	if (a.size != m->len)
		return import_fail(m, bdf, -EINVAL, "ATTACH (size differs from the dma-buf's)");
	struct aisio_dmabuf_run *runs = calloc(a.nr_runs, sizeof(*runs));
	size_t npages = m->len >> m->page_shift;
	uint64_t *tab = calloc(npages, sizeof(*tab));
	if (!runs || !tab) {
		free(runs);
		free(tab);
		return import_fail(m, bdf, -ENOMEM, "GET_MAP");
	}
	struct aisio_dmabuf_get_map g = {.handle = a.handle, .nr_runs = a.nr_runs, .runs = (uintptr_t)runs};
	int rc = ioctl(dev, AISIO_DMABUF_GET_MAP, &g) < 0 ? -errno : 0;
	const uint64_t page = (uint64_t)1 << m->page_shift;
	size_t n = 0;
	for (uint32_t i = 0; rc == 0 && i < g.nr_runs; i++) {
		if ((runs[i].addr | runs[i].len) & (page - 1)) {
			aisio_log(AISIO_LOG_ERROR, bdf, "dma-buf run %u (0x%llx, %llu bytes) is not 4 KiB aligned", i,
				  (unsigned long long)runs[i].addr, (unsigned long long)runs[i].len);
			rc = -EINVAL;
			break;
		}
		for (uint64_t off = 0; off < runs[i].len && n < npages; off += page)
			tab[n++] = runs[i].addr + off;
	}
	free(runs);
	if (rc == 0 && n != npages)
		rc = -EINVAL; /* the runs cover less than the buffer */
	if (rc < 0) {
		free(tab);
		return import_fail(m, bdf, rc, "GET_MAP");
	}
	free(m->iova_pages);
	m->iova_pages = tab;
	m->iova_base = 0;
	return 0;
}

void dma_mem_dmabuf_release(struct dma_mem *m)
{
	if (m->import_handle) {
		struct aisio_dmabuf_detach d = {.handle = m->import_handle};
		if (ioctl(m->import_fd, AISIO_DMABUF_DETACH, &d) < 0)
			aisio_log(AISIO_LOG_WARNING, NULL, "aisio-dmabuf DETACH failed: %s (closing releases it)",
				  strerror(errno));
		close(m->import_fd);
		m->import_handle = 0;
		m->import_fd = -1;
	}
	free(m->iova_pages);
	m->iova_pages = NULL;
}

static int udmabuf_open(const char *size_text, int *memfd)
{
	uint64_t size = UDMABUF_DEFAULT_BYTES;
	if (size_text && (strparse_size(size_text, &size) < 0 || size == 0 || size % 4096)) {
		aisio_log(AISIO_LOG_ERROR, NULL, "udmabuf size '%s' is not a multiple of 4 KiB", size_text);
		return -EINVAL;
	}
	int mfd = memfd_create("aisio-udmabuf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -errno;
	int rc = 0;
	/* udmabuf wants the memfd sealed against shrinking */
	if (ftruncate(mfd, (off_t)size) < 0 || fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
		rc = -errno;
	int dev = rc ? -1 : open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (!rc && dev < 0) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, NULL, "cannot open /dev/udmabuf: %s%s", strerror(-rc),
			  rc == -ENOENT ? " (udmabuf: built into Debian's 6.12, a module to build for 6.1)" : "");
	}
	int fd = rc;
	if (!rc) {
		struct udmabuf_create c = {.memfd = (uint32_t)mfd, .flags = UDMABUF_FLAGS_CLOEXEC, .size = size};
		fd = ioctl(dev, UDMABUF_CREATE, &c);
		if (fd < 0) {
			fd = -errno;
			aisio_log(AISIO_LOG_ERROR, NULL, "UDMABUF_CREATE of %llu bytes failed: %s",
				  (unsigned long long)size, strerror(-fd));
		}
		close(dev);
	}
	if (fd >= 0)
		*memfd = mfd;
	else
		close(mfd);
	return fd;
}

int dma_buf_open_source(const char *source, int *memfd)
{
	*memfd = -1;
	if (!strcmp(source, "udmabuf") || !strncmp(source, "udmabuf:", 8))
		return udmabuf_open(source[7] ? source + 8 : NULL, memfd);
	if (!strncmp(source, "fd:", 3)) {
		uint64_t n;
		if (strparse_u64(source + 3, 0, 1000000, &n) < 0) {
			aisio_log(AISIO_LOG_ERROR, NULL, "'%s': fd:N takes a file descriptor number", source);
			return -EINVAL;
		}
		int fd = fcntl((int)n, F_DUPFD_CLOEXEC, 3);
		if (fd < 0) {
			int err = errno;
			aisio_log(AISIO_LOG_ERROR, NULL, "fd %d is not open: %s", (int)n, strerror(err));
			return -err;
		}
		return fd;
	}
	if (source[0] != '/') {
		aisio_log(AISIO_LOG_ERROR, NULL,
			  "dma-buf source '%s': want udmabuf[:SIZE], fd:N or an exporter's device node path", source);
		return -EINVAL;
	}
	int dev = open(source, O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		int err = errno;
		aisio_log(AISIO_LOG_ERROR, NULL, "cannot open dma-buf exporter %s: %s", source, strerror(err));
		return -err;
	}
	int fd = ioctl(dev, AISIO_IVSHMEM_EXPORT);
	if (fd < 0) {
		fd = -errno;
		aisio_log(AISIO_LOG_ERROR, NULL, "%s: EXPORT failed: %s", source, strerror(-fd));
	}
	close(dev);
	return fd;
}
