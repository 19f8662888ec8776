"""Embedding whole recordings in bounded memory."""

from __future__ import annotations

import mmap

import numpy as np

from .validation import _check_finite

CHUNK_BYTES = 32 * 2**20  # input bytes per chunk on the device


def _rows(source, start: int, stop: int, name: str) -> np.ndarray:
    block = np.asarray(source[start:stop], dtype=np.float32)
    _check_finite(block, f"{name} (rows {start}–{stop})")
    return block


def _release(source) -> None:
    """Drop the pages of a memory-mapped input we have already read (they stay on disk)."""
    handle = getattr(source, "_mmap", None)
    if isinstance(handle, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        handle.madvise(mmap.MADV_DONTNEED)


def embed_recording(encoder, neural, device: str, chunk_size: int | None = None,
                    name: str = "neural") -> np.ndarray:
    """(T, N) array-like (numpy, memmap, h5py, zarr, dask) → float32 (T, output)."""
    import torch

    shape = getattr(neural, "shape", None)
    if shape is None:
        neural = np.asarray(neural)
        shape = neural.shape
    if len(shape) != 2:
        raise ValueError(f"{name} must be 2-D (time, neurons); got shape {tuple(shape)}.")
    dtype = np.dtype(getattr(neural, "dtype", np.float32))
    if dtype.kind not in "biuf":  # objects, text, complex numbers: not activity
        raise TypeError(f"{name} must hold real numbers; got dtype {dtype}.")
    if chunk_size is not None and (isinstance(chunk_size, bool) or int(chunk_size) < 1
                                   or int(chunk_size) != chunk_size):
        raise ValueError(f"chunk_size={chunk_size!r} must be a positive whole number of rows "
                         "(or None to size chunks automatically).")
    total, features = int(shape[0]), int(shape[1])
    if features != encoder.num_neurons:
        raise ValueError(f"{name} has {features} neurons but the model was trained on "
                         f"{encoder.num_neurons}; pass the same ROIs in the same order.")
    if total == 0:
        raise ValueError(f"{name} is empty.")
    before, after = encoder.offset
    chunk = int(chunk_size) if chunk_size else max(1024, CHUNK_BYTES // (4 * features))
    out = np.empty((total, encoder.num_output), dtype=np.float32)
    encoder.eval()
    with torch.inference_mode():
        for start in range(0, total, chunk):
            stop = min(total, start + chunk)
            lo, hi = max(0, start - before), min(total, stop + after)
            block = _rows(neural, lo, hi, name)
            pad_lo, pad_hi = before - (start - lo), after - (hi - stop)
            if pad_lo or pad_hi:
                block = np.concatenate([np.repeat(block[:1], pad_lo, 0), block,
                                        np.repeat(block[-1:], pad_hi, 0)])
            x = torch.from_numpy(block).to(device)
            out[start:stop] = encoder.embed_sequence(x).float().cpu().numpy()
            _release(neural)
    return out
