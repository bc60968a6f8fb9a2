#!/usr/bin/env python3
"""QEMU test bed: run aisio against QEMU's NVMe controller under a real Linux kernel.

usage: tests/vm/vmtest.py [--build DIR] [--keep] [--timeout S] [--kernel 6.1|6.12|both] SCENARIO...
       tests/vm/vmtest.py --list

For each scenario, on each kernel it runs on (its own list, or --kernel):
  1. kernel: Debian's 6.1 (bookworm) or 6.12 (bookworm-backports). The image package
     is resolved at run time through a private apt configuration in .vmcache/apt/
     (never the machine's own sources or lists), fetched with `apt-get download` and
     unpacked with `dpkg-deb -x`; vmlinuz and the modules the tests need (.ko.xz
     decompressed) are kept in .vmcache/<package>/ (git-ignored). The private lists
     are refreshed at most every 12 hours; without a network the newest cached kernel
     of the series is used.
  2. initramfs (newc cpio written here, no root needed): busybox-static, the modules
     in dependency order, the project's binaries with the shared libraries ldd
     names, tests/vm/guest-lib.sh and the scenario's guest script.
  3. qemu-system-x86_64 (TCG) boots it with the scenario's devices; the guest runs
     the script, each step framed by @@STEP markers, then prints
     "@@VMTEST RESULT <rc>" and powers off.
  4. the scenario passes when the guest reported RESULT 0 and powered off within the
     time bound; otherwise the guest's console log is printed.

One line per scenario and kernel: "vm-<name>[-6.12]: passed|failed|skipped (<seconds> s)".
Exit status: 0 passed, 1 failed, 77 skipped (what is missing is printed).
"""
import argparse
import fcntl
import glob
import lzma
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77

# Modules the guest loads, with their dependencies resolved from each .ko's modinfo.
BASE_MODULES = ["crct10dif_generic", "crc64_rocksoft_generic", "nvme", "vfio_pci", "vfio_iommu_type1",
                "uio_pci_generic"]
XFS_MODULES = ["crc32c_generic", "xfs"]  # libcrc32c needs a crc32c implementation loaded first
UBLK_MODULES = ["ublk_drv"]  # shipped by 6.12 only
# What a cached kernel holds: every module some scenario may load.
CACHED_MODULES = BASE_MODULES + XFS_MODULES + UBLK_MODULES

# Binaries from the build tree copied into the guest's /vmtest/bin (missing ones are left out).
BUILD_BINARIES = ["tools/aisio", "daemon/homid", "tests/vm/vm-pci-probe", "tests/vm/vm-blkutil",
                  "tests/vm/vm-nvme-rw", "tests/vm/vm-kio-status", "tests/vm/vm-dmabuf",
                  "tests/homi/homi-read"]


class Skip(Exception):
    pass


# Guest kernels: the Debian suites each comes from, and how its image package is picked.
# 6.1: the package linux-image-amd64 depends on. 6.12: the newest linux-image-6.12.*-amd64
# by name (not -dbg, -unsigned, -cloud or -rt), so a later backports kernel (whom the
# metapackage would follow) does not take 6.12's place.
KERNELS = {
    "6.1": dict(suites=["bookworm", "bookworm-updates", "bookworm-security"]),
    "6.12": dict(suites=["bookworm-backports"], image=r"linux-image-6\.12\.[0-9][^-\s]*-amd64"),
}
DEFAULT_KERNELS = ["6.1"]
APT_REFRESH_S = 12 * 3600


# ---- scenarios -------------------------------------------------------------------------------------------------
#
# iommu: True (emulated intel-iommu, translated DMA), "pt" (the same, identity for kernel drivers), False (none).
# qemu: device arguments after the machine; {disk0}.. name the scenario's disk images.
# disks: (size, kind) with kind "raw" (zeroes) or "xfs:<fs size>" (XFS made on the host, file larger than it).
# script: tests/vm/scenarios/<script>.sh, run in the guest with guest-lib.sh's helpers.
# needs: programs from the build tree the scenario cannot do without.
# kernels: the guest kernels it runs on by default (DEFAULT_KERNELS when absent).
# host_needs: host programs copied into the guest with their libraries (nvme-cli for SR-IOV setup).
# kmods: source folders of our kernel modules (kmod/, kmod/test/), built for the guest kernel by
#   kbuild.py and put in the guest's /vmtest/kmod/ (loaded by the script, not at boot).
# linux_kmods: {series: [(file, stand-ins after its #includes, lines appended)]}: in-tree drivers
#   that kernel does not ship, built from that one file of its linux-source (kbuild.py), also in
#   /vmtest/kmod/.
# script: the guest script's name when it is not the scenario's; env: variables set for it.
# shm: size of a host memory-backend-file ({shm} in qemu) under the scenario's work folder.
# host_check: called with the work folder's files after the guest powered off; returns why it
#   failed or None.

NVME_PLAIN = ["-drive", "file={disk0},if=none,id=nvm0,format=raw",
              "-device", "nvme,serial=aisio0,drive=nvm0,addr=0x4"]
# SR-IOV (QEMU 7.2): a PF at 0000:01:00.0 behind a root port, two VFs with flexible queue and interrupt
# resources, namespace 1 shared by the subsystem's controllers (the PF's and its VFs').
NVME_SRIOV = ["-device", "pcie-root-port,id=rp0,chassis=1",
              "-device", "nvme-subsys,id=subsys0",
              "-device", "nvme,bus=rp0,serial=aisio2,subsys=subsys0,sriov_max_vfs=2,sriov_vq_flexible=8,"
                         "sriov_vi_flexible=4,max_ioqpairs=12,msix_qsize=8",
              "-drive", "file={disk0},if=none,id=nvm0,format=raw",
              "-device", "nvme-ns,drive=nvm0,nsid=1,shared=on"]
# ... and namespace 2, created detached: no controller sees it until it is attached to one.
NVME_SRIOV_DETACHED_NS2 = ["-drive", "file={disk1},if=none,id=nvm1,format=raw",
                           "-device", "nvme-ns,drive=nvm1,nsid=2,shared=on,detached=on"]
# ivshmem-plain: a BAR2 of host memory (a file the host reads after the run): the P2P target.
IVSHMEM = ["-object", "memory-backend-file,id=hm0,share=on,mem-path={shm},size=8M",
           "-device", "ivshmem-plain,memdev=hm0,addr=0x5"]


# udmabuf (a memfd exporter) for 6.1, which does not build it (6.12 has it built in). Outside the
# kernel, three symbols it uses are not exported: hugetlb memfds are left out (the tests use plain
# ones) and the seals are read from the shmem inode, which is what memfd_fcntl does for them.
UDMABUF_6_1 = ("drivers/dma-buf/udmabuf.c",
               "#define is_file_hugepages(f) false\n"
               "#define memfd_fcntl(f, cmd, arg) ((long)SHMEM_I(file_inode(f))->seals)",
               "MODULE_IMPORT_NS(DMA_BUF);")

# 6.1 does not ship ublk_drv: built from linux-source-6.1's drivers/block/ublk_drv.c as it is.
UBLK_6_1 = ("drivers/block/ublk_drv.c", "", "")


def p2p_host_check(files):
    """The bytes the NVMe controller moved through the ivshmem BAR are in its host backing file:
    every non-zero 512-byte block of the file is a block of the namespace (the verify stamps,
    written from the BAR and read back into it), and there are many of them."""
    blocks = set()
    with open(files["disk0"], "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            blocks.update(b[i:i + 512] for i in range(0, len(b), 512))
    zero = bytes(512)
    seen = stray = 0
    with open(files["shm"], "rb") as f:
        data = f.read()
    for i in range(0, len(data), 512):
        blk = data[i:i + 512]
        if blk == zero:
            continue
        seen += 1
        stray += blk not in blocks
    if stray:
        return f"{stray} of {seen} non-zero blocks in the ivshmem backing file are no block of the namespace"
    if seen < 256:
        return f"only {seen} non-zero 512-byte blocks in the ivshmem backing file (the DMA did not land there?)"
    log(f"ivshmem backing file: {seen} blocks, each one of the namespace's")
    return None


SCENARIOS = {
    "probe": dict(
        doc="backends only: bind the QEMU NVMe to vfio-pci (IOMMU on) and uio_pci_generic, open it, Identify",
        iommu="pt", disks=[("64M", "raw")], qemu=NVME_PLAIN, needs=["tests/vm/vm-pci-probe"], timeout=120),
    "vfio": dict(
        doc="vfio-pci with an emulated IOMMU: bring-up, identify, perf verify, randread/randwrite runs",
        iommu=True, disks=[("256M", "raw")], qemu=NVME_PLAIN, needs=["tools/aisio"], timeout=180,
        kernels=["6.1", "6.12"]),
    "uio": dict(
        doc="uio_pci_generic with the IOMMU off: the same as vfio",
        iommu=False, disks=[("256M", "raw")], qemu=NVME_PLAIN, needs=["tools/aisio"], timeout=180),
    "variants": dict(
        doc="4096-byte LBAs, mdts=2, three namespaces, max_ioqpairs=2",
        iommu=True, disks=[("64M", "raw"), ("32M", "raw"), ("16M", "raw")],
        qemu=["-device", "nvme,id=ctl0,serial=aisio1,mdts=2,max_ioqpairs=2,addr=0x4",
              "-drive", "file={disk0},if=none,id=nvm0,format=raw",
              "-device", "nvme-ns,bus=ctl0,drive=nvm0,nsid=1,logical_block_size=4096,physical_block_size=4096",
              "-drive", "file={disk1},if=none,id=nvm1,format=raw",
              "-device", "nvme-ns,bus=ctl0,drive=nvm1,nsid=2",
              "-drive", "file={disk2},if=none,id=nvm2,format=raw",
              "-device", "nvme-ns,bus=ctl0,drive=nvm2,nsid=3,logical_block_size=4096,physical_block_size=4096"],
        needs=["tools/aisio"], timeout=180),
    "kill": dict(
        doc="SIGKILL mid-I/O, then a new run on the same function succeeds and the kernel logs no DMA fault",
        iommu="pt", disks=[("256M", "raw")], qemu=NVME_PLAIN, needs=["tools/aisio"], timeout=180,
        kernels=["6.1", "6.12"]),
    "sriov": dict(
        doc="PF on the kernel nvme driver with XFS mounted, a VF on vfio-pci driven by aisio, bytes compared",
        iommu=True, disks=[("512M", "xfs:300M")], modules=XFS_MODULES,
        qemu=NVME_SRIOV,
        needs=["tools/aisio", "tests/vm/vm-blkutil", "tests/vm/vm-nvme-rw"], host_needs=["nvme"], timeout=240),
    "sriov-tool": dict(
        doc="the sriov set-up with aisio sriov only (no nvme-cli): status, assign, enable, online, a VF on "
            "vfio-pci verified past the PF's mounted XFS, disable returns the resources",
        iommu=True, disks=[("512M", "xfs:300M")], modules=XFS_MODULES,
        qemu=NVME_SRIOV,
        needs=["tools/aisio", "tests/vm/vm-blkutil"], timeout=240),
    "homi-sriov": dict(
        doc="homid with an SR-IOV PF on the kernel nvme driver (XFS mounted): VFs brought up and granted whole, "
            "two clients on their own VFs, a file's blocks read through a VF, a VF sees only its namespaces, "
            "a second client refused, kill -9 and reset, SIGTERM returns every resource",
        iommu=True, disks=[("512M", "xfs:300M"), ("16M", "raw")], modules=XFS_MODULES,
        qemu=NVME_SRIOV + NVME_SRIOV_DETACHED_NS2,
        needs=["tools/aisio", "daemon/homid", "tests/homi/homi-read", "tests/vm/vm-blkutil"], timeout=240),
    "homi-sriov-bench": dict(
        doc="benchmark, not in CI (bench/homi/sriov.sh): fio 4 KiB randread QD32 on the SR-IOV PF (kernel nvme "
            "driver) against aisio perf on a VF homid granted, the same namespace",
        iommu=True, disks=[("512M", "raw")], qemu=NVME_SRIOV,
        needs=["tools/aisio", "daemon/homid"], host_needs=["fio"], timeout=300),
    "negative": dict(
        doc="a function bound to the kernel nvme driver is refused with a clear message and left as it was",
        iommu=True, disks=[("320M", "xfs:300M")], modules=XFS_MODULES, qemu=NVME_PLAIN, needs=["tools/aisio"], timeout=120),
    "kernel-paths": dict(
        doc="io_uring on /dev/nvme0n1, passthrough on /dev/ng0n1 (NVMe statuses), one namespace switched "
            "nvme -> vfio-pci -> nvme with bytes compared on every path",
        iommu=True, disks=[("64M", "raw")], qemu=NVME_PLAIN,
        needs=["tools/aisio", "tests/vm/vm-blkutil", "tests/vm/vm-nvme-rw", "tests/vm/vm-kio-status"], timeout=200),
    "p2p-uio": dict(
        doc="P2P, IOMMU off, uio: NVMe DMA into a dma-buf of an ivshmem BAR through the aisio-dmabuf import, "
            "bytes checked in the guest and in the host's backing file; ioctl errors, kill -9, rmmod",
        iommu=False, disks=[("64M", "raw")], qemu=NVME_PLAIN + IVSHMEM, shm="8M", mem="1G",
        kmods=["kmod", "kmod/test"], linux_kmods={"6.1": [UDMABUF_6_1]}, script="p2p",
        env={"P2P_BACKEND": "uio", "P2P_FAULTS": "1", "P2P_UDMABUF": "1"},
        host_check=p2p_host_check, needs=["tools/aisio", "tests/vm/vm-dmabuf"], timeout=240,
        kernels=["6.1", "6.12"]),
    "p2p-pt": dict(
        doc="P2P with the IOMMU in passthrough (iommu=pt), uio: the ivshmem dma-buf and a udmabuf over a memfd",
        iommu="pt", disks=[("64M", "raw")], qemu=NVME_PLAIN + IVSHMEM, shm="8M", mem="1G",
        kmods=["kmod", "kmod/test"], script="p2p", env={"P2P_BACKEND": "uio", "P2P_UDMABUF": "1"},
        host_check=p2p_host_check, needs=["tools/aisio", "tests/vm/vm-dmabuf"], timeout=240, kernels=["6.12"]),
    "p2p-vfio": dict(
        doc="P2P with the IOMMU on, vfio: the exporter's CPU mapping of the ivshmem BAR and a udmabuf "
            "mapped with VFIO_IOMMU_MAP_DMA (no module import)",
        iommu=True, disks=[("64M", "raw")], qemu=NVME_PLAIN + IVSHMEM, shm="8M", mem="1G",
        kmods=["kmod", "kmod/test"], linux_kmods={"6.1": [UDMABUF_6_1]}, script="p2p",
        env={"P2P_BACKEND": "vfio", "P2P_UDMABUF": "1"},
        host_check=p2p_host_check, needs=["tools/aisio", "tests/vm/vm-dmabuf"], timeout=240, kernels=["6.1", "6.12"]),
    "homi": dict(
        doc="homid owning the function on vfio-pci (IOMMU on): status, two clients at once, a client "
            "SIGKILLed mid-I/O and its queue pairs taken back, SIGTERM and a client after it",
        iommu=True, disks=[("256M", "raw")], qemu=NVME_PLAIN, needs=["tools/aisio", "daemon/homid"], timeout=180),
    "ublk": dict(
        doc="homid serving a namespace as /dev/ublkb0 with XFS mounted: files read back, homid killed -9 and "
            "re-attached (user recovery), a homi: client reading the files' blocks byte for byte, fio verify "
            "across a homid kill -9 and restart, SIGTERM removes the device",
        iommu=True, disks=[("512M", "raw")], modules=XFS_MODULES + UBLK_MODULES,
        # cache=unsafe: a flush reaches the controller but does not wait for the host's disk
        qemu=["-drive", "file={disk0},if=none,id=nvm0,format=raw,cache=unsafe",
              "-device", "nvme,serial=aisio0,drive=nvm0,addr=0x4"],
        needs=["tools/aisio", "daemon/homid", "tests/homi/homi-read"], host_needs=["fio", "mkfs.xfs"],
        # 6.12.95's ublk_drv (no f40139fde527): a kill -9 of the ublk server under I/O could oops the guest in
        # io_fallback_tw; homid's ring keeper avoids it (docs/ARCHITECTURE.md, ublk, "Killed under I/O"). Should
        # it come back, such a run is repeated once and says so; a second one fails the test.
        known_oops=r"io_fallback_tw",
        # 6.12.95 also, in about 1 of 25 kills under I/O (ublk-kill, with the keeper), leaves the device live with its
        # server gone and never quiesces it, so no daemon can re-attach; rerun once likewise.
        known_kernel=r"is gone but the kernel did not quiesce it",
        linux_kmods={"6.1": [UBLK_6_1]},
        timeout=240, kernels=["6.1", "6.12"]),
    "ublk-kill": dict(
        doc="homid killed -9 and restarted UBLK_KILLS times (default 10) while fio drives the raw /dev/ublkb0: "
            "the loop for 6.12's exit-time oops in ublk_drv's cancel race (docs/ARCHITECTURE.md, ublk)",
        iommu=True, disks=[("256M", "raw")], modules=UBLK_MODULES,
        qemu=["-drive", "file={disk0},if=none,id=nvm0,format=raw,cache=unsafe",
              "-device", "nvme,serial=aisio0,drive=nvm0,addr=0x4"],
        needs=["tools/aisio", "daemon/homid"], host_needs=["fio"],
        env_from_host=["UBLK_KILLS"], linux_kmods={"6.1": [UBLK_6_1]}, timeout=400, kernels=["6.12"]),
    "ublk-bench": dict(
        doc="benchmark, not in CI (bench/homi/ublk.sh): fio 4 KiB randread QD32 on /dev/ublkb0 against the same "
            "namespace through a second controller of the nvme-subsys on the kernel nvme driver",
        iommu=True, disks=[("512M", "raw")], modules=UBLK_MODULES,
        qemu=["-device", "nvme-subsys,id=subsys0",
              "-device", "nvme,serial=aisio0,subsys=subsys0,addr=0x4",
              "-device", "nvme,serial=aisio0,subsys=subsys0,addr=0x5",  # one serial per subsystem
              "-drive", "file={disk0},if=none,id=nvm0,format=raw,cache=unsafe",
              "-device", "nvme-ns,drive=nvm0,nsid=1,shared=on"],
        needs=["tools/aisio", "daemon/homid"], host_needs=["fio"], timeout=300, kernels=["6.12"]),
}


# ---- small helpers -------------------------------------------------------------------------------------------------

def log(msg):
    print(f"vmtest: {msg}", flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw).stdout


def cache_root(source):
    return os.environ.get("AISIO_VM_CACHE", os.path.join(source, ".vmcache"))


def module_name(path_or_name):
    base = os.path.basename(path_or_name)
    for ext in (".ko.xz", ".ko"):
        if base.endswith(ext):
            base = base[:-len(ext)]
            break
    return base.replace("-", "_")


def read_module(path):
    """A module's bytes: 6.12 ships them xz-compressed, which busybox insmod cannot load."""
    with open(path, "rb") as f:
        data = f.read()
    return lzma.decompress(data) if path.endswith(".xz") else data


def modinfo_deps(path):
    """depends= and softdep pre: names from a module's .modinfo strings."""
    data = read_module(path)
    deps = []
    for key in (b"depends=", b"softdep="):
        i = data.find(b"\0" + key)
        if i < 0:
            continue
        val = data[i + 1 + len(key):data.index(b"\0", i + 1)].decode()
        if key == b"depends=":
            deps += [d for d in val.split(",") if d]
        else:
            m = re.search(r"pre:\s*([^:]*?)(?:\s+post:|$)", val)
            if m:
                deps += m.group(1).split()
    return [module_name(d) for d in deps]


def resolve_modules(index, roots):
    """Load order for roots and their dependencies; names not in index (aliases, built-ins) are dropped."""
    order, seen = [], set()

    def visit(name):
        if name in seen or name not in index:
            return
        seen.add(name)
        for d in modinfo_deps(index[name]):
            visit(d)
        order.append(name)

    for r in roots:
        visit(r)
    return order


# ---- kernel ----------------------------------------------------------------------------------------------------

def host_mirror(security=False):
    """The Debian mirror the machine uses, or its security mirror (its own sources are read,
    never changed). AISIO_VM_MIRROR / AISIO_VM_SECURITY_MIRROR override."""
    env = os.environ.get("AISIO_VM_SECURITY_MIRROR" if security else "AISIO_VM_MIRROR")
    if env:
        return env.rstrip("/")
    uris = []
    try:
        with open("/etc/apt/sources.list.d/debian.sources") as f:
            uris += re.findall(r"^URIs:\s*(\S+)", f.read(), re.M)
    except OSError:
        pass
    try:
        with open("/etc/apt/sources.list") as f:
            uris += re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm", f.read(), re.M)
    except OSError:
        pass
    for u in uris:
        if ("security" in u) == security:
            return u.rstrip("/")
    return "http://deb.debian.org/debian-security" if security else "http://deb.debian.org/debian"


class PrivateApt:
    """apt-get and apt-cache over a sources list and state of our own, under the cache folder."""

    def __init__(self, cache, series):
        self.root = os.path.join(cache, "apt", series)
        for d in ("lists/partial", "cache/archives/partial"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        self.sources = os.path.join(self.root, "sources.list")
        keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
        signed = f"[signed-by={keyring}] " if os.path.exists(keyring) else ""
        text = "".join(f"deb {signed}{host_mirror(suite.endswith('-security'))} {suite} main\n"
                       for suite in KERNELS[series]["suites"])
        try:
            with open(self.sources) as f:
                if f.read() != text:
                    os.unlink(os.path.join(self.root, "updated"))  # another mirror: refresh now
        except OSError:
            pass
        with open(self.sources, "w") as f:
            f.write(text)
        status = os.path.join(self.root, "status")
        if not os.path.exists(status):
            open(status, "w").close()
        self.opts = ["-o", f"Dir::Etc::SourceList={self.sources}", "-o", "Dir::Etc::SourceParts=/dev/null",
                     "-o", f"Dir::State::Lists={self.root}/lists", "-o", f"Dir::State::status={status}",
                     "-o", f"Dir::Cache={self.root}/cache", "-o", "Dir::Etc::Preferences=/dev/null",
                     "-o", "Dir::Etc::PreferencesParts=/dev/null", "-o", "APT::Sandbox::User=root",
                     "-o", "Debug::NoLocking=1"]

    def update(self):
        """Refresh the lists when older than APT_REFRESH_S; False when that failed (offline)."""
        stamp = os.path.join(self.root, "updated")
        try:
            if time.time() - os.stat(stamp).st_mtime < APT_REFRESH_S:
                return True
        except OSError:
            pass
        try:
            # --error-on=any: a mirror that cannot be reached is an error, not a warning with exit 0
            # (which would stamp the lists fresh); one retry keeps an offline run quick.
            run(["apt-get", "-q", "-o", "Acquire::Retries=1", "--error-on=any"] + self.opts + ["update"])
        except (OSError, subprocess.CalledProcessError) as e:
            out = (getattr(e, "stdout", "") or str(e)).strip().splitlines()
            errs = [line for line in out if line.startswith(("E:", "W:"))] or out[-1:]
            log(f"apt-get update ({self.sources}) failed: {errs[0] if errs else e}")
            return False
        open(stamp, "w").close()
        return True

    def image_package(self, pattern=None):
        """The newest package whose name matches pattern, else the image package linux-image-amd64
        depends on; None when the lists cannot tell."""
        try:
            if pattern:
                # apt's POSIX regex is only a coarse filter: Python's fullmatch decides
                out = run(["apt-cache"] + self.opts + ["search", "--names-only", "^linux-image-"])
                names = [n for n in re.findall(r"^(\S+) - ", out, re.M) if re.fullmatch(pattern, n)]
                return max(names, key=version_key) if names else None
            out = run(["apt-cache"] + self.opts + ["show", "--no-all-versions", "linux-image-amd64"])
        except (OSError, subprocess.CalledProcessError):
            return None
        m = re.search(r"^Depends:.*?(linux-image-[0-9][^\s,]*)", out, re.M)
        return m.group(1) if m else None

    def download(self, name, cwd):
        run(["apt-get", "-q"] + self.opts + ["download", name], cwd=cwd)


def version_key(name):
    """Sort key of a kernel package or directory name: the numbers of its version (6.1.0-9 <
    6.1.0-57, 6.12.90+deb12 < 6.12.90+deb12.1), the flavour's "-amd64" left out."""
    return [int(n) for n in re.findall(r"[0-9]+", re.sub(r"-amd64$", "", name))]


def has_modules(ready_text, roots):
    """A cache entry's READY line names at least the modules wanted (it may hold more)."""
    return set(roots.split()) <= set(ready_text.split())


def cached_kernel(cache, series, roots):
    """The newest complete kernel of a series already in the cache, or None."""
    best = None
    for ready in glob.glob(os.path.join(cache, f"linux-image-{series}.*", "READY")):
        with open(ready) as f:
            if not has_modules(f.read(), roots):
                continue  # unpacked by a harness that wanted fewer modules
        kdir = os.path.dirname(ready)
        if best is None or version_key(os.path.basename(kdir)) > version_key(os.path.basename(best)):
            best = kdir
    return best


def fetch_kernel(cache, series):
    """Directory holding vmlinuz, modules/<name>.ko and VERSION for the newest kernel of a series."""
    os.makedirs(cache, exist_ok=True)
    roots = " ".join(sorted(CACHED_MODULES))
    with open(os.path.join(cache, ".lock"), "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)  # parallel scenarios share one download
        apt = PrivateApt(cache, series)
        name = apt.image_package(KERNELS[series].get("image")) if apt.update() else None
        if name is None:
            kdir = cached_kernel(cache, series, roots)
            if not kdir:
                raise Skip(f"no {series} kernel: its package cannot be resolved (network or mirror {host_mirror()}?) "
                           f"and {cache} holds none")
            return kdir
        if not name.startswith(f"linux-image-{series}."):
            raise Skip(f"the {series} suite offers {name}, not a {series} kernel")
        kdir = os.path.join(cache, name)
        try:
            with open(os.path.join(kdir, "READY")) as f:
                if has_modules(f.read(), roots):
                    return kdir  # cached, with the modules this version of the harness wants
        except OSError:
            pass
        log(f"fetching {name} into {kdir}")
        tmp = tempfile.mkdtemp(prefix="kernel-", dir=cache)
        try:
            try:
                apt.download(name, tmp)
            except (OSError, subprocess.CalledProcessError) as e:
                out = getattr(e, "stdout", "") or str(e)
                older = cached_kernel(cache, series, roots)  # offline with fresh lists: an older one will do
                if older:
                    log(f"cannot download {name}; using the cached {os.path.basename(older)}")
                    return older
                raise Skip(f"cannot download {name} (network or apt?): {out.strip().splitlines()[-1:]}")
            deb = glob.glob(os.path.join(tmp, "*.deb"))[0]
            run(["dpkg-deb", "-x", deb, os.path.join(tmp, "root")])
            vmlinuz = glob.glob(os.path.join(tmp, "root", "boot", "vmlinuz-*"))[0]
            kmods = (glob.glob(os.path.join(tmp, "root", "lib", "modules", "*", "kernel")) +
                     glob.glob(os.path.join(tmp, "root", "usr", "lib", "modules", "*", "kernel")))[0]
            index = {}
            for d, _, files in os.walk(kmods):
                for f in files:
                    if f.endswith((".ko", ".ko.xz")):
                        index[module_name(f)] = os.path.join(d, f)
            shutil.rmtree(kdir, ignore_errors=True)
            os.makedirs(os.path.join(kdir, "modules"))
            shutil.copy(vmlinuz, os.path.join(kdir, "vmlinuz"))
            wanted = resolve_modules(index, CACHED_MODULES)
            for m in wanted:
                with open(os.path.join(kdir, "modules", m + ".ko"), "wb") as f:
                    f.write(read_module(index[m]))
            with open(os.path.join(kdir, "modules", "deps"), "w") as f:
                for m in wanted:
                    f.write(m + ": " + " ".join(modinfo_deps(index[m])) + "\n")
            with open(os.path.join(kdir, "VERSION"), "w") as f:
                f.write(os.path.basename(vmlinuz)[len("vmlinuz-"):] + "\n")
            with open(os.path.join(kdir, "READY"), "w") as f:
                f.write(roots + "\n")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return kdir


# ---- initramfs -------------------------------------------------------------------------------------------------

class Cpio:
    """newc archive writer: lets us add /dev/console and root-owned files without being root."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.ino = 1
        self.seen = set()

    def _entry(self, name, mode, data=b"", rdev=(0, 0)):
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0))
        self.ino += 1
        blob = hdr.encode() + name.encode() + b"\0"
        blob += b"\0" * (-len(blob) % 4)
        blob += data + b"\0" * (-len(data) % 4)
        self.f.write(blob)

    def dir(self, name):
        parts = name.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            p = "/".join(parts[:i])
            if p not in self.seen:
                self.seen.add(p)
                self._entry(p, stat.S_IFDIR | 0o755)

    def file(self, name, data, mode=0o644):
        name = name.strip("/")
        self.dir(os.path.dirname(name)) if "/" in name else None
        self.seen.add(name)
        self._entry(name, stat.S_IFREG | mode, data)

    def copy(self, name, host_path):
        with open(host_path, "rb") as f:
            data = f.read()
        self.file(name, data, os.stat(host_path).st_mode & 0o777)

    def symlink(self, name, target):
        name = name.strip("/")
        self.dir(os.path.dirname(name))
        self.seen.add(name)
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor):
        name = name.strip("/")
        self.dir(os.path.dirname(name))
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def close(self):
        self._entry("TRAILER!!!", 0)
        self.f.close()


def shared_libs(binary):
    """Host paths of the shared libraries (and the loader) a dynamic binary needs."""
    try:
        out = run(["ldd", binary])
    except subprocess.CalledProcessError:
        return []  # static
    libs = []
    for line in out.splitlines():
        m = re.search(r"(/\S+)", line.split("=>")[-1])
        if m and os.path.exists(m.group(1)):
            libs.append(m.group(1))
    return libs


INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/vmtest/bin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /run /tmp /mnt
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/lock
for m in $(cat /vmtest/modules); do
	insmod /lib/modules/$m.ko 2>/tmp/insmod.err || { echo "@@VMTEST insmod $m failed: $(cat /tmp/insmod.err)"; dmesg | tail -n 3; }
done
echo "@@VMTEST BOOTED $(uname -r)"
cd /vmtest
sh -c '. /vmtest/guest-lib.sh; [ -f /vmtest/env.sh ] && . /vmtest/env.sh; . /vmtest/scenario.sh'
echo "@@VMTEST RESULT $?"
sync
poweroff -f
"""


def build_initramfs(path, kdir, build, scn, script, kos=()):
    c = Cpio(path)
    for d in ("bin", "dev", "proc", "sys", "run", "tmp", "mnt", "lib/modules", "vmtest/bin", "lib64", "etc"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/null", 1, 3)
    c.copy("bin/busybox", "/bin/busybox")
    c.file("init", INIT.encode(), 0o755)
    c.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    index = {module_name(p): p for p in glob.glob(os.path.join(kdir, "modules", "*.ko"))}
    order = resolve_modules(index, BASE_MODULES + scn.get("modules", []))
    for m in order:
        c.copy(f"lib/modules/{m}.ko", index[m])
    c.file("vmtest/modules", ("\n".join(order) + "\n").encode())
    libs = set(shared_libs("/bin/busybox"))  # none for busybox-static
    bins = [os.path.join(build, b) for b in BUILD_BINARIES]
    bins += [p for p in (shutil.which(h) for h in scn.get("host_needs", [])) if p]  # e.g. nvme-cli
    for b in bins:
        if os.path.exists(b):
            c.copy("vmtest/bin/" + os.path.basename(b), b)
            libs.update(shared_libs(b))
    for lib in sorted(libs):
        real = os.path.realpath(lib)
        c.copy(lib.lstrip("/") if lib == real else real.lstrip("/"), real)
        if lib != real:
            c.symlink(lib, real)
    c.copy("vmtest/guest-lib.sh", os.path.join(HERE, "guest-lib.sh"))
    c.copy("vmtest/scenario.sh", script)
    for ko in kos:
        c.copy("vmtest/kmod/" + os.path.basename(ko), ko)
    env = dict(scn.get("env", {}))
    env.update({k: os.environ[k] for k in scn.get("env_from_host", []) if k in os.environ})  # e.g. a loop count
    if env:
        c.file("vmtest/env.sh", "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()).encode())
    c.close()


# ---- disks -----------------------------------------------------------------------------------------------------

def make_disk(path, size, kind):
    with open(path, "wb") as f:
        f.truncate(parse_size(size))
    if kind.startswith("xfs:"):
        fs = kind.split(":", 1)[1]
        mkfs = shutil.which("mkfs.xfs") or "/sbin/mkfs.xfs"
        if not os.path.exists(mkfs):
            raise Skip("mkfs.xfs not installed (xfsprogs)")
        # The file system covers only the start of the namespace: the rest is free for raw writes.
        # (xfsprogs 6.x makes no file system under 300 MiB.)
        try:
            run([mkfs, "-q", "-f", "-d", f"size={fs}", path])
        except subprocess.CalledProcessError as e:
            raise RuntimeError(f"mkfs.xfs -d size={fs} failed: {e.stdout.strip().splitlines()[:1]}")


def parse_size(s):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(s[:-1]) * units[s[-1]] if s[-1] in units else int(s)


# ---- boot and judge ------------------------------------------------------------------------------------------

def boot(kdir, initrd, scn, files, timeout, logpath):
    qemu = shutil.which("qemu-system-x86_64")
    # no_timer_check: on a loaded host the boot-time timer check fails under TCG and, with
    # interrupt remapping (intel-iommu), panics the kernel.
    append = "console=ttyS0 quiet panic=-1 rdinit=/init no_timer_check"
    args = [qemu, "-M", "q35", "-accel", "tcg", "-cpu", "max", "-m", scn.get("mem", "2G"), "-smp", "2",
            "-nodefaults", "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
            "-kernel", os.path.join(kdir, "vmlinuz"), "-initrd", initrd]
    if scn["iommu"]:
        # "pt": kernel drivers (and uio) keep identity mappings; vfio still gets its own domain.
        append += " intel_iommu=on " + ("iommu=pt" if scn["iommu"] == "pt" else "iommu=nopt")
        args += ["-device", "intel-iommu"]
    args += ["-append", append]
    args += [a.format(**files) for a in scn["qemu"]]
    start = time.monotonic()
    with open(logpath, "w") as logf:
        logf.write("# " + " ".join(args) + "\n")
        logf.flush()
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
        try:
            rc = p.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rc, timed_out = None, True
    with open(logpath, errors="replace") as f:
        text = f.read().replace("\r", "")
    return text, rc, timed_out, time.monotonic() - start


def judge(text, rc, timed_out, timeout, series):
    """None when the guest ran the scenario to a pass, else why not."""
    m = re.search(r"^@@VMTEST RESULT (\d+)", text, re.M)
    booted = re.search(r"^@@VMTEST BOOTED (\S+)", text, re.M)
    insmod = re.findall(r"^@@VMTEST insmod .*$", text, re.M)
    if timed_out:
        return f"the guest did not power off within {timeout} s"
    if not booted:
        return f"the guest did not boot (qemu exit {rc})"
    if not booted.group(1).startswith(series + "."):
        return f"the guest booted kernel {booted.group(1)}, not {series}"
    if insmod:
        return insmod[0][len("@@VMTEST "):]  # a module the scenario needs did not load
    if not m:
        return f"the guest stopped before the scenario finished (qemu exit {rc})"
    if m.group(1) != "0":
        fail = re.findall(r"^@@VMTEST FAILED.*$", text, re.M)
        return fail[-1][len("@@VMTEST "):] if fail else f"scenario script exited {m.group(1)}"
    return None


def run_scenario(name, build, source, keep, timeout, series):
    scn = SCENARIOS[name]
    for b in scn.get("needs", []):
        if not os.path.exists(os.path.join(build, b)):
            raise Skip(f"{b} is not built")
    for h in scn.get("host_needs", []):
        if not shutil.which(h):
            raise Skip(f"{h} is not installed on the host")
    if not shutil.which("qemu-system-x86_64"):
        raise Skip("qemu-system-x86_64 not installed (qemu-system-x86)")
    if not os.path.exists("/bin/busybox"):
        raise Skip("/bin/busybox (busybox-static) not installed")
    for tool in ("apt-get", "dpkg-deb", "ldd"):
        if not shutil.which(tool):
            raise Skip(f"{tool} not found")
    script = os.path.join(HERE, "scenarios", scn.get("script", name) + ".sh")
    kdir = fetch_kernel(cache_root(source), series)
    logdir = os.path.join(build, "tests", "vm", "logs")
    os.makedirs(logdir, exist_ok=True)
    label = test_label(name, series)
    work = tempfile.mkdtemp(prefix=f"{label}-", dir=logdir)
    logpath = os.path.join(logdir, label[len("vm-"):] + ".log")
    # QEMU 7.2's TCG now and then crashes itself (SIGSEGV) or the guest kernel before it
    # reaches our init (a double fault in early boot) on a loaded host. Neither is the
    # code under test: such a run is repeated once, on fresh disks, and says so.
    try:
        kos = build_kmods(scn, source, kdir, series, os.path.join(work, "kmod"))  # own folder: scenarios run in parallel
        for attempt in (1, 2):
            files = {}
            for i, (size, kind) in enumerate(scn.get("disks", [])):
                d = os.path.join(work, f"disk{i}.img")
                make_disk(d, size, kind)
                files[f"disk{i}"] = d
            if scn.get("shm"):
                files["shm"] = os.path.join(work, "shm.img")
                make_disk(files["shm"], scn["shm"], "raw")
            initrd = os.path.join(work, "initrd.cpio")
            build_initramfs(initrd, kdir, build, scn, script, kos)
            text, rc, timed_out, secs = boot(kdir, initrd, scn, files, timeout or scn["timeout"], logpath)
            why = judge(text, rc, timed_out, timeout or scn["timeout"], series)
            if why is None and scn.get("host_check"):
                why = scn["host_check"](files)
            booted = re.search(r"^@@VMTEST BOOTED", text, re.M)
            emulator_fault = not timed_out and ((rc is not None and rc < 0) or not booted)
            known_oops = bool(scn.get("known_oops")) and bool(re.search(r"(Oops|BUG):", text)) and bool(
                re.search(scn["known_oops"], text))
            known_kernel = bool(scn.get("known_kernel")) and bool(re.search(scn["known_kernel"], text))
            if why is None or not (emulator_fault or known_oops or known_kernel) or attempt == 2:
                break
            shutil.copy(logpath, logpath + ".attempt1")
            what = (f"the guest kernel's known oops ({scn['known_oops']})" if known_oops else
                    f"the guest kernel's known failure ({scn['known_kernel']})" if known_kernel else "an emulator fault")
            log(f"{label}: {why}: {what}, not a test result; running it again "
                f"(first console log kept in {logpath}.attempt1)")
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return why, secs, text, logpath


def build_kmods(scn, source, kdir, series, out):
    """The scenario's kernel modules built for the guest kernel in kdir (kbuild.py)."""
    linux = scn.get("linux_kmods", {}).get(series, [])
    if not scn.get("kmods") and not linux:
        return []
    import kbuild  # imports this module: only when a scenario needs it
    with open(os.path.join(kdir, "VERSION")) as f:
        release = f.read().strip()
    kos = []
    try:
        for src in scn.get("kmods", []):
            kos += kbuild.build(series, os.path.join(source, src), out)
        for member, after_includes, append in linux:
            kos += kbuild.build_linux_module(series, member, out, append=append, after_includes=after_includes)
    except kbuild.vmtest.Skip as e:  # kbuild's copy of this module
        raise Skip(str(e))
    wrong = [k for k in kos if f"/{release}/" not in k]
    if wrong:
        raise RuntimeError(f"modules built for another kernel than the guest's {release}: {wrong}")
    return kos


def test_label(name, series):
    """The name a scenario's result goes by: vm-NAME on the default kernel, vm-NAME-SERIES on another."""
    return f"vm-{name}" if series == DEFAULT_KERNELS[0] else f"vm-{name}-{series}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.environ.get("AISIO_BUILD_ROOT", "build"))
    ap.add_argument("--source", default=os.environ.get("AISIO_SOURCE_ROOT", os.path.dirname(os.path.dirname(HERE))))
    ap.add_argument("--keep", action="store_true", help="keep the initramfs and disk images")
    ap.add_argument("--timeout", type=int, default=0, help="seconds the guest may run (default: per scenario)")
    ap.add_argument("--kernel", choices=sorted(KERNELS) + ["both"],
                    help="guest kernel (default: each scenario's own list)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("scenarios", nargs="*")
    a = ap.parse_args()
    if a.list or not a.scenarios:
        for n, s in SCENARIOS.items():
            print(f"{n:12} [{','.join(s.get('kernels', DEFAULT_KERNELS))}] {s['doc']}")
        return 0
    build = os.path.abspath(a.build)
    passed = failed = skipped = 0
    runs = []
    for name in a.scenarios:
        if name not in SCENARIOS:
            print(f"vmtest: unknown scenario '{name}' (see --list)", file=sys.stderr)
            return 2
        kernels = SCENARIOS[name].get("kernels", DEFAULT_KERNELS)
        if a.kernel:
            kernels = sorted(KERNELS) if a.kernel == "both" else [a.kernel]
        runs += [(name, k) for k in kernels]
    for name, series in runs:
        label = test_label(name, series)
        start = time.monotonic()
        try:
            why, secs, text, logpath = run_scenario(name, build, os.path.abspath(a.source), a.keep, a.timeout,
                                                    series)
        except Skip as e:
            print(f"{label}: skipped ({e})", flush=True)
            skipped += 1
            continue
        except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
            print(f"{label}: failed ({time.monotonic() - start:.1f} s): setting up the guest: {e}", flush=True)
            failed += 1
            continue
        total = time.monotonic() - start
        if why is None:
            print(f"{label}: passed ({total:.1f} s, guest {secs:.1f} s)", flush=True)
            passed += 1
        else:
            print(f"---- guest log of {label} ({logpath}) ----")
            print(text)
            print(f"---- end of guest log ----")
            print(f"{label}: failed ({total:.1f} s): {why}", flush=True)
            failed += 1
    if failed:
        return 1
    return SKIP if skipped and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
