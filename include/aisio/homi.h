/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The homid client: a connection to the daemon that owns the NVMe controllers, and the requests
 * it answers (aisio/homi_proto.h). The I/O layer (bio.h) builds its homi: transport on these;
 * tools use them for `aisio homi status`.
 *
 * Every request waits for its reply at most the connection's timeout (-ETIMEDOUT). A refused
 * request returns the daemon's negative errno and logs its message (aisio_log). Once the daemon
 * has gone (the socket closed, or it announced a shutdown) every call returns -ESHUTDOWN.
 *
 * Thread-safety: requests from any thread (serialized on the connection); homi_client_health
 * from any thread, without blocking.
 */
#ifndef AISIO_HOMI_H
#define AISIO_HOMI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <aisio/homi_proto.h>

struct homi_client;

/* Connect to the socket (NULL: HOMI_DEFAULT_SOCKET) and agree on a version. -ECONNREFUSED or
 * -ENOENT, with a message naming the socket and the command that starts the daemon, when none
 * listens there. */
int homi_connect(struct homi_client **out, const char *socket_path, const char *client_name, unsigned timeout_ms);
void homi_disconnect(struct homi_client *hc);
const char *homi_client_socket(const struct homi_client *hc);
uint32_t homi_client_id(const struct homi_client *hc);

/* 0 while the daemon is there; -ESHUTDOWN once it has gone or announced it is going. */
int homi_client_health(struct homi_client *hc);

/* The devices the daemon manages. *n gets the count (at most max are copied). */
int homi_list(struct homi_client *hc, struct homi_dev *devs, unsigned max, unsigned *n);
/* The device named name: -ENODEV with a message listing the names when there is none. */
int homi_find(struct homi_client *hc, const char *name, struct homi_dev *out);

/* Have the daemon map len bytes of memfd for device dev; *iova is the bus address of its start. */
int homi_reg_mem(struct homi_client *hc, uint32_t dev, int memfd, uint64_t len, uint32_t *mem_id, uint64_t *iova);
int homi_unreg_mem(struct homi_client *hc, uint32_t mem_id);
/* GPU memory for a GPU-resident device (HOMI_DEV_GPUEMU): the start of a cudaMalloc allocation by
 * its CUDA IPC handle (HOMI_GPU_HANDLE_BYTES), len bytes of it; unregistered with homi_unreg_mem. */
int homi_reg_gpu_mem(struct homi_client *hc, uint32_t dev, const void *handle, uint64_t len, uint32_t *mem_id,
		     uint64_t *iova);
/* A GPU-resident device's doorbells (its BAR as a CUDA IPC handle) and namespace kind. */
int homi_gpu_info(struct homi_client *hc, uint32_t dev, struct homi_gpu_info_reply *out);

/* A queue pair whose rings the client placed in registered memory; *db_fd (the caller closes it)
 * maps the doorbells as the reply says; -1 for a GPU-resident device's queue (HOMI_QP_GPU_BAR). */
int homi_grant_qp(struct homi_client *hc, const struct homi_grant_qp *req, struct homi_grant_qp_reply *rep, int *db_fd);
int homi_release_qp(struct homi_client *hc, uint32_t dev, uint16_t qid);

/* The STATUS reply's body (struct homi_status_reply and its records, the ublk devices' too), into
 * buf of cap bytes (HOMI_MSG_MAX is always enough); *len its length. */
int homi_status(struct homi_client *hc, void *buf, size_t cap, size_t *len);

/*
 * Extent service: the daemon keeps an XAL index (aisio/xal.h) of the file system on a device's
 * namespace, watched, in shared memory; a client maps it read-only and asks for a file's LBA runs.
 * homi_extents_info: where it is (-ENOENT when the device has none).
 */
int homi_extents_info(struct homi_client *hc, uint32_t dev, struct homi_extents_reply *out);

struct homi_index;
/* One run of a file on the namespace: file bytes from file_offset lie at nlb LBAs from slba;
 * unwritten runs read as zeros (the caller fills them, the device need not be read). */
struct homi_run {
	uint64_t file_offset;
	uint64_t slba;
	uint64_t nlb;
	bool unwritten;
};
int homi_index_open(struct homi_client *hc, uint32_t dev, struct homi_index **out);
void homi_index_close(struct homi_index *he);
uint32_t homi_index_nsid(const struct homi_index *he);
/* The runs of the regular file at path (relative to the indexed directory) in LBAs of lba_size,
 * and its size. Retries while a watch update tears the read, reopens an index that moved.
 * -ENOENT no such file, -EISDIR not a regular file, -ENOBUFS more than max runs, -ENODATA a run
 * whose bytes are not on the device as they are (inline, encoded, delayed allocation). */
int homi_index_lookup(struct homi_index *he, const char *path, uint32_t lba_size, struct homi_run *runs, unsigned max,
		      unsigned *n, uint64_t *size);

#endif /* AISIO_HOMI_H */
