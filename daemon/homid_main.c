/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * homid: the daemon that owns NVMe controllers and grants each client process its own queue
 * pairs (docs/ARCHITECTURE.md, "homid"). Runs in the foreground (for tests and for systemd's
 * Type=notify): reads its configuration, brings up every device it names, listens, says READY=1.
 * SIGTERM or SIGINT: tells every client, deletes their queues, shuts the controllers down,
 * removes the socket.
 */
#include "homid.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#else
static int sd_notify(int unset, const char *state)
{
	return 0;
}
#endif

static void log_stderr(void *arg, enum aisio_log_level level, const char *dev, const char *msg)
{
	static const char *const tag[] = {"error", "warning", "info", "debug"};
	fprintf(stderr, "homid: %s: %s%s%s\n", tag[level], dev ? dev : "", dev ? ": " : "", msg);
}

#ifdef HAVE_LIBSYSTEMD
static void log_journal(void *arg, enum aisio_log_level level, const char *dev, const char *msg)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	sd_journal_send("MESSAGE=%s%s%s", dev ? dev : "", dev ? ": " : "", msg, "PRIORITY=%d", prio[level],
			"AISIO_DEVICE=%s", dev ? dev : "", "SYSLOG_IDENTIFIER=homid", NULL);
}
#endif

static void usage(FILE *f)
{
	fprintf(f, "usage: homid --config FILE\n"
		   "  Owns the NVMe devices FILE names and grants client processes their own queue pairs over a\n"
		   "  UNIX socket; clients open homi:NAME device strings. Runs in the foreground; stops on SIGTERM.\n"
		   "  --check   read and check FILE, then exit\n");
}

/* -EADDRINUSE when a daemon answers on the socket; a stale one (nobody answers) is no error. */
static int socket_in_use(const struct homid_config *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->socket);
	int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (probe >= 0)
		close(probe);
	if (!live)
		return 0;
	aisio_log(AISIO_LOG_ERROR, c->socket, "another homid already listens here (%s)", strerror(EADDRINUSE));
	return -EADDRINUSE;
}

/* Create the socket: a stale one is replaced; a live one is an error. */
static int listen_on(struct homid *hd)
{
	const struct homid_config *c = &hd->cfg;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->socket);
	char dir[sizeof(sa.sun_path)];
	snprintf(dir, sizeof(dir), "%s", c->socket);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			aisio_log(AISIO_LOG_ERROR, dir, "cannot create the socket's directory: %s", strerror(errno));
			return -errno;
		}
	}
	/* again: one may have started while the devices came up */
	if (socket_in_use(c) < 0)
		return -EADDRINUSE;
	unlink(c->socket);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc == 0 && chmod(c->socket, c->socket_mode) < 0)
		rc = -1;
	if (rc == 0 && c->socket_gid >= 0 && chown(c->socket, (uid_t)-1, (gid_t)c->socket_gid) < 0)
		rc = -1;
	if (rc == 0)
		rc = listen(fd, 64);
	if (rc < 0) {
		int err = errno;
		aisio_log(AISIO_LOG_ERROR, c->socket, "cannot listen: %s", strerror(err));
		close(fd);
		return -err;
	}
	hd->listen_fd = fd;
	return 0;
}

/* The device whose extent watch an epoll entry is, or NULL. */
static struct homid_dev *extents_dev(struct homid *hd, void *p)
{
	for (unsigned i = 0; i < hd->ndev; i++)
		if (p == &hd->devs[i].xal)
			return &hd->devs[i];
	return NULL;
}

static int run(struct homid *hd)
{
	for (;;) {
		struct epoll_event ev[32];
		bool gpu = false;
		for (unsigned i = 0; i < hd->ndev; i++)
			gpu |= hd->devs[i].gpu != NULL;
		/* a GPU-resident device's engine is looked after once a second (homid_gpu_tick) */
		int n = epoll_wait(hd->epoll_fd, ev, 32, gpu ? 1000 : -1);
		if (gpu)
			homid_gpu_tick(hd);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++) {
			void *p = ev[i].data.ptr;
			if (p == &hd->listen_fd) {
				homid_client_accept(hd);
			} else if (p == &hd->signal_fd) {
				struct signalfd_siginfo si;
				if (read(hd->signal_fd, &si, sizeof(si)) == sizeof(si)) {
					aisio_log(AISIO_LOG_INFO, NULL, "%s: stopping", strsignal((int)si.ssi_signo));
					return 0;
				}
			} else if (extents_dev(hd, p)) {
				homid_extents_event(hd, extents_dev(hd, p));
			} else {
				/* a client dropped earlier in this batch is gone from the table */
				struct homid_client *cl = p;
				bool live = false;
				for (unsigned k = 0; k < HOMI_MAX_CLIENTS && !live; k++)
					live = hd->clients[k] == cl;
				if (live)
					homid_client_readable(hd, cl);
			}
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *config = NULL;
	bool check_only = false;
	int o;
	while ((o = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
		switch (o) {
		case 'c': config = optarg; break;
		case 'k': check_only = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!config || optind != argc) {
		usage(stderr);
		return 2;
	}
	aisio_log_hook_set(log_stderr, NULL);
	static struct homid hd; /* large (packet buffers, device tables): not on the stack */
	hd.listen_fd = hd.epoll_fd = hd.signal_fd = hd.keeper_fd = -1;
	if (homid_config_load(&hd.cfg, config) < 0)
		return 1;
	aisio_log_level_set(hd.cfg.log_level);
	if (check_only) {
		printf("%s: %u device(s), socket %s\n", config, hd.cfg.ndev, hd.cfg.socket);
		for (unsigned i = 0; i < hd.cfg.ndev; i++) {
			const struct homid_dev_conf *d = &hd.cfg.devs[i];
			if (d->ublk_nsid)
				printf("%s: namespace %u as /dev/ublkb%d, %u queue(s) of depth %u\n", d->name,
				       d->ublk_nsid, d->ublk_id, d->ublk_queues, d->ublk_depth);
			if (d->sriov_pf[0] && !d->sriov_vfn)
				printf("%s: SR-IOV PF %s, %u VF(s) with %u VQ and %u VI each\n", d->name, d->sriov_pf,
				       d->sriov_vfs, d->sriov_vq, d->sriov_vi);
			if (d->sriov_vfn) {
				printf("%s: VF %u of %s, namespaces", d->name, d->sriov_vfn,
				       hd.cfg.devs[d->sriov_pf_dev].name);
				for (unsigned n = 1; n <= HOMI_MAX_NS; n++)
					if (d->policy.ns_mask & (1u << n))
						printf(" %u", n);
				printf("\n");
			}
		}
		return 0;
	}
	if (hd.cfg.log_journal) {
#ifdef HAVE_LIBSYSTEMD
		aisio_log_hook_set(log_journal, NULL);
#else
		aisio_log(AISIO_LOG_WARNING, config, "log = journal: built without libsystemd; logging to stderr");
#endif
	}
	/* signals as events: the loop stops cleanly between requests */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Admin commands are the daemon's latency (a grant is two): its threads, and the emulated
	 * controllers' control threads they start, sleep 1 us when asked, not the default 50 us of slack. */
	prctl(PR_SET_TIMERSLACK, 1000ul, 0, 0, 0);
	int status = 1;
	bool clean_stop = false; /* by a signal, not an error: the ublk devices go too */
	/* before the devices: bringing them up would reset controllers the running daemon drives */
	if (socket_in_use(&hd.cfg) < 0)
		goto out;
	for (unsigned i = 0; i < hd.cfg.ndev; i++) {
		if (!hd.cfg.devs[i].ublk_nsid)
			continue;
		/* now, while this process is small and has no threads */
		int rc = homid_ring_keeper_start(&hd);
		if (rc < 0)
			aisio_log(AISIO_LOG_WARNING, NULL,
				  "no ring keeper (%s): a kill -9 under I/O may hit the kernel's ublk cancel race",
				  strerror(-rc));
		break;
	}
	if (homid_devs_open(&hd) < 0)
		goto out;
	if (listen_on(&hd) < 0)
		goto out;
	/* before the extent service: a file system on the ublk device may be what it indexes */
	if (homid_ublk_start(&hd) < 0)
		goto out;
	hd.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	hd.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &hd.listen_fd};
	struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &hd.signal_fd};
	if (hd.signal_fd < 0 || hd.epoll_fd < 0 || epoll_ctl(hd.epoll_fd, EPOLL_CTL_ADD, hd.listen_fd, &ev) < 0 ||
	    epoll_ctl(hd.epoll_fd, EPOLL_CTL_ADD, hd.signal_fd, &sev) < 0) {
		aisio_log(AISIO_LOG_ERROR, NULL, "event loop setup failed: %s", strerror(errno));
		goto out;
	}
	if (homid_extents_start(&hd) < 0)
		goto out;
	aisio_log(AISIO_LOG_INFO, hd.cfg.socket, "ready: %u device(s)", hd.ndev);
	sd_notify(0, "READY=1");
	status = run(&hd) < 0;
	clean_stop = status == 0;
	sd_notify(0, "STOPPING=1");
out:
	hd.stopping = true;
	for (unsigned i = 0; i < HOMI_MAX_CLIENTS; i++)
		if (hd.clients[i])
			homid_client_drop(&hd, hd.clients[i], true);
	homid_extents_stop(&hd);
	homid_ublk_stop(&hd, clean_stop);
	homid_devs_close(&hd);
	if (hd.listen_fd >= 0) {
		close(hd.listen_fd);
		unlink(hd.cfg.socket);
	}
	if (hd.epoll_fd >= 0)
		close(hd.epoll_fd);
	if (hd.signal_fd >= 0)
		close(hd.signal_fd);
	return status;
}
