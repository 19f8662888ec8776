"""Per-ROI statistics of a suite2p plane and the threshold filters built on them.

One table serves the curation view (colour by a statistic, filter with live counts), the
shell and Python: ``probability`` (suite2p's classifier), ``npix``, ``size`` (npix relative to
the median cell's: the soma-size rule), ``skew``, ``compact``, ``aspect_ratio``, ``snr`` and
``mean_dff``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from napari_cebra.settings import setting

# A soma-sized ROI has between half and two and a half times the median cell's pixels:
# smaller ones are fragments, larger ones background or merged blobs.
SOMA_SIZE = (0.5, 2.5)

STATISTICS = {
    "probability": "suite2p's classifier probability that the ROI is a cell",
    "npix": "pixels in the ROI",
    "size": "pixels relative to the median cell's (1 = a typical cell)",
    "skew": "skewness of the neuropil-corrected trace",
    "compact": "compactness (1 = a disk; larger = more spread out)",
    "aspect_ratio": "aspect ratio of the fitted ellipse (1 = round)",
    "snr": "signal-to-noise ratio of the trace (suite2p's: 1 − ½ var(diff)/var)",
    "mean_dff": "mean dF/F over the recording",
}
"""The statistics a filter can threshold and the view can colour by."""


def soma_sized(npix: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Mask of ``cells`` (indices) whose pixel count is within :data:`SOMA_SIZE` × the median
    cell's."""
    if not len(cells):
        return np.zeros(0, bool)
    median = float(np.median(npix[cells]))
    return (npix[cells] >= SOMA_SIZE[0] * median) & (npix[cells] <= SOMA_SIZE[1] * median)


def relative_size(npix: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Each ROI's pixel count over the median cell's (over all ROIs' when there is no cell)."""
    npix = np.asarray(npix, float)
    ref = npix[cells] if np.any(cells) else npix
    median = float(np.median(ref)) if ref.size else 1.0
    return npix / max(median, 1e-12)


def _stat_value(s: dict, key: str) -> float:
    value = s.get(key)
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def roi_statistics(stat: Sequence[dict], iscell: np.ndarray, F: np.ndarray,
                   Fneu: np.ndarray | None, *, fs: float | None,
                   neuropil_coefficient: float = 0.7):
    """A pandas DataFrame, one row per ROI (index = ROI index): ``cell`` and the
    :data:`STATISTICS` columns, plus ``y``/``x`` centroids."""
    import pandas as pd
    from scipy.stats import skew

    from .suite2p_read import roi_centroids
    from .traces import delta_f_over_f

    n = len(stat)
    iscell = np.asarray(iscell, float).reshape(n, 2) if n else np.zeros((0, 2))
    cells = iscell[:, 0] > 0.5
    npix = np.array([len(s["ypix"]) for s in stat], int)
    F = np.asarray(F, np.float64).reshape(n, -1)
    dF = F if Fneu is None else F - neuropil_coefficient * np.asarray(Fneu, np.float64)
    if n and F.shape[1] > 1:
        var = dF.var(axis=1) + 1e-12
        snr = 1 - 0.5 * np.diff(dF, axis=1).var(axis=1) / var
        dff = delta_f_over_f(F, Fneu, neuropil_coefficient=neuropil_coefficient,
                             method="maximin" if fs else "constant", fs=fs)
        mean_dff = dff.mean(axis=1)
        sk = skew(dF, axis=1)
    else:
        snr = mean_dff = sk = np.full(n, np.nan)
    cent = roi_centroids(stat) if n else np.zeros((0, 2))
    return pd.DataFrame({
        "cell": cells,
        "probability": iscell[:, 1],
        "npix": npix,
        "size": relative_size(npix, cells),
        "skew": np.asarray(sk, float),
        "compact": [_stat_value(s, "compact") for s in stat],
        "aspect_ratio": [_stat_value(s, "aspect_ratio") for s in stat],
        "snr": np.asarray(snr, float),
        "mean_dff": np.asarray(mean_dff, float),
        "y": cent[:, 0],
        "x": cent[:, 1],
    }, index=pd.RangeIndex(n, name="roi"))


def passing(table, **thresholds) -> np.ndarray:
    """Boolean mask of the rows of ``table`` within every threshold.

    Each keyword names a column of :data:`STATISTICS` and gives ``(low, high)`` (either may be
    ``None``) or a single number, a minimum: ``passing(t, probability=0.5, size=(0.5, 2.5))``.
    ``soma=True`` is the soma-size rule (``size`` within :data:`SOMA_SIZE`).
    """
    keep = np.ones(len(table), bool)
    if thresholds.pop("soma", False):  # on top of any size range given
        size = table["size"].to_numpy(float)
        keep &= (size >= SOMA_SIZE[0]) & (size <= SOMA_SIZE[1])
    for name, bounds in thresholds.items():
        if name not in STATISTICS:
            raise ValueError(f"no ROI statistic {name!r} to filter on; choose from "
                             f"{', '.join(STATISTICS)}.")
        low, high = _bounds(name, bounds)
        values = np.nan_to_num(table[name].to_numpy(float), nan=0.0)
        if low is not None:
            keep &= values >= low
        if high is not None:
            keep &= values <= high
    return keep


def _bounds(name: str, bounds) -> tuple[float | None, float | None]:
    if bounds is None:
        return None, None
    if isinstance(bounds, Mapping):
        bounds = (bounds.get("min"), bounds.get("max"))
    if np.isscalar(bounds):
        return float(bounds), None
    try:
        low, high = bounds
    except (TypeError, ValueError):
        raise ValueError(f"filter {name}: give a minimum or a (min, max) pair; got {bounds!r}"
                         ) from None
    return (None if low is None else float(low)), (None if high is None else float(high))


@dataclass
class CellFilter:
    """Thresholds a ROI must meet to stay a cell (the curation view's filter form)."""

    min_probability: float = setting(0.0, min=0.0, max=1.0,
                                     help="smallest classifier probability (suite2p's)")
    min_size: float = setting(0.0, min=0.0, max=100.0, unit="× median cell",
                              help="smallest ROI, relative to the median cell's pixel count")
    max_size: float = setting(100.0, min=0.0, max=100.0, unit="× median cell",
                              help="largest ROI, relative to the median cell's pixel count")
    min_snr: float = setting(-1.0, min=-1.0, max=1.0, help="smallest trace SNR")
    min_skew: float = setting(-100.0, min=-100.0, max=100.0, help="smallest trace skewness")
    max_compact: float = setting(100.0, min=1.0, max=100.0, help="largest compactness")

    @classmethod
    def soma(cls) -> CellFilter:
        """Classified as a cell (probability ≥ 0.5) and soma-sized (:data:`SOMA_SIZE`)."""
        return cls(min_probability=0.5, min_size=SOMA_SIZE[0], max_size=SOMA_SIZE[1])

    def thresholds(self) -> dict:
        """Keyword arguments for :func:`passing` / ``Curation.filter``."""
        return {"probability": (self.min_probability, None),
                "size": (self.min_size, self.max_size), "snr": (self.min_snr, None),
                "skew": (self.min_skew, None), "compact": (None, self.max_compact)}
