"""kNN decoding of labels from an embedding (cosine distance, as in the paper)."""

from __future__ import annotations

import numpy as np


class KNNDecoder:
    """k-nearest-neighbour decoder: a regressor for continuous labels, a classifier for
    discrete ones (declared with ``discrete=True``, never guessed from the dtype)."""

    def __init__(self, n_neighbors: int = 24, metric: str = "cosine", discrete: bool = False):
        if n_neighbors < 1:
            raise ValueError(f"n_neighbors={n_neighbors} must be ≥ 1.")
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.discrete = discrete

    def _check(self, embedding, labels=None):
        emb = np.asarray(embedding, dtype=np.float32)
        if emb.ndim != 2:
            raise ValueError(f"embedding must be 2-D (time, dims); got shape {emb.shape}.")
        if not np.all(np.isfinite(emb)):
            raise ValueError("embedding contains NaN/Inf values.")
        if labels is None:
            return emb, None
        y = np.asarray(labels)
        if y.shape[0] != emb.shape[0]:
            raise ValueError(f"labels have {y.shape[0]} rows but the embedding has "
                             f"{emb.shape[0]}; they must cover the same time points.")
        if self.discrete:
            if y.ndim != 1:
                raise ValueError("discrete labels must be 1-D (one class per time point).")
        elif np.issubdtype(y.dtype, np.integer):
            y = y.astype(np.float64)
        return emb, y

    def fit(self, embedding, labels) -> KNNDecoder:
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        emb, y = self._check(embedding, labels)
        if self.n_neighbors > emb.shape[0]:
            raise ValueError(f"n_neighbors={self.n_neighbors} exceeds the {emb.shape[0]} "
                             "training samples; lower n_neighbors.")
        kind = KNeighborsClassifier if self.discrete else KNeighborsRegressor
        self.model_ = kind(n_neighbors=self.n_neighbors, metric=self.metric).fit(emb, y)
        return self

    def predict(self, embedding) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise RuntimeError("KNNDecoder is not fitted; call fit() first.")
        return self.model_.predict(self._check(embedding)[0])

    def score(self, embedding, labels) -> float:
        """R² for continuous labels (averaged over columns), accuracy for discrete ones."""
        from sklearn.metrics import accuracy_score, r2_score

        emb, y = self._check(embedding, labels)
        pred = self.predict(emb)
        return float(accuracy_score(y, pred) if self.discrete else r2_score(y, pred))
