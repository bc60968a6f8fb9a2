/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target of homi_msg_check, the one parser of homid protocol packets (libFuzzer; `make fuzz`
 * runs it, see tests/fuzz/run).
 *
 * An input is one selector byte and a packet. Selector % 9 is the reply_to argument: 0 checks the
 * packet as a request (the daemon's side), 1..8 as the reply to that request type (the client's
 * side). A packet that passes is then walked as its reader walks it (the LIST records and their
 * namespaces as homi_list and homi_find do, the STATUS records as `aisio homi status` does) from
 * a buffer of exactly its length, so a check that lets through a count the body does not hold
 * shows as an ASan overflow; and the promises of the header are asserted: lengths that match the
 * counts, counts within their bounds, strings terminated within their fields.
 *
 * Built with -DHOMI_FUZZ_REPLAY it is a plain program that runs the files and directories given as
 * arguments through the same entry point: the regression test of the seeds and of every crash
 * found (tests/fuzz/homi_seeds.py writes the seeds).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <aisio/homi_proto.h>

/* A broken promise of the checker: abort, which both libFuzzer and the replay test see as a crash.
 * Not assert(): the replay program is built with NDEBUG in release builds. */
#define PROMISE(cond)                                                                                         \
	do {                                                                                                  \
		if (!(cond)) {                                                                                \
			fprintf(stderr, "homi_fuzz: %s:%d: broken promise: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                              \
		}                                                                                             \
	} while (0)

static int terminated(const char *s, size_t cap)
{
	return strnlen(s, cap) < cap;
}

/* What a client reads of a LIST reply; returns a sum so the reads are not optimised away. */
static uint64_t walk_list(const uint8_t *body, uint32_t len)
{
	struct homi_list_reply h;
	uint64_t sum = 0;

	PROMISE(len >= sizeof(h));
	memcpy(&h, body, sizeof(h));
	PROMISE(h.ndev <= HOMI_MAX_DEVS);
	PROMISE(len == sizeof(h) + (uint64_t)h.ndev * sizeof(struct homi_dev));
	const struct homi_list_reply *r = (const void *)body;
	for (uint32_t i = 0; i < r->ndev; i++) {
		const struct homi_dev *d = &r->dev[i];

		PROMISE(terminated(d->name, sizeof(d->name)));
		PROMISE(d->nns <= HOMI_MAX_NS);
		sum += strlen(d->name) + d->index + d->max_qdepth;
		for (uint32_t n = 0; n < d->nns; n++)
			sum += d->ns[n].nsid + d->ns[n].nlba;
	}
	return sum;
}

/* What `aisio homi status` reads of a STATUS reply: devices, clients, queues (by device index). */
static uint64_t walk_status(const uint8_t *body, uint32_t len)
{
	struct homi_status_reply h;
	uint64_t sum = 0;

	PROMISE(len >= sizeof(h));
	memcpy(&h, body, sizeof(h));
	PROMISE(h.ndev <= HOMI_MAX_DEVS && h.nclients <= HOMI_MAX_CLIENTS && h.nqps <= HOMI_MAX_STATUS_QPS);
	PROMISE(len == sizeof(h) + (uint64_t)h.ndev * sizeof(struct homi_status_dev) +
			       (uint64_t)h.nclients * sizeof(struct homi_status_client) +
			       (uint64_t)h.nqps * sizeof(struct homi_status_qp));
	const struct homi_status_dev *sd = (const void *)(body + sizeof(h));
	const struct homi_status_client *sc = (const void *)(sd + h.ndev);
	const struct homi_status_qp *sq = (const void *)(sc + h.nclients);
	for (uint32_t i = 0; i < h.ndev; i++) {
		PROMISE(terminated(sd[i].name, sizeof(sd[i].name)));
		PROMISE(terminated(sd[i].target, sizeof(sd[i].target)));
		sum += strlen(sd[i].name) + strlen(sd[i].target) + sd[i].used_qpairs;
	}
	for (uint32_t i = 0; i < h.nclients; i++) {
		PROMISE(terminated(sc[i].name, sizeof(sc[i].name)));
		sum += strlen(sc[i].name) + sc[i].mem_bytes;
	}
	for (uint32_t i = 0; i < h.nqps; i++)
		sum += sq[i].qid + (sq[i].dev < h.ndev ? strlen(sd[sq[i].dev].name) : 0);
	return sum;
}

/* The promises of a packet that passed as a reply to request type reply_to. */
static uint64_t check_reply(const struct homi_hdr *h, const uint8_t *body, uint16_t reply_to)
{
	if (h->type == HOMI_MSG_SHUTDOWN) {
		PROMISE(h->len == 0);
		return 0;
	}
	PROMISE(h->version == HOMI_VERSION);
	if (h->type == HOMI_MSG_ERROR) {
		struct homi_error e;

		PROMISE(h->len == sizeof(e));
		memcpy(&e, body, sizeof(e));
		PROMISE(e.err < 0 && e.err >= -4095);
		PROMISE(terminated(e.msg, sizeof(e.msg)));
		return strlen(e.msg);
	}
	PROMISE(h->type == (reply_to | HOMI_REPLY));
	switch (reply_to) {
	case HOMI_MSG_HELLO: {
		const struct homi_hello_reply *r = (const void *)body;

		PROMISE(h->len == sizeof(*r));
		PROMISE(terminated(r->daemon, sizeof(r->daemon)));
		return strlen(r->daemon) + r->client_id;
	}
	case HOMI_MSG_LIST: return walk_list(body, h->len);
	case HOMI_MSG_REG_MEM:
	case HOMI_MSG_REG_GPU_MEM: PROMISE(h->len == sizeof(struct homi_reg_mem_reply)); return 0;
	case HOMI_MSG_GPU_INFO: {
		const struct homi_gpu_info_reply *r = (const void *)body;

		PROMISE(h->len == sizeof(*r));
		PROMISE(terminated(r->gpu, sizeof(r->gpu)));
		return strlen(r->gpu);
	}
	case HOMI_MSG_GRANT_QP: PROMISE(h->len == sizeof(struct homi_grant_qp_reply)); return 0;
	case HOMI_MSG_UNREG_MEM:
	case HOMI_MSG_RELEASE_QP: PROMISE(h->len == 0); return 0;
	case HOMI_MSG_EXTENTS: {
		const struct homi_extents_reply *r = (const void *)body;

		PROMISE(h->len == sizeof(*r));
		PROMISE(terminated(r->shm, sizeof(r->shm)) && terminated(r->source, sizeof(r->source)));
		return strlen(r->shm) + strlen(r->source);
	}
	case HOMI_MSG_STATUS: return walk_status(body, h->len);
	}
	PROMISE(!"a reply to a type that is no request passed");
	return 0;
}

/* The promises of a packet that passed as a request. */
static uint64_t check_request(const struct homi_hdr *h, const uint8_t *body)
{
	long want = homi_request_len(h->type);

	PROMISE(want >= 0 && h->len == (uint64_t)want);
	PROMISE(h->version == HOMI_VERSION || h->type == HOMI_MSG_HELLO);
	if (h->type == HOMI_MSG_HELLO) {
		const struct homi_hello *he = (const void *)body;

		PROMISE(terminated(he->client, sizeof(he->client)));
		PROMISE(he->min_version <= he->max_version);
		return strlen(he->client);
	}
	return 0;
}

/* What the walks read, kept so that the reads are not optimised away. */
volatile uint64_t homi_fuzz_sink;

/* One input: 0 when the packet passed, else the checker's error. */
static int run_input(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	uint16_t reply_to;
	size_t n;
	uint8_t *pkt;
	int rc;

	if (size < 1)
		return -EINVAL;
	reply_to = data[0] % (HOMI_MSG_GPU_INFO + 1);
	n = size - 1;
	/* its own allocation of exactly n bytes (aligned, as a receive buffer is): a read past the
	 * packet is an ASan report */
	pkt = malloc(n ? n : 1);
	if (!pkt)
		return -ENOMEM;
	memcpy(pkt, data + 1, n);
	rc = homi_msg_check(pkt, n, reply_to, &why);
	PROMISE(why != NULL);
	if (rc < 0) {
		PROMISE(rc == -EMSGSIZE || rc == -EPROTO || rc == -EPROTONOSUPPORT);
		PROMISE(why[0] != 0);
	} else {
		struct homi_hdr h;

		PROMISE(rc == 0);
		PROMISE(n >= sizeof(h) && n <= HOMI_MSG_MAX);
		memcpy(&h, pkt, sizeof(h));
		PROMISE(h.magic == HOMI_MAGIC && h.len == n - sizeof(h));
		homi_fuzz_sink = reply_to ? check_reply(&h, pkt + sizeof(h), reply_to)
					  : check_request(&h, pkt + sizeof(h));
		/* the name a log line gives it */
		PROMISE(strlen(homi_msg_name(h.type)) > 0);
	}
	/* the same packet without a why pointer gives the same answer */
	PROMISE(homi_msg_check(pkt, n, reply_to, NULL) == rc);
	free(pkt);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)run_input(data, size);
	return 0;
}

#ifdef HOMI_FUZZ_REPLAY
#include "fuzz_replay.h"

static int run_file(const char *p)
{
	uint8_t *buf;
	size_t len = 0;
	int rc = fuzz_read_file(p, &buf, &len);

	if (rc < 0)
		return rc;
	rc = run_input(buf, len);
	/* HOMI_FUZZ_VERBOSE: what the checker said of each input (seeds should all pass) */
	if (getenv("HOMI_FUZZ_VERBOSE"))
		printf("%s: %s\n", p, rc ? strerror(-rc) : "passed");
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	return fuzz_replay(argc, argv, "homi-fuzz-replay", run_file);
}
#endif
