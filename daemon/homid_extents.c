/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * homid's extent service: for a device whose file system is mounted through the kernel (`extents =
 * DIR`), an XAL index of DIR kept up to date by inotify (watch mode) and exported read-only in shared
 * memory under a seqlock; clients map it and look files up themselves (homi_extents_lookup), so the
 * daemon answers only where the index is.
 */
#include "homid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int homid_extents_start(struct homid *hd)
{
	for (unsigned i = 0; i < hd->ndev; i++) {
		struct homid_dev *d = &hd->devs[i];
		if (!d->conf.extents[0])
			continue;
		struct xal_opts o = {.backend = XAL_BACKEND_FIEMAP, .flags = XAL_OPEN_WATCHABLE};
		int rc = xal_open(&d->xal, d->conf.extents, &o);
		if (rc < 0) {
			aisio_log(AISIO_LOG_ERROR, d->conf.name, "extent service: cannot index %s: %s", d->conf.extents,
				  strerror(-rc));
			return rc;
		}
		/* by index: a name of up to 63 bytes would not fit the reply's 64 */
		snprintf(d->shm, sizeof(d->shm), "/aisio-homid-%d-dev%u", (int)getpid(), d->index);
		xal_shm_unlink(d->shm); /* a stale one of a daemon that died with this pid */
		rc = xal_shm_export(d->xal, d->shm);
		if (rc == 0)
			rc = xal_watch_start(d->xal);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &d->xal};
		if (rc == 0 && epoll_ctl(hd->epoll_fd, EPOLL_CTL_ADD, xal_watch_fd(d->xal), &ev) < 0)
			rc = -errno;
		if (rc < 0) {
			aisio_log(AISIO_LOG_ERROR, d->conf.name, "extent service for %s: %s", d->conf.extents,
				  strerror(-rc));
			return rc;
		}
		struct xal_stats st;
		xal_stats(d->xal, &st);
		aisio_log(AISIO_LOG_INFO, d->conf.name, "extent service: %s (%s), %llu files, shared as %s",
			  d->conf.extents, st.fstype, (unsigned long long)st.files, d->shm);
	}
	return 0;
}

void homid_extents_event(struct homid *hd, struct homid_dev *d)
{
	int rc = xal_watch_poll(d->xal, 0);
	if (rc < 0 && rc != -EAGAIN)
		aisio_log(AISIO_LOG_ERROR, d->conf.name, "extent service: updating the index of %s failed: %s",
			  d->conf.extents, strerror(-rc));
}

void homid_extents_stop(struct homid *hd)
{
	for (unsigned i = 0; i < hd->ndev; i++) {
		struct homid_dev *d = &hd->devs[i];
		if (!d->xal)
			continue;
		xal_watch_stop(d->xal);
		xal_shm_unlink(d->shm);
		xal_close(d->xal);
		d->xal = NULL;
	}
}

int homid_extents_info(struct homid *hd, struct homid_client *cl, uint32_t dev, struct homi_extents_reply *rp,
		       char *why, size_t whylen)
{
	if (dev >= hd->ndev || !homid_policy_allows(&hd->devs[dev], cl)) {
		snprintf(why, whylen, "no device %u for this client", dev);
		return dev >= hd->ndev ? -ENODEV : -EACCES;
	}
	const struct homid_dev *d = &hd->devs[dev];
	if (!d->xal) {
		snprintf(why, whylen, "device %s has no extent service (extents = DIR in its section)", d->conf.name);
		return -ENOENT;
	}
	memset(rp, 0, sizeof(*rp));
	snprintf(rp->shm, sizeof(rp->shm), "%s", d->shm);
	snprintf(rp->source, sizeof(rp->source), "%s", d->conf.extents);
	rp->nsid = d->conf.extents_nsid ? d->conf.extents_nsid : 1;
	return 0;
}
