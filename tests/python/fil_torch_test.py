# SPDX-License-Identifier: BSD-3-Clause
"""aisio.fil with PyTorch: torch.from_dlpack(batch) without a copy, TorchIterable under a
DataLoader. Suite torch: skips (77) where torch does not import (Debian's CI: python3-torch is too
big to install there), runs where it is installed (the GPU machine).
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile

try:
    import torch
    import torch.utils.data
except ImportError as e:
    print(f"skip: torch does not import for {sys.executable} ({e})")
    sys.exit(77)

import aisio.fil

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


work = tempfile.mkdtemp(prefix="fil-torch-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None)
try:
    rnd = random.Random(5)
    want = {}
    for c in range(2):
        os.makedirs(os.path.join(work, f"c{c}"))
        for i in range(10):
            p = os.path.join(work, f"c{c}", f"{i}.bin")
            data = rnd.randbytes(rnd.randint(1, 5000))
            with open(p, "wb") as f:
                f.write(data)
            want[p] = (c, data)

    # The README's example with torch.
    ds = aisio.fil.Dataset(work, backend="posix-direct", batch_size=6)
    ok, n = True, 0
    for b in ds:
        x = torch.from_dlpack(b)
        ok &= x.dtype == torch.uint8 and x.data_ptr() == b.data_ptr and x.numel() == b.data_len
        for o, ln, lab, p in zip(b.offsets, b.lengths, b.labels, b.paths):
            ok &= bytes(x[o:o + ln].tolist()) == want[p][1] and lab == want[p][0]
            n += 1
    check(ok and n == len(want), f"torch.from_dlpack: {n} files byte-identical, zero copy")
    del b, x
    check(ds.held == 0, "the tensors gone, every buffer is back")

    it = aisio.fil.TorchIterable(work, batch_size=4, shuffle=True, seed=1, batches_in_flight=2)
    check(isinstance(it, torch.utils.data.IterableDataset), "TorchIterable is an IterableDataset")
    got = []
    for data, offsets, lengths, labels in torch.utils.data.DataLoader(it, batch_size=None):
        for o, ln, lab in zip(offsets.tolist(), lengths.tolist(), labels.tolist()):
            got.append((lab, bytes(data[o:o + ln].tolist())))
    check(sorted(got) == sorted(want.values()), f"DataLoader over TorchIterable: {len(got)} files")

    # device="cuda": CUDA tensors, checked against open() (the README's GPU example)
    if not torch.cuda.is_available():
        print("cuda part left out: no CUDA device for torch")
    else:
        def cuda_files(ds):
            ok, n = True, 0
            for b in ds:
                x = torch.from_dlpack(b)
                ok &= x.is_cuda and x.data_ptr() == b.data_ptr and x.numel() == b.data_len
                host = x.cpu()
                for o, ln, p in zip(b.offsets, b.lengths, b.paths):
                    with open(p, "rb") as f:
                        ok &= bytes(host[o:o + ln].numpy()) == f.read()
                    n += 1
            return ok, n

        ok, n = cuda_files(aisio.fil.Dataset(work, backend="posix", batch_size=6, device="cuda"))
        check(ok and n == len(want), f"device='cuda', posix: {n} files as CUDA tensors, equal to open()")
        aisio_bin = os.path.join(os.environ.get("AISIO_BUILD_ROOT", "build"), "tools", "aisio")
        if os.geteuid() != 0 or not shutil.which("mkfs.ext4"):
            print("aisio-gpu part left out: the loop mount needs root and mkfs.ext4")
        else:
            img, mnt = os.path.join(work, "img"), os.path.join(work, "mnt")
            subprocess.run([aisio_bin, "fil", "gen", "--shape", "imagenetish", "--scale", "0.0001", "--image", img,
                            "--fs", "ext4"], check=True, stdout=subprocess.DEVNULL)
            os.makedirs(mnt)
            subprocess.run(["mount", "-o", "loop,ro", img, mnt], check=True)
            try:
                ds = aisio.fil.Dataset(mnt, backend="aisio-gpu", device="cuda", nvme=f"gpuemu:host,file={img}",
                                       xal_source=mnt, batch_size=16, threads=2)
                ok, n = cuda_files(ds)
                files = sum(len(f) for _, _, f in os.walk(mnt))
                del ds
                check(ok and n == files, f"device='cuda', aisio-gpu: {n} of {files} files as CUDA tensors, "
                      "equal to open()")
            finally:
                subprocess.run(["umount", mnt])
finally:
    shutil.rmtree(work, ignore_errors=True)
print(f"{len(failures)} failures" if failures else "all ok")
sys.exit(1 if failures else 0)
