"""The representations a frame-decoding report compares, registered by name.

Each entry turns a session into a function ``embed(time_indices) -> (len, d)`` that a cosine
kNN decoder reads frames from: the CEBRA embedding (``"cebra"``, kind ``"model"``), the raw
traces and their PCA (``"raw"``, ``"pca"``, baselines), the traces shuffled in time
(``"neural"``, a control). Entries are generators: they may yield
:class:`~napari_cebra.progress.Progress` while they prepare (fit a PCA, train a model) and
return the function, or a :class:`Features` when they have more to report (goodness of fit).

An entry registered with ``learns_labels=True`` also gets the ``"labels"`` control
(:data:`LABELS_CONTROL`): the same entry built again with the training labels shuffled in time
(``Context.shuffle``), and the decoder fit on the shuffled labels too.

A new baseline is one function and one decorator line; ``frame_decoding_steps(models=...,
baselines=..., controls=...)`` picks entries by key. The report lists models (each followed by
its labels-shuffled control), then baselines, extra representations, and the other controls.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from napari_cebra.progress import Progress, fit_progress

Embed = Callable[[np.ndarray], np.ndarray]

#: The control that rebuilds every ``learns_labels`` entry on training labels shuffled in time.
LABELS_CONTROL = "labels"


@dataclass
class Context:
    """What a representation may use: the session, the training split, the settings."""

    neural: np.ndarray  # (T, N) float32
    train_index: np.ndarray  # time indices of the training repeats
    rng: np.random.Generator
    pca_components: int = 32
    seed: int = 0
    labels: np.ndarray | None = None  # (T, d) continuous labels a model learns; None: none
    model: Any = None  # a fitted CEBRA model to use as it is; None: train one
    cebra_params: dict = field(default_factory=dict)  # CEBRA(**cebra_params) when training
    progress_every: int = 50
    shuffle: np.ndarray | None = None  # permutation of train_index: the labels-shuffled control


@dataclass
class Features:
    """What a build returns when it has more to report than the embedding function."""

    embed: Embed
    goodness_of_fit_bits: float | None = None


@dataclass(frozen=True)
class Representation:
    name: str  # the report's row name
    kind: str  # "model" | "baseline" | "control"
    build: Callable[[Context], Generator[Progress, None, Embed | Features]]
    description: str
    learns_labels: bool = False  # has a labels-shuffled control


REPRESENTATIONS: dict[str, Representation] = {}
"""Registry key (as given to ``models=``/``baselines=``/``controls=``) → :class:`Representation`."""

KINDS = ("model", "baseline", "control")


def register_representation(key: str, name: str, kind: str, description: str, *,
                            learns_labels: bool = False):
    """Decorator: add a representation builder under ``key``."""
    if kind not in KINDS:
        raise ValueError(f"representation kind {kind!r} is unknown; use one of {KINDS}.")
    if key == LABELS_CONTROL:
        raise ValueError(f"{LABELS_CONTROL!r} is the labels-shuffled control; choose another key.")

    def add(build):
        REPRESENTATIONS[key] = Representation(name, kind, build, description, learns_labels)
        return build

    return add


def available(kind: str) -> list[str]:
    """Registered keys of one kind ("model", "baseline" or "control"); the controls include
    :data:`LABELS_CONTROL`."""
    keys = [k for k, r in REPRESENTATIONS.items() if r.kind == kind]
    return [LABELS_CONTROL, *keys] if kind == "control" else keys


def build(key: str, ctx: Context) -> Generator[Progress, None, Features]:
    """Run the builder registered under ``key``; always return :class:`Features`."""
    built = yield from REPRESENTATIONS[key].build(ctx)
    return built if isinstance(built, Features) else Features(built)


def shuffled_name(key: str) -> str:
    """The report's row name of an entry's labels-shuffled control."""
    return f"{REPRESENTATIONS[key].name} (labels shuffled)"


@register_representation("cebra", "cebra", "model", "kNN on the CEBRA embedding",
                         learns_labels=True)
def _cebra(ctx: Context) -> Generator[Progress, None, Features]:
    model = ctx.model
    if model is None or ctx.shuffle is not None:
        from napari_cebra.engine.estimator import CEBRA

        x = ctx.neural[ctx.train_index]
        y = None if ctx.labels is None else ctx.labels[ctx.train_index]
        stage = "train CEBRA"
        if ctx.shuffle is not None:
            stage += " (labels shuffled)"
            if y is None:  # CEBRA-Time learns from the order of time points: shuffle that
                x = x[ctx.shuffle]
            else:
                y = y[ctx.shuffle]
        model = CEBRA(**ctx.cebra_params)
        fitted = yield from fit_progress(
            model.fit_steps(x) if y is None else model.fit_steps(x, continuous=y),
            stage, ctx.progress_every)
        model = fitted if fitted is not None else model
    if ctx.shuffle is None:
        yield Progress("decode", 0, 1, "decode CEBRA embedding")
    return Features(lambda idx: model.transform(ctx.neural[idx]),
                    float(model.goodness_of_fit_bits()))


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
