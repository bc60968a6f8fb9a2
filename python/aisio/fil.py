# SPDX-License-Identifier: BSD-3-Clause
"""File datasets in batches (lib/fil), each batch one buffer exported by DLPack.

    ds = aisio.fil.Dataset("/data/imagenet", backend="posix-direct", batch_size=64)
    for b in ds:
        x = numpy.from_dlpack(b)          # or torch.from_dlpack(b): no copy
        files = [x[o:o + n] for o, n in zip(b.offsets, b.lengths)]

A Batch has .labels, .offsets, .lengths, .paths, .files (dataset indices), .epoch, .index and
.count; numpy.from_dlpack / torch.from_dlpack give a 1-D uint8 array over its buffer (data_len
bytes, the files back to back at their offsets). The buffer goes back to the pool when the Batch
and every array made from it are gone, so keep no more than batches_in_flight - 1 of them while
iterating (BufferError otherwise).

Iterating a Dataset yields the rest of the current epoch; the next iteration starts the following
epoch (batches still held from the last one stay valid). dataset.epoch(n) iterates epoch n from
its start; position / set_position resume where a run stopped. A batch whose files could not all
be read raises OSError (errno, and a message naming the file); the next batch follows.
"""
import os

from . import _fil

Batch = _fil.Batch
BACKENDS = ("posix", "posix-buffered", "posix-direct", "posix-uring", "aisio-cpu", "aisio-gpu", "gds")
DEVICES = ("cpu", "cuda")


def _uint(name, v, minimum=0):
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if v < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {v}")
    return v


def _opt_path(name, v):
    if v is None:
        return None
    if not isinstance(v, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or a path, got {type(v).__name__}")
    return os.fsdecode(v)


class Dataset:
    """Dataset(path, backend="posix", batch_size=32, shuffle=False, seed=0, rank=0, world_size=1,
    threads=0, batches_in_flight=4, verify=False, device="cpu", nvme=None, xal_source=None,
    xal_mount=None, drop_last=False, timeout_ms=30000, gpu_queues=0)

    path: a directory of class directories (label: the class's index in sorted order) or a file
    list. backend: one of BACKENDS ("posix" is buffered pread). threads 0: one per CPU.
    device: where batches live, "cpu" (host memory) or "cuda" (GPU memory of the current CUDA
    device: torch.from_dlpack gives CUDA tensors; needs a build with CUDA). aisio-gpu and gds
    deliver into GPU memory only; the posix backends with device="cuda" read into pinned memory
    and copy. aisio-cpu and aisio-gpu read through the user-space driver: nvme is the controller's
    device string (aisio-cpu: emu:file:IMG, a PCI address, homi:NAME; aisio-gpu: gpuemu:host,file=IMG),
    xal_source the file system's image/device or mount point, xal_mount where it is mounted.
    timeout_ms bounds each wait for a batch (TimeoutError).
    """

    def __init__(self, path, backend="posix", batch_size=32, shuffle=False, seed=0, rank=0, world_size=1,
                 threads=0, batches_in_flight=4, verify=False, device="cpu", nvme=None, xal_source=None,
                 xal_mount=None, drop_last=False, timeout_ms=30000, gpu_queues=0):
        if not isinstance(path, (str, bytes, os.PathLike)):
            raise TypeError(f"path must be a str or a path, got {type(path).__name__}")
        if not isinstance(backend, str):
            raise TypeError(f"backend must be a str, got {type(backend).__name__}")
        if backend not in BACKENDS:
            raise ValueError(f"backend {backend!r}: one of {', '.join(BACKENDS)}")
        if device not in DEVICES:
            raise ValueError(f"device {device!r}: 'cpu' (host memory) or 'cuda' (GPU memory)")
        if backend in ("aisio-gpu", "gds") and device != "cuda":
            raise ValueError(f"backend {backend} delivers into GPU memory: device='cuda'")
        _uint("batch_size", batch_size, 1)
        _uint("batches_in_flight", batches_in_flight, 1)
        _uint("world_size", world_size, 1)
        _uint("rank", rank)
        _uint("threads", threads)
        _uint("seed", seed)
        _uint("timeout_ms", timeout_ms, 1)
        _uint("gpu_queues", gpu_queues)
        if rank >= world_size:
            raise ValueError(f"rank {rank} is not below world_size {world_size}")
        if seed >= 1 << 64:
            raise ValueError("seed must fit in 64 bits")
        if backend in ("aisio-cpu", "aisio-gpu") and not nvme:
            raise ValueError(f"backend {backend} needs nvme= (aisio-cpu: e.g. emu:file:IMAGE; aisio-gpu: "
                             "gpuemu:host,file=IMAGE) and xal_source=")
        self.path = os.fsdecode(path)
        self.backend = backend
        self.batch_size = batch_size
        self.device = device
        self._ds = _fil.Dataset(self.path, backend=backend, batch_size=batch_size, shuffle=bool(shuffle),
                                seed=seed, rank=rank, world_size=world_size, threads=threads,
                                batches_in_flight=batches_in_flight, verify=bool(verify),
                                drop_last=bool(drop_last), device=_opt_path("nvme", nvme),
                                xal_source=_opt_path("xal_source", xal_source),
                                xal_mount=_opt_path("xal_mount", xal_mount), timeout_ms=timeout_ms,
                                mem="cuda" if device == "cuda" else "host", gpu_queues=gpu_queues)
        self._epoch_done = False

    def __len__(self):
        """Batches of this rank's share in one epoch."""
        return self._ds.epoch_batches

    @property
    def files(self):
        return self._ds.files

    @property
    def classes(self):
        return self._ds.classes

    @property
    def epoch_files(self):
        return self._ds.epoch_files

    @property
    def held(self):
        """Batches not yet given back to the pool (Batch objects or arrays from them alive)."""
        return self._ds.held

    @property
    def position(self):
        """(epoch, index) after the last batch handed out: set_position(*position) resumes there."""
        return self._ds.position()

    def set_position(self, epoch, index=0):
        """Read from (epoch, index) (a tuple from position works too); held batches stay valid."""
        if isinstance(epoch, tuple):
            epoch, index = epoch
        self._ds.set_position(_uint("epoch", epoch), _uint("index", index))
        self._epoch_done = False

    def epoch(self, n):
        """An iterator over epoch n from its start."""
        self.set_position(n, 0)
        return iter(self)

    def next(self):
        """The next Batch of this epoch, or None at its end."""
        b = self._ds.next()
        if b is None:
            self._epoch_done = True
        return b

    def __iter__(self):
        if self._epoch_done:
            self._ds.epoch_next()
            self._epoch_done = False
        return self._batches()

    def _batches(self):
        while True:
            b = self.next()
            if b is None:
                return
            yield b
            del b  # the frame must not keep the buffer while the next one is read

    def stats(self):
        return self._ds.stats()

    def close(self):
        """Close now, or as soon as the last batch is given back."""
        self._ds.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _make_torch_iterable():
    try:
        import torch
        import torch.utils.data
    except ImportError as e:
        err = e

        class TorchIterable:
            """Needs PyTorch (import torch failed)."""

            def __init__(self, *args, **kwargs):
                raise ImportError(f"aisio.fil.TorchIterable needs PyTorch: {err}")
        return TorchIterable

    class TorchIterable(torch.utils.data.IterableDataset):
        """torch.utils.data.IterableDataset over a fil Dataset: yields (data, offsets, lengths,
        labels) per batch: data a uint8 tensor over the batch buffer (torch.from_dlpack, no copy),
        the others int64 tensors. Use DataLoader(it, batch_size=None). Under a DataLoader with
        workers, worker w of n reads shard rank * n + w of world_size * n. set_epoch(n) picks the
        epoch (the shuffle's). Keyword arguments are Dataset's."""

        def __init__(self, path, **kwargs):
            super().__init__()
            self.path = path
            self.kwargs = kwargs
            self.epoch = 0

        def set_epoch(self, epoch):
            self.epoch = epoch

        def __iter__(self):
            kw = dict(self.kwargs)
            info = torch.utils.data.get_worker_info()
            if info is not None:
                rank, world = kw.get("rank", 0), kw.get("world_size", 1)
                kw["rank"], kw["world_size"] = rank * info.num_workers + info.id, world * info.num_workers
            ds = Dataset(self.path, **kw)
            try:
                for b in ds.epoch(self.epoch):
                    out = (torch.from_dlpack(b), torch.tensor(b.offsets, dtype=torch.int64),
                           torch.tensor(b.lengths, dtype=torch.int64), torch.tensor(b.labels, dtype=torch.int64))
                    del b
                    yield out
            finally:
                ds.close()
    return TorchIterable


def __getattr__(name):
    # torch is imported only when TorchIterable is asked for: it takes seconds.
    if name == "TorchIterable":
        cls = _make_torch_iterable()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
