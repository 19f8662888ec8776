"""An imaging session: suite2p results as (T, N) trace sets plus labels, ready for training.

``extract_steps`` is the one generator that the Python API, the CLI and the napari widget drive.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_cebra.progress import Progress, drain

from .labels import LabelSet
from .stacks import PathLike
from .suite2p_read import Suite2pOutput, read_suite2p, roi_label_image, roi_table
from .suite2p_run import ExtractParams, run_suite2p_steps
from .traces import delta_f_over_f


@dataclass
class BaselineParams:
    """How dF/F is computed from F and Fneu."""

    neuropil_coefficient: float = 0.7
    method: str = "maximin"
    window_s: float = 60.0
    percentile: float = 8.0


@dataclass
class ImagingSession:
    """Traces of one plane as (T, N) float32 sets ("F", "Fneu", "spks", "dff"), its ROIs and
    any labels attached for training."""

    suite2p: Suite2pOutput
    trace_sets: dict[str, np.ndarray]
    fs: float | None
    baseline: BaselineParams = field(default_factory=BaselineParams)
    labels: LabelSet | None = None
    rois: np.ndarray | None = None  # suite2p ROI index of each trace column (None: all ROIs)

    @property
    def traces(self) -> np.ndarray:
        """The default training matrix: dF/F (T, N)."""
        return self.trace_sets["dff"]

    @property
    def n_frames(self) -> int:
        return self.suite2p.n_frames

    @property
    def roi_labels(self) -> np.ndarray:
        return roi_label_image(self.suite2p.stat, self.suite2p.shape)

    @property
    def roi_features(self) -> dict[str, np.ndarray]:
        return roi_table(self.suite2p.stat, self.suite2p.iscell)

    @property
    def roi_indices(self) -> np.ndarray:
        """The suite2p ROI index of each trace column."""
        return np.arange(self.suite2p.n_rois) if self.rois is None else self.rois

    @property
    def curation_hash(self) -> str:
        """Fingerprint of the plane's ROIs and cell flags as saved (see ``curation``)."""
        from .curation import curation_hash

        return curation_hash(self.suite2p.stat, self.suite2p.iscell)

    def attach_labels(self, labels: LabelSet) -> None:
        """Attach labels already on the imaging time base (see ``labels.align_labels``)."""
        labels.check_length(self.n_frames)
        self.labels = labels

    def layer_metadata(self, time_axis: int = 0) -> dict:
        """``layer.metadata["napari_cebra"]``: a traces record (docs/CONTRACTS.md)."""
        from napari_cebra.contracts import traces_record

        return traces_record(
            self.traces, fs=self.fs, trace_sets=self.trace_sets,
            labels=self.labels.columns if self.labels else None,
            label_kinds=self.labels.kinds if self.labels else None, time_axis=time_axis,
            suite2p_dir=str(self.suite2p.plane_dir),
            neuropil_coefficient=self.baseline.neuropil_coefficient,
            roi_indices=self.roi_indices.copy(), curation_hash=self.curation_hash)

    def provenance(self) -> dict:
        """Which ROIs the traces are (for model settings and reports): folder, indices, hash."""
        return {"suite2p_dir": str(self.suite2p.plane_dir),
                "roi_indices": [int(i) for i in self.roi_indices],
                "curation_hash": self.curation_hash}


def dff_from_sets(
    trace_sets: dict[str, np.ndarray], fs: float | None, baseline: BaselineParams,
    block: int = 256,
) -> np.ndarray:
    """dF/F (T, N) float32 from a session's "F" (and "Fneu") trace sets, both (T, N).

    ROIs are done ``block`` at a time (dF/F is per ROI), so the float64 working copies stay
    a few hundred MB however many cells a lab-size session has.
    """
    F_all, Fneu_all = trace_sets["F"], trace_sets.get("Fneu")
    n_frames, n_rois = np.shape(F_all)
    out = np.empty((n_frames, n_rois), np.float32)
    for start in range(0, n_rois, block):
        cols = slice(start, start + block)
        out[:, cols] = delta_f_over_f(
            np.asarray(F_all[:, cols], dtype=np.float64).T,
            None if Fneu_all is None else np.asarray(Fneu_all[:, cols], dtype=np.float64).T,
            neuropil_coefficient=baseline.neuropil_coefficient,
            method=baseline.method if fs else "constant",
            fs=fs,
            window_s=baseline.window_s,
            percentile=baseline.percentile,
        ).T
    return out


def session_from_output(
    output: Suite2pOutput, baseline: BaselineParams | None = None, fs: float | None = None,
    cells_only: bool = False,
) -> ImagingSession:
    """``cells_only``: only the ROIs marked cells in ``iscell.npy`` (as curated and saved)."""
    baseline = baseline or BaselineParams()
    fs = fs if fs is not None else output.fs
    rows = np.flatnonzero(output.iscell[:, 0] > 0.5) if cells_only else None
    pick = (lambda a: a.T.copy()) if rows is None else (lambda a: a[rows].T.copy())
    sets = {"F": pick(output.F)}
    if output.Fneu is not None:
        sets["Fneu"] = pick(output.Fneu)
    if output.spks is not None:
        sets["spks"] = pick(output.spks)
    sets["dff"] = dff_from_sets(sets, fs, baseline)
    sets = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sets.items()}
    return ImagingSession(suite2p=output, trace_sets=sets, fs=fs, baseline=baseline, rois=rows)


def load_session(
    folder: PathLike, plane: int = 0, baseline: BaselineParams | None = None,
    cells_only: bool = False,
) -> ImagingSession:
    """Open an existing suite2p output folder as a session (no re-run); ``cells_only``: the
    ROIs ``iscell.npy`` marks as cells (the curated set), recorded in ``roi_indices``."""
    return session_from_output(read_suite2p(folder, plane), baseline, cells_only=cells_only)


def extract_steps(
    source,
    *,
    fs: float,
    tau: float = 1.0,
    diameter: float = 12.0,
    registration: str = "rigid",
    out_dir: PathLike | None = None,
    overwrite: bool = False,
    baseline: BaselineParams | None = None,
    **extra,
) -> Generator[Progress, None, ImagingSession]:
    """Run suite2p on ``source`` and build the session; yields progress, returns the session.

    ``extra`` goes to :class:`ExtractParams` (``detection``, ``torch_device``, ``overrides`` …).
    """
    baseline = baseline or BaselineParams()
    params = ExtractParams(
        fs=fs,
        tau=tau,
        diameter=diameter,
        registration=registration,
        neuropil_coefficient=baseline.neuropil_coefficient,
        **extra,
    )
    plane_dir: Path = yield from run_suite2p_steps(source, params, out_dir, overwrite=overwrite)
    return session_from_output(read_suite2p(plane_dir), baseline, fs=fs)




def extract(source, *, fs: float, on_progress=None, **kwargs) -> ImagingSession:
    """``extract_steps`` run to the end (for scripts): suite2p on ``source`` → session."""
    return drain(extract_steps(source, fs=fs, **kwargs), on_progress)
