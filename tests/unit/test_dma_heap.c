/* SPDX-License-Identifier: BSD-3-Clause */
/* DMA memory and its chunk allocator. */
#include <aisio/dma.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void test_alloc_free(void **state)
{
	struct dma_mem m;
	struct dma_heap h;
	assert_int_equal(dma_mem_alloc(&m, 1u << 20, DMA_KIND_MEMFD), 0);
	assert_true(m.fd >= 0);
	assert_int_equal(m.len, 1u << 20);
	assert_int_equal(dma_heap_init(&h, &m), 0);
	assert_int_equal(dma_heap_free_bytes(&h), 1u << 20);

	uint8_t *a = dma_heap_alloc(&h, 100, 0);
	uint8_t *b = dma_heap_alloc(&h, 8192, 0);
	uint8_t *c = dma_heap_alloc(&h, 4096, 64 << 10);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_int_equal(((uintptr_t)(c - m.va)) % (64 << 10), 0);
	assert_true(b >= a + 4096);
	assert_true(dma_mem_contains(&m, b, 8192));
	assert_false(dma_mem_contains(&m, m.va + m.len - 10, 11));
	dma_heap_free(&h, b);
	uint8_t *d = dma_heap_alloc(&h, 8192, 0);
	assert_ptr_equal(d, b); /* first fit reuses the hole */
	/* too big */
	assert_null(dma_heap_alloc(&h, 2u << 20, 0));
	dma_heap_free(&h, a);
	dma_heap_free(&h, c);
	dma_heap_free(&h, d);
	assert_int_equal(dma_heap_free_bytes(&h), 1u << 20);
	/* whole region in one block */
	assert_non_null(dma_heap_alloc(&h, 1u << 20, 0));
	assert_null(dma_heap_alloc(&h, 1, 0));
	dma_heap_term(&h);
	dma_mem_free(&m);
}

static void test_iova(void **state)
{
	struct dma_mem m;
	assert_int_equal(dma_mem_alloc(&m, 8192, DMA_KIND_MEMFD), 0);
	m.iova_base = 0x100000000ull;
	assert_int_equal(dma_mem_iova(&m, m.va + 100), 0x100000000ull + 100);
	/* physical mode: per-page table, pages not contiguous */
	uint64_t pages[2] = {0x5000, 0x9000};
	m.iova_pages = pages;
	assert_int_equal(dma_mem_iova(&m, m.va + 10), 0x500a);
	assert_int_equal(dma_mem_iova(&m, m.va + 4096 + 4), 0x9004);
	m.iova_pages = NULL;
	dma_mem_free(&m);
}

static void test_bad_size(void **state)
{
	struct dma_mem m;
	assert_int_equal(dma_mem_alloc(&m, 0, DMA_KIND_MEMFD), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_free),
		cmocka_unit_test(test_iova),
		cmocka_unit_test(test_bad_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
