#!/usr/bin/env python3
"""Out-of-tree kernel modules built against a guest kernel's exact headers.

usage: tests/vm/kbuild.py [--out DIR] [--kernel 6.1|6.12|both] SRC_DIR...
       (as a library: kbuild.build(kernel, src_dir) -> list of .ko paths)

The headers come from Debian's packages for the same kernel release vmtest.py boots
(linux-headers-<release>, its -common package and linux-kbuild-<x.y>), fetched with
vmtest.py's private apt configuration and unpacked with `dpkg-deb -x` into
.vmcache/headers/<release>/ (git-ignored, shared by every build). The flavour package's
Makefile includes the -common tree by its absolute /usr/src path: that one line is
pointed at the unpacked copy; its scripts/tools links are relative and work as they are.

In-tree drivers a Debian kernel does not ship (6.1's ublk_drv, udmabuf as a module) build the
same way from one file of Debian's linux-source-<x.y> package (build_linux_module): the package
is fetched once, its tarball kept in .vmcache/source/, and the files asked for extracted next
to it; only that file and a one-line Kbuild are compiled.

SRC_DIR holds a Kbuild file and its sources; it is copied to OUT/<release>/<name>/ and
built there with `make -C <headers> M=<copy> AISIO_SOURCE=<repository> modules` (Kbuild
files find the shared uapi headers through AISIO_SOURCE), so the source tree stays clean.
No BTF is generated for the modules (it needs pahole and the kernel's vmlinux; loading does not).
Nothing is loaded here: the modules are for the guest only.
"""
import argparse
import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmtest  # noqa: E402  (its private apt, cache folder and version order)

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def kernel_release(cache, series):
    """The release (e.g. 6.1.0-57-amd64) vmtest.py boots for a series: the same image package
    it resolves, else (offline) the newest release whose headers are cached."""
    apt = vmtest.PrivateApt(cache, series)
    name = apt.image_package(vmtest.KERNELS[series].get("image")) if apt.update() else None
    if name:
        return name[len("linux-image-"):], apt
    cached = [os.path.basename(os.path.dirname(r))
              for r in glob.glob(os.path.join(cache, "headers", f"{series}.*", "READY"))]
    if not cached:
        raise vmtest.Skip(f"no {series} kernel headers: the package cannot be resolved and none are cached")
    return max(cached, key=vmtest.version_key), None


def fetch_headers(cache, series):
    """The build directory (usr/src/linux-headers-<release>) for a series' guest kernel."""
    release, apt = kernel_release(cache, series)
    hdir = os.path.join(cache, "headers", release)
    kdir = os.path.join(hdir, "root", "usr", "src", f"linux-headers-{release}")
    os.makedirs(os.path.join(cache, "headers"), exist_ok=True)
    with open(os.path.join(cache, ".lock"), "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(hdir, "READY")):
            return kdir, release
        if apt is None:
            raise vmtest.Skip(f"headers of {release} not cached and no package lists")
        flavour = f"linux-headers-{release}"
        info = vmtest.run(["apt-cache"] + apt.opts + ["show", "--no-all-versions", flavour])
        deps = re.search(r"^Depends:(.*)$", info, re.M).group(1)
        names = [flavour] + re.findall(r"(linux-headers-[^\s,]+-common|linux-kbuild-[^\s,]+)", deps)
        vmtest.log(f"fetching {' '.join(names)} into {hdir}")
        tmp = tempfile.mkdtemp(prefix="headers-", dir=os.path.join(cache, "headers"))
        try:
            for n in names:
                apt.download(n, tmp)
            for deb in glob.glob(os.path.join(tmp, "*.deb")):
                vmtest.run(["dpkg-deb", "-x", deb, os.path.join(tmp, "root")])
                os.unlink(deb)
            mk = os.path.join(tmp, "root", "usr", "src", flavour, "Makefile")
            with open(mk) as f:
                text = f.read()
            # "include /usr/src/linux-headers-X-common/Makefile": the unpacked copy, not the host's
            with open(mk, "w") as f:
                f.write(re.sub(r"^include /usr/src/", f"include {hdir}/root/usr/src/", text, flags=re.M))
            shutil.rmtree(hdir, ignore_errors=True)
            os.rename(tmp, hdir)
            open(os.path.join(hdir, "READY"), "w").close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return kdir, release


def build(kernel, src_dir, out_dir=None, cache=None):
    """Build the modules of src_dir (a Kbuild file and its sources) for a guest kernel series
    ("6.1", "6.12"); returns the paths of the .ko files. Raises vmtest.Skip when the headers
    cannot be had, RuntimeError with the compiler's output when the build fails."""
    cache = cache or vmtest.cache_root(SOURCE)
    out_dir = out_dir or os.path.join(os.environ.get("AISIO_BUILD_ROOT", os.path.join(SOURCE, "build")), "kmod")
    kdir, release = fetch_headers(cache, kernel)
    dest = os.path.join(os.path.abspath(out_dir), release, os.path.basename(os.path.abspath(src_dir)))
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(src_dir, dest)
    p = subprocess.run(["make", "-C", kdir, f"M={dest}", f"AISIO_SOURCE={SOURCE}",
                        "CONFIG_DEBUG_INFO_BTF_MODULES=", "modules"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"building {src_dir} for {release} failed:\n{p.stdout}")
    warnings = [line for line in p.stdout.splitlines() if "warning:" in line]
    if warnings:
        raise RuntimeError(f"building {src_dir} for {release} gave warnings:\n" + "\n".join(warnings))
    return sorted(glob.glob(os.path.join(dest, "**", "*.ko"), recursive=True))


def linux_source(kernel, member, cache=None):
    """The path of one file of the kernel source (e.g. drivers/block/ublk_drv.c) from Debian's
    linux-source-<series> package, extracted once into .vmcache/source/<package>_<version>/."""
    cache = cache or vmtest.cache_root(SOURCE)
    pkg = f"linux-source-{kernel}"
    apt = vmtest.PrivateApt(cache, kernel)
    version = None
    if apt.update():
        try:
            info = vmtest.run(["apt-cache"] + apt.opts + ["show", "--no-all-versions", pkg])
            version = re.search(r"^Version:\s*(\S+)", info, re.M).group(1)
        except (subprocess.CalledProcessError, AttributeError):
            pass
    root = os.path.join(cache, "source")
    os.makedirs(root, exist_ok=True)
    if version is None:  # offline: the newest one cached
        cached = sorted(glob.glob(os.path.join(root, f"{pkg}_*", "linux-source.tar.xz")),
                        key=lambda p: vmtest.version_key(os.path.basename(os.path.dirname(p))))
        if not cached:
            raise vmtest.Skip(f"no {pkg}: the package cannot be resolved and none is cached")
        sdir = os.path.dirname(cached[-1])
    else:
        sdir = os.path.join(root, f"{pkg}_{version}")
    tarball = os.path.join(sdir, "linux-source.tar.xz")
    path = os.path.join(sdir, member)
    with open(os.path.join(cache, ".lock"), "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        if os.path.exists(path):
            return path
        if not os.path.exists(tarball):
            vmtest.log(f"fetching {pkg} {version} into {sdir}")
            tmp = tempfile.mkdtemp(prefix="source-", dir=root)
            try:
                apt.download(pkg, tmp)
                deb = glob.glob(os.path.join(tmp, "*.deb"))[0]
                # the package holds one tarball: take it out without unpacking the rest
                with open(os.path.join(tmp, "fs.tar"), "wb") as f:
                    subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], stdout=f, check=True)
                vmtest.run(["tar", "-xf", os.path.join(tmp, "fs.tar"), "-C", tmp, "--wildcards",
                            "./usr/src/linux-source-*.tar.xz"])
                os.makedirs(sdir, exist_ok=True)
                os.rename(glob.glob(os.path.join(tmp, "usr", "src", "linux-source-*.tar.xz"))[0], tarball)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        top = f"linux-source-{kernel}"
        vmtest.run(["tar", "-xJf", tarball, "-C", sdir, "--strip-components=1", f"{top}/{member}"])
    return path


def build_linux_module(kernel, member, out_dir=None, cache=None, append="", after_includes=""):
    """An in-tree driver the guest kernel lacks, built out of tree from its one source file
    member of the series' linux-source (e.g. drivers/dma-buf/udmabuf.c), with after_includes
    put after its last #include (stand-ins for symbols a module cannot reach) and append at its
    end (e.g. MODULE_IMPORT_NS(DMA_BUF);); returns the .ko paths as build() does."""
    src = linux_source(kernel, member, cache)
    name = os.path.splitext(os.path.basename(member))[0]
    out_dir = out_dir or os.path.join(os.environ.get("AISIO_BUILD_ROOT", os.path.join(SOURCE, "build")), "kmod")
    gen = os.path.join(os.path.abspath(out_dir), "src", kernel, name)
    shutil.rmtree(gen, ignore_errors=True)
    os.makedirs(gen)
    with open(src) as f:
        text = f.read()
    if after_includes:
        last = [m.end() for m in re.finditer(r"^#include .*$", text, re.M)][-1]
        text = text[:last] + "\n" + after_includes + "\n" + text[last:]
    with open(os.path.join(gen, name + ".c"), "w") as f:
        f.write(text + ("\n" + append + "\n" if append else ""))
    with open(os.path.join(gen, "Kbuild"), "w") as f:
        f.write(f"obj-m += {name}.o\n")
    return build(kernel, gen, out_dir, cache)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="output folder (default: $AISIO_BUILD_ROOT/kmod or build/kmod)")
    ap.add_argument("--kernel", choices=sorted(vmtest.KERNELS) + ["both"], default="both")
    ap.add_argument("src", nargs="+")
    a = ap.parse_args()
    kernels = sorted(vmtest.KERNELS) if a.kernel == "both" else [a.kernel]
    rc = 0
    for k in kernels:
        for s in a.src:
            try:
                kos = build(k, s, a.out)
                print(f"kbuild {k} {s}: " + " ".join(os.path.relpath(x) for x in kos), flush=True)
            except vmtest.Skip as e:
                print(f"kbuild {k} {s}: skipped ({e})", flush=True)
                rc = rc or vmtest.SKIP
            except RuntimeError as e:
                print(f"kbuild {k} {s}: failed: {e}", flush=True)
                rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
