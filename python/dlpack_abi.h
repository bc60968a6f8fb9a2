/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DLPack ABI (the data structures of the DLPack specification, 0.8 and 1.0), written out here
 * for the fil Python module: only what a 1-D CPU tensor export needs. The layouts are fixed by the
 * spec; the static asserts hold them to the sizes and offsets an x86-64 / aarch64 consumer expects.
 *
 * Two capsules carry a tensor: "dltensor" holds a struct dl_managed_tensor (the 0.x form numpy 1.24
 * and torch 1.13 take), "dltensor_versioned" a struct dl_managed_tensor_versioned (1.x, asked for
 * with __dlpack__(max_version=(1, 0)) or later). A consumer renames the capsule to "used_dltensor"
 * (or "used_dltensor_versioned") when it takes ownership and then calls the deleter once; a capsule
 * destroyed unconsumed is the producer's to delete.
 */
#ifndef AISIO_DLPACK_ABI_H
#define AISIO_DLPACK_ABI_H

#include <stddef.h>
#include <stdint.h>

#define DL_CAPSULE_NAME "dltensor"
#define DL_CAPSULE_USED_NAME "used_dltensor"
#define DL_CAPSULE_VERSIONED_NAME "dltensor_versioned"
#define DL_CAPSULE_VERSIONED_USED_NAME "used_dltensor_versioned"

/* The version this module produces in the versioned capsule. */
#define DL_VERSION_MAJOR 1
#define DL_VERSION_MINOR 0

enum dl_device_type {
	DL_CPU = 1,
	DL_CUDA = 2,
	DL_CUDA_HOST = 3,
};

enum dl_dtype_code {
	DL_INT = 0,
	DL_UINT = 1,
	DL_FLOAT = 2,
};

/* Flags of the versioned tensor. */
#define DL_FLAG_READ_ONLY (UINT64_C(1) << 0)
#define DL_FLAG_IS_COPIED (UINT64_C(1) << 1)

struct dl_version {
	uint32_t major;
	uint32_t minor;
};

struct dl_device {
	int32_t device_type; /* enum dl_device_type; the spec's enum is an int */
	int32_t device_id;
};

struct dl_dtype {
	uint8_t code; /* enum dl_dtype_code */
	uint8_t bits;
	uint16_t lanes;
};

struct dl_tensor {
	void *data;
	struct dl_device device;
	int32_t ndim;
	struct dl_dtype dtype;
	int64_t *shape;   /* ndim entries */
	int64_t *strides; /* in elements; NULL: compact row-major */
	uint64_t byte_offset;
};

struct dl_managed_tensor {
	struct dl_tensor dl_tensor;
	void *manager_ctx;
	void (*deleter)(struct dl_managed_tensor *self);
};

struct dl_managed_tensor_versioned {
	struct dl_version version;
	void *manager_ctx;
	void (*deleter)(struct dl_managed_tensor_versioned *self);
	uint64_t flags;
	struct dl_tensor dl_tensor;
};

_Static_assert(sizeof(void *) == 8, "the layouts below are those of 64-bit targets");
_Static_assert(sizeof(struct dl_version) == 8, "DLPackVersion");
_Static_assert(sizeof(struct dl_device) == 8, "DLDevice");
_Static_assert(sizeof(struct dl_dtype) == 4, "DLDataType");
_Static_assert(offsetof(struct dl_tensor, device) == 8, "DLTensor.device");
_Static_assert(offsetof(struct dl_tensor, ndim) == 16, "DLTensor.ndim");
_Static_assert(offsetof(struct dl_tensor, dtype) == 20, "DLTensor.dtype");
_Static_assert(offsetof(struct dl_tensor, shape) == 24, "DLTensor.shape");
_Static_assert(offsetof(struct dl_tensor, strides) == 32, "DLTensor.strides");
_Static_assert(offsetof(struct dl_tensor, byte_offset) == 40, "DLTensor.byte_offset");
_Static_assert(sizeof(struct dl_tensor) == 48, "DLTensor");
_Static_assert(offsetof(struct dl_managed_tensor, manager_ctx) == 48, "DLManagedTensor.manager_ctx");
_Static_assert(offsetof(struct dl_managed_tensor, deleter) == 56, "DLManagedTensor.deleter");
_Static_assert(sizeof(struct dl_managed_tensor) == 64, "DLManagedTensor");
_Static_assert(offsetof(struct dl_managed_tensor_versioned, manager_ctx) == 8, "DLManagedTensorVersioned.manager_ctx");
_Static_assert(offsetof(struct dl_managed_tensor_versioned, deleter) == 16, "DLManagedTensorVersioned.deleter");
_Static_assert(offsetof(struct dl_managed_tensor_versioned, flags) == 24, "DLManagedTensorVersioned.flags");
_Static_assert(offsetof(struct dl_managed_tensor_versioned, dl_tensor) == 32, "DLManagedTensorVersioned.dl_tensor");
_Static_assert(sizeof(struct dl_managed_tensor_versioned) == 80, "DLManagedTensorVersioned");

#endif
