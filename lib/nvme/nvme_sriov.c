/* SPDX-License-Identifier: BSD-3-Clause */
/* SR-IOV through the kernel nvme driver's admin passthrough and sysfs (see aisio/nvme_sriov.h). */
#include <aisio/nvme_sriov.h>
#include <aisio/pci_sysfs.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/nvme_ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

int nvme_sriov_admin(int fd, uint8_t opc, uint32_t nsid, uint32_t cdw10, uint32_t cdw11, void *buf, uint32_t len,
		     unsigned timeout_ms, uint32_t *dw0)
{
	struct nvme_admin_cmd cmd;
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = opc;
	cmd.nsid = nsid;
	cmd.cdw10 = cdw10;
	cmd.cdw11 = cdw11;
	cmd.addr = (uint64_t)(uintptr_t)buf;
	cmd.data_len = len;
	cmd.timeout_ms = timeout_ms;
	int rc = ioctl(fd, NVME_IOCTL_ADMIN_CMD, &cmd);
	if (rc < 0)
		return -errno;
	if (dw0)
		*dw0 = cmd.result;
	return rc & 0x7ff; /* the kernel passes DNR and More above the status code */
}

int nvme_sriov_read(int fd, unsigned timeout_ms, struct nvme_pri_ctrl_cap *pri, struct nvme_sec_ctrl_list *sec)
{
	int rc = nvme_sriov_admin(fd, NVME_ADMIN_IDENTIFY, 0, NVME_ID_CNS_PRIMARY_CTRL_CAP, 0, pri, sizeof(*pri),
				  timeout_ms, NULL);
	if (rc)
		return rc;
	rc = nvme_sriov_admin(fd, NVME_ADMIN_IDENTIFY, 0, NVME_ID_CNS_SECONDARY_CTRL_LIST, 0, sec, sizeof(*sec),
			      timeout_ms, NULL);
	if (rc == 0 && sec->numid > NVME_SEC_CTRL_LIST_MAX)
		sec->numid = NVME_SEC_CTRL_LIST_MAX;
	return rc;
}

const struct nvme_sec_ctrl_entry *nvme_sriov_secondary(const struct nvme_sec_ctrl_list *sec, unsigned vfn)
{
	for (unsigned i = 0; i < sec->numid; i++)
		if (sec->sc[i].vfn == vfn)
			return &sec->sc[i];
	return NULL;
}

int nvme_sriov_virt_mgmt(int fd, unsigned timeout_ms, unsigned act, unsigned rt, uint16_t cntlid, uint16_t nr,
			 uint32_t *dw0)
{
	return nvme_sriov_admin(fd, NVME_ADMIN_VIRT_MGMT, 0, NVME_VIRT_MGMT_CDW10(act, rt, cntlid), nr, NULL, 0,
				timeout_ms, dw0);
}

int nvme_sriov_ns_attach(int fd, unsigned timeout_ms, uint32_t nsid, uint16_t cntlid, bool attach)
{
	struct nvme_ctrl_list *list = calloc(1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	list->num = 1;
	list->ids[0] = cntlid;
	int rc = nvme_sriov_admin(fd, NVME_ADMIN_NS_ATTACH, nsid,
				  attach ? NVME_NS_ATTACH_SEL_ATTACH : NVME_NS_ATTACH_SEL_DETACH, 0, list,
				  sizeof(*list), timeout_ms, NULL);
	free(list);
	return rc;
}

int nvme_sriov_vf_bdf(const char *pf, unsigned vfn, char out[16])
{
	char link[PATH_MAX], target[PATH_MAX];
	out[0] = 0;
	if (vfn == 0)
		return -EINVAL;
	snprintf(link, sizeof(link), PCI_SYSFS_DEVICES "/%s/virtfn%u", pf, vfn - 1);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return -ENOENT;
	target[n] = 0;
	const char *base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) >= 16)
		return -ENAMETOOLONG;
	strcpy(out, base);
	return 0;
}

int nvme_sriov_attr_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = strlen(val);
	ssize_t n = write(fd, val, len);
	int err = errno;
	close(fd);
	if (n < 0)
		return -err;
	return (size_t)n == len ? 0 : -EIO;
}

int nvme_sriov_fn_attr_write(const char *bdf, const char *attr, long val)
{
	char path[PATH_MAX], buf[24];
	snprintf(path, sizeof(path), PCI_SYSFS_DEVICES "/%s/%s", bdf, attr);
	snprintf(buf, sizeof(buf), "%ld", val);
	return nvme_sriov_attr_write(path, buf);
}

int nvme_sriov_fn_attr_read(const char *bdf, const char *attr, long *val)
{
	char path[PATH_MAX], buf[32];
	snprintf(path, sizeof(path), PCI_SYSFS_DEVICES "/%s/%s", bdf, attr);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int err = errno;
	close(fd);
	if (n <= 0)
		return n < 0 ? -err : -EIO;
	buf[n] = 0;
	*val = strtol(buf, NULL, 10);
	return 0;
}

int nvme_sriov_wait_driver(const char *bdf, const char *want, unsigned timeout_ms)
{
	char cur[64];
	for (unsigned waited = 0;; waited += 10) {
		pci_sysfs_driver(NULL, bdf, cur, sizeof(cur));
		if (strcmp(cur, want) == 0)
			return 0;
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}
