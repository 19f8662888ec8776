"""What the embedding view draws: chosen dimensions or principal components, and a subsample.

Pure numpy; the view widget calls these, and so can a script that plots an embedding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def project(embedding: np.ndarray, dims: Sequence[int] | str = (0, 1, 2)) -> np.ndarray:
    """The coordinates to draw: chosen dims, or ``"pca"`` (first 3 principal components).

    2-D embeddings come back as they are (drawn flat); ``dims`` beyond the embedding's width
    raise ``ValueError``.
    """
    emb = np.asarray(embedding, dtype=np.float32)
    if emb.ndim != 2:
        raise ValueError(f"embedding must be 2-D (time, dims); got shape {emb.shape}.")
    d = emb.shape[1]
    if d <= 2:
        return emb
    if isinstance(dims, str):
        if dims.lower() != "pca":
            raise ValueError(f"dims={dims!r}: give three dimension indices or 'pca'.")
        return pca(emb, 3)
    dims = tuple(int(i) for i in dims)
    if len(dims) not in (2, 3) or len(set(dims)) != len(dims) or not all(0 <= i < d for i in dims):
        raise ValueError(f"dims={dims} must be 2 or 3 distinct indices in 0..{d - 1}.")
    return emb[:, list(dims)]


def pca(x: np.ndarray, n_components: int = 3) -> np.ndarray:
    """Scores on the first ``n_components`` principal components, as float32 (T, n_components).

    scikit-learn's PCA from the d × d covariance (fast at any T); each component's sign is
    fixed (its largest loading positive), so the view does not flip between runs. Components
    the data cannot have (too few points or dims) are 0, so the shape never changes.
    """
    from sklearn.decomposition import PCA

    x = np.asarray(x, dtype=np.float64)
    out = np.zeros((len(x), int(n_components)), dtype=np.float32)
    n = min(int(n_components), x.shape[1], len(x) - 1)  # T points span at most T - 1 dims
    if n > 0:
        with np.errstate(divide="ignore", invalid="ignore"):  # constant data: 0/0 variance ratio
            out[:, :n] = PCA(n, svd_solver="covariance_eigh").fit_transform(x)
    return out


def display_indices(n_samples: int, max_points: int | None) -> np.ndarray:
    """Evenly strided indices of at most ``max_points`` rows: what is drawn, not what is kept."""
    if max_points is None or n_samples <= max_points:
        return np.arange(n_samples)
    return np.unique(np.linspace(0, n_samples - 1, int(max_points)).round().astype(np.int64))



class FrameTake:
    """``movie[frames]`` that reads a frame only when it is asked for (an array-like napari
    draws: ``shape``, ``dtype``, ``ndim``, indexing and ``np.asarray``).

    The decoded and true frames of a test repeat (thousands of frames of a full-size movie)
    are never materialised; napari reads the frame on screen.
    """

    def __init__(self, movie, frames) -> None:
        self.movie = movie
        self.frames = np.asarray(frames, dtype=np.int64)
        self.shape = (len(self.frames), *tuple(movie.shape[1:]))
        self.dtype = np.dtype(movie.dtype)
        self.ndim = len(self.shape)
        self.size = int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        if key and key[0] is Ellipsis:
            key = (slice(None), *key) if len(key) < self.ndim else key[1:]
        first, rest = (key[0], key[1:]) if key else (slice(None), ())
        picked = self.frames[first]
        if np.ndim(picked) == 0:
            return np.asarray(self.movie[int(picked)])[rest]
        return np.asarray(self.movie[picked])[(slice(None), *rest)]

    def __array__(self, dtype=None, copy=None):
        out = np.asarray(self.movie[self.frames])
        return out if dtype is None else out.astype(dtype)


def lazy_frames(movie, frames) -> FrameTake:
    """``movie[frames]`` without copying them: see :class:`FrameTake`."""
    return FrameTake(movie, frames)
