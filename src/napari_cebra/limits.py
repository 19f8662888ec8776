"""Sizes a file declares are checked before anything is allocated or written.

A file's header says how big its data are (an NWB series' shape, TIFF page tags, a ``.npy``
header, suite2p's ``Ly``/``Lx``, a model's layer sizes). A damaged or crafted file can declare
far more than it holds; trusting it grows memory until the kernel kills the process. Every
reader asks this module first:

- :func:`check_stored` — stored data: the declared bytes must fit in the file (uncompressed),
  or its written chunks must cover the declared shape;
- :func:`check_memory` — what will be held in memory fits in the memory free now;
- :func:`check_disk` — what will be written fits on the target's disk;
- :func:`frames_per_batch` — conversion work is batched by bytes, not by a count of frames.

Each raises :class:`DeclaredSizeError` (a ``ValueError``) naming the file, the declared size
and the limit.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: the bytes one conversion batch reads at once (a batch holds at least one frame)
BATCH_BYTES = 64 * 2**20
#: share of the free memory one allocation may take (the rest is the process's and others')
MEMORY_SHARE = 0.5
#: no imaging or behaviour series is sampled faster (a rate above is a wrong unit or a typo)
MAX_RATE_HZ = 1e6


class DeclaredSizeError(ValueError):
    """A file declares a size it does not hold, or one that cannot fit here."""


def human(nbytes: float) -> str:
    """``1.5 GB``-style size (powers of 1024, as ``df -h``)."""
    value = float(nbytes)
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if abs(value) < 1024 or unit == "PB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} PB"  # pragma: no cover


def nbytes_of(shape: Sequence[int], dtype) -> int:
    """Bytes of an array of ``shape`` and ``dtype`` (Python ints: no overflow)."""
    return math.prod(int(s) for s in shape) * np.dtype(dtype).itemsize


def free_memory() -> int:
    """Bytes of memory available to a new allocation now (psutil's ``available``)."""
    import psutil

    return int(psutil.virtual_memory().available)


def free_disk(path: str | os.PathLike) -> int:
    """Free bytes on the disk that holds ``path`` (or its nearest existing folder)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return int(shutil.disk_usage(p).free)


def _shape_text(shape: Sequence[int] | None, dtype) -> str:
    if shape is None:
        return ""
    return f" (shape {tuple(int(s) for s in shape)}" + (
        f", {np.dtype(dtype)})" if dtype is not None else ")")


def check_memory(nbytes: int, source, what: str, *, shape: Sequence[int] | None = None,
                 dtype=None, hint: str = "") -> None:
    """Raise unless ``nbytes`` fits in :data:`MEMORY_SHARE` of the free memory."""
    limit = int(free_memory() * MEMORY_SHARE)
    if nbytes > limit:
        raise DeclaredSizeError(
            f"{source}: {what} declares {human(nbytes)}{_shape_text(shape, dtype)}, more "
            f"than the {human(limit)} of memory this machine can give it now; "
            + (hint or "the file is damaged or declares a wrong size — check it, or use a "
               "machine with more memory")
        )


def check_disk(nbytes: int, folder, source, what: str, *, hint: str = "") -> None:
    """Raise unless ``nbytes`` can be written under ``folder`` (with 1 % to spare)."""
    free = free_disk(folder)
    if nbytes > free * 0.99:
        raise DeclaredSizeError(
            f"{source}: {what} needs {human(nbytes)} on disk, but {folder} has {human(free)} "
            "free; " + (hint or "free space there or choose another output folder")
        )


def check_stored(declared: int, stored: int, source, what: str, *,
                 shape: Sequence[int] | None = None, dtype=None) -> None:
    """Raise unless a file stores the ``declared`` bytes of uncompressed data."""
    if declared > stored:
        raise DeclaredSizeError(
            f"{source}: {what} declares {human(declared)}{_shape_text(shape, dtype)} but the "
            f"file holds only {human(stored)} of it; the file is truncated or its header is "
            "wrong — re-copy or re-export it"
        )


def check_hdf5_dataset(dataset, source, what: str) -> None:
    """An HDF5 dataset must store the data its shape declares.

    Contiguous data: the file must hold every byte. Chunked data: every chunk the shape
    covers must be written (an unwritten chunk reads as fill values: a crafted header can
    declare petabytes in a few KB); compressed chunks are counted, not their bytes.
    """
    shape, dtype = tuple(int(s) for s in dataset.shape), dataset.dtype
    declared = nbytes_of(shape, dtype)
    if declared == 0:
        return
    chunks = dataset.chunks
    if chunks is None:
        stored = min(int(dataset.id.get_storage_size()),
                     Path(dataset.file.filename).stat().st_size)
        check_stored(declared, stored, source, what, shape=shape, dtype=dtype)
        return
    expected = math.prod(-(-s // c) for s, c in zip(shape, chunks, strict=True))
    try:
        written = int(dataset.id.get_num_chunks())
    except (AttributeError, RuntimeError, ValueError):  # an HDF5 without the call
        written = expected
    if written < expected:
        stored = written * nbytes_of(chunks, dtype)
        raise DeclaredSizeError(
            f"{source}: {what} declares {human(declared)}{_shape_text(shape, dtype)} but the "
            f"file holds {written} of its {expected} data chunks (about {human(stored)}); the "
            "file is truncated, was never finished, or its header is wrong — re-export it"
        )


def frames_per_batch(frame_shape: Sequence[int], dtype, *, most: int | None = None,
                     batch_bytes: int = BATCH_BYTES) -> int:
    """How many frames one conversion batch reads: about ``batch_bytes``, at least 1."""
    frame = max(1, nbytes_of(frame_shape, dtype))
    n = max(1, batch_bytes // frame)
    return min(n, most) if most else n
