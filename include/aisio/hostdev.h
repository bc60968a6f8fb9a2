/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Qualifiers of the small functions that host C11 code and CUDA device code share (the ring, PRPs,
 * stamps, the GPU layer's address arithmetic): one body, compiled by gcc as static inline and by
 * nvcc for both sides, so the host unit tests check exactly what the GPU runs.
 */
#ifndef AISIO_HOSTDEV_H
#define AISIO_HOSTDEV_H

#ifdef __CUDACC__
#define AISIO_HD __host__ __device__ __forceinline__
#else
#define AISIO_HD static inline
#endif

#endif /* AISIO_HOSTDEV_H */
