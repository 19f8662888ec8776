"""Decoders: labels read back from an embedding, all behind one ``fit``/``predict``/``score``.

A decoder is any class with ``fit(embedding, labels) -> self``, ``predict(embedding)`` and
``score(embedding, labels)`` (R² for continuous labels, accuracy for discrete ones), built
with ``discrete=`` declared, never guessed. :func:`register_decoder` adds one by name and
:func:`make_decoder` builds it, so reports and widgets can offer every registered decoder.
Today: ``"knn"``, the cosine k-nearest-neighbour decoder of the paper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .scores import r2


@runtime_checkable
class Decoder(Protocol):
    """What every decoder offers."""

    discrete: bool

    def fit(self, embedding: Any, labels: Any) -> Decoder: ...

    def predict(self, embedding: Any) -> np.ndarray: ...

    def score(self, embedding: Any, labels: Any) -> float: ...


DECODERS: dict[str, Callable[..., Decoder]] = {}
"""Decoder name → class (or factory) taking keyword arguments, ``discrete`` among them."""


def register_decoder(name: str):
    """Class decorator: make a decoder available to :func:`make_decoder` as ``name``."""

    def add(cls):
        DECODERS[name] = cls
        return cls

    return add


def make_decoder(name: str = "knn", **kwargs: Any) -> Decoder:
    """A new decoder of a registered kind, e.g. ``make_decoder("knn", n_neighbors=10)``."""
    if name not in DECODERS:
        raise ValueError(f"decoder {name!r} is unknown; registered: {', '.join(DECODERS)}.")
    return DECODERS[name](**kwargs)


@register_decoder("knn")

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
        """R² for continuous labels (:func:`~napari_cebra.analysis.scores.r2`: columns
        averaged uniformly), accuracy for discrete ones."""
        emb, y = self._check(embedding, labels)
        pred = self.predict(emb)
        return float(np.mean(pred == y)) if self.discrete else r2(y, pred)
