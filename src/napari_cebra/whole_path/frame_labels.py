"""Which movie frame was on screen at each imaging frame: ``frame_id`` and ``repeat``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

REQUIRED = ("frame_id", "repeat")


@dataclass(frozen=True)
class FrameLabels:
    """Per imaging frame: the movie frame shown (``frame_id``) and the repeat it belongs to."""

    frame_id: np.ndarray  # (T,) int64
    repeat: np.ndarray  # (T,) int64
    source: str = ""

    def check_frames(self, n_frames: int) -> None:
        if len(self.frame_id) != n_frames:
            raise ValueError(
                f"{self.source or 'the frame labels'} has {len(self.frame_id)} rows but the "
                f"stack has {n_frames} frames; give one row per imaging frame.")


def _as_ids(values: np.ndarray, column: str, source: str) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype == object:
        bad = next(i for i, v in enumerate(values) if not _is_int_text(v))
        raise ValueError(f"{source}: column {column!r} row {bad + 2} is {values[bad]!r}; "
                         "it must hold whole numbers ≥ 0.")
    values = values.astype(np.float64)
    wrong = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise ValueError(f"{source}: column {column!r} row {i + 2} is {values[i]:g}; it must "
                         "hold whole numbers ≥ 0 (no gaps, no decimals).")
    return values.astype(np.int64)


def _is_int_text(v) -> bool:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return np.isfinite(f) and f >= 0 and f == round(f)


def read_frame_labels(path: str | Path, n_frames: int | None = None) -> FrameLabels:
    """Read a CSV (or NPY) with ``frame_id`` and ``repeat`` columns, one row per imaging frame.

    With ``n_frames`` the row count is checked against the stack's frame count.
    """
    from napari_cebra.imaging.labels import read_label_table

    table = read_label_table(path)
    missing = [c for c in REQUIRED if c not in table]
    if missing:
        raise ValueError(
            f"{path}: no column {' or '.join(repr(c) for c in missing)}; a frame-labels file "
            f"needs 'frame_id' and 'repeat' (it has {', '.join(map(repr, table))}).")
    labels = FrameLabels(frame_id=_as_ids(table["frame_id"], "frame_id", str(path)),
                         repeat=_as_ids(table["repeat"], "repeat", str(path)),
                         source=str(path))
    if n_frames is not None:
        labels.check_frames(n_frames)
    if len(np.unique(labels.repeat)) < 3:
        raise ValueError(f"{path}: {len(np.unique(labels.repeat))} repeat(s); decoding needs "
                         "at least 3 (train, validation, test).")
    return labels
