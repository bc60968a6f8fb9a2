/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dma-buf DMA memory (lib/dma/dma_buf.c) and the driver's data region (nvmed_qpair_set_prps_data):
 * the CPU mapping and its failures, dma-buf source names, and PRPs built from a per-page table whose
 * pages are not contiguous (as the runs of an import may be), with the PRP list in the controller's
 * memory.
 */
#include <aisio/dma.h>
#include <aisio/nvmed.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

static void test_from_memfd(void **state)
{
	(void)state;
	int fd = memfd_create("test-dmabuf", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 64 << 10), 0);
	struct dma_mem m;
	assert_int_equal(dma_mem_from_dmabuf(&m, fd, -1), 0);
	assert_int_equal(m.kind, DMA_KIND_DMABUF);
	assert_int_equal(m.len, 64 << 10);
	assert_int_equal(m.page_shift, 12);
	assert_true(m.cpu_access);
	assert_int_not_equal(m.fd, fd); /* its own duplicate */
	m.va[100] = 0x5a;
	uint8_t b = 0;
	assert_int_equal(pread(fd, &b, 1, 100), 1);
	assert_int_equal(b, 0x5a);
	/* a heap over it hands out zeroed chunks */
	struct dma_heap h;
	assert_int_equal(dma_heap_init(&h, &m), 0);
	uint8_t *p = dma_heap_alloc(&h, 4096, 0);
	assert_ptr_equal(p, m.va);
	assert_int_equal(p[100], 0);
	dma_heap_term(&h);
	dma_mem_free(&m);
	/* a size that is no multiple of the NVMe page, and no dma-buf at all */
	assert_int_equal(ftruncate(fd, 5000), 0);
	assert_int_equal(dma_mem_from_dmabuf(&m, fd, -1), -EINVAL);
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(dma_mem_from_dmabuf(&m, pfd[0], -1), -ESPIPE);
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
}

static void test_sources(void **state)
{
	(void)state;
	int memfd;
	assert_int_equal(dma_buf_open_source("bogus", &memfd), -EINVAL);
	assert_int_equal(memfd, -1);
	assert_int_equal(dma_buf_open_source("fd:abc", &memfd), -EINVAL);
	assert_int_equal(dma_buf_open_source("fd:999999", &memfd), -EBADF);
	assert_int_equal(dma_buf_open_source("/nonexistent/exporter", &memfd), -ENOENT);
	assert_int_equal(dma_buf_open_source("udmabuf:5000", &memfd), -EINVAL);
	int fd = dma_buf_open_source("fd:0", &memfd);
	assert_true(fd > 2);
	close(fd);
}

static void test_import_without_module(void **state)
{
	(void)state;
	int fd = memfd_create("test-dmabuf", MFD_CLOEXEC);
	assert_int_equal(ftruncate(fd, 8192), 0);
	struct dma_mem m;
	assert_int_equal(dma_mem_from_dmabuf(&m, fd, -1), 0);
	if (access("/dev/aisio-dmabuf", F_OK) != 0)
		assert_int_equal(dma_mem_dmabuf_import(&m, "0000:00:04.0"), -ENOENT);
	assert_null(m.iova_pages);
	dma_mem_free(&m);
	close(fd);
}

/* PRPs for buffers in the data region, whose 4 KiB pages lie at scattered bus addresses. */
static void test_data_region_prps(void **state)
{
	(void)state;
	enum { PAGES = 32 };
	/* the controller's memory is larger than any transfer, as set_prps's fast check assumes */
	uint8_t *ctrl_mem = aligned_alloc(4096, 64 * 4096);
	uint8_t *data = aligned_alloc(4096, PAGES * 4096);
	uint64_t pages[PAGES];
	for (unsigned i = 0; i < PAGES; i++)
		pages[i] = 0x800000000ull + (uint64_t)((i * 7) % PAGES) * 0x10000; /* no two adjacent */
	struct nvmed_qpair qp;
	memset(&qp, 0, sizeof(qp));
	qp.dma = (struct nvme_dma_map){.va = ctrl_mem, .len = 64 * 4096, .iova_base = 0x100000, .page_shift = 12};
	qp.data_dma = (struct nvme_dma_map){.va = data, .len = PAGES * 4096, .iova_pages = pages, .page_shift = 12};
	qp.prp_lists = ctrl_mem;
	qp.prp_list_bytes = 4096;
	struct nvme_sqe sqe;

	/* one page at an offset: PRP1 only */
	memset(&sqe, 0, sizeof(sqe));
	assert_int_equal(nvmed_qpair_set_prps(&qp, 0, &sqe, data + 3 * 4096 + 512, 2048), 0);
	assert_int_equal(sqe.prp1, pages[3] + 512);
	assert_int_equal(sqe.prp2, 0);
	/* two pages: PRP2 is the second page's own address, not PRP1 + 4096 */
	assert_int_equal(nvmed_qpair_set_prps(&qp, 0, &sqe, data + 5 * 4096, 8192), 0);
	assert_int_equal(sqe.prp1, pages[5]);
	assert_int_equal(sqe.prp2, pages[6]);
	/* a list: entries are the scattered pages, the list lies in the controller's memory */
	assert_int_equal(nvmed_qpair_set_prps(&qp, 0, &sqe, data + 4096, 16 * 4096), 0);
	assert_int_equal(sqe.prp1, pages[1]);
	assert_int_equal(sqe.prp2, 0x100000);
	const uint64_t *list = (const uint64_t *)ctrl_mem;
	for (unsigned i = 0; i < 15; i++)
		assert_int_equal(list[i], pages[2 + i]);
	/* outside both regions, and running past the data region's end */
	assert_int_equal(nvmed_qpair_set_prps(&qp, 0, &sqe, data + PAGES * 4096, 4096), -EINVAL);
	assert_int_equal(nvmed_qpair_set_prps(&qp, 0, &sqe, data + (PAGES - 1) * 4096, 8192), -EINVAL);
	/* the controller's own memory still takes its contiguous path */
	assert_int_equal(nvmed_qpair_set_prps(&qp, 0, &sqe, ctrl_mem + 4096, 4096), 0);
	assert_int_equal(sqe.prp1, 0x101000);
	/* no data region: a buffer outside the controller's memory is refused */
	qp.data_dma = (struct nvme_dma_map){0};
	assert_int_equal(nvmed_qpair_set_prps(&qp, 0, &sqe, data, 4096), -EINVAL);
	free(ctrl_mem);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_memfd),
		cmocka_unit_test(test_sources),
		cmocka_unit_test(test_import_without_module),
		cmocka_unit_test(test_data_region_prps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
