// SPDX-License-Identifier: GPL-2.0
/*
 * aisio-dmabuf: import a dma-buf for a PCI function driven from user space.
 *
 * The buffer is attached to the importing function's struct device (the NVMe controller),
 * never to this misc device, so the addresses it gets are the ones that function must put
 * in its PRPs. The attachment is static (dma_buf_attach), which makes a dynamic exporter
 * pin the buffer: Debian's kernels have no DMABUF_MOVE_NOTIFY, so nothing may move it.
 *
 * Attachments hang off the open file: DETACH, close and process exit (in any order with
 * the dma-buf fd and the device's fds) release them. One released while the importer's
 * bus mastering is on may still be a DMA target: bus mastering is turned off first.
 */
#include <linux/build_bug.h>
#include <linux/dma-buf.h>
#include <linux/dma-direction.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/iommu.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <aisio/dmabuf_import.h>

static_assert(sizeof(struct aisio_dmabuf_attach) == AISIO_DMABUF_ATTACH_SIZE);
static_assert(sizeof(struct aisio_dmabuf_run) == AISIO_DMABUF_RUN_SIZE);
static_assert(sizeof(struct aisio_dmabuf_get_map) == AISIO_DMABUF_GET_MAP_SIZE);
static_assert(sizeof(struct aisio_dmabuf_detach) == AISIO_DMABUF_DETACH_SIZE);

static unsigned long max_bytes = 64UL << 30;
module_param(max_bytes, ulong, 0644);
MODULE_PARM_DESC(max_bytes, "largest dma-buf one ATTACH accepts (bytes)");

struct importer_file {
	struct mutex lock; /* attachments, next_handle */
	struct list_head attachments;
	u32 next_handle;
};

struct import {
	struct list_head node;
	u32 handle;
	struct dma_buf *buf;
	struct pci_dev *pdev;
	struct dma_buf_attachment *att;
	struct sg_table *sgt;
	u32 nr_runs;
	struct aisio_dmabuf_run *runs;
};

/* Merged (addr, len) runs of a mapped table: count only when runs is NULL. */
static u32 sgt_runs(struct sg_table *sgt, struct aisio_dmabuf_run *runs)
{
	struct scatterlist *sg;
	u64 end = 0;
	u32 n = 0;
	int i;

	for_each_sgtable_dma_sg(sgt, sg, i) {
		u64 addr = sg_dma_address(sg), len = sg_dma_len(sg);

		if (!len)
			continue;
		if (n && addr == end) {
			if (runs)
				runs[n - 1].len += len;
		} else {
			if (runs) {
				runs[n].addr = addr;
				runs[n].len = len;
			}
			n++;
		}
		end = addr + len;
	}
	return n;
}

static void import_release(struct import *im, bool from_close)
{
	u16 cmd = 0;

	/* The process is gone or closed us with the buffer still attached: the function may
	 * still DMA into it. Stop it before the buffer can go back to its exporter. */
	if (from_close && !pci_read_config_word(im->pdev, PCI_COMMAND, &cmd) && (cmd & PCI_COMMAND_MASTER)) {
		pci_warn(im->pdev,
			 "aisio-dmabuf: releasing attachment %u (%zu bytes) with bus mastering on: "
			 "turning bus mastering off first\n",
			 im->handle, im->buf->size);
		pci_clear_master(im->pdev);
	}
	dma_buf_unmap_attachment_unlocked(im->att, im->sgt, DMA_BIDIRECTIONAL);
	dma_buf_detach(im->buf, im->att);
	dma_buf_put(im->buf);
	pci_dev_put(im->pdev);
	kvfree(im->runs);
	kfree(im);
}

static struct pci_dev *pci_dev_by_addr(const char *s)
{
	unsigned int dom, bus, slot, fn;
	char tail;

	if (sscanf(s, "%x:%x:%x.%x%c", &dom, &bus, &slot, &fn, &tail) != 4 || dom > 0xffff || bus > 0xff ||
	    slot > 0x1f || fn > 7)
		return ERR_PTR(-EINVAL);
	return pci_get_domain_bus_and_slot(dom, bus, PCI_DEVFN(slot, fn)) ?: ERR_PTR(-ENODEV);
}

/* The DMA API's addresses are the function's own only while it sits in a kernel DMA domain: none
 * (no IOMMU), identity (passthrough) or the kernel's translated one. Not once vfio has moved it into
 * a domain of its own (or blocked it): there a user-space IOMMU mapping is the way (MAP_DMA). */
static bool in_kernel_dma_domain(struct pci_dev *pdev)
{
	struct iommu_domain *dom = iommu_get_domain_for_dev(&pdev->dev);

	return !dom || dom->type == IOMMU_DOMAIN_IDENTITY || (dom->type & __IOMMU_DOMAIN_DMA_API);
}

static long do_attach(struct importer_file *f, void __user *uarg)
{
	struct aisio_dmabuf_attach a;
	struct import *im, *other;
	long rc;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.flags || !memchr(a.pci_addr, 0, sizeof(a.pci_addr)))
		return -EINVAL;
	im = kzalloc(sizeof(*im), GFP_KERNEL);
	if (!im)
		return -ENOMEM;
	im->buf = dma_buf_get(a.fd); /* -EBADF: no such fd; -EINVAL: not a dma-buf */
	if (IS_ERR(im->buf)) {
		rc = PTR_ERR(im->buf);
		goto free_im;
	}
	if (im->buf->size > max_bytes) {
		rc = -E2BIG;
		goto put_buf;
	}
	im->pdev = pci_dev_by_addr(a.pci_addr);
	if (IS_ERR(im->pdev)) {
		rc = PTR_ERR(im->pdev);
		goto put_buf;
	}
	if (!in_kernel_dma_domain(im->pdev)) {
		rc = -EXDEV;
		goto put_pdev;
	}
	mutex_lock(&f->lock);
	list_for_each_entry(other, &f->attachments, node) {
		if (other->buf == im->buf) {
			rc = -EEXIST; /* one attachment per buffer and file: its runs are already there */
			goto unlock;
		}
	}
	im->att = dma_buf_attach(im->buf, &im->pdev->dev);
	if (IS_ERR(im->att)) {
		rc = PTR_ERR(im->att);
		goto unlock;
	}
	im->sgt = dma_buf_map_attachment_unlocked(im->att, DMA_BIDIRECTIONAL);
	if (IS_ERR(im->sgt)) {
		rc = PTR_ERR(im->sgt);
		goto detach;
	}
	im->nr_runs = sgt_runs(im->sgt, NULL);
	if (im->nr_runs == 0 || im->nr_runs > AISIO_DMABUF_MAX_RUNS) {
		rc = im->nr_runs ? -E2BIG : -EINVAL;
		goto unmap;
	}
	im->runs = kvcalloc(im->nr_runs, sizeof(*im->runs), GFP_KERNEL);
	if (!im->runs) {
		rc = -ENOMEM;
		goto unmap;
	}
	sgt_runs(im->sgt, im->runs);
	im->handle = ++f->next_handle ?: ++f->next_handle;
	a.handle = im->handle;
	a.nr_runs = im->nr_runs;
	a.size = im->buf->size;
	if (copy_to_user(uarg, &a, sizeof(a))) {
		rc = -EFAULT;
		goto free_runs;
	}
	list_add_tail(&im->node, &f->attachments);
	mutex_unlock(&f->lock);
	return 0;

free_runs:
	kvfree(im->runs);
unmap:
	dma_buf_unmap_attachment_unlocked(im->att, im->sgt, DMA_BIDIRECTIONAL);
detach:
	dma_buf_detach(im->buf, im->att);
unlock:
	mutex_unlock(&f->lock);
put_pdev:
	pci_dev_put(im->pdev);
put_buf:
	dma_buf_put(im->buf);
free_im:
	kfree(im);
	return rc;
}

static struct import *find_import(struct importer_file *f, u32 handle)
{
	struct import *im;

	list_for_each_entry(im, &f->attachments, node)
		if (im->handle == handle)
			return im;
	return NULL;
}

static long do_get_map(struct importer_file *f, void __user *uarg)
{
	struct aisio_dmabuf_get_map g;
	struct import *im;
	long rc = 0;

	if (copy_from_user(&g, uarg, sizeof(g)))
		return -EFAULT;
	mutex_lock(&f->lock);
	im = find_import(f, g.handle);
	if (!im) {
		rc = -ENOENT;
	} else if (g.nr_runs < im->nr_runs) {
		rc = -ENOSPC;
	} else if (copy_to_user(u64_to_user_ptr(g.runs), im->runs, im->nr_runs * sizeof(*im->runs))) {
		rc = -EFAULT;
	}
	if (im)
		g.nr_runs = im->nr_runs;
	mutex_unlock(&f->lock);
	if ((!rc || rc == -ENOSPC) && copy_to_user(uarg, &g, sizeof(g)))
		rc = -EFAULT;
	return rc;
}

static long do_detach(struct importer_file *f, void __user *uarg)
{
	struct aisio_dmabuf_detach d;
	struct import *im;

	if (copy_from_user(&d, uarg, sizeof(d)))
		return -EFAULT;
	if (d.flags)
		return -EINVAL;
	mutex_lock(&f->lock);
	im = find_import(f, d.handle);
	if (im)
		list_del(&im->node);
	mutex_unlock(&f->lock);
	if (!im)
		return -ENOENT;
	import_release(im, false);
	return 0;
}

static long importer_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct importer_file *f = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case AISIO_DMABUF_ATTACH: return do_attach(f, uarg);
	case AISIO_DMABUF_GET_MAP: return do_get_map(f, uarg);
	case AISIO_DMABUF_DETACH: return do_detach(f, uarg);
	default: return -ENOTTY;
	}
}

static int importer_open(struct inode *inode, struct file *file)
{
	struct importer_file *f = kzalloc(sizeof(*f), GFP_KERNEL);

	if (!f)
		return -ENOMEM;
	mutex_init(&f->lock);
	INIT_LIST_HEAD(&f->attachments);
	file->private_data = f;
	return 0;
}

static int importer_release(struct inode *inode, struct file *file)
{
	struct importer_file *f = file->private_data;
	struct import *im, *tmp;

	list_for_each_entry_safe(im, tmp, &f->attachments, node) {
		list_del(&im->node);
		import_release(im, true);
	}
	mutex_destroy(&f->lock);
	kfree(f);
	return 0;
}

static const struct file_operations importer_fops = {
	.owner = THIS_MODULE,
	.open = importer_open,
	.release = importer_release,
	.unlocked_ioctl = importer_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice importer_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "aisio-dmabuf",
	.fops = &importer_fops,
	.mode = 0600,
};

module_misc_device(importer_misc);

MODULE_DESCRIPTION("dma-buf importer for a user-space NVMe driver (aisio)");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(DMA_BUF);
