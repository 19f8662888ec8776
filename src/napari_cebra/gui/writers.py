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
    """Write one Points layer to ``.npy`` / ``.csv`` / ``.h5`` (the suffix picks)."""
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
    # napari's save dialog has already asked before replacing an existing file.
    return [str(save_embedding(path, embedding, time, labels, overwrite=True))]
