"""Checks on user input; every failure names the input and says what to do."""

from __future__ import annotations

import numpy as np


class ComplexDataError(TypeError, ValueError):
    """Complex input: a TypeError (not real numbers) and, for scikit-learn, a ValueError."""


def as_neural(x, name: str = "neural") -> np.ndarray:
    """Return ``x`` as a finite float32 array of shape (T, N)."""
    if hasattr(x, "toarray") or type(x).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{name} is a sparse matrix; sparse input is not supported. Pass a "
                        "dense array (x.toarray()).")
    try:
        arr = np.asarray(x)
    except Exception as err:  # noqa: BLE001 - any conversion failure is the user's input
        raise TypeError(f"{name} could not be read as an array: {err}") from err
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ComplexDataError(f"{name} must hold real numbers; got dtype {arr.dtype} (Complex "
                               "data not supported): pass e.g. the magnitude np.abs(x).")
    if arr.dtype == object:  # numbers boxed as Python objects are fine; anything else is not
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must hold real numbers: {err}") from err
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must hold real numbers; got dtype {arr.dtype}.")
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (time, neurons); got shape {arr.shape}. Reshape your data: "
            "a single neuron to (T, 1), extra axes flattened into neurons."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        what = "sample(s)" if arr.shape[0] == 0 else "feature(s)"
        raise ValueError(f"{name} is empty: 0 {what} (shape={arr.shape}) while a minimum of 1 "
                         "is required.")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    _check_finite(arr, name)
    return arr


def _check_finite(arr: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.unique(np.nonzero(bad)[0])
        raise ValueError(
            f"{name} contains {int(bad.sum())} NaN/Inf value(s) (first at time index {rows[0]}); "
            "interpolate or drop those frames before fitting."
        )


def as_continuous(y, n_samples: int, name: str = "continuous labels", allow_int: bool = False):
    """Return continuous labels as float32 (T, D). Integer dtypes need ``allow_int=True``."""
    arr = np.asarray(y)
    if arr.dtype == object:
        raise TypeError(f"Unknown label type: {name} hold Python objects (dtype object); pass "
                        "a numeric array.")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers; got dtype {arr.dtype}.")
    if np.issubdtype(arr.dtype, np.integer) and not allow_int:
        raise TypeError(
            f"{name} have integer dtype {arr.dtype}; integer labels look discrete. Pass them as "
            "discrete=... , or as continuous=labels.astype(float) if they really are continuous."
        )
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D (time, features); got shape {arr.shape}.")
    _check_length(arr, n_samples, name)
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    _check_finite(arr, name)
    return arr


def as_discrete(y, n_samples: int, name: str = "discrete labels") -> np.ndarray:
    """Return discrete labels as int64 (T,). Floats must be whole numbers."""
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one class per time point); got shape {arr.shape}.")
    _check_length(arr, n_samples, name)
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating):
            raise TypeError(f"{name} must be integers; got dtype {arr.dtype}.")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contain NaN/Inf; every time point needs a class.")
        if not np.all(arr == np.round(arr)):
            raise TypeError(
                f"{name} hold non-integer floats; continuous labels go in continuous=... "
                "(or the positional behaviour argument)."
            )
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if len(np.unique(arr)) < 2:
        raise ValueError(
            f"{name}: a single class ({int(arr[0]) if len(arr) else 'none'}) at every time "
            "point (one class only); discrete labels need at least two classes to contrast. "
            "Drop them (train CEBRA-Time) or pass labels that vary."
        )
    return arr


def _check_length(arr: np.ndarray, n_samples: int, name: str) -> None:
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"{name} have {arr.shape[0]} time points but the neural data has {n_samples}; "
            "labels need one row per imaging frame (resample them to the frame times)."
        )
