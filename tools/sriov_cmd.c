/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aisio sriov: SR-IOV set-up by hand on a PF that stays on the kernel nvme driver (its file
 * systems stay mounted). Admin commands (Identify CNS 0x14 and 0x15, Virtualization
 * Management) go through the kernel's admin passthrough on the PF's /dev/nvmeN; the VFs are
 * enabled through sysfs.
 *
 *   aisio sriov status PF [--json]
 *   aisio sriov assign PF --vf N [--vq Q] [--vi I]
 *   aisio sriov enable PF --vfs N
 *   aisio sriov online|offline PF --vf N | --all
 *   aisio sriov attach|detach PF --vf N --nsid M
 *   aisio sriov disable PF
 */
#include "commands.h"
#include "devices.h"

#include <aisio/nvme_spec.h>
#include <aisio/nvme_sriov.h>
#include <aisio/nvmed.h>
#include <aisio/pci_sysfs.h>
#include <aisio/strparse.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/nvme_ioctl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define SRIOV_ADMIN_TIMEOUT_MS 10000 /* the kernel aborts a passthrough command after this */

static const char usage_sriov[] =
	"usage: aisio sriov VERB PF [OPTIONS]\n"
	"SR-IOV of an NVMe PF that stays on the kernel nvme driver (admin commands through /dev/nvmeN).\n"
	"  status PF [--json]                   primary resources, secondary controllers, VFs enabled\n"
	"  assign PF --vf N [--vq Q] [--vi I]   Virtualization Management: flexible queue (VQ) and\n"
	"                                       interrupt (VI) resources for the secondary of VF N\n"
	"  enable PF --vfs N                    sriov_drivers_autoprobe = 0, then sriov_numvfs = N\n"
	"  online PF --vf N | --all             bring secondary controllers online\n"
	"  offline PF --vf N | --all            take them offline\n"
	"  attach PF --vf N --nsid M            Namespace Attachment: namespace M to VF N's secondary\n"
	"  detach PF --vf N --nsid M            and back (the VF sees only namespaces attached to it)\n"
	"  disable PF                           offline every secondary, sriov_numvfs = 0, resources returned\n";

struct sriov_args {
	const char *verb;
	const char *pf;
	bool json, all;
	long vf, vfs, vq, vi, nsid; /* -1 when not given */
};

/* The PF: its sysfs view and its admin passthrough. */
struct sriov_pf {
	struct pci_sysfs_fn fn;
	char node[48]; /* /dev/nvme0 */
	int fd;
};

struct sriov_state {
	struct nvme_pri_ctrl_cap pri;
	struct nvme_sec_ctrl_list sec;
};

static int parse_num(const char *verb, const char *opt, const char *s, long max, long *out)
{
	uint64_t v;
	if (strparse_u64(s, 0, (uint64_t)max, &v) < 0) {
		fprintf(stderr, "aisio sriov %s: bad %s '%s' (0 to %ld)\n", verb, opt, s, max);
		return -1;
	}
	*out = (long)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct sriov_args *a)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"all", no_argument, NULL, 'a'},
		{"vf", required_argument, NULL, 'f'},
		{"vfs", required_argument, NULL, 'n'},
		{"vq", required_argument, NULL, 'q'},
		{"vi", required_argument, NULL, 'i'},
		{"nsid", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	*a = (struct sriov_args){.vf = -1, .vfs = -1, .vq = -1, .vi = -1, .nsid = -1};
	if (argc < 2) {
		fprintf(stderr, "%s", usage_sriov);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		printf("%s", usage_sriov);
		return 1;
	}
	a->verb = argv[1];
	argc--;
	argv++;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': a->json = true; break;
		case 'a': a->all = true; break;
		case 'f':
			if (parse_num(a->verb, "--vf", optarg, 65535, &a->vf) < 0)
				return 2;
			break;
		case 'n':
			if (parse_num(a->verb, "--vfs", optarg, 65535, &a->vfs) < 0)
				return 2;
			break;
		case 'q':
			if (parse_num(a->verb, "--vq", optarg, 65535, &a->vq) < 0)
				return 2;
			break;
		case 'i':
			if (parse_num(a->verb, "--vi", optarg, 65535, &a->vi) < 0)
				return 2;
			break;
		case 's':
			if (parse_num(a->verb, "--nsid", optarg, 0xfffffffeL, &a->nsid) < 0)
				return 2;
			break;
		case 'h': printf("%s", usage_sriov); return 1;
		default: fprintf(stderr, "%s", usage_sriov); return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "aisio sriov %s: expected one PF address\n%s", a->verb, usage_sriov);
		return 2;
	}
	a->pf = argv[optind];
	return 0;
}

/* Load the PF and open its admin passthrough; a clear message when it is not one aisio can manage. */
static int pf_open(const char *verb, const char *bdf, struct sriov_pf *pf)
{
	memset(pf, 0, sizeof(*pf));
	pf->fd = -1;
	int rc = pci_sysfs_fn_load(NULL, bdf, &pf->fn);
	if (rc == -EINVAL) {
		fprintf(stderr, "aisio sriov %s: '%s' is not a PCI address (expected 0000:01:00.0)\n", verb, bdf);
		return -1;
	}
	if (rc == -ENODEV) {
		fprintf(stderr, "aisio sriov %s: no PCI function %s on this machine\n", verb, bdf);
		return -1;
	}
	if (rc < 0) {
		fprintf(stderr, "aisio sriov %s: %s: %s\n", verb, bdf, strerror(-rc));
		return -1;
	}
	const struct pci_sysfs_fn *fn = &pf->fn;
	if ((fn->class_code >> 8) != 0x0108) {
		fprintf(stderr, "aisio sriov %s: %s is not an NVMe controller (class 0x%06x)\n", verb, fn->bdf,
			fn->class_code);
		return -1;
	}
	if (fn->physfn[0]) {
		fprintf(stderr, "aisio sriov %s: %s is a VF of %s: give the PF\n", verb, fn->bdf, fn->physfn);
		return -1;
	}
	if (fn->sriov_totalvfs <= 0) {
		fprintf(stderr, "aisio sriov %s: %s has no SR-IOV capability (no VFs in sysfs)\n", verb, fn->bdf);
		return -1;
	}
	if (strcmp(fn->driver, "nvme") || !fn->ctrl[0]) {
		fprintf(stderr,
			"aisio sriov %s: %s is not on the kernel nvme driver (driver: %s); its admin commands go "
			"through the kernel's passthrough: aisio bind %s nvme\n",
			verb, fn->bdf, fn->driver[0] ? fn->driver : "none", fn->bdf);
		return -1;
	}
	snprintf(pf->node, sizeof(pf->node), "/dev/%s", fn->ctrl);
	pf->fd = open(pf->node, O_RDWR | O_CLOEXEC);
	if (pf->fd < 0) {
		fprintf(stderr, "aisio sriov %s: %s: cannot open %s: %s\n", verb, fn->bdf, pf->node, strerror(errno));
		return -1;
	}
	return 0;
}

static void pf_close(struct sriov_pf *pf)
{
	if (pf->fd >= 0)
		close(pf->fd);
	pci_sysfs_fn_clear(&pf->fn);
}

/* A failed command's message: the controller's status string, or the ioctl's error. */
static void report_failure(const char *verb, const struct sriov_pf *pf, const char *what, int rc)
{
	if (rc < 0)
		fprintf(stderr, "aisio sriov %s: %s: %s failed: %s\n", verb, pf->node, what, strerror(-rc));
	else
		fprintf(stderr, "aisio sriov %s: %s: %s failed: %s (status 0x%03x)\n", verb, pf->node, what,
			nvmed_status_str((uint16_t)rc), rc);
}

static int state_read(const char *verb, const struct sriov_pf *pf, struct sriov_state *st)
{
	int rc = nvme_sriov_read(pf->fd, SRIOV_ADMIN_TIMEOUT_MS, &st->pri, &st->sec);
	if (rc) {
		report_failure(verb, pf, "Identify Primary Controller Capabilities / Secondary Controller List", rc);
		return -1;
	}
	return 0;
}

/* A VF number given with --vf: in 1..sriov_totalvfs and with a secondary controller. */
static const struct nvme_sec_ctrl_entry *vf_checked(const char *verb, const struct sriov_pf *pf,
						    const struct sriov_state *st, long vfn)
{
	if (vfn < 1 || vfn > pf->fn.sriov_totalvfs) {
		fprintf(stderr, "aisio sriov %s: VF %ld out of range: %s has VFs 1 to %d\n", verb, vfn, pf->fn.bdf,
			pf->fn.sriov_totalvfs);
		return NULL;
	}
	const struct nvme_sec_ctrl_entry *sc = nvme_sriov_secondary(&st->sec, (unsigned)vfn);
	if (!sc)
		fprintf(stderr, "aisio sriov %s: %s lists no secondary controller for VF %ld\n", verb, pf->node, vfn);
	return sc;
}

/* The address of VF vfn (from 1) while it is enabled; "" when none. */
static void vf_bdf(const char *pf_bdf, long vfn, char out[16])
{
	if (nvme_sriov_vf_bdf(pf_bdf, (unsigned)vfn, out) < 0)
		out[0] = 0;
}

static int pf_attr_write(const char *verb, const struct sriov_pf *pf, const char *attr, long val)
{
	char path[PATH_MAX], buf[24];
	snprintf(path, sizeof(path), PCI_SYSFS_DEVICES "/%s/%s", pf->fn.bdf, attr);
	snprintf(buf, sizeof(buf), "%ld", val);
	int rc = nvme_sriov_fn_attr_write(pf->fn.bdf, attr, val);
	if (rc < 0)
		fprintf(stderr, "aisio sriov %s: writing %s to %s failed: %s\n", verb, buf, path, strerror(-rc));
	return rc;
}

static int virt_mgmt(const char *verb, const struct sriov_pf *pf, unsigned act, unsigned rt, uint16_t cntlid,
		     uint16_t nr, uint32_t *dw0)
{
	int rc = nvme_sriov_virt_mgmt(pf->fd, SRIOV_ADMIN_TIMEOUT_MS, act, rt, cntlid, nr, dw0);
	if (rc) {
		char what[96];
		static const char *const act_name[16] = {[NVME_VIRT_MGMT_PRIMARY_FLEX_ALLOC] = "primary allocation",
							 [NVME_VIRT_MGMT_SECONDARY_OFFLINE] = "offline",
							 [NVME_VIRT_MGMT_SECONDARY_ASSIGN] = "assign",
							 [NVME_VIRT_MGMT_SECONDARY_ONLINE] = "online"};
		snprintf(what, sizeof(what), "Virtualization Management (%s%s, controller %u)", act_name[act & 15],
			 act == NVME_VIRT_MGMT_SECONDARY_ASSIGN ? (rt == NVME_VIRT_MGMT_RT_VQ ? " VQ" : " VI") : "",
			 cntlid);
		report_failure(verb, pf, what, rc);
		return -1;
	}
	return 0;
}

/* ---- status ---- */

static void print_status_json(const struct sriov_pf *pf, const struct sriov_state *st, long autoprobe)
{
	const struct nvme_pri_ctrl_cap *p = &st->pri;
	printf("{\"pf\": ");
	json_string(stdout, pf->fn.bdf);
	printf(", \"ctrl\": ");
	json_string(stdout, pf->fn.ctrl);
	printf(", \"sriov_numvfs\": %d, \"sriov_totalvfs\": %d, \"sriov_drivers_autoprobe\": %ld, ",
	       pf->fn.sriov_numvfs, pf->fn.sriov_totalvfs, autoprobe);
	printf("\"primary\": {\"cntlid\": %u, \"crt\": %u, "
	       "\"vq\": {\"flexible_total\": %u, \"assigned\": %u, \"allocated\": %u, \"private\": %u, "
	       "\"max_per_secondary\": %u, \"granularity\": %u}, "
	       "\"vi\": {\"flexible_total\": %u, \"assigned\": %u, \"allocated\": %u, \"private\": %u, "
	       "\"max_per_secondary\": %u, \"granularity\": %u}}, \"secondaries\": [",
	       p->cntlid, p->crt, p->vqfrt, p->vqrfa, p->vqrfap, p->vqprt, p->vqfrsm, p->vqgran, p->vifrt, p->virfa,
	       p->virfap, p->viprt, p->vifrsm, p->vigran);
	for (unsigned i = 0; i < st->sec.numid; i++) {
		const struct nvme_sec_ctrl_entry *sc = &st->sec.sc[i];
		char bdf[16];
		vf_bdf(pf->fn.bdf, sc->vfn, bdf);
		printf("%s{\"scid\": %u, \"vfn\": %u, \"state\": \"%s\", \"vq\": %u, \"vi\": %u, \"bdf\": ",
		       i ? ", " : "", sc->scid, sc->vfn, sc->scs & NVME_SEC_SCS_ONLINE ? "online" : "offline", sc->nvq,
		       sc->nvi);
		if (bdf[0])
			json_string(stdout, bdf);
		else
			printf("null");
		printf("}");
	}
	printf("]}\n");
}

static void print_status_text(const struct sriov_pf *pf, const struct sriov_state *st, long autoprobe)
{
	const struct nvme_pri_ctrl_cap *p = &st->pri;
	printf("PF %s (%s, controller %u): %d/%d VFs enabled, drivers autoprobe %ld\n", pf->fn.bdf, pf->fn.ctrl,
	       p->cntlid, pf->fn.sriov_numvfs, pf->fn.sriov_totalvfs, autoprobe);
	printf("VQ: flexible %u, assigned to secondaries %u, allocated to the primary %u, private %u, "
	       "most per secondary %u, granularity %u\n",
	       p->vqfrt, p->vqrfa, p->vqrfap, p->vqprt, p->vqfrsm, p->vqgran);
	printf("VI: flexible %u, assigned to secondaries %u, allocated to the primary %u, private %u, "
	       "most per secondary %u, granularity %u\n",
	       p->vifrt, p->virfa, p->virfap, p->viprt, p->vifrsm, p->vigran);
	printf("%-6s %-4s %-8s %4s %4s  %s\n", "SCID", "VF", "STATE", "VQ", "VI", "FUNCTION");
	for (unsigned i = 0; i < st->sec.numid; i++) {
		const struct nvme_sec_ctrl_entry *sc = &st->sec.sc[i];
		char bdf[16], drv[64] = "";
		vf_bdf(pf->fn.bdf, sc->vfn, bdf);
		if (bdf[0] && pci_sysfs_driver(NULL, bdf, drv, sizeof(drv)) < 0)
			drv[0] = 0;
		printf("%-6u %-4u %-8s %4u %4u  %s%s%s%s\n", sc->scid, sc->vfn,
		       sc->scs & NVME_SEC_SCS_ONLINE ? "online" : "offline", sc->nvq, sc->nvi, bdf[0] ? bdf : "-",
		       bdf[0] ? " (" : "", bdf[0] ? (drv[0] ? drv : "no driver") : "", bdf[0] ? ")" : "");
	}
}

static int sriov_status(const struct sriov_args *a, struct sriov_pf *pf)
{
	struct sriov_state st;
	if (state_read(a->verb, pf, &st) < 0)
		return 1;
	long autoprobe = -1;
	if (nvme_sriov_fn_attr_read(pf->fn.bdf, "sriov_drivers_autoprobe", &autoprobe) < 0)
		autoprobe = -1;
	if (a->json)
		print_status_json(pf, &st, autoprobe);
	else
		print_status_text(pf, &st, autoprobe);
	return 0;
}

/* The state, and the secondary controller of the VF given with --vf; NULL (said why) when either fails. */
static const struct nvme_sec_ctrl_entry *secondary_read(const struct sriov_args *a, const struct sriov_pf *pf,
							struct sriov_state *st)
{
	return state_read(a->verb, pf, st) < 0 ? NULL : vf_checked(a->verb, pf, st, a->vf);
}

/* ---- assign ---- */

static int sriov_assign(const struct sriov_args *a, struct sriov_pf *pf)
{
	if (a->vf < 0 || (a->vq < 0 && a->vi < 0)) {
		fprintf(stderr, "aisio sriov assign: give --vf N and --vq Q, --vi I or both\n");
		return 2;
	}
	struct sriov_state st;
	const struct nvme_sec_ctrl_entry *sc = secondary_read(a, pf, &st);
	if (!sc)
		return 1;
	if (sc->scs & NVME_SEC_SCS_ONLINE) {
		fprintf(stderr,
			"aisio sriov assign: the secondary controller %u of VF %ld is online; resources change only "
			"offline: aisio sriov offline %s --vf %ld\n",
			sc->scid, a->vf, pf->fn.bdf, a->vf);
		return 1;
	}
	uint16_t scid = sc->scid;
	uint32_t nvq = sc->nvq, nvi = sc->nvi;
	if (a->vq >= 0 && virt_mgmt(a->verb, pf, NVME_VIRT_MGMT_SECONDARY_ASSIGN, NVME_VIRT_MGMT_RT_VQ, scid,
				    (uint16_t)a->vq, &nvq) < 0)
		return 1;
	if (a->vi >= 0 && virt_mgmt(a->verb, pf, NVME_VIRT_MGMT_SECONDARY_ASSIGN, NVME_VIRT_MGMT_RT_VI, scid,
				    (uint16_t)a->vi, &nvi) < 0)
		return 1;
	printf("secondary controller %u (VF %ld): %u VQ, %u VI assigned\n", scid, a->vf, nvq, nvi);
	return 0;
}

/* ---- enable ---- */

static int sriov_enable(const struct sriov_args *a, struct sriov_pf *pf)
{
	if (a->vfs < 1 || a->vfs > pf->fn.sriov_totalvfs) {
		fprintf(stderr, "aisio sriov enable: give --vfs N, 1 to %d for %s\n", pf->fn.sriov_totalvfs,
			pf->fn.bdf);
		return 2;
	}
	if (pf->fn.sriov_numvfs > 0) {
		fprintf(stderr,
			"aisio sriov enable: %s has %d VFs enabled already; the kernel changes the number only from "
			"0: aisio sriov disable %s\n",
			pf->fn.bdf, pf->fn.sriov_numvfs, pf->fn.bdf);
		return 1;
	}
	/* no driver probes the new VFs: they wait for aisio bind (and an online secondary) */
	if (pf_attr_write(a->verb, pf, "sriov_drivers_autoprobe", 0) < 0 ||
	    pf_attr_write(a->verb, pf, "sriov_numvfs", a->vfs) < 0)
		return 1;
	for (long v = 1; v <= a->vfs; v++) {
		char bdf[16];
		vf_bdf(pf->fn.bdf, v, bdf);
		printf("VF %ld: %s\n", v, bdf[0] ? bdf : "(not in sysfs)");
	}
	printf("%s: %ld VFs enabled, drivers autoprobe off\n", pf->fn.bdf, a->vfs);
	return 0;
}

/* ---- online, offline ---- */

static int sriov_set_state(const struct sriov_args *a, struct sriov_pf *pf, bool online)
{
	if ((a->vf < 0) == !a->all) {
		fprintf(stderr, "aisio sriov %s: give --vf N or --all\n", a->verb);
		return 2;
	}
	struct sriov_state st;
	if (state_read(a->verb, pf, &st) < 0)
		return 1;
	if (!a->all && !vf_checked(a->verb, pf, &st, a->vf))
		return 1;
	unsigned act = online ? NVME_VIRT_MGMT_SECONDARY_ONLINE : NVME_VIRT_MGMT_SECONDARY_OFFLINE;
	unsigned done = 0;
	for (unsigned i = 0; i < st.sec.numid; i++) {
		const struct nvme_sec_ctrl_entry *sc = &st.sec.sc[i];
		bool is_online = sc->scs & NVME_SEC_SCS_ONLINE;
		if (a->all) {
			/* --all: the secondaries whose state changes and, online, whose VF is enabled */
			if (is_online == online || (online && sc->vfn > pf->fn.sriov_numvfs))
				continue;
		} else if (sc->vfn != a->vf) {
			continue;
		}
		if (virt_mgmt(a->verb, pf, act, 0, sc->scid, 0, NULL) < 0) {
			if (online && sc->vfn > pf->fn.sriov_numvfs)
				fprintf(stderr,
					"aisio sriov online: VF %u is not enabled: aisio sriov enable %s --vfs %u\n",
					sc->vfn, pf->fn.bdf, sc->vfn);
			return 1;
		}
		printf("secondary controller %u (VF %u): %s\n", sc->scid, sc->vfn, online ? "online" : "offline");
		done++;
	}
	if (a->all && !done)
		printf("%s: no secondary controller to bring %s\n", pf->fn.bdf, online ? "online" : "offline");
	return 0;
}

/* ---- attach, detach ---- */

static int sriov_attach(const struct sriov_args *a, struct sriov_pf *pf, bool attach)
{
	if (a->vf < 0 || a->nsid < 1) {
		fprintf(stderr, "aisio sriov %s: give --vf N and --nsid M\n", a->verb);
		return 2;
	}
	struct sriov_state st;
	const struct nvme_sec_ctrl_entry *sc = secondary_read(a, pf, &st);
	if (!sc)
		return 1;
	int rc = nvme_sriov_ns_attach(pf->fd, SRIOV_ADMIN_TIMEOUT_MS, (uint32_t)a->nsid, sc->scid, attach);
	if (rc) {
		char what[96];
		snprintf(what, sizeof(what), "Namespace Attachment (%s namespace %ld, controller %u)",
			 attach ? "attach" : "detach", a->nsid, sc->scid);
		report_failure(a->verb, pf, what, rc);
		if (rc == NVME_SC_INVALID_CTRL_ID || rc == NVME_SC_INVALID_FIELD)
			fprintf(stderr,
				"aisio sriov %s: the controller knows VF %ld's secondary only while the VF is "
				"enabled: aisio sriov enable %s\n",
				a->verb, a->vf, pf->fn.bdf);
		return 1;
	}
	printf("namespace %ld %s secondary controller %u (VF %ld)\n", a->nsid, attach ? "attached to" : "detached from",
	       sc->scid, a->vf);
	return 0;
}

/* ---- disable ---- */

/* A VF that a process has open (vfio, an aisio lock, a mounted namespace) stops the disable. */
static int vfs_in_use(const struct sriov_pf *pf)
{
	int busy = 0;
	for (long v = 1; v <= pf->fn.sriov_numvfs; v++) {
		char bdf[16];
		vf_bdf(pf->fn.bdf, v, bdf);
		if (!bdf[0])
			continue;
		struct pci_sysfs_fn fn;
		if (pci_sysfs_fn_load(NULL, bdf, &fn) < 0)
			continue;
		if (fn.aisio_pid || fn.nusers || fn.in_use) {
			fprintf(stderr, "aisio sriov disable: VF %ld (%s) is in use:", v, bdf);
			if (fn.aisio_pid)
				fprintf(stderr, " aisio process %ld;", fn.aisio_pid);
			for (unsigned i = 0; i < fn.nusers; i++)
				fprintf(stderr, " %s (pid %ld) has %s;", fn.users[i].comm, fn.users[i].pid,
					fn.users[i].node);
			if (fn.in_use)
				fprintf(stderr, " a namespace mounted or held;");
			fprintf(stderr, " stop them first\n");
			busy = 1;
		}
		pci_sysfs_fn_clear(&fn);
	}
	return busy;
}

static int sriov_disable(const struct sriov_args *a, struct sriov_pf *pf)
{
	struct sriov_state st;
	if (state_read(a->verb, pf, &st) < 0)
		return 1;
	if (vfs_in_use(pf))
		return 1;
	uint32_t vq_before = st.pri.vqrfa, vi_before = st.pri.virfa;
	for (unsigned i = 0; i < st.sec.numid; i++) {
		const struct nvme_sec_ctrl_entry *sc = &st.sec.sc[i];
		if (!(sc->scs & NVME_SEC_SCS_ONLINE))
			continue;
		if (virt_mgmt(a->verb, pf, NVME_VIRT_MGMT_SECONDARY_OFFLINE, 0, sc->scid, 0, NULL) < 0)
			return 1;
		printf("secondary controller %u (VF %u): offline\n", sc->scid, sc->vfn);
	}
	if (pf->fn.sriov_numvfs > 0) {
		if (pf_attr_write(a->verb, pf, "sriov_numvfs", 0) < 0)
			return 1;
		printf("%s: VFs disabled (sriov_numvfs 0)\n", pf->fn.bdf);
	}
	for (unsigned i = 0; i < st.sec.numid; i++) {
		const struct nvme_sec_ctrl_entry *sc = &st.sec.sc[i];
		if (!sc->nvq && !sc->nvi)
			continue;
		if (virt_mgmt(a->verb, pf, NVME_VIRT_MGMT_SECONDARY_ASSIGN, NVME_VIRT_MGMT_RT_VQ, sc->scid, 0, NULL) <
			    0 ||
		    virt_mgmt(a->verb, pf, NVME_VIRT_MGMT_SECONDARY_ASSIGN, NVME_VIRT_MGMT_RT_VI, sc->scid, 0, NULL) <
			    0)
			return 1;
	}
	if (state_read(a->verb, pf, &st) < 0)
		return 1;
	printf("resources returned: VQ assigned to secondaries %u -> %u, VI %u -> %u\n", vq_before, st.pri.vqrfa,
	       vi_before, st.pri.virfa);
	if (st.pri.vqrfa || st.pri.virfa) {
		fprintf(stderr, "aisio sriov disable: %s still reports resources assigned to secondaries\n", pf->node);
		return 1;
	}
	return 0;
}

int cmd_sriov(int argc, char **argv)
{
	struct sriov_args a;
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc == 1 ? 0 : rc;
	static const char *const verbs[] = {"status",  "assign", "enable", "online",
					    "offline", "attach", "detach", "disable"};
	bool known = false;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		known |= !strcmp(a.verb, verbs[i]);
	if (!known) {
		fprintf(stderr, "aisio sriov: unknown verb '%s'\n%s", a.verb, usage_sriov);
		return 2;
	}
	struct sriov_pf pf;
	if (pf_open(a.verb, a.pf, &pf) < 0) {
		pf_close(&pf);
		return 1;
	}
	if (!strcmp(a.verb, "status"))
		rc = sriov_status(&a, &pf);
	else if (!strcmp(a.verb, "assign"))
		rc = sriov_assign(&a, &pf);
	else if (!strcmp(a.verb, "enable"))
		rc = sriov_enable(&a, &pf);
	else if (!strcmp(a.verb, "online"))
		rc = sriov_set_state(&a, &pf, true);
	else if (!strcmp(a.verb, "offline"))
		rc = sriov_set_state(&a, &pf, false);
	else if (!strcmp(a.verb, "attach") || !strcmp(a.verb, "detach"))
		rc = sriov_attach(&a, &pf, !strcmp(a.verb, "attach"));
	else
		rc = sriov_disable(&a, &pf);
	pf_close(&pf);
	return rc;
}
