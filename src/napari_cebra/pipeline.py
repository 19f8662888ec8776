"""Training jobs for CEBRA, as plain generators: the GUI, the CLI and scripts share them.

A job is built from a traces source (the ``layer.metadata["napari_cebra"]`` dict of
docs/CONTRACTS.md, or plain arrays), trained with :func:`train` (a generator yielding
:class:`Progress` and returning a :class:`TrainingResult`) and drained headless with
:func:`run`. Closing the generator part-way discards the run (the engine's contract).

Also here: views of an embedding (3 chosen dims or PCA, a display subsample) and writers of an
embedding with its time index and labels to ``.npy`` / ``.csv`` / ``.h5``.
No Qt, no napari; torch is imported only when training starts.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from napari_cebra.contracts import LABEL_KINDS, META_KEY  # noqa: F401 - re-exported

EMBEDDING_SUFFIXES = (".npy", ".csv", ".h5", ".hdf5")


class TrainingError(Exception):
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


@dataclass
class TrainSettings:
    """What the user chooses for one run; names follow the reference ``cebra`` package."""

    model_architecture: str = "offset10-model"
    output_dimension: int = 3
    num_hidden_units: int = 32
    max_iterations: int = 2000
    batch_size: int = 512
    learning_rate: float = 3e-4
    temperature: float = 1.0
    temperature_mode: str = "constant"  # "constant" (fixed) or "auto" (learned)
    time_offsets: int = 10
    hybrid: bool = False
    device: str = "auto"
    seed: int | None = 0
    test_fraction: float = 0.0  # the last part of the session, held out of training

    def __post_init__(self) -> None:
        if self.temperature_mode not in ("constant", "auto"):
            raise ValueError(
                f"temperature_mode={self.temperature_mode!r}: use 'constant' (fixed) or 'auto'."
            )
        if not 0.0 <= float(self.test_fraction) < 1.0:
            raise ValueError(f"test_fraction={self.test_fraction} must be in [0, 1).")
        for name in ("output_dimension", "num_hidden_units", "max_iterations", "batch_size",
                     "time_offsets"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be a positive integer.")
        if not float(self.learning_rate) > 0:
            raise ValueError(f"learning_rate={self.learning_rate} must be > 0.")
        if not float(self.temperature) > 0:
            raise ValueError(f"temperature={self.temperature} must be > 0.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainSettings:
        """Build from a dict, ignoring keys this class does not know (e.g. engine-only params)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

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

    @property
    def n_samples(self) -> int:
        return int(self.neural.shape[0])

    @property
    def train_mask(self) -> np.ndarray:
        return split_mask(self.n_samples, self.settings.test_fraction)

    @property
    def mode(self) -> str:
        if not self.label_columns:
            return "CEBRA-Time"
        return "CEBRA-Hybrid" if self.settings.hybrid else "CEBRA-Behaviour"


@dataclass(frozen=True)
class Progress:
    """One event of a run: ``stage`` is "fit" (one per step) or "embed" (once, at the end)."""

    stage: str
    step: int
    total: int
    loss: float = float("nan")
    temperature: float = float("nan")


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
        """The dict stored as ``source_layer.metadata["napari_cebra"]["embedding"]``."""
        return {
            "embedding": self.embedding,
            "time": self.time,
            "train_mask": self.train_mask,
            "labels": dict(self.labels),
            "label_kinds": dict(self.label_kinds),
            "label_columns": list(self.label_columns),
            "settings": self.settings.to_dict(),
            "source": self.source,
            "loss": list(self.loss),
        }


def split_mask(n_samples: int, test_fraction: float) -> np.ndarray:
    """Boolean train mask: the first ``1 - test_fraction`` of the session trains, the rest tests.

    A contiguous split keeps the held-out block free of frames that neighbour training frames.
    """
    n_test = int(round(n_samples * float(test_fraction)))
    mask = np.ones(n_samples, dtype=bool)
    if n_test:
        mask[n_samples - n_test:] = False
    return mask


def label_columns_of(meta: Mapping[str, Any]) -> dict[str, str]:
    """Column name → declared kind for a traces-source metadata dict."""
    labels = meta.get("labels") or {}
    kinds = meta.get("label_kinds") or {}
    return {name: kinds.get(name, "undeclared") for name in labels}


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
            continuous.append(as_continuous(labels[column], n, name=f"label {column!r}",
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
    has_labels = bool(job.label_columns)
    if model is None:
        model = make_estimator(job.settings, has_labels)
    mask = job.train_mask
    if mask.sum() < 2 * job.settings.time_offsets:
        raise ValueError(
            f"only {int(mask.sum())} training frames; lower the test fraction or the time offset."
        )
    kwargs = {}
    if job.continuous is not None:
        kwargs["continuous"] = job.continuous[mask]
    if job.discrete is not None:
        kwargs["discrete"] = job.discrete[mask]
    total = int(job.settings.max_iterations)
    steps = model.fit_steps(job.neural[mask], **kwargs)
    try:
        while True:
            try:
                step = next(steps)
            except StopIteration as stop:
                model = stop.value if stop.value is not None else model
                break
            yield Progress("fit", int(step.step), int(step.max_iterations), float(step.loss),
                           float(step.temperature))
        yield Progress("embed", total, total)
        embedding = np.asarray(model.transform(job.neural), dtype=np.float32)
    except (RuntimeError, MemoryError) as err:  # torch / out-of-memory → one clear message
        raise TrainingError(explain_error(err, job.settings)) from err
    finally:
        steps.close()  # no-op once finished; discards the run when closed part-way
    return result_for(job, model, embedding)


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
    """Drain a generator of this module headless; return its result."""
    from napari_cebra.progress import drain

    return drain(gen, callback)


# ----------------------------------------------------------------------------- model files

def settings_path(model_path: str | Path) -> Path:
    """The JSON file next to a model file that keeps the run's settings and label choice."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + ".settings.json")


def save_model(model, path: str | Path, settings: TrainSettings,
               label_columns: Sequence[str] = (), overwrite: bool = False) -> Path:
    """``model.save(path)`` plus a settings sidecar (``<path>.settings.json``)."""
    path = Path(path)
    side = settings_path(path)
    if side.exists() and not overwrite:
        raise FileExistsError(f"{side} exists; choose another file name.")
    model.save(path, overwrite=overwrite)
    side.write_text(json.dumps({"settings": settings.to_dict(),
                                "label_columns": list(label_columns)}, indent=2))
    return path


def load_model(path: str | Path, device: str = "auto"):
    """``(model, settings, label_columns)``; settings come from the sidecar when present."""
    from napari_cebra.engine.estimator import CEBRA

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist.")
    model = CEBRA.load(path, device=device)
    side = settings_path(path)
    if side.exists():
        data = json.loads(side.read_text())
        settings = TrainSettings.from_dict(data.get("settings", {}))
        columns = tuple(data.get("label_columns", ()))
    else:
        settings = TrainSettings.from_dict(model.get_params())
        columns = ()
    return model, settings, columns


# ----------------------------------------------------------------------------- views

def project(embedding: np.ndarray, dims: Sequence[int] | str = (0, 1, 2)) -> np.ndarray:
    """The coordinates to draw: chosen dims, or ``"pca"`` (first 3 principal components).

    2-D embeddings come back as they are (drawn flat); ``dims`` beyond the embedding's width
    raise ``ValueError``.
    """
    emb = np.asarray(embedding, dtype=np.float32)
    if emb.ndim != 2:
        raise ValueError(f"embedding must be 2-D (time, dims); got shape {emb.shape}.")
    d = emb.shape[1]
    if d <= 2:
        return emb
    if isinstance(dims, str):
        if dims.lower() != "pca":
            raise ValueError(f"dims={dims!r}: give three dimension indices or 'pca'.")
        return pca(emb, 3)
    dims = tuple(int(i) for i in dims)
    if len(dims) not in (2, 3) or len(set(dims)) != len(dims) or not all(0 <= i < d for i in dims):
        raise ValueError(f"dims={dims} must be 2 or 3 distinct indices in 0..{d - 1}.")
    return emb[:, list(dims)]


def pca(x: np.ndarray, n_components: int = 3) -> np.ndarray:
    """Scores on the first principal components (from the d × d covariance: fast at any T)."""
    x = np.asarray(x, dtype=np.float64)
    centred = x - x.mean(axis=0)
    cov = centred.T @ centred / max(len(x) - 1, 1)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:n_components]
    components = vectors[:, order]
    # Fix each component's sign so the view does not flip between runs.
    signs = np.sign(components[np.argmax(np.abs(components), axis=0), range(components.shape[1])])
    return (centred @ (components * signs)).astype(np.float32)


def display_indices(n_samples: int, max_points: int | None) -> np.ndarray:
    """Evenly strided indices of at most ``max_points`` rows: what is drawn, not what is kept."""
    if max_points is None or n_samples <= max_points:
        return np.arange(n_samples)
    return np.unique(np.linspace(0, n_samples - 1, int(max_points)).round().astype(np.int64))


# ----------------------------------------------------------------------------- writers

def _columns(embedding: np.ndarray, time: np.ndarray | None,
             labels: Mapping[str, Any] | None) -> tuple[np.ndarray, np.ndarray, dict]:
    emb = np.asarray(embedding)
    if emb.ndim != 2:
        raise ValueError(f"embedding must be 2-D (time, dims); got shape {emb.shape}.")
    t = np.arange(len(emb)) if time is None else np.asarray(time)
    if len(t) != len(emb):
        raise ValueError(f"time has {len(t)} entries but the embedding has {len(emb)} rows.")
    cols = {}
    for name, values in (labels or {}).items():
        values = np.asarray(values)
        if values.ndim != 1 or len(values) != len(emb):
            raise ValueError(f"label {name!r} must be 1-D with {len(emb)} entries.")
        if name in ("time",) or name.startswith("embedding_"):
            raise ValueError(f"label name {name!r} clashes with a column of the file.")
        cols[name] = values
    return emb, t, cols


def save_embedding(path: str | Path, embedding: np.ndarray, time: np.ndarray | None = None,
                   labels: Mapping[str, Any] | None = None, overwrite: bool = False) -> Path:
    """Write an embedding with its time index and labels; the suffix picks the format.

    ``.npy``: one structured array (fields ``time``, ``embedding_0``…, then labels; loads
    without pickle). ``.csv``: the same columns with a header. ``.h5``: datasets
    ``embedding``, ``time`` and ``labels/<name>``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EMBEDDING_SUFFIXES:
        raise ValueError(f"{path.name}: save embeddings as {', '.join(EMBEDDING_SUFFIXES)}.")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; choose another file name.")
    emb, t, cols = _columns(embedding, time, labels)
    names = ["time"] + [f"embedding_{i}" for i in range(emb.shape[1])] + list(cols)
    if suffix == ".npy":
        dtype = [("time", t.dtype)] + [(n, emb.dtype) for n in names[1:1 + emb.shape[1]]]
        dtype += [(n, v.dtype) for n, v in cols.items()]
        table = np.empty(len(emb), dtype=dtype)
        table["time"] = t
        for i in range(emb.shape[1]):
            table[f"embedding_{i}"] = emb[:, i]
        for n, v in cols.items():
            table[n] = v
        with open(path, "wb") as fh:
            np.save(fh, table, allow_pickle=False)
    elif suffix == ".csv":
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(names)
            data = [t, *emb.T, *cols.values()]
            writer.writerows(zip(*(_plain(c) for c in data), strict=True))
    else:
        import h5py

        with h5py.File(path, "w") as fh:
            fh.create_dataset("embedding", data=emb)
            fh.create_dataset("time", data=t)
            group = fh.create_group("labels")
            for n, v in cols.items():
                group.create_dataset(n, data=v)
    return path


def _plain(values: np.ndarray) -> Iterable:
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.floating):
        return (repr(float(v)) for v in values)
    return values.tolist()


def load_embedding(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Read back what :func:`save_embedding` wrote: ``(embedding, time, labels)``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        table = np.load(path, allow_pickle=False)
        names = list(table.dtype.names or ())
        emb_names = [n for n in names if n.startswith("embedding_")]
        emb = np.stack([table[n] for n in emb_names], axis=1)
        labels = {n: table[n] for n in names if n != "time" and n not in emb_names}
        return emb, table["time"], labels
    if suffix == ".csv":
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
        header, body = rows[0], rows[1:]
        columns = {n: np.array([r[i] for r in body]) for i, n in enumerate(header)}
        emb_names = [n for n in header if n.startswith("embedding_")]
        emb = np.stack([columns[n].astype(np.float32) for n in emb_names], axis=1)
        labels = {n: _parse(columns[n]) for n in header if n != "time" and n not in emb_names}
        return emb, columns["time"].astype(np.int64), labels
    if suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as fh:
            emb = fh["embedding"][()]
            t = fh["time"][()]
            labels = {n: fh["labels"][n][()] for n in fh.get("labels", {})}
        return emb, t, labels
    raise ValueError(f"{path.name}: not an embedding file ({', '.join(EMBEDDING_SUFFIXES)}).")


def _parse(values: np.ndarray) -> np.ndarray:
    for dtype in (np.int64, np.float64):
        try:
            return values.astype(dtype)
        except ValueError:
            continue
    return values
