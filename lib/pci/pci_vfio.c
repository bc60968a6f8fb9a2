/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PCI backend for functions bound to vfio-pci, with a type1 IOMMU.
 *
 * Open: container (/dev/vfio/vfio) -> the function's IOMMU group (/dev/vfio/N,
 * every function of the group must be bound to vfio-pci) -> type1 IOMMU -> device
 * fd -> BAR0 and config space through the device's region table.
 *
 * DMA: each dma_mem gets one contiguous IOVA range (m->iova_base) chosen from the
 * IOMMU's valid ranges, first fit, aligned to the memory's page size. The
 * IOMMU confines the device to exactly the memory mapped here; closing the
 * container drops every mapping left.
 */
#include <aisio/log.h>
#include <aisio/pci.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4

/* Low IOVAs stay unused so that a zero or small bogus PRP faults instead of hitting memory. */
#define VFIO_IOVA_FLOOR (1ull << 32)

struct vfio_iova_span {
	uint64_t start, end; /* inclusive end, as the kernel reports it */
};

struct vfio_mapping {
	uint64_t iova, len;
};

struct vfio_state {
	int container;
	int group;
	int device;
	int group_id;
	bool group_attached;
	uint32_t dev_flags;   /* VFIO_DEVICE_FLAGS_* */
	uint64_t cfg_offset;  /* config space region offset in the device fd */
	uint64_t bar0_offset; /* BAR0 region offset in the device fd */
	void *bar0_map;       /* what to munmap */
	size_t bar0_map_len;
	struct vfio_iova_span *ranges;
	unsigned nranges;
	uint64_t pgsizes; /* IOMMU page sizes supported (bitmap) */
	struct vfio_mapping *maps;
	unsigned nmaps, maps_cap;
};

static int vfio_group_of(const char *bdf, int *group_id)
{
	char path[PATH_MAX], link[PATH_MAX];
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		aisio_log(AISIO_LOG_ERROR, bdf,
			  "no IOMMU group: the IOMMU is off. Boot with intel_iommu=on (or amd_iommu=on), "
			  "or bind the function to uio_pci_generic instead");
		return -ENODEV;
	}
	link[n] = 0;
	const char *base = strrchr(link, '/');
	char *end;
	long g = strtol(base ? base + 1 : link, &end, 10);
	if (*end || g < 0) {
		aisio_log(AISIO_LOG_ERROR, bdf, "cannot parse IOMMU group link '%s'", link);
		return -EINVAL;
	}
	*group_id = (int)g;
	return 0;
}

/* Read the type1 IOMMU's valid IOVA ranges; without the capability assume 39 bits less the MSI window. */
static int vfio_iommu_info(struct pci_dev *dev, struct vfio_state *st)
{
	struct vfio_iommu_type1_info probe = {.argsz = sizeof(probe)};
	if (ioctl(st->container, VFIO_IOMMU_GET_INFO, &probe) < 0) {
		int err = errno;
		aisio_log(AISIO_LOG_ERROR, dev->bdf, "VFIO_IOMMU_GET_INFO failed: %s", strerror(err));
		return -err;
	}
	st->pgsizes = (probe.flags & VFIO_IOMMU_INFO_PGSIZES) ? probe.iova_pgsizes : 4096;

	struct vfio_iommu_type1_info *info = NULL;
	if (probe.argsz > sizeof(probe)) {
		info = calloc(1, probe.argsz);
		if (!info)
			return -ENOMEM;
		info->argsz = probe.argsz;
		if (ioctl(st->container, VFIO_IOMMU_GET_INFO, info) < 0) {
			int err = errno;
			free(info);
			aisio_log(AISIO_LOG_ERROR, dev->bdf, "VFIO_IOMMU_GET_INFO failed: %s", strerror(err));
			return -err;
		}
	}
	if (info && (info->flags & VFIO_IOMMU_INFO_CAPS) && info->cap_offset) {
		uint32_t off = info->cap_offset;
		/* capabilities sit at 4-byte offsets (6.1 puts the IOVA ranges at 0x84): copied out, not
		 * dereferenced in place, and the ranges checked against the buffer's end */
		const uint8_t *base = (const uint8_t *)info;
		const size_t ranges_at = offsetof(struct vfio_iommu_type1_info_cap_iova_range, iova_ranges);
		while (off && off + ranges_at <= info->argsz) {
			struct vfio_info_cap_header h;
			memcpy(&h, base + off, sizeof(h));
			if (h.id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
				uint32_t nr;
				memcpy(&nr,
				       base + off + offsetof(struct vfio_iommu_type1_info_cap_iova_range, nr_iovas),
				       sizeof(nr));
				if (nr > (info->argsz - off - ranges_at) / sizeof(struct vfio_iova_range))
					break; /* runs past the buffer: the fallback below, as for a kernel without it */
				st->ranges = calloc(nr ? nr : 1, sizeof(*st->ranges));
				if (!st->ranges) {
					free(info);
					return -ENOMEM;
				}
				for (uint32_t i = 0; i < nr; i++) {
					struct vfio_iova_range r;
					memcpy(&r, base + off + ranges_at + (size_t)i * sizeof(r), sizeof(r));
					st->ranges[i].start = r.start;
					st->ranges[i].end = r.end;
				}
				st->nranges = nr;
				break;
			}
			off = h.next;
		}
	}
	free(info);
	if (!st->ranges) {
		/* Older kernels: the x86 MSI window is the only hole we know of. */
		st->ranges = calloc(2, sizeof(*st->ranges));
		if (!st->ranges)
			return -ENOMEM;
		st->ranges[0] = (struct vfio_iova_span){0, 0xfedfffffull};
		st->ranges[1] = (struct vfio_iova_span){0xfef00000ull, (1ull << 39) - 1};
		st->nranges = 2;
	}
	return 0;
}

/* BAR0 through the region table: the whole BAR if mappable, else the sparse area at offset 0. */
static int vfio_map_bar0(struct pci_dev *dev, struct vfio_state *st)
{
	struct vfio_region_info probe = {.argsz = sizeof(probe), .index = VFIO_PCI_BAR0_REGION_INDEX};
	if (ioctl(st->device, VFIO_DEVICE_GET_REGION_INFO, &probe) < 0) {
		int err = errno;
		aisio_log(AISIO_LOG_ERROR, dev->bdf, "cannot read BAR0 region info: %s", strerror(err));
		return -err;
	}
	if (probe.size == 0 || !(probe.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
		aisio_log(AISIO_LOG_ERROR, dev->bdf, "BAR0 is %s",
			  probe.size == 0 ? "not implemented" : "not mappable through vfio");
		return -ENOTSUP;
	}
	size_t len = probe.size;
	void *va = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, st->device, (off_t)probe.offset);
	if (va == MAP_FAILED && probe.argsz > sizeof(probe)) {
		/* Part of the BAR (the MSI-X table) may be excluded: look for a sparse area at 0. */
		struct vfio_region_info *info = calloc(1, probe.argsz);
		if (!info)
			return -ENOMEM;
		info->argsz = probe.argsz;
		info->index = VFIO_PCI_BAR0_REGION_INDEX;
		size_t sparse_len = 0;
		if (ioctl(st->device, VFIO_DEVICE_GET_REGION_INFO, info) == 0 &&
		    (info->flags & VFIO_REGION_INFO_FLAG_CAPS)) {
			uint32_t off = info->cap_offset;
			while (off && off + sizeof(struct vfio_info_cap_header) <= info->argsz) {
				struct vfio_info_cap_header *h = (struct vfio_info_cap_header *)((uint8_t *)info + off);
				if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
					struct vfio_region_info_cap_sparse_mmap *s = (void *)h;
					for (uint32_t i = 0; i < s->nr_areas; i++)
						if (s->areas[i].offset == 0)
							sparse_len = s->areas[i].size;
				}
				off = h->next;
			}
		}
		free(info);
		if (sparse_len) {
			len = sparse_len;
			va = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, st->device, (off_t)probe.offset);
		}
	}
	if (va == MAP_FAILED) {
		int err = errno;
		aisio_log(AISIO_LOG_ERROR, dev->bdf, "mmap of BAR0 (%llu bytes) failed: %s",
			  (unsigned long long)probe.size, strerror(err));
		return -err;
	}
	st->bar0_map = va;
	st->bar0_map_len = len;
	st->bar0_offset = probe.offset;
	dev->bar0 = va;
	dev->bar0_len = len;
	return 0;
}

static void vfio_state_free(struct vfio_state *st)
{
	if (st->bar0_map)
		munmap(st->bar0_map, st->bar0_map_len);
	if (st->device >= 0)
		close(st->device);
	if (st->group_attached)
		ioctl(st->group, VFIO_GROUP_UNSET_CONTAINER, &st->container);
	if (st->group >= 0)
		close(st->group);
	if (st->container >= 0)
		close(st->container);
	free(st->ranges);
	free(st->maps);
	free(st);
}

static int vfio_open(struct pci_dev *dev, const char *bdf)
{
	struct vfio_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->container = st->group = st->device = -1;
	int rc = vfio_group_of(bdf, &st->group_id);
	if (rc < 0)
		goto fail;

	st->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (st->container < 0) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, bdf, "cannot open /dev/vfio/vfio: %s (is the vfio module loaded?)",
			  strerror(-rc));
		goto fail;
	}
	if (ioctl(st->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		aisio_log(AISIO_LOG_ERROR, bdf, "unknown VFIO API version");
		rc = -ENOTSUP;
		goto fail;
	}
	int iommu_type = VFIO_TYPE1v2_IOMMU;
	if (ioctl(st->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0) {
		iommu_type = VFIO_TYPE1_IOMMU;
		if (ioctl(st->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) <= 0) {
			aisio_log(AISIO_LOG_ERROR, bdf,
				  "the kernel offers no type1 IOMMU for vfio "
				  "(load vfio_iommu_type1)");
			rc = -ENOTSUP;
			goto fail;
		}
	}

	char path[64];
	snprintf(path, sizeof(path), "/dev/vfio/%d", st->group_id);
	st->group = open(path, O_RDWR | O_CLOEXEC);
	if (st->group < 0) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, bdf, "cannot open its IOMMU group %s: %s%s", path, strerror(-rc),
			  rc == -EBUSY ? " (the group is in use by another process)" : "");
		goto fail;
	}
	struct vfio_group_status gs = {.argsz = sizeof(gs)};
	if (ioctl(st->group, VFIO_GROUP_GET_STATUS, &gs) < 0) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, bdf, "VFIO_GROUP_GET_STATUS: %s", strerror(-rc));
		goto fail;
	}
	if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		aisio_log(AISIO_LOG_ERROR, bdf,
			  "IOMMU group %d is not viable: every function in "
			  "/sys/kernel/iommu_groups/%d/devices must be bound to vfio-pci (or to no driver)",
			  st->group_id, st->group_id);
		rc = -EBUSY;
		goto fail;
	}
	if (ioctl(st->group, VFIO_GROUP_SET_CONTAINER, &st->container) < 0) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, bdf, "cannot attach IOMMU group %d to a container: %s", st->group_id,
			  strerror(-rc));
		goto fail;
	}
	st->group_attached = true;
	if (ioctl(st->container, VFIO_SET_IOMMU, iommu_type) < 0) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, bdf, "VFIO_SET_IOMMU: %s", strerror(-rc));
		goto fail;
	}
	rc = vfio_iommu_info(dev, st);
	if (rc < 0)
		goto fail;

	st->device = ioctl(st->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (st->device < 0) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, bdf, "cannot get the vfio device: %s", strerror(-rc));
		st->device = -1;
		goto fail;
	}
	struct vfio_device_info di = {.argsz = sizeof(di)};
	if (ioctl(st->device, VFIO_DEVICE_GET_INFO, &di) < 0) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, bdf, "VFIO_DEVICE_GET_INFO: %s", strerror(-rc));
		goto fail;
	}
	if (!(di.flags & VFIO_DEVICE_FLAGS_PCI) || di.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX) {
		aisio_log(AISIO_LOG_ERROR, bdf, "vfio reports no PCI device");
		rc = -ENODEV;
		goto fail;
	}
	st->dev_flags = di.flags;
	struct vfio_region_info cfg = {.argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX};
	if (ioctl(st->device, VFIO_DEVICE_GET_REGION_INFO, &cfg) < 0) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, bdf, "cannot read config space region info: %s", strerror(-rc));
		goto fail;
	}
	st->cfg_offset = cfg.offset;
	rc = vfio_map_bar0(dev, st);
	if (rc < 0)
		goto fail;
	dev->priv = st;
	return 0;
fail:
	vfio_state_free(st);
	dev->bar0 = NULL;
	dev->bar0_len = 0;
	return rc;
}

static void vfio_close(struct pci_dev *dev)
{
	struct vfio_state *st = dev->priv;
	if (!st)
		return;
	/* Mappings still present die with the container: the device cannot reach them afterwards. */
	vfio_state_free(st);
	dev->priv = NULL;
	dev->bar0 = NULL;
	dev->bar0_len = 0;
}

/* First fit of len bytes aligned to align in the valid ranges at or above floor, avoiding existing mappings. */
static int vfio_iova_fit(struct vfio_state *st, uint64_t floor, uint64_t len, uint64_t align, uint64_t *out)
{
	for (unsigned r = 0; r < st->nranges; r++) {
		uint64_t lo = st->ranges[r].start < floor ? floor : st->ranges[r].start;
		uint64_t hi = st->ranges[r].end;
		if (lo > hi)
			continue;
		uint64_t cand = (lo + align - 1) & ~(align - 1);
		bool moved = true;
		while (moved) {
			moved = false;
			if (cand < lo || cand > hi || hi - cand < len - 1)
				break;
			for (unsigned i = 0; i < st->nmaps; i++) {
				const struct vfio_mapping *mp = &st->maps[i];
				if (cand < mp->iova + mp->len && mp->iova < cand + len) {
					cand = (mp->iova + mp->len + align - 1) & ~(align - 1);
					moved = true;
					break;
				}
			}
			if (!moved) {
				*out = cand;
				return 0;
			}
		}
	}
	return -ENOSPC;
}

static int vfio_iova_alloc(struct vfio_state *st, uint64_t len, uint64_t align, uint64_t *out)
{
	/* Above 4 GiB when the IOMMU allows it; else anywhere but the first MiB. */
	if (vfio_iova_fit(st, VFIO_IOVA_FLOOR, len, align, out) == 0)
		return 0;
	return vfio_iova_fit(st, 1ull << 20, len, align, out);
}

static int vfio_dma_map(struct pci_dev *dev, struct dma_mem *m)
{
	struct vfio_state *st = dev->priv;
	uint64_t page = (uint64_t)1 << m->page_shift;
	uint64_t min_pg = st->pgsizes & -st->pgsizes;
	if (m->kind == DMA_KIND_DMABUF && !m->cpu_access) {
		/* type1 maps what a CPU mapping pins; a dma-buf without one (CUDA's) would need
		 * iommufd's dma-buf import, which Debian's kernels lack */
		aisio_log(AISIO_LOG_ERROR, dev->bdf,
			  "a dma-buf the CPU cannot map cannot go into a vfio container (VFIO_IOMMU_MAP_DMA takes "
			  "a CPU mapping; this needs iommufd's dma-buf import); use uio with the IOMMU off or in "
			  "passthrough and the aisio-dmabuf module");
		return -EOPNOTSUPP;
	}
	if (min_pg == 0 || m->len % min_pg || (uintptr_t)m->va % min_pg) {
		aisio_log(AISIO_LOG_ERROR, dev->bdf,
			  "DMA memory at %p (%zu bytes) is not aligned to the IOMMU page size", (void *)m->va, m->len);
		return -EINVAL;
	}
	if (st->nmaps == st->maps_cap) {
		unsigned cap = st->maps_cap ? st->maps_cap * 2 : 8;
		struct vfio_mapping *n = realloc(st->maps, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		st->maps = n;
		st->maps_cap = cap;
	}
	uint64_t iova;
	int rc = vfio_iova_alloc(st, m->len, page > min_pg ? page : min_pg, &iova);
	if (rc < 0) {
		aisio_log(AISIO_LOG_ERROR, dev->bdf, "no free IOVA range for %zu bytes of DMA memory", m->len);
		return rc;
	}
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)m->va,
		.iova = iova,
		.size = m->len,
	};
	if (ioctl(st->container, VFIO_IOMMU_MAP_DMA, &map) < 0) {
		int err = errno;
		aisio_log(AISIO_LOG_ERROR, dev->bdf, "VFIO_IOMMU_MAP_DMA of %zu bytes at IOVA 0x%llx failed: %s%s",
			  m->len, (unsigned long long)iova, strerror(err),
			  err == ENOMEM ? " (memlock limit? see ulimit -l)" : "");
		return -err;
	}
	st->maps[st->nmaps++] = (struct vfio_mapping){iova, m->len};
	m->iova_base = iova;
	return 0;
}

static void vfio_dma_unmap(struct pci_dev *dev, struct dma_mem *m)
{
	struct vfio_state *st = dev->priv;
	for (unsigned i = 0; i < st->nmaps; i++) {
		if (st->maps[i].iova != m->iova_base || st->maps[i].len != m->len)
			continue;
		struct vfio_iommu_type1_dma_unmap unmap = {
			.argsz = sizeof(unmap),
			.iova = m->iova_base,
			.size = m->len,
		};
		if (ioctl(st->container, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0)
			aisio_log(AISIO_LOG_ERROR, dev->bdf, "VFIO_IOMMU_UNMAP_DMA at IOVA 0x%llx failed: %s",
				  (unsigned long long)m->iova_base, strerror(errno));
		st->maps[i] = st->maps[--st->nmaps];
		m->iova_base = 0;
		return;
	}
}

static int vfio_cfg_rw(struct pci_dev *dev, bool write, void *buf, size_t len, uint64_t off)
{
	struct vfio_state *st = dev->priv;
	ssize_t n = write ? pwrite(st->device, buf, len, (off_t)(st->cfg_offset + off))
			  : pread(st->device, buf, len, (off_t)(st->cfg_offset + off));
	if (n != (ssize_t)len) {
		int err = n < 0 ? errno : EIO;
		aisio_log(AISIO_LOG_ERROR, dev->bdf, "config space %s at 0x%llx failed: %s", write ? "write" : "read",
			  (unsigned long long)off, strerror(err));
		return -err;
	}
	return 0;
}

static int vfio_bus_master(struct pci_dev *dev, bool on)
{
	if (!dev->priv)
		return -ENODEV;
	uint16_t cmd;
	int rc = vfio_cfg_rw(dev, false, &cmd, sizeof(cmd), PCI_COMMAND);
	if (rc < 0)
		return rc;
	uint16_t want = on ? (uint16_t)(cmd | PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY)
			   : (uint16_t)(cmd & ~PCI_COMMAND_MASTER);
	if (want == cmd)
		return 0;
	return vfio_cfg_rw(dev, true, &want, sizeof(want), PCI_COMMAND);
}

static int vfio_reset(struct pci_dev *dev)
{
	struct vfio_state *st = dev->priv;
	if (!st)
		return -ENODEV;
	if (!(st->dev_flags & VFIO_DEVICE_FLAGS_RESET))
		return -ENOTSUP;
	if (ioctl(st->device, VFIO_DEVICE_RESET) < 0) {
		int err = errno;
		aisio_log(AISIO_LOG_ERROR, dev->bdf, "function reset (VFIO_DEVICE_RESET) failed: %s", strerror(err));
		return -err;
	}
	return 0;
}

/* A client gets the device fd itself: with it, all of BAR0 (and config space, and reset) is
 * reachable. One function is one IOMMU domain; SR-IOV is the isolated mode. */
static int vfio_doorbells(struct pci_dev *dev, uint16_t qid, unsigned dstrd, struct nvme_db_map *m)
{
	struct vfio_state *st = dev->priv;
	if (!st)
		return -ENODEV;
	uint64_t sq = NVME_SQ_TAIL_DB(qid, dstrd), cq = NVME_CQ_HEAD_DB(qid, dstrd);
	uint64_t start = sq & ~4095ull, end = (cq + 4 + 4095) & ~4095ull;
	if (end > st->bar0_map_len)
		return -ERANGE;
	m->fd = st->device;
	m->map_off = st->bar0_offset + start;
	m->map_len = end - start;
	m->sq_db_off = (uint32_t)(sq - start);
	m->cq_db_off = (uint32_t)(cq - start);
	m->isolated = 0;
	return 0;
}

const struct pci_backend_ops pci_backend_vfio = {
	.name = "vfio",
	.dma_kind = DMA_KIND_HUGEPAGE,
	.open = vfio_open,
	.close = vfio_close,
	.dma_map = vfio_dma_map,
	.dma_unmap = vfio_dma_unmap,
	.bus_master = vfio_bus_master,
	.reset = vfio_reset,
	.doorbells = vfio_doorbells,
};
