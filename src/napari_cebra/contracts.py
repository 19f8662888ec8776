"""The records the parts of napari-cebra exchange on napari layers (docs/CONTRACTS.md).

Qt-free and numpy-only: the core builds these records, the GUI stores them in
``layer.metadata[META_KEY]`` and reads them back, and every reader goes through the functions
here rather than indexing dicts by hand.

- A **traces record** (:func:`traces_record`) makes a layer trainable: its ``(T, N)`` traces,
  optional named trace sets, frame rate, declared labels and the viewer axis that is time.
- An **embedding record** (:func:`embedding_record`) is a run's result, stored under the traces
  record's ``"embedding"`` key of the layer the run started from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

META_KEY = "napari_cebra"
"""The key of ``layer.metadata`` under which a layer carries its traces record."""

LABEL_KINDS = ("continuous", "discrete")
"""Declared kinds of a label column (labels are declared, never guessed)."""

TRACES_FIELDS = ("traces", "trace_sets", "fs", "labels", "label_kinds", "time_axis")
EMBEDDING_FIELDS = ("embedding", "time", "train_mask", "labels", "label_kinds",
                    "label_columns", "settings", "source", "loss")
EXTRA_TRACES_FIELDS = {
    "embedding": "the embedding record of the last run on these traces",
    "selected_frames": "frames picked in the embedding view (int array)",
    "movie_layer": "name of the Image layer holding the stimulus movie these traces watched",
    "suite2p_dir": "the suite2p plane folder the traces were read from",
    "neuropil_coefficient": "the neuropil coefficient dF/F was computed with",
    "roi_indices": "the suite2p ROI index of each trace column (int array)",
    "curation_hash": "fingerprint of the suite2p plane's ROIs and cell flags the traces came from",
    "sample": "which built-in sample made the layer",
    "ground_truth": "True when the traces are a simulation's true traces",
    "source_layer": "name of the stack layer the traces were extracted from",
    "behaviour_report": "how pose-derived labels were cleaned and aligned (behaviour.clocks)",
    "plane": "(N,) int, the imaging plane of each trace column (multi-plane recordings)",
    "nplanes": "how many imaging planes the traces come from",
}
"""Optional keys of a traces record beside :data:`TRACES_FIELDS`, and what each holds."""


def traces_record(traces: Any, *, fs: float | None = None,
                  labels: Mapping[str, Any] | None = None,
                  label_kinds: Mapping[str, str] | None = None,
                  trace_sets: Mapping[str, Any] | None = None, time_axis: int = 0,
                  **extra: Any) -> dict[str, Any]:
    """A traces record: ``traces`` (T, N) float32 plus what :data:`TRACES_FIELDS` names.

    ``extra`` keys are kept as given (see :data:`EXTRA_TRACES_FIELDS`).
    """
    traces = np.asarray(traces, dtype=np.float32)
    if traces.ndim != 2:
        raise ValueError(f"traces must be 2-D (time, neurons); got shape {traces.shape}.")
    kinds = dict(label_kinds or {})
    for column, kind in kinds.items():
        if kind not in LABEL_KINDS:
            raise ValueError(f"label {column!r} is declared {kind!r}; declare one of "
                             f"{', '.join(LABEL_KINDS)}.")
    record = {
        "traces": traces,
        "trace_sets": {k: np.asarray(v, dtype=np.float32) for k, v in (trace_sets or {}).items()},
        "fs": None if fs is None else float(fs),
        "labels": {k: np.asarray(v) for k, v in (labels or {}).items()},
        "label_kinds": kinds,
        "time_axis": int(time_axis),
    }
    record.update(extra)
    return record


def rois_of(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Which suite2p ROIs a traces record holds (folder, ``roi_indices``, ``curation_hash``),
    JSON-ready for model settings and reports; ``None`` when it does not say."""
    if not record or record.get("roi_indices") is None:
        return None
    return {"suite2p_dir": record.get("suite2p_dir"),
            "roi_indices": [int(i) for i in np.asarray(record["roi_indices"]).ravel()],
            "curation_hash": record.get("curation_hash")}


def traces_of(metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The traces record in a layer's ``metadata`` dict, or ``None`` if it carries none."""
    record = (metadata or {}).get(META_KEY)
    if isinstance(record, dict) and record.get("traces") is not None:
        return record
    return None


def has_traces(layer: Any) -> bool:
    """Whether a napari layer (anything with ``.metadata``) carries a traces record."""
    return traces_of(getattr(layer, "metadata", None)) is not None


def label_columns_of(record: Mapping[str, Any]) -> dict[str, str]:
    """Column name → declared kind (``"undeclared"`` when the record does not say)."""
    kinds = record.get("label_kinds") or {}
    return {name: kinds.get(name, "undeclared") for name in record.get("labels") or {}}


def time_axis_of(record: Mapping[str, Any] | None) -> int:
    """The viewer dims axis that is time for this record's session (0 when unset)."""
    return int((record or {}).get("time_axis", 0) or 0)


def embedding_record(embedding: Any, *, time: Any | None = None, train_mask: Any | None = None,
                     labels: Mapping[str, Any] | None = None,
                     label_kinds: Mapping[str, str] | None = None,
                     label_columns: Sequence[str] = (),
                     settings: Mapping[str, Any] | None = None, source: str = "",
                     loss: Sequence[float] = ()) -> dict[str, Any]:
    """An embedding record: ``embedding`` (T, d) float32 and its time index, split and labels."""
    emb = np.asarray(embedding, dtype=np.float32)
    if emb.ndim != 2:
        raise ValueError(f"embedding must be 2-D (time, dims); got shape {emb.shape}.")
    n = len(emb)
    t = np.arange(n) if time is None else np.asarray(time)
    mask = np.ones(n, dtype=bool) if train_mask is None else np.asarray(train_mask, dtype=bool)
    if len(t) != n or len(mask) != n:
        raise ValueError(f"time ({len(t)}) and train_mask ({len(mask)}) must have one entry "
                         f"per embedding row ({n}).")
    return {
        "embedding": emb,
        "time": t,
        "train_mask": mask,
        "labels": {k: np.asarray(v) for k, v in (labels or {}).items()},
        "label_kinds": dict(label_kinds or {}),
        "label_columns": list(label_columns),
        "settings": dict(settings or {}),
        "source": str(source),
        "loss": [float(v) for v in loss],
    }


def embedding_of(metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The embedding record stored on a traces layer's ``metadata``, or ``None``."""
    record = (metadata or {}).get(META_KEY)
    if isinstance(record, dict) and isinstance(record.get("embedding"), dict):
        return record["embedding"]
    return None
