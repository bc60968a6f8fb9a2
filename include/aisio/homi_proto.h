/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The homid protocol: what a client and the daemon say over the daemon's UNIX socket
 * (SOCK_SEQPACKET: one message per packet, so a message is never split or merged).
 *
 * Every message is a 16-byte header and a body of a fixed layout per type, all fields
 * little-endian, sizes and offsets fixed (static asserts below). The header's len is the body's
 * length; a body must have exactly the length of its type (the variable replies, LIST and
 * STATUS, a count and that many records). File descriptors travel with SCM_RIGHTS on the
 * message that names them: REG_MEM's request carries the memfd, GRANT_QP's reply the doorbell fd.
 *
 * A request's reply echoes its seq and has type | HOMI_REPLY; a request that fails is answered
 * with HOMI_MSG_ERROR (a negative errno and a short message). The one unsolicited message is
 * HOMI_MSG_SHUTDOWN: the daemon is going away, every granted queue is about to be deleted.
 *
 * homi_msg_check is the one parser of incoming messages for both sides (and the fuzz target).
 */
#ifndef AISIO_HOMI_PROTO_H
#define AISIO_HOMI_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOMI_MAGIC 0x494d4f48u /* "HOMI" */
#define HOMI_VERSION 1
#define HOMI_MSG_MAX 65536       /* largest packet either side sends or accepts */
#define HOMI_NAME_MAX 64         /* device names, with the NUL */
#define HOMI_MAX_DEVS 16         /* devices one daemon manages */
#define HOMI_MAX_NS 16           /* namespaces reported per device */
#define HOMI_MAX_CLIENTS 256     /* connections at once */
#define HOMI_MAX_STATUS_QPS 1024 /* queue records in one STATUS reply */
#define HOMI_MAX_MEMS 64         /* registered regions per client */
#define HOMI_REPLY 0x8000u
#define HOMI_DEFAULT_SOCKET "/run/aisio/homid.sock"

enum homi_msg_type {
	HOMI_MSG_HELLO = 1,
	HOMI_MSG_LIST = 2,
	HOMI_MSG_REG_MEM = 3,
	HOMI_MSG_UNREG_MEM = 4,
	HOMI_MSG_GRANT_QP = 5,
	HOMI_MSG_RELEASE_QP = 6,
	HOMI_MSG_STATUS = 7,
	HOMI_MSG_EXTENTS = 8,
	HOMI_MSG_REG_GPU_MEM = 9,   /* GPU memory by CUDA IPC handle, for a GPU-resident device */
	HOMI_MSG_GPU_INFO = 10,     /* a GPU-resident device's doorbells and namespace kind */
	HOMI_MSG_ERROR = 0x7ff0,    /* reply to any request: struct homi_error */
	HOMI_MSG_SHUTDOWN = 0x7ff1, /* unsolicited, from the daemon: no body */
};

struct homi_hdr {
	uint32_t magic;
	uint16_t version; /* HOMI_VERSION of the sender; HELLO may carry any */
	uint16_t type;
	uint32_t len; /* body bytes after the header */
	uint32_t seq; /* chosen by the client, echoed in the reply */
};

struct homi_error {
	int32_t err; /* negative errno */
	char msg[124];
};

struct homi_hello {
	uint16_t min_version, max_version;
	uint32_t pid; /* informational; the daemon trusts SO_PEERCRED */
	char client[56];
};

struct homi_hello_reply {
	uint16_t version; /* the one both speak */
	uint16_t reserved;
	uint32_t client_id;
	char daemon[56];
};

/* Device kinds in homi_dev.kind */
/* SRIOV_PF: a PF on the kernel nvme driver whose VFs the daemon serves (no queues of its own);
 * SRIOV_VF: one of them on vfio-pci, granted whole to one client at a time. */
enum homi_dev_kind {
	HOMI_DEV_EMU = 1,
	HOMI_DEV_VFIO = 2,
	HOMI_DEV_GPUEMU = 3,
	HOMI_DEV_SRIOV_PF = 4,
	HOMI_DEV_SRIOV_VF = 5,
};
/* homi_dev.flags */
#define HOMI_DEV_DOORBELLS_ISOLATED 1u /* a client maps only its own queues' doorbell pages */
#define HOMI_DEV_SRIOV_ONLINE 2u       /* status, an SR-IOV VF: its secondary controller is online */
#define HOMI_DEV_DOWN 4u               /* status: out of service (its controller did not come back) */

struct homi_ns {
	uint32_t nsid;
	uint32_t lba_shift;
	uint64_t nlba;
	uint32_t max_lbas; /* LBAs per command */
	uint32_t reserved;
};

struct homi_dev {
	char name[HOMI_NAME_MAX];
	uint32_t index; /* what the other requests name the device by */
	uint16_t kind;  /* enum homi_dev_kind */
	uint16_t flags;
	uint32_t dma_kind; /* enum dma_kind: what memory REG_MEM takes for this device */
	uint32_t max_xfer; /* bytes per command */
	uint32_t max_qpairs;
	uint32_t free_qpairs;
	uint32_t max_qdepth; /* ring entries a granted queue may have */
	uint32_t nns;
	struct homi_ns ns[HOMI_MAX_NS];
};

struct homi_list_reply {
	uint32_t ndev;
	uint32_t reserved;
	struct homi_dev dev[]; /* ndev records */
};

/* REG_MEM: one memfd (SCM_RIGHTS) of len bytes, mapped by the daemon for the device. */
struct homi_reg_mem {
	uint32_t dev;
	uint32_t reserved;
	uint64_t len;
};

struct homi_reg_mem_reply {
	uint32_t mem_id;
	uint32_t reserved;
	uint64_t iova; /* bus address of the memfd's first byte; contiguous */
};

/*
 * REG_GPU_MEM: len bytes of the client's GPU memory (the start of one cudaMalloc allocation), named by
 * its CUDA IPC handle, for a device of kind HOMI_DEV_GPUEMU on the same GPU. The daemon imports the
 * allocation and checks len against its size; the reply's iova is the bus address of its first byte.
 * UNREG_MEM releases it like any region.
 */
#define HOMI_GPU_HANDLE_BYTES 64 /* CUDA_IPC_HANDLE_SIZE */
struct homi_reg_gpu_mem {
	uint32_t dev;
	uint32_t reserved;
	uint64_t len;
	uint8_t handle[HOMI_GPU_HANDLE_BYTES];
};

/* GPU_INFO: the GPU-resident device's emulated BAR (its doorbells), as a CUDA IPC handle the client
 * imports; GRANT_QP's reply then has fd -1, HOMI_QP_GPU_BAR in flags and the doorbell offsets into it. */
struct homi_gpu_info {
	uint32_t dev;
	uint32_t reserved;
};

struct homi_gpu_info_reply {
	uint8_t bar_handle[HOMI_GPU_HANDLE_BYTES];
	uint64_t bar_len;
	uint32_t dstrd;
	uint32_t ns_type; /* enum emu_ns_type of the namespace (aisio/emu.h): null keeps no data */
	char gpu[64];     /* the GPU the device lives on (gpu_name()): the client's must be the same */
};

struct homi_unreg_mem {
	uint32_t mem_id;
	uint32_t reserved;
};

/* GRANT_QP: a queue pair on dev whose rings the client placed in its registered memory. */
struct homi_grant_qp {
	uint32_t dev;
	uint32_t nsid;    /* the namespace the client is granted (policy) */
	uint32_t entries; /* ring entries, a power of two, 2..max_qdepth */
	uint32_t mem_id;
	uint64_t sq_off; /* page-aligned offsets of the rings in that region */
	uint64_t cq_off;
};

#define HOMI_QP_GPU_BAR 2u
/* The reply comes with one fd (none with HOMI_QP_GPU_BAR): mmap(len db_map_len at offset db_map_off) holds the doorbells. */
struct homi_grant_qp_reply {
	uint16_t qid;
	uint16_t flags; /* HOMI_DEV_DOORBELLS_ISOLATED when the fd holds this queue's doorbells only;
			 * HOMI_QP_GPU_BAR: no fd, the doorbells are in the GPU_INFO BAR */
	uint32_t dstrd; /* CAP.DSTRD */
	uint64_t db_map_off;
	uint64_t db_map_len;
	uint32_t sq_db_off; /* the SQ tail and CQ head doorbells in that mapping */
	uint32_t cq_db_off;
};

struct homi_release_qp {
	uint32_t dev;
	uint16_t qid;
	uint16_t reserved;
};

/* EXTENTS: where the daemon's XAL index of the file system on dev is shared (read-only, seqlock). */
struct homi_extents {
	uint32_t dev;
	uint32_t reserved;
};

struct homi_extents_reply {
	char shm[64];     /* POSIX shared memory name for xal_shm_open */
	char source[128]; /* the mounted directory the daemon indexes and watches */
	uint32_t nsid;    /* the namespace the file system lives on */
	uint32_t reserved;
};

/*
 * STATUS request: an empty body (the reply of the first protocol: devices, clients, queues), or
 * struct homi_status_req asking for more record kinds. A daemon from before homi_status_req refuses
 * the longer request (-EMSGSIZE), and the client asks again with an empty one.
 */
#define HOMI_STATUS_WANT_UBLK 1u /* the ublk device records */
struct homi_status_req {
	uint32_t want; /* HOMI_STATUS_WANT_* */
	uint32_t reserved;
};

/* STATUS reply: devices, then clients, then queues, then (if asked for) ublk devices */
struct homi_status_dev {
	char name[HOMI_NAME_MAX];
	char target[96]; /* the device string or PCI address the daemon opened */
	uint16_t kind;
	uint16_t flags;
	uint32_t max_qpairs;
	uint32_t used_qpairs;
	uint32_t nns;
	/* SR-IOV (kinds SRIOV_PF, SRIOV_VF) */
	uint32_t holder;  /* VF: the id of the client it is granted to, 0 none */
	uint16_t cntlid;  /* PF: the primary controller's id; VF: its secondary's */
	uint16_t vfn;     /* VF: its number; PF: VFs enabled */
	uint16_t vq, vi;  /* VF: flexible queue and interrupt resources assigned; PF: flexible in all */
	uint32_t ns_mask; /* VF: namespaces attached to it (bit per nsid) */
	uint32_t resets;  /* VF: resets after a client let it go */
	uint32_t pf_dev;  /* VF: the index of its PF's device */
};

struct homi_status_client {
	uint32_t client_id;
	uint32_t pid, uid, gid;
	uint32_t nqueues;
	uint32_t nmems;
	uint64_t mem_bytes;
	char name[56];
};

struct homi_status_qp {
	uint32_t dev;
	uint32_t client_id;
	uint16_t qid;
	uint16_t reserved;
	uint32_t entries;
	uint32_t nsid;
	uint32_t reserved2;
};

enum homi_ublk_state {
	HOMI_UBLK_UNKNOWN = 0,  /* the kernel did not answer */
	HOMI_UBLK_LIVE = 1,     /* served by this daemon */
	HOMI_UBLK_QUIESCED = 2, /* its server is gone: requests held for the next one (recovering) */
	HOMI_UBLK_DEAD = 3,     /* stopped */
};

/* A ublk device the daemon serves (ublk = NSID in its configuration). */
struct homi_status_ublk {
	uint32_t dev;    /* index into the device records */
	int32_t ublk_id; /* /dev/ublkb<ublk_id> */
	uint32_t nsid;
	uint16_t queues, depth;
	uint16_t state;     /* enum homi_ublk_state, the kernel's (GET_DEV_INFO) */
	uint16_t recovered; /* 1: this daemon re-attached it after its predecessor died, 0: added it */
	uint32_t max_io;    /* bytes per request */
	uint64_t requests;  /* served by this daemon */
	uint64_t errors;    /* of those, failed (block-layer I/O errors) */
};

struct homi_status_reply {
	uint32_t ndev, nclients, nqps;
	uint32_t nublk;         /* 0 unless asked for (HOMI_STATUS_WANT_UBLK) */
	uint64_t reclaimed_qps; /* queues the daemon took back from clients that went away */
	uint64_t clients_served;
	/* then ndev homi_status_dev, nclients homi_status_client, nqps homi_status_qp, nublk
	 * homi_status_ublk */
};

_Static_assert(sizeof(struct homi_hdr) == 16, "header");
_Static_assert(sizeof(struct homi_error) == 128, "error");
_Static_assert(sizeof(struct homi_hello) == 64, "hello");
_Static_assert(sizeof(struct homi_hello_reply) == 64, "hello reply");
_Static_assert(sizeof(struct homi_ns) == 24, "ns");
_Static_assert(sizeof(struct homi_dev) == 64 + 32 + 24 * HOMI_MAX_NS, "dev");
_Static_assert(sizeof(struct homi_reg_mem) == 16, "reg mem");
_Static_assert(sizeof(struct homi_reg_mem_reply) == 16, "reg mem reply");
_Static_assert(sizeof(struct homi_grant_qp) == 32, "grant");
_Static_assert(sizeof(struct homi_grant_qp_reply) == 32, "grant reply");
_Static_assert(sizeof(struct homi_extents) == 8, "extents");
_Static_assert(sizeof(struct homi_reg_gpu_mem) == 80, "reg gpu mem");
_Static_assert(sizeof(struct homi_gpu_info) == 8, "gpu info");
_Static_assert(sizeof(struct homi_gpu_info_reply) == 144, "gpu info reply");
_Static_assert(sizeof(struct homi_extents_reply) == 200, "extents reply");
_Static_assert(sizeof(struct homi_status_dev) == 64 + 96 + 16 + 24, "status dev");
_Static_assert(sizeof(struct homi_status_client) == 88, "status client");
_Static_assert(sizeof(struct homi_status_qp) == 24, "status qp");
_Static_assert(sizeof(struct homi_status_reply) == 32, "status reply");
_Static_assert(sizeof(struct homi_status_req) == 8, "status request");
_Static_assert(sizeof(struct homi_status_ublk) == 40, "status ublk");
_Static_assert(HOMI_MAX_DEVS * sizeof(struct homi_dev) + 8 + 16 <= HOMI_MSG_MAX, "list fits");
_Static_assert(16 + 32 + HOMI_MAX_DEVS * sizeof(struct homi_status_dev) +
			       HOMI_MAX_CLIENTS * sizeof(struct homi_status_client) +
			       HOMI_MAX_STATUS_QPS * sizeof(struct homi_status_qp) +
			       HOMI_MAX_DEVS * sizeof(struct homi_status_ublk) <=
		       HOMI_MSG_MAX,
	       "status fits");

/*
 * Check a received packet of n bytes: magic, version (any for HELLO), the body length its type
 * needs (counted records for the LIST and STATUS replies, each count within its bound), strings
 * NUL-terminated. reply_to is 0 when the packet must be a request (the daemon's side), else the
 * request type it must answer (the client's side: the reply, HOMI_MSG_ERROR or HOMI_MSG_SHUTDOWN).
 * Returns 0, or a negative errno with a short reason in *why: -EPROTO bad magic or a type out of
 * place, -EPROTONOSUPPORT another version, -EMSGSIZE a length that does not fit the type.
 */
int homi_msg_check(const void *buf, size_t n, uint16_t reply_to, const char **why);

/* Name of a message type, for logs ("GRANT_QP", "unknown"). */
const char *homi_msg_name(uint16_t type);

/* Exact body length of a request type, or -1 for a type that is no request. */
long homi_request_len(uint16_t type);

/*
 * One packet on a connected SOCK_SEQPACKET socket, for both sides: header (magic, version and the
 * given fields), body, and fd (-1: none) by SCM_RIGHTS. Returns 0 or a negative errno (-EPIPE for a
 * peer that has gone). flags are sendmsg's (MSG_NOSIGNAL is always added).
 */
int homi_send(int sock, uint16_t type, uint32_t seq, const void *body, uint32_t len, int fd, int flags);
/*
 * Receive one packet into buf (cap bytes: HOMI_MSG_MAX + 1 shows a longer packet as truncated). Up to
 * maxfd passed descriptors land in fds (close-on-exec), more are closed; *nfd their count. Returns
 * the packet's length, 0 when the peer has closed, or a negative errno; *trunc says whether the
 * packet or its descriptors were cut (the packet must then be refused).
 */
long homi_recv(int sock, void *buf, size_t cap, int *fds, unsigned maxfd, unsigned *nfd, bool *trunc, int flags);

/* Little-endian hosts only (x86-64, arm64): the structs are the wire format. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the protocol's structs are little-endian");

#endif /* AISIO_HOMI_PROTO_H */
