/* SPDX-License-Identifier: BSD-3-Clause */
/* homid's state: its configuration, the devices it owns, the clients it serves. One thread. */
#ifndef AISIO_HOMID_H
#define AISIO_HOMID_H

#include <aisio/dma.h>
#include <aisio/homi_proto.h>
#include <aisio/log.h>
#include <aisio/nvmed.h>
#include <aisio/xal.h>

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define HOMID_MAX_IDS 32      /* uids or gids in one policy line */
#define HOMID_SRIOV_MAX_VFS 8 /* VFs one [device] section with sriov = may bring up */

/* Who may use a device: uid 0 always; these uids; members (primary or supplementary) of these gids. */
struct homid_policy {
	uint32_t uids[HOMID_MAX_IDS];
	unsigned nuids;
	uint32_t gids[HOMID_MAX_IDS];
	unsigned ngids;
	uint32_t ns_mask;    /* bit n: namespace n may be granted; 0 = every active namespace */
	unsigned max_queues; /* per client on this device; 0 = no limit but the controller's */
};

struct homid_dev_conf {
	char name[HOMI_NAME_MAX];
	char target[256]; /* a device string: emu:..., a PCI address */
	struct homid_policy policy;
	char extents[128];     /* a mounted directory of the file system on this device, indexed and watched */
	uint32_t extents_nsid; /* the namespace that file system lives on */
	/* ublk: namespace ublk_nsid served to the kernel as /dev/ublkb<ublk_id>, 0 = none */
	uint32_t ublk_nsid;
	unsigned ublk_queues;    /* ublk queues, each one thread and one NVMe queue pair */
	unsigned ublk_depth;     /* requests in flight per queue */
	int ublk_id;             /* the kernel's device id: fixed, so a restarted daemon finds its device */
	unsigned ublk_timeout_s; /* per NVMe command of the ublk queues: then the request fails (-EIO) */
	/* SR-IOV: sriov_pf is a PF that stays on the kernel nvme driver; the daemon enables sriov_vfs VFs
	 * with sriov_vq queue and sriov_vi interrupt resources each and serves them as devices
	 * NAME.vf1 ... (which the configuration load appends after this one, sriov_vfn set) */
	char sriov_pf[16];
	unsigned sriov_vfs, sriov_vq, sriov_vi;
	uint32_t sriov_ns[HOMID_SRIOV_MAX_VFS + 1]; /* namespaces attached to VF n (bit per nsid); [0]: default */
	unsigned sriov_vfn;                         /* a VF device: its number (from 1), else 0 */
	unsigned sriov_pf_dev;                      /* a VF device: the index of its PF's device */
	unsigned line;                              /* where it was defined, for messages */
};

#define HOMID_UBLK_MAX_QUEUES 16
#define HOMID_UBLK_MAX_DEPTH 1023 /* the NVMe queue pair needs one command id more */
#define HOMID_UBLK_MAX_ID 4095

struct homid_config {
	char path[256];
	char socket[108];
	unsigned socket_mode;
	long socket_gid; /* -1: leave the group as created */
	int log_journal; /* 1: the journal (libsystemd), 0: stderr */
	enum aisio_log_level log_level;
	unsigned open_retry_s;    /* how long to retry a device that is still busy */
	unsigned admin_timeout_s; /* bound of each admin command the daemon sends */
	struct homid_dev_conf devs[HOMI_MAX_DEVS];
	unsigned ndev;
};

/* homid_config.c: parse FILE; -EINVAL with a message naming the line on a bad one. */
int homid_config_load(struct homid_config *cfg, const char *path);

struct homid_client;

/* A granted queue pair. */
struct homid_qp {
	struct homid_client *owner; /* NULL: free (or lost, below) */
	uint32_t mem_id;
	uint32_t entries;
	uint32_t nsid;
	bool lost; /* its deletion failed: the controller may still use the qid, never reused */
};

struct homid_ublk;
struct gpu_ctrl;

/* A VF the daemon brought up, as its PF's state records it (what teardown undoes). */
struct homid_sriov_vf {
	char bdf[16];         /* while enabled */
	uint16_t scid;        /* its secondary controller */
	uint16_t vq, vi;      /* resources assigned */
	bool online;          /* brought online by the daemon */
	bool bound;           /* bound to vfio-pci by the daemon */
	uint32_t ns;          /* namespaces attached now (bit per nsid) */
	uint32_t ns_attached; /* attached by the daemon: detached at teardown */
	uint32_t ns_detached; /* detached by the daemon (not granted): attached again at teardown */
};

/* An SR-IOV PF on the kernel nvme driver: its admin passthrough and what the daemon changed. */
struct homid_sriov {
	int fd; /* /dev/nvmeN */
	char node[48];
	uint16_t cntlid;                   /* the primary's */
	uint32_t nn;                       /* namespaces the controller supports (Identify Controller NN) */
	unsigned nvfs;                     /* VFs the daemon set up (resources assigned): [1..nvfs] below */
	bool enabled;                      /* sriov_numvfs written by the daemon */
	long autoprobe;                    /* sriov_drivers_autoprobe before, restored at teardown; -1 not changed */
	unsigned vq_flexible, vi_flexible; /* the primary's flexible resources (for status) */
	struct homid_sriov_vf vf[HOMID_SRIOV_MAX_VFS + 1]; /* [1..nvfs] */
};

struct homid_dev {
	struct homid_dev_conf conf;
	uint32_t index;
	struct nvmed_ctrl *ctrl; /* NULL for a GPU-resident device */
	struct gpu_ctrl *gpu;    /* a GPU-resident device (homid_gpu.c), or NULL */
	struct pci_dev *pci;
	uint16_t kind; /* enum homi_dev_kind */
	unsigned dstrd;
	bool isolated;
	unsigned max_qpairs;
	unsigned used;
	struct homid_qp qps[NVMED_MAX_QPAIRS + 1];
	/* extent service: the XAL index of conf.extents, exported as shm, updated on inotify events */
	struct xal *xal;
	char shm[64];
	struct homid_ublk *ublk;     /* the ublk device served from it, or NULL */
	struct homid_sriov *sriov;   /* an SR-IOV PF (kind HOMI_DEV_SRIOV_PF): no controller of its own */
	struct homid_client *holder; /* an SR-IOV VF: the one client it is granted to, or NULL */
	uint32_t resets;             /* an SR-IOV VF: resets after a client let it go */
};

/* Memory a client registered for a device. */
struct homid_mem {
	bool used;
	uint32_t id;
	uint32_t dev;
	unsigned refs; /* queues whose rings lie in it */
	bool gpu;      /* imported GPU memory (REG_GPU_MEM): m holds only its bus address and length */
	struct dma_mem m;
};

struct homid_client {
	int fd;
	uint32_t id;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t groups[64];
	unsigned ngroups;
	bool hello;
	char name[56];
	struct homid_mem mems[HOMI_MAX_MEMS];
	uint32_t next_mem_id;
	unsigned nqueues;
	uint64_t mem_bytes;
};

struct homid {
	struct homid_config cfg;
	struct homid_dev devs[HOMI_MAX_DEVS];
	unsigned ndev;
	struct homid_client *clients[HOMI_MAX_CLIENTS];
	unsigned nclients;
	uint32_t next_client_id;
	uint64_t reclaimed_qps;
	uint64_t clients_served;
	bool stopping; /* the devices close next: a VF a client let go of is reset, not brought up again */
	int listen_fd;
	int epoll_fd;
	int signal_fd;
	int keeper_fd; /* the ring keeper's socket (homid_ring_keeper.c), -1: none */
	pid_t keeper_pid;
	uint8_t rx[HOMI_MSG_MAX + 1]; /* one more byte: a longer packet shows as truncated */
	uint8_t tx[HOMI_MSG_MAX];
};

/* homid_extents.c */
int homid_extents_start(struct homid *hd); /* every device with extents =; epoll entries added */
void homid_extents_event(struct homid *hd, struct homid_dev *d);
void homid_extents_stop(struct homid *hd);
int homid_extents_info(struct homid *hd, struct homid_client *cl, uint32_t dev, struct homi_extents_reply *rp,
		       char *why, size_t whylen);

/* homid_ublk.c: serve each device's ublk namespace (ublk = NSID) to the kernel. Start re-attaches to a
 * device a killed daemon left quiesced (user recovery) or adds one; stop removes it (remove, on a
 * clean shutdown) or leaves it to the kernel for the next daemon to recover (after an error). */
int homid_ublk_start(struct homid *hd);
void homid_ublk_stop(struct homid *hd, bool remove);
/* The STATUS records of the ublk devices (at most max); their count. Asks the kernel for each state. */
unsigned homid_ublk_status(struct homid *hd, struct homi_status_ublk *out, unsigned max);
/* DMA memory the ublk queues of a device configuration need on top of the daemon's own. */
size_t homid_ublk_dma_bytes(const struct homid_dev_conf *dc);

/* homid_gpu.c: GPU-resident devices (gpuemu:..., engine=gpu) for GPU clients. Without CUDA in the build,
 * open refuses such a device, so nothing else is reached. */
int homid_gpu_open(struct homid_dev *d);
void homid_gpu_close(struct homid_dev *d);
void homid_gpu_fill_dev(const struct homid_dev *d, struct homi_dev *o);
unsigned homid_gpu_max_qdepth(const struct homid_dev *d);
int homid_gpu_info(struct homid_dev *d, struct homi_gpu_info_reply *rp, char *why, size_t whylen);
int homid_gpu_import(struct homid_dev *d, const struct homi_reg_gpu_mem *rq, uint64_t *bus, char *why, size_t whylen);
void homid_gpu_unimport(struct homid_dev *d, uint64_t bus);
int homid_gpu_queue_create(struct homid_dev *d, uint16_t qid, uint32_t entries, uint64_t sq_bus, uint64_t cq_bus);
int homid_gpu_queue_delete(struct homid_dev *d, uint16_t qid);
void homid_gpu_doorbells(const struct homid_dev *d, uint16_t qid, struct homi_grant_qp_reply *rp);
/* Restart an engine that ended by itself (its watchdog); called on every turn of the main loop. */
void homid_gpu_tick(struct homid *hd);

/* homid_ring_keeper.c: a child process holding a duplicate of each ublk queue's io_uring, so that a
 * killed daemon's rings are released after all its threads have exited (the file says why). Start
 * forks it (before the devices open: the child is small); hold passes it one fd; stop with release
 * (a clean stop) has it close them at once, without it waits for this process to be gone. */
int homid_ring_keeper_start(struct homid *hd);
int homid_ring_keeper_hold(struct homid *hd, int fd);
void homid_ring_keeper_stop(struct homid *hd, bool release);

/* homid_sriov.c: bring up the SR-IOV PF of device d (resources, VFs, namespaces, online, vfio-pci),
 * which fills the targets of its VF devices' configurations; tear down what it did. */
int homid_sriov_up(struct homid *hd, struct homid_dev *d);
void homid_sriov_down(struct homid *hd, struct homid_dev *d);
/* The VF device vf, its PF's record of it. */
const struct homid_sriov_vf *homid_sriov_vf_of(const struct homid *hd, const struct homid_dev *vf);

/* homid_dev.c */
int homid_devs_open(struct homid *hd);
void homid_devs_close(struct homid *hd);
bool homid_policy_allows(const struct homid_dev *dev, const struct homid_client *cl);
int homid_qp_grant(struct homid *hd, struct homid_client *cl, const struct homi_grant_qp *rq,
		   struct homi_grant_qp_reply *rp, int *db_fd, char *why, size_t whylen);
int homid_qp_release(struct homid *hd, struct homid_client *cl, uint32_t dev, uint16_t qid, char *why, size_t whylen);
int homid_mem_register(struct homid *hd, struct homid_client *cl, const struct homi_reg_mem *rq, int fd,
		       struct homi_reg_mem_reply *rp, char *why, size_t whylen);
int homid_gpu_mem_register(struct homid *hd, struct homid_client *cl, const struct homi_reg_gpu_mem *rq,
			   struct homi_reg_mem_reply *rp, char *why, size_t whylen);
int homid_gpu_info_get(struct homid *hd, struct homid_client *cl, uint32_t dev, struct homi_gpu_info_reply *rp,
		       char *why, size_t whylen);
int homid_mem_unregister(struct homid *hd, struct homid_client *cl, uint32_t mem_id, char *why, size_t whylen);
/* Take back every queue (SQs deleted, then CQs) and then every memory region of a client. */
void homid_client_reclaim(struct homid *hd, struct homid_client *cl);

/* homid_conn.c */
void homid_client_accept(struct homid *hd);
void homid_client_readable(struct homid *hd, struct homid_client *cl);
void homid_client_drop(struct homid *hd, struct homid_client *cl, bool notify);

#endif
