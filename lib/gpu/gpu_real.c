/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pieces for driving a real NVMe controller from GPU threads. NOT YET RUN ON HARDWARE: the GPU test
 * machine has no NVMe device (docs/GPU.md). The address arithmetic they feed (doorbell offsets,
 * DMA windows, PRPs) is shared with the emulated path and unit-tested on the host.
 *
 *   doorbells: BAR0 (mapped by lib/pci from vfio or sysfs resource0) is registered with the CUDA
 *              driver as I/O memory; the GPU writes doorbells at dev_bar0 + gpu_doorbell_offset().
 *   data:      GPU memory is exported as a dma-buf; the kernel module imports it and returns the bus
 *              address of the range, which becomes a struct gpu_dma_window of the namespace.
 */
#include <cuda_runtime_api.h>
#include <errno.h>
#include <stdint.h>

#include <aisio/gpu.h>
#include <aisio/log.h>

int gpu_bar_register(void *bar0, size_t len, void **dev_bar0)
{
	cudaError_t e = cudaHostRegister(bar0, len, cudaHostRegisterIoMemory | cudaHostRegisterMapped);
	if (e != cudaSuccess) {
		aisio_log(AISIO_LOG_ERROR, "gpu", "register BAR0 (%zu bytes) for GPU access: %s", len,
			  cudaGetErrorString(e));
		return -EIO;
	}
	e = cudaHostGetDevicePointer(dev_bar0, bar0, 0);
	if (e != cudaSuccess) {
		cudaHostUnregister(bar0);
		aisio_log(AISIO_LOG_ERROR, "gpu", "BAR0 device address: %s", cudaGetErrorString(e));
		return -EIO;
	}
	return 0;
}

void gpu_bar_unregister(void *bar0)
{
	cudaHostUnregister(bar0);
}

/* cuMemGetHandleForAddressRange through the runtime's entry-point query: no link-time libcuda. */
typedef int (*get_handle_fn)(void *handle, unsigned long long dptr, size_t size, int type, unsigned long long flags);

int gpu_dmabuf_export(void *dptr, size_t len, int *fd)
{
	void *fn = NULL;
	enum cudaDriverEntryPointQueryResult q;
	cudaError_t e = cudaGetDriverEntryPointByVersion("cuMemGetHandleForAddressRange", &fn, 12000, cudaEnableDefault,
							 &q);
	if (e != cudaSuccess || q != cudaDriverEntryPointSuccess || !fn) {
		aisio_log(AISIO_LOG_ERROR, "gpu", "cuMemGetHandleForAddressRange not available");
		return -EOPNOTSUPP;
	}
	int h = -1;
	/* 0x1 = CU_MEM_RANGE_HANDLE_TYPE_DMA_BUF_FD; range and size must be host-page aligned */
	int r = ((get_handle_fn)fn)(&h, (unsigned long long)(uintptr_t)dptr, len, 0x1, 0);
	if (r != 0 || h < 0) {
		aisio_log(AISIO_LOG_ERROR, "gpu", "dma-buf export of %zu bytes failed (CUresult %d)", len, r);
		return -EIO;
	}
	*fd = h;
	return 0;
}

int gpu_dmabuf_alloc(size_t len, void **dptr, int *fd)
{
	len = (len + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1); /* the export wants whole pages */
	cudaError_t e = cudaMalloc(dptr, len);
	if (e != cudaSuccess) {
		aisio_log(AISIO_LOG_ERROR, "gpu", "cudaMalloc of %zu bytes: %s", len, cudaGetErrorString(e));
		return -ENOMEM;
	}
	int rc = gpu_dmabuf_export(*dptr, len, fd);
	if (rc < 0) {
		cudaFree(*dptr);
		*dptr = NULL;
	}
	return rc;
}

void gpu_dmabuf_free(void *dptr)
{
	if (dptr)
		cudaFree(dptr);
}
