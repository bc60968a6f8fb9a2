/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ring keeper: a small child process of homid that holds a duplicate of each ublk queue's
 * io_uring file, so that when homid dies (kill -9) the rings are released only once every thread of
 * homid has finished exiting, and then from the keeper, not from a dying queue thread.
 *
 * Why (docs/ARCHITECTURE.md, ublk, "Killed under I/O"): ublk_drv before upstream commit f40139fde527
 * ("ublk: fix race between io_uring_cmd_complete_in_task and ublk_cancel_cmd", 6.15; not in Debian's
 * 6.12.95) can complete one FETCH command twice when the server dies under I/O. Releasing the ring
 * cancels its FETCH commands (ublk_uring_cmd_cancel_fn); a request the block layer dispatches just
 * before that cancel has queued task work on the same command (ublk_queue_cmd ->
 * io_uring_cmd_complete_in_task), and the cancel completes and frees the command anyway. The stale
 * task work entry is then handed to the command's task, the queue thread; if that thread is still in
 * its exit, it runs the entry from do_exit after the ring's context is freed (io_fallback_tw, a NULL
 * dereference in percpu_ref_get: the oops). That thread is still exiting exactly when it is the one
 * whose exit dropped the ring's last reference. With the keeper holding the rings until the whole
 * thread group is gone (its pidfd polls readable only then), the release happens after every queue
 * thread is past its task work: task_work_add to it fails and io_uring runs the stale entry from its
 * fallback work while the context is alive, where ublk requeues the request for the next daemon.
 *
 * A clean stop (STOP_DEV has completed every command) tells the keeper to let go at once.
 */
#include "homid.h"

#include <aisio/homi_proto.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* packet types on the keeper's socket (its own socketpair, not the client protocol) */
#define KEEPER_HOLD 1    /* body: the daemon's number of one io_uring fd to take and hold */
#define KEEPER_RELEASE 2 /* a clean stop: close them all now */

#define KEEPER_MAX_FDS 64            /* HOMI_MAX_DEVS devices' ublk queues fit */
#define KEEPER_GONE_TIMEOUT_MS 60000 /* after the daemon's socket closed: for its threads to finish */
#define KEEPER_REAP_TIMEOUT_MS 5000  /* a clean stop: for the keeper to exit */
#define KEEPER_POLL_MS 1000

static unsigned ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (unsigned)((t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000);
}

/* The whole thread group of daemon has exited (pidfd readable); without pidfds, reparenting. */
static bool daemon_gone(int pidfd, pid_t daemon, int wait_ms)
{
	if (pidfd < 0) {
		poll(NULL, 0, wait_ms < 100 ? wait_ms : 100);
		return getppid() != daemon;
	}
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	return poll(&p, 1, wait_ms) == 1;
}

static void keeper_main(int sock, pid_t daemon)
{
	prctl(PR_SET_NAME, "homid-keeper", 0, 0, 0);
	int pidfd = (int)syscall(SYS_pidfd_open, daemon, 0);
	if (getppid() != daemon)
		_exit(0); /* the daemon is already gone */
	int held[KEEPER_MAX_FDS];
	unsigned nheld = 0;
	bool closed = false;
	struct timespec closed_at;
	for (;;) {
		if (closed) {
			/* the daemon's end is gone: it is dying; let go once all its threads have exited */
			if (daemon_gone(pidfd, daemon, KEEPER_POLL_MS) || ms_since(&closed_at) > KEEPER_GONE_TIMEOUT_MS)
				break;
			continue;
		}
		struct pollfd p[2] = {{.fd = sock, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
		int n = poll(p, pidfd >= 0 ? 2 : 1, KEEPER_POLL_MS);
		if (n < 0 && errno != EINTR)
			break;
		if (pidfd >= 0 && (p[1].revents & POLLIN))
			break;
		if (pidfd < 0 && getppid() != daemon)
			break;
		if (!(p[0].revents & (POLLIN | POLLHUP)))
			continue;
		uint8_t buf[HOMI_MSG_MAX + 1];
		int fds[8];
		unsigned nfd;
		bool trunc;
		long len = homi_recv(sock, buf, sizeof(buf), fds, 8, &nfd, &trunc, MSG_DONTWAIT);
		if (len == -EAGAIN || len == -EINTR)
			continue;
		const struct homi_hdr *h = (const struct homi_hdr *)buf;
		if (len <= 0 || (size_t)len < sizeof(*h)) {
			closed = true;
			clock_gettime(CLOCK_MONOTONIC, &closed_at);
		} else if (h->type == KEEPER_RELEASE) {
			break;
		}
		for (unsigned i = 0; i < nfd; i++)
			close(fds[i]); /* none expected */
		int32_t num;
		if (len == (long)(sizeof(*h) + sizeof(num)) && h->type == KEEPER_HOLD && nheld < KEEPER_MAX_FDS &&
		    pidfd >= 0) {
			memcpy(&num, buf + sizeof(*h), sizeof(num));
			int fd = (int)syscall(SYS_pidfd_getfd, pidfd, num, 0);
			if (fd >= 0)
				held[nheld++] = fd;
		}
	}
	for (unsigned i = 0; i < nheld; i++)
		close(held[i]); /* the last references: the rings are released here */
	_exit(0);
}

int homid_ring_keeper_start(struct homid *hd)
{
	hd->keeper_fd = -1;
	hd->keeper_pid = -1;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid_t daemon = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int err = errno;
		close(sv[0]);
		close(sv[1]);
		return -err;
	}
	if (pid == 0) {
		/* nothing of the daemon's but stdio and its socket: no controller, no listening socket */
		if (dup2(sv[1], 3) < 0)
			_exit(1);
		close_range(4, ~0u, 0);
		keeper_main(3, daemon);
	}
	close(sv[1]);
	hd->keeper_fd = sv[0];
	hd->keeper_pid = pid;
	return 0;
}

int homid_ring_keeper_hold(struct homid *hd, int fd)
{
	if (hd->keeper_fd < 0)
		return -ENOTCONN;
	/* the keeper takes it with pidfd_getfd: io_uring files do not travel by SCM_RIGHTS */
	int32_t num = fd;
	return homi_send(hd->keeper_fd, KEEPER_HOLD, 0, &num, sizeof(num), -1, 0);
}

void homid_ring_keeper_stop(struct homid *hd, bool release)
{
	if (hd->keeper_fd < 0)
		return;
	if (release)
		homi_send(hd->keeper_fd, KEEPER_RELEASE, 0, NULL, 0, -1, 0);
	close(hd->keeper_fd);
	hd->keeper_fd = -1;
	/* without release, the keeper waits for this process to be gone: nothing to reap now */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (release && waitpid(hd->keeper_pid, NULL, WNOHANG) == 0) {
		if (ms_since(&t0) > KEEPER_REAP_TIMEOUT_MS) {
			aisio_log(AISIO_LOG_WARNING, NULL, "ring keeper (pid %d) did not exit", (int)hd->keeper_pid);
			break;
		}
		poll(NULL, 0, 5);
	}
	hd->keeper_pid = -1;
}
