"""Training jobs for CEBRA, as plain generators: the GUI, the CLI and scripts share them.

A job is built from a traces source (the ``layer.metadata["napari_cebra"]`` dict of
docs/CONTRACTS.md, or plain arrays), trained with :func:`train` (a generator yielding
:class:`Progress` and returning a :class:`TrainingResult`) and drained headless with
:func:`run`. Closing the generator part-way discards the run (the engine's contract).

Embedding files live in :mod:`napari_cebra.embedding_files`, model files with their settings in
:mod:`napari_cebra.model_files`, what the embedding view draws in :mod:`napari_cebra.views`.
No Qt, no napari; torch is imported only when training starts.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from napari_cebra.contracts import LABEL_KINDS, embedding_record
from napari_cebra.progress import Progress, drain, fit_progress
from napari_cebra.settings import Settings, setting


class TrainingError(RuntimeError):
    """A run failed for a reason the user can fix; the message says how."""


def explain_error(err: BaseException, settings: TrainSettings | None = None) -> str:
    """One clear message for a failed run, with a way out for out-of-memory errors."""
    text = str(err) or type(err).__name__
    if isinstance(err, MemoryError) and "batch" in text:
        return text  # the engine's message already says what to do
    if type(err).__name__ == "OutOfMemoryError" or "out of memory" in text.lower():
        batch = f" (now {settings.batch_size})" if settings is not None else ""
        return (f"Training ran out of GPU memory: {text.splitlines()[0]}. "
                f"Use a smaller batch size{batch} or train on the CPU (device 'cpu').")
    return text


def _model_names() -> list[str]:
    from napari_cebra.engine.models import available_models  # imports torch

    return available_models()


def _device_names() -> list[tuple[str, str]]:
    from napari_cebra.engine.device import available_devices  # imports torch

    return [(name, key) for key, name in available_devices()]


@dataclass
class TrainSettings(Settings):
    """What the user chooses for one run; names follow the reference ``cebra`` package."""

    model_architecture: str = setting(
        "offset10-model", choices=_model_names, cli="--model", label="Model",
        help="encoder architecture (a registered model, e.g. offset10-model)")
    output_dimension: int = setting(3, min=1, max=1024, label="Output dim",
                                    help="dimensions of the embedding")
    num_hidden_units: int = setting(32, min=1, max=1024, cli="--hidden-units",
                                    label="Hidden units", help="units per hidden layer")
    max_iterations: int = setting(2000, min=1, max=1_000_000, step=500, unit="steps",
                                  cli="--iterations", label="Iterations",
                                  help="training steps")
    batch_size: int = setting(512, min=2, max=1_000_000, step=128, unit="samples",
                              help="samples per training step")
    learning_rate: float = setting(3e-4, min=1e-6, max=1.0, step=1e-4,
                                   help="Adam learning rate")
    temperature: float = setting(1.0, min=0.01, max=100.0, step=0.1,
                                 help="InfoNCE temperature (the starting value when learned)")
    temperature_mode: str = setting("constant", choices=("constant", "auto"),
                                    help="'constant': fixed temperature; 'auto': learned")
    time_offsets: int = setting(10, min=1, max=10_000, unit="frames", cli="--time-offset",
                                label="Time offset",
                                help="distance to the positive sample in time")
    hybrid: bool = setting(False, gui=False,
                           help="also train the time objective (with labels)")
    device: str = setting("auto", choices=_device_names,
                          help="torch device: auto (CUDA when present), cpu, cuda:N")
    seed: int | None = setting(0, min=0, max=2**31 - 1, none="random",
                               help="random seed (random: a new one each run)")
    test_fraction: float = setting(0.0, min=0.0, max=0.9, step=0.05,
                                   help="fraction of the session, at its end, held out of "
                                   "training")

    def estimator_params(self, has_labels: bool) -> dict[str, Any]:
        """Keyword arguments for ``CEBRA(...)``: CEBRA-Time without labels, else time_delta."""
        params = {k: v for k, v in self.to_dict().items() if k != "test_fraction"}
        params["conditional"] = "time_delta" if has_labels else "time"
        params["hybrid"] = bool(self.hybrid and has_labels)
        return params


@dataclass
class TrainingJob:
    """Everything one run needs; built by :func:`job_from_metadata` or :func:`job_from_arrays`."""

    neural: np.ndarray  # (T, N) float32
    settings: TrainSettings
    continuous: np.ndarray | None = None  # (T, D) float32 training labels
    discrete: np.ndarray | None = None  # (T,) int64 training labels
    label_columns: tuple[str, ...] = ()  # columns used for training
    labels: dict[str, np.ndarray] = field(default_factory=dict)  # all columns (for coloring)
    label_kinds: dict[str, str] = field(default_factory=dict)
    source: str = ""  # name of the layer / file the traces came from
    fs: float | None = None
    label_valid: np.ndarray | None = None  # (T,) False where a training label is missing (NaN)

    @property
    def n_samples(self) -> int:
        return int(self.neural.shape[0])

    @property
    def train_mask(self) -> np.ndarray:
        mask = split_mask(self.n_samples, self.settings.test_fraction)
        # frames without behaviour (NaN labels, e.g. a pose gap) are left out, never filled
        return mask if self.label_valid is None else mask & self.label_valid

    @property
    def mode(self) -> str:
        if not self.label_columns:
            return "CEBRA-Time"
        return "CEBRA-Hybrid" if self.settings.hybrid else "CEBRA-Behaviour"


@dataclass
class TrainingResult:
    model: Any  # the fitted napari_cebra.CEBRA
    embedding: np.ndarray  # (T, d) float32, every time point of the session
    time: np.ndarray  # (T,) int frame index
    train_mask: np.ndarray  # (T,) bool, False on held-out frames
    labels: dict[str, np.ndarray]
    label_kinds: dict[str, str]
    settings: TrainSettings
    label_columns: tuple[str, ...]
    source: str
    loss: list[float]

    def as_metadata(self) -> dict[str, Any]:
        """The embedding record stored on the source layer (``contracts.embedding_record``)."""
        return embedding_record(
            self.embedding, time=self.time, train_mask=self.train_mask, labels=self.labels,
            label_kinds=self.label_kinds, label_columns=self.label_columns,
            settings=self.settings.to_dict(), source=self.source, loss=self.loss)


def split_mask(n_samples: int, test_fraction: float) -> np.ndarray:
    """Boolean train mask: the first ``1 - test_fraction`` of the session trains, the rest tests.

    A contiguous split keeps the held-out block free of frames that neighbour training frames.
    """
    n_test = int(round(n_samples * float(test_fraction)))
    mask = np.ones(n_samples, dtype=bool)
    if n_test:
        mask[n_samples - n_test:] = False
    return mask


def job_from_metadata(meta: Mapping[str, Any], settings: TrainSettings,
                      label_columns: Sequence[str] = (), *, trace_set: str | None = None,
                      source: str = "") -> TrainingJob:
    """A job from a layer's ``metadata["napari_cebra"]`` dict (see docs/CONTRACTS.md).

    ``label_columns`` empty → CEBRA-Time; otherwise the columns train CEBRA-Behaviour (or
    hybrid, per ``settings.hybrid``). ``trace_set`` picks one of ``meta["trace_sets"]``
    instead of ``meta["traces"]``.
    """
    if trace_set:
        sets = meta.get("trace_sets") or {}
        if trace_set not in sets:
            raise ValueError(
                f"{source or 'the source'} has no trace set {trace_set!r}; "
                f"available: {', '.join(sets) or 'none'}."
            )
        traces = sets[trace_set]
    else:
        traces = meta.get("traces")
    if traces is None:
        raise ValueError(f"{source or 'the source'} carries no traces (metadata 'traces').")
    labels = dict(meta.get("labels") or {})
    kinds = dict(meta.get("label_kinds") or {})
    return job_from_arrays(traces, settings, labels=labels, label_kinds=kinds,
                           label_columns=label_columns, source=source, fs=meta.get("fs"))


def job_from_arrays(neural, settings: TrainSettings, *, labels: Mapping[str, Any] | None = None,
                    label_kinds: Mapping[str, str] | None = None,
                    label_columns: Sequence[str] = (), source: str = "",
                    fs: float | None = None) -> TrainingJob:
    """A job from a (T, N) matrix and named label columns with declared kinds."""
    from napari_cebra.engine.validation import as_continuous, as_discrete, as_neural

    neural = as_neural(neural, name=f"traces of {source}" if source else "traces")
    n = neural.shape[0]
    labels = {k: np.asarray(v) for k, v in (labels or {}).items()}
    kinds = dict(label_kinds or {})
    continuous, discrete = [], []
    valid = None
    for column in label_columns:
        if column not in labels:
            raise ValueError(
                f"label column {column!r} is not in {source or 'the source'}; "
                f"available: {', '.join(labels) or 'none'}."
            )
        kind = kinds.get(column)
        if kind not in LABEL_KINDS:
            raise ValueError(
                f"label column {column!r} has no declared kind; declare it 'continuous' or "
                "'discrete' (labels are declared, never guessed)."
            )
        if kind == "continuous":
            values = np.asarray(labels[column])
            if values.dtype.kind == "f" and np.isnan(values).any():  # missing behaviour
                present = ~np.isnan(values).reshape(len(values), -1).any(axis=1)
                valid = present if valid is None else valid & present
                values = np.where(np.isnan(values), 0.0, values)  # never trained on
            continuous.append(as_continuous(values, n, name=f"label {column!r}",
                                            allow_int=True))
        else:
            discrete.append(as_discrete(labels[column], n, name=f"label {column!r}"))
    if len(discrete) > 1:
        # Several discrete columns become one class per combination.
        stacked = np.stack(discrete, axis=1)
        _, combined = np.unique(stacked, axis=0, return_inverse=True)
        discrete = [combined.reshape(-1).astype(np.int64)]
    for column, values in labels.items():
        if len(values) != n:
            raise ValueError(
                f"label {column!r} has {len(values)} time points but the traces have {n}."
            )
    return TrainingJob(
        neural=neural,
        settings=settings,
        continuous=np.concatenate(continuous, axis=1) if continuous else None,
        discrete=discrete[0] if discrete else None,
        label_columns=tuple(label_columns),
        labels=labels,
        label_kinds={k: kinds[k] for k in labels if k in kinds},
        source=source,
        fs=fs,
        label_valid=valid,
    )


def make_estimator(settings: TrainSettings, has_labels: bool):
    """The engine's ``CEBRA`` estimator for these settings (imports torch)."""
    from napari_cebra.engine.estimator import CEBRA

    return CEBRA(**settings.estimator_params(has_labels))


def train(job: TrainingJob, model=None) -> Generator[Progress, None, TrainingResult]:
    """Fit CEBRA on the job's training frames, then embed every frame.

    Yields a :class:`Progress` per step and one ``stage="embed"`` event; returns a
    :class:`TrainingResult`. ``close()`` part-way discards the run (nothing is returned).
    """
    mask = job.train_mask
    if mask.sum() < 2 * job.settings.time_offsets:
        raise ValueError(
            f"only {int(mask.sum())} training frames; lower the test fraction or the time offset."
        )
    discrete_columns = [c for c in job.label_columns if job.label_kinds.get(c) == "discrete"]
    if job.discrete is not None and len(np.unique(job.discrete[mask])) < 2:
        raise ValueError(
            f"discrete label {', '.join(map(repr, discrete_columns))}: a single class in the "
            "training frames (the held-out end of the session has the others); discrete labels "
            "need at least two classes to contrast. Lower the test fraction or drop the label."
        )
    if model is None:
        model = make_estimator(job.settings, bool(job.label_columns))
    kwargs = {}
    if job.continuous is not None:
        kwargs["continuous"] = job.continuous[mask]
    if job.discrete is not None:
        kwargs["discrete"] = job.discrete[mask]
    total = int(job.settings.max_iterations)
    steps = fit_progress(model.fit_steps(job.neural[mask], **kwargs))
    try:
        fitted = yield from steps
        model = fitted if fitted is not None else model
        yield Progress("embed", total, total, "embedding every frame")
        embedding = np.asarray(model.transform(job.neural), dtype=np.float32)
    except (RuntimeError, MemoryError) as err:  # torch / out-of-memory → one clear message
        raise TrainingError(explain_error(err, job.settings)) from err
    finally:
        steps.close()  # no-op once finished; discards the run when closed part-way
    return result_for(job, model, embedding)


def adapt(job: TrainingJob, model) -> Generator[Progress, None, TrainingResult]:
    """Re-use a fitted single-session model on the job's recording, whose neuron count may
    differ: fit a fresh input layer for ``max_adapt_iterations`` steps (every other layer and
    the temperature as trained; the job's ticked labels as the objective), then embed every
    frame. Works on a copy: ``model`` itself is left as it was; the result carries the
    adapted model. ``close()`` part-way discards the run."""
    import copy

    if not getattr(model, "is_fitted_", False):
        raise ValueError("adapting needs a trained or loaded model; train or load one first.")
    if len(model.encoders_) > 1:
        raise ValueError("adapting works from a single-session model; this one has "
                         f"{len(model.encoders_)} sessions.")
    adapted = copy.deepcopy(model)
    mask = job.train_mask
    kwargs = {}
    if job.continuous is not None:
        kwargs["continuous"] = job.continuous[mask]
    if job.discrete is not None:
        kwargs["discrete"] = job.discrete[mask]
    total = int(adapted.max_adapt_iterations)
    steps = fit_progress(adapted.fit_steps(job.neural[mask], adapt=True, **kwargs))
    try:
        yield from steps
        yield Progress("embed", total, total, "embedding every frame")
        embedding = np.asarray(adapted.transform(job.neural), dtype=np.float32)
    except (RuntimeError, MemoryError) as err:  # torch / out-of-memory → one clear message
        raise TrainingError(explain_error(err, job.settings)) from err
    finally:
        steps.close()  # discards the run when closed part-way
    return result_for(job, adapted, embedding)


def neuron_mismatch(job: TrainingJob, model) -> str | None:
    """The message for traces whose neuron count is not the model's (``None`` if they match)."""
    trained = getattr(model, "neurons_per_session_", None) or []
    neurons = int(job.neural.shape[1])
    if len(trained) != 1 or trained[0] == neurons:
        return None
    return (f"{job.source or 'the traces'} has {neurons} neurons but the model was trained on "
            f"{trained[0]}; tick 'Adapt to these neurons' to fit a new input layer for them "
            "(the other layers are kept), or pick traces with the same ROIs.")


def embed(job: TrainingJob, model) -> TrainingResult:
    """Embed the job's traces with an already fitted model (no training)."""
    embedding = np.asarray(model.transform(job.neural), dtype=np.float32)
    return result_for(job, model, embedding)


def result_for(job: TrainingJob, model, embedding: np.ndarray) -> TrainingResult:
    return TrainingResult(
        model=model,
        embedding=embedding,
        time=np.arange(job.n_samples),
        train_mask=job.train_mask,
        labels=dict(job.labels),
        label_kinds=dict(job.label_kinds),
        settings=job.settings,
        label_columns=job.label_columns,
        source=job.source,
        loss=list(getattr(model, "loss_history_", []) or []),
    )


def run(gen: Generator[Progress, None, Any],
        callback: Callable[[Progress], Any] | None = None) -> Any:
    """Drain a generator of this module headless; return its result (``progress.drain``)."""
    return drain(gen, callback)
