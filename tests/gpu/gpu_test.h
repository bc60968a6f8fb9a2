/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AISIO_GPU_TEST_H
#define AISIO_GPU_TEST_H

#include <stdint.h>
#include <stdio.h>

#include <aisio/gpu.h>

/* A failed condition is printed with its place and counted in the including file's `failures`. */
#define CHECK(cond, ...)                                                                \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                   \
			fputc('\n', stderr);                                            \
			failures++;                                                     \
		}                                                                       \
	} while (0)

#ifdef __cplusplus
extern "C" {
#endif

enum { GPU_TEST_SYNC, GPU_TEST_ASYNC, GPU_TEST_WARP, GPU_TEST_OWNED };

struct gpu_test_cmd {
	int mode;
	uint32_t qi;
	uint32_t opc;
	uint32_t nlb;
	uint64_t slba;
	void *buf;
	int rc;
	uint32_t status;
	int polls;
};

/* Launch k_one on the legacy stream (the engine runs on its own non-blocking stream). */
int gpu_test_one(const struct gpu_nvme_ns *ns, struct gpu_test_cmd *c_dev, unsigned threads);
int gpu_test_trap(void);

#ifdef __cplusplus
}
#endif

#endif
