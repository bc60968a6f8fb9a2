/* SPDX-License-Identifier: BSD-3-Clause */
/* `aisio homi status [--json] [--socket PATH]`: what the homid daemon manages and who uses it. */
#include "commands.h"
#include "json.h"

#include <aisio/homi.h>

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: aisio homi status [--json] [--socket PATH]\n"
		   "  devices, their namespaces and queue pairs, the clients using them (pid, uid), registered\n"
		   "  memory. The socket defaults to " HOMI_DEFAULT_SOCKET ".\n"
		   "       aisio homi extents [--json] [--socket PATH] DEVICE FILE...\n"
		   "  the LBA runs of each FILE (a path in the directory the daemon indexes for DEVICE) on its\n"
		   "  namespace, from the daemon's shared index (extents = DIR in the device's section).\n");
}

/* The options both verbs take: -1 to go on, else the exit status. */
static int parse_opts(int argc, char **argv, bool *json, const char **sock)
{
	static const struct option lo[] = {{"json", no_argument, NULL, 'j'},
					   {"socket", required_argument, NULL, 's'},
					   {"help", no_argument, NULL, 'h'},
					   {0}};
	int o;
	while ((o = getopt_long(argc, argv, "js:h", lo, NULL)) != -1) {
		switch (o) {
		case 'j': *json = true; break;
		case 's': *sock = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	return -1;
}

static int extents(int argc, char **argv)
{
	bool json = false;
	const char *sock = NULL;
	int rc = parse_opts(argc, argv, &json, &sock);
	if (rc >= 0)
		return rc;
	if (argc - optind < 2) {
		usage(stderr);
		return 2;
	}
	struct homi_client *hc;
	if (homi_connect(&hc, sock, "aisio homi extents", 5000) < 0)
		return 1;
	struct homi_dev dev;
	struct homi_index *he = NULL;
	rc = homi_find(hc, argv[optind], &dev);
	if (rc == 0)
		rc = homi_index_open(hc, dev.index, &he);
	uint32_t lba = 512;
	for (uint32_t i = 0; rc == 0 && i < dev.nns && i < HOMI_MAX_NS; i++)
		if (dev.ns[i].nsid == homi_index_nsid(he))
			lba = 1u << dev.ns[i].lba_shift;
	int status = rc < 0;
	if (json && rc == 0)
		printf("{\"device\": \"%s\", \"nsid\": %u, \"lba_bytes\": %u, \"files\": [", dev.name,
		       homi_index_nsid(he), lba);
	for (int f = optind + 1; rc == 0 && f < argc; f++) {
		struct homi_run runs[256];
		unsigned n = 0;
		uint64_t size = 0;
		int lr = homi_index_lookup(he, argv[f], lba, runs, 256, &n, &size);
		if (lr < 0) {
			fprintf(stderr, "aisio homi extents: %s: %s\n", argv[f], strerror(-lr));
			status = 1;
			continue;
		}
		if (json) {
			printf("%s{\"path\": ", f > optind + 1 ? ", " : "");
			json_string(stdout, argv[f]);
			printf(", \"size\": %llu, \"runs\": [", (unsigned long long)size);
			for (unsigned i = 0; i < n; i++)
				printf("%s{\"file_offset\": %llu, \"slba\": %llu, \"nlb\": %llu, \"unwritten\": %s}",
				       i ? ", " : "", (unsigned long long)runs[i].file_offset,
				       (unsigned long long)runs[i].slba, (unsigned long long)runs[i].nlb,
				       runs[i].unwritten ? "true" : "false");
			printf("]}");
		} else {
			printf("%s: %llu bytes, %u run(s) on namespace %u (%u-byte LBAs)\n", argv[f],
			       (unsigned long long)size, n, homi_index_nsid(he), lba);
			for (unsigned i = 0; i < n; i++)
				printf("  file offset %llu: LBA %llu + %llu%s\n",
				       (unsigned long long)runs[i].file_offset, (unsigned long long)runs[i].slba,
				       (unsigned long long)runs[i].nlb, runs[i].unwritten ? " (unwritten: zeros)" : "");
		}
	}
	if (json && rc == 0)
		printf("]}\n");
	homi_index_close(he);
	homi_disconnect(hc);
	return status;
}

static const char *kind_name(uint16_t k)
{
	return k == HOMI_DEV_EMU        ? "emu"
	       : k == HOMI_DEV_VFIO     ? "vfio"
	       : k == HOMI_DEV_GPUEMU   ? "gpuemu"
	       : k == HOMI_DEV_SRIOV_PF ? "sriov-pf"
	       : k == HOMI_DEV_SRIOV_VF ? "sriov-vf"
					: "?";
}

/* The status record of a client by id, or NULL. */
static const struct homi_status_client *client_of(const struct homi_status_client *sc, uint32_t n, uint32_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (sc[i].client_id == id)
			return &sc[i];
	return NULL;
}

/* A namespace mask as "1, 2" (sep between; "" when none). */
static void ns_list(uint32_t mask, char *out, size_t len, const char *sep)
{
	size_t o = 0;
	out[0] = 0;
	for (unsigned n = 1; n < 32 && o < len; n++)
		if (mask & (1u << n))
			o += (size_t)snprintf(out + o, len - o, "%s%u", o ? sep : "", n);
}

/* A VF's state: its secondary online or not, or out of service. */
static const char *vf_state(const struct homi_status_dev *d)
{
	return (d->flags & HOMI_DEV_DOWN) ? "down" : (d->flags & HOMI_DEV_SRIOV_ONLINE) ? "online" : "offline";
}

/* The SR-IOV part of a device's JSON record: the PF's resources, a VF's controller and holder. */
static void sriov_json(const struct homi_status_dev *sd, uint32_t ndev, const struct homi_status_dev *d,
		       const struct homi_status_client *sc, uint32_t nclients)
{
	if (d->kind == HOMI_DEV_SRIOV_PF) {
		printf(", \"sriov\": {\"cntlid\": %u, \"vfs\": %u, \"vq_flexible\": %u, \"vi_flexible\": %u}",
		       d->cntlid, d->vfn, d->vq, d->vi);
		return;
	}
	if (d->kind != HOMI_DEV_SRIOV_VF)
		return;
	char ns[64];
	ns_list(d->ns_mask, ns, sizeof(ns), ", ");
	printf(", \"sriov\": {\"pf\": ");
	json_string(stdout, d->pf_dev < ndev ? sd[d->pf_dev].name : "?");
	printf(", \"vf\": %u, \"cntlid\": %u, \"state\": \"%s\", \"vq\": %u, \"vi\": %u, \"namespaces_attached\": [%s], "
	       "\"resets\": %u, \"holder\": ",
	       d->vfn, d->cntlid, vf_state(d), d->vq, d->vi, ns, d->resets);
	const struct homi_status_client *h = d->holder ? client_of(sc, nclients, d->holder) : NULL;
	if (h)
		printf("{\"client\": %u, \"pid\": %u, \"uid\": %u}}", h->client_id, h->pid, h->uid);
	else
		printf("null}");
}

static const char *ublk_state_name(uint16_t state)
{
	switch (state) {
	case HOMI_UBLK_LIVE: return "live";
	case HOMI_UBLK_QUIESCED: return "recovering"; /* held for the next daemon */
	case HOMI_UBLK_DEAD: return "dead";
	default: return "unknown";
	}
}

static int status(int argc, char **argv)
{
	bool json = false;
	const char *sock = NULL;
	int rc = parse_opts(argc, argv, &json, &sock);
	if (rc >= 0)
		return rc;
	struct homi_client *hc;
	rc = homi_connect(&hc, sock, "aisio homi status", 5000);
	if (rc < 0)
		return 1;
	uint8_t *buf = malloc(HOMI_MSG_MAX);
	size_t len = 0;
	rc = buf ? homi_status(hc, buf, HOMI_MSG_MAX, &len) : -ENOMEM;
	struct homi_dev devs[HOMI_MAX_DEVS];
	unsigned ndev = 0;
	if (rc == 0)
		rc = homi_list(hc, devs, HOMI_MAX_DEVS, &ndev);
	if (rc < 0) {
		fprintf(stderr, "aisio homi status: %s\n", strerror(-rc));
		free(buf);
		homi_disconnect(hc);
		return 1;
	}
	struct homi_status_reply h;
	memcpy(&h, buf, sizeof(h));
	const struct homi_status_dev *sd = (const void *)(buf + sizeof(h));
	const struct homi_status_client *sc = (const void *)(sd + h.ndev);
	const struct homi_status_qp *sq = (const void *)(sc + h.nclients);
	const struct homi_status_ublk *su = (const void *)(sq + h.nqps);
	if (json) {
		printf("{\"socket\": ");
		json_string(stdout, homi_client_socket(hc));
		printf(", \"reclaimed_qpairs\": %llu, \"clients_served\": %llu, \"devices\": [",
		       (unsigned long long)h.reclaimed_qps, (unsigned long long)h.clients_served);
		for (uint32_t i = 0; i < h.ndev; i++) {
			printf("%s{\"name\": ", i ? ", " : "");
			json_string(stdout, sd[i].name);
			printf(", \"target\": ");
			json_string(stdout, sd[i].target);
			printf(", \"kind\": \"%s\", \"doorbells_isolated\": %s, \"max_qpairs\": %u, \"used_qpairs\": %u, "
			       "\"namespaces\": [",
			       kind_name(sd[i].kind), (sd[i].flags & HOMI_DEV_DOORBELLS_ISOLATED) ? "true" : "false",
			       sd[i].max_qpairs, sd[i].used_qpairs);
			for (unsigned k = 0; k < ndev; k++) {
				if (strcmp(devs[k].name, sd[i].name))
					continue;
				for (uint32_t n = 0; n < devs[k].nns && n < HOMI_MAX_NS; n++)
					printf("%s{\"nsid\": %u, \"lba_bytes\": %u, \"lbas\": %llu}", n ? ", " : "",
					       devs[k].ns[n].nsid, 1u << devs[k].ns[n].lba_shift,
					       (unsigned long long)devs[k].ns[n].nlba);
			}
			printf("]");
			sriov_json(sd, h.ndev, &sd[i], sc, h.nclients);
			printf("}");
		}
		printf("], \"ublk\": [");
		for (uint32_t i = 0; i < h.nublk; i++)
			printf("%s{\"id\": %d, \"block_device\": \"/dev/ublkb%d\", \"device\": \"%s\", \"nsid\": %u, "
			       "\"queues\": %u, \"depth\": %u, \"max_io_bytes\": %u, \"state\": \"%s\", "
			       "\"recovered\": %s, \"requests\": %llu, \"errors\": %llu}",
			       i ? ", " : "", su[i].ublk_id, su[i].ublk_id, sd[su[i].dev].name, su[i].nsid,
			       su[i].queues, su[i].depth, su[i].max_io, ublk_state_name(su[i].state),
			       su[i].recovered ? "true" : "false", (unsigned long long)su[i].requests,
			       (unsigned long long)su[i].errors);
		printf("], \"clients\": [");
		for (uint32_t i = 0; i < h.nclients; i++) {
			printf("%s{\"id\": %u, \"pid\": %u, \"uid\": %u, \"gid\": %u, \"name\": ", i ? ", " : "",
			       sc[i].client_id, sc[i].pid, sc[i].uid, sc[i].gid);
			json_string(stdout, sc[i].name);
			printf(", \"qpairs\": %u, \"memory_regions\": %u, \"memory_bytes\": %llu}", sc[i].nqueues,
			       sc[i].nmems, (unsigned long long)sc[i].mem_bytes);
		}
		printf("], \"qpairs\": [");
		for (uint32_t i = 0; i < h.nqps; i++)
			printf("%s{\"device\": \"%s\", \"qid\": %u, \"client\": %u, \"entries\": %u, \"nsid\": %u}",
			       i ? ", " : "", sq[i].dev < h.ndev ? sd[sq[i].dev].name : "?", sq[i].qid, sq[i].client_id,
			       sq[i].entries, sq[i].nsid);
		printf("]}\n");
	} else {
		printf("homid at %s: %u device(s), %u client(s), %u queue pair(s) granted; %llu taken back from "
		       "clients that went away\n",
		       homi_client_socket(hc), h.ndev, h.nclients, h.nqps, (unsigned long long)h.reclaimed_qps);
		printf("\n%-12s %-8s %-10s %-9s %s\n", "DEVICE", "KIND", "QPAIRS", "DOORBELLS", "TARGET");
		bool vfs = false;
		for (uint32_t i = 0; i < h.ndev; i++) {
			char q[24];
			snprintf(q, sizeof(q), "%u/%u", sd[i].used_qpairs, sd[i].max_qpairs);
			printf("%-12s %-8s %-10s %-9s %s\n", sd[i].name, kind_name(sd[i].kind), q,
			       (sd[i].flags & HOMI_DEV_DOORBELLS_ISOLATED) ? "isolated" : "shared", sd[i].target);
			vfs |= sd[i].kind == HOMI_DEV_SRIOV_VF;
		}
		for (uint32_t i = 0; i < h.ndev; i++)
			if (sd[i].kind == HOMI_DEV_SRIOV_PF)
				printf("\nSR-IOV PF %s (%s): controller %u, %u VF(s) enabled, flexible %u VQ, %u VI\n",
				       sd[i].name, sd[i].target, sd[i].cntlid, sd[i].vfn, sd[i].vq, sd[i].vi);
		if (vfs) {
			printf("%-12s %-3s %-13s %-6s %-7s %3s %3s %-10s %-6s %s\n", "VF", "N", "FUNCTION", "CNTLID",
			       "STATE", "VQ", "VI", "NAMESPACES", "RESETS", "HELD BY");
			for (uint32_t i = 0; i < h.ndev; i++) {
				if (sd[i].kind != HOMI_DEV_SRIOV_VF)
					continue;
				char ns[64], held[64] = "-";
				ns_list(sd[i].ns_mask, ns, sizeof(ns), ",");
				const struct homi_status_client *c = sd[i].holder
									     ? client_of(sc, h.nclients, sd[i].holder)
									     : NULL;
				if (c)
					snprintf(held, sizeof(held), "client %u (pid %u, uid %u)", c->client_id, c->pid,
						 c->uid);
				printf("%-12s %-3u %-13s %-6u %-7s %3u %3u %-10s %-6u %s\n", sd[i].name, sd[i].vfn,
				       sd[i].target, sd[i].cntlid, vf_state(&sd[i]), sd[i].vq, sd[i].vi,
				       ns[0] ? ns : "-", sd[i].resets, held);
			}
		}
		if (h.nclients) {
			printf("\n%-6s %-8s %-6s %-7s %-12s %s\n", "CLIENT", "PID", "UID", "QPAIRS", "MEMORY", "NAME");
			for (uint32_t i = 0; i < h.nclients; i++) {
				char mem[32];
				snprintf(mem, sizeof(mem), "%u x, %llu MiB", sc[i].nmems,
					 (unsigned long long)(sc[i].mem_bytes >> 20));
				printf("%-6u %-8u %-6u %-7u %-12s %s\n", sc[i].client_id, sc[i].pid, sc[i].uid,
				       sc[i].nqueues, mem, sc[i].name);
			}
		}
		if (h.nqps) {
			printf("\n%-12s %-5s %-6s %-7s %s\n", "DEVICE", "QID", "CLIENT", "ENTRIES", "NSID");
			for (uint32_t i = 0; i < h.nqps; i++)
				printf("%-12s %-5u %-6u %-7u %u\n", sq[i].dev < h.ndev ? sd[sq[i].dev].name : "?",
				       sq[i].qid, sq[i].client_id, sq[i].entries, sq[i].nsid);
		}
		if (h.nublk) {
			printf("\n%-12s %-12s %-5s %-9s %-10s %-20s %s\n", "UBLK", "DEVICE", "NSID", "QUEUES", "STATE",
			       "REQUESTS (FAILED)", "SINCE");
			for (uint32_t i = 0; i < h.nublk; i++) {
				char path[24], qd[24], rq[48];
				snprintf(path, sizeof(path), "/dev/ublkb%d", su[i].ublk_id);
				snprintf(qd, sizeof(qd), "%ux%u", su[i].queues, su[i].depth);
				snprintf(rq, sizeof(rq), "%llu (%llu)", (unsigned long long)su[i].requests,
					 (unsigned long long)su[i].errors);
				printf("%-12s %-12s %-5u %-9s %-10s %-20s %s\n", path, sd[su[i].dev].name, su[i].nsid,
				       qd, ublk_state_name(su[i].state), rq,
				       su[i].recovered ? "re-attached after a restart" : "added by this daemon");
			}
		}
	}
	free(buf);
	homi_disconnect(hc);
	return 0;
}

int cmd_homi(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "status"))
		return status(argc - 1, argv + 1);
	if (!strcmp(argv[1], "extents"))
		return extents(argc - 1, argv + 1);
	fprintf(stderr, "aisio homi: unknown verb '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
