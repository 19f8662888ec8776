"""Results of the frame-decoding protocol, and how they are written (JSON / CSV)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPORT_FORMAT = "napari-cebra/frame-decoding-report"
REPORT_VERSION = 1


@dataclass
class FrameResult:
    """Frame-ID decoding of the test repeat from one representation."""

    name: str  # e.g. "cebra", "raw", "pca", "cebra (labels shuffled)"
    kind: str  # "model" | "baseline" | "control" | "reference"
    accuracy: float  # fraction of test frames with |pred - true| < tolerance
    median_frame_error: float  # frames
    n_neighbors: int
    validation: dict[int, float]  # validation accuracy per n_neighbors
    prediction: np.ndarray = field(repr=False)  # (T_test,) predicted frame ids


@dataclass
class ContinuousResult:
    """Decoding of a continuous label of the test repeat (position, running speed, ...)."""

    name: str
    label: str
    kind: str
    r2: float
    median_abs_error: float
    n_neighbors: int
    prediction: np.ndarray = field(repr=False)


@dataclass
class FrameDecodingReport:
    fs: float
    tolerance: float  # frames; a prediction is correct when |pred - true| < tolerance
    n_frames: int  # movie frames
    chance: float  # accuracy of a uniform random guess
    train_repeats: list[int]
    validation_repeat: int
    test_repeat: int
    test_index: np.ndarray = field(repr=False)  # (T_test,) time indices of the test repeat
    true_frames: np.ndarray = field(repr=False)  # (T_test,)
    results: list[FrameResult] = field(default_factory=list)
    continuous: list[ContinuousResult] = field(default_factory=list)
    goodness_of_fit_bits: dict[str, float] = field(default_factory=dict)
    consistency: dict | None = None  # {"names": [...], "matrix": [[...]]}
    settings: dict = field(default_factory=dict)
    extraction: dict | None = None  # when the traces came from a raw stack (whole_path)

    def result(self, name: str) -> FrameResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no result named {name!r}; have {[r.name for r in self.results]}")

    def summary(self) -> list[dict]:
        """One row per result: name, kind, accuracy, median frame error, n_neighbors."""
        rows = [
            dict(task="frame_id", name=r.name, kind=r.kind, accuracy=r.accuracy,
                 median_frame_error=r.median_frame_error, n_neighbors=r.n_neighbors,
                 r2=None, median_abs_error=None)
            for r in self.results
        ]
        rows += [
            dict(task=c.label, name=c.name, kind=c.kind, accuracy=None, median_frame_error=None,
                 n_neighbors=c.n_neighbors, r2=c.r2, median_abs_error=c.median_abs_error)
            for c in self.continuous
        ]
        return rows

    def to_dict(self, predictions: bool = False) -> dict:
        out = dict(
            format=REPORT_FORMAT, format_version=REPORT_VERSION, fs=self.fs,
            tolerance_frames=self.tolerance, n_frames=self.n_frames,
            chance=self.chance, train_repeats=list(self.train_repeats),
            validation_repeat=self.validation_repeat, test_repeat=self.test_repeat,
            results=self.summary(), goodness_of_fit_bits=dict(self.goodness_of_fit_bits),
            consistency=self.consistency, settings=self.settings,
        )
        if self.extraction is not None:
            out["extraction"] = self.extraction
        for row, r in zip(out["results"], self.results, strict=False):
            row["validation"] = {str(k): v for k, v in r.validation.items()}
        if predictions:
            out["true_frames"] = self.true_frames.tolist()
            out["predictions"] = {r.name: r.prediction.tolist() for r in self.results}
        return out

    def to_json(self, path: str | Path, predictions: bool = False,
                overwrite: bool = False) -> Path:
        """Write the report as JSON, whole or not at all; an existing file is kept unless
        ``overwrite``."""
        from napari_cebra.files import write_json

        return write_json(path, json_safe(self.to_dict(predictions)), overwrite=overwrite,
                          what="report file")

    def to_csv(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the summary table as CSV, whole or not at all (see :meth:`to_json`)."""
        from napari_cebra.files import atomic_write

        rows = self.summary()
        with atomic_write(path, "w", overwrite=overwrite, newline="",
                          what="CSV report") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["name"])
            writer.writeheader()
            writer.writerows(rows)
        return Path(path)


def json_safe(x):
    """JSON-safe copy: numpy scalars and arrays to Python, NaN to None."""
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, np.ndarray):
        return json_safe(x.tolist())
    if isinstance(x, (np.floating, float)):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


__all__ = ["ContinuousResult", "FrameDecodingReport", "FrameResult", "json_safe"]
