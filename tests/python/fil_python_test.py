# SPDX-License-Identifier: BSD-3-Clause
"""aisio.fil (python/): batches through numpy.from_dlpack, zero copy, the buffer's lifetime,
both DLPack capsules, errors, shuffle, shards, resume. Needs numpy (Debian: python3-numpy);
PYTHONPATH names the build's python/ and the source's python/ (tests/python/meson.build).
"""
import ctypes
import errno
import gc
import os
import random
import shutil
import sys
import tempfile
import threading
import time

SKIP = 77
try:
    import numpy
except ImportError as e:
    print(f"skip: numpy is not installed for {sys.executable} ({e}); Debian: apt-get install python3-numpy")
    sys.exit(SKIP)

import aisio.fil
from aisio import _fil

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def raises(exc, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc as e:
        return e
    except Exception as e:  # the wrong kind
        print(f"     got {type(e).__name__}: {e}")
        return None
    return None


def make_dataset(root, classes=3, per_class=12, seed=7):
    rnd = random.Random(seed)
    for c in range(classes):
        d = os.path.join(root, f"class{c}")
        os.makedirs(d)
        for i in range(per_class):
            n = 0 if (c, i) == (1, 2) else rnd.randint(1, 9000)
            with open(os.path.join(d, f"f{i:03d}.bin"), "wb") as f:
                f.write(rnd.randbytes(n))


def expected(root):
    out = {}
    for c, name in enumerate(sorted(os.listdir(root))):
        for fn in sorted(os.listdir(os.path.join(root, name))):
            p = os.path.join(root, name, fn)
            with open(p, "rb") as f:
                out[p] = (c, f.read())
    return out


def check_batches(ds, want, what):
    """Every file's bytes at its offset and length, its label; every file once."""
    seen, ok = [], True
    for b in ds:
        x = numpy.from_dlpack(b)
        ok &= x.dtype == numpy.uint8 and x.shape == (b.data_len,) and x.ctypes.data == b.data_ptr
        for o, n, lab, p in zip(b.offsets, b.lengths, b.labels, b.paths):
            ok &= x[o:o + n].tobytes() == want[p][1] and lab == want[p][0]
            seen.append(p)
    check(ok and sorted(seen) == sorted(want), f"{what}: {len(seen)} files byte-identical, labels, zero copy")
    return seen


# ctypes views of the DLPack structs, written from the spec apart from python/dlpack_abi.h: the
# test consumes a versioned capsule as a 1.x consumer would (numpy 1.24 takes only the 0.x one).
class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32),
                ("ndim", ctypes.c_int32), ("code", ctypes.c_uint8), ("bits", ctypes.c_uint8),
                ("lanes", ctypes.c_uint16), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class DLManagedTensorVersioned(ctypes.Structure):
    pass


DELETER = ctypes.CFUNCTYPE(None, ctypes.POINTER(DLManagedTensorVersioned))
DLManagedTensorVersioned._fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32),
                                     ("manager_ctx", ctypes.c_void_p), ("deleter", DELETER),
                                     ("flags", ctypes.c_uint64), ("dl_tensor", DLTensor)]

api = ctypes.pythonapi
api.PyCapsule_GetName.restype = ctypes.c_char_p
api.PyCapsule_GetName.argtypes = [ctypes.py_object]
api.PyCapsule_GetPointer.restype = ctypes.c_void_p
api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
api.PyCapsule_SetName.restype = ctypes.c_int
api.PyCapsule_SetName.argtypes = [ctypes.py_object, ctypes.c_char_p]


def with_timeout(fn, seconds, what):
    """Run fn on a thread; a hang is a failure, not a stuck test."""
    box = {}

    def run():
        try:
            box["v"] = fn()
        except Exception as e:
            box["e"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        check(False, f"{what}: still running after {seconds} s")
        return None
    if "e" in box:
        check(False, f"{what}: {type(box['e']).__name__}: {box['e']}")
        return None
    return box["v"]


def main():
    work = tempfile.mkdtemp(prefix="fil-python-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None)
    try:
        root = os.path.join(work, "ds")
        make_dataset(root)
        want = expected(root)

        # The README's example, as written there.
        ds = aisio.fil.Dataset(root, backend="posix-direct", batch_size=8)
        n = 0
        for b in ds:
            x = numpy.from_dlpack(b)
            n += len(b.paths)
        check(n == len(want) and ds.files == len(want) and ds.classes == 3 and len(ds) == 5,
              f"README example: {n} files in {len(ds)} batches")
        del b, x, ds

        for backend in ("posix", "posix-buffered", "posix-direct") + (() if os.environ.get("AISIO_HAVE_URING") == "0" else ("posix-uring",)):
            ds = aisio.fil.Dataset(root, backend=backend, batch_size=5, verify=True, threads=2)
            check_batches(ds, want, f"{backend} verify")
            st = ds.stats()
            check(st["files"] == len(want) and st["batches_failed"] == 0, f"{backend}: stats {st}")

        # Zero copy, lifetime: the buffer outlives the Batch while an array lives.
        ds = aisio.fil.Dataset(root, batch_size=4, batches_in_flight=2, timeout_ms=5000)
        check(ds.next().__dlpack_device__() == (1, 0), "__dlpack_device__ is (kDLCPU, 0)")
        gc.collect()
        check(ds.held == 0, "a Batch nobody keeps goes back to the pool")
        b = ds.next()
        ptr, content = b.data_ptr, bytes(numpy.from_dlpack(b))
        x = numpy.from_dlpack(b)
        check(x.ctypes.data == ptr, "numpy's array is the batch buffer (data pointer)")
        del b
        gc.collect()
        check(ds.held == 1 and x.tobytes() == content, "the buffer stays while the array lives (Batch deleted)")
        # With K=2 and this array held, one more batch can be taken, not two.
        b2 = ds.next()
        e = raises(BufferError, ds.next)
        check(e is not None and "held" in str(e), f"all buffers held: BufferError, no wait ({e})")
        check(x.tobytes() == content, "the held buffer was not refilled")
        del x
        gc.collect()
        check(ds.held == 1, "array gone, Batch gone: the buffer is back in the pool")
        b3 = ds.next()
        check(b3 is not None and b3.index == 12, "and the next batch comes out of it")
        del b2, b3

        # Iterating on with K=2 works only if buffers come back: bounded, no deadlock.
        def run_epochs():
            ds2 = aisio.fil.Dataset(root, batch_size=3, batches_in_flight=2, timeout_ms=5000, shuffle=True)
            files = 0
            for _ in range(3):
                for b in ds2:
                    x = numpy.from_dlpack(b)
                    files += len(b.lengths)
                    assert x.ctypes.data == b.data_ptr
                # b and x of the epoch's last batch are alive here: the next epoch starts anyway
            return files, ds2.position
        r = with_timeout(run_epochs, 60, "three epochs with batches_in_flight=2")
        if r:
            check(r[0] == 3 * len(want) and r[1] == (2, len(want)),
                  f"three epochs with batches_in_flight=2: {r[0]} files, position {r[1]}")

        # The versioned capsule: produced when max_version >= (1, 0), consumed here by hand.
        b = ds.next()
        held0 = ds.held
        cap = b.__dlpack__(max_version=(1, 0))
        check(api.PyCapsule_GetName(cap) == b"dltensor_versioned" and _fil.capsule_name(cap) == "dltensor_versioned",
              "max_version=(1, 0): a dltensor_versioned capsule")
        t = _fil.capsule_tensor(cap)
        check(t["version"] == (1, 0) and t["device_type"] == 1 and t["ndim"] == 1 and t["code"] == 1 and
              t["bits"] == 8 and t["shape0"] == b.data_len and t["data"] == b.data_ptr and t["flags"] == 0,
              f"versioned tensor: {t}")
        m = DLManagedTensorVersioned.from_address(api.PyCapsule_GetPointer(cap, b"dltensor_versioned"))
        dl = m.dl_tensor
        got = ctypes.string_at(dl.data + dl.byte_offset, dl.shape[0])
        check(got == bytes(numpy.from_dlpack(b)) and dl.strides[0] == 1, "ctypes consumer reads the same bytes")
        api.PyCapsule_SetName(cap, b"used_dltensor_versioned")  # consumed: the deleter is ours to call
        deleter, mptr = m.deleter, ctypes.pointer(m)
        del cap
        gc.collect()
        check(ds.held == held0, "a consumed capsule keeps the buffer until its deleter runs")
        del b
        gc.collect()
        check(ds.held == held0, "... even with the Batch gone")
        deleter(mptr)
        check(ds.held == held0 - 1, "the deleter gives the buffer back")
        b = ds.next()
        cap = b.__dlpack__()
        check(api.PyCapsule_GetName(cap) == b"dltensor", "no max_version: the legacy dltensor capsule")
        cap0 = b.__dlpack__(max_version=(0, 8))
        check(_fil.capsule_name(cap0) == "dltensor", "max_version=(0, 8): dltensor")
        del b, cap, cap0
        gc.collect()
        check(ds.held == held0 - 1, "unconsumed capsules give their hold back when destroyed")
        b = ds.next()
        check(raises(ValueError, b.__dlpack__, stream=1) is not None, "stream=1 on a CPU tensor: ValueError")
        check(raises(BufferError, b.__dlpack__, dl_device=(2, 0)) is not None, "dl_device=(2, 0): BufferError")
        check(raises(BufferError, b.__dlpack__, copy=True) is not None, "copy=True: BufferError")
        check(raises(TypeError, b.__dlpack__, max_version=1) is not None, "max_version=1: TypeError")
        del b
        ds.close()

        # Errors.
        missing = os.path.join(work, "no-such-dir")
        e = raises(OSError, aisio.fil.Dataset, missing)
        check(e is not None and e.errno == errno.ENOENT and missing in str(e), f"missing directory: {e!r}")
        check(raises(ValueError, aisio.fil.Dataset, root, backend="nope") is not None, "unknown backend: ValueError")
        check(raises(ValueError, aisio.fil.Dataset, root, batch_size=0) is not None, "batch_size=0: ValueError")
        check(raises(TypeError, aisio.fil.Dataset, root, batch_size="8") is not None, "batch_size='8': TypeError")
        check(raises(ValueError, aisio.fil.Dataset, root, rank=2, world_size=2) is not None,
              "rank >= world_size: ValueError")
        check(raises(ValueError, aisio.fil.Dataset, root, device="tpu") is not None, "device='tpu': ValueError")
        check(raises(ValueError, aisio.fil.Dataset, root, backend="aisio-gpu", nvme="gpuemu:host") is not None,
              "aisio-gpu with device='cpu': ValueError")
        if not os.path.exists("/dev/nvidia0"):
            e = raises(OSError, aisio.fil.Dataset, root, device="cuda")
            check(e is not None and e.errno in (errno.ENOTSUP, errno.ENODEV),
                  f"device='cuda' without a GPU or a CUDA build: OSError ENOTSUP/ENODEV ({e})")
        check(raises(TypeError, aisio.fil.Dataset, 5) is not None, "path=5: TypeError")
        bad = os.path.join(work, "bad")
        shutil.copytree(root, bad)
        dangling = os.path.join(bad, "class1", "f003.bin")
        os.unlink(dangling)
        os.symlink(os.path.join(work, "gone"), dangling)
        ds = aisio.fil.Dataset(bad, batch_size=4)
        got, errs = 0, []
        while True:
            try:
                b = ds.next()
            except OSError as e:
                errs.append(e)
                continue
            if b is None:
                break
            got += b.count
            del b
        check(len(errs) == 1 and errs[0].errno == errno.ENOENT and "f003.bin" in str(errs[0]) and
              got == len(want) - 4, f"a failed batch: OSError naming the file ({errs[0] if errs else None}), "
              f"the others delivered ({got} files)")
        ds.close()

        # Shuffle: reproducible per seed and epoch; shards disjoint and covering; resume.
        def order(seed, epoch, **kw):
            d = aisio.fil.Dataset(root, batch_size=7, shuffle=True, seed=seed, **kw)
            return [p for b in d.epoch(epoch) for p in b.paths]
        a, a2, b1, c = order(3, 0), order(3, 0), order(3, 1), order(4, 0)
        check(a == a2 and a != b1 and a != c and sorted(a) == sorted(want),
              "shuffle: same seed and epoch give the same order; another epoch or seed another")
        s0, s1 = order(3, 0, rank=0, world_size=2), order(3, 0, rank=1, world_size=2)
        check(not set(s0) & set(s1) and sorted(s0 + s1) == sorted(want) and s0 == a[0::2],
              "shards: disjoint, covering, rank r takes positions r::world_size")
        d = aisio.fil.Dataset(root, batch_size=5, shuffle=True, seed=3)
        it = d.epoch(1)
        first = [p for _, b in zip(range(2), it) for p in b.paths]
        pos = d.position
        d.close()
        d = aisio.fil.Dataset(root, batch_size=5, shuffle=True, seed=3)
        d.set_position(pos)
        rest = [p for b in d for p in b.paths]
        check(pos == (1, 10) and first + rest == b1, f"resume at {pos} continues exactly")
        check(raises(ValueError, d.set_position, 1, 10**6) is not None, "a position past the share: ValueError")

        # The torch adapter without torch: a clear ImportError when used.
        try:
            import torch  # noqa: F401
        except ImportError:
            e = raises(ImportError, aisio.fil.TorchIterable, root)
            check(e is not None and "PyTorch" in str(e), f"TorchIterable without torch: {e}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(failures)} failures" if failures else "all ok")
    return 1 if failures else 0


sys.exit(main())
