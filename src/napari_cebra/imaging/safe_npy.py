"""Read ``.npy`` files that hold Python objects without ever running code from them.

suite2p stores ``stat.npy`` (one dict per ROI) and ``ops.npy`` (a dict of settings and
images) as pickled object arrays. ``np.load(allow_pickle=True)`` would run whatever a crafted
file asks for, and suite2p folders travel between labs and with datasets. Here the pickle is
rebuilt by an unpickler that knows only what suite2p writes — numpy arrays, dtypes and
scalars, dicts, lists, tuples, sets, strings, bytes, numbers, booleans, None and datetimes —
and refuses every other global with :class:`UnsafeFileError`, before anything is called.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

SAFE_GLOBALS = frozenset({
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.core.numeric", "_frombuffer"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "complex"),
    ("builtins", "bytearray"),
    ("collections", "OrderedDict"),
    ("datetime", "datetime"),
    ("datetime", "date"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
})
"""(module, name) pairs a suite2p file may reference; everything else is refused."""


class UnsafeFileError(ValueError):
    """A data file asked to build a Python object that could run code; nothing was run."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, fh, path: Path) -> None:
        super().__init__(fh)
        self.path = path

    def find_class(self, module: str, name: str):
        if (module, name) in SAFE_GLOBALS:
            return super().find_class(module, name)
        raise UnsafeFileError(
            f"{self.path} holds a Python object of type {module}.{name}, which napari-cebra "
            "refuses to load because opening it could run code. suite2p never writes such "
            "objects: the file was altered or made by another program. Ask whoever shared it "
            "for the original suite2p output, or re-run suite2p on the recording."
        )

    def persistent_load(self, pid):
        raise UnsafeFileError(f"{self.path} uses pickle persistent ids, which are refused.")


def _header(fh, path: Path) -> tuple[tuple, np.dtype]:
    try:
        version = npy_format.read_magic(fh)
        reader = {(1, 0): npy_format.read_array_header_1_0,
                  (2, 0): npy_format.read_array_header_2_0,
                  (3, 0): npy_format.read_array_header_2_0}.get(version)
        if reader is None:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, _, dtype = reader(fh)
    except (ValueError, OSError, EOFError, SyntaxError) as err:
        raise ValueError(f"{path}: not a readable .npy file ({err}).") from err
    return tuple(shape), dtype


def check_npy_size(path: str | Path) -> tuple[tuple, np.dtype]:
    """The header's ``(shape, dtype)``, once the file is known to hold the bytes it declares
    (numeric arrays; an object array's size is that of its pickle)."""
    from napari_cebra.limits import check_stored, nbytes_of

    path = Path(path)
    try:
        with open(path, "rb") as fh:
            shape, dtype = _header(fh, path)
            start = fh.tell()
    except OSError as err:
        from napari_cebra.files import unreadable

        raise unreadable(path, err, ".npy file") from err
    if not dtype.hasobject:
        check_stored(nbytes_of(shape, dtype), path.stat().st_size - start, path,
                     "the array", shape=shape, dtype=dtype)
    return shape, dtype


def load_npy(path: str | Path, *, allow_objects: bool = False) -> np.ndarray:
    """Load a ``.npy`` file; object arrays only with ``allow_objects``, through the safe
    unpickler. Numeric arrays load as ``np.load`` does (no pickle involved), once the file is
    known to hold what its header declares and that fits in memory."""
    from napari_cebra.limits import check_memory, nbytes_of

    path = Path(path)
    shape, dtype = check_npy_size(path)
    with open(path, "rb") as fh:
        _header(fh, path)
        if not dtype.hasobject:
            check_memory(nbytes_of(shape, dtype), path, "the array", shape=shape, dtype=dtype)
            fh.seek(0)
            return np.load(fh, allow_pickle=False)
        if not allow_objects:
            raise UnsafeFileError(
                f"{path} holds Python objects where numbers were expected; napari-cebra does "
                "not unpickle such files. Save the array with a numeric dtype."
            )
        data = fh.read()
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data), path).load()
    except UnsafeFileError:
        raise
    except Exception as err:  # noqa: BLE001 - any broken pickle is a damaged file
        raise ValueError(f"{path}: the file is damaged or truncated ({err}).") from err
    if not isinstance(obj, np.ndarray):
        raise UnsafeFileError(f"{path} does not hold an array (found {type(obj).__name__}).")
    if obj.shape != tuple(shape):
        raise ValueError(f"{path}: the array is damaged (shape {obj.shape}, header says "
                         f"{tuple(shape)}).")
    return obj
