/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * homid's configuration file (INI, parsed by libinih):
 *
 *   [homid]
 *   socket = /run/aisio/homid.sock   where clients connect
 *   socket_mode = 0600               who may connect at all (with socket_group)
 *   socket_group = disk
 *   log = stderr | journal
 *   log_level = error | warning | info | debug
 *   open_retry = 60                  seconds to retry a device still held by an earlier daemon's clients
 *   admin_timeout = 10               seconds an admin command (a client's queue creation) may take
 *
 *   [device NAME]                    one per managed device; clients say homi:NAME
 *   device = emu:ram:1G,qpairs=16    a device string: emu:..., or a PCI address bound to vfio-pci
 *   users = 1000 1001                who may use it besides root (uids) ...
 *   groups = 100 disk                ... and members of these groups (gids or names)
 *   namespaces = 1 2                 which namespaces clients may be granted (default: all)
 *   max_queues = 8                   queue pairs one client may hold on it (default: no limit)
 *   extents = /mnt/data              extent service: the mounted file system that lives on this device,
 *   extents_nsid = 1                 on this namespace; indexed (XAL), watched, shared read-only
 *   ublk = 1                         serve this namespace to the kernel as /dev/ublkb<ublk_id>
 *   ublk_id = 0                      the kernel's ublk device id (default: 0, 1, ... in file order)
 *   ublk_queues = 1                  ublk queues: one thread and one NVMe queue pair each (1..16)
 *   ublk_depth = 64                  requests in flight per queue (1..1023)
 *   ublk_timeout = 30                seconds an NVMe command of those queues may take, then an I/O error
 *
 *   [device NAME] with sriov = instead of device =: an SR-IOV PF that stays on the kernel nvme driver
 *   (its file systems stay mounted); the daemon serves its VFs as devices NAME.vf1, NAME.vf2, ...,
 *   each granted whole to one client at a time (users, groups, max_queues apply to each VF)
 *   sriov = 0000:01:00.0             the PF's PCI address
 *   sriov_vfs = 2                    VFs to enable (1..8)
 *   sriov_vq = 3                     flexible queue resources per VF (its admin queue and I/O queues)
 *   sriov_vi = 1                     flexible interrupt resources per VF
 *   sriov_namespaces = 1             namespaces attached to every VF (default: 1); others detached
 *   sriov_namespaces_vf2 = 1 2       ... or to VF 2 only (overrides sriov_namespaces for it)
 */
#include "homid.h"

#include <aisio/devstr.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parse {
	struct homid_config *cfg;
	char err[256];
	int lineno;
	FILE *f;
	char section[128]; /* the current section's name, whole (inih's copy is cut at 49 bytes) */
	int section_line;  /* the line of its header, 0 before the first */
	bool section_keys; /* a key was seen in it */
};

static int bad(struct parse *p, int line, const char *fmt, const char *a, const char *b)
{
	if (!p->err[0]) {
		char m[200];
		snprintf(m, sizeof(m), fmt, a, b);
		snprintf(p->err, sizeof(p->err), "line %d: %s", line, m);
	}
	return 0;
}

static int parse_ids(const char *v, uint32_t *ids, unsigned *n, bool groups);

/* "1 2" into a namespace mask: -EINVAL unless ids 1..HOMI_MAX_NS, at least one. */
static int parse_ns_mask(const char *v, uint32_t *mask)
{
	uint32_t ns[HOMID_MAX_IDS];
	unsigned n;
	if (parse_ids(v, ns, &n, false) < 0 || n == 0)
		return -EINVAL;
	*mask = 0;
	for (unsigned i = 0; i < n; i++) {
		if (ns[i] == 0 || ns[i] > HOMI_MAX_NS)
			return -EINVAL;
		*mask |= 1u << ns[i];
	}
	return 0;
}

/* "1 2 3" or "1,2,3" into ids; names through lookup (getpwnam / getgrnam). */
static int parse_ids(const char *v, uint32_t *ids, unsigned *n, bool groups)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", v);
	*n = 0;
	for (char *save, *t = strtok_r(buf, " ,\t", &save); t; t = strtok_r(NULL, " ,\t", &save)) {
		if (*n == HOMID_MAX_IDS)
			return -E2BIG;
		char *end;
		unsigned long id = strtoul(t, &end, 10);
		if (*end || end == t) {
			if (groups) {
				struct group *g = getgrnam(t);
				if (!g)
					return -ENOENT;
				id = g->gr_gid;
			} else {
				struct passwd *pw = getpwnam(t);
				if (!pw)
					return -ENOENT;
				id = pw->pw_uid;
			}
		}
		if (id > 0xfffffffeul)
			return -ERANGE;
		ids[(*n)++] = (uint32_t)id;
	}
	return 0;
}

static int parse_uint(const char *v, unsigned long max, int base, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long x = strtoul(v, &end, base);
	if (errno || *end || end == v || x > max || v[0] == '-')
		return -EINVAL;
	*out = x;
	return 0;
}

static int handler(void *user, const char *ini_section, const char *key, const char *value)
{
	struct parse *p = user;
	int line = p->lineno;
	/* the reader's whole name when inih's is the start of it, so a long device name is refused
	 * rather than cut into a shorter one */
	const char *section = strncmp(p->section, ini_section, strlen(ini_section)) ? ini_section : p->section;
	struct homid_config *c = p->cfg;
	unsigned long x;
	p->section_keys = true;
	if (!strcmp(section, "homid")) {
		if (!strcmp(key, "socket")) {
			if (!value[0] || strlen(value) >= sizeof(c->socket))
				return bad(p, line, "socket path '%s' is empty or too long%s", value, "");
			snprintf(c->socket, sizeof(c->socket), "%s", value);
		} else if (!strcmp(key, "socket_mode")) {
			if (parse_uint(value, 0777, 8, &x) < 0)
				return bad(p, line, "socket_mode '%s' is not an octal mode%s", value, "");
			c->socket_mode = (unsigned)x;
		} else if (!strcmp(key, "socket_group")) {
			uint32_t g[HOMID_MAX_IDS]; /* room for what parse_ids takes: "1 2" is two */
			unsigned n;
			if (parse_ids(value, g, &n, true) < 0 || n != 1)
				return bad(p, line, "socket_group '%s' is no group%s", value, "");
			c->socket_gid = g[0];
		} else if (!strcmp(key, "log")) {
			if (strcmp(value, "stderr") && strcmp(value, "journal"))
				return bad(p, line, "log '%s': stderr or journal%s", value, "");
			c->log_journal = !strcmp(value, "journal");
		} else if (!strcmp(key, "log_level")) {
			if (aisio_log_level_parse(value, &c->log_level) < 0)
				return bad(p, line, "log_level '%s': error, warning, info or debug%s", value, "");
		} else if (!strcmp(key, "open_retry")) {
			if (parse_uint(value, 3600, 10, &x) < 0)
				return bad(p, line, "open_retry '%s': seconds, 0..3600%s", value, "");
			c->open_retry_s = (unsigned)x;
		} else if (!strcmp(key, "admin_timeout")) {
			if (parse_uint(value, 600, 10, &x) < 0 || x == 0)
				return bad(p, line, "admin_timeout '%s': seconds, 1..600%s", value, "");
			c->admin_timeout_s = (unsigned)x;
		} else {
			return bad(p, line,
				   "unknown key '%s' in [homid] (socket, socket_mode, socket_group, log, "
				   "log_level, open_retry, admin_timeout)%s",
				   key, "");
		}
		return 1;
	}
	if (strncmp(section, "device ", 7) != 0)
		return bad(p, line, "unknown section [%s] (homid, device NAME)%s", section, "");
	const char *name = section + 7;
	struct homid_dev_conf *d = NULL;
	for (unsigned i = 0; i < c->ndev; i++)
		if (!strcmp(c->devs[i].name, name))
			d = &c->devs[i];
	if (!d) {
		if (c->ndev == HOMI_MAX_DEVS)
			return bad(p, line, "more than %s devices%s", "16", "");
		struct devstr ds;
		char probe[80];
		snprintf(probe, sizeof(probe), "homi:%s", name);
		if (strlen(name) >= HOMI_NAME_MAX || devstr_parse(&ds, probe) < 0)
			return bad(p, line,
				   "device name '%s' is not a homi: name (at most 63 letters, digits, -, _, .)%s", name,
				   "");
		d = &c->devs[c->ndev++];
		memset(d, 0, sizeof(*d));
		d->ublk_id = -1;
		snprintf(d->name, sizeof(d->name), "%s", name);
		d->line = (unsigned)line;
	}
	if (!strcmp(key, "device")) {
		struct devstr ds;
		if (strlen(value) >= sizeof(d->target) || devstr_parse(&ds, value) < 0 ||
		    (ds.kind != DEVSTR_EMU && ds.kind != DEVSTR_PCI && ds.kind != DEVSTR_GPUEMU))
			return bad(p, line, "device '%s' is not an emu: or gpuemu: string or a PCI address%s", value,
				   "");
		snprintf(d->target, sizeof(d->target), "%s", value);
	} else if (!strcmp(key, "serial")) {
		return bad(p, line,
			   "serial '%s': naming a device by serial number is not supported; give its PCI "
			   "address (device = 0000:01:00.0)%s",
			   value, "");
	} else if (!strcmp(key, "users")) {
		if (parse_ids(value, d->policy.uids, &d->policy.nuids, false) < 0)
			return bad(p, line, "users '%s': uids or user names, at most 32%s", value, "");
	} else if (!strcmp(key, "groups")) {
		if (parse_ids(value, d->policy.gids, &d->policy.ngids, true) < 0)
			return bad(p, line, "groups '%s': gids or group names, at most 32%s", value, "");
	} else if (!strcmp(key, "namespaces")) {
		if (parse_ns_mask(value, &d->policy.ns_mask) < 0)
			return bad(p, line, "namespaces '%s': namespace ids 1..16%s", value, "");
	} else if (!strcmp(key, "sriov")) {
		char canon[16];
		if (devstr_pci_addr_parse(value, canon) < 0)
			return bad(p, line, "sriov '%s': the PF's PCI address (0000:01:00.0)%s", value, "");
		snprintf(d->sriov_pf, sizeof(d->sriov_pf), "%s", canon);
	} else if (!strcmp(key, "sriov_vfs")) {
		if (parse_uint(value, HOMID_SRIOV_MAX_VFS, 10, &x) < 0 || x == 0)
			return bad(p, line, "sriov_vfs '%s': 1..8%s", value, "");
		d->sriov_vfs = (unsigned)x;
	} else if (!strcmp(key, "sriov_vq")) {
		/* an admin queue and at least one I/O queue */
		if (parse_uint(value, 65535, 10, &x) < 0 || x < 2)
			return bad(p, line,
				   "sriov_vq '%s': queue resources per VF, 2..65535 (the admin queue and I/O queues)%s",
				   value, "");
		d->sriov_vq = (unsigned)x;
	} else if (!strcmp(key, "sriov_vi")) {
		if (parse_uint(value, 65535, 10, &x) < 0 || x == 0)
			return bad(p, line, "sriov_vi '%s': interrupt resources per VF, 1..65535%s", value, "");
		d->sriov_vi = (unsigned)x;
	} else if (!strcmp(key, "sriov_namespaces")) {
		if (parse_ns_mask(value, &d->sriov_ns[0]) < 0)
			return bad(p, line, "sriov_namespaces '%s': namespace ids 1..16%s", value, "");
	} else if (!strncmp(key, "sriov_namespaces_vf", 19)) {
		if (parse_uint(key + 19, HOMID_SRIOV_MAX_VFS, 10, &x) < 0 || x == 0)
			return bad(p, line, "%s: sriov_namespaces_vfN with N 1..8%s", key, "");
		if (parse_ns_mask(value, &d->sriov_ns[x]) < 0)
			return bad(p, line, "%s '%s': namespace ids 1..16", key, value);
	} else if (!strcmp(key, "extents")) {
		if (value[0] != '/' || strlen(value) >= sizeof(d->extents))
			return bad(p, line, "extents '%s': an absolute path of a mounted directory%s", value, "");
		snprintf(d->extents, sizeof(d->extents), "%s", value);
	} else if (!strcmp(key, "extents_nsid")) {
		if (parse_uint(value, HOMI_MAX_NS, 10, &x) < 0 || x == 0)
			return bad(p, line, "extents_nsid '%s': 1..16%s", value, "");
		d->extents_nsid = (uint32_t)x;
	} else if (!strcmp(key, "ublk")) {
		if (parse_uint(value, HOMI_MAX_NS, 10, &x) < 0 || x == 0)
			return bad(p, line, "ublk '%s': the namespace to serve, 1..16%s", value, "");
		d->ublk_nsid = (uint32_t)x;
	} else if (!strcmp(key, "ublk_id")) {
		if (parse_uint(value, HOMID_UBLK_MAX_ID, 10, &x) < 0)
			return bad(p, line, "ublk_id '%s': 0..4095%s", value, "");
		d->ublk_id = (int)x;
	} else if (!strcmp(key, "ublk_queues")) {
		if (parse_uint(value, HOMID_UBLK_MAX_QUEUES, 10, &x) < 0 || x == 0)
			return bad(p, line, "ublk_queues '%s': 1..16%s", value, "");
		d->ublk_queues = (unsigned)x;
	} else if (!strcmp(key, "ublk_depth")) {
		if (parse_uint(value, HOMID_UBLK_MAX_DEPTH, 10, &x) < 0 || x == 0)
			return bad(p, line, "ublk_depth '%s': 1..1023%s", value, "");
		d->ublk_depth = (unsigned)x;
	} else if (!strcmp(key, "ublk_timeout")) {
		if (parse_uint(value, 600, 10, &x) < 0 || x == 0)
			return bad(p, line, "ublk_timeout '%s': seconds, 1..600%s", value, "");
		d->ublk_timeout_s = (unsigned)x;
	} else if (!strcmp(key, "max_queues")) {
		if (parse_uint(value, NVMED_MAX_QPAIRS, 10, &x) < 0)
			return bad(p, line, "max_queues '%s': 0..1024%s", value, "");
		d->policy.max_queues = (unsigned)x;
	} else {
		return bad(p, line,
			   "unknown key '%s' in a device section (device, users, groups, namespaces, "
			   "max_queues, extents, extents_nsid, ublk, ublk_id, ublk_queues, ublk_depth, ublk_timeout, "
			   "sriov, sriov_vfs, sriov_vq, sriov_vi, sriov_namespaces, sriov_namespaces_vfN)%s",
			   key, "");
	}
	return 1;
}

/* A section ends. inih calls the handler for keys only: a section without any is checked here. */
static void section_end(struct parse *p)
{
	if (!p->section_line || p->section_keys)
		return;
	if (!strncmp(p->section, "device ", 7))
		bad(p, p->section_line, "[%s] names no device (device = ... or sriov = ...)%s", p->section, "");
	else if (strcmp(p->section, "homid"))
		bad(p, p->section_line, "unknown section [%s] (homid, device NAME)%s", p->section, "");
}

/*
 * Debian's libinih passes no line number to the handler: the reader counts the lines. It also keeps
 * the name of the section a line opens, whole, and refuses a line longer than inih's buffer, whose
 * rest inih would read as the next line. inih handles a line before it reads the next, so a new
 * header (or the end) closes the section before.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	if (!fgets(str, num, p->f)) {
		section_end(p);
		return NULL;
	}
	p->lineno++;
	size_t len = strlen(str);
	int ch;
	if (len == (size_t)num - 1 && str[len - 1] != '\n' && (ch = fgetc(p->f)) != EOF && ch != '\n') {
		char most[16];
		snprintf(most, sizeof(most), "%d", num - 1);
		bad(p, p->lineno, "longer than %s characters%s", most, "");
		while ((ch = fgetc(p->f)) != EOF && ch != '\n')
			;
	}
	const char *s = str;
	if (p->lineno == 1 && !strncmp(s, "\xef\xbb\xbf", 3))
		s += 3; /* inih skips a UTF-8 byte order mark */
	while (isspace((unsigned char)*s))
		s++;
	const char *end = *s == '[' ? strchr(s, ']') : NULL;
	if (end) {
		section_end(p);
		snprintf(p->section, sizeof(p->section), "%.*s", (int)(end - s - 1), s + 1);
		p->section_line = p->lineno;
		p->section_keys = false;
	}
	return str;
}

/* Two spellings of one PCI function (0000:01:00.0, 01:00.0, upper or lower case hex) are one device. */
static bool same_pci_function(const char *a, const char *b)
{
	char ca[16], cb[16];
	return devstr_pci_addr_parse(a, ca) == 0 && devstr_pci_addr_parse(b, cb) == 0 && !strcmp(ca, cb);
}

/* ublk keys: the tuning ones only with ublk =; defaults; one kernel device id per device. */
static int ublk_conf_check(struct homid_config *cfg)
{
	int next_id = 0;
	for (unsigned i = 0; i < cfg->ndev; i++) {
		struct homid_dev_conf *d = &cfg->devs[i];
		if (!d->ublk_nsid) {
			if (d->ublk_id >= 0 || d->ublk_queues || d->ublk_depth || d->ublk_timeout_s) {
				aisio_log(AISIO_LOG_ERROR, cfg->path,
					  "line %u: [device %s] sets ublk_id, ublk_queues, ublk_depth or ublk_timeout "
					  "without ublk = NSID",
					  d->line, d->name);
				return -EINVAL;
			}
			continue;
		}
		if (d->ublk_id < 0)
			d->ublk_id = next_id;
		if (d->ublk_id >= next_id)
			next_id = d->ublk_id + 1;
		if (!d->ublk_queues)
			d->ublk_queues = 1;
		if (!d->ublk_depth)
			d->ublk_depth = 64;
		if (!d->ublk_timeout_s)
			d->ublk_timeout_s = 30;
		for (unsigned j = 0; j < i; j++)
			if (cfg->devs[j].ublk_nsid && cfg->devs[j].ublk_id == d->ublk_id) {
				aisio_log(AISIO_LOG_ERROR, cfg->path, "line %u: ublk_id %d is already device %s's",
					  d->line, d->ublk_id, cfg->devs[j].name);
				return -EINVAL;
			}
	}
	return 0;
}

/* An SR-IOV section: its keys consistent; then its VF devices NAME.vf1 ... inserted after it. */
static int sriov_conf_expand(struct homid_config *cfg)
{
	for (unsigned i = 0; i < cfg->ndev; i++) {
		struct homid_dev_conf *d = &cfg->devs[i];
		if (d->sriov_vfn)
			continue;
		bool any = d->sriov_vfs || d->sriov_vq || d->sriov_vi;
		for (unsigned v = 0; v <= HOMID_SRIOV_MAX_VFS; v++)
			any |= d->sriov_ns[v] != 0;
		if (!d->sriov_pf[0]) {
			if (any) {
				aisio_log(AISIO_LOG_ERROR, cfg->path,
					  "line %u: [device %s] sets sriov_vfs, sriov_vq, sriov_vi or sriov_namespaces "
					  "without sriov = PF",
					  d->line, d->name);
				return -EINVAL;
			}
			continue;
		}
		const char *why = NULL;
		if (d->target[0])
			why = "sets both device = and sriov = (the VFs are the devices: NAME.vf1 ...)";
		else if (!d->sriov_vfs)
			why = "sets sriov = without sriov_vfs = N";
		else if (d->ublk_nsid)
			why = "sets ublk = on an SR-IOV PF (the PF stays on the kernel nvme driver)";
		else if (d->policy.ns_mask)
			why = "sets namespaces = on an SR-IOV PF (sriov_namespaces = says what each VF is given)";
		for (unsigned v = d->sriov_vfs + 1; v <= HOMID_SRIOV_MAX_VFS && !why; v++)
			if (d->sriov_ns[v])
				why = "sets sriov_namespaces_vfN for a VF beyond sriov_vfs";
		if (!why && strlen(d->name) + 4 > HOMI_NAME_MAX - 1)
			why = "has a name too long for its VFs' names (NAME.vfN)";
		if (!why && cfg->ndev + d->sriov_vfs > HOMI_MAX_DEVS)
			why = "makes more than 16 devices with its VFs";
		if (why) {
			aisio_log(AISIO_LOG_ERROR, cfg->path, "line %u: [device %s] %s", d->line, d->name, why);
			return -EINVAL;
		}
		if (!d->sriov_vq)
			d->sriov_vq = 2;
		if (!d->sriov_vi)
			d->sriov_vi = 1;
		if (!d->sriov_ns[0])
			d->sriov_ns[0] = 1u << 1;
		memcpy(d->target, d->sriov_pf, sizeof(d->sriov_pf));
		unsigned n = d->sriov_vfs;
		memmove(&cfg->devs[i + 1 + n], &cfg->devs[i + 1], (cfg->ndev - i - 1) * sizeof(cfg->devs[0]));
		cfg->ndev += n;
		for (unsigned v = 1; v <= n; v++) {
			struct homid_dev_conf *vf = &cfg->devs[i + v];
			*vf = (struct homid_dev_conf){
				.policy = d->policy, .ublk_id = -1, .sriov_vfn = v, .sriov_pf_dev = i, .line = d->line};
			char name[HOMI_NAME_MAX];
			snprintf(name, sizeof(name), "%s.vf%u", d->name, v);
			memcpy(vf->name, name, sizeof(name));
			memcpy(vf->sriov_pf, d->sriov_pf, sizeof(vf->sriov_pf));
			vf->policy.ns_mask = d->sriov_ns[v] ? d->sriov_ns[v] : d->sriov_ns[0];
			for (unsigned j = 0; j < cfg->ndev; j++)
				if (j != i + v && !strcmp(cfg->devs[j].name, vf->name)) {
					aisio_log(AISIO_LOG_ERROR, cfg->path,
						  "line %u: [device %s]: its VF's name %s is already a device's",
						  d->line, d->name, vf->name);
					return -EINVAL;
				}
		}
		i += n;
	}
	return 0;
}

int homid_config_load(struct homid_config *cfg, const char *path)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	snprintf(cfg->socket, sizeof(cfg->socket), "%s", HOMI_DEFAULT_SOCKET);
	cfg->socket_mode = 0600;
	cfg->socket_gid = -1;
	cfg->log_level = AISIO_LOG_INFO;
	cfg->open_retry_s = 60;
	cfg->admin_timeout_s = 10;
	struct parse p = {.cfg = cfg};
	int rc;
	p.f = fopen(path, "re");
	if (!p.f) {
		aisio_log(AISIO_LOG_ERROR, path, "cannot open the configuration: %s", strerror(errno));
		return -ENOENT;
	}
	rc = ini_parse_stream(read_line, &p, handler, &p);
	fclose(p.f);
	if (rc == -2) {
		aisio_log(AISIO_LOG_ERROR, path, "out of memory reading the configuration");
		return -ENOMEM;
	}
	if (rc > 0 || p.err[0]) {
		if (p.err[0])
			aisio_log(AISIO_LOG_ERROR, path, "%s", p.err);
		else
			aisio_log(AISIO_LOG_ERROR, path, "line %d: not INI (section, key = value)", rc);
		return -EINVAL;
	}
	rc = sriov_conf_expand(cfg);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < cfg->ndev; i++) {
		if (cfg->devs[i].sriov_vfn)
			continue; /* its address is known once the daemon has enabled it */
		if (!cfg->devs[i].target[0]) {
			aisio_log(AISIO_LOG_ERROR, path, "line %u: [device %s] names no device (device = ...)",
				  cfg->devs[i].line, cfg->devs[i].name);
			return -EINVAL;
		}
		for (unsigned j = 0; j < i; j++)
			if (!cfg->devs[j].sriov_vfn && same_pci_function(cfg->devs[i].target, cfg->devs[j].target)) {
				aisio_log(AISIO_LOG_ERROR, path, "line %u: %s is already device %s", cfg->devs[i].line,
					  cfg->devs[i].target, cfg->devs[j].name);
				return -EINVAL;
			}
	}
	if (cfg->ndev == 0) {
		aisio_log(AISIO_LOG_ERROR, path, "no [device NAME] section: nothing to manage");
		return -EINVAL;
	}
	return ublk_conf_check(cfg);
}
