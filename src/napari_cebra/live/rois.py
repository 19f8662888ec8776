"""Raw frame → dF/F of the session's ROIs, one frame at a time.

:class:`RoiMasks` holds the ROI and neuropil masks of a suite2p plane as one sparse matrix, so
a frame's ROI fluorescence F and neuropil Fneu are one sparse product (suite2p's own weights:
each ROI's ``lam`` normalised to sum 1, overlapping pixels left out; the neuropil the mean of
its ring). :class:`RunningDff` subtracts the neuropil and divides by a baseline that only looks
back: a causal version of suite2p's maximin (exponential smoothing, then the running minimum
and the running maximum of that over ``window_s``), or a fixed F0 per ROI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LIVE_BASELINES = ("maximin", "fixed")


def _setting(ops: dict, name: str, default):
    """A suite2p setting from ``ops`` (top level, or one nested settings dict down)."""
    if name in ops:
        return ops[name]
    for value in ops.values():
        if isinstance(value, dict) and name in value:
            return value[name]
    return default


def _complete_stat(stat: Sequence[dict], shape: tuple[int, int]) -> list[dict]:
    """Copies of the ROIs with the keys suite2p's mask builder needs (lam, radius, overlap)."""
    counts = np.zeros(shape, np.int32)
    for roi in stat:
        np.add.at(counts, (np.asarray(roi["ypix"]), np.asarray(roi["xpix"])), 1)
    out = []
    for roi in stat:
        y, x = np.asarray(roi["ypix"]), np.asarray(roi["xpix"])
        lam = np.asarray(roi.get("lam", np.ones(len(y))), np.float64)
        out.append({**roi, "ypix": y, "xpix": x, "lam": lam,
                    "radius": float(roi.get("radius", np.sqrt(max(len(y), 1) / np.pi))),
                    "overlap": np.asarray(roi.get("overlap", counts[y, x] > 1), bool)})
    return out


@dataclass
class RoiMasks:
    """ROI and neuropil masks of one plane: ``weights`` is a (2N × pixels) CSR matrix whose
    first N rows give F and last N rows Fneu (all zero when there is no neuropil)."""

    weights: object  # scipy.sparse.csr_matrix, float32
    shape: tuple[int, int]
    n_rois: int

    @classmethod
    def from_stat(cls, stat: Sequence[dict], shape: tuple[int, int], ops: dict | None = None,
                  *, neuropil: bool = True) -> RoiMasks:
        """Masks as suite2p's extraction builds them (its settings read from ``ops``)."""
        from scipy import sparse
        from suite2p.extraction.masks import create_masks

        ops = ops or {}
        ly, lx = (int(v) for v in shape)
        if len(stat) == 0:
            raise ValueError("the ROI set is empty; run extraction (suite2p) first.")
        rois = _complete_stat(stat, (ly, lx))
        cells, rings = create_masks(
            rois, ly, lx, lam_percentile=float(_setting(ops, "lam_percentile", 50.0)),
            allow_overlap=bool(_setting(ops, "allow_overlap", False)), neuropil_extract=neuropil,
            inner_neuropil_radius=int(_setting(ops, "inner_neuropil_radius", 2)),
            min_neuropil_pixels=int(_setting(ops, "min_neuropil_pixels", 350)),
            circular_neuropil=bool(_setting(ops, "circular_neuropil", False)))
        n = len(rois)
        rows, cols, vals = [], [], []
        for i, (pix, lam) in enumerate(cells):
            rows.append(np.full(len(pix), i)), cols.append(pix), vals.append(lam)
        for i, pix in enumerate(rings or []):
            if len(pix):
                rows.append(np.full(len(pix), n + i)), cols.append(pix)
                vals.append(np.full(len(pix), 1.0 / len(pix)))
        matrix = sparse.csr_matrix(
            (np.concatenate(vals).astype(np.float32),
             (np.concatenate(rows), np.concatenate(cols).astype(np.int64))),
            shape=(2 * n, ly * lx), dtype=np.float32)
        return cls(matrix, (ly, lx), n)

    @classmethod
    def from_suite2p(cls, folder: str | Path, plane: int = 0, *, neuropil: bool = True,
                     cells_only: bool = False) -> tuple[RoiMasks, object]:
        """The masks of a suite2p plane folder and its :class:`Suite2pOutput` (for its F,
        frame rate and settings); ``cells_only``: only the ROIs ``iscell.npy`` marks as cells
        (the curated set; every ROI still shapes the others' neuropil)."""
        from napari_cebra.imaging.suite2p_read import read_suite2p

        output = read_suite2p(folder, plane)
        has_neuropil = neuropil and output.Fneu is not None
        masks = cls.from_stat(output.stat, output.shape, output.ops, neuropil=has_neuropil)
        if cells_only:
            cells = np.flatnonzero(output.iscell[:, 0] > 0.5)
            rows = np.concatenate([cells, masks.n_rois + cells])
            masks = cls(masks.weights[rows], masks.shape, len(cells))
        return masks, output

    def fluorescence(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(F, Fneu) of one (Ly, Lx) frame, each (N,) float32."""
        frame = np.asarray(frame)
        if frame.shape != self.shape:
            raise ValueError(f"frame has shape {frame.shape}; the ROI masks are for "
                             f"{self.shape} frames (the plane the ROIs were found in).")
        both = self.weights @ frame.reshape(-1).astype(np.float32, copy=False)
        return both[: self.n_rois], both[self.n_rois:]


class RunningDff:
    """dF/F of a stream of (N,) F (and Fneu) samples, with a baseline that never looks ahead.

    ``baseline="maximin"``: F0 is the running maximum over ``window_s`` of the running minimum
    over ``window_s`` of the neuropil-corrected trace smoothed with an exponential of time
    constant ``sigma_frames`` (suite2p's maximin, made causal; windows move in blocks of
    1/32 window). ``baseline="fixed"``: F0 is the ``f0`` given, e.g. from the training
    session. As in the batch path, F0 is kept at least 10 % of the trace's (running) mean.
    """

    BLOCKS = 32

    def __init__(self, n_rois: int, *, fs: float | None = None, neuropil_coefficient: float = 0.7,
                 baseline: str = "maximin", window_s: float = 60.0, sigma_frames: float = 10.0,
                 f0: np.ndarray | None = None) -> None:
        if baseline not in LIVE_BASELINES:
            raise ValueError(f"live baseline {baseline!r}: choose one of {LIVE_BASELINES}.")
        if neuropil_coefficient < 0:
            raise ValueError(f"neuropil_coefficient must be ≥ 0, got {neuropil_coefficient}")
        self.n = int(n_rois)
        self.coefficient = float(neuropil_coefficient)
        self.method = baseline
        self.fs = fs
        if baseline == "fixed":
            if f0 is None or np.shape(f0) != (self.n,):
                raise ValueError(f"baseline='fixed' needs f0 with one value per ROI ({self.n}).")
            self.f0 = np.asarray(f0, np.float64)
        else:
            if not fs or fs <= 0:
                raise ValueError(f"a running baseline needs the frame rate fs in Hz (got {fs}).")
            window = max(1, int(round(window_s * fs)))
            self.block = max(1, -(-window // self.BLOCKS))
            self.n_blocks = -(-window // self.block)
            self.alpha = 1.0 / (1.0 + max(float(sigma_frames), 0.0))
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.mean = np.zeros(self.n)
        if self.method == "maximin":
            self.smooth = np.zeros(self.n)
            self.mins = np.full((self.n_blocks, self.n), np.inf)  # completed block minima
            self.maxs = np.full((self.n_blocks, self.n), -np.inf)  # … of the running minimum
            self.cur_min = np.full(self.n, np.inf)
            self.cur_max = np.full(self.n, -np.inf)

    def __call__(self, F: np.ndarray, Fneu: np.ndarray | None = None) -> np.ndarray:
        F = np.asarray(F, np.float64)
        fc = F - self.coefficient * np.asarray(Fneu, np.float64) if Fneu is not None else F
        self.count += 1
        self.mean += (F - self.mean) / self.count
        if self.method == "fixed":
            f0 = self.f0
        else:
            self.smooth = fc if self.count == 1 else self.smooth + self.alpha * (fc - self.smooth)
            np.minimum(self.cur_min, self.smooth, out=self.cur_min)
            low = np.minimum(self.mins.min(axis=0), self.cur_min)
            np.maximum(self.cur_max, low, out=self.cur_max)
            f0 = np.maximum(self.maxs.max(axis=0), self.cur_max)
            if self.count % self.block == 0:  # a block is complete: roll it into the window
                slot = (self.count // self.block) % self.n_blocks
                self.mins[slot], self.maxs[slot] = self.cur_min, self.cur_max
                self.cur_min = np.full(self.n, np.inf)
                self.cur_max = np.full(self.n, -np.inf)
        f0 = np.maximum(f0, 0.1 * np.abs(self.mean) + 1e-6)
        return ((fc - f0) / f0).astype(np.float32)


class RawFrames:
    """The front end of a live decoder for raw images: masks → F, Fneu → dF/F (N,)."""

    def __init__(self, masks: RoiMasks, dff: RunningDff) -> None:
        if dff.n != masks.n_rois:
            raise ValueError(f"dF/F is set up for {dff.n} ROIs but the masks have "
                             f"{masks.n_rois}.")
        self.masks, self.dff = masks, dff
        self.frame_shape = masks.shape
        self.has_neuropil = masks.weights[masks.n_rois:].nnz > 0

    @property
    def fs(self) -> float | None:
        """The frame rate the dF/F baseline was set up for (Hz), if known."""
        return self.dff.fs

    @classmethod
    def from_suite2p(cls, folder: str | Path, plane: int = 0, *, fs: float | None = None,
                     neuropil_coefficient: float = 0.7, baseline: str = "maximin",
                     window_s: float = 60.0, percentile: float = 8.0,
                     cells_only: bool = False) -> RawFrames:
        """Masks of a suite2p plane and the session's dF/F settings. ``baseline="fixed"``
        takes each ROI's F0 as the ``percentile`` of the session's corrected F.
        ``cells_only``: only the ROIs ``iscell.npy`` marks as cells."""
        masks, output = RoiMasks.from_suite2p(folder, plane, cells_only=cells_only)
        fs = fs if fs is not None else output.fs
        f0 = None
        if baseline == "fixed":
            keep = np.flatnonzero(output.iscell[:, 0] > 0.5) if cells_only else slice(None)
            fc = output.F[keep].astype(np.float64)
            if output.Fneu is not None:
                fc = fc - neuropil_coefficient * output.Fneu[keep]
            f0 = np.percentile(fc, percentile, axis=1)
        dff = RunningDff(masks.n_rois, fs=fs, neuropil_coefficient=neuropil_coefficient,
                         baseline=baseline, window_s=window_s, f0=f0)
        return cls(masks, dff)

    def reset(self) -> None:
        self.dff.reset()

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        F, Fneu = self.masks.fluorescence(frame)
        return self.dff(F, Fneu if self.has_neuropil else None)
