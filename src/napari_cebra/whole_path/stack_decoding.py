"""suite2p on a raw stack, then the frame-decoding protocol on its cells' dF/F traces."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import numpy as np

from napari_cebra.imaging.roi_stats import SOMA_SIZE, soma_sized
from napari_cebra.progress import Progress

from .frame_labels import FrameLabels


def cell_traces(session, cells_only: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(T, n) dF/F of the ROIs suite2p classified as cells and that are soma-sized (all ROIs
    when ``cells_only`` is False), and their indices among all ROIs."""
    n_rois = session.suite2p.n_rois
    keep = np.arange(n_rois)
    if cells_only and n_rois:
        cells = np.flatnonzero(np.asarray(session.suite2p.iscell)[:, 0] > 0.5)
        npix = np.array([len(st["ypix"]) for st in session.suite2p.stat])
        keep = cells[soma_sized(npix, cells)]
    return np.ascontiguousarray(session.traces[:, keep], dtype=np.float32), keep


def extraction_summary(session, cells: np.ndarray, cells_only: bool = True) -> dict:
    """The report's ``extraction`` section: what suite2p found and which traces were used."""
    n_classified = int((np.asarray(session.suite2p.iscell)[:, 0] > 0.5).sum()) \
        if session.suite2p.n_rois else 0
    return dict(
        n_rois=int(session.suite2p.n_rois), n_classified_cells=n_classified,
        n_cells=int(len(cells)), cells_only=cells_only,
        soma_size=list(SOMA_SIZE) if cells_only else None,
        traces="dff", n_frames=int(session.n_frames), fs=session.fs,
        output_folder=str(Path(session.suite2p.plane_dir)),
        neuropil_coefficient=session.baseline.neuropil_coefficient,
        baseline=session.baseline.method, cell_indices=[int(i) for i in cells],
        curation_hash=session.curation_hash)


def decode_stack_steps(
    stack, *, fs: float, frame_labels: FrameLabels, movie: np.ndarray | None = None,
    out_dir: str | Path | None = None, overwrite: bool = False, tau: float = 1.0,
    diameter: float = 12.0, registration: str = "rigid", cells_only: bool = True,
    torch_device: str = "auto", baseline=None, **decoding,
) -> Generator[Progress, None, tuple]:
    """Extract ``stack`` with suite2p, then decode movie frames from the cells' dF/F.

    ``decoding`` goes to :func:`~napari_cebra.analysis.frame_decoding.frame_decoding_steps`
    (``cebra_params``, ``labels``, ``baselines``, ``controls``, ``seed`` …). Yields progress;
    returns ``(report, session)``: the report carries an ``extraction`` section, the session
    is the suite2p output with its traces.
    """
    from napari_cebra.analysis.frame_decoding import frame_decoding_steps
    from napari_cebra.imaging import extract_steps

    session = yield from extract_steps(
        stack, fs=fs, tau=tau, diameter=diameter, registration=registration,
        out_dir=out_dir, overwrite=overwrite, baseline=baseline, torch_device=torch_device)
    frame_labels.check_frames(session.n_frames)
    traces, cells = cell_traces(session, cells_only)
    if traces.shape[1] < 2:
        raise ValueError(
            f"suite2p found {session.suite2p.n_rois} ROIs, {len(cells)} of them cells, in the "
            f"stack; decoding needs at least 2. Check the cell diameter ({diameter} px) and "
            f"the frame rate ({fs} Hz), or look at {session.suite2p.plane_dir} in napari.")
    report = yield from frame_decoding_steps(
        traces, frame_labels.frame_id, frame_labels.repeat, fs, movie=movie, **decoding)
    report.extraction = extraction_summary(session, cells, cells_only)
    return report, session
