"""What the frames of a stimulus movie look like, as continuous labels CEBRA can train on."""

from __future__ import annotations

import numpy as np


def movie_features(movie: np.ndarray, n_components: int = 16, size: int = 16,
                   seed: int = 0) -> np.ndarray:
    """Low-dimensional features of each movie frame (PCA of downsampled frames), (F, d) float32.

    A stand-in for the paper's DINO features: continuous labels that say which frames look alike.
    """
    from skimage.transform import resize
    from sklearn.decomposition import PCA

    f = movie.shape[0]
    small = resize(movie, (f, size, size), anti_aliasing=True).reshape(f, -1)
    n = min(n_components, f, small.shape[1])
    z = PCA(n, random_state=seed).fit_transform(small)
    return (z / (z.std() + 1e-9)).astype(np.float32)
