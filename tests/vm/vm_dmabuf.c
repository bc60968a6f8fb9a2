/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest-side checks of the aisio-dmabuf importer's ioctls (tests/vm/scenarios/p2p.sh), against the
 * ivshmem test exporter:
 *   vm-dmabuf errors BDF EXPORTER   every bad request gets its errno, never an oops; the dma-buf fd
 *                                   closed first leaves the attachment usable until DETACH
 *   vm-dmabuf hold BDF EXPORTER     attach, print "attached N runs", then sleep (killed by the test)
 *   vm-dmabuf zero EXPORTER         clear the exporter's memory through its CPU mapping (mmap)
 *   vm-dmabuf attach BDF EXPORTER   one ATTACH and DETACH: prints "ATTACH: <result>", exit 0 on success
 * Exit 0 when every check held; each failed check prints one line.
 */
#include <aisio/dmabuf_import.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static int failures;

static int export_buf(const char *exporter)
{
	int dev = open(exporter, O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		fprintf(stderr, "vm-dmabuf: open %s: %s\n", exporter, strerror(errno));
		exit(1);
	}
	int fd = ioctl(dev, AISIO_IVSHMEM_EXPORT);
	if (fd < 0) {
		fprintf(stderr, "vm-dmabuf: EXPORT: %s\n", strerror(errno));
		exit(1);
	}
	close(dev);
	return fd;
}

static int open_importer(void)
{
	int imp = open(AISIO_DMABUF_DEVICE, O_RDWR | O_CLOEXEC);
	if (imp < 0) {
		fprintf(stderr, "vm-dmabuf: open %s: %s\n", AISIO_DMABUF_DEVICE, strerror(errno));
		exit(1);
	}
	return imp;
}

static int attach(int imp, int fd, const char *bdf, struct aisio_dmabuf_attach *out)
{
	struct aisio_dmabuf_attach a = {.fd = fd};
	snprintf(a.pci_addr, sizeof(a.pci_addr), "%s", bdf);
	int rc = ioctl(imp, AISIO_DMABUF_ATTACH, &a) < 0 ? -errno : 0;
	if (out)
		*out = a;
	return rc;
}

static void expect(const char *what, int got, int want)
{
	printf("%-44s %s (%s)\n", what, got == want ? "ok" : "FAILED", got ? strerror(-got) : "success");
	if (got != want) {
		printf("  wanted %s\n", want ? strerror(-want) : "success");
		failures++;
	}
}

static int detach(int imp, uint32_t handle)
{
	struct aisio_dmabuf_detach d = {.handle = handle};
	return ioctl(imp, AISIO_DMABUF_DETACH, &d) < 0 ? -errno : 0;
}

static int set_max_bytes(const char *val)
{
	int fd = open("/sys/module/aisio_dmabuf/parameters/max_bytes", O_WRONLY);
	if (fd < 0)
		return -errno;
	int rc = write(fd, val, strlen(val)) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int errors(const char *bdf, const char *exporter)
{
	int imp = open_importer();
	int buf = export_buf(exporter);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int closed = dup(buf);
	close(closed);
	struct aisio_dmabuf_attach a;
	expect("ATTACH fd -1", attach(imp, -1, bdf, NULL), -EBADF);
	expect("ATTACH a closed fd", attach(imp, closed, bdf, NULL), -EBADF);
	expect("ATTACH a foreign fd (/dev/null)", attach(imp, null, bdf, NULL), -EINVAL);
	expect("ATTACH to no such function 0000:00:1f.7", attach(imp, buf, "0000:00:1f.7", NULL), -ENODEV);
	expect("ATTACH to a malformed address", attach(imp, buf, "00:04", NULL), -EINVAL);
	struct aisio_dmabuf_attach unterminated = {.fd = buf};
	memset(unterminated.pci_addr, '0', sizeof(unterminated.pci_addr));
	expect("ATTACH with an unterminated address", ioctl(imp, AISIO_DMABUF_ATTACH, &unterminated) < 0 ? -errno : 0,
	       -EINVAL);
	struct aisio_dmabuf_attach flagged = {.fd = buf, .flags = 1};
	snprintf(flagged.pci_addr, sizeof(flagged.pci_addr), "%s", bdf);
	expect("ATTACH with unknown flags", ioctl(imp, AISIO_DMABUF_ATTACH, &flagged) < 0 ? -errno : 0, -EINVAL);
	expect("ATTACH with a bad user pointer", ioctl(imp, AISIO_DMABUF_ATTACH, (void *)8) < 0 ? -errno : 0, -EFAULT);
	expect("unknown ioctl", ioctl(imp, _IO(AISIO_DMABUF_IOC_MAGIC, 99)) < 0 ? -errno : 0, -ENOTTY);
	if (set_max_bytes("4096") == 0) {
		expect("ATTACH over max_bytes (4096)", attach(imp, buf, bdf, NULL), -E2BIG);
		set_max_bytes("68719476736");
	} else {
		printf("max_bytes parameter not writable: FAILED\n");
		failures++;
	}
	expect("ATTACH", attach(imp, buf, bdf, &a), 0);
	printf("  handle %u, %u runs, %llu bytes\n", a.handle, a.nr_runs, (unsigned long long)a.size);
	expect("ATTACH of the same buffer again", attach(imp, buf, bdf, NULL), -EEXIST);
	int again = dup(buf);
	expect("ATTACH of the same buffer by another fd", attach(imp, again, bdf, NULL), -EEXIST);
	close(again);

	struct aisio_dmabuf_run *runs = calloc(a.nr_runs + 1, sizeof(*runs));
	struct aisio_dmabuf_get_map g = {.handle = a.handle, .nr_runs = a.nr_runs - 1, .runs = (uintptr_t)runs};
	expect("GET_MAP with too little room", ioctl(imp, AISIO_DMABUF_GET_MAP, &g) < 0 ? -errno : 0, -ENOSPC);
	g = (struct aisio_dmabuf_get_map){.handle = a.handle + 100, .nr_runs = a.nr_runs, .runs = (uintptr_t)runs};
	expect("GET_MAP of an unknown handle", ioctl(imp, AISIO_DMABUF_GET_MAP, &g) < 0 ? -errno : 0, -ENOENT);
	g = (struct aisio_dmabuf_get_map){.handle = a.handle, .nr_runs = a.nr_runs, .runs = 8};
	expect("GET_MAP to a bad user pointer", ioctl(imp, AISIO_DMABUF_GET_MAP, &g) < 0 ? -errno : 0, -EFAULT);

	/* the exporter's fd closed first: the attachment holds its own reference */
	close(buf);
	g = (struct aisio_dmabuf_get_map){.handle = a.handle, .nr_runs = a.nr_runs, .runs = (uintptr_t)runs};
	expect("GET_MAP after the dma-buf fd is closed", ioctl(imp, AISIO_DMABUF_GET_MAP, &g) < 0 ? -errno : 0, 0);
	uint64_t total = 0;
	for (uint32_t i = 0; i < g.nr_runs; i++) {
		if (i < 4) /* the exporter's swapped pairs show in the first few */
			printf("  run %u: 0x%llx + %llu\n", i, (unsigned long long)runs[i].addr,
			       (unsigned long long)runs[i].len);
		total += runs[i].len;
	}
	if (total != a.size) {
		printf("runs cover %llu of %llu bytes: FAILED\n", (unsigned long long)total,
		       (unsigned long long)a.size);
		failures++;
	}
	struct aisio_dmabuf_detach flagged_d = {.handle = a.handle, .flags = 1};
	expect("DETACH with unknown flags", ioctl(imp, AISIO_DMABUF_DETACH, &flagged_d) < 0 ? -errno : 0, -EINVAL);
	expect("DETACH", detach(imp, a.handle), 0);
	expect("DETACH again", detach(imp, a.handle), -ENOENT);

	/* attachments are per open file: a second file may attach the same buffer */
	buf = export_buf(exporter);
	int imp2 = open_importer();
	struct aisio_dmabuf_attach b;
	expect("ATTACH in one file", attach(imp, buf, bdf, &a), 0);
	expect("ATTACH of that buffer in another file", attach(imp2, buf, bdf, &b), 0);
	expect("DETACH of the first file's handle in the other", detach(imp2, a.handle + 1000), -ENOENT);
	close(imp2); /* close releases b */
	close(buf);
	close(imp); /* and a */
	close(null);
	free(runs);
	printf("%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}

static int hold(const char *bdf, const char *exporter)
{
	int imp = open_importer();
	int buf = export_buf(exporter);
	struct aisio_dmabuf_attach a;
	int rc = attach(imp, buf, bdf, &a);
	if (rc < 0) {
		fprintf(stderr, "vm-dmabuf: ATTACH: %s\n", strerror(-rc));
		return 1;
	}
	printf("attached %u runs\n", a.nr_runs);
	fflush(stdout);
	for (;;)
		pause();
}

static int attach_once(const char *bdf, const char *exporter)
{
	int imp = open_importer();
	struct aisio_dmabuf_attach a;
	int rc = attach(imp, export_buf(exporter), bdf, &a);
	printf("ATTACH: %s\n", rc ? strerror(-rc) : "attached");
	if (rc == 0)
		rc = detach(imp, a.handle);
	close(imp);
	return rc ? 1 : 0;
}

static int zero(const char *exporter)
{
	int buf = export_buf(exporter);
	off_t size = lseek(buf, 0, SEEK_END);
	void *p = size > 0 ? mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0) : MAP_FAILED;
	if (p == MAP_FAILED) {
		fprintf(stderr, "vm-dmabuf: mmap of the %lld-byte dma-buf: %s\n", (long long)size, strerror(errno));
		return 1;
	}
	memset(p, 0, (size_t)size);
	printf("cleared %lld bytes\n", (long long)size);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "zero"))
		return zero(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "errors"))
		return errors(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "attach"))
		return attach_once(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "hold"))
		return hold(argv[2], argv[3]);
	fprintf(stderr, "usage: vm-dmabuf errors|hold|attach BDF EXPORTER | zero EXPORTER\n");
	return 2;
}
