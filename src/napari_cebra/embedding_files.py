"""Embedding files: every frame's embedding with its time index and labels.

``.npy`` holds one structured array (fields ``time``, ``embedding_0``…, then labels; it loads
without pickle), ``.csv`` the same columns under a header, ``.h5`` the datasets ``embedding``,
``time`` and ``labels/<name>``, ``.nwb`` a new NWB file with the processing module ``cebra``
(:func:`napari_cebra.imaging.nwb_write.write_embedding_nwb`). Files are written whole or not
at all (``napari_cebra.files``) and never replace an existing file unless asked.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from napari_cebra.files import atomic_path, atomic_write, check_target

EMBEDDING_SUFFIXES = (".npy", ".csv", ".h5", ".hdf5", ".nwb")
H5_FORMAT = "napari-cebra/embedding"
H5_VERSION = 1


def _storable(name: str, values: np.ndarray) -> np.ndarray:
    """Labels as numbers, booleans or text; Python objects are refused before anything is
    written (an ``.npy`` would need pickle for them and ``.h5`` cannot hold them)."""
    if values.dtype.kind in "biuf" or values.dtype.kind in "US":
        return values
    if values.dtype == object and all(isinstance(v, str) for v in values.tolist()):
        return values.astype(str)
    raise ValueError(
        f"label {name!r} holds {values.dtype} values that an embedding file cannot store; "
        "convert it to numbers or text (e.g. labels[name].astype(str)) or leave it out."
    )


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
        if not isinstance(name, str) or not name.strip() or "/" in name:
            raise ValueError(f"label name {name!r} cannot name a column: use non-empty text "
                             "without '/' (HDF5 reads '/' as a folder).")
        if name in ("time",) or name.startswith("embedding_"):
            raise ValueError(f"label name {name!r} clashes with a column of the file.")
        cols[name] = _storable(name, values)
    return emb, t, cols


def save_embedding(path: str | Path, embedding: np.ndarray, time: np.ndarray | None = None,
                   labels: Mapping[str, Any] | None = None, overwrite: bool = False, *,
                   fs: float | None = None, settings: Mapping[str, Any] | None = None,
                   source: Any = None) -> Path:
    """Write an embedding with its time index and labels; the suffix picks the format.

    ``.npy``: one structured array (fields ``time``, ``embedding_0``…, then labels; loads
    without pickle). ``.csv``: the same columns with a header. ``.h5``: datasets
    ``embedding``, ``time`` and ``labels/<name>``. ``.nwb``: a new NWB file (module ``cebra``;
    ``fs`` puts the rows on the recording's clock, ``settings`` are kept as JSON, and the file
    is never one of the ``source`` recordings).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EMBEDDING_SUFFIXES:
        raise ValueError(f"{path.name}: save embeddings as {', '.join(EMBEDDING_SUFFIXES)}.")
    if suffix != ".nwb":  # write_embedding_nwb checks the target itself (it may be a source)
        check_target(path, overwrite=overwrite, what="embedding file")
    emb, t, cols = _columns(embedding, time, labels)
    if suffix == ".nwb":
        from napari_cebra.imaging.nwb_write import write_embedding_nwb

        text = [n for n, v in cols.items() if v.dtype.kind in "US"]
        if text:
            raise ValueError(f"label {text[0]!r} holds text; an NWB embedding file stores "
                             "numeric labels — convert it to codes or leave it out.")
        return write_embedding_nwb(path, emb, fs, frames=t, labels=cols, source=source,
                                   settings=settings, overwrite=overwrite)
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
        with atomic_write(path, "wb", overwrite=overwrite, what="embedding file") as fh:
            np.save(fh, table, allow_pickle=False)
    elif suffix == ".csv":
        with atomic_write(path, "w", overwrite=overwrite, newline="",
                          what="embedding file") as fh:
            writer = csv.writer(fh)
            writer.writerow(names)
            data = [t, *emb.T, *cols.values()]
            writer.writerows(zip(*(_plain(c) for c in data), strict=True))
    else:
        import h5py

        with atomic_path(path, overwrite=overwrite, what="embedding file") as tmp, \
                h5py.File(tmp, "w") as fh:
            fh.attrs["format"], fh.attrs["format_version"] = H5_FORMAT, H5_VERSION
            fh.create_dataset("embedding", data=emb)
            fh.create_dataset("time", data=t)
            group = fh.create_group("labels")
            for n, v in cols.items():
                # h5py stores text as UTF-8 bytes; load_embedding decodes it again
                group.create_dataset(n, data=np.char.encode(v, "utf-8") if v.dtype.kind == "U"
                                     else v)
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
            version = int(fh.attrs.get("format_version", 1))
            if version > H5_VERSION:
                raise ValueError(f"{path} was written by a newer napari-cebra (embedding format "
                                 f"{version}); upgrade napari-cebra to read it.")
            emb = fh["embedding"][()]
            t = fh["time"][()]
            labels = {n: fh["labels"][n][()] for n in fh.get("labels", {})}
        labels = {n: np.char.decode(v, "utf-8") if v.dtype.kind == "S" else v
                  for n, v in labels.items()}
        return emb, t, labels
    if suffix == ".nwb":
        from napari_cebra.imaging.nwb import read_embedding_nwb

        return read_embedding_nwb(path)
    raise ValueError(f"{path.name}: not an embedding file ({', '.join(EMBEDDING_SUFFIXES)}).")


def _parse(values: np.ndarray) -> np.ndarray:
    for dtype in (np.int64, np.float64):
        try:
            return values.astype(dtype)
        except ValueError:
            continue
    return values
