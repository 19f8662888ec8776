"""A decoder's ``n_neighbors`` chosen on a validation split, refit, then tested (the paper's
protocol)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

DEFAULT_GRID: tuple[int, ...] = (1, 3, 5, 10, 20, 50)


def make_knn(n_neighbors: int, discrete: bool):
    """A cosine kNN decoder (classifier when ``discrete``) from the decoder registry."""
    from .decoders import make_decoder

    return make_decoder("knn", n_neighbors=n_neighbors, metric="cosine", discrete=discrete)


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
