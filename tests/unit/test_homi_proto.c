/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * homi_msg_check, the one parser of homid packets: every request at its exact length passes and at
 * one byte more or less is -EMSGSIZE; bad magic -EPROTO; another version -EPROTONOSUPPORT except
 * on HELLO; replies of the wrong type, ERROR records with err >= 0, LIST and STATUS with counts
 * over their bounds or lengths that do not match, unterminated names refused; homi_msg_name.
 */
#include <aisio/homi_proto.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Room for the largest packet and one byte more; aligned as a receive buffer, so the tests may
 * write records through their structs. */
static _Alignas(16) uint8_t pkt[HOMI_MSG_MAX + 16];

/* A header of type and body length len at pkt, the body zeroed; returns the packet's size. */
static size_t put_hdr(uint16_t type, uint32_t len)
{
	struct homi_hdr h = {.magic = HOMI_MAGIC, .version = HOMI_VERSION, .type = type, .len = len, .seq = 9};
	memset(pkt, 0, sizeof(h) + len);
	memcpy(pkt, &h, sizeof(h));
	return sizeof(h) + len;
}

static uint8_t *body(void)
{
	return pkt + sizeof(struct homi_hdr);
}

static void set_version(uint16_t v)
{
	memcpy(pkt + offsetof(struct homi_hdr, version), &v, sizeof(v));
}

static void set_len(uint32_t len)
{
	memcpy(pkt + offsetof(struct homi_hdr, len), &len, sizeof(len));
}

static int check(size_t n, uint16_t reply_to)
{
	const char *why = NULL;
	int rc = homi_msg_check(pkt, n, reply_to, &why);
	assert_non_null(why);
	if (rc < 0)
		assert_true(why[0] != 0); /* every refusal says why */
	return rc;
}

/* A valid request body of type t (HELLO needs a terminated name and min <= max). */
static size_t put_request(uint16_t t, uint32_t len)
{
	size_t n = put_hdr(t, len);
	if (t == HOMI_MSG_HELLO && len >= sizeof(struct homi_hello)) {
		struct homi_hello he = {.min_version = 1, .max_version = 1, .pid = 1};
		strcpy(he.client, "test");
		memcpy(body(), &he, sizeof(he));
	}
	return n;
}

static const uint16_t requests[] = {HOMI_MSG_HELLO,       HOMI_MSG_LIST,       HOMI_MSG_REG_MEM, HOMI_MSG_UNREG_MEM,
				    HOMI_MSG_GRANT_QP,    HOMI_MSG_RELEASE_QP, HOMI_MSG_STATUS,  HOMI_MSG_EXTENTS,
				    HOMI_MSG_REG_GPU_MEM, HOMI_MSG_GPU_INFO};
/* the first type number after the requests */
#define NO_REQUEST (HOMI_MSG_GPU_INFO + 1)
static const long request_lens[] = {sizeof(struct homi_hello),
				    0,
				    sizeof(struct homi_reg_mem),
				    sizeof(struct homi_unreg_mem),
				    sizeof(struct homi_grant_qp),
				    sizeof(struct homi_release_qp),
				    0,
				    sizeof(struct homi_extents),
				    sizeof(struct homi_reg_gpu_mem),
				    sizeof(struct homi_gpu_info)};

static void test_request_lengths(void **state)
{
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		uint16_t t = requests[i];
		uint32_t len = (uint32_t)request_lens[i];
		assert_int_equal(homi_request_len(t), request_lens[i]);
		assert_int_equal(check(put_request(t, len), 0), 0);
		/* one byte more, header and packet agreeing */
		assert_int_equal(check(put_request(t, len + 1), 0), -EMSGSIZE);
		/* one byte less */
		if (len > 0)
			assert_int_equal(check(put_request(t, len - 1), 0), -EMSGSIZE);
		/* the header's length and the packet's disagree, by one either way */
		size_t n = put_request(t, len);
		assert_int_equal(check(n + 1, 0), -EMSGSIZE);
		if (len > 0)
			assert_int_equal(check(n - 1, 0), -EMSGSIZE);
		set_len(len + 1);
		assert_int_equal(check(n, 0), -EMSGSIZE);
	}
	assert_int_equal(homi_request_len(0), -1);
	assert_int_equal(homi_request_len(HOMI_MSG_ERROR), -1);
	assert_int_equal(homi_request_len(HOMI_MSG_LIST | HOMI_REPLY), -1);
}

static void test_header(void **state)
{
	size_t n = put_request(HOMI_MSG_LIST, 0);
	assert_int_equal(check(sizeof(struct homi_hdr) - 1, 0), -EMSGSIZE);
	assert_int_equal(check(0, 0), -EMSGSIZE);
	/* over the largest message, whatever the header says */
	put_hdr(HOMI_MSG_LIST, HOMI_MSG_MAX + 1 - sizeof(struct homi_hdr));
	assert_int_equal(check(HOMI_MSG_MAX + 1, 0), -EMSGSIZE);
	/* bad magic */
	n = put_request(HOMI_MSG_LIST, 0);
	pkt[0] ^= 1;
	assert_int_equal(check(n, 0), -EPROTO);
	assert_int_equal(check(n, HOMI_MSG_LIST), -EPROTO);
	/* not a request */
	assert_int_equal(check(put_hdr(0, 0), 0), -EPROTO);
	assert_int_equal(check(put_hdr(NO_REQUEST, 0), 0), -EPROTO);
	assert_int_equal(check(put_hdr(HOMI_MSG_LIST | HOMI_REPLY, 8), 0), -EPROTO);
	assert_int_equal(check(put_hdr(HOMI_MSG_SHUTDOWN, 0), 0), -EPROTO);
	assert_int_equal(check(put_hdr(HOMI_MSG_ERROR, sizeof(struct homi_error)), 0), -EPROTO);
	/* no why pointer: the same answers */
	n = put_request(HOMI_MSG_STATUS, 0);
	assert_int_equal(homi_msg_check(pkt, n, 0, NULL), 0);
	assert_int_equal(homi_msg_check(pkt, n + 1, 0, NULL), -EMSGSIZE);
}

static void test_versions(void **state)
{
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		uint16_t t = requests[i];
		size_t n = put_request(t, (uint32_t)request_lens[i]);
		for (uint16_t v = 0; v < 4; v++) {
			set_version(v);
			/* HELLO is how versions are negotiated: it may carry any */
			int want = (v == HOMI_VERSION || t == HOMI_MSG_HELLO) ? 0 : -EPROTONOSUPPORT;
			assert_int_equal(check(n, 0), want);
		}
	}
	/* a reply in another version, HELLO's too */
	size_t n = put_hdr(HOMI_MSG_HELLO | HOMI_REPLY, sizeof(struct homi_hello_reply));
	set_version(2);
	assert_int_equal(check(n, HOMI_MSG_HELLO), -EPROTONOSUPPORT);
	n = put_hdr(HOMI_MSG_SHUTDOWN, 0);
	set_version(0);
	assert_int_equal(check(n, HOMI_MSG_LIST), -EPROTONOSUPPORT);
}

static void test_hello(void **state)
{
	size_t n = put_request(HOMI_MSG_HELLO, sizeof(struct homi_hello));
	struct homi_hello he;
	memcpy(&he, body(), sizeof(he));
	/* a client name that fills its field without a NUL */
	memset(he.client, 'x', sizeof(he.client));
	memcpy(body(), &he, sizeof(he));
	assert_int_equal(check(n, 0), -EPROTO);
	he.client[sizeof(he.client) - 1] = 0;
	memcpy(body(), &he, sizeof(he));
	assert_int_equal(check(n, 0), 0);
	he.min_version = 3;
	he.max_version = 2;
	memcpy(body(), &he, sizeof(he));
	assert_int_equal(check(n, 0), -EPROTO);
	he.max_version = 3;
	memcpy(body(), &he, sizeof(he));
	assert_int_equal(check(n, 0), 0);

	/* the reply: exact length, a terminated daemon name */
	n = put_hdr(HOMI_MSG_HELLO | HOMI_REPLY, sizeof(struct homi_hello_reply));
	assert_int_equal(check(n, HOMI_MSG_HELLO), 0);
	assert_int_equal(
		check(put_hdr(HOMI_MSG_HELLO | HOMI_REPLY, sizeof(struct homi_hello_reply) + 1), HOMI_MSG_HELLO),
		-EMSGSIZE);
	assert_int_equal(
		check(put_hdr(HOMI_MSG_HELLO | HOMI_REPLY, sizeof(struct homi_hello_reply) - 1), HOMI_MSG_HELLO),
		-EMSGSIZE);
	n = put_hdr(HOMI_MSG_HELLO | HOMI_REPLY, sizeof(struct homi_hello_reply));
	memset(body() + offsetof(struct homi_hello_reply, daemon), 'd', 56);
	assert_int_equal(check(n, HOMI_MSG_HELLO), -EPROTO);
}

static void test_fixed_replies(void **state)
{
	static const struct {
		uint16_t t;
		uint32_t len;
	} fixed[] = {
		{HOMI_MSG_REG_MEM, sizeof(struct homi_reg_mem_reply)},
		{HOMI_MSG_UNREG_MEM, 0},
		{HOMI_MSG_GRANT_QP, sizeof(struct homi_grant_qp_reply)},
		{HOMI_MSG_RELEASE_QP, 0},
		{HOMI_MSG_EXTENTS, sizeof(struct homi_extents_reply)},
		{HOMI_MSG_REG_GPU_MEM, sizeof(struct homi_reg_mem_reply)},
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		uint16_t t = fixed[i].t, rt = t | HOMI_REPLY;
		uint32_t len = fixed[i].len;
		assert_int_equal(check(put_hdr(rt, len), t), 0);
		assert_int_equal(check(put_hdr(rt, len + 1), t), -EMSGSIZE);
		if (len)
			assert_int_equal(check(put_hdr(rt, len - 1), t), -EMSGSIZE);
		/* a reply of another type, or the request itself echoed */
		assert_int_equal(check(put_hdr(HOMI_MSG_STATUS | HOMI_REPLY, 32), t), -EPROTO);
		assert_int_equal(check(put_hdr(t, len), t), -EPROTO);
	}
	/* a reply to something that is no request */
	assert_int_equal(check(put_hdr(NO_REQUEST | HOMI_REPLY, 0), NO_REQUEST), -EPROTO);
	/* GPU_INFO: the GPU's name terminated within its field */
	{
		size_t g = put_hdr(HOMI_MSG_GPU_INFO | HOMI_REPLY, sizeof(struct homi_gpu_info_reply));
		struct homi_gpu_info_reply *r = (struct homi_gpu_info_reply *)body();
		memset(r->gpu, 'g', sizeof(r->gpu) - 1);
		r->gpu[sizeof(r->gpu) - 1] = 0;
		assert_int_equal(check(g, HOMI_MSG_GPU_INFO), 0);
		r->gpu[sizeof(r->gpu) - 1] = 'g';
		assert_int_equal(check(g, HOMI_MSG_GPU_INFO), -EPROTO);
		assert_int_equal(check(put_hdr(HOMI_MSG_GPU_INFO | HOMI_REPLY, sizeof(*r) - 1), HOMI_MSG_GPU_INFO),
				 -EMSGSIZE);
	}
	/* EXTENTS: both names terminated within their fields */
	size_t n = put_hdr(HOMI_MSG_EXTENTS | HOMI_REPLY, sizeof(struct homi_extents_reply));
	struct homi_extents_reply *x = (struct homi_extents_reply *)body();
	memset(x->shm, 's', sizeof(x->shm) - 1);
	memset(x->source, 'd', sizeof(x->source) - 1);
	assert_int_equal(check(n, HOMI_MSG_EXTENTS), 0);
	x->shm[sizeof(x->shm) - 1] = 's';
	assert_int_equal(check(n, HOMI_MSG_EXTENTS), -EPROTO);
	x->shm[sizeof(x->shm) - 1] = 0;
	x->source[sizeof(x->source) - 1] = 'd';
	assert_int_equal(check(n, HOMI_MSG_EXTENTS), -EPROTO);
}

static size_t put_error(int32_t err, const char *msg, uint32_t len)
{
	size_t n = put_hdr(HOMI_MSG_ERROR, len);
	struct homi_error e = {.err = err};
	if (msg)
		snprintf(e.msg, sizeof(e.msg), "%s", msg);
	else
		memset(e.msg, 'm', sizeof(e.msg));
	memcpy(body(), &e, len < sizeof(e) ? len : sizeof(e));
	return n;
}

static void test_error_and_shutdown(void **state)
{
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		uint16_t t = requests[i];
		assert_int_equal(check(put_error(-EBUSY, "busy", sizeof(struct homi_error)), t), 0);
		assert_int_equal(check(put_error(-4095, "lowest", sizeof(struct homi_error)), t), 0);
		assert_int_equal(check(put_error(0, "zero", sizeof(struct homi_error)), t), -EPROTO);
		assert_int_equal(check(put_error(EBUSY, "positive", sizeof(struct homi_error)), t), -EPROTO);
		assert_int_equal(check(put_error(-4096, "below errno", sizeof(struct homi_error)), t), -EPROTO);
		assert_int_equal(check(put_error(-EIO, NULL, sizeof(struct homi_error)), t), -EPROTO);
		assert_int_equal(check(put_error(-EIO, "long", sizeof(struct homi_error) + 1), t), -EMSGSIZE);
		assert_int_equal(check(put_error(-EIO, "short", sizeof(struct homi_error) - 1), t), -EMSGSIZE);
		assert_int_equal(check(put_hdr(HOMI_MSG_SHUTDOWN, 0), t), 0);
		assert_int_equal(check(put_hdr(HOMI_MSG_SHUTDOWN, 1), t), -EMSGSIZE);
	}
}

static struct homi_dev *list_dev(uint32_t i)
{
	return (struct homi_dev *)(body() + sizeof(struct homi_list_reply)) + i;
}

/* A LIST reply of ndev records (named, one namespace each) and len bytes of body. */
static size_t put_list(uint32_t ndev, uint32_t len)
{
	size_t n = put_hdr(HOMI_MSG_LIST | HOMI_REPLY, len);
	memcpy(body(), &ndev, sizeof(ndev));
	for (uint32_t i = 0; i < ndev && sizeof(struct homi_list_reply) + (i + 1) * sizeof(struct homi_dev) <= len;
	     i++) {
		struct homi_dev d = {.index = i, .nns = 1};
		snprintf(d.name, sizeof(d.name), "dev%u", i);
		memcpy(list_dev(i), &d, sizeof(d));
	}
	return n;
}

static uint32_t list_len(uint32_t ndev)
{
	return (uint32_t)(sizeof(struct homi_list_reply) + ndev * sizeof(struct homi_dev));
}

static void test_list_reply(void **state)
{
	const uint16_t t = HOMI_MSG_LIST;
	for (uint32_t ndev = 0; ndev <= HOMI_MAX_DEVS; ndev++) {
		assert_int_equal(check(put_list(ndev, list_len(ndev)), t), 0);
		assert_int_equal(check(put_list(ndev, list_len(ndev) + 1), t), -EMSGSIZE);
		assert_int_equal(check(put_list(ndev, list_len(ndev) - 1), t), -EMSGSIZE);
	}
	/* a count that says more or fewer records than the body holds */
	assert_int_equal(check(put_list(3, list_len(2)), t), -EMSGSIZE);
	assert_int_equal(check(put_list(1, list_len(2)), t), -EMSGSIZE);
	/* over the bound, with the body to match and without */
	assert_int_equal(check(put_list(HOMI_MAX_DEVS + 1, list_len(HOMI_MAX_DEVS + 1)), t), -EMSGSIZE);
	assert_int_equal(check(put_list(UINT32_MAX, list_len(1)), t), -EMSGSIZE);
	/* shorter than the count */
	assert_int_equal(check(put_hdr(HOMI_MSG_LIST | HOMI_REPLY, 4), t), -EMSGSIZE);
	/* an unterminated name, in the last record */
	size_t n = put_list(2, list_len(2));
	memset(list_dev(1)->name, 'n', HOMI_NAME_MAX);
	assert_int_equal(check(n, t), -EPROTO);
	/* more namespaces than a record holds */
	n = put_list(2, list_len(2));
	list_dev(0)->nns = HOMI_MAX_NS;
	assert_int_equal(check(n, t), 0);
	list_dev(0)->nns = HOMI_MAX_NS + 1;
	assert_int_equal(check(n, t), -EPROTO);
}

struct status_counts {
	uint32_t ndev, nclients, nqps;
};

static uint32_t status_len(struct status_counts c)
{
	return (uint32_t)(sizeof(struct homi_status_reply) + c.ndev * sizeof(struct homi_status_dev) +
			  c.nclients * sizeof(struct homi_status_client) + c.nqps * sizeof(struct homi_status_qp));
}

static struct homi_status_dev *status_dev(uint32_t i)
{
	return (struct homi_status_dev *)(body() + sizeof(struct homi_status_reply)) + i;
}

static struct homi_status_client *status_client(struct status_counts c, uint32_t i)
{
	return (struct homi_status_client *)status_dev(c.ndev) + i;
}

/* A STATUS reply of these counts (zeroed records, so every string is terminated) and len bytes. */
static size_t put_status(struct status_counts c, uint32_t len)
{
	size_t n = put_hdr(HOMI_MSG_STATUS | HOMI_REPLY, len);
	struct homi_status_reply h = {.ndev = c.ndev, .nclients = c.nclients, .nqps = c.nqps};
	memcpy(body(), &h, sizeof(h));
	return n;
}

static void test_status_reply(void **state)
{
	const uint16_t t = HOMI_MSG_STATUS;
	static const struct status_counts ok[] = {
		{0, 0, 0}, {1, 0, 0}, {0, 1, 0},
		{0, 0, 1}, {2, 3, 4}, {HOMI_MAX_DEVS, HOMI_MAX_CLIENTS, HOMI_MAX_STATUS_QPS},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(check(put_status(ok[i], status_len(ok[i])), t), 0);
		assert_int_equal(check(put_status(ok[i], status_len(ok[i]) - 1), t), -EMSGSIZE);
		if (status_len(ok[i]) + 1 + sizeof(struct homi_hdr) <= HOMI_MSG_MAX)
			assert_int_equal(check(put_status(ok[i], status_len(ok[i]) + 1), t), -EMSGSIZE);
	}
	/* each count one over its bound, the body matching it where it fits */
	static const struct status_counts over[] = {
		{HOMI_MAX_DEVS + 1, 0, 0},
		{0, HOMI_MAX_CLIENTS + 1, 0},
		{0, 0, HOMI_MAX_STATUS_QPS + 1},
	};
	for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++)
		assert_int_equal(check(put_status(over[i], status_len(over[i])), t), -EMSGSIZE);
	/* the largest counts, whatever the body */
	struct status_counts huge = {UINT32_MAX, UINT32_MAX, UINT32_MAX};
	assert_int_equal(check(put_status(huge, status_len((struct status_counts){0, 0, 0})), t), -EMSGSIZE);
	/* records moved between the kinds: same total length only by chance, here not */
	struct status_counts c = {1, 1, 1};
	assert_int_equal(check(put_status((struct status_counts){2, 1, 0}, status_len(c)), t), -EMSGSIZE);
	/* shorter than the counts */
	assert_int_equal(check(put_hdr(HOMI_MSG_STATUS | HOMI_REPLY, sizeof(struct homi_status_reply) - 1), t),
			 -EMSGSIZE);

	/* unterminated strings: a device name, a device target, a client name */
	c = (struct status_counts){2, 2, 1};
	size_t n = put_status(c, status_len(c));
	memset(status_dev(1)->name, 'n', HOMI_NAME_MAX);
	assert_int_equal(check(n, t), -EPROTO);
	n = put_status(c, status_len(c));
	memset(status_dev(0)->target, 't', sizeof(status_dev(0)->target));
	assert_int_equal(check(n, t), -EPROTO);
	n = put_status(c, status_len(c));
	memset(status_client(c, 1)->name, 'c', sizeof(status_client(c, 1)->name));
	assert_int_equal(check(n, t), -EPROTO);
	/* full-length strings with their NUL in the last byte pass */
	n = put_status(c, status_len(c));
	memset(status_dev(1)->name, 'n', HOMI_NAME_MAX - 1);
	memset(status_dev(0)->target, 't', sizeof(status_dev(0)->target) - 1);
	memset(status_client(c, 1)->name, 'c', sizeof(status_client(c, 1)->name) - 1);
	assert_int_equal(check(n, t), 0);
}

/* A STATUS reply with nublk ublk records after the others, len bytes */
static size_t put_status_ublk(struct status_counts c, uint32_t nublk, uint32_t len)
{
	size_t n = put_status(c, len);
	memcpy(body() + offsetof(struct homi_status_reply, nublk), &nublk, sizeof(nublk));
	return n;
}

static uint32_t status_ublk_len(struct status_counts c, uint32_t nublk)
{
	return status_len(c) + nublk * (uint32_t)sizeof(struct homi_status_ublk);
}

static struct homi_status_ublk *status_ublk(struct status_counts c, uint32_t i)
{
	return (struct homi_status_ublk *)(body() + status_len(c)) + i;
}

/* STATUS asking for ublk records (homi_status_req), and the reply's ublk records after the queues */
static void test_status_ublk(void **state)
{
	/* the request: empty (the first protocol) or a homi_status_req, nothing between or longer */
	assert_int_equal(check(put_request(HOMI_MSG_STATUS, 0), 0), 0);
	assert_int_equal(check(put_request(HOMI_MSG_STATUS, sizeof(struct homi_status_req)), 0), 0);
	assert_int_equal(check(put_request(HOMI_MSG_STATUS, sizeof(struct homi_status_req) - 1), 0), -EMSGSIZE);
	assert_int_equal(check(put_request(HOMI_MSG_STATUS, sizeof(struct homi_status_req) + 1), 0), -EMSGSIZE);

	const uint16_t t = HOMI_MSG_STATUS;
	struct status_counts c = {2, 1, 3};
	size_t n = put_status_ublk(c, 2, status_ublk_len(c, 2));
	/* zeroed records (device 0, ublk 0, state unknown) are valid */
	assert_int_equal(check(n, t), 0);
	*status_ublk(c, 1) = (struct homi_status_ublk){
		.dev = 1, .ublk_id = 7, .state = HOMI_UBLK_QUIESCED, .recovered = 1};
	assert_int_equal(check(n, t), 0);
	/* the count must match the body */
	assert_int_equal(check(put_status_ublk(c, 2, status_ublk_len(c, 2) - 1), t), -EMSGSIZE);
	assert_int_equal(check(put_status_ublk(c, 1, status_ublk_len(c, 2)), t), -EMSGSIZE);
	struct status_counts devs = {HOMI_MAX_DEVS, 0, 0};
	assert_int_equal(check(put_status_ublk(devs, HOMI_MAX_DEVS, status_ublk_len(devs, HOMI_MAX_DEVS)), t), 0);
	assert_int_equal(check(put_status_ublk(devs, HOMI_MAX_DEVS + 1, status_ublk_len(devs, HOMI_MAX_DEVS + 1)), t),
			 -EMSGSIZE);
	/* a record naming a device that is not in the reply, a negative id, an unknown state */
	static const struct homi_status_ublk bad[] = {
		{.dev = 2},
		{.ublk_id = -1},
		{.state = HOMI_UBLK_DEAD + 1},
		{.recovered = 2},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = put_status_ublk(c, 2, status_ublk_len(c, 2));
		*status_ublk(c, 0) = bad[i];
		assert_int_equal(check(n, t), -EPROTO);
	}
}

static void test_msg_names(void **state)
{
	assert_string_equal(homi_msg_name(HOMI_MSG_HELLO), "HELLO");
	assert_string_equal(homi_msg_name(HOMI_MSG_LIST), "LIST");
	assert_string_equal(homi_msg_name(HOMI_MSG_REG_MEM), "REG_MEM");
	assert_string_equal(homi_msg_name(HOMI_MSG_UNREG_MEM), "UNREG_MEM");
	assert_string_equal(homi_msg_name(HOMI_MSG_GRANT_QP), "GRANT_QP");
	assert_string_equal(homi_msg_name(HOMI_MSG_RELEASE_QP), "RELEASE_QP");
	assert_string_equal(homi_msg_name(HOMI_MSG_STATUS), "STATUS");
	assert_string_equal(homi_msg_name(HOMI_MSG_EXTENTS), "EXTENTS");
	assert_string_equal(homi_msg_name(HOMI_MSG_REG_GPU_MEM), "REG_GPU_MEM");
	assert_string_equal(homi_msg_name(HOMI_MSG_GPU_INFO), "GPU_INFO");
	assert_string_equal(homi_msg_name(HOMI_MSG_ERROR), "ERROR");
	assert_string_equal(homi_msg_name(HOMI_MSG_SHUTDOWN), "SHUTDOWN");
	/* a reply is named after its request */
	assert_string_equal(homi_msg_name(HOMI_MSG_GRANT_QP | HOMI_REPLY), "GRANT_QP");
	assert_string_equal(homi_msg_name(HOMI_MSG_STATUS | HOMI_REPLY), "STATUS");
	assert_string_equal(homi_msg_name(0), "unknown");
	assert_string_equal(homi_msg_name(NO_REQUEST), "unknown");
	assert_string_equal(homi_msg_name(HOMI_REPLY), "unknown");
	assert_string_equal(homi_msg_name(0xffff), "unknown");
	for (uint32_t t = 0; t <= 0xffff; t++)
		assert_non_null(homi_msg_name((uint16_t)t));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_lengths), cmocka_unit_test(test_header),
		cmocka_unit_test(test_versions),        cmocka_unit_test(test_hello),
		cmocka_unit_test(test_fixed_replies),   cmocka_unit_test(test_error_and_shutdown),
		cmocka_unit_test(test_list_reply),      cmocka_unit_test(test_status_reply),
		cmocka_unit_test(test_msg_names),       cmocka_unit_test(test_status_ublk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
