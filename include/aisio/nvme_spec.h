/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe base specification definitions: controller registers, submission and
 * completion queue entries, opcodes, status codes, identify and log structures.
 *
 * Plain structs with natural alignment and size asserts, no packing, no
 * functions: the same header is included by C11 host code and CUDA device code.
 */
#ifndef AISIO_NVME_SPEC_H
#define AISIO_NVME_SPEC_H

#include <stdint.h>

#ifdef __cplusplus
#define NVME_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define NVME_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

/* ---- Controller registers (BAR0 offsets) ---- */
enum nvme_reg {
	NVME_REG_CAP = 0x00, /* 64 bit: capabilities */
	NVME_REG_VS = 0x08,  /* version */
	NVME_REG_INTMS = 0x0c,
	NVME_REG_INTMC = 0x10,
	NVME_REG_CC = 0x14,   /* controller configuration */
	NVME_REG_CSTS = 0x1c, /* controller status */
	NVME_REG_NSSR = 0x20,
	NVME_REG_AQA = 0x24,   /* admin queue attributes */
	NVME_REG_ASQ = 0x28,   /* 64 bit: admin SQ base */
	NVME_REG_ACQ = 0x30,   /* 64 bit: admin CQ base */
	NVME_REG_DBS = 0x1000, /* first doorbell */
};

/* CAP fields */
#define NVME_CAP_MQES(cap) ((uint32_t)((cap)&0xffff))         /* max queue entries, 0's based */
#define NVME_CAP_CQR(cap) ((uint32_t)(((cap) >> 16) & 0x1))   /* contiguous queues required */
#define NVME_CAP_TO(cap) ((uint32_t)(((cap) >> 24) & 0xff))   /* ready timeout, 500 ms units */
#define NVME_CAP_DSTRD(cap) ((uint32_t)(((cap) >> 32) & 0xf)) /* doorbell stride 2^(2+DSTRD) */
#define NVME_CAP_NSSRS(cap) ((uint32_t)(((cap) >> 36) & 0x1))
#define NVME_CAP_CSS(cap) ((uint32_t)(((cap) >> 37) & 0xff))   /* command sets supported */
#define NVME_CAP_MPSMIN(cap) ((uint32_t)(((cap) >> 48) & 0xf)) /* 2^(12+MPSMIN) */
#define NVME_CAP_MPSMAX(cap) ((uint32_t)(((cap) >> 52) & 0xf))
#define NVME_CAP_CSS_NVM 0x01
#define NVME_CAP_CSS_NOIO 0x80

/* CC fields */
#define NVME_CC_EN (1u << 0)
#define NVME_CC_CSS_SHIFT 4
#define NVME_CC_MPS_SHIFT 7
#define NVME_CC_AMS_SHIFT 11
#define NVME_CC_SHN_SHIFT 14
#define NVME_CC_SHN_MASK (3u << 14)
#define NVME_CC_SHN_NORMAL (1u << 14)
#define NVME_CC_SHN_ABRUPT (2u << 14)
#define NVME_CC_IOSQES_SHIFT 16
#define NVME_CC_IOCQES_SHIFT 20

/* CSTS fields */
#define NVME_CSTS_RDY (1u << 0)
#define NVME_CSTS_CFS (1u << 1) /* controller fatal status */
#define NVME_CSTS_SHST_MASK (3u << 2)
#define NVME_CSTS_SHST_CMPLT (2u << 2)

/* AQA fields: 0's based sizes */
#define NVME_AQA(asqs, acqs) ((uint32_t)(((acqs) << 16) | (asqs)))

/* Doorbell offsets: SQ y tail at 0x1000 + (2y) * (4 << DSTRD), CQ y head after it. */
#define NVME_SQ_TAIL_DB(qid, dstrd) (NVME_REG_DBS + (2u * (qid)) * (4u << (dstrd)))
#define NVME_CQ_HEAD_DB(qid, dstrd) (NVME_REG_DBS + (2u * (qid) + 1u) * (4u << (dstrd)))

/* ---- Submission queue entry: 64 bytes ---- */
struct nvme_sqe {
	uint8_t opc;   /* opcode */
	uint8_t flags; /* FUSE [1:0], PSDT [7:6] (0 = PRP) */
	uint16_t cid;  /* command identifier */
	uint32_t nsid;
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t mptr;
	uint64_t prp1;
	uint64_t prp2;
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
};
NVME_STATIC_ASSERT(sizeof(struct nvme_sqe) == 64, "SQE is 64 bytes");

/* ---- Completion queue entry: 16 bytes ---- */
struct nvme_cqe {
	uint32_t dw0; /* command specific */
	uint32_t dw1;
	uint16_t sqhd; /* SQ head pointer */
	uint16_t sqid;
	uint16_t cid;
	uint16_t status; /* bit 0 phase, [8:1] SC, [11:9] SCT, [13:12] CRD, 14 M, 15 DNR */
};
NVME_STATIC_ASSERT(sizeof(struct nvme_cqe) == 16, "CQE is 16 bytes");

#define NVME_CQE_PHASE(status) ((status)&1u)
/* Status without the phase bit: SCT << 8 | SC, as printed by nvme-cli. */
#define NVME_CQE_STATUS(status) ((uint16_t)(((status) >> 1) & 0x7ff))
#define NVME_CQE_DNR(status) (((status) >> 15) & 1u)
#define NVME_STATUS_SCT(st) (((st) >> 8) & 0x7u)
#define NVME_STATUS_SC(st) ((st)&0xffu)
#define NVME_STATUS(sct, sc) ((uint16_t)(((sct) << 8) | (sc)))

/* ---- Opcodes ---- */
enum nvme_admin_opc {
	NVME_ADMIN_DELETE_SQ = 0x00,
	NVME_ADMIN_CREATE_SQ = 0x01,
	NVME_ADMIN_GET_LOG_PAGE = 0x02,
	NVME_ADMIN_DELETE_CQ = 0x04,
	NVME_ADMIN_CREATE_CQ = 0x05,
	NVME_ADMIN_IDENTIFY = 0x06,
	NVME_ADMIN_ABORT = 0x08,
	NVME_ADMIN_SET_FEATURES = 0x09,
	NVME_ADMIN_GET_FEATURES = 0x0a,
	NVME_ADMIN_ASYNC_EVENT = 0x0c,
	NVME_ADMIN_NS_ATTACH = 0x15,
	NVME_ADMIN_VIRT_MGMT = 0x1c,
};

enum nvme_io_opc {
	NVME_CMD_FLUSH = 0x00,
	NVME_CMD_WRITE = 0x01,
	NVME_CMD_READ = 0x02,
	NVME_CMD_WRITE_ZEROES = 0x08,
	NVME_CMD_DSM = 0x09,
};

/* Identify CNS values (CDW10[7:0]) */
enum nvme_identify_cns {
	NVME_ID_CNS_NS = 0x00,
	NVME_ID_CNS_CTRL = 0x01,
	NVME_ID_CNS_NS_ACTIVE_LIST = 0x02,
	NVME_ID_CNS_PRIMARY_CTRL_CAP = 0x14,    /* CDW10[31:16] CNTID: the primary's own */
	NVME_ID_CNS_SECONDARY_CTRL_LIST = 0x15, /* CDW10[31:16] CNTID: entries from this id up */
};

/* Virtualization Management (admin 0x1c): CDW10 ACT[3:0], RT[10:8], CNTLID[31:16]; CDW11 NR[15:0];
 * completion DW0 the number of resources now assigned or allocated. */
enum nvme_virt_mgmt_act {
	NVME_VIRT_MGMT_PRIMARY_FLEX_ALLOC = 0x1,
	NVME_VIRT_MGMT_SECONDARY_OFFLINE = 0x7,
	NVME_VIRT_MGMT_SECONDARY_ASSIGN = 0x8,
	NVME_VIRT_MGMT_SECONDARY_ONLINE = 0x9,
};
enum nvme_virt_mgmt_rt {
	NVME_VIRT_MGMT_RT_VQ = 0x0, /* queue resources (an admin or I/O queue pair each) */
	NVME_VIRT_MGMT_RT_VI = 0x1, /* interrupt resources (MSI-X vectors) */
};
#define NVME_VIRT_MGMT_CDW10(act, rt, cntlid) ((uint32_t)(act) | (uint32_t)(rt) << 8 | (uint32_t)(cntlid) << 16)

/* Namespace Attachment (admin 0x15): NSID, CDW10 SEL[3:0], data a controller list (4096 bytes). */
enum nvme_ns_attach_sel {
	NVME_NS_ATTACH_SEL_ATTACH = 0x0,
	NVME_NS_ATTACH_SEL_DETACH = 0x1,
};
#define NVME_CTRL_LIST_MAX 2047
struct nvme_ctrl_list {
	uint16_t num; /* identifiers that follow */
	uint16_t ids[NVME_CTRL_LIST_MAX];
};

/* Feature identifiers */
enum nvme_feat {
	NVME_FEAT_ARBITRATION = 0x01,
	NVME_FEAT_POWER_MGMT = 0x02,
	NVME_FEAT_VOLATILE_WC = 0x06,
	NVME_FEAT_NUM_QUEUES = 0x07,
};

/* Log page identifiers */
enum nvme_log {
	NVME_LOG_ERROR = 0x01,
	NVME_LOG_SMART = 0x02,
};

/* Create I/O queue flags (CDW11) */
#define NVME_QUEUE_PHYS_CONTIG (1u << 0)
#define NVME_CQ_IRQ_ENABLED (1u << 1)

/* Dataset management attribute (CDW11) and range */
#define NVME_DSM_ATTR_DEALLOCATE (1u << 2)
struct nvme_dsm_range {
	uint32_t cattr;
	uint32_t nlb;
	uint64_t slba;
};
NVME_STATIC_ASSERT(sizeof(struct nvme_dsm_range) == 16, "DSM range is 16 bytes");

/* ---- Status codes (SCT << 8 | SC) ---- */
enum nvme_status {
	NVME_SC_SUCCESS = 0x000,
	NVME_SC_INVALID_OPCODE = 0x001,
	NVME_SC_INVALID_FIELD = 0x002,
	NVME_SC_CMDID_CONFLICT = 0x003,
	NVME_SC_DATA_XFER_ERROR = 0x004,
	NVME_SC_POWER_LOSS = 0x005,
	NVME_SC_INTERNAL = 0x006,
	NVME_SC_ABORT_REQ = 0x007,
	NVME_SC_ABORT_QUEUE = 0x008,
	NVME_SC_INVALID_NS = 0x00b,
	NVME_SC_CMD_SEQ_ERROR = 0x00c,
	NVME_SC_PRP_OFFSET_INVALID = 0x013,
	NVME_SC_LBA_RANGE = 0x080,
	NVME_SC_CAP_EXCEEDED = 0x081,
	NVME_SC_NS_NOT_READY = 0x082,
	/* command specific (SCT 1) */
	NVME_SC_CQ_INVALID = 0x100,
	NVME_SC_QID_INVALID = 0x101,
	NVME_SC_QUEUE_SIZE = 0x102,
	NVME_SC_ABORT_LIMIT = 0x103,
	NVME_SC_INVALID_LOG_PAGE = 0x109,
	NVME_SC_INVALID_QUEUE_DELETE = 0x10c, /* CQ still has an SQ */
	NVME_SC_FEATURE_NOT_SAVEABLE = 0x10d,
	NVME_SC_NS_ALREADY_ATTACHED = 0x118, /* Namespace Attachment */
	NVME_SC_NS_NOT_ATTACHED = 0x11a,
	NVME_SC_INVALID_CTRL_ID = 0x11f, /* Virtualization Management */
	NVME_SC_INVALID_SEC_CTRL_STATE = 0x120,
	NVME_SC_INVALID_NUM_RESOURCES = 0x121,
	NVME_SC_INVALID_RESOURCE_ID = 0x122,
	/* media and data integrity (SCT 2) */
	NVME_SC_WRITE_FAULT = 0x280,
	NVME_SC_READ_ERROR = 0x281,
	NVME_SC_UNWRITTEN_BLOCK = 0x287,
};

/* ---- Identify controller: 4096 bytes ---- */
struct nvme_id_power_state {
	uint16_t max_power;
	uint8_t rsvd2;
	uint8_t flags;
	uint32_t entry_lat;
	uint32_t exit_lat;
	uint8_t read_tput, read_lat, write_tput, write_lat;
	uint16_t idle_power;
	uint8_t idle_scale;
	uint8_t rsvd19;
	uint16_t active_power;
	uint8_t active_work_scale;
	uint8_t rsvd23[9];
};
NVME_STATIC_ASSERT(sizeof(struct nvme_id_power_state) == 32, "power state descriptor is 32 bytes");

struct nvme_id_ctrl {
	uint16_t vid;
	uint16_t ssvid;
	char sn[20];
	char mn[40];
	char fr[8];
	uint8_t rab;
	uint8_t ieee[3];
	uint8_t cmic;
	uint8_t mdts; /* max data transfer 2^mdts * MPSMIN; 0 = no limit */
	uint16_t cntlid;
	uint32_t ver;
	uint32_t rtd3r;
	uint32_t rtd3e;
	uint32_t oaes;
	uint32_t ctratt;
	uint8_t rsvd100[11];
	uint8_t cntrltype;
	uint8_t fguid[16];
	uint8_t rsvd128[128];
	uint16_t oacs;
	uint8_t acl;
	uint8_t aerl;
	uint8_t frmw;
	uint8_t lpa;
	uint8_t elpe; /* error log page entries, 0's based */
	uint8_t npss;
	uint8_t avscc;
	uint8_t apsta;
	uint16_t wctemp;
	uint16_t cctemp;
	uint8_t rsvd270[242];
	uint8_t sqes; /* [3:0] required, [7:4] max, log2 */
	uint8_t cqes;
	uint16_t maxcmd;
	uint32_t nn;   /* number of namespaces */
	uint16_t oncs; /* optional NVM commands */
	uint16_t fuses;
	uint8_t fna;
	uint8_t vwc;
	uint16_t awun;
	uint16_t awupf;
	uint8_t icsvscc;
	uint8_t nwpc;
	uint16_t acwu;
	uint16_t ocfs;
	uint32_t sgls;
	uint32_t mnan;
	uint8_t rsvd544[224];
	char subnqn[256];
	uint8_t rsvd1024[1024];
	struct nvme_id_power_state psd[32];
	uint8_t vs[1024];
};
NVME_STATIC_ASSERT(sizeof(struct nvme_id_ctrl) == 4096, "identify controller is 4096 bytes");

/* ONCS bits */
#define NVME_ONCS_DSM (1u << 2)
#define NVME_ONCS_WRITE_ZEROES (1u << 3)

/* ---- Identify namespace: 4096 bytes ---- */
struct nvme_lbaf {
	uint16_t ms; /* metadata size */
	uint8_t ds;  /* LBA data size, log2 */
	uint8_t rp;  /* relative performance */
};
NVME_STATIC_ASSERT(sizeof(struct nvme_lbaf) == 4, "LBA format is 4 bytes");

struct nvme_id_ns {
	uint64_t nsze; /* size in LBAs */
	uint64_t ncap;
	uint64_t nuse;
	uint8_t nsfeat;
	uint8_t nlbaf; /* number of LBA formats, 0's based */
	uint8_t flbas; /* [3:0] format in use (low bits) */
	uint8_t mc;
	uint8_t dpc;
	uint8_t dps;
	uint8_t nmic;
	uint8_t rescap;
	uint8_t fpi;
	uint8_t dlfeat;
	uint16_t nawun;
	uint16_t nawupf;
	uint16_t nacwu;
	uint16_t nabsn;
	uint16_t nabo;
	uint16_t nabspf;
	uint16_t noiob;
	uint8_t nvmcap[16];
	uint16_t npwg;
	uint16_t npwa;
	uint16_t npdg;
	uint16_t npda;
	uint16_t nows;
	uint8_t rsvd74[18];
	uint32_t anagrpid;
	uint8_t rsvd96[3];
	uint8_t nsattr;
	uint16_t nvmsetid;
	uint16_t endgid;
	uint8_t nguid[16];
	uint8_t eui64[8];
	struct nvme_lbaf lbaf[64];
	uint8_t vs[3712];
};
NVME_STATIC_ASSERT(sizeof(struct nvme_id_ns) == 4096, "identify namespace is 4096 bytes");

#define NVME_NS_FLBAS_INDEX(flbas) ((flbas)&0xfu)

/* ---- Primary Controller Capabilities (Identify CNS 0x14): 4096 bytes ---- */
#define NVME_PRI_CRT_VQ (1u << 0) /* controller resource types supported */
#define NVME_PRI_CRT_VI (1u << 1)
struct nvme_pri_ctrl_cap {
	uint16_t cntlid;
	uint16_t portid;
	uint8_t crt;
	uint8_t rsvd5[27];
	uint32_t vqfrt;  /* VQ flexible resources, total */
	uint32_t vqrfa;  /* VQ flexible resources assigned to secondaries */
	uint16_t vqrfap; /* VQ flexible resources allocated to the primary */
	uint16_t vqprt;  /* VQ private resources of the primary */
	uint16_t vqfrsm; /* VQ flexible resources, most per secondary */
	uint16_t vqgran; /* VQ preferred granularity */
	uint8_t rsvd48[16];
	uint32_t vifrt; /* the same for interrupt (VI) resources */
	uint32_t virfa;
	uint16_t virfap;
	uint16_t viprt;
	uint16_t vifrsm;
	uint16_t vigran;
	uint8_t rsvd80[4016];
};
NVME_STATIC_ASSERT(sizeof(struct nvme_pri_ctrl_cap) == 4096, "primary controller capabilities are 4096 bytes");

/* ---- Secondary Controller List (Identify CNS 0x15): 4096 bytes ---- */
#define NVME_SEC_SCS_ONLINE (1u << 0)
struct nvme_sec_ctrl_entry {
	uint16_t scid; /* secondary controller id */
	uint16_t pcid; /* its primary */
	uint8_t scs;   /* state: bit 0 online */
	uint8_t rsvd5[3];
	uint16_t vfn; /* virtual function number, from 1 */
	uint16_t nvq; /* VQ flexible resources assigned */
	uint16_t nvi; /* VI flexible resources assigned */
	uint8_t rsvd14[18];
};
NVME_STATIC_ASSERT(sizeof(struct nvme_sec_ctrl_entry) == 32, "secondary controller entry is 32 bytes");

#define NVME_SEC_CTRL_LIST_MAX 127
struct nvme_sec_ctrl_list {
	uint8_t numid; /* entries that follow */
	uint8_t rsvd1[31];
	struct nvme_sec_ctrl_entry sc[NVME_SEC_CTRL_LIST_MAX];
};
NVME_STATIC_ASSERT(sizeof(struct nvme_sec_ctrl_list) == 4096, "secondary controller list is 4096 bytes");
NVME_STATIC_ASSERT(sizeof(struct nvme_ctrl_list) == 4096, "controller list is 4096 bytes");

/* ---- Log pages ---- */
struct nvme_error_log {
	uint64_t error_count;
	uint16_t sqid;
	uint16_t cmdid;
	uint16_t status_field;
	uint16_t parm_error_location;
	uint64_t lba;
	uint32_t nsid;
	uint8_t vs;
	uint8_t trtype;
	uint8_t rsvd30[2];
	uint64_t cs;
	uint16_t trtype_spec_info;
	uint8_t rsvd42[22];
};
NVME_STATIC_ASSERT(sizeof(struct nvme_error_log) == 64, "error log entry is 64 bytes");

/* 128-bit counters are little-endian byte arrays: no __int128 in plain C11 or CUDA structs. */
struct nvme_smart_log {
	uint8_t critical_warning;
	uint8_t temperature[2]; /* Kelvin */
	uint8_t avail_spare;
	uint8_t spare_thresh;
	uint8_t percent_used;
	uint8_t endu_grp_crit_warn;
	uint8_t rsvd7[25];
	uint8_t data_units_read[16]; /* in 1000 units of 512 bytes */
	uint8_t data_units_written[16];
	uint8_t host_reads[16];
	uint8_t host_writes[16];
	uint8_t ctrl_busy_time[16];
	uint8_t power_cycles[16];
	uint8_t power_on_hours[16];
	uint8_t unsafe_shutdowns[16];
	uint8_t media_errors[16];
	uint8_t num_err_log_entries[16];
	uint32_t warning_temp_time;
	uint32_t critical_comp_time;
	uint16_t temp_sensor[8];
	uint8_t rsvd216[296];
};
NVME_STATIC_ASSERT(sizeof(struct nvme_smart_log) == 512, "SMART log is 512 bytes");

#endif /* AISIO_NVME_SPEC_H */
