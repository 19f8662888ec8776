"""The representations a frame-decoding report compares, registered by name.

Each entry turns a session into a function ``embed(time_indices) -> (len, d)`` that a cosine
kNN decoder reads frames from: the raw traces, their PCA, a control with the traces shuffled in
time. Entries are generators: they may yield :class:`~napari_cebra.progress.Progress` while they
prepare (fit a PCA, train a model) and return the function. A new baseline is one function and
one decorator line; ``frame_decoding_steps(baselines=..., controls=...)`` picks them by name.
The CEBRA embedding and its labels-shuffled control are trained in ``frame_decoding`` itself,
since they need the protocol's labels.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np

from napari_cebra.progress import Progress

Embed = Callable[[np.ndarray], np.ndarray]


@dataclass
class Context:
    """What a representation may use: the traces, the training time indices, the settings."""

    neural: np.ndarray  # (T, N) float32
    train_index: np.ndarray  # time indices of the training repeats
    rng: np.random.Generator
    pca_components: int = 32
    seed: int = 0


@dataclass(frozen=True)
class Representation:
    name: str  # the report's row name
    kind: str  # "baseline" | "control"
    build: Callable[[Context], Generator[Progress, None, Embed]]
    description: str


REPRESENTATIONS: dict[str, Representation] = {}
"""Registry key (as given to ``baselines=``/``controls=``) → :class:`Representation`."""


def register_representation(key: str, name: str, kind: str, description: str):
    """Decorator: add a representation builder under ``key``."""

    def add(build):
        REPRESENTATIONS[key] = Representation(name, kind, build, description)
        return build

    return add


def available(kind: str) -> list[str]:
    """Registered keys of one kind ("baseline" or "control")."""
    return [k for k, r in REPRESENTATIONS.items() if r.kind == kind]


@register_representation("raw", "raw", "baseline", "kNN on raw traces")
def _raw(ctx: Context) -> Generator[Progress, None, Embed]:
    yield Progress("baselines", 0, 1, "kNN on raw traces")
    return lambda idx: ctx.neural[idx]


@register_representation("pca", "pca", "baseline", "kNN on PCA of the traces")
def _pca(ctx: Context) -> Generator[Progress, None, Embed]:
    from sklearn.decomposition import PCA

    yield Progress("baselines", 0, 1, "kNN on PCA of the traces")
    n = min(ctx.pca_components, ctx.neural.shape[1], len(ctx.train_index))
    pca = PCA(n, random_state=ctx.seed).fit(ctx.neural[ctx.train_index])
    return lambda idx: pca.transform(ctx.neural[idx])


@register_representation("neural", "raw (neural shuffled)", "control",
                         "kNN on time-shuffled traces")
def _shuffled(ctx: Context) -> Generator[Progress, None, Embed]:
    yield Progress("controls", 0, 1, "kNN on time-shuffled traces")
    shuffled = ctx.neural.copy()
    shuffled[ctx.train_index] = ctx.neural[ctx.train_index][
        ctx.rng.permutation(len(ctx.train_index))]
    return lambda idx: shuffled[idx]
