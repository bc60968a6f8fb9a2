// SPDX-License-Identifier: GPL-2.0
/*
 * Test exporter: the BAR2 of a QEMU ivshmem-plain device (1af4:1110, memory behind it on
 * the host) as a dma-buf, standing in for GPU memory in the P2P tests.
 *
 * /dev/aisio-ivshmem-export: EXPORT returns a new dma-buf fd over the whole BAR. Importers
 * get a table of CHUNK-sized pieces mapped with dma_map_resource for their device (a BAR
 * has no struct pages); mmap of the dma-buf maps the BAR itself (VM_PFNMAP), which is what
 * vfio's MAP_DMA takes. The buffer's pieces lie in the BAR in swapped pairs (piece 0 at BAR
 * offset CHUNK, piece 1 at 0, ...), in the table and the mapping alike, so an importer sees
 * runs that are not contiguous, as a GPU's or an IOMMU-less exporter's may be. Each dma-buf holds a reference on this module (dma_buf_export takes
 * it), so rmmod is refused while one lives.
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include <aisio/dmabuf_import.h>

#define CHUNK (64u << 10) /* several entries per table, so importers merge runs */

static struct pci_dev *ivshmem; /* the one device this test module drives */

struct ivshmem_buf {
	phys_addr_t base;
	size_t size;
};

/* BAR address of the buffer's piece i (pairs swapped; a last odd piece stays) */
static phys_addr_t piece_addr(const struct ivshmem_buf *b, unsigned int i)
{
	unsigned int n = DIV_ROUND_UP(b->size, CHUNK), j = i ^ 1;

	return b->base + (phys_addr_t)(j < n && (size_t)j * CHUNK + CHUNK <= b->size ? j : i) * CHUNK;
}

static struct sg_table *exp_map(struct dma_buf_attachment *att, enum dma_data_direction dir)
{
	struct ivshmem_buf *b = att->dmabuf->priv;
	unsigned int n = DIV_ROUND_UP(b->size, CHUNK), i;
	struct scatterlist *sg;
	struct sg_table *sgt;

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt || sg_alloc_table(sgt, n, GFP_KERNEL)) {
		kfree(sgt);
		return ERR_PTR(-ENOMEM);
	}
	for_each_sgtable_sg(sgt, sg, i) {
		size_t off = (size_t)i * CHUNK, len = min_t(size_t, CHUNK, b->size - off);
		dma_addr_t a = dma_map_resource(att->dev, piece_addr(b, i), len, dir, DMA_ATTR_SKIP_CPU_SYNC);

		if (dma_mapping_error(att->dev, a)) {
			struct scatterlist *s;
			unsigned int j;

			for_each_sgtable_sg(sgt, s, j) {
				if (j == i)
					break;
				dma_unmap_resource(att->dev, sg_dma_address(s), sg_dma_len(s), dir,
						   DMA_ATTR_SKIP_CPU_SYNC);
			}
			sg_free_table(sgt);
			kfree(sgt);
			return ERR_PTR(-EIO);
		}
		sg_dma_address(sg) = a;
		sg_dma_len(sg) = len;
	}
	sgt->nents = n; /* no struct pages: the dma side is the whole table */
	return sgt;
}

static void exp_unmap(struct dma_buf_attachment *att, struct sg_table *sgt, enum dma_data_direction dir)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_sg(sgt, sg, i)
		dma_unmap_resource(att->dev, sg_dma_address(sg), sg_dma_len(sg), dir, DMA_ATTR_SKIP_CPU_SYNC);
	sg_free_table(sgt);
	kfree(sgt);
}

static int exp_mmap(struct dma_buf *buf, struct vm_area_struct *vma)
{
	struct ivshmem_buf *b = buf->priv;
	unsigned long len = vma->vm_end - vma->vm_start;
	unsigned long off = vma->vm_pgoff << PAGE_SHIFT;

	unsigned long addr = vma->vm_start;
	int rc = 0;

	if (off > b->size || len > b->size - off)
		return -EINVAL;
	vma->vm_page_prot = pgprot_writecombine(vma->vm_page_prot);
	while (!rc && addr < vma->vm_end) {
		unsigned long n = min_t(unsigned long, CHUNK - off % CHUNK, vma->vm_end - addr);

		rc = io_remap_pfn_range(vma, addr, (piece_addr(b, off / CHUNK) + off % CHUNK) >> PAGE_SHIFT, n,
					vma->vm_page_prot);
		addr += n;
		off += n;
	}
	return rc;
}

static void exp_release(struct dma_buf *buf)
{
	kfree(buf->priv);
}

static const struct dma_buf_ops exp_ops = {
	.map_dma_buf = exp_map,
	.unmap_dma_buf = exp_unmap,
	.mmap = exp_mmap,
	.release = exp_release,
};

static long exp_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	struct ivshmem_buf *b;
	struct dma_buf *buf;
	int fd;

	if (cmd != AISIO_IVSHMEM_EXPORT)
		return -ENOTTY;
	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	b->base = pci_resource_start(ivshmem, 2);
	b->size = pci_resource_len(ivshmem, 2);
	info.ops = &exp_ops;
	info.size = b->size;
	info.flags = O_RDWR | O_CLOEXEC;
	info.priv = b;
	buf = dma_buf_export(&info);
	if (IS_ERR(buf)) {
		kfree(b);
		return PTR_ERR(buf);
	}
	fd = dma_buf_fd(buf, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		dma_buf_put(buf); /* releases b */
	return fd;
}

static const struct file_operations exp_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = exp_ioctl,
};

static struct miscdevice exp_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "aisio-ivshmem-export",
	.fops = &exp_fops,
	.mode = 0600,
};

static int ivshmem_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	int rc;

	if (ivshmem)
		return -EBUSY;
	if (!(pci_resource_flags(pdev, 2) & IORESOURCE_MEM) || !pci_resource_len(pdev, 2))
		return -ENODEV;
	rc = pci_enable_device_mem(pdev);
	if (rc)
		return rc;
	rc = pci_request_region(pdev, 2, "aisio-ivshmem-export");
	if (rc)
		goto disable;
	ivshmem = pdev;
	rc = misc_register(&exp_misc);
	if (rc)
		goto release;
	pci_info(pdev, "BAR2 %pa, %llu bytes, exported through /dev/%s\n", &pdev->resource[2].start,
		 (unsigned long long)pci_resource_len(pdev, 2), exp_misc.name);
	return 0;
release:
	ivshmem = NULL;
	pci_release_region(pdev, 2);
disable:
	pci_disable_device(pdev);
	return rc;
}

static void ivshmem_remove(struct pci_dev *pdev)
{
	misc_deregister(&exp_misc);
	ivshmem = NULL;
	pci_release_region(pdev, 2);
	pci_disable_device(pdev);
}

static const struct pci_device_id ivshmem_ids[] = {{PCI_DEVICE(0x1af4, 0x1110)}, {}};
MODULE_DEVICE_TABLE(pci, ivshmem_ids);

static struct pci_driver ivshmem_driver = {
	.name = "aisio-ivshmem-export",
	.id_table = ivshmem_ids,
	.probe = ivshmem_probe,
	.remove = ivshmem_remove,
};
module_pci_driver(ivshmem_driver);

MODULE_DESCRIPTION("test dma-buf exporter over a QEMU ivshmem-plain BAR (aisio)");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(DMA_BUF);
