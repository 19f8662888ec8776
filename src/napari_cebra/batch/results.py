"""``DIR/results.csv``: one row per task, written whole after every run (rerun-safe)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

RESULTS_NAME = "results.csv"
#: the first columns, in this order; the settings come after them, then the rest
LEADING = ("session", "stage", "status", "error", "val_score", "test_score", "score_kind",
           "n_neighbors")
TRAILING = ("embedding", "model", "traces", "n_frames", "n_neurons", "fs", "test_fraction",
            "final_loss",
            "seconds", "worker", "key")


def results_frame(rows: Sequence[dict]):
    """The rows as a DataFrame, columns in the documented order."""
    import pandas as pd

    frame = pd.DataFrame(list(rows))
    for column in LEADING + TRAILING:
        if column not in frame.columns:
            frame[column] = None
    middle = [c for c in frame.columns if c not in LEADING + TRAILING]
    return frame[list(LEADING) + middle + list(TRAILING)]


def write_results(rows: Sequence[dict], out: str | Path):
    """Write ``out/results.csv`` whole (it is ours: replaced each run); return the frame."""
    from napari_cebra.files import atomic_write

    frame = results_frame(rows)
    with atomic_write(Path(out) / RESULTS_NAME, "w", overwrite=True, what="results table",
                      newline="") as fh:
        frame.to_csv(fh, index=False)
    return frame


def read_results(path: str | Path):
    """A results table written by :func:`write_results` (a folder or the CSV itself)."""
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; run 'napari-cebra batch' first.")
    frame = pd.read_csv(path, keep_default_na=True)
    missing = [c for c in ("session", "stage", "status") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path.name} is not a batch results table (no column "
                         f"{', '.join(missing)}).")
    return frame
