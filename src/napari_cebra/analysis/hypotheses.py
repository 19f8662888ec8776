"""CEBRA's hypothesis tests: discover first (CEBRA-Time), then test which behaviour shapes the
embedding (CEBRA-Behaviour per label set, each against time-shuffled controls).

On one recording and one training budget, :func:`hypothesis_steps` trains CEBRA-Time, then
CEBRA-Behaviour for every label set (each variable alone, and given combinations), and for
each set ``shuffles`` controls trained on the same labels shifted in time. Every model is
trained ``seeds`` times. Per model it reports the final InfoNCE loss, the goodness of fit in
bits, the decoding of **every** variable on a held-out block at the end of the session (kNN;
R² and median absolute error for continuous variables, accuracy for discrete ones) and the
consistency between its runs (R² of the linear map between their embeddings).

Controls. ``shuffle="circular"`` (the default) rolls the set's labels by a random offset
between 10 % and 90 % of the training frames: the labels keep their own distribution and
temporal structure (smoothness, laps, bouts), only their alignment with the neural activity
is broken — the null of "this variable is not in the activity", and a fair one for
``time_delta`` positives, which use label changes over ``time_offsets`` frames. ``"permute"``
draws a random permutation of the training frames, the paper's shuffled-label control; it also
destroys the labels' smoothness, so it is the easier control to beat.

Missing labels (NaN, or False in ``valid``) are never invented: a behaviour model trains only
on frames where all of its variables are present (the gaps are cut out and the rest joined;
the encoder's receptive field of a few frames may straddle a cut), and each variable is
decoded only on frames where it is present. CEBRA-Time needs no labels and trains on every
training frame. Decoding always reads the *true* labels, for shuffled models too.

No Qt; torch is imported only when training starts.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from napari_cebra.pipeline import _device_names, _model_names
from napari_cebra.progress import Progress, drain, fit_progress
from napari_cebra.settings import Settings, setting

FORMAT = "napari-cebra hypotheses"
FORMAT_VERSION = 1
SHUFFLES = ("circular", "permute")
TIME_MODEL = "CEBRA-Time"


@dataclass
class HypothesisSettings(Settings):
    """One hypothesis test: which label sets, how many controls and runs, the training budget
    every model shares, and the held-out block that decoding is scored on."""

    sets: str = setting("", help="label sets to test, separated by ';', variables in a set by "
                        "',' (e.g. 'position; speed; position,speed'); empty: each variable "
                        "alone, then all together")
    shuffles: int = setting(1, min=0, max=20, help="shuffled-label controls per label set")
    shuffle: str = setting("circular", choices=SHUFFLES,
                           help="control: roll the labels in time by a random offset "
                           "(keeps their structure) or permute the frames (the paper's)")
    seeds: int = setting(2, min=2, max=10, help="training runs per model, for consistency "
                         "between runs")
    include_time: bool = setting(True, help="also train CEBRA-Time (no labels), the "
                                 "discovery baseline")
    test_fraction: float = setting(0.2, min=0.05, max=0.5, help="end of the session held out "
                                   "of training; decoding is scored there")
    max_iterations: int = setting(2000, min=1, max=1_000_000, unit="steps",
                                  help="training steps of every model", cli="--iterations")
    output_dimension: int = setting(3, min=1, max=1024, help="embedding dimension")
    num_hidden_units: int = setting(32, min=1, max=4096, help="hidden units of the encoder",
                                    cli="--hidden-units")
    batch_size: int = setting(512, min=2, max=1_000_000, help="samples per training step")
    learning_rate: float = setting(3e-4, min=1e-7, max=1.0, help="Adam learning rate")
    temperature: float = setting(1.0, min=1e-3, max=100.0, help="InfoNCE temperature")
    time_offsets: int = setting(10, min=1, max=10_000, unit="frames",
                                help="time offset of CEBRA-Time positives and label steps")
    model_architecture: str = setting("offset10-model", choices=_model_names, cli="--model",
                                      help="encoder architecture")
    n_neighbors: int = setting(24, min=1, max=1000, help="neighbours of the kNN decoder")
    device: str = setting("auto", choices=_device_names,
                          help="auto (CUDA when present), cpu, cuda:N")
    seed: int = setting(0, min=0, max=2**31 - 1, help="first training seed (runs use seed, "
                        "seed+1, …) and the controls' shuffles")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> HypothesisSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown hypothesis setting(s) {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(known))}.")
        return cls(**dict(values))

    def train_settings(self, seed: int):
        from napari_cebra.pipeline import TrainSettings

        return TrainSettings(
            model_architecture=self.model_architecture, output_dimension=self.output_dimension,
            num_hidden_units=self.num_hidden_units, max_iterations=self.max_iterations,
            batch_size=self.batch_size, learning_rate=self.learning_rate,
            temperature=self.temperature, time_offsets=self.time_offsets, device=self.device,
            seed=seed)


def parse_sets(text: str | Sequence[str] | Sequence[Sequence[str]], variables: Sequence[str]
               ) -> list[tuple[str, ...]]:
    """Label sets from ``"x; y; x,y"`` or ``["x", "y", "x,y"]`` (or lists of names); empty:
    each variable alone, then (with two or more) all together. Unknown names are refused."""
    if isinstance(text, str):
        parts = [p for p in text.split(";") if p.strip()]
    else:
        parts = [p if isinstance(p, str) else ",".join(p) for p in text]
    sets: list[tuple[str, ...]] = []
    for part in parts:
        names = tuple(dict.fromkeys(n.strip() for n in part.split(",") if n.strip()))
        if names and names not in sets:
            sets.append(names)
    if not sets:
        sets = [(v,) for v in variables] + ([tuple(variables)] if len(variables) > 1 else [])
    unknown = sorted({n for s in sets for n in s} - set(variables))
    if unknown:
        raise ValueError(f"label set variable(s) {', '.join(map(repr, unknown))} not among the "
                         f"labels; available: {', '.join(variables) or 'none'}.")
    return sets


# -- results ----------------------------------------------------------------------------------
@dataclass
class ModelScore:
    """One model (trained ``seeds`` times): per-seed figures and their consistency."""

    name: str  # "CEBRA-Time", "position", "position,speed (shuffled 1)"
    kind: str  # "time", "behaviour" or "shuffled"
    labels: list[str]  # the variables it was trained on (empty for CEBRA-Time)
    control: int  # 0 for a real model, i for shuffled control i
    n_train: int  # frames it trained on
    loss: list[float]  # final InfoNCE loss (mean of the last 100 steps), per seed
    goodness_of_fit_bits: list[float]  # per seed
    decoding: dict[str, dict[str, list[float]]]  # variable → metric → per seed
    consistency_r2: float  # mean pairwise R² between the runs' embeddings
    shift: int | None = None  # the circular shift of a control (frames)


@dataclass
class HypothesisResult:
    """Every model's figures; :meth:`table` for reading, :meth:`save` / :meth:`load` as JSON."""

    models: list[ModelScore]
    settings: HypothesisSettings
    variables: dict[str, str]  # name → kind
    n_frames: int
    n_neurons: int
    n_test: int
    source: str = ""
    present: dict[str, int] = field(default_factory=dict)  # frames where each variable is known
    embeddings: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # first seed

    def table(self):
        """One row per model (mean over seeds): loss, bits, consistency, decoding per variable."""
        import pandas as pd

        rows = []
        for m in self.models:
            row = {"model": m.name, "kind": m.kind, "train frames": m.n_train,
                   "loss": _mean(m.loss), "goodness of fit (bits)": _mean(m.goodness_of_fit_bits),
                   "consistency R²": m.consistency_r2}
            for var, metrics in m.decoding.items():
                for metric, values in metrics.items():
                    row[f"{var} {metric}"] = _mean(values)
            rows.append(row)
        return pd.DataFrame(rows)

    def margins(self) -> list[dict[str, Any]]:
        """Per label set: how far its model is above its best shuffled control, in bits and in
        decoding (R² or accuracy) of each of its variables."""
        out = []
        for m in self.models:
            if m.kind != "behaviour":
                continue
            controls = [c for c in self.models if c.kind == "shuffled" and c.labels == m.labels]
            if not controls:
                continue
            entry: dict[str, Any] = {"model": m.name, "bits": _mean(m.goodness_of_fit_bits)
                                     - max(_mean(c.goodness_of_fit_bits) for c in controls)}
            for var in m.labels:
                metric = score_metric(self.variables[var])
                entry[f"{var} {metric}"] = _mean(m.decoding[var][metric]) - max(
                    _mean(c.decoding[var][metric]) for c in controls)
            out.append(entry)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": FORMAT_VERSION, "source": self.source,
                "n_frames": self.n_frames, "n_neurons": self.n_neurons, "n_test": self.n_test,
                "variables": dict(self.variables), "present": dict(self.present),
                "settings": self.settings.to_dict(),
                "models": [_clean(asdict(m)) for m in self.models],
                "margins": _clean(self.margins())}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HypothesisResult:
        if data.get("format") != FORMAT:
            raise ValueError("not a napari-cebra hypotheses report (no 'format' "
                             f"{FORMAT!r}).")
        models = [ModelScore(**{**m, "loss": _floats(m["loss"]),
                                "goodness_of_fit_bits": _floats(m["goodness_of_fit_bits"]),
                                "consistency_r2": _float(m["consistency_r2"]),
                                "decoding": {v: {k: _floats(x) for k, x in d.items()}
                                             for v, d in m["decoding"].items()}})
                  for m in data["models"]]
        return cls(models=models, settings=HypothesisSettings.from_dict(data["settings"]),
                   variables=dict(data["variables"]), n_frames=int(data["n_frames"]),
                   n_neurons=int(data["n_neurons"]), n_test=int(data["n_test"]),
                   source=str(data.get("source", "")), present=dict(data.get("present", {})))

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """The report as JSON, written whole (refused over an existing file unless asked)."""
        from napari_cebra.files import write_json

        return write_json(path, self.to_dict(), overwrite=overwrite, what="hypotheses report")

    @classmethod
    def load(cls, path: str | Path) -> HypothesisResult:
        import json

        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: not a readable hypotheses report ({err}).") from err

    def plot(self, path: str | Path | None = None, *, overwrite: bool = False):
        """Bars per model: goodness of fit and each variable's decoding score; saved as PNG
        (whole, never over an existing file unless asked) when ``path`` is given."""
        return plot_result(self, path, overwrite=overwrite)


def score_metric(kind: str) -> str:
    """The decoding figure that ranks models: R² (continuous) or accuracy (discrete)."""
    return "accuracy" if kind == "discrete" else "R²"


def _mean(values: Sequence[float]) -> float:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.mean(finite)) if finite else float("nan")


def _float(v) -> float:
    return float("nan") if v is None else float(v)


def _floats(values) -> list[float]:
    return [_float(v) for v in values]


def _clean(data):
    """NaN/inf → None, so the JSON is standard (``null``)."""
    if isinstance(data, dict):
        return {k: _clean(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_clean(v) for v in data]
    if isinstance(data, (float, np.floating)):
        return float(data) if math.isfinite(data) else None
    if isinstance(data, np.integer):
        return int(data)
    return data


# -- the job ----------------------------------------------------------------------------------
def check_labels(labels: Mapping[str, Any], kinds: Mapping[str, str], n: int,
                 valid: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Label columns as float64 (T,) with NaN where missing (also where ``valid`` is False);
    discrete ones must be integers where present."""
    if not labels:
        raise ValueError("no labels: hypothesis tests compare behaviour variables; give at "
                         "least one labelled variable.")
    mask = None if valid is None else np.asarray(valid, bool).reshape(-1)
    if mask is not None and len(mask) != n:
        raise ValueError(f"the valid mask has {len(mask)} frames but the traces have {n}.")
    out = {}
    for name, values in labels.items():
        kind = kinds.get(name)
        if kind not in ("continuous", "discrete"):
            raise ValueError(f"label {name!r} has no declared kind; declare it 'continuous' or "
                             "'discrete' (labels are declared, never guessed).")
        y = np.asarray(values, dtype=np.float64)
        if y.ndim != 1 or len(y) != n:
            raise ValueError(f"label {name!r} has shape {y.shape} but the traces have {n} "
                             "frames; give one value per frame.")
        y = np.where(np.isfinite(y), y, np.nan)
        if mask is not None:
            y[~mask] = np.nan
        present = np.isfinite(y)
        if kind == "discrete" and not np.all(y[present] == np.round(y[present])):
            raise ValueError(f"label {name!r} is declared discrete but has non-integer values; "
                             "declare it continuous or give class numbers.")
        if present.sum() < 2:
            raise ValueError(f"label {name!r} is missing on all but {int(present.sum())} "
                             "frames; nothing to test.")
        out[name] = y
    return out


def shuffled(values: np.ndarray, how: str, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The control's labels (rows = training frames): rolled by a random offset in
    [10 %, 90 %] of the rows (``circular``) or permuted (``permute``); returns the shift
    (0 for a permutation)."""
    n = len(values)
    if how == "circular":
        shift = int(rng.integers(max(1, n // 10), max(2, n - n // 10)))
        return np.roll(values, shift, axis=0), shift
    return values[rng.permutation(n)], 0


def hypothesis_steps(neural, labels: Mapping[str, Any], kinds: Mapping[str, str],
                     settings: HypothesisSettings | None = None, *,
                     valid: np.ndarray | None = None, source: str = "", progress_every: int = 10
                     ) -> Generator[Progress, None, HypothesisResult]:
    """Train and score every model of the test (see the module's docstring).

    ``neural``: (T, N) traces; ``labels``: name → (T,) values (NaN where missing);
    ``kinds``: name → "continuous" / "discrete"; ``valid``: optional (T,) bool mask of frames
    with behaviour. Yields :class:`Progress`; returns a :class:`HypothesisResult`. Closing the
    generator part-way stops at once and returns nothing.
    """
    from napari_cebra.engine.validation import as_neural
    from napari_cebra.pipeline import split_mask

    settings = settings or HypothesisSettings()
    neural = as_neural(neural, name=f"traces of {source}" if source else "traces")
    n = neural.shape[0]
    columns = check_labels(labels, kinds, n, valid)
    kinds = {k: kinds[k] for k in columns}
    sets = parse_sets(settings.sets, list(columns))
    train = split_mask(n, settings.test_fraction)
    if train.sum() <= 2 * settings.time_offsets or (~train).sum() < 2:
        raise ValueError(f"{n} frames with test_fraction {settings.test_fraction} leave too few "
                         "training or test frames; record longer or change the fraction.")
    plan: list[tuple[str, str, tuple[str, ...], int]] = []
    if settings.include_time:
        plan.append((TIME_MODEL, "time", (), 0))
    for s in sets:
        plan.append((",".join(s), "behaviour", s, 0))
        plan += [(f"{','.join(s)} (shuffled {i})", "shuffled", s, i)
                 for i in range(1, settings.shuffles + 1)]
    models, embeddings = [], {}
    for number, (name, kind, set_, control) in enumerate(plan, start=1):
        rows = train.copy()
        for var in set_:
            rows &= np.isfinite(columns[var])
        if rows.sum() <= 2 * settings.time_offsets:
            raise ValueError(f"label set {name!r}: only {int(rows.sum())} training frames have "
                             "all its variables; too few to train.")
        y = None
        shift = None
        if set_:
            y = np.stack([columns[v][rows] for v in set_], axis=1)
            if control:
                rng = np.random.default_rng([settings.seed, number, control])
                y, shift = shuffled(y, settings.shuffle, rng)
        runs = []
        for r in range(settings.seeds):
            stage = f"{name} · run {r + 1}/{settings.seeds} · model {number}/{len(plan)}"
            fitted = yield from _fit(neural[rows], y, set_, kinds, settings,
                                     settings.seed + r, stage, progress_every)
            runs.append((fitted, np.asarray(fitted.transform(neural), np.float32)))
        yield Progress("score", number, len(plan), f"scoring {name}")
        models.append(_score(name, kind, set_, control, int(rows.sum()), runs, columns, kinds,
                             train, settings, shift))
        embeddings[name] = runs[0][1]
    return HypothesisResult(
        models=models, settings=settings, variables=kinds, n_frames=n,
        n_neurons=int(neural.shape[1]), n_test=int((~train).sum()), source=source,
        present={k: int(np.isfinite(v).sum()) for k, v in columns.items()},
        embeddings=embeddings)


def _fit(x: np.ndarray, y: np.ndarray | None, set_: tuple[str, ...], kinds: Mapping[str, str],
         settings: HypothesisSettings, seed: int, stage: str, every: int):
    from napari_cebra.pipeline import TrainingError, explain_error, make_estimator

    ts = settings.train_settings(seed)
    model = make_estimator(ts, bool(set_))
    kwargs = {}
    if y is not None:
        cont = [j for j, v in enumerate(set_) if kinds[v] == "continuous"]
        disc = [j for j, v in enumerate(set_) if kinds[v] == "discrete"]
        if cont:
            kwargs["continuous"] = y[:, cont].astype(np.float32)
        if disc:
            codes = y[:, disc].astype(np.int64)
            if codes.shape[1] > 1:  # several discrete variables: one class per combination
                codes = np.unique(codes, axis=0, return_inverse=True)[1].reshape(-1, 1)
            kwargs["discrete"] = codes[:, 0]
            if len(np.unique(kwargs["discrete"])) < 2:
                raise ValueError(f"label set {','.join(set_)}: a single class in the training "
                                 "frames; discrete labels need two or more classes.")
    try:
        fitted = yield from fit_progress(model.fit_steps(x, **kwargs), stage, every)
    except (RuntimeError, MemoryError) as err:
        raise TrainingError(explain_error(err, ts)) from err
    return fitted if fitted is not None else model


def _score(name, kind, set_, control, n_train, runs, columns, kinds, train, settings, shift
           ) -> ModelScore:
    from .decoders import make_decoder
    from .metrics import consistency_matrix
    from .scores import median_absolute_error, r2

    losses, bits = [], []
    decoding: dict[str, dict[str, list[float]]] = {
        v: ({"accuracy": []} if kinds[v] == "discrete" else {"R²": [], "median abs error": []})
        for v in columns}
    for model, emb in runs:
        history = model.loss_history_
        losses.append(float(np.mean(history[-100:])) if history else float("nan"))
        bits.append(float(model.goodness_of_fit_bits()))
        for var, y in columns.items():
            fit_rows = train & np.isfinite(y)
            test_rows = ~train & np.isfinite(y)
            discrete = kinds[var] == "discrete"
            if fit_rows.sum() < 2 or test_rows.sum() < 1:
                for values in decoding[var].values():
                    values.append(float("nan"))
                continue
            dec = make_decoder("knn", n_neighbors=min(settings.n_neighbors, int(fit_rows.sum())),
                               discrete=discrete)
            target = y[fit_rows].astype(np.int64) if discrete else y[fit_rows]
            pred = dec.fit(emb[fit_rows], target).predict(emb[test_rows])
            true = y[test_rows]
            if discrete:
                decoding[var]["accuracy"].append(float(np.mean(pred == true.astype(np.int64))))
            else:
                decoding[var]["R²"].append(r2(true, pred))
                decoding[var]["median abs error"].append(median_absolute_error(true, pred))
    matrix = consistency_matrix([e for _, e in runs])
    off = matrix[~np.eye(len(runs), dtype=bool)]
    return ModelScore(name=name, kind=kind, labels=list(set_), control=control,
                      n_train=n_train, loss=losses, goodness_of_fit_bits=bits,
                      decoding=decoding, consistency_r2=float(np.mean(off)), shift=shift)


def run_hypotheses(neural, labels: Mapping[str, Any], kinds: Mapping[str, str] | None = None,
                   settings: HypothesisSettings | None = None, *,
                   valid: np.ndarray | None = None, source: str = "", report: str | Path | None
                   = None, plot: str | Path | None = None, overwrite: bool = False,
                   on_progress=None, **overrides) -> HypothesisResult:
    """Run the whole test headless; ``kinds`` defaults to every label continuous.

    ``overrides`` are :class:`HypothesisSettings` fields (``run_hypotheses(x, labels,
    max_iterations=500, sets="position; speed")``). ``report`` / ``plot``: write the JSON /
    PNG (never over an existing file unless ``overwrite``; both checked before training).
    """
    from napari_cebra.files import check_target

    if settings is None or overrides:
        base = settings.to_dict() if settings is not None else {}
        settings = HypothesisSettings.from_dict({**base, **overrides})
    for path, what in ((report, "hypotheses report"), (plot, "hypotheses plot")):
        if path is not None:
            check_target(path, overwrite=overwrite, what=what)
    kinds = dict(kinds) if kinds is not None else {k: "continuous" for k in labels}
    result = drain(hypothesis_steps(neural, labels, kinds, settings, valid=valid,
                                    source=source), on_progress)
    if report is not None:
        result.save(report, overwrite=overwrite)
    if plot is not None:
        result.plot(plot, overwrite=overwrite)
    return result


# -- the plot ---------------------------------------------------------------------------------
def plot_result(result: HypothesisResult, path: str | Path | None = None, *,
                overwrite: bool = False):
    """A matplotlib figure: goodness of fit per model, then one panel per variable with its
    held-out decoding score; controls in grey. Saved atomically as PNG when ``path`` is
    given; returns the figure."""
    from matplotlib.figure import Figure

    variables = list(result.variables)
    fig = Figure(figsize=(3.0 + 2.4 * (len(variables) + 1), 3.2 + 0.18 * len(result.models)),
                 layout="constrained")
    axes = fig.subplots(1, len(variables) + 1, sharey=True, squeeze=False)[0]
    names = [m.name for m in result.models]
    colours = ["#7f7f7f" if m.kind == "shuffled" else "#9467bd" if m.kind == "time"
               else "#1f77b4" for m in result.models]
    ypos = np.arange(len(names))[::-1]

    def bars(ax, values, errors, title):
        ax.barh(ypos, values, xerr=errors, color=colours)
        ax.set_title(title, fontsize=9)
        ax.axvline(0, color="black", linewidth=0.6)
        ax.tick_params(labelsize=8)

    def spread(values):
        finite = [v for v in values if math.isfinite(v)]
        return float(np.std(finite)) if len(finite) > 1 else 0.0

    bars(axes[0], [_mean(m.goodness_of_fit_bits) for m in result.models],
         [spread(m.goodness_of_fit_bits) for m in result.models], "goodness of fit (bits)")
    axes[0].set_yticks(ypos, names)
    for ax, var in zip(axes[1:], variables, strict=True):
        metric = score_metric(result.variables[var])
        vals = [m.decoding[var][metric] for m in result.models]
        bars(ax, [_mean(v) for v in vals], [spread(v) for v in vals],
             f"{var}: held-out {metric}")
    if path is not None:
        from napari_cebra.files import atomic_path

        with atomic_path(path, overwrite=overwrite, what="hypotheses plot") as tmp:
            fig.savefig(tmp, format="png", dpi=110)
    return fig
