"""Text tables (CSV) a user hands in: read as UTF-8 (an Excel byte-order mark is skipped),
and every failure named with the file and what to do — another encoding (Latin-1,
Windows-1252), no permission, a truncated copy."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

PathLike = str | os.PathLike


def read_text(path: PathLike, what: str = "CSV file") -> str:
    """The file's text: UTF-8, with or without Excel's byte-order mark."""
    from napari_cebra.files import unreadable

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise unreadable(path, err, what) from err
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        bad = raw[err.start:err.start + 1].hex()
        raise ValueError(
            f"{path}: the {what} is not UTF-8 text (byte 0x{bad} on line {line}; it was "
            "probably saved as Latin-1 / Windows-1252). Save it again as UTF-8 (Excel: "
            "'CSV UTF-8'; or iconv -f latin1 -t utf-8)."
        ) from err



def read_matrix_csv(path: PathLike, what: str = "traces file") -> np.ndarray:
    """A numeric (rows × columns) CSV, with or without a header row of names."""
    import io

    path = Path(path)
    text = read_text(path, what)
    first = text.split("\n", 1)[0]
    has_header = any(c.isalpha() and c not in "eE" for c in first.replace("nan", ""))
    try:
        return np.loadtxt(io.StringIO(text), delimiter=",", skiprows=int(has_header), ndmin=2)
    except ValueError as err:
        raise ValueError(
            f"{path}: not a numeric T × N matrix ({err}); save one row per frame, one "
            "column per neuron"
        ) from err
