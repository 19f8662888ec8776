"""Traces of new ROIs (drawn or merged) extracted exactly as suite2p extracts its own.

The masks, the neuropil annulus (the ROI grown by ``inner_neuropil_radius``, then a box grown
until it holds ``min_neuropil_pixels`` pixels that belong to no cell), the weighted F, the
neuropil mean Fneu and the deconvolved ``spks`` (maximin baseline, then OASIS) all come from
suite2p's own functions, called with the settings stored in the plane's ``ops.npy`` — the same
path suite2p's GUI takes when a ROI is drawn by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def suite2p_settings(ops: dict) -> dict:
    """suite2p's default settings overlaid with those stored in ``ops`` (nested sections
    merged key by key), so that every key extraction and deconvolution read is present."""
    from suite2p import default_settings

    settings = default_settings()
    for key, value in ops.items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key] = {**settings[key], **value}
        else:
            settings[key] = value
    return settings


def _diameter(settings: dict) -> list[float]:
    d = settings.get("diameter", 12.0)
    d = np.atleast_1d(np.asarray(d, float))
    if d.size == 1:
        d = np.repeat(d, 2)
    d = np.where(d > 0, d, 12.0)
    return [float(d[0]), float(d[1])]


def new_roi_stat(ypix: np.ndarray, xpix: np.ndarray, lam: np.ndarray, shape: tuple[int, int],
                 settings: dict, others: Sequence[dict]) -> dict:
    """A suite2p ``stat`` entry for a ROI of pixels (``ypix``, ``xpix``) with weights ``lam``:
    median, radius, compactness, aspect ratio (suite2p's ``roi_stats``), its pixels shared
    with ``others`` as ``overlap`` and ``npix_norm`` relative to ``others``' median size."""
    from suite2p.detection.stats import roi_stats

    ypix = np.asarray(ypix, np.int32)
    xpix = np.asarray(xpix, np.int32)
    lam = np.asarray(lam, np.float32)
    stat = {"ypix": ypix, "xpix": xpix, "lam": lam}  # pixel weights, as suite2p keeps them
    soma_crop = bool(settings.get("detection", {}).get("soma_crop", True))
    stat = roi_stats(np.array([stat]), shape[0], shape[1], diameter=_diameter(settings),
                     do_soma_crop=soma_crop, max_overlap=None)[0]
    taken = np.zeros(shape, bool)
    for other in others:
        taken[other["ypix"], other["xpix"]] = True
    stat["overlap"] = taken[ypix, xpix]
    sizes = [float(o.get("npix_soma", len(o["ypix"]))) for o in others]
    if sizes:
        stat["npix_norm"] = float(stat["npix_soma"]) / (float(np.median(sizes)) + 1e-10)
        stat["npix_norm_no_crop"] = float(len(ypix)) / (
            float(np.median([len(o["ypix"]) for o in others])) + 1e-10)
    return stat


def _with_radius(stats: Sequence[dict], shape: tuple[int, int], settings: dict) -> list[dict]:
    """``stats`` with a ``radius`` each (suite2p's neuropil code needs it); originals kept."""
    from suite2p.detection.stats import roi_stats

    out = []
    for s in stats:
        if "radius" not in s or "lam" not in s:
            s = dict(s)
            s.setdefault("lam", np.ones(len(s["ypix"]), np.float32))
            s = roi_stats(np.array([s]), shape[0], shape[1], diameter=_diameter(settings),
                          max_overlap=None)[0]
        out.append(s)
    return out


def extract_new_rois(new: Sequence[dict], others: Sequence[dict], movie, ops: dict,
                     batch_size: int | None = None) -> dict[str, np.ndarray]:
    """F, Fneu and spks (each (len(new), T) float32) of the ROIs ``new`` in the registered
    ``movie`` (T, Ly, Lx), with ``others`` (the plane's other ROIs) excluded from their
    neuropil, then the ``skew``/``std``/``snr`` suite2p's classifier reads, set on ``new``."""
    import torch
    from scipy.stats import skew
    from suite2p.extraction.dcnv import oasis, preprocess
    from suite2p.extraction.extract import extract_traces
    from suite2p.extraction.masks import (
        create_cell_mask,
        create_cell_pix,
        create_neuropil_masks,
    )

    settings = suite2p_settings(ops)
    ex = settings["extraction"]
    n_frames, Ly, Lx = movie.shape
    if not len(new):
        empty = np.zeros((0, n_frames), np.float32)
        return {"F": empty, "Fneu": empty.copy(), "spks": empty.copy()}
    everyone = _with_radius([*new, *others], (Ly, Lx), settings)
    cell_pix = create_cell_pix(np.array(everyone, dtype=object), Ly=Ly, Lx=Lx,
                               lam_percentile=ex["lam_percentile"])
    cell_masks = [create_cell_mask(s, Ly=Ly, Lx=Lx, allow_overlap=ex["allow_overlap"])
                  for s in new]
    if any(len(m[0]) == 0 for m in cell_masks):  # every pixel shared: keep them all
        cell_masks = [m if len(m[0]) else create_cell_mask(s, Ly, Lx, allow_overlap=True)
                      for m, s in zip(cell_masks, new, strict=True)]
    neuropil = create_neuropil_masks(
        ypixs=[s["ypix"] for s in new], xpixs=[s["xpix"] for s in new], cell_pix=cell_pix,
        inner_neuropil_radius=ex["inner_neuropil_radius"],
        min_neuropil_pixels=ex["min_neuropil_pixels"],
        circular=ex.get("circular_neuropil", False))
    device = torch.device("cpu")
    batch = int(batch_size or ex["batch_size"])
    F, Fneu = extract_traces(movie, cell_masks, neuropil, batch_size=batch, device=device)
    dF = F - ex["neuropil_coefficient"] * Fneu
    var = dF.var(axis=1) + 1e-12
    snr = 1 - 0.5 * np.diff(dF, axis=1).var(axis=1) / var
    for s, sk, sd, sn in zip(new, skew(dF, axis=1), dF.std(axis=1), snr, strict=True):
        s["skew"], s["std"], s["snr"] = float(sk), float(sd), float(sn)
    fs = float(settings.get("fs") or 10.0)
    pre = settings["dcnv_preprocess"]
    dF = preprocess(F=dF.copy(), baseline=pre["baseline"], win_baseline=pre["win_baseline"],
                    sig_baseline=pre["sig_baseline"], fs=fs,
                    prctile_baseline=pre["prctile_baseline"], device=device)
    spks = oasis(F=dF, batch_size=batch, tau=float(settings.get("tau", 1.0)), fs=fs)
    return {"F": F.astype(np.float32), "Fneu": Fneu.astype(np.float32),
            "spks": np.asarray(spks, np.float32)}
