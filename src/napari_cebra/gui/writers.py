"""npe2 writers: save an embedding Points layer with its time index and labels.

The whole embedding (every frame, every dim) is written when the layer carries it in
``metadata["napari_cebra"]``; a plain Points layer is written as drawn, with its ``frame``
feature as the time index when present.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_cebra.contracts import META_KEY
from napari_cebra.embedding_files import save_embedding


def write_embedding(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Write one Points layer to ``.npy`` / ``.csv`` / ``.h5`` / ``.nwb`` (the suffix picks).

    ``.nwb`` is always a new file of its own (never the recording the traces came from, nor
    any NWB file holding more than an embedding); the training settings go in as JSON.
    """
    record = (meta.get("metadata") or {}).get(META_KEY) or {}
    if isinstance(record.get("embedding"), np.ndarray):
        embedding = record["embedding"]
        time = record.get("time")
        labels = record.get("labels") or {}
    else:
        embedding = np.asarray(data)
        features = meta.get("features")
        columns = {} if features is None else {c: np.asarray(features[c]) for c in features}
        time = columns.pop("frame", None)
        labels = {c: v for c, v in columns.items() if v.ndim == 1 and v.dtype.kind in "biuf"}
    extra: dict[str, Any] = {}
    if path.lower().endswith(".nwb"):
        settings = dict(record.get("settings") or {})
        fs = record.get("fs") or settings.get("fs")
        if not fs:  # the layer does not know the frame rate: NWB time counts frames
            fs = 1.0
            settings["time_base"] = "frame index (frame rate unknown: 1 s stands for 1 frame)"
        source = record.get("source_file") or settings.get("source_file")
        labels = {k: v for k, v in labels.items() if np.asarray(v).dtype.kind in "biuf"}
        extra = {"fs": float(fs), "settings": settings, "source": source}
    # napari's save dialog has already asked before replacing an existing file.
    return [str(save_embedding(path, embedding, time, labels, overwrite=True, **extra))]
