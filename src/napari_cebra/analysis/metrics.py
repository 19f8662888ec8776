"""How good is an embedding: goodness of fit, consistency across runs/sessions, latents."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from napari_cebra.engine.information import goodness_of_fit_bits

from .scores import median_absolute_error, r2

__all__ = ["goodness_of_fit_bits", "consistency_matrix", "latent_r2", "median_absolute_error"]


def _binned(embedding: np.ndarray, labels: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean embedding per label bin (NaN for empty bins)."""
    which = np.clip(np.digitize(labels, edges[1:-1]), 0, len(edges) - 2)
    out = np.full((len(edges) - 1, embedding.shape[1]), np.nan)
    for b in range(len(edges) - 1):
        rows = which == b
        if rows.any():
            out[b] = embedding[rows].mean(0)
    return out


def consistency_matrix(embeddings: Sequence[np.ndarray], labels: Sequence[np.ndarray] | None = None,
                       n_bins: int = 100) -> np.ndarray:
    """Pairwise consistency: R² of the best linear map from embedding i to embedding j
    (:func:`~napari_cebra.analysis.scores.r2`: embedding dimensions averaged uniformly).

    Without labels the embeddings must cover the same time points (e.g. several runs on one
    recording). With labels (one 1-D continuous label per embedding, e.g. position), each
    embedding is first averaged within ``n_bins`` label bins so that sessions of different
    lengths can be compared. The diagonal is 1.
    """
    from sklearn.linear_model import LinearRegression

    embs = [np.asarray(e, dtype=np.float64) for e in embeddings]
    if len(embs) < 2:
        raise ValueError("consistency needs at least two embeddings.")
    if labels is None:
        lengths = {e.shape[0] for e in embs}
        if len(lengths) > 1:
            raise ValueError(f"embeddings have different lengths {sorted(lengths)}; pass labels "
                             "to align them by label bins.")
    else:
        if len(labels) != len(embs):
            raise ValueError("pass one label array per embedding.")
        labels = [np.asarray(y, dtype=np.float64).reshape(-1) for y in labels]
        for e, y in zip(embs, labels, strict=True):
            if e.shape[0] != y.shape[0]:
                raise ValueError(f"an embedding has {e.shape[0]} rows but its labels "
                                 f"{y.shape[0]}.")
        lo = max(y.min() for y in labels)
        hi = min(y.max() for y in labels)
        edges = np.linspace(lo, hi, n_bins + 1)
        embs = [_binned(e, y, edges) for e, y in zip(embs, labels, strict=True)]
        keep = np.all([np.isfinite(e).all(1) for e in embs], axis=0)
        embs = [e[keep] for e in embs]
    n = len(embs)
    scores = np.eye(n)
    for i in range(n):
        for j in range(n):
            if i != j:
                fit = LinearRegression().fit(embs[i], embs[j])
                scores[i, j] = r2(embs[j], fit.predict(embs[i]))
    return scores


def latent_r2(embedding: np.ndarray, latent: np.ndarray, method: str = "knn",
              n_splits: int = 5, seed: int = 0) -> float:
    """Cross-validated R² (:func:`~napari_cebra.analysis.scores.r2`, averaged over folds) of
    reconstructing a known latent from the embedding.

    ``method="knn"`` (cosine kNN regression) measures whether the latent is recoverable at
    all; ``"linear"`` whether it is linearly readable.
    """
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.neighbors import KNeighborsRegressor

    emb = np.asarray(embedding, dtype=np.float64)
    y = np.asarray(latent, dtype=np.float64)
    if emb.shape[0] != y.shape[0]:
        raise ValueError(f"embedding has {emb.shape[0]} rows but the latent {y.shape[0]}.")
    if method == "knn":
        model = KNeighborsRegressor(n_neighbors=24, metric="cosine")
    elif method == "linear":
        model = LinearRegression()
    else:
        raise ValueError(f"method={method!r} is unknown; use 'knn' or 'linear'.")
    folds = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
    scores = cross_val_score(model, emb, y, cv=folds,
                             scoring=lambda fitted, x, true: r2(true, fitted.predict(x)))
    return float(np.mean(scores))
