"""Read a suite2p output folder: ROIs, traces, iscell, mean image, registered movie (lazily)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .safe_npy import UnsafeFileError, load_npy
from .stacks import PathLike, natural_key

REQUIRED = ("stat.npy", "F.npy", "iscell.npy")


@dataclass
class Suite2pOutput:
    """One plane of suite2p results. Trace arrays are (N ROIs, T frames) as suite2p stores
    them."""

    plane_dir: Path
    stat: np.ndarray  # object array of per-ROI dicts (ypix, xpix, lam, med, …)
    F: np.ndarray
    Fneu: np.ndarray | None
    spks: np.ndarray | None
    iscell: np.ndarray  # (N, 2): is-cell flag, classifier probability
    ops: dict
    shape: tuple[int, int]  # (Ly, Lx)

    @property
    def n_rois(self) -> int:
        return len(self.stat)

    @property
    def n_frames(self) -> int:
        return int(self.F.shape[1])

    @property
    def fs(self) -> float | None:
        fs = self.ops.get("fs")
        return float(fs) if fs is not None else None

    @property
    def mean_image(self) -> np.ndarray:
        for key in ("meanImg", "meanImgE", "max_proj"):
            img = self.ops.get(key)
            if img is not None and np.shape(img) == self.shape:
                return np.asarray(img, dtype=np.float32)
        return np.zeros(self.shape, np.float32)

    @property
    def registered(self) -> np.ndarray | None:
        """The registered movie (memory-mapped, int16), if registration ran and it was kept."""
        path = self.plane_dir / "data.bin"
        if not path.exists() or "yoff" not in self.ops:
            return None
        n = path.stat().st_size // (2 * self.shape[0] * self.shape[1])
        return np.memmap(path, dtype=np.int16, mode="r", shape=(int(n), *self.shape))


def find_plane_dir(folder: PathLike, plane: int = 0) -> Path:
    """The plane folder inside ``folder`` (itself, ``plane{N}/`` or ``suite2p/plane{N}/``)."""
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"{folder}: no such folder")
    for candidate in (folder, folder / f"plane{plane}", folder / "suite2p" / f"plane{plane}"):
        if (candidate / "stat.npy").exists() or (candidate / "F.npy").exists():
            return candidate
    for candidate in (folder / f"plane{plane}", folder / "suite2p" / f"plane{plane}"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"{folder}: not a suite2p output folder (no stat.npy / F.npy, no plane{plane}/ or "
        "suite2p/plane{plane}/); point at the folder suite2p wrote or run extraction first"
    )


def plane_dirs(folder: PathLike) -> list[Path]:
    """Every plane folder with results under ``folder`` (``[folder]`` for a plane folder)."""
    folder = Path(folder)
    if (folder / "stat.npy").exists():
        return [folder]
    for root in (folder, folder / "suite2p"):
        planes = sorted(root.glob("plane*/stat.npy"), key=lambda p: natural_key(p.parent.name))
        if planes:
            return [p.parent for p in planes]
    return []


def is_suite2p_folder(folder: PathLike) -> bool:
    try:
        plane = find_plane_dir(folder)
    except FileNotFoundError:
        return False
    return (plane / "stat.npy").exists()


def _load(plane: Path, name: str, required: bool = True):
    path = plane / name
    if not path.exists():
        if required:
            raise FileNotFoundError(
                f"{path}: missing — this suite2p folder is incomplete; re-run suite2p on the "
                "recording or open a complete output folder"
            )
        return None
    try:
        # stat.npy / ops.npy are pickled: rebuilt by the restricted unpickler, never run.
        return load_npy(path, allow_objects=name in ("stat.npy", "ops.npy"))
    except UnsafeFileError:
        raise
    except (ValueError, OSError, EOFError) as err:
        detail = str(err) if str(path) in str(err) else f"{path}: cannot read ({err})"
        msg = f"{detail}; the file is damaged, re-run suite2p"
        raise ValueError(msg) from err


def _check_stat(stat, path: Path) -> None:
    """stat.npy must be a 1-D array of dicts with integer pixel lists (what suite2p writes)."""
    if stat.ndim != 1:
        raise ValueError(f"{path}: stat.npy must list one entry per ROI; got shape {stat.shape}.")
    for i, roi in enumerate(stat):
        if not isinstance(roi, dict) or "ypix" not in roi or "xpix" not in roi:
            raise ValueError(f"{path}: ROI {i} of stat.npy is not a suite2p ROI (a dict with "
                             "ypix and xpix); the file is damaged or not from suite2p.")
        y, x = np.asarray(roi["ypix"]), np.asarray(roi["xpix"])
        if y.shape != x.shape or y.ndim != 1 or (y.size and y.dtype.kind not in "iu"):
            raise ValueError(f"{path}: ROI {i} of stat.npy has malformed ypix/xpix.")


def read_suite2p(folder: PathLike, plane: int = 0) -> Suite2pOutput:
    """Read one plane of a suite2p output folder, checking that its files agree."""
    plane_dir = find_plane_dir(folder, plane)
    stat = _load(plane_dir, "stat.npy")
    _check_stat(stat, plane_dir / "stat.npy")
    F = np.asarray(_load(plane_dir, "F.npy"), dtype=np.float32)
    iscell = np.asarray(_load(plane_dir, "iscell.npy"), dtype=np.float64)
    Fneu = _load(plane_dir, "Fneu.npy", required=False)
    spks = _load(plane_dir, "spks.npy", required=False)
    ops_arr = _load(plane_dir, "ops.npy", required=False)
    ops = ops_arr.item() if ops_arr is not None and ops_arr.size == 1 else {}
    if not isinstance(ops, dict):
        raise ValueError(f"{plane_dir / 'ops.npy'} does not hold suite2p settings (a dict).")
    n = len(stat)
    if F.ndim != 2 or F.shape[0] != n:
        raise ValueError(
            f"{plane_dir}: F.npy has shape {F.shape} but stat.npy lists {n} ROIs; the folder "
            "mixes files from different runs — re-run suite2p"
        )
    bad = ~np.isfinite(F)
    if bad.any():
        rois = np.flatnonzero(bad.any(axis=1))
        raise ValueError(
            f"{plane_dir / 'F.npy'} has {int(bad.sum())} NaN/infinite values in {len(rois)} of "
            f"{n} ROIs (first: ROI {int(rois[0])}); traces with gaps cannot be trained on. "
            "Re-run suite2p's extraction, or drop those ROIs from the folder's outputs."
        )
    if iscell.ndim == 1:
        iscell = np.stack([iscell, iscell], axis=1)
    if iscell.shape[0] != n:
        raise ValueError(f"{plane_dir}: iscell.npy has {iscell.shape[0]} rows for {n} ROIs")
    for name, arr in (("Fneu", Fneu), ("spks", spks)):
        if arr is not None and arr.shape != F.shape:
            raise ValueError(f"{plane_dir}: {name}.npy shape {arr.shape} ≠ F.npy {F.shape}")
    if "Ly" in ops and "Lx" in ops:
        shape = _frame_size(ops, plane_dir / "ops.npy")
    elif n:
        shape = (
            int(max((s["ypix"].max() for s in stat if len(s["ypix"])), default=0)) + 1,
            int(max((s["xpix"].max() for s in stat if len(s["xpix"])), default=0)) + 1,
        )
    else:
        shape = (1, 1)
    check_image_size(shape, plane_dir / ("ops.npy" if "Ly" in ops else "stat.npy"))
    return Suite2pOutput(
        plane_dir=plane_dir,
        stat=stat,
        F=F,
        Fneu=None if Fneu is None else np.asarray(Fneu, np.float32),
        spks=None if spks is None else np.asarray(spks, np.float32),
        iscell=iscell,
        ops=ops,
        shape=shape,
    )


def _frame_size(ops: dict, path: Path) -> tuple[int, int]:
    """``(Ly, Lx)`` from ops, when they are positive whole numbers."""
    try:
        ly, lx = ops["Ly"], ops["Lx"]
        ok = all(float(v) == int(v) and int(v) > 0 for v in (ly, lx))
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f"{path}: its frame size Ly={ops['Ly']!r}, Lx={ops['Lx']!r} is not "
                         "two positive whole numbers of pixels; the file is damaged — re-run "
                         "suite2p")
    return int(ly), int(lx)


def check_image_size(shape: tuple[int, int], source) -> None:
    """A label image of ``shape`` (int32 labels + float32 weights) must fit in memory."""
    from napari_cebra.limits import check_memory

    ly, lx = (int(v) for v in shape)
    check_memory(8 * ly * lx, source, "the ROI image (Ly × Lx pixels)", shape=(ly, lx),
                 hint="the frame size it declares is wrong (or the ROIs' pixel coordinates "
                 "are) — re-run suite2p or fix the file")


def roi_label_image(stat, shape: tuple[int, int]) -> np.ndarray:
    """An int32 image: ROI i painted as i + 1 (pixel goes to the ROI with the largest weight)."""
    check_image_size(shape, "ROI label image")
    labels = np.zeros(shape, np.int32)
    best = np.zeros(shape, np.float32)
    for i, s in enumerate(stat):
        y, x = np.asarray(s["ypix"]), np.asarray(s["xpix"])
        lam = np.asarray(s.get("lam", np.ones(len(y))), np.float32)
        ok = (y >= 0) & (y < shape[0]) & (x >= 0) & (x < shape[1])
        y, x, lam = y[ok], x[ok], lam[ok]
        win = lam > best[y, x]
        labels[y[win], x[win]] = i + 1
        best[y[win], x[win]] = lam[win]
    return labels


def roi_centroids(stat) -> np.ndarray:
    """(N, 2) weighted (y, x) centroid of each ROI."""
    out = np.zeros((len(stat), 2))
    for i, s in enumerate(stat):
        w = np.asarray(s.get("lam", np.ones(len(s["ypix"]))), float)
        w = w if w.sum() > 0 else np.ones_like(w)
        out[i] = np.average(s["ypix"], weights=w), np.average(s["xpix"], weights=w)
    return out


def roi_table(stat, iscell: np.ndarray) -> dict[str, np.ndarray]:
    """One row per ROI: roi (label value), iscell, iscell_prob, centroid_y/x, npix, skew."""
    cent = roi_centroids(stat)
    n = len(stat)
    return {
        "roi": np.arange(1, n + 1),
        "iscell": np.asarray(iscell[:, 0] > 0.5, bool) if n else np.zeros(0, bool),
        "iscell_prob": np.asarray(iscell[:, 1], np.float32) if n else np.zeros(0, np.float32),
        "centroid_y": cent[:, 0],
        "centroid_x": cent[:, 1],
        "npix": np.array([len(s["ypix"]) for s in stat], int),
        "skew": np.array([float(s.get("skew", np.nan)) for s in stat]),
    }
