/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aisio id-ctrl, id-ns, smart-log: admin commands through the user-space driver, on functions
 * bound to vfio-pci or uio_pci_generic and on emulated controllers.
 */
#include "commands.h"
#include "devices.h"

#include <aisio/nvme_spec.h>
#include <aisio/nvmed.h>

#include <ctype.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fixed-width, space-padded identify string (sn, mn, fr) without the padding. */
static void id_string(char *out, size_t outlen, const char *field, size_t len)
{
	while (len > 0 && (field[len - 1] == ' ' || field[len - 1] == 0))
		len--;
	if (len >= outlen)
		len = outlen - 1;
	for (size_t i = 0; i < len; i++)
		out[i] = isprint((unsigned char)field[i]) ? field[i] : '.';
	out[len] = 0;
}

struct dev_cmd_args {
	bool json;
	uint32_t nsid;
	const char *dev;
};

static int parse_dev_args(int argc, char **argv, struct dev_cmd_args *a, bool want_nsid, const char *usage)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"nsid", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	a->json = false;
	a->nsid = 1;
	a->dev = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "jn:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': a->json = true; break;
		case 'n': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 0);
			if (!want_nsid || *end || v == 0 || v > 0xfffffffeul) {
				fprintf(stderr, "%s: bad --nsid '%s'\n%s", argv[0], optarg, usage);
				return 2;
			}
			a->nsid = (uint32_t)v;
			break;
		}
		case 'h': printf("%s", usage); return 1;
		default: fprintf(stderr, "%s", usage); return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	a->dev = argv[optind];
	return 0;
}

/* Little-endian 128-bit counter as a decimal string. */
static void u128_str(char *out, size_t len, const uint8_t v[16])
{
	unsigned __int128 x = 0;
	for (int i = 15; i >= 0; i--)
		x = (x << 8) | v[i];
	char tmp[48];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + (int)(x % 10));
		x /= 10;
	} while (x && n < (int)sizeof(tmp));
	size_t o = 0;
	while (n > 0 && o + 1 < len)
		out[o++] = tmp[--n];
	out[o] = 0;
}

static const char usage_id_ctrl[] =
	"usage: aisio id-ctrl [--json] DEVICE\n"
	"Identify Controller of a function bound to vfio-pci or uio_pci_generic (0000:01:00.0), or of an\n"
	"emulated controller (emu:...), through the user-space driver.\n";

int cmd_id_ctrl(int argc, char **argv)
{
	struct dev_cmd_args a;
	int rc = parse_dev_args(argc, argv, &a, false, usage_id_ctrl);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct nvmed_ctrl *c;
	rc = nvmed_ctrl_open(&c, a.dev, NULL);
	if (rc < 0) {
		fprintf(stderr, "aisio id-ctrl: cannot open %s: %s\n", a.dev, strerror(-rc));
		return 1;
	}
	struct nvme_id_ctrl *id = calloc(1, sizeof(*id));
	int ret = 1;
	if (!id)
		goto out;
	rc = nvmed_identify(c, NVME_ID_CNS_CTRL, 0, id);
	if (rc < 0) {
		fprintf(stderr, "aisio id-ctrl: %s: Identify Controller failed: %s\n", a.dev, strerror(-rc));
		goto out;
	}
	char sn[24], mn[44], fr[12], nqn[260];
	id_string(sn, sizeof(sn), id->sn, sizeof(id->sn));
	id_string(mn, sizeof(mn), id->mn, sizeof(id->mn));
	id_string(fr, sizeof(fr), id->fr, sizeof(id->fr));
	id_string(nqn, sizeof(nqn), id->subnqn, sizeof(id->subnqn));
	uint64_t cap = nvmed_ctrl_cap(c);
	if (a.json) {
		printf("{\"device\": ");
		json_str(stdout, a.dev, strlen(a.dev));
		printf(", \"vid\": %u, \"ssvid\": %u, \"sn\": ", id->vid, id->ssvid);
		json_str(stdout, sn, sizeof(sn));
		printf(", \"mn\": ");
		json_str(stdout, mn, sizeof(mn));
		printf(", \"fr\": ");
		json_str(stdout, fr, sizeof(fr));
		printf(", \"rab\": %u, \"ieee\": \"%02x%02x%02x\", \"cmic\": %u, \"mdts\": %u, \"cntlid\": %u, "
		       "\"ver\": %u, \"oacs\": %u, \"acl\": %u, \"aerl\": %u, \"frmw\": %u, \"lpa\": %u, \"elpe\": %u, "
		       "\"npss\": %u, \"wctemp\": %u, \"cctemp\": %u, \"sqes\": %u, \"cqes\": %u, \"maxcmd\": %u, "
		       "\"nn\": %u, \"oncs\": %u, \"fuses\": %u, \"vwc\": %u, \"sgls\": %u, \"subnqn\": ",
		       id->rab, id->ieee[2], id->ieee[1], id->ieee[0], id->cmic, id->mdts, id->cntlid, id->ver,
		       id->oacs, id->acl, id->aerl, id->frmw, id->lpa, id->elpe, id->npss, id->wctemp, id->cctemp,
		       id->sqes, id->cqes, id->maxcmd, id->nn, id->oncs, id->fuses, id->vwc, id->sgls);
		json_str(stdout, nqn, sizeof(nqn));
		printf(", \"driver\": {\"cap\": %llu, \"max_xfer_bytes\": %u, \"io_qpairs\": %u, \"max_qdepth\": %u, "
		       "\"namespaces\": %u}}\n",
		       (unsigned long long)cap, nvmed_ctrl_max_xfer(c), nvmed_ctrl_max_qpairs(c),
		       nvmed_ctrl_max_qdepth(c), nvmed_ctrl_ns_count(c));
	} else {
		printf("device   : %s\n", a.dev);
		printf("vid      : 0x%04x\nssvid    : 0x%04x\n", id->vid, id->ssvid);
		printf("sn       : %s\nmn       : %s\nfr       : %s\n", sn, mn, fr);
		printf("rab      : %u\nieee     : %02x%02x%02x\ncmic     : 0x%x\n", id->rab, id->ieee[2], id->ieee[1],
		       id->ieee[0], id->cmic);
		printf("mdts     : %u%s\n", id->mdts, id->mdts ? "" : " (no limit)");
		printf("cntlid   : %u\nver      : %u.%u.%u\n", id->cntlid, id->ver >> 16, (id->ver >> 8) & 0xff,
		       id->ver & 0xff);
		printf("oacs     : 0x%x\nacl      : %u\naerl     : %u\nfrmw     : 0x%x\nlpa      : 0x%x\n", id->oacs,
		       id->acl, id->aerl, id->frmw, id->lpa);
		printf("elpe     : %u\nnpss     : %u\nwctemp   : %u K\ncctemp   : %u K\n", id->elpe, id->npss,
		       id->wctemp, id->cctemp);
		printf("sqes     : 0x%x\ncqes     : 0x%x\nmaxcmd   : %u\nnn       : %u\n", id->sqes, id->cqes,
		       id->maxcmd, id->nn);
		printf("oncs     : 0x%x%s%s\nfuses    : 0x%x\nvwc      : 0x%x\nsgls     : 0x%x\nsubnqn   : %s\n",
		       id->oncs, id->oncs & NVME_ONCS_DSM ? " (dataset management)" : "",
		       id->oncs & NVME_ONCS_WRITE_ZEROES ? " (write zeroes)" : "", id->fuses, id->vwc, id->sgls, nqn);
		printf("-- as the driver uses it --\n");
		printf("CAP      : 0x%016llx (MQES %u, DSTRD %u, TO %u ms, MPSMIN %u KiB)\n", (unsigned long long)cap,
		       NVME_CAP_MQES(cap) + 1, NVME_CAP_DSTRD(cap), NVME_CAP_TO(cap) * 500, 4u << NVME_CAP_MPSMIN(cap));
		printf("max xfer : %u bytes\nio qpairs: %u\nmax depth: %u\nnamespaces active: %u\n",
		       nvmed_ctrl_max_xfer(c), nvmed_ctrl_max_qpairs(c), nvmed_ctrl_max_qdepth(c),
		       nvmed_ctrl_ns_count(c));
	}
	ret = 0;
out:
	free(id);
	nvmed_ctrl_close(c);
	return ret;
}

static const char usage_id_ns[] =
	"usage: aisio id-ns [--nsid N] [--json] DEVICE\n"
	"Identify Namespace N (default 1) of a function bound to vfio-pci or uio_pci_generic, or of an\n"
	"emulated controller (emu:...).\n";

int cmd_id_ns(int argc, char **argv)
{
	struct dev_cmd_args a;
	int rc = parse_dev_args(argc, argv, &a, true, usage_id_ns);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct nvmed_ctrl *c;
	rc = nvmed_ctrl_open(&c, a.dev, NULL);
	if (rc < 0) {
		fprintf(stderr, "aisio id-ns: cannot open %s: %s\n", a.dev, strerror(-rc));
		return 1;
	}
	struct nvme_id_ns *id = calloc(1, sizeof(*id));
	int ret = 1;
	if (!id)
		goto out;
	rc = nvmed_identify(c, NVME_ID_CNS_NS, a.nsid, id);
	if (rc < 0) {
		fprintf(stderr, "aisio id-ns: %s: Identify Namespace %u failed: %s\n", a.dev, a.nsid, strerror(-rc));
		goto out;
	}
	if (id->nsze == 0) {
		fprintf(stderr, "aisio id-ns: %s: namespace %u is not active\n", a.dev, a.nsid);
		goto out;
	}
	unsigned fmt = NVME_NS_FLBAS_INDEX(id->flbas);
	unsigned nlbaf = id->nlbaf + 1u > 64 ? 64 : id->nlbaf + 1u;
	uint64_t lba_bytes = fmt < 64 ? (uint64_t)1 << id->lbaf[fmt].ds : 0;
	if (a.json) {
		printf("{\"device\": ");
		json_str(stdout, a.dev, strlen(a.dev));
		printf(", \"nsid\": %u, \"nsze\": %llu, \"ncap\": %llu, \"nuse\": %llu, \"nsfeat\": %u, \"nlbaf\": %u, "
		       "\"flbas\": %u, \"mc\": %u, \"dpc\": %u, \"dps\": %u, \"nmic\": %u, \"lba_bytes\": %llu, "
		       "\"size_bytes\": %llu, \"nguid\": \"",
		       a.nsid, (unsigned long long)id->nsze, (unsigned long long)id->ncap, (unsigned long long)id->nuse,
		       id->nsfeat, id->nlbaf, id->flbas, id->mc, id->dpc, id->dps, id->nmic,
		       (unsigned long long)lba_bytes, (unsigned long long)(id->nsze * lba_bytes));
		for (int i = 0; i < 16; i++)
			printf("%02x", id->nguid[i]);
		printf("\", \"eui64\": \"");
		for (int i = 0; i < 8; i++)
			printf("%02x", id->eui64[i]);
		printf("\", \"lbafs\": [");
		for (unsigned i = 0; i < nlbaf; i++)
			printf("%s{\"ms\": %u, \"ds\": %u, \"rp\": %u, \"in_use\": %s}", i ? ", " : "", id->lbaf[i].ms,
			       id->lbaf[i].ds, id->lbaf[i].rp, i == fmt ? "true" : "false");
		printf("]}\n");
	} else {
		printf("device   : %s\nnsid     : %u\n", a.dev, a.nsid);
		printf("nsze     : %llu\nncap     : %llu\nnuse     : %llu\n", (unsigned long long)id->nsze,
		       (unsigned long long)id->ncap, (unsigned long long)id->nuse);
		printf("size     : %llu bytes (%llu MiB), %llu-byte LBAs\n", (unsigned long long)(id->nsze * lba_bytes),
		       (unsigned long long)(id->nsze * lba_bytes >> 20), (unsigned long long)lba_bytes);
		printf("nsfeat   : 0x%x\nnlbaf    : %u\nflbas    : 0x%x\nmc       : 0x%x\ndpc      : 0x%x\n"
		       "dps      : 0x%x\nnmic     : 0x%x\n",
		       id->nsfeat, id->nlbaf, id->flbas, id->mc, id->dpc, id->dps, id->nmic);
		printf("nguid    : ");
		for (int i = 0; i < 16; i++)
			printf("%02x", id->nguid[i]);
		printf("\neui64    : ");
		for (int i = 0; i < 8; i++)
			printf("%02x", id->eui64[i]);
		printf("\n");
		for (unsigned i = 0; i < nlbaf; i++)
			printf("lbaf %2u  : ms:%-3u lbads:%-2u rp:%u%s\n", i, id->lbaf[i].ms, id->lbaf[i].ds,
			       id->lbaf[i].rp, i == fmt ? " (in use)" : "");
	}
	ret = 0;
out:
	free(id);
	nvmed_ctrl_close(c);
	return ret;
}

static const char usage_smart_log[] =
	"usage: aisio smart-log [--json] DEVICE\n"
	"SMART / Health Information log page of a function bound to vfio-pci or uio_pci_generic, or of an\n"
	"emulated controller (emu:...).\n";

int cmd_smart_log(int argc, char **argv)
{
	struct dev_cmd_args a;
	int rc = parse_dev_args(argc, argv, &a, false, usage_smart_log);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct nvmed_ctrl *c;
	rc = nvmed_ctrl_open(&c, a.dev, NULL);
	if (rc < 0) {
		fprintf(stderr, "aisio smart-log: cannot open %s: %s\n", a.dev, strerror(-rc));
		return 1;
	}
	struct nvme_smart_log log;
	/* The controller-wide page: nsid all-ones. */
	rc = nvmed_get_log_page(c, NVME_LOG_SMART, 0xffffffffu, &log, sizeof(log));
	if (rc < 0) {
		fprintf(stderr, "aisio smart-log: %s: Get Log Page (SMART) failed: %s\n", a.dev, strerror(-rc));
		nvmed_ctrl_close(c);
		return 1;
	}
	static const struct {
		const char *name;
		size_t off;
	} ctr[] = {
		{"data_units_read", offsetof(struct nvme_smart_log, data_units_read)},
		{"data_units_written", offsetof(struct nvme_smart_log, data_units_written)},
		{"host_read_commands", offsetof(struct nvme_smart_log, host_reads)},
		{"host_write_commands", offsetof(struct nvme_smart_log, host_writes)},
		{"controller_busy_time", offsetof(struct nvme_smart_log, ctrl_busy_time)},
		{"power_cycles", offsetof(struct nvme_smart_log, power_cycles)},
		{"power_on_hours", offsetof(struct nvme_smart_log, power_on_hours)},
		{"unsafe_shutdowns", offsetof(struct nvme_smart_log, unsafe_shutdowns)},
		{"media_errors", offsetof(struct nvme_smart_log, media_errors)},
		{"num_err_log_entries", offsetof(struct nvme_smart_log, num_err_log_entries)},
	};
	unsigned temp_k = log.temperature[0] | (unsigned)log.temperature[1] << 8;
	char num[48];
	if (a.json) {
		printf("{\"device\": ");
		json_str(stdout, a.dev, strlen(a.dev));
		printf(", \"critical_warning\": %u, \"temperature_k\": %u, \"avail_spare\": %u, \"spare_thresh\": %u, "
		       "\"percent_used\": %u, \"endurance_grp_critical_warning\": %u",
		       log.critical_warning, temp_k, log.avail_spare, log.spare_thresh, log.percent_used,
		       log.endu_grp_crit_warn);
		for (size_t i = 0; i < sizeof(ctr) / sizeof(ctr[0]); i++) {
			u128_str(num, sizeof(num), (const uint8_t *)&log + ctr[i].off);
			printf(", \"%s\": %s", ctr[i].name, num);
		}
		printf(", \"warning_temp_time\": %u, \"critical_comp_time\": %u, \"temperature_sensors_k\": [",
		       log.warning_temp_time, log.critical_comp_time);
		bool first = true;
		for (int i = 0; i < 8; i++) {
			if (!log.temp_sensor[i])
				continue;
			printf("%s%u", first ? "" : ", ", log.temp_sensor[i]);
			first = false;
		}
		printf("]}\n");
	} else {
		printf("SMART / health log of %s\n", a.dev);
		printf("critical_warning        : 0x%x\n", log.critical_warning);
		printf("temperature             : %d C (%u K)\n", (int)temp_k - 273, temp_k);
		printf("available_spare         : %u%%\n", log.avail_spare);
		printf("available_spare_thresh  : %u%%\n", log.spare_thresh);
		printf("percentage_used         : %u%%\n", log.percent_used);
		printf("endurance_grp_crit_warn : 0x%x\n", log.endu_grp_crit_warn);
		for (size_t i = 0; i < sizeof(ctr) / sizeof(ctr[0]); i++) {
			u128_str(num, sizeof(num), (const uint8_t *)&log + ctr[i].off);
			printf("%-24s: %s\n", ctr[i].name, num);
		}
		printf("warning_temp_time       : %u min\ncritical_comp_time      : %u min\n", log.warning_temp_time,
		       log.critical_comp_time);
		for (int i = 0; i < 8; i++)
			if (log.temp_sensor[i])
				printf("temperature_sensor_%d    : %d C\n", i + 1, (int)log.temp_sensor[i] - 273);
	}
	nvmed_ctrl_close(c);
	return 0;
}
