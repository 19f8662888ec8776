"""Several imaging planes: split an interleaved stack, extract every plane, use them together.

A multi-plane recording arrives as one stack with the planes interleaved frame by frame
(ScanImage: frame ``t * nplanes + p`` is plane ``p`` of volume ``t``) or as one file per plane.
:func:`split_planes` gives each plane as a lazy view (nothing is read); :func:`extract_planes_steps`
runs suite2p on every plane into ``<out>/suite2p/plane{p}`` (one staged, all-or-nothing run, like
suite2p's own ``nplanes``); :func:`combine_planes` puts the planes' cells together — one trace
matrix (T volumes, all cells), the plane of each cell, the planes' ROIs tiled side by side in one
label image — and :func:`plane_choice` keeps the cells of all planes or of one.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_cebra.progress import Progress

from .session import BaselineParams, ImagingSession, load_session, session_from_output
from .stacks import PathLike, open_stack, validate_stack
from .suite2p_read import plane_dirs, read_suite2p, roi_label_image

TILE_GAP = 8  # px between planes laid side by side


def split_planes(stack, nplanes: int, name: str = "stack") -> list:
    """Plane ``p`` of an interleaved (T·nplanes, Y, X) stack as a lazy (T, Y, X) view.

    A trailing incomplete volume is dropped (its planes would have different lengths).
    """
    nplanes = int(nplanes)
    if nplanes < 1:
        raise ValueError(f"nplanes must be ≥ 1, got {nplanes}")
    n = int(stack.shape[0])
    volumes = n // nplanes
    if volumes < 1:
        raise ValueError(f"{name}: {n} frames cannot hold {nplanes} interleaved planes; "
                         "check the number of planes")
    return [stack[p: volumes * nplanes: nplanes] for p in range(nplanes)]


def _plane_stacks(source, nplanes: int) -> list:
    """Each plane's (T, Y, X) stack: one interleaved stack split, or one stack per plane."""
    if isinstance(source, (list, tuple)) and len(source) > 1 and nplanes == len(source):
        stacks = [open_stack(s) if isinstance(s, (str, os.PathLike)) else s for s in source]
        lengths = {int(s.shape[0]) for s in stacks}
        if len(lengths) > 1:
            raise ValueError(f"the plane files have different frame counts {sorted(lengths)}; "
                             "every plane needs one frame per volume")
        return stacks
    stack = open_stack(source) if isinstance(source, (str, os.PathLike)) else source
    validate_stack(stack, str(source) if isinstance(source, (str, os.PathLike)) else "stack")
    return split_planes(stack, nplanes, str(source) if isinstance(source, (str, os.PathLike))
                        else "stack")


def run_planes_steps(source, params, out_dir: PathLike | None = None, *, nplanes: int = 2,
                     overwrite: bool = False) -> Generator[Progress, None, list[Path]]:
    """suite2p on every plane of ``source``; yields progress, returns the plane folders
    ``<out>/suite2p/plane{p}`` (published together once all planes are done)."""
    from .output_folders import OutputFolder, _retarget_paths, default_output_dir
    from .suite2p_run import (
        _db_for,
        _progress_of,
        _run_plane_in_thread,
        suite2p_settings,
        write_binary,
    )

    params.validate()
    stacks = _plane_stacks(source, nplanes)
    if stacks[0].shape[0] < 50:
        raise ValueError(f"stack: suite2p needs at least 50 volumes, got {stacks[0].shape[0]}")
    first = source[0] if isinstance(source, (list, tuple)) else source
    out = Path(out_dir) if out_dir is not None else default_output_dir(first)
    folder = OutputFolder(out, overwrite=overwrite)
    folder.check()
    settings = suite2p_settings(params, tuple(stacks[0].shape[1:]))
    settings["fs"] = float(params.fs)  # per plane: the volume rate
    plane0 = folder.prepare()
    dirs = []
    try:
        for p, stack in enumerate(stacks):
            plane_dir = plane0.parent / f"plane{p}"
            plane_dir.mkdir(exist_ok=True)
            n = int(stack.shape[0])
            yield Progress(f"plane {p}", 0, n, f"plane {p}: writing {n} frames for suite2p")
            info = yield from _progress_of(write_binary(stack, plane_dir), n)
            data = Path(first).parent if isinstance(first, (str, os.PathLike)) else out
            db = _db_for(plane_dir, info, data)
            db["iplane"] = p
            np.save(plane_dir / "db.npy", db)
            np.save(plane_dir / "settings.npy", settings)
            yield from _run_plane_in_thread(db, settings)
            dirs.append(plane_dir.name)
        for name in dirs[1:]:
            _retarget_paths(plane0.parent / name, folder.stage, folder.out)
        final = folder.publish().parent
    finally:
        folder.discard()
    yield Progress("done", 1, 1, f"suite2p finished {len(dirs)} planes: {final}")
    return [final / name for name in dirs]


def extract_planes_steps(source, *, fs: float, nplanes: int = 2, tau: float = 1.0,
                         diameter: float = 12.0, registration: str = "rigid",
                         out_dir: PathLike | None = None, overwrite: bool = False,
                         baseline: BaselineParams | None = None, **extra
                         ) -> Generator[Progress, None, list[ImagingSession]]:
    """:func:`~napari_cebra.imaging.extract_steps` for a multi-plane recording: one session
    per plane (``fs`` is the volume rate, the frame rate of each plane)."""
    from .suite2p_run import ExtractParams

    baseline = baseline or BaselineParams()
    params = ExtractParams(fs=fs, tau=tau, diameter=diameter, registration=registration,
                           neuropil_coefficient=baseline.neuropil_coefficient, **extra)
    dirs = yield from run_planes_steps(source, params, out_dir, nplanes=nplanes,
                                       overwrite=overwrite)
    return [session_from_output(read_suite2p(d), baseline, fs=fs) for d in dirs]


@dataclass
class PlaneSet:
    """The cells of several planes together; columns of every matrix follow ``plane``."""

    sessions: list[ImagingSession]
    traces: np.ndarray  # (T, N) dF/F of all ROIs of all planes
    trace_sets: dict[str, np.ndarray]  # each (T, N)
    plane: np.ndarray  # (N,) plane of each ROI
    roi_in_plane: np.ndarray  # (N,) the ROI's index within its plane's suite2p output
    offsets: list[tuple[float, float]]  # where each plane's tile sits (y, x) in the tiling
    fs: float | None

    @property
    def nplanes(self) -> int:
        return len(self.sessions)

    def roi_labels(self) -> np.ndarray:
        """All planes' ROIs tiled left to right in one image; ROI ids run on across planes."""
        shapes = [s.suite2p.shape for s in self.sessions]
        h = max(y for y, _ in shapes)
        w = int(self.offsets[-1][1]) + shapes[-1][1]
        out = np.zeros((h, w), np.int32)
        start = 0
        for s, (_, x0) in zip(self.sessions, self.offsets, strict=True):
            img = roi_label_image(s.suite2p.stat, s.suite2p.shape)
            ly, lx = img.shape
            out[:ly, int(x0): int(x0) + lx] = np.where(img > 0, img + start, 0)
            start += s.suite2p.n_rois
        return out

    def roi_features(self) -> dict[str, np.ndarray]:
        """One row per ROI (all planes): the plane's table plus ``plane`` and tile centroids."""
        tables = [s.roi_features for s in self.sessions]
        out = {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}
        out["roi"] = np.arange(1, len(self.plane) + 1)
        out["plane"] = self.plane.copy()
        out["roi_in_plane"] = self.roi_in_plane.copy()
        out["centroid_x"] = out["centroid_x"] + np.concatenate(
            [np.full(s.suite2p.n_rois, x0) for s, (_, x0) in zip(self.sessions, self.offsets,
                                                                  strict=True)])
        return out

    def layer_metadata(self) -> dict:
        from napari_cebra.contracts import traces_record

        return traces_record(
            self.traces, fs=self.fs, trace_sets=self.trace_sets, time_axis=0,
            suite2p_dir=str(Path(self.sessions[0].suite2p.plane_dir).parent),
            plane=self.plane, nplanes=self.nplanes,
            neuropil_coefficient=self.sessions[0].baseline.neuropil_coefficient)


def combine_planes(sessions: Sequence[ImagingSession]) -> PlaneSet:
    """The planes' ROIs as one set of cells (volumes × all ROIs), plane of each kept."""
    if not sessions:
        raise ValueError("combine_planes: no planes")
    frames = {s.n_frames for s in sessions}
    if len(frames) > 1:
        raise ValueError(f"the planes have different frame counts {sorted(frames)}; they must "
                         "come from one recording (one frame per plane per volume)")
    names = set.intersection(*(set(s.trace_sets) for s in sessions))
    sets = {k: np.concatenate([s.trace_sets[k] for s in sessions], axis=1) for k in names}
    plane = np.concatenate([np.full(s.suite2p.n_rois, p) for p, s in enumerate(sessions)])
    within = np.concatenate([np.arange(s.suite2p.n_rois) for s in sessions])
    offsets, x = [], 0.0
    for s in sessions:
        offsets.append((0.0, x))
        x += s.suite2p.shape[1] + TILE_GAP
    return PlaneSet(sessions=list(sessions), traces=sets["dff"], trace_sets=sets, plane=plane,
                    roi_in_plane=within, offsets=offsets, fs=sessions[0].fs)


def load_planes(folder: PathLike, baseline: BaselineParams | None = None) -> PlaneSet:
    """Every plane of a suite2p output folder, combined."""
    dirs = plane_dirs(folder)
    if not dirs:
        raise FileNotFoundError(f"{folder}: no plane folders with suite2p results")
    return combine_planes([load_session(d, baseline=baseline) for d in dirs])


def plane_choice(traces: np.ndarray, plane: np.ndarray, choice: str | int = "all"
                 ) -> tuple[np.ndarray, np.ndarray, dict]:
    """The columns of ``traces`` to train / decode on: every plane (``"all"``) or one.

    Returns ``(traces, columns, setting)``; ``setting`` is what models and reports record
    (``{"planes": "all" | p, "cells_per_plane": {p: n}}``).
    """
    plane = np.asarray(plane, int)
    if plane.shape != (np.shape(traces)[1],):
        raise ValueError(f"plane labels ({plane.shape}) must give one plane per trace column "
                         f"({np.shape(traces)[1]})")
    if choice == "all":
        columns = np.arange(len(plane))
    else:
        p = int(choice)
        if p not in set(plane.tolist()):
            raise ValueError(f"plane {p} has no cells; choose one of "
                             f"{sorted(set(plane.tolist()))} or 'all'")
        columns = np.flatnonzero(plane == p)
    kept = plane[columns]
    setting = {"planes": choice if choice == "all" else int(choice),
               "cells_per_plane": {int(p): int((kept == p).sum()) for p in np.unique(kept)}}
    return np.ascontiguousarray(np.asarray(traces)[:, columns]), columns, setting
