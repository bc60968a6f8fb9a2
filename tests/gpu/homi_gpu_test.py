#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""gpu-homi: homid serving a GPU-resident device (gpuemu, engine=gpu) to GPU clients in other processes.

The real daemon and real client processes on one GPU: each client (`aisio perf cuda-verify|cuda-run
homi:g0`) places its rings, PRP lists and buffers in its own GPU memory, registers them by CUDA IPC
handle, and its GPU threads drive the queues; the daemon's engine kernel serves them. Steps:
  1. one client verifies (writes, reads back, GPU-checked), 0 mismatches
  2. two clients at once on disjoint ranges, the thread and the warp API
  3. kill -9 of a client mid-I/O: its queues and imports taken back; a new client verifies
  4. refusals on the raw protocol: a made-up IPC handle, a real one claiming more than its allocation,
     rings outside a region, a memfd for a GPU device, GPU_INFO of nothing;
     the daemon keeps serving
  5. a gpuemu device with engine=cpu is refused at start; SIGTERM stops the daemon (exit 0)

usage: homi_gpu_test.py    (binaries from $AISIO_BUILD_ROOT; exit 77 without a usable GPU)
"""
import ctypes
import errno
import glob
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "homi"))
from homi_test import (AISIO, HOMID, Conn, Fail, ok, qids_of, refused, run_scenario,  # noqa: E402
                       sealed_memfd, wait_until)

UNREG_MEM, REG_GPU_MEM, GPU_INFO = 4, 9, 10
REG_GPU_RQ = struct.Struct("<IIQ64s")   # dev, reserved, len, handle
GPU_INFO_RP = struct.Struct("<64sQII64s")  # bar handle, bar_len, dstrd, ns_type, gpu
assert (REG_GPU_RQ.size, GPU_INFO_RP.size) == (80, 144)
VERIFY_LINE = "mismatches 0, failed 0"
DEVICE = "gpuemu:hbm:1G,sms=4,qpairs=32,mqes=1023"


def verify(sc, d, name, extra, timeout=120):
    rc, out = sc.aisio(name, ["perf", "cuda-verify", "--iosize", "128K", "--size", "64M"] + extra + [d.dev("g0")],
                       timeout=timeout)
    if rc != 0 or VERIFY_LINE not in out:
        raise Fail(f"cuda-verify {' '.join(extra)}: exit {rc}:\n{out}")
    line = [x for x in out.splitlines() if x.startswith("verified")][0]
    lat = [x for x in out.splitlines() if x.startswith("latency")]
    print(f"  {name}: {line}; {lat[0] if lat else ''}", flush=True)
    return out


def cuda_allocation(size):
    """A cudaMalloc allocation of this process and its CUDA IPC handle (libcudart through ctypes)."""
    names = sorted(glob.glob("/usr/local/cuda/lib64/libcudart.so*") +
                   glob.glob("/usr/local/cuda/targets/*/lib/libcudart.so*"))
    if not names:
        raise Fail("no libcudart.so for the IPC handle checks")
    rt = ctypes.CDLL(names[0])
    p = ctypes.c_void_p()
    if rt.cudaMalloc(ctypes.byref(p), ctypes.c_size_t(size)) != 0:
        raise Fail("cudaMalloc failed")
    h = ctypes.create_string_buffer(64)
    if rt.cudaIpcGetMemHandle(h, p) != 0:
        raise Fail("cudaIpcGetMemHandle failed")
    return rt, p, h.raw


def scenario(sc):
    d = sc.daemon("gpu", [("g0", DEVICE, "")])
    d.start()
    st = d.status()
    ok(st["devices"][0]["kind"] == "gpuemu", "status: g0 is a gpuemu device")

    t = time.monotonic()
    verify(sc, d, "one", ["--nqueues", "4", "--qdepth", "64"])
    ok(True, f"1. one client verified through homi:g0 in {time.monotonic() - t:.1f} s")

    t = time.monotonic()
    a = sc.client("two-a", ["perf", "cuda-verify", "--iosize", "128K", "--size", "64M", "--offset", "0",
                            "--nqueues", "4", "--qdepth", "64", "--api", "thread", d.dev("g0")])
    b = sc.client("two-b", ["perf", "cuda-verify", "--iosize", "128K", "--size", "64M", "--offset", "512M",
                            "--nqueues", "4", "--qdepth", "64", "--api", "warp", d.dev("g0")])
    for p in (a, b):
        p.wait(180)
        out = sc.output(p)
        if p.returncode != 0 or VERIFY_LINE not in out:
            raise Fail(f"{p.log_name}: exit {p.returncode}:\n{out}")
        print(f"  {p.log_name}: " + [x for x in out.splitlines() if x.startswith("verified")][0], flush=True)
    ok(True, f"2. two clients at once on disjoint ranges (thread, warp API) in {time.monotonic() - t:.1f} s")

    base = d.status()["reclaimed_qpairs"]
    p = sc.client("killed", ["perf", "cuda-run", "--runtime", "60", "--iosize", "4K", "--nqueues", "4",
                             "--qdepth", "64", d.dev("g0")])
    wait_until(lambda: len(qids_of(d.status(), p.pid)) == 4, 60, "the cuda-run client holds 4 queue pairs",
               step=0.1)
    time.sleep(2)
    ok(p.poll() is None, "the cuda-run client is doing I/O")
    p.kill()
    p.wait()
    st = wait_until(lambda: (lambda s: s if not s["qpairs"] and all(c["pid"] != p.pid for c in s["clients"])
                             else None)(d.status()), 30, "the killed client's queue pairs gone")
    ok(st["reclaimed_qpairs"] == base + 4, f"3. kill -9: reclaimed_qpairs {base} -> {st['reclaimed_qpairs']}")
    verify(sc, d, "after-kill", ["--nqueues", "4", "--qdepth", "64", "--offset", "128M"])
    ok(True, "   a new client verifies after the kill")

    c = Conn(d.socket)
    msg = refused(errno.EINVAL, c.call, REG_GPU_MEM, REG_GPU_RQ.pack(0, 0, 2 << 20, os.urandom(64)))
    ok(True, f"4. REG_GPU_MEM with a made-up handle refused: {msg}")
    rt, ptr, handle = cuda_allocation(2 << 20)
    msg = refused(errno.EINVAL, c.call, REG_GPU_MEM, REG_GPU_RQ.pack(0, 0, 4 << 20, handle))
    ok(True, f"   REG_GPU_MEM claiming 4 MiB of a 2 MiB allocation refused: {msg}")
    body, _ = c.call(REG_GPU_MEM, REG_GPU_RQ.pack(0, 0, 2 << 20, handle))
    mem_id, _, iova = struct.unpack("<IIQ", body)
    ok(iova != 0, f"   the 2 MiB of it registered: region {mem_id} at bus address {iova:#x}")
    msg = refused(errno.EINVAL, c.grant, 0, 1, 64, mem_id, 4 << 20, (4 << 20) + 4096)
    ok(True, f"   rings outside the region refused: {msg}")
    c.call(UNREG_MEM, struct.pack("<II", mem_id, 0))
    rt.cudaFree(ptr)
    fd = sealed_memfd(1 << 20)
    msg = refused(errno.EINVAL, c.reg_mem, 0, fd, 1 << 20)
    os.close(fd)
    ok(True, f"   REG_MEM (a memfd) for the GPU device refused: {msg}")
    msg = refused(errno.ENODEV, c.call, GPU_INFO, struct.pack("<II", 7, 0))
    ok(True, f"   GPU_INFO of device 7 refused: {msg}")
    body, _ = c.call(GPU_INFO, struct.pack("<II", 0, 0))
    _, bar_len, dstrd, ns_type, gpu = GPU_INFO_RP.unpack(body)
    gpu = gpu.split(b"\0")[0].decode()
    ok(bar_len > 0 and ns_type == 3, f"   GPU_INFO: BAR of {bar_len} bytes, dstrd {dstrd}, hbm namespace, {gpu}")
    c.close()
    verify(sc, d, "after-refusals", ["--nqueues", "2", "--qdepth", "32", "--api", "async"])
    ok(True, "   the daemon still serves")
    d.stop()

    e = sc.daemon("cpu", [("g1", "gpuemu:host:16M,engine=cpu", "")])
    proc = e.start(wait=False)
    try:
        rc = proc.wait(60)
    except subprocess.TimeoutExpired:
        raise Fail("homid with an engine=cpu gpuemu device did not refuse it")
    ok(rc != 0 and "only engine=gpu" in e.log_text(), f"5. engine=cpu refused at start (exit {rc})")


def main():
    for b in (HOMID, AISIO):
        if not os.access(b, os.X_OK):
            print(f"SKIP: {b} is not built")
            return 77
    probe = subprocess.run([AISIO, "perf", "cuda-verify", "--size", "1M", "gpuemu:hbm:16M"], capture_output=True,
                           text=True, timeout=120)
    if probe.returncode == 3 or "built without CUDA" in probe.stderr:
        print(f"SKIP: {probe.stderr.strip()}")
        return 77
    return run_scenario("gpu", scenario)


if __name__ == "__main__":
    sys.exit(main())
