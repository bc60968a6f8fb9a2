/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vm-pci-probe: exercise a PCI backend (vfio or uio) on a real NVMe function
 * without the driver: open (lock), BAR0 registers, function reset, bus master,
 * hugepage DMA memory mapped for the device, and one Identify Controller on a
 * hand-built admin queue, whose data must arrive through the mapping. Runs in
 * the QEMU guest of tests/vm; prints one line per step, exits non-zero on failure.
 *
 * usage: vm-pci-probe BDF [EXPECTED_BACKEND]
 */
#include <aisio/dma.h>
#include <aisio/nvme_spec.h>
#include <aisio/pci.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define CHECK(cond, ...)                                   \
	do {                                               \
		if (!(cond)) {                             \
			fprintf(stderr, "vm-pci-probe: "); \
			fprintf(stderr, __VA_ARGS__);      \
			fprintf(stderr, "\n");             \
			goto out;                          \
		}                                          \
	} while (0)

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Wait for CSTS.RDY == want, bounded by CAP.TO. */
static int wait_ready(struct pci_dev *dev, uint64_t cap, uint32_t want)
{
	double deadline = now_ms() + 500.0 * (NVME_CAP_TO(cap) + 1);
	while (now_ms() < deadline) {
		uint32_t csts = pci_mmio_read32(dev, NVME_REG_CSTS);
		if (csts == 0xffffffffu)
			return -ENODEV;
		if ((csts & NVME_CSTS_RDY) == want)
			return 0;
	}
	return -ETIMEDOUT;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: vm-pci-probe BDF [vfio|uio]\n");
		return 2;
	}
	int ret = 1, rc;
	struct pci_dev *dev = NULL, *dev2 = NULL;
	struct dma_mem mem = {.fd = -1};
	bool mapped = false;

	rc = pci_dev_open(&dev, argv[1]);
	CHECK(rc == 0, "open %s: %s", argv[1], strerror(-rc));
	printf("open: %s backend %s bar0 %zu bytes\n", dev->bdf, dev->ops->name, dev->bar0_len);
	if (argc > 2)
		CHECK(strcmp(dev->ops->name, argv[2]) == 0, "%s opened with backend %s, expected %s", dev->bdf,
		      dev->ops->name, argv[2]);

	rc = pci_dev_open(&dev2, argv[1]);
	CHECK(rc == -EBUSY, "second open of %s returned %d, expected -EBUSY", argv[1], rc);
	printf("second open: refused (EBUSY)\n");

	rc = pci_dev_reset(dev);
	CHECK(rc == 0 || rc == -ENOTSUP, "reset: %s", strerror(-rc));
	printf("reset: %s\n", rc == 0 ? "done" : "not supported");

	uint64_t cap = pci_mmio_read64(dev, NVME_REG_CAP);
	uint32_t vs = pci_mmio_read32(dev, NVME_REG_VS);
	printf("CAP 0x%016llx VS %u.%u MQES %u DSTRD %u TO %u\n", (unsigned long long)cap, vs >> 16, (vs >> 8) & 0xff,
	       NVME_CAP_MQES(cap) + 1, NVME_CAP_DSTRD(cap), NVME_CAP_TO(cap));
	CHECK(cap != ~0ull && vs != 0 && vs != ~0u, "BAR0 reads back nonsense");

	pci_mmio_write32(dev, NVME_REG_CC, 0);
	rc = wait_ready(dev, cap, 0);
	CHECK(rc == 0, "controller did not become not-ready: %s", strerror(-rc));
	rc = pci_dev_bus_master(dev, true);
	CHECK(rc == 0, "bus master on: %s", strerror(-rc));

	rc = dma_mem_alloc(&mem, 2u << 20, dev->ops->dma_kind);
	CHECK(rc == 0, "dma_mem_alloc: %s", strerror(-rc));
	rc = pci_dev_dma_map(dev, &mem);
	CHECK(rc == 0, "dma map: %s", strerror(-rc));
	mapped = true;
	/* Map, unmap and map again: the backend must give the range back and reuse it. */
	pci_dev_dma_unmap(dev, &mem);
	mapped = false;
	rc = pci_dev_dma_map(dev, &mem);
	CHECK(rc == 0, "dma map (again): %s", strerror(-rc));
	mapped = true;

	struct nvme_sqe *sq = (struct nvme_sqe *)mem.va;
	volatile struct nvme_cqe *cq = (volatile struct nvme_cqe *)(mem.va + 4096);
	/* Put the identify buffer in the second hugepage-internal 4 KiB page after a
	 * 1 MiB offset, so a wrong translation would show up as missing data. */
	uint8_t *idbuf = mem.va + (1u << 20) + 8192;
	memset(mem.va, 0, mem.len);
	printf("dma: %zu bytes, sq iova 0x%llx cq iova 0x%llx buf iova 0x%llx\n", mem.len,
	       (unsigned long long)dma_mem_iova(&mem, sq), (unsigned long long)dma_mem_iova(&mem, (void *)cq),
	       (unsigned long long)dma_mem_iova(&mem, idbuf));

	pci_mmio_write32(dev, NVME_REG_AQA, NVME_AQA(7, 7));
	pci_mmio_write64(dev, NVME_REG_ASQ, dma_mem_iova(&mem, sq));
	pci_mmio_write64(dev, NVME_REG_ACQ, dma_mem_iova(&mem, (void *)cq));
	pci_mmio_write32(dev, NVME_REG_CC, NVME_CC_EN | (6u << NVME_CC_IOSQES_SHIFT) | (4u << NVME_CC_IOCQES_SHIFT));
	rc = wait_ready(dev, cap, NVME_CSTS_RDY);
	CHECK(rc == 0, "controller did not become ready: %s (CSTS 0x%x)", strerror(-rc),
	      pci_mmio_read32(dev, NVME_REG_CSTS));

	sq[0] = (struct nvme_sqe){
		.opc = NVME_ADMIN_IDENTIFY,
		.cid = 0x1234,
		.prp1 = dma_mem_iova(&mem, idbuf),
		.cdw10 = NVME_ID_CNS_CTRL,
	};
	__atomic_thread_fence(__ATOMIC_RELEASE);
	pci_mmio_write32(dev, NVME_SQ_TAIL_DB(0, NVME_CAP_DSTRD(cap)), 1);
	double deadline = now_ms() + 5000;
	while (!(cq[0].status & 1u) && now_ms() < deadline)
		;
	CHECK(cq[0].status & 1u, "no completion for Identify within 5 s (CSTS 0x%x)",
	      pci_mmio_read32(dev, NVME_REG_CSTS));
	pci_mmio_write32(dev, NVME_CQ_HEAD_DB(0, NVME_CAP_DSTRD(cap)), 1);
	CHECK(cq[0].cid == 0x1234, "completion cid 0x%x", cq[0].cid);
	CHECK(NVME_CQE_STATUS(cq[0].status) == 0, "Identify failed with status 0x%x", NVME_CQE_STATUS(cq[0].status));

	const struct nvme_id_ctrl *id = (const struct nvme_id_ctrl *)idbuf;
	printf("identify: vid 0x%04x mn '%.40s' sn '%.20s' nn %u mdts %u\n", id->vid, id->mn, id->sn, id->nn, id->mdts);
	CHECK(id->vid != 0 && id->mn[0] != 0, "identify data did not arrive in DMA memory");

	pci_mmio_write32(dev, NVME_REG_CC, 0);
	rc = wait_ready(dev, cap, 0);
	CHECK(rc == 0, "controller did not disable: %s", strerror(-rc));
	printf("PASS %s %s\n", dev->bdf, dev->ops->name);
	ret = 0;
out:
	if (dev2)
		pci_dev_close(dev2);
	if (dev) {
		/* Controller off before its memory goes away, whatever step failed. */
		pci_mmio_write32(dev, NVME_REG_CC, 0);
		wait_ready(dev, pci_mmio_read64(dev, NVME_REG_CAP), 0);
		if (mapped)
			pci_dev_dma_unmap(dev, &mem);
		pci_dev_close(dev);
	}
	if (mem.va)
		dma_mem_free(&mem);
	return ret;
}
