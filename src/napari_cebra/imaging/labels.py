"""Behaviour / stimulus labels: load from CSV or NPY, declare each column's kind, put them on
the imaging frame times.

Kinds are declared, never guessed: every column used must be marked "continuous" or
"discrete". Continuous columns are linearly interpolated onto frame times; discrete ones take
the most recent label (zero-order hold).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_cebra.contracts import LABEL_KINDS

# The imaging may cover less than the labels (a recording stopped early), but when it covers
# under this fraction of their duration the two time bases almost surely disagree.
MIN_COVERAGE = 0.1


@dataclass
class LabelSet:
    """Label columns (each (T,)) with their declared kinds and, optionally, a time base."""

    columns: dict[str, np.ndarray]
    kinds: dict[str, str]
    times: np.ndarray | None = None  # seconds, one per row
    fs: float | None = None  # sampling rate when rows are evenly spaced
    categories: dict[str, list[str]] = field(default_factory=dict)  # text classes → codes

    @property
    def n_samples(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def check_length(self, n_frames: int) -> None:
        if self.n_samples != n_frames:
            raise ValueError(
                f"labels have {self.n_samples} rows but the imaging has {n_frames} frames; "
                "resample them with align_labels (give the labels' time column or rate)"
            )

    def sample_times(self) -> np.ndarray | None:
        if self.times is not None:
            return self.times
        if self.fs:
            return np.arange(self.n_samples) / self.fs
        return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_label_table(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Columns of a CSV (header optional) or an NPY (1-D, 2-D or structured) as arrays.

    A pose-tracking file (DeepLabCut, SLEAP, Lightning Pose) gives its cleaned, derived
    variables on camera frames (see ``napari_cebra.behaviour.camera_table``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such labels file")
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5", ".slp", ".csv"):
        from napari_cebra.behaviour import camera_table, is_pose_file

        if is_pose_file(path):
            return camera_table(path)
    if suffix == ".npy":
        from .safe_npy import load_npy

        arr = load_npy(path)  # no pickle; the header's size checked against the file
        if arr.dtype.names:
            return {name: np.asarray(arr[name]) for name in arr.dtype.names}
        if arr.ndim == 1:
            return {"label": arr}
        if arr.ndim == 2:
            return {f"label{i}": arr[:, i] for i in range(arr.shape[1])}
        raise ValueError(f"{path}: labels must be 1-D or 2-D (rows = samples), got {arr.shape}")
    if suffix in (".csv", ".tsv", ".txt"):
        delimiter = "\t" if suffix == ".tsv" else ","
        import io

        from .text_tables import read_text

        # utf-8-sig: Excel starts its CSVs with a byte-order mark that would hide column 1
        text = read_text(path, "labels file")
        rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
                if any(c.strip() for c in r)]
        if not rows:
            raise ValueError(f"{path}: the labels file is empty")
        header = [c.strip() for c in rows[0]]
        if all(_is_number(c) for c in header if c):
            header = [f"label{i}" for i in range(len(rows[0]))]
        else:
            rows = rows[1:]
        repeated = sorted({c for c in header if header.count(c) > 1})
        if repeated:
            raise ValueError(
                f"{path}: column name {repeated[0]!r} appears {header.count(repeated[0])} times "
                "in the header; give each column its own name"
            )
        if not rows:
            raise ValueError(f"{path}: the labels file has a header but no rows")
        bad = [i for i, r in enumerate(rows) if len(r) != len(header)]
        if bad:
            raise ValueError(
                f"{path}: row {bad[0] + 2} has {len(rows[bad[0]])} fields, the header "
                f"{len(header)}; fix the file"
            )
        out = {}
        for j, name in enumerate(header):
            values = [r[j].strip() for r in rows]
            if all(_is_number(v) or v.lower() in ("", "nan") for v in values):
                out[name] = np.array([float(v) if v else np.nan for v in values])
            else:
                out[name] = np.array(values, dtype=object)
        return out
    raise ValueError(f"{path}: unsupported labels format {suffix!r}; use .csv or .npy "
                     "(or a DeepLabCut / SLEAP / Lightning Pose file)")


def _prepare_column(name: str, values: np.ndarray, kind: str, categories: dict) -> np.ndarray:
    if kind not in LABEL_KINDS:
        raise ValueError(f"label column {name!r}: kind must be one of {LABEL_KINDS}, got {kind!r}")
    if values.dtype == object:
        if kind == "continuous":
            raise TypeError(
                f"label column {name!r} holds text but is declared continuous; declare it "
                "discrete or fix the values"
            )
        classes = sorted({str(v) for v in values})
        if "" in classes:
            raise ValueError(f"label column {name!r}: row {list(values).index('')} is empty")
        categories[name] = classes
        return np.searchsorted(classes, values.astype(str)).astype(np.int64)
    values = np.asarray(values, dtype=np.float64)
    nan = np.flatnonzero(~np.isfinite(values))
    if nan.size:
        raise ValueError(
            f"label column {name!r} has {nan.size} NaN/inf values (first at row {nan[0]}); fill "
            "or drop them before training (e.g. interpolate or mark a class)"
        )
    if kind == "discrete":
        if not np.allclose(values, np.round(values)):
            i = int(np.flatnonzero(values != np.round(values))[0])
            raise ValueError(
                f"label column {name!r} is declared discrete but has non-integer value "
                f"{values[i]} at row {i}; declare it continuous or round it"
            )
        return np.round(values).astype(np.int64)
    return values.astype(np.float32)


def make_label_set(
    columns: dict[str, np.ndarray],
    kinds: dict[str, str],
    *,
    time_column: str | None = None,
    fs: float | None = None,
) -> LabelSet:
    """Check and convert raw columns; every column kept must have a declared kind."""
    if time_column is not None and time_column not in columns:
        raise ValueError(
            f"time column {time_column!r} not found; columns are {list(columns)}"
        )
    missing = [c for c in kinds if c not in columns]
    if missing:
        raise ValueError(f"labels: no column named {missing}; columns are {list(columns)}")
    if not kinds:
        raise ValueError(
            f"labels: declare the kind of at least one column ({list(columns)}) as "
            "'continuous' or 'discrete'"
        )
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"labels: columns differ in length {sorted(lengths)}")
    times = None
    if time_column is not None:
        times = np.asarray(columns[time_column], dtype=np.float64)
        if not np.isfinite(times).all() or np.any(np.diff(times) <= 0):
            raise ValueError(
                f"time column {time_column!r} must be finite and strictly increasing (seconds)"
            )
    if fs is not None and fs <= 0:
        raise ValueError(f"labels rate fs must be > 0 Hz, got {fs}")
    categories: dict[str, list[str]] = {}
    prepared = {
        name: _prepare_column(name, np.asarray(columns[name]), kind, categories)
        for name, kind in kinds.items()
        if name != time_column
    }
    return LabelSet(
        columns=prepared,
        kinds={k: v for k, v in kinds.items() if k != time_column},
        times=times,
        fs=fs,
        categories=categories,
    )


def load_labels(
    path: str | os.PathLike,
    kinds: dict[str, str],
    *,
    time_column: str | None = None,
    fs: float | None = None,
) -> LabelSet:
    """Load labels from CSV/NPY; ``kinds`` maps each column to use → "continuous"|"discrete".

    Give ``time_column`` (seconds) or ``fs`` (Hz) when the labels were sampled differently from
    the imaging; :func:`align_labels` then resamples them onto the frame times.
    """
    return make_label_set(read_label_table(path), kinds, time_column=time_column, fs=fs)


def align_labels(
    labels: LabelSet,
    n_frames: int,
    *,
    frame_times: np.ndarray | None = None,
    fs: float | None = None,
    min_coverage: float = MIN_COVERAGE,
) -> LabelSet:
    """Put ``labels`` on the imaging time base (``frame_times`` in s, or frames at ``fs`` Hz).

    Labels without a time base must already have one row per frame. When the imaging spans
    less than ``min_coverage`` of the labels' duration the time bases are taken to disagree
    (a wrong rate or unit) and a ``ValueError`` says so; lower it for a deliberately short
    recording.
    """
    if int(n_frames) < 1:
        raise ValueError(f"align_labels: n_frames={n_frames}; the imaging must have frames")
    src = labels.sample_times()
    if src is None:
        labels.check_length(n_frames)
        return labels
    if frame_times is None:
        if fs is None or not np.isfinite(fs) or fs <= 0:
            raise ValueError(
                "align_labels: the labels have a time base; give the imaging frame rate fs "
                "(Hz) or the frame times to resample them"
            )
        frame_times = np.arange(n_frames) / fs
    frame_times = np.asarray(frame_times, dtype=np.float64)
    if len(frame_times) != n_frames:
        raise ValueError(f"frame_times has {len(frame_times)} entries for {n_frames} frames")
    if not np.isfinite(frame_times).all():
        i = int(np.flatnonzero(~np.isfinite(frame_times))[0])
        raise ValueError(f"frame_times has a NaN/infinite value at frame {i}; give the "
                         "acquisition's time stamps (seconds) for every frame")
    if np.any(np.diff(frame_times) <= 0):
        i = int(np.flatnonzero(np.diff(frame_times) <= 0)[0])
        raise ValueError(f"frame_times must increase strictly; frame {i + 1} "
                         f"({frame_times[i + 1]:.6g} s) is not after frame {i} "
                         f"({frame_times[i]:.6g} s)")
    step = float(np.median(np.diff(src))) if len(src) > 1 else 0.0
    if frame_times[0] < src[0] - step or frame_times[-1] > src[-1] + step:
        raise ValueError(
            f"labels cover {src[0]:.3g}–{src[-1]:.3g} s but the imaging spans "
            f"{frame_times[0]:.3g}–{frame_times[-1]:.3g} s; the time bases do not match — "
            "check the labels' time column / rate and the imaging frame rate"
        )
    label_span = float(src[-1] - src[0]) + step
    imaging_span = float(frame_times[-1] - frame_times[0]) + (
        float(np.median(np.diff(frame_times))) if n_frames > 1 else 0.0)
    if label_span > 0 and imaging_span < min_coverage * label_span:
        raise ValueError(
            f"the imaging ({n_frames} frames, {imaging_span:.3g} s) covers only "
            f"{100 * imaging_span / label_span:.2g} % of the labels ({label_span:.3g} s); the "
            "frame rate or the labels' time base is probably wrong — check fs (Hz, not ms) "
            "and the labels' time column units (seconds), or lower min_coverage"
        )
    out = {}
    for name, values in labels.columns.items():
        if labels.kinds[name] == "continuous":
            out[name] = np.interp(frame_times, src, values).astype(np.float32)
        else:
            idx = np.clip(np.searchsorted(src, frame_times + 1e-9, side="right") - 1, 0, None)
            out[name] = values[idx]
    return LabelSet(columns=out, kinds=dict(labels.kinds), categories=dict(labels.categories))


#: header names read as the labels' time base (seconds), never trained as behaviour
TIME_COLUMN_NAMES = ("time", "times", "t", "time_s", "time (s)", "time[s]", "timestamp",
                     "timestamps", "seconds", "sec", "s")


def time_column_of(columns) -> str | None:
    """The column that holds the labels' times (seconds), by its name; ``None`` if none."""
    found = [c for c in columns if str(c).strip().lower() in TIME_COLUMN_NAMES]
    if len(found) > 1:
        raise ValueError(f"labels: several columns look like times ({', '.join(found)}); keep "
                         "one time column (seconds)")
    return found[0] if found else None


def label_names_for(path: str | os.PathLike, columns) -> dict[str, str]:
    """Column → label name: a header's names as written; a file without names (an ``.npy``,
    a CSV without header) is named after the file, ``stem`` or ``stem_0``, ``stem_1``… —
    as ``napari-cebra train`` names its label files."""
    stem = Path(path).stem
    names = list(columns)
    unnamed = [c for c in names if c == "label" or (c.startswith("label") and c[5:].isdigit())]
    if len(unnamed) != len(names):
        return {c: c for c in names}
    if len(names) == 1:
        return {names[0]: stem}
    return {c: f"{stem}_{i}" for i, c in enumerate(names)}


def labels_on_frames(path: str | os.PathLike, kind: str, n_frames: int,
                     fs: float | None) -> LabelSet:
    """Every column of a labels file as ``kind`` labels with one row per imaging frame.

    A time column (named ``time``, ``t``, ``timestamp``…, see :data:`TIME_COLUMN_NAMES`) is
    the labels' time base, never a label: the others are resampled onto the frames at ``fs``
    (Hz) with :func:`align_labels`. Without one, the file must have one row per frame.
    Names come from the header (see :func:`label_names_for`).
    """
    columns = read_label_table(path)
    time_column = time_column_of(columns)
    names = label_names_for(path, [c for c in columns if c != time_column])
    kinds = dict.fromkeys(names, kind)
    if not kinds:
        raise ValueError(f"{path}: holds only a time column ({time_column}); add label columns")
    rows = len(next(iter(columns.values())))
    if time_column is None and rows != n_frames:
        raise ValueError(f"{path}: the labels have {rows} rows but the traces have {n_frames} "
                         "frames; give one label row per frame, or a time column (seconds, "
                         "named time) to resample them onto the frames")
    try:
        labels = make_label_set(columns, kinds, time_column=time_column)
        labels = align_labels(labels, n_frames, fs=fs)
    except (ValueError, TypeError) as err:
        raise type(err)(f"{path}: {err}") from err
    renamed = LabelSet(columns={names[c]: v for c, v in labels.columns.items()},
                       kinds={names[c]: v for c, v in labels.kinds.items()},
                       categories={names[c]: v for c, v in labels.categories.items()})
    return renamed
