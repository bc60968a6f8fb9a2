/* SPDX-License-Identifier: BSD-3-Clause */
/* The one check of a homid protocol packet, for the daemon and the client alike. */
#include <aisio/homi_proto.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const names[] = {
	[HOMI_MSG_HELLO] = "HELLO",         [HOMI_MSG_LIST] = "LIST",         [HOMI_MSG_REG_MEM] = "REG_MEM",
	[HOMI_MSG_UNREG_MEM] = "UNREG_MEM", [HOMI_MSG_GRANT_QP] = "GRANT_QP", [HOMI_MSG_RELEASE_QP] = "RELEASE_QP",
	[HOMI_MSG_STATUS] = "STATUS",       [HOMI_MSG_EXTENTS] = "EXTENTS",   [HOMI_MSG_REG_GPU_MEM] = "REG_GPU_MEM",
	[HOMI_MSG_GPU_INFO] = "GPU_INFO",
};

const char *homi_msg_name(uint16_t type)
{
	if (type == HOMI_MSG_ERROR)
		return "ERROR";
	if (type == HOMI_MSG_SHUTDOWN)
		return "SHUTDOWN";
	uint16_t t = type & (uint16_t)~HOMI_REPLY;
	if (t < sizeof(names) / sizeof(names[0]) && names[t])
		return names[t];
	return "unknown";
}

long homi_request_len(uint16_t type)
{
	switch (type) {
	case HOMI_MSG_HELLO: return sizeof(struct homi_hello);
	case HOMI_MSG_LIST: return 0;
	case HOMI_MSG_REG_MEM: return sizeof(struct homi_reg_mem);
	case HOMI_MSG_UNREG_MEM: return sizeof(struct homi_unreg_mem);
	case HOMI_MSG_GRANT_QP: return sizeof(struct homi_grant_qp);
	case HOMI_MSG_RELEASE_QP: return sizeof(struct homi_release_qp);
	case HOMI_MSG_STATUS: return 0;
	case HOMI_MSG_EXTENTS: return sizeof(struct homi_extents);
	case HOMI_MSG_REG_GPU_MEM: return sizeof(struct homi_reg_gpu_mem);
	case HOMI_MSG_GPU_INFO: return sizeof(struct homi_gpu_info);
	default: return -1;
	}
}

static int terminated(const char *s, size_t cap)
{
	return memchr(s, 0, cap) != NULL;
}

/* Body length of a reply to request type t; the variable ones from their counts. */
static int reply_ok(uint16_t t, const uint8_t *body, size_t len, const char **why)
{
	switch (t) {
	case HOMI_MSG_HELLO:
		if (len != sizeof(struct homi_hello_reply))
			break;
		if (!terminated(((const struct homi_hello_reply *)body)->daemon, 56)) {
			*why = "daemon name not terminated";
			return -EPROTO;
		}
		return 0;
	case HOMI_MSG_LIST: {
		struct homi_list_reply h;
		if (len < sizeof(h))
			break;
		memcpy(&h, body, sizeof(h));
		if (h.ndev > HOMI_MAX_DEVS) {
			*why = "too many devices";
			return -EMSGSIZE;
		}
		if (len != sizeof(h) + h.ndev * sizeof(struct homi_dev))
			break;
		for (uint32_t i = 0; i < h.ndev; i++) {
			struct homi_dev d;
			memcpy(&d, body + sizeof(h) + i * sizeof(d), sizeof(d));
			if (!terminated(d.name, sizeof(d.name)) || d.nns > HOMI_MAX_NS) {
				*why = "bad device record";
				return -EPROTO;
			}
		}
		return 0;
	}
	case HOMI_MSG_REG_MEM:
	case HOMI_MSG_REG_GPU_MEM:
		if (len != sizeof(struct homi_reg_mem_reply))
			break;
		return 0;
	case HOMI_MSG_GRANT_QP:
		if (len != sizeof(struct homi_grant_qp_reply))
			break;
		return 0;
	case HOMI_MSG_EXTENTS: {
		if (len != sizeof(struct homi_extents_reply))
			break;
		const struct homi_extents_reply *r = (const void *)body;
		if (!terminated(r->shm, sizeof(r->shm)) || !terminated(r->source, sizeof(r->source))) {
			*why = "extents names not terminated";
			return -EPROTO;
		}
		return 0;
	}
	case HOMI_MSG_GPU_INFO:
		if (len != sizeof(struct homi_gpu_info_reply))
			break;
		if (!terminated(((const struct homi_gpu_info_reply *)body)->gpu, 64)) {
			*why = "GPU name not terminated";
			return -EPROTO;
		}
		return 0;
	case HOMI_MSG_UNREG_MEM:
	case HOMI_MSG_RELEASE_QP:
		if (len != 0)
			break;
		return 0;
	case HOMI_MSG_STATUS: {
		struct homi_status_reply h;
		if (len < sizeof(h))
			break;
		memcpy(&h, body, sizeof(h));
		if (h.ndev > HOMI_MAX_DEVS || h.nclients > HOMI_MAX_CLIENTS || h.nqps > HOMI_MAX_STATUS_QPS ||
		    h.nublk > HOMI_MAX_DEVS) {
			*why = "too many records";
			return -EMSGSIZE;
		}
		size_t want = sizeof(h) + h.ndev * sizeof(struct homi_status_dev) +
			      h.nclients * sizeof(struct homi_status_client) + h.nqps * sizeof(struct homi_status_qp) +
			      h.nublk * sizeof(struct homi_status_ublk);
		if (len != want)
			break;
		const uint8_t *p = body + sizeof(h);
		for (uint32_t i = 0; i < h.ndev; i++, p += sizeof(struct homi_status_dev)) {
			struct homi_status_dev d;
			memcpy(&d, p, sizeof(d));
			if (!terminated(d.name, sizeof(d.name)) || !terminated(d.target, sizeof(d.target))) {
				*why = "bad device record";
				return -EPROTO;
			}
		}
		for (uint32_t i = 0; i < h.nclients; i++, p += sizeof(struct homi_status_client)) {
			struct homi_status_client c;
			memcpy(&c, p, sizeof(c));
			if (!terminated(c.name, sizeof(c.name))) {
				*why = "bad client record";
				return -EPROTO;
			}
		}
		p += h.nqps * sizeof(struct homi_status_qp);
		for (uint32_t i = 0; i < h.nublk; i++, p += sizeof(struct homi_status_ublk)) {
			struct homi_status_ublk u;
			memcpy(&u, p, sizeof(u));
			if (u.dev >= h.ndev || u.ublk_id < 0 || u.state > HOMI_UBLK_DEAD || u.recovered > 1) {
				*why = "bad ublk record";
				return -EPROTO;
			}
		}
		return 0;
	}
	default: *why = "reply to an unknown request"; return -EPROTO;
	}
	*why = "body length does not fit the type";
	return -EMSGSIZE;
}

int homi_msg_check(const void *buf, size_t n, uint16_t reply_to, const char **why)
{
	static const char *unused;
	if (!why)
		why = &unused;
	*why = "";
	struct homi_hdr h;
	if (n < sizeof(h)) {
		*why = "shorter than the header";
		return -EMSGSIZE;
	}
	if (n > HOMI_MSG_MAX) {
		*why = "over the largest message";
		return -EMSGSIZE;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.magic != HOMI_MAGIC) {
		*why = "bad magic";
		return -EPROTO;
	}
	if (h.len != n - sizeof(h)) {
		*why = "header length is not the packet's";
		return -EMSGSIZE;
	}
	const uint8_t *body = (const uint8_t *)buf + sizeof(h);
	if (h.version != HOMI_VERSION && h.type != HOMI_MSG_HELLO) {
		*why = "another protocol version";
		return -EPROTONOSUPPORT;
	}
	if (!reply_to) {
		long want = homi_request_len(h.type);
		if (want < 0) {
			*why = "not a request";
			return -EPROTO;
		}
		/* STATUS: empty, or with homi_status_req */
		bool status_req = h.type == HOMI_MSG_STATUS && h.len == sizeof(struct homi_status_req);
		if (h.len != (uint32_t)want && !status_req) {
			*why = "body length does not fit the type";
			return -EMSGSIZE;
		}
		if (h.type == HOMI_MSG_HELLO) {
			struct homi_hello he;
			memcpy(&he, body, sizeof(he));
			if (!terminated(he.client, sizeof(he.client)) || he.min_version > he.max_version) {
				*why = "bad hello";
				return -EPROTO;
			}
		}
		return 0;
	}
	if (h.type == HOMI_MSG_SHUTDOWN)
		return h.len == 0 ? 0 : (*why = "shutdown with a body", -EMSGSIZE);
	if (h.type == HOMI_MSG_ERROR) {
		struct homi_error e;
		if (h.len != sizeof(e)) {
			*why = "error of the wrong length";
			return -EMSGSIZE;
		}
		memcpy(&e, body, sizeof(e));
		if (e.err >= 0 || e.err < -4095 || !terminated(e.msg, sizeof(e.msg))) {
			*why = "bad error record";
			return -EPROTO;
		}
		return 0;
	}
	if (h.type != (reply_to | HOMI_REPLY)) {
		*why = "reply of another type";
		return -EPROTO;
	}
	return reply_ok(reply_to, body, h.len, why);
}

int homi_send(int sock, uint16_t type, uint32_t seq, const void *body, uint32_t len, int fd, int flags)
{
	struct homi_hdr h = {.magic = HOMI_MAGIC, .version = HOMI_VERSION, .type = type, .len = len, .seq = seq};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)body, len}};
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.b;
		m.msg_controllen = sizeof(ctl.b);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t n = sendmsg(sock, &m, flags | MSG_NOSIGNAL);
	if (n < 0)
		return errno == ECONNRESET ? -EPIPE : -errno;
	return n == (ssize_t)(sizeof(h) + len) ? 0 : -EPIPE;
}

long homi_recv(int sock, void *buf, size_t cap, int *fds, unsigned maxfd, unsigned *nfd, bool *trunc, int flags)
{
	union {
		char b[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {buf, cap};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
	*nfd = 0;
	*trunc = false;
	ssize_t n = recvmsg(sock, &m, flags | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfd < maxfd)
				fds[(*nfd)++] = f;
			else
				close(f);
		}
	}
	*trunc = (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
	return (long)n;
}
