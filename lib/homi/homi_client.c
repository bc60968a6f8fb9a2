/* SPDX-License-Identifier: BSD-3-Clause */
/* The homid client: one SOCK_SEQPACKET connection, requests answered in order, fds by SCM_RIGHTS. */
#include <aisio/clock.h>
#include <aisio/homi.h>
#include <aisio/log.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct homi_client {
	int fd;
	pthread_mutex_t lock; /* one request at a time */
	int gone;             /* the daemon closed or announced shutdown (read without the lock) */
	uint32_t seq;
	uint32_t client_id;
	unsigned timeout_ms;
	char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint8_t buf[HOMI_MSG_MAX];
};

static void mark_gone(struct homi_client *hc)
{
	if (!__atomic_exchange_n(&hc->gone, 1, __ATOMIC_ACQ_REL))
		aisio_log(AISIO_LOG_ERROR, hc->socket, "the homid daemon has gone; its queues no longer work");
}

int homi_client_health(struct homi_client *hc)
{
	if (__atomic_load_n(&hc->gone, __ATOMIC_ACQUIRE))
		return -ESHUTDOWN;
	struct pollfd p = {.fd = hc->fd, .events = POLLIN};
	if (poll(&p, 1, 0) == 1) {
		if (p.revents & (POLLHUP | POLLERR)) {
			mark_gone(hc);
			return -ESHUTDOWN;
		}
		/* between requests only the daemon's shutdown notice arrives */
		struct homi_hdr h;
		ssize_t n = recv(hc->fd, &h, sizeof(h), MSG_PEEK | MSG_DONTWAIT);
		if (n == 0 || (n == (ssize_t)sizeof(h) && h.magic == HOMI_MAGIC && h.type == HOMI_MSG_SHUTDOWN)) {
			mark_gone(hc);
			return -ESHUTDOWN;
		}
	}
	return 0;
}

/* Send one request with an optional fd. */
static int send_msg(struct homi_client *hc, uint16_t type, const void *body, uint32_t len, int fd)
{
	int rc = homi_send(hc->fd, type, ++hc->seq, body, len, fd, 0);
	if (rc == -EPIPE)
		mark_gone(hc);
	return rc == -EPIPE ? -ESHUTDOWN : rc;
}

/* Wait for the reply to the request just sent: its body in hc->buf + 16, *len its length, *fd a
 * passed descriptor (or -1). */
static int recv_reply(struct homi_client *hc, uint16_t type, uint32_t *len, int *fd)
{
	uint64_t deadline = aisio_mono_ms() + hc->timeout_ms;
	if (fd)
		*fd = -1;
	for (;;) {
		uint64_t now = aisio_mono_ms();
		if (now >= deadline) {
			aisio_log(AISIO_LOG_ERROR, hc->socket, "no reply to %s within %u ms", homi_msg_name(type),
				  hc->timeout_ms);
			return -ETIMEDOUT;
		}
		struct pollfd p = {.fd = hc->fd, .events = POLLIN};
		int pr = poll(&p, 1, (int)(deadline - now));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -errno;
		if (pr == 0)
			continue;
		int fds[4];
		unsigned nfd;
		bool trunc;
		long n = homi_recv(hc->fd, hc->buf, sizeof(hc->buf), fds, 4, &nfd, &trunc, 0);
		if (n == -EINTR)
			continue;
		if (n <= 0) {
			mark_gone(hc);
			return -ESHUTDOWN;
		}
		int got_fd = nfd ? fds[0] : -1;
		for (unsigned i = 1; i < nfd; i++)
			close(fds[i]);
		const char *why = "over the largest message";
		int rc = trunc ? -EMSGSIZE : homi_msg_check(hc->buf, (size_t)n, type, &why);
		if (rc < 0) {
			if (got_fd >= 0)
				close(got_fd);
			aisio_log(AISIO_LOG_ERROR, hc->socket, "bad reply to %s from the daemon: %s",
				  homi_msg_name(type), why);
			return rc;
		}
		struct homi_hdr h;
		memcpy(&h, hc->buf, sizeof(h));
		if (h.type == HOMI_MSG_SHUTDOWN) {
			if (got_fd >= 0)
				close(got_fd);
			mark_gone(hc);
			return -ESHUTDOWN;
		}
		if (h.seq != hc->seq) {
			/* a reply to a request that timed out earlier */
			if (got_fd >= 0)
				close(got_fd);
			continue;
		}
		if (h.type == HOMI_MSG_ERROR) {
			if (got_fd >= 0)
				close(got_fd);
			struct homi_error e;
			memcpy(&e, hc->buf + sizeof(h), sizeof(e));
			aisio_log(AISIO_LOG_ERROR, hc->socket, "%s refused: %s", homi_msg_name(type), e.msg);
			return e.err;
		}
		*len = h.len;
		if (fd)
			*fd = got_fd;
		else if (got_fd >= 0)
			close(got_fd);
		return 0;
	}
}

/* One request and its reply, under the lock. reply (may be NULL) gets up to cap body bytes. */
static int call(struct homi_client *hc, uint16_t type, const void *body, uint32_t len, int send_fd, void *reply,
		size_t cap, size_t *rlen, int *recv_fd)
{
	if (__atomic_load_n(&hc->gone, __ATOMIC_ACQUIRE))
		return -ESHUTDOWN;
	pthread_mutex_lock(&hc->lock);
	uint32_t got = 0;
	int rc = send_msg(hc, type, body, len, send_fd);
	if (rc == 0)
		rc = recv_reply(hc, type, &got, recv_fd);
	if (rc == 0) {
		if (reply)
			memcpy(reply, hc->buf + sizeof(struct homi_hdr), got < cap ? got : cap);
		if (rlen)
			*rlen = got;
	}
	pthread_mutex_unlock(&hc->lock);
	return rc;
}

int homi_connect(struct homi_client **out, const char *socket_path, const char *client_name, unsigned timeout_ms)
{
	const char *path = socket_path && *socket_path ? socket_path : HOMI_DEFAULT_SOCKET;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		aisio_log(AISIO_LOG_ERROR, path, "socket path too long (at most %zu bytes)", sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	struct homi_client *hc = calloc(1, sizeof(*hc));
	if (!hc)
		return -ENOMEM;
	pthread_mutex_init(&hc->lock, NULL);
	hc->timeout_ms = timeout_ms ? timeout_ms : 5000;
	snprintf(hc->socket, sizeof(hc->socket), "%s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	hc->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int rc = hc->fd < 0 ? -errno : 0;
	if (rc == 0 && connect(hc->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		aisio_log(AISIO_LOG_ERROR, path,
			  "no homid daemon answers here (%s); start one with: homid --config FILE", strerror(-rc));
	}
	if (rc == 0) {
		struct homi_hello he = {
			.min_version = HOMI_VERSION, .max_version = HOMI_VERSION, .pid = (uint32_t)getpid()};
		snprintf(he.client, sizeof(he.client), "%s", client_name ? client_name : "aisio");
		struct homi_hello_reply r;
		rc = call(hc, HOMI_MSG_HELLO, &he, sizeof(he), -1, &r, sizeof(r), NULL, NULL);
		if (rc == 0)
			hc->client_id = r.client_id;
	}
	if (rc < 0) {
		homi_disconnect(hc);
		return rc;
	}
	*out = hc;
	return 0;
}

void homi_disconnect(struct homi_client *hc)
{
	if (!hc)
		return;
	if (hc->fd >= 0)
		close(hc->fd);
	pthread_mutex_destroy(&hc->lock);
	free(hc);
}

const char *homi_client_socket(const struct homi_client *hc)
{
	return hc->socket;
}

uint32_t homi_client_id(const struct homi_client *hc)
{
	return hc->client_id;
}

int homi_list(struct homi_client *hc, struct homi_dev *devs, unsigned max, unsigned *n)
{
	size_t len;
	uint8_t *b = malloc(HOMI_MSG_MAX);
	if (!b)
		return -ENOMEM;
	int rc = call(hc, HOMI_MSG_LIST, NULL, 0, -1, b, HOMI_MSG_MAX, &len, NULL);
	if (rc == 0) {
		struct homi_list_reply h;
		memcpy(&h, b, sizeof(h));
		unsigned k = h.ndev < max ? h.ndev : max;
		memcpy(devs, b + sizeof(h), k * sizeof(*devs));
		*n = h.ndev;
	}
	free(b);
	return rc;
}

int homi_find(struct homi_client *hc, const char *name, struct homi_dev *out)
{
	struct homi_dev devs[HOMI_MAX_DEVS];
	unsigned n;
	int rc = homi_list(hc, devs, HOMI_MAX_DEVS, &n);
	if (rc < 0)
		return rc;
	char names[HOMI_MAX_DEVS * (HOMI_NAME_MAX + 2)] = "";
	size_t at = 0;
	for (unsigned i = 0; i < n && i < HOMI_MAX_DEVS; i++) {
		if (!strcmp(devs[i].name, name)) {
			*out = devs[i];
			return 0;
		}
		at += (size_t)snprintf(names + at, sizeof(names) - at, "%s%s", i ? ", " : "", devs[i].name);
	}
	aisio_log(AISIO_LOG_ERROR, hc->socket,
		  "the daemon offers this user no device '%s' (it offers: %s; users= and groups= of a [device] "
		  "section grant access)",
		  name, n ? names : "none");
	return -ENODEV;
}

int homi_reg_mem(struct homi_client *hc, uint32_t dev, int memfd, uint64_t len, uint32_t *mem_id, uint64_t *iova)
{
	struct homi_reg_mem q = {.dev = dev, .len = len};
	struct homi_reg_mem_reply r;
	int rc = call(hc, HOMI_MSG_REG_MEM, &q, sizeof(q), memfd, &r, sizeof(r), NULL, NULL);
	if (rc == 0) {
		*mem_id = r.mem_id;
		*iova = r.iova;
	}
	return rc;
}

int homi_reg_gpu_mem(struct homi_client *hc, uint32_t dev, const void *handle, uint64_t len, uint32_t *mem_id,
		     uint64_t *iova)
{
	struct homi_reg_gpu_mem q = {.dev = dev, .len = len};
	memcpy(q.handle, handle, sizeof(q.handle));
	struct homi_reg_mem_reply r;
	int rc = call(hc, HOMI_MSG_REG_GPU_MEM, &q, sizeof(q), -1, &r, sizeof(r), NULL, NULL);
	if (rc == 0) {
		*mem_id = r.mem_id;
		*iova = r.iova;
	}
	return rc;
}

int homi_gpu_info(struct homi_client *hc, uint32_t dev, struct homi_gpu_info_reply *out)
{
	struct homi_gpu_info q = {.dev = dev};
	return call(hc, HOMI_MSG_GPU_INFO, &q, sizeof(q), -1, out, sizeof(*out), NULL, NULL);
}

int homi_unreg_mem(struct homi_client *hc, uint32_t mem_id)
{
	struct homi_unreg_mem q = {.mem_id = mem_id};
	return call(hc, HOMI_MSG_UNREG_MEM, &q, sizeof(q), -1, NULL, 0, NULL, NULL);
}

int homi_grant_qp(struct homi_client *hc, const struct homi_grant_qp *req, struct homi_grant_qp_reply *rep, int *db_fd)
{
	int fd = -1;
	int rc = call(hc, HOMI_MSG_GRANT_QP, req, sizeof(*req), -1, rep, sizeof(*rep), NULL, &fd);
	if (rc == 0 && fd < 0 && !(rep->flags & HOMI_QP_GPU_BAR)) {
		aisio_log(AISIO_LOG_ERROR, hc->socket, "the daemon granted queue %u without its doorbells", rep->qid);
		homi_release_qp(hc, req->dev, rep->qid);
		return -EPROTO;
	}
	if (rc == 0 && fd >= 0 && (rep->flags & HOMI_QP_GPU_BAR)) {
		close(fd); /* a GPU queue's doorbells are in the device's BAR, not in an fd */
		fd = -1;
	}
	if (rc == 0)
		*db_fd = fd;
	return rc;
}

int homi_release_qp(struct homi_client *hc, uint32_t dev, uint16_t qid)
{
	struct homi_release_qp q = {.dev = dev, .qid = qid};
	return call(hc, HOMI_MSG_RELEASE_QP, &q, sizeof(q), -1, NULL, 0, NULL, NULL);
}

int homi_status(struct homi_client *hc, void *buf, size_t cap, size_t *len)
{
	struct homi_status_req q = {.want = HOMI_STATUS_WANT_UBLK};
	int rc = call(hc, HOMI_MSG_STATUS, &q, sizeof(q), -1, buf, cap, len, NULL);
	if (rc == -EMSGSIZE) /* a daemon from before homi_status_req */
		rc = call(hc, HOMI_MSG_STATUS, NULL, 0, -1, buf, cap, len, NULL);
	return rc;
}

int homi_extents_info(struct homi_client *hc, uint32_t dev, struct homi_extents_reply *out)
{
	struct homi_extents q = {.dev = dev};
	return call(hc, HOMI_MSG_EXTENTS, &q, sizeof(q), -1, out, sizeof(*out), NULL, NULL);
}
