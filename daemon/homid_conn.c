/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * homid's connections: accept with the peer's credentials (SO_PEERCRED, SO_PEERGROUPS), one
 * request per packet checked by homi_msg_check, one reply each. A bad request is answered with an
 * error and costs the sender nothing else; other clients never notice. A connection that closes
 * or breaks has its queues and memory taken back at once.
 */
#include "homid.h"

#include "aisio_version.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HOMID_MAX_FDS_IN 4 /* descriptors accepted on one packet (more are closed) */

/* Never blocks on a client that does not read: its socket buffer full means it is broken (-EPIPE). */
static int send_reply(struct homid_client *cl, uint16_t type, uint32_t seq, const void *body, uint32_t len, int fd)
{
	return homi_send(cl->fd, type, seq, body, len, fd, MSG_DONTWAIT) < 0 ? -EPIPE : 0;
}

static int send_error(struct homid *hd, struct homid_client *cl, uint32_t seq, int err, const char *msg)
{
	struct homi_error e = {.err = err};
	snprintf(e.msg, sizeof(e.msg), "%s", msg && *msg ? msg : strerror(-err));
	return send_reply(cl, HOMI_MSG_ERROR, seq, &e, sizeof(e), -1);
}

void homid_client_accept(struct homid *hd)
{
	int fd = accept4(hd->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			aisio_log(AISIO_LOG_WARNING, NULL, "accept: %s", strerror(errno));
		return;
	}
	struct ucred cr;
	socklen_t cl_len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl_len) < 0) {
		aisio_log(AISIO_LOG_WARNING, NULL, "a connection without credentials (%s): closed", strerror(errno));
		close(fd);
		return;
	}
	struct homid_client *cl = NULL;
	unsigned slot = HOMI_MAX_CLIENTS;
	for (unsigned i = 0; i < HOMI_MAX_CLIENTS; i++)
		if (!hd->clients[i]) {
			slot = i;
			break;
		}
	if (slot < HOMI_MAX_CLIENTS)
		cl = calloc(1, sizeof(*cl));
	if (!cl) {
		struct homid_client tmp = {.fd = fd};
		aisio_log(AISIO_LOG_WARNING, NULL, "pid %d refused: %u clients at once is the most", (int)cr.pid,
			  HOMI_MAX_CLIENTS);
		send_error(hd, &tmp, 0, -EUSERS, "the daemon serves as many clients as it can");
		close(fd);
		return;
	}
	cl->fd = fd;
	cl->pid = cr.pid;
	cl->uid = cr.uid;
	cl->gid = cr.gid;
	socklen_t glen = sizeof(cl->groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, cl->groups, &glen) == 0)
		cl->ngroups = glen / sizeof(gid_t);
	cl->id = ++hd->next_client_id;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = cl};
	if (epoll_ctl(hd->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		aisio_log(AISIO_LOG_WARNING, NULL, "epoll_ctl: %s", strerror(errno));
		close(fd);
		free(cl);
		return;
	}
	hd->clients[slot] = cl;
	hd->nclients++;
	hd->clients_served++;
	aisio_log(AISIO_LOG_DEBUG, NULL, "client %u connected: pid %d uid %u gid %u", cl->id, (int)cl->pid,
		  (unsigned)cl->uid, (unsigned)cl->gid);
}

void homid_client_drop(struct homid *hd, struct homid_client *cl, bool notify)
{
	if (notify) {
		struct homi_hdr h = {.magic = HOMI_MAGIC, .version = HOMI_VERSION, .type = HOMI_MSG_SHUTDOWN};
		send(cl->fd, &h, sizeof(h), MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	homid_client_reclaim(hd, cl);
	epoll_ctl(hd->epoll_fd, EPOLL_CTL_DEL, cl->fd, NULL);
	close(cl->fd);
	for (unsigned i = 0; i < HOMI_MAX_CLIENTS; i++)
		if (hd->clients[i] == cl)
			hd->clients[i] = NULL;
	hd->nclients--;
	aisio_log(AISIO_LOG_DEBUG, NULL, "client %u (pid %d) disconnected", cl->id, (int)cl->pid);
	free(cl);
}

static void fill_dev(const struct homid_dev *d, struct homi_dev *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", d->conf.name);
	o->index = d->index;
	o->kind = d->kind;
	o->flags = d->isolated ? HOMI_DEV_DOORBELLS_ISOLATED : 0;
	o->max_qpairs = d->max_qpairs;
	o->free_qpairs = d->max_qpairs - d->used;
	if (d->gpu) {
		homid_gpu_fill_dev(d, o);
		return;
	}
	if (!d->ctrl)
		return; /* an SR-IOV PF (its VFs are the devices), or a VF out of service */
	o->dma_kind = (uint32_t)d->pci->ops->dma_kind;
	o->max_xfer = nvmed_ctrl_max_xfer(d->ctrl);
	o->max_qpairs = d->max_qpairs;
	o->free_qpairs = d->max_qpairs - d->used;
	o->max_qdepth = nvmed_ctrl_max_qdepth(d->ctrl);
	for (uint32_t nsid = 1; nsid <= NVMED_MAX_NS && o->nns < HOMI_MAX_NS; nsid++) {
		struct nvmed_ns ns;
		if (nvmed_ctrl_ns(d->ctrl, nsid, &ns) < 0)
			continue;
		if (d->conf.policy.ns_mask && !(d->conf.policy.ns_mask & (1u << nsid)))
			continue;
		o->ns[o->nns++] = (struct homi_ns){
			.nsid = nsid, .lba_shift = ns.lba_shift, .nlba = ns.nlba, .max_lbas = ns.max_lbas};
	}
}

static uint32_t build_list(struct homid *hd, struct homid_client *cl, uint8_t *out)
{
	struct homi_list_reply h = {0};
	uint8_t *p = out + sizeof(h);
	for (unsigned i = 0; i < hd->ndev; i++) {
		if (!homid_policy_allows(&hd->devs[i], cl))
			continue;
		struct homi_dev d;
		fill_dev(&hd->devs[i], &d);
		memcpy(p, &d, sizeof(d));
		p += sizeof(d);
		h.ndev++;
	}
	memcpy(out, &h, sizeof(h));
	return (uint32_t)(p - out);
}

/* An SR-IOV PF's or VF's part of its status record. */
static void fill_sriov_status(const struct homid *hd, const struct homid_dev *d, struct homi_status_dev *s)
{
	if (d->sriov) {
		s->cntlid = d->sriov->cntlid;
		s->vfn = (uint16_t)(d->sriov->enabled ? d->sriov->nvfs : 0);
		s->vq = (uint16_t)d->sriov->vq_flexible;
		s->vi = (uint16_t)d->sriov->vi_flexible;
		return;
	}
	if (!d->conf.sriov_vfn)
		return;
	const struct homid_sriov_vf *vf = homid_sriov_vf_of(hd, d);
	s->holder = d->holder ? d->holder->id : 0;
	s->vfn = (uint16_t)d->conf.sriov_vfn;
	s->pf_dev = d->conf.sriov_pf_dev;
	s->resets = d->resets;
	if (!d->ctrl)
		s->flags |= HOMI_DEV_DOWN;
	if (vf) {
		if (vf->online)
			s->flags |= HOMI_DEV_SRIOV_ONLINE;
		s->cntlid = vf->scid;
		s->vq = vf->vq;
		s->vi = vf->vi;
		s->ns_mask = vf->ns;
	}
}

static uint32_t build_status(struct homid *hd, uint32_t want, uint8_t *out)
{
	struct homi_status_reply h = {.reclaimed_qps = hd->reclaimed_qps, .clients_served = hd->clients_served};
	uint8_t *p = out + sizeof(h);
	for (unsigned i = 0; i < hd->ndev; i++) {
		const struct homid_dev *d = &hd->devs[i];
		struct homi_status_dev s = {.kind = d->kind,
					    .flags = d->isolated ? HOMI_DEV_DOORBELLS_ISOLATED : 0,
					    .max_qpairs = d->max_qpairs,
					    .used_qpairs = d->used,
					    .nns = d->gpu    ? 1
						   : d->ctrl ? nvmed_ctrl_ns_count(d->ctrl)
							     : 0};
		fill_sriov_status(hd, d, &s);
		snprintf(s.name, sizeof(s.name), "%s", d->conf.name);
		snprintf(s.target, sizeof(s.target), "%s", d->conf.target);
		memcpy(p, &s, sizeof(s));
		p += sizeof(s);
		h.ndev++;
	}
	for (unsigned i = 0; i < HOMI_MAX_CLIENTS; i++) {
		const struct homid_client *cl = hd->clients[i];
		if (!cl)
			continue;
		struct homi_status_client s = {.client_id = cl->id,
					       .pid = (uint32_t)cl->pid,
					       .uid = cl->uid,
					       .gid = cl->gid,
					       .nqueues = cl->nqueues,
					       .mem_bytes = cl->mem_bytes};
		for (unsigned m = 0; m < HOMI_MAX_MEMS; m++)
			s.nmems += cl->mems[m].used;
		snprintf(s.name, sizeof(s.name), "%s", cl->name);
		memcpy(p, &s, sizeof(s));
		p += sizeof(s);
		h.nclients++;
	}
	for (unsigned i = 0; i < hd->ndev; i++) {
		const struct homid_dev *d = &hd->devs[i];
		for (unsigned q = 1; q <= d->max_qpairs && h.nqps < HOMI_MAX_STATUS_QPS; q++) {
			const struct homid_qp *qp = &d->qps[q];
			if (!qp->owner)
				continue;
			struct homi_status_qp s = {.dev = i,
						   .client_id = qp->owner->id,
						   .qid = (uint16_t)q,
						   .entries = qp->entries,
						   .nsid = qp->nsid};
			memcpy(p, &s, sizeof(s));
			p += sizeof(s);
			h.nqps++;
		}
	}
	if (want & HOMI_STATUS_WANT_UBLK) {
		struct homi_status_ublk u[HOMI_MAX_DEVS];
		h.nublk = homid_ublk_status(hd, u, HOMI_MAX_DEVS);
		memcpy(p, u, h.nublk * sizeof(u[0]));
		p += h.nublk * sizeof(u[0]);
	}
	memcpy(out, &h, sizeof(h));
	return (uint32_t)(p - out);
}

/* One request; returns 0, or -EPIPE when the client cannot be answered. */
static int handle(struct homid *hd, struct homid_client *cl, const struct homi_hdr *h, const uint8_t *body, int *fds,
		  unsigned nfd)
{
	char why[124] = "";
	int rc = 0;
	int in_fd = nfd ? fds[0] : -1;
	if (!cl->hello && h->type != HOMI_MSG_HELLO)
		return send_error(hd, cl, h->seq, -EPROTO, "HELLO first");
	if (h->type != HOMI_MSG_REG_MEM && nfd)
		return send_error(hd, cl, h->seq, -EINVAL, "this request carries no file descriptor");
	if (nfd > 1)
		return send_error(hd, cl, h->seq, -EINVAL, "REG_MEM carries one memfd");
	switch (h->type) {
	case HOMI_MSG_HELLO: {
		struct homi_hello rq;
		memcpy(&rq, body, sizeof(rq));
		if (rq.min_version > HOMI_VERSION || rq.max_version < HOMI_VERSION) {
			snprintf(why, sizeof(why), "the daemon speaks version %u only, the client %u..%u", HOMI_VERSION,
				 rq.min_version, rq.max_version);
			return send_error(hd, cl, h->seq, -EPROTONOSUPPORT, why);
		}
		if (cl->hello)
			return send_error(hd, cl, h->seq, -EPROTO, "HELLO twice");
		cl->hello = true;
		snprintf(cl->name, sizeof(cl->name), "%s", rq.client);
		struct homi_hello_reply rp = {.version = HOMI_VERSION, .client_id = cl->id};
		snprintf(rp.daemon, sizeof(rp.daemon), "homid %s", AISIO_VERSION);
		return send_reply(cl, h->type | HOMI_REPLY, h->seq, &rp, sizeof(rp), -1);
	}
	case HOMI_MSG_LIST: {
		uint32_t len = build_list(hd, cl, hd->tx);
		return send_reply(cl, h->type | HOMI_REPLY, h->seq, hd->tx, len, -1);
	}
	case HOMI_MSG_STATUS: {
		struct homi_status_req rq = {0}; /* an empty request: the first protocol's reply */
		if (h->len == sizeof(rq))
			memcpy(&rq, body, sizeof(rq));
		uint32_t len = build_status(hd, rq.want, hd->tx);
		return send_reply(cl, h->type | HOMI_REPLY, h->seq, hd->tx, len, -1);
	}
	case HOMI_MSG_REG_MEM: {
		struct homi_reg_mem rq;
		struct homi_reg_mem_reply rp = {0};
		memcpy(&rq, body, sizeof(rq));
		rc = homid_mem_register(hd, cl, &rq, in_fd, &rp, why, sizeof(why));
		if (rc == 0) {
			fds[0] = -1; /* kept with the region */
			return send_reply(cl, h->type | HOMI_REPLY, h->seq, &rp, sizeof(rp), -1);
		}
		break;
	}
	case HOMI_MSG_UNREG_MEM: {
		struct homi_unreg_mem rq;
		memcpy(&rq, body, sizeof(rq));
		rc = homid_mem_unregister(hd, cl, rq.mem_id, why, sizeof(why));
		if (rc == 0)
			return send_reply(cl, h->type | HOMI_REPLY, h->seq, NULL, 0, -1);
		break;
	}
	case HOMI_MSG_GRANT_QP: {
		struct homi_grant_qp rq;
		struct homi_grant_qp_reply rp;
		int db_fd = -1;
		memcpy(&rq, body, sizeof(rq));
		rc = homid_qp_grant(hd, cl, &rq, &rp, &db_fd, why, sizeof(why));
		if (rc == 0) {
			if (send_reply(cl, h->type | HOMI_REPLY, h->seq, &rp, sizeof(rp), db_fd) < 0)
				return -EPIPE; /* the queue is taken back with the client */
			return 0;
		}
		break;
	}
	case HOMI_MSG_RELEASE_QP: {
		struct homi_release_qp rq;
		memcpy(&rq, body, sizeof(rq));
		rc = homid_qp_release(hd, cl, rq.dev, rq.qid, why, sizeof(why));
		if (rc == 0)
			return send_reply(cl, h->type | HOMI_REPLY, h->seq, NULL, 0, -1);
		break;
	}
	case HOMI_MSG_REG_GPU_MEM: {
		struct homi_reg_gpu_mem rq;
		struct homi_reg_mem_reply rp = {0};
		memcpy(&rq, body, sizeof(rq));
		rc = homid_gpu_mem_register(hd, cl, &rq, &rp, why, sizeof(why));
		if (rc == 0)
			return send_reply(cl, h->type | HOMI_REPLY, h->seq, &rp, sizeof(rp), -1);
		break;
	}
	case HOMI_MSG_GPU_INFO: {
		struct homi_gpu_info rq;
		struct homi_gpu_info_reply rp;
		memcpy(&rq, body, sizeof(rq));
		rc = homid_gpu_info_get(hd, cl, rq.dev, &rp, why, sizeof(why));
		if (rc == 0)
			return send_reply(cl, h->type | HOMI_REPLY, h->seq, &rp, sizeof(rp), -1);
		break;
	}
	case HOMI_MSG_EXTENTS: {
		struct homi_extents rq;
		struct homi_extents_reply rp;
		memcpy(&rq, body, sizeof(rq));
		rc = homid_extents_info(hd, cl, rq.dev, &rp, why, sizeof(why));
		if (rc == 0)
			return send_reply(cl, h->type | HOMI_REPLY, h->seq, &rp, sizeof(rp), -1);
		break;
	}
	default: return send_error(hd, cl, h->seq, -EPROTO, "not a request");
	}
	aisio_log(AISIO_LOG_INFO, NULL, "client %u (pid %d): %s refused: %s", cl->id, (int)cl->pid,
		  homi_msg_name(h->type), why);
	return send_error(hd, cl, h->seq, rc, why);
}

/* SOCK_SEQPACKET reads an empty packet and the peer's close alike as 0 bytes: only the latter
 * leaves the socket hung up. */
static bool peer_closed(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
	int n = poll(&p, 1, 0);
	return n < 0 || (n == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)));
}

void homid_client_readable(struct homid *hd, struct homid_client *cl)
{
	for (;;) {
		int fds[HOMID_MAX_FDS_IN];
		unsigned nfd;
		bool trunc;
		long n = homi_recv(cl->fd, hd->rx, sizeof(hd->rx), fds, HOMID_MAX_FDS_IN, &nfd, &trunc, MSG_DONTWAIT);
		if (n == -EAGAIN || n == -EINTR)
			return;
		if (n < 0 || (n == 0 && peer_closed(cl->fd))) {
			homid_client_drop(hd, cl, false);
			return;
		}
		struct homi_hdr h = {0};
		if ((size_t)n >= sizeof(h))
			memcpy(&h, hd->rx, sizeof(h));
		const char *why = "";
		int rc;
		if (n > HOMI_MSG_MAX) {
			rc = -EMSGSIZE;
			why = "over the largest message";
		} else if (trunc) {
			rc = -EINVAL;
			why = "more file descriptors than a request carries";
		} else {
			rc = homi_msg_check(hd->rx, (size_t)n, 0, &why);
		}
		if (rc < 0) {
			aisio_log(AISIO_LOG_INFO, NULL, "client %u (pid %d): bad message: %s", cl->id, (int)cl->pid,
				  why);
			char msg[124];
			snprintf(msg, sizeof(msg), "bad message: %s", why);
			rc = send_error(hd, cl, h.seq, rc, msg);
		} else {
			rc = handle(hd, cl, &h, hd->rx + sizeof(h), fds, nfd);
		}
		for (unsigned i = 0; i < nfd; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		if (rc == -EPIPE) {
			homid_client_drop(hd, cl, false);
			return;
		}
	}
}
