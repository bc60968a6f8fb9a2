/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The admin command set of the emulated controllers, one implementation for emu: (lib/emu) and
 * gpuemu: (lib/gpu): Identify (controller, namespace, active namespace list), Get / Set Features
 * (Number of Queues, Arbitration, Power Management, Volatile Write Cache), Create / Delete I/O CQ
 * and SQ, Get Log Page (Error Information, SMART / Health).
 *
 * The server checks every command as the spec says (queue ids against what Number of Queues
 * granted, sizes against MQES, contiguous page-aligned queues, an SQ's CQ present, no CQ deleted
 * while an SQ posts to it) and keeps the controller state those checks need. A controller model
 * supplies what differs: how an admin command's data reaches the host, how an I/O queue is made
 * real for its engine, its identity and its I/O counters.
 *
 * Ownership: emu_admin_create returns a server the model destroys; it keeps pointers to opts and
 * model, which must outlive it. Thread-safety: one thread serves admin commands (and resets);
 * emu_admin_log_error from any thread.
 */
#ifndef AISIO_EMU_ADMIN_H
#define AISIO_EMU_ADMIN_H

#include <stdint.h>

#include <aisio/emu.h>
#include <aisio/nvme_spec.h>

#ifdef __cplusplus
extern "C" {
#endif

struct emu_admin;

/* I/O counters of a controller, for the SMART log. */
struct emu_counters {
	uint64_t io_cmds;
	uint64_t reads, writes;
	uint64_t lbas_read, lbas_written;
};

/* What a controller model provides. Every callback gets the model's ctx and returns an NVMe status
 * (0 = success). */
struct emu_admin_model {
	const char *serial; /* Identify Controller SN, MN */
	const char *model;
	uint16_t oncs; /* optional NVM commands its I/O engine serves (NVME_ONCS_*) */
	/* Move len bytes of an admin command's data between buf and the host buffer its PRPs name. */
	uint16_t (*xfer)(void *ctx, const struct nvme_sqe *sqe, void *buf, uint32_t len, int to_host);
	/* Make a queue the server has checked real for the engine: size entries at bus address base
	 * (page aligned, contiguous). The model may refuse what it cannot serve. */
	uint16_t (*cq_create)(void *ctx, uint16_t qid, uint32_t size, uint64_t base);
	uint16_t (*sq_create)(void *ctx, uint16_t qid, uint32_t size, uint64_t base, uint16_t cqid);
	/* Stop serving a queue; the server deletes an SQ before its CQ. */
	void (*sq_delete)(void *ctx, uint16_t qid);
	void (*cq_delete)(void *ctx, uint16_t qid);
	/* Sum of the I/O counters; NULL: the model keeps none (the log reports zeroes). */
	void (*counters)(void *ctx, struct emu_counters *sum);
};

/* nlba: LBAs of each of the o->nr_ns namespaces. */
int emu_admin_create(struct emu_admin **out, const struct emu_opts *o, uint64_t nlba,
		     const struct emu_admin_model *model, void *ctx);
void emu_admin_destroy(struct emu_admin *a);

/* Execute one admin command; a failure is also logged in the error log. Returns the NVMe status. */
uint16_t emu_admin_cmd(struct emu_admin *a, const struct nvme_sqe *sqe, uint32_t *dw0);
/* Controller reset (CC.EN 1 -> 0): every I/O queue deleted, SQs first, and Number of Queues
 * forgotten. The error log and the other features stay. */
void emu_admin_reset(struct emu_admin *a);
/* Add an entry to the error log (Get Log Page 01h). */
void emu_admin_log_error(struct emu_admin *a, uint16_t sqid, uint16_t cid, uint16_t status, uint64_t lba,
			 uint32_t nsid);

#ifdef __cplusplus
}
#endif

#endif /* AISIO_EMU_ADMIN_H */
