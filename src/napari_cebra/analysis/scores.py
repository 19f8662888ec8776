"""The scores every report uses: one R², frame accuracy within a tolerance, chance, errors."""

from __future__ import annotations

import numpy as np


def r2(true, predicted) -> float:
    """Coefficient of determination, scikit-learn's ``r2_score``; for several label columns
    their R² are averaged with equal weight (``multioutput="uniform_average"``). NaN when the
    labels do not vary (R² is undefined there)."""
    from sklearn.metrics import r2_score

    true = np.asarray(true, np.float64)
    if len(true) < 2 or np.all(np.ptp(true.reshape(len(true), -1), axis=0) == 0):
        return float("nan")
    return float(r2_score(true, np.asarray(predicted, np.float64),
                          multioutput="uniform_average"))


def frame_accuracy(pred: np.ndarray, true: np.ndarray, tolerance: float) -> float:
    """Fraction of time points with ``|pred - true| < tolerance`` (frames)."""
    return float(np.mean(np.abs(np.asarray(pred) - np.asarray(true)) < tolerance))


def frame_chance(n_frames: int, tolerance: float) -> float:
    """Accuracy of a uniform random guess of the frame, averaged over the true frames."""
    f = np.arange(n_frames)
    hits = (np.abs(f[:, None] - f[None, :]) < tolerance).sum(1)
    return float(hits.mean() / n_frames)


def median_absolute_error(true: np.ndarray, predicted: np.ndarray) -> float:
    """Median of ``|true − predicted|`` over every entry."""
    return float(np.median(np.abs(np.asarray(true) - np.asarray(predicted))))
