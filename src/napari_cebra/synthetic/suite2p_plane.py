"""A suite2p plane folder written straight from a simulation's ground truth (fast tests).

The ROIs are given masks (by default each true footprint above 20 % of its peak); their F,
Fneu and spks come from suite2p's own extraction and deconvolution on the movie, which is
written as the registered movie ``data.bin`` (simulate it with ``motion=False``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .calcium_movie import CalciumMovie


def true_masks(movie: CalciumMovie, level: float = 0.2) -> list[np.ndarray]:
    """Each neuron's footprint above ``level`` × its peak, as a boolean mask."""
    return [fp > level * fp.max() for fp in movie.footprints]


def write_suite2p_plane(folder: str | Path, movie: CalciumMovie,
                        masks: Sequence[np.ndarray] | None = None,
                        probability: Sequence[float] | None = None) -> Path:
    """Write ``folder`` as a suite2p plane (stat, F, Fneu, spks, iscell, ops .npy, data.bin)
    with one ROI per mask, all marked cells with classifier ``probability`` (default 0.9)."""
    from napari_cebra.imaging.projections import plane_projections
    from napari_cebra.imaging.roi_traces import extract_new_rois, new_roi_stat, suite2p_settings

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    masks = true_masks(movie) if masks is None else list(masks)
    T, Ly, Lx = movie.movie.shape
    frames = np.clip(np.rint(movie.movie), -32768, 32767).astype(np.int16)
    frames.tofile(folder / "data.bin")
    ops = {"Ly": Ly, "Lx": Lx, "nframes": T, "fs": movie.fs, "tau": movie.tau,
           "diameter": [movie.diameter, movie.diameter], "yoff": np.zeros(T), "xoff": np.zeros(T),
           "reg_file": str(folder / "data.bin"), "save_path": str(folder)}
    settings = suite2p_settings(ops)
    ops.update({k: settings[k] for k in ("extraction", "dcnv_preprocess", "detection")})
    ops.update(plane_projections({}, (Ly, Lx), frames))
    pixels = [np.nonzero(m) for m in masks]
    stat = []
    for i, (y, x) in enumerate(pixels):
        others = [{"ypix": p[0], "xpix": p[1]} for j, p in enumerate(pixels) if j != i]
        stat.append(new_roi_stat(y, x, np.ones(y.size), (Ly, Lx), settings, others))
    traces = extract_new_rois(stat, [], frames, ops)
    n = len(stat)
    prob = np.full(n, 0.9) if probability is None else np.asarray(probability, float)
    arr = np.empty(n, dtype=object)
    arr[:] = stat
    np.save(folder / "stat.npy", arr, allow_pickle=True)
    for name in ("F", "Fneu", "spks"):
        np.save(folder / f"{name}.npy", traces[name])
    np.save(folder / "iscell.npy", np.stack([np.ones(n), prob], axis=1))
    np.save(folder / "ops.npy", np.array(ops, dtype=object), allow_pickle=True)
    return folder
