"""Fluorescence traces → dF/F, with a neuropil coefficient and a baseline the user sets."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

BASELINES = ("maximin", "percentile", "constant")


def baseline(
    F: np.ndarray,
    method: str = "maximin",
    *,
    fs: float | None = None,
    window_s: float = 60.0,
    sigma_frames: float = 10.0,
    percentile: float = 8.0,
) -> np.ndarray:
    """Slow baseline F0 of each row of ``F`` (N, T).

    ``maximin``: Gaussian smoothing then a running min then max over ``window_s`` (suite2p's);
    ``percentile``: a running ``percentile`` over ``window_s``; ``constant``: the trace's
    ``percentile`` over the whole recording.
    """
    F = np.asarray(F, dtype=np.float64)
    if method not in BASELINES:
        raise ValueError(f"baseline method: choose one of {BASELINES}, got {method!r}")
    if method == "constant":
        return np.repeat(np.percentile(F, percentile, axis=1, keepdims=True), F.shape[1], 1)
    if fs is None or fs <= 0:
        raise ValueError(f"baseline {method!r} needs the frame rate fs in Hz (got {fs})")
    win = max(1, min(int(round(window_s * fs)), F.shape[1]))
    if method == "maximin":
        smooth = ndimage.gaussian_filter1d(F, sigma_frames, axis=1) if sigma_frames > 0 else F
        low = ndimage.minimum_filter1d(smooth, win, axis=1)
        return ndimage.maximum_filter1d(low, win, axis=1)
    return ndimage.percentile_filter(F, percentile, size=(1, win), mode="nearest")


def delta_f_over_f(
    F: np.ndarray,
    Fneu: np.ndarray | None = None,
    *,
    neuropil_coefficient: float = 0.7,
    method: str = "maximin",
    fs: float | None = None,
    window_s: float = 60.0,
    sigma_frames: float = 10.0,
    percentile: float = 8.0,
) -> np.ndarray:
    """dF/F of ROI traces ``F`` (N, T) after subtracting ``coefficient × Fneu``.

    The baseline F0 is computed on the neuropil-corrected trace; dF/F = (Fc − F0) / F0, with
    F0 kept away from zero (at least 10 % of the raw trace's median) so that strongly corrected,
    dim ROIs do not blow up. Returns float32 (N, T).
    """
    F = np.asarray(F, dtype=np.float64)
    if F.ndim != 2:
        raise ValueError(f"F: expected (ROIs, frames), got shape {F.shape}")
    if neuropil_coefficient < 0:
        raise ValueError(f"neuropil_coefficient must be ≥ 0, got {neuropil_coefficient}")
    Fc = F
    if Fneu is not None:
        Fneu = np.asarray(Fneu, dtype=np.float64)
        if Fneu.shape != F.shape:
            raise ValueError(f"Fneu shape {Fneu.shape} does not match F shape {F.shape}")
        Fc = F - neuropil_coefficient * Fneu
    F0 = baseline(
        Fc, method, fs=fs, window_s=window_s, sigma_frames=sigma_frames, percentile=percentile
    )
    floor = 0.1 * np.abs(np.median(F, axis=1, keepdims=True)) + 1e-6
    F0 = np.maximum(F0, floor)
    return ((Fc - F0) / F0).astype(np.float32)
