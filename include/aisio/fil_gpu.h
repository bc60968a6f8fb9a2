/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fil's backends into GPU memory, from the GPU layer's library (built where CUDA is): pass
 * fil_gpu_backends() as fil_opts.gpu (aisio/fil.h says what each backend does).
 *
 *   aisio-gpu   XAL extents -> NVMe reads that GPU threads submit themselves (warp API of
 *               aisio/gpu_nvme.cuh, gpu_queues queue pairs shared by every warp) straight into the
 *               batch buffer in GPU memory, on a GPU-resident controller (fil_opts.device: a
 *               gpuemu: string, e.g. gpuemu:host,file=IMAGE). One launch per worker's part; holes,
 *               unwritten extents and each file's tail are zeroed by a second launch after it.
 *   gds         cuFile (libcufile.so.0, loaded at run time): the driver opened once, the slot
 *               buffers registered once, each file opened O_DIRECT, its handle registered and
 *               cuFileRead into its place.
 *   posix-*     the named posix backend reads into pinned host memory; each worker's part is
 *               copied with cudaMemcpyAsync on that worker's stream.
 *
 * Waits on the GPU are bounded by fil_opts.timeout_ms (a stream polled with short sleeps). The
 * CUDA device is the calling thread's current one; the process's context is asked for blocking
 * synchronisation so that CUDA waits do not spin a CPU.
 */
#ifndef AISIO_FIL_GPU_H
#define AISIO_FIL_GPU_H

#ifdef __cplusplus
extern "C" {
#endif

struct fil_gpu_backends;
const struct fil_gpu_backends *fil_gpu_backends(void);

#ifdef __cplusplus
}
#endif

#endif /* AISIO_FIL_GPU_H */
