"""The paper's movie-frame decoding protocol (Schneider, Lee & Mathis 2023, Fig. 5).

A movie is shown several times. Representations (a CEBRA embedding, the raw traces, their PCA)
are computed from the training repeats; a cosine kNN decoder picks ``n_neighbors`` from a small
grid on a validation repeat (fitting on the other training repeats), is refit on all training
repeats and predicts the frame of every time point of the held-out test repeat. A prediction is
correct when ``|pred - true| < tolerance`` (one second: ``fs`` frames).

Controls make it plain whether a representation carries real information: the same pipeline
with the training labels shuffled in time (the CEBRA model is retrained on the shuffled labels and
the decoder fit on them), and kNN on time-shuffled neural data. Both should sit at chance.
Every representation and control is an entry of the registry in ``representations.py``.

:func:`frame_decoding_steps` is a generator (progress events, then the report) for the GUI
worker and the CLI; :func:`decode_frames` drains it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import replace

import numpy as np

from napari_cebra.progress import Progress

from .report import ContinuousResult, FrameDecodingReport, FrameResult
from .representations import (
    LABELS_CONTROL,
    REPRESENTATIONS,
    Context,
    Features,
    available,
    build,
    shuffled_name,
)
from .scores import frame_accuracy, frame_chance, median_absolute_error, r2
from .selection import DEFAULT_GRID, select_and_predict

__all__ = [
    "DEFAULT_CEBRA",
    "ContinuousResult",
    "FrameDecodingReport",
    "FrameResult",
    "cebra_labels",
    "decode_frames",
    "frame_accuracy",
    "frame_chance",
    "frame_decoding_steps",
    "split_repeats",
]

#: CEBRA settings for the V1 movie (see README, "Decoding"): the model learns from continuous
#: labels = PCA features of the movie frame on screen (a stand-in for the paper's DINO features).
DEFAULT_CEBRA: dict = dict(
    model_architecture="offset10-model", batch_size=512, output_dimension=32,
    num_hidden_units=64, learning_rate=3e-4, temperature=1.0, time_offsets=10,
    conditional="time_delta", max_iterations=2000, distance="cosine",
)


# -- splits and labels -----------------------------------------------------------------------
def split_repeats(repeat: np.ndarray, train_repeats: Sequence[int] | None = None,
                  validation_repeat: int | None = None, test_repeat: int | None = None
                  ) -> tuple[list[int], int, int]:
    """Resolve the repeats used for training, validation (one of the training repeats) and test.

    Defaults: test = the last repeat, train = all others, validation = the last training repeat.
    """
    repeat = np.asarray(repeat)
    present = sorted(int(r) for r in np.unique(repeat))
    if len(present) < 3:
        raise ValueError(f"frame decoding needs at least 3 repeats (train, validate, test); "
                         f"the repeat labels hold {len(present)}: {present}.")
    test = present[-1] if test_repeat is None else int(test_repeat)
    if test not in present:
        raise ValueError(f"test repeat {test} is not in the repeat labels {present}.")
    train = [r for r in present if r != test] if train_repeats is None else \
        [int(r) for r in train_repeats]
    missing = [r for r in train if r not in present]
    if missing:
        raise ValueError(f"training repeat(s) {missing} are not in the repeat labels {present}.")
    if test in train:
        raise ValueError(f"the test repeat {test} is also a training repeat; keep it out.")
    if len(train) < 2:
        raise ValueError("choose at least 2 training repeats (one of them validates "
                         "n_neighbors).")
    val = train[-1] if validation_repeat is None else int(validation_repeat)
    if val not in train:
        raise ValueError(f"validation repeat {val} must be one of the training repeats {train}.")
    return train, val, test


def cebra_labels(kind: str, frame_id: np.ndarray, movie: np.ndarray | None = None,
                 n_frames: int | None = None) -> np.ndarray | None:
    """Continuous labels CEBRA trains on for the movie, per time point (``None`` = CEBRA-Time).

    ``"movie"``: PCA features of the frame on screen (needs ``movie``); ``"phase"``: the frame's
    position in the movie on a circle (cos, sin); ``"time"``: no labels (CEBRA-Time).
    """
    frame_id = np.asarray(frame_id)
    if kind == "time":
        return None
    if kind == "movie":
        if movie is None:
            raise ValueError("cebra labels 'movie' need the stimulus movie (F, H, W); pass "
                             "movie=... or use labels 'phase' or 'time'.")
        from .movie_features import movie_features

        if frame_id.max() >= len(movie):
            raise ValueError(f"frame ids go up to {frame_id.max()} but the movie has only "
                             f"{len(movie)} frames; check the movie and the frame-id labels.")
        return movie_features(np.asarray(movie, np.float32))[frame_id]
    if kind == "phase":
        n = int(n_frames or frame_id.max() + 1)
        angle = 2 * np.pi * frame_id / n
        return np.stack([np.cos(angle), np.sin(angle)], 1).astype(np.float32)
    raise ValueError(f"cebra labels {kind!r} unknown; use 'movie', 'phase' or 'time'.")


# -- the protocol ----------------------------------------------------------------------------
def _check_inputs(neural, frame_id, repeat, fs):
    neural = np.asarray(neural)
    if neural.ndim != 2:
        raise ValueError(f"neural must be (time, neurons); got shape {neural.shape}.")
    frame_id = np.asarray(frame_id)
    repeat = np.asarray(repeat)
    for name, arr in (("frame_id", frame_id), ("repeat", repeat)):
        if arr.shape != (neural.shape[0],):
            raise ValueError(f"{name} must have one value per time point ({neural.shape[0]}); "
                             f"got shape {arr.shape}.")
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name} must be integers (declared discrete); got {arr.dtype}.")
    if not np.isfinite(neural).all():
        raise ValueError("neural contains NaN/Inf; interpolate or drop those frames first.")
    if fs is None or not fs > 0:
        raise ValueError(f"fs (frame rate, Hz) must be positive; got {fs!r}. The ±1 s "
                         "tolerance is fs frames.")
    return neural.astype(np.float32), frame_id.astype(np.int64), repeat.astype(np.int64)


class _Split:
    """Time indices of each repeat, and helpers to gather arrays per split."""

    def __init__(self, repeat, train, val, test):
        self.train_repeats, self.val, self.test = train, val, test
        self.by_repeat = {r: np.flatnonzero(repeat == r) for r in [*train, test]}
        self.train = np.concatenate([self.by_repeat[r] for r in train])
        self.fit = np.concatenate([self.by_repeat[r] for r in train if r != val])
        self.val_idx = self.by_repeat[val]
        self.test_idx = self.by_repeat[test]

    def embed_parts(self, embed_repeat):
        """Embed every repeat on its own (no window crosses a repeat boundary)."""
        emb = {r: embed_repeat(idx) for r, idx in self.by_repeat.items()}
        train = np.concatenate([emb[r] for r in self.train_repeats])
        fit = np.concatenate([emb[r] for r in self.train_repeats if r != self.val])
        return fit, emb[self.val], train, emb[self.test]


def _decode(name, kind, parts, frames_fit, frames_val, frames_train, frames_test, tol, grid):
    fit, val, train, test = parts

    def score(p, t):
        return frame_accuracy(p, t, tol)

    pred, k, val_scores = select_and_predict(
        fit, frames_fit, val, frames_val, train, frames_train, test, discrete=True,
        score=score, grid=grid)
    pred = pred.astype(np.int64)
    return FrameResult(name=name, kind=kind, accuracy=frame_accuracy(pred, frames_test, tol),
                       median_frame_error=float(np.median(np.abs(pred - frames_test))),
                       n_neighbors=k, validation=val_scores, prediction=pred)


def _decode_continuous(name, kind, label, parts, y, split, grid):
    fit, val, train, test = parts
    y = np.asarray(y, np.float64)
    pred, k, _ = select_and_predict(
        fit, y[split.fit], val, y[split.val_idx], train, y[split.train], test, discrete=False,
        score=lambda p, t: r2(t, p), grid=grid)
    true = y[split.test_idx]
    return ContinuousResult(name=name, label=label, kind=kind, r2=r2(true, pred),
                            median_abs_error=median_absolute_error(true, pred), n_neighbors=k,
                            prediction=np.asarray(pred))


def frame_decoding_steps(
    neural: np.ndarray, frame_id: np.ndarray, repeat: np.ndarray, fs: float, *,
    movie: np.ndarray | None = None, model=None, cebra_params: Mapping | None = None,
    labels: str = "movie", train_repeats: Sequence[int] | None = None,
    validation_repeat: int | None = None, test_repeat: int | None = None,
    models: Sequence[str] = ("cebra",), baselines: Sequence[str] = ("raw", "pca"),
    controls: Sequence[str] = ("labels", "neural"),
    continuous: Mapping[str, np.ndarray] | None = None, grid: Sequence[int] = DEFAULT_GRID,
    pca_components: int = 32, seed: int = 0, progress_every: int = 50,
    extra: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
) -> Generator[Progress, None, FrameDecodingReport]:
    """Run the frame-decoding protocol; yields :class:`Progress`, returns the report.

    The representations compared come from the registry in
    :mod:`~napari_cebra.analysis.representations`, picked by key: ``models`` (``"cebra"``),
    ``baselines`` (``"raw"``, ``"pca"``), ``controls`` (``"labels"``: every model retrained on
    training labels shuffled in time, the decoder fit on them too; ``"neural"``: kNN on raw
    traces shuffled in time).
    ``model``: a fitted CEBRA model to decode with (trained on the training repeats); ``None``
    trains one here with ``cebra_params`` (defaults :data:`DEFAULT_CEBRA`) on ``labels``
    (see :func:`cebra_labels`). ``False`` skips the models (baselines only).
    ``continuous``: extra continuous labels (name → (T,)) decoded from every representation.
    ``extra``: more representations to decode the same way (kind "reference"): name → function
    mapping the time indices of one repeat to its (len, d) representation.
    The report lists models (each followed by its labels-shuffled control), baselines, extra
    representations, then the other controls.
    """
    neural, frame_id, repeat = _check_inputs(neural, frame_id, repeat, fs)
    if model is False:
        models = ()
    _check_keys(models, baselines, controls)
    train, val, test = split_repeats(repeat, train_repeats, validation_repeat, test_repeat)
    split = _Split(repeat, train, val, test)
    n_frames = int(frame_id.max()) + 1 if movie is None else int(len(movie))
    tol = float(fs)
    rng = np.random.default_rng(seed)
    report = FrameDecodingReport(
        fs=float(fs), tolerance=tol, n_frames=n_frames, chance=frame_chance(n_frames, tol),
        train_repeats=train, validation_repeat=val, test_repeat=test,
        test_index=split.test_idx, true_frames=frame_id[split.test_idx],
        settings=dict(labels=labels, grid=list(grid), pca_components=pca_components,
                      seed=seed, baselines=list(baselines), controls=list(controls)),
    )
    cont = {k: np.asarray(v) for k, v in (continuous or {}).items()}
    for k, v in cont.items():
        if v.shape[0] != neural.shape[0]:
            raise ValueError(f"continuous label {k!r} has {v.shape[0]} values; neural has "
                             f"{neural.shape[0]} time points.")

    def add(name, kind, features, perm=None):
        """Decode frames (and continuous labels) from a representation; with ``perm``, every
        training label is shuffled in time by that permutation (the test labels stay true)."""
        def labels_of(arr):
            if perm is None:
                return arr
            out = arr.copy()
            out[split.train] = arr[split.train][perm]
            return out

        parts = split.embed_parts(features.embed)
        f = labels_of(frame_id)
        report.results.append(_decode(name, kind, parts, f[split.fit], f[split.val_idx],
                                      f[split.train], frame_id[split.test_idx], tol, grid))
        for label, y in cont.items():
            report.continuous.append(
                _decode_continuous(name, kind, label, parts, labels_of(y), split, grid))
        if features.goodness_of_fit_bits is not None:
            report.goodness_of_fit_bits[name] = features.goodness_of_fit_bits

    context = Context(neural, split.train, rng, pca_components, seed,
                      progress_every=progress_every)
    if models:
        # what the models learn: the protocol's labels, with the settings the report records
        params = {**DEFAULT_CEBRA, "seed": seed, **dict(cebra_params or {})}
        if model is not None:
            params = {**model.get_params(), **dict(cebra_params or {})}
            if not any(getattr(model, "label_kinds_", {}).values()):
                labels = "time"  # a given CEBRA-Time model: its control trains without labels
        if model is None or LABELS_CONTROL in controls:
            context.labels = cebra_labels(labels, frame_id, movie, n_frames)
        context.model, context.cebra_params = model, params
        report.settings["cebra"] = {k: v for k, v in params.items() if k != "device"}
        report.settings["labels"] = labels

    for key in models:
        rep = REPRESENTATIONS[key]
        add(rep.name, rep.kind, (yield from build(key, context)))
        if LABELS_CONTROL in controls and rep.learns_labels:
            perm = rng.permutation(len(split.train))
            shuffled = replace(context, shuffle=perm)
            add(shuffled_name(key), "control", (yield from build(key, shuffled)), perm)
    for key in baselines:
        rep = REPRESENTATIONS[key]
        add(rep.name, rep.kind, (yield from build(key, context)))
    for name, embed_repeat in (extra or {}).items():
        yield Progress("extra", 0, 1, f"kNN on {name}")
        add(name, "reference", Features(embed_repeat))
    for key in (c for c in controls if c != LABELS_CONTROL):
        rep = REPRESENTATIONS[key]
        add(rep.name, rep.kind, (yield from build(key, context)))
    yield Progress("done", 1, 1, "frame decoding finished")
    return report


def _check_keys(models, baselines, controls) -> None:
    """One message naming every unknown key and what is registered."""
    known = {kind: available(kind) for kind in ("model", "baseline", "control")}
    unknown = sorted((set(models) - set(known["model"])) | (set(baselines) - set(
        known["baseline"])) | (set(controls) - set(known["control"])))
    if unknown:
        raise ValueError(f"unknown baseline/control/model {unknown}; baselines: "
                         f"{', '.join(known['baseline'])}; controls: "
                         f"{', '.join(known['control'])}; models: "
                         f"{', '.join(known['model'])}.")


def decode_frames(*args, **kwargs) -> FrameDecodingReport:
    """Run :func:`frame_decoding_steps` to the end and return its report."""
    from napari_cebra.progress import drain

    return drain(frame_decoding_steps(*args, **kwargs))
