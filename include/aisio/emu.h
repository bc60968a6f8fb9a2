/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Software NVMe controller. Its BAR0 (registers and doorbells) is ordinary
 * memory in a memfd; a control thread watches CC and serves the admin queue,
 * engine threads serve the I/O queues (or, in inline mode, the driver's poll does).
 * DMA addresses are IOVAs handed out by emu_ctrl_dma_register.
 *
 * Spec string (what follows "emu:"):  TYPE[:SIZE][,opt=val]...
 *   TYPE   null (no data moves; default size 1T), ram (default 256M), file:PATH (size of the file)
 *   opts   see emu_ctrl_help()
 *
 * Ownership: emu_ctrl_create returns a controller the caller destroys.
 * Thread-safety: registers and doorbells are written by one host thread each as
 * on real hardware; emu_ctrl_serve_sq only by the owner of that queue; the fault
 * setters from any thread.
 */
#ifndef AISIO_EMU_H
#define AISIO_EMU_H

#include <stddef.h>
#include <stdint.h>

struct emu_ctrl;

/* Options parsed from the spec string; also settable in code before create. */
struct emu_opts {
	int ns_type;            /* EMU_NS_NULL / RAM / FILE */
	uint64_t ns_bytes;      /* per namespace */
	char path[256];         /* file namespaces */
	unsigned lba_shift;     /* 9 or 12 */
	unsigned nr_ns;         /* namespaces 1..16 */
	unsigned mdts;          /* 2^mdts * 4 KiB; 0 = no limit */
	unsigned max_qpairs;    /* I/O queue pairs the controller grants */
	unsigned mqes;          /* 0's based max queue entries */
	int threads;            /* engine threads; 0 = inline; -1 = choose */
	unsigned dstrd;         /* doorbell stride 2^(2+dstrd) */
	unsigned cap_to;        /* CAP.TO, 500 ms units */
	unsigned rdy_delay_ms;  /* how long CSTS.RDY takes to follow CC.EN */
	/* fault injection */
	uint64_t err_slba, err_elba;     /* commands touching [slba, elba] fail ... */
	uint16_t err_status;             /* ... with this status (SCT << 8 | SC) */
	uint64_t drop_slba, drop_elba;   /* completions for these LBAs never come */
	uint64_t delay_slba, delay_elba; /* completions for these LBAs come late ... */
	unsigned delay_us;               /* ... by this much */
	uint64_t fatal_after;            /* set CSTS.CFS after this many I/O commands; 0 = never */
};

enum { EMU_NS_NULL, EMU_NS_RAM, EMU_NS_FILE };

/* Parse a spec string into opts (defaults filled first). -EINVAL with a message on error. */
int emu_opts_parse(struct emu_opts *o, const char *spec);
/* Text describing the spec grammar and every option, for --help. */
const char *emu_ctrl_help(void);

int emu_ctrl_create(struct emu_ctrl **out, const struct emu_opts *o);
void emu_ctrl_destroy(struct emu_ctrl *c);

/* The register file: BAR0 as the host sees it. */
volatile uint8_t *emu_ctrl_bar0(struct emu_ctrl *c, size_t *len);
/* True when no engine threads run: the host's poll must call emu_ctrl_serve_sq. */
int emu_ctrl_is_inline(const struct emu_ctrl *c);
/* Serve one I/O submission queue from the caller's thread (inline mode). */
void emu_ctrl_serve_sq(void *c, uint16_t sqid);

/* Make host memory reachable by the controller; returns its IOVA. */
int emu_ctrl_dma_register(struct emu_ctrl *c, void *va, size_t len, uint64_t *iova);
void emu_ctrl_dma_unregister(struct emu_ctrl *c, uint64_t iova);

/* Fault injection at run time (same meaning as the options). */
void emu_ctrl_fault_error(struct emu_ctrl *c, uint64_t slba, uint64_t elba, uint16_t status);
void emu_ctrl_fault_drop(struct emu_ctrl *c, uint64_t slba, uint64_t elba);
void emu_ctrl_fault_delay(struct emu_ctrl *c, uint64_t slba, uint64_t elba, unsigned us);
void emu_ctrl_fault_fatal(struct emu_ctrl *c);  /* set CSTS.CFS now */
void emu_ctrl_fault_clear(struct emu_ctrl *c);

/* Counters for tests; not to be called while I/O queues are being deleted. */
struct emu_stats {
	uint64_t io_cmds;
	uint64_t admin_cmds;
	uint64_t dropped;
	uint64_t resets;
};
void emu_ctrl_stats(const struct emu_ctrl *c, struct emu_stats *s);

#endif /* AISIO_EMU_H */
