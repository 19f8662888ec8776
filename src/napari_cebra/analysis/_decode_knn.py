"""kNN decoding with ``n_neighbors`` chosen on a validation split (the paper's protocol)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

DEFAULT_GRID: tuple[int, ...] = (1, 3, 5, 10, 20, 50)


def make_knn(n_neighbors: int, discrete: bool):
    """A cosine kNN decoder (classifier when ``discrete``) with ``fit``/``predict``."""
    from napari_cebra.analysis.decoding import KNNDecoder

    return KNNDecoder(n_neighbors=n_neighbors, metric="cosine", discrete=discrete)


def frame_accuracy(pred: np.ndarray, true: np.ndarray, tolerance: float) -> float:
    """Fraction of time points with ``|pred - true| < tolerance`` (frames)."""
    return float(np.mean(np.abs(np.asarray(pred) - np.asarray(true)) < tolerance))


def frame_chance(n_frames: int, tolerance: float) -> float:
    """Accuracy of a uniform random guess of the frame, averaged over the true frames."""
    f = np.arange(n_frames)
    hits = (np.abs(f[:, None] - f[None, :]) < tolerance).sum(1)
    return float(hits.mean() / n_frames)


def r2_score(pred: np.ndarray, true: np.ndarray) -> float:
    true = np.asarray(true, np.float64)
    ss_res = float(np.sum((true - pred) ** 2))
    ss_tot = float(np.sum((true - true.mean(0)) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")


def select_and_predict(
    emb_fit: np.ndarray, y_fit: np.ndarray, emb_val: np.ndarray, y_val: np.ndarray,
    emb_train: np.ndarray, y_train: np.ndarray, emb_test: np.ndarray, *, discrete: bool,
    score: Callable[[np.ndarray, np.ndarray], float], grid: Sequence[int] = DEFAULT_GRID,
) -> tuple[np.ndarray, int, dict[int, float]]:
    """Pick ``n_neighbors`` by ``score`` on (fit → val), refit on all training data, predict test.

    Returns the test prediction, the chosen ``n_neighbors`` and the validation score per grid
    value. Grid values larger than the fitting set are skipped.
    """
    grid = [k for k in grid if k <= len(emb_fit)] or [1]
    val_scores: dict[int, float] = {}
    for k in grid:
        pred = _fit(make_knn(k, discrete), emb_fit, y_fit).predict(emb_val)
        val_scores[int(k)] = float(score(pred, y_val))
    best = max(val_scores, key=lambda k: (val_scores[k], -k))
    best = min(best, len(emb_train))
    pred = _fit(make_knn(best, discrete), emb_train, y_train).predict(emb_test)
    return np.asarray(pred), best, val_scores


def _fit(knn, x, y):
    import warnings

    with warnings.catch_warnings():  # hundreds of frame classes, few examples each: by design
        warnings.filterwarnings("ignore", message="The number of unique classes is greater")
        return knn.fit(x, y)
