"""The background images of a suite2p plane: mean, enhanced mean, correlation map, max.

suite2p stores them in ``ops.npy`` (``meanImg``, ``meanImgE``, ``Vcorr``, ``max_proj``); when
one is absent or not on the plane's grid it is computed here from the registered movie.
``Vcorr`` and ``max_proj`` are cropped by suite2p to the registered area (``yrange``/``xrange``)
and are padded back onto the full grid.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

PROJECTIONS = {"meanImg": "mean image", "meanImgE": "enhanced mean image",
               "Vcorr": "correlation map", "max_proj": "max projection"}


def enhanced_mean(mean: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    """High-passed mean image scaled to [0, 1] by its 1st and 99th percentiles (suite2p's
    ``meanImgE`` recipe)."""
    img = np.asarray(mean, np.float32)
    img = img - ndimage.gaussian_filter(img, sigma)
    lo, hi = np.percentile(img, [1, 99])
    return np.clip((img - lo) / max(hi - lo, 1e-6), 0, 1).astype(np.float32)


def correlation_map(movie, n_frames: int = 2000) -> np.ndarray:
    """Each pixel's mean correlation with its 8 neighbours over (up to ``n_frames`` evenly
    spaced) frames, after removing a slow baseline."""
    T = movie.shape[0]
    idx = np.linspace(0, T - 1, min(T, n_frames)).astype(int)
    x = np.asarray(movie[idx], np.float32)
    x = x - x.mean(axis=0)
    x /= x.std(axis=0) + 1e-6
    kernel = np.ones((1, 3, 3), np.float32)
    kernel[0, 1, 1] = 0
    neigh = ndimage.convolve(x, kernel, mode="nearest")
    count = ndimage.convolve(np.ones(x.shape[1:], np.float32), kernel[0], mode="constant")
    return ((x * neigh).mean(axis=0) / count).astype(np.float32)


def _on_grid(img, shape: tuple[int, int], ops: dict) -> np.ndarray | None:
    if img is None:
        return None
    img = np.asarray(img, np.float32)
    if img.shape == tuple(shape):
        return img
    yr, xr = ops.get("yrange"), ops.get("xrange")
    if yr is not None and xr is not None and img.shape == (yr[1] - yr[0], xr[1] - xr[0]):
        full = np.full(shape, float(np.min(img)), np.float32)
        full[yr[0]:yr[1], xr[0]:xr[1]] = img
        return full
    return None


def plane_projections(ops: dict, shape: tuple[int, int], movie=None) -> dict[str, np.ndarray]:
    """``meanImg``, ``meanImgE``, ``Vcorr``, ``max_proj`` on the plane's grid, from ``ops``
    or computed from ``movie`` (T, Ly, Lx); those that can be neither are left out."""
    out = {k: v for k in PROJECTIONS if (v := _on_grid(ops.get(k), shape, ops)) is not None}
    if movie is not None and len(movie):
        if "meanImg" not in out:
            out["meanImg"] = np.asarray(movie, np.float32).mean(axis=0) if len(movie) < 5000 \
                else np.mean([np.asarray(movie[i::50]).mean(0) for i in range(50)], axis=0)
        if "max_proj" not in out:
            step = max(1, len(movie) // 2000)
            out["max_proj"] = np.asarray(movie[::step], np.float32).max(axis=0)
        if "Vcorr" not in out:
            out["Vcorr"] = correlation_map(movie)
    if "meanImg" in out and "meanImgE" not in out:
        out["meanImgE"] = enhanced_mean(out["meanImg"])
    return {k: out[k] for k in PROJECTIONS if k in out}


def raster_order(activity: np.ndarray, min_rastermap: int = 30) -> np.ndarray:
    """An order of the rows of ``activity`` (N ROIs, T) that puts ROIs active together next
    to each other: rastermap's sorting, or for fewer than ``min_rastermap`` ROIs (too few for
    its clustering) the order along the first principal component."""
    x = np.asarray(activity, np.float32)
    n = x.shape[0]
    if n < 2:
        return np.arange(n)
    x = (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-6)
    if n >= min_rastermap:
        import warnings

        from rastermap import Rastermap

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = Rastermap(n_clusters=min(100, n // 2), n_PCs=min(200, n - 1),
                              verbose=False).fit(x)
        return np.asarray(model.isort)
    u, _, _ = np.linalg.svd(x, full_matrices=False)
    return np.argsort(u[:, 0])
