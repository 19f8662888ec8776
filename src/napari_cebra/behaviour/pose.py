"""Pose-tracking files in: DeepLabCut, SLEAP, Lightning Pose and NWB ``ndx-pose``.

Every format is read by the ``movement`` library (one xarray form for all of them); nothing
here parses a tracker's layout by hand beyond sniffing which tracker wrote a file. Cleaning
follows DeepLabCut's p-cutoff convention: a point whose confidence is below the cutoff becomes
a gap; gaps of at most ``max_gap`` camera frames are interpolated (movement's filtering),
longer ones stay NaN and are reported, never invented.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

PCUTOFF = 0.6  # DeepLabCut's default p-cutoff
MAX_GAP = 5  # camera frames; longer gaps stay missing
POSE_SUFFIXES = (".h5", ".hdf5", ".csv", ".slp", ".nwb")
SOFTWARE = ("DeepLabCut", "SLEAP", "LightningPose", "NWB")


@dataclass
class Pose:
    """Tracked keypoints of one animal, one row per camera frame.

    ``position`` (T, K, 2) x/y in pixels (NaN where missing), ``confidence`` (T, K) (NaN when
    the tracker gives none), ``times`` (T,) seconds on the camera clock or ``None`` when the
    file gives neither a rate nor timestamps, ``missing`` (T, K) True where the point stays a
    gap after cleaning.
    """

    position: np.ndarray
    confidence: np.ndarray
    keypoints: list[str]
    individual: str
    software: str
    path: Path
    fps: float | None = None
    times: np.ndarray | None = None
    skeleton: list[tuple[str, str]] | None = None
    n_low_confidence: int = 0  # points below the cutoff (before interpolation)
    n_interpolated: int = 0  # points filled by interpolation

    @property
    def n_frames(self) -> int:
        return int(self.position.shape[0])

    @property
    def missing(self) -> np.ndarray:
        return ~np.isfinite(self.position).all(axis=-1)

    def keypoint_index(self, name: str) -> int:
        if name not in self.keypoints:
            raise ValueError(f"{self.path.name}: no keypoint {name!r}; it has "
                             f"{', '.join(self.keypoints)}")
        return self.keypoints.index(name)


def is_pose_file(path: str | Path) -> bool:
    """Whether ``path`` looks like a pose file (by its layout, not only its suffix)."""
    try:
        return sniff_software(path) is not None
    except (OSError, ValueError):
        return False


def sniff_software(path: str | Path) -> str | None:
    """The tracker that wrote ``path`` ("DeepLabCut", "SLEAP", "LightningPose", "NWB"), or
    ``None`` when it is not a pose file this package reads."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".slp":
        return "SLEAP"
    if suffix == ".nwb":
        import h5py

        with h5py.File(path, "r") as f:
            found = []
            f.visit(lambda name: found.append(name) if "PoseEstimation" in str(
                f[name].attrs.get("neurodata_type", "")) else None)
        return "NWB" if found else None
    if suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as f:
            if "tracks" in f and "node_names" in f:
                return "SLEAP"
            if "df_with_missing" in f:
                return "DeepLabCut"
        return None
    if suffix == ".csv":
        with open(path, encoding="utf-8-sig") as fh:
            first = [fh.readline().strip().split(",") for _ in range(3)]
        if first[0][:1] != ["scorer"]:
            return None
        if any(row[:1] == ["bodyparts"] for row in first[1:]):
            # Lightning Pose writes DeepLabCut's single-animal layout under its own scorer
            return "LightningPose" if any("heatmap" in c for c in first[0]) else "DeepLabCut"
        return None
    return None


def _load_dataset(path: Path, software: str, fps: float | None):
    from movement.io import load_dataset

    # movement logs every validation failure at ERROR before raising; the raised error is
    # reported here, with the file's name, once.
    log = logging.getLogger("movement")
    level = log.level
    try:
        from loguru import logger as loguru_logger

        loguru_logger.disable("movement")
    except ImportError:
        loguru_logger = None
    log.setLevel(logging.CRITICAL)
    try:
        kwargs = {} if software == "NWB" else {"fps": fps}
        return load_dataset(path, software, **kwargs)
    finally:
        log.setLevel(level)
        if loguru_logger is not None:
            loguru_logger.enable("movement")


def load_pose(path: str | Path, *, software: str | None = None, fps: float | None = None,
              individual: str | None = None) -> Pose:
    """Read a pose file (any supported tracker) into a :class:`Pose` of one animal.

    ``software`` forces the reader (one of ``SOFTWARE``); by default the file's layout names
    it. ``fps`` gives the camera rate when the file has none (all but NWB); ``individual``
    picks one animal from a multi-animal file (default: the first).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such pose file")
    if software is not None and software not in SOFTWARE:
        raise ValueError(f"{path}: software must be one of {', '.join(SOFTWARE)}, "
                         f"got {software!r}")
    if software is None:
        try:
            software = sniff_software(path)
        except (OSError, ValueError, UnicodeDecodeError) as err:
            raise ValueError(f"{path}: not a readable pose file ({err})") from err
        if software is None:
            raise ValueError(
                f"{path}: not a pose file napari-cebra knows; give a DeepLabCut .h5/.csv, a "
                "SLEAP .slp or analysis .h5, a Lightning Pose .csv or an NWB file with "
                "ndx-pose PoseEstimation")
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"{path}: the camera rate fps must be > 0 Hz, got {fps}")
    try:
        ds = _load_dataset(path, software, fps)
    except Exception as err:  # movement raises many kinds; name the file once
        raise ValueError(f"{path}: could not be read as a {software} pose file: {err}") from err
    names = [str(n) for n in ds["individuals"].values]
    if individual is None:
        individual = names[0]
    elif individual not in names:
        raise ValueError(f"{path}: no individual {individual!r}; it has {', '.join(names)}")
    one = ds.sel(individuals=individual)
    try:
        position = np.asarray(one["position"].transpose("time", "keypoints", "space").values,
                              dtype=np.float64)[..., :2]
        if "confidence" in one:
            confidence = np.asarray(one["confidence"].transpose("time", "keypoints").values,
                                    dtype=np.float64)
        else:
            confidence = np.full(position.shape[:2], np.nan)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: the {software} pose file holds values that are not "
                         f"numbers ({err}); re-export it from {software}") from err
    times = None
    file_fps = ds.attrs.get("fps")
    if ds.attrs.get("time_unit") == "seconds":
        times = np.asarray(ds["time"].values, dtype=np.float64)
    return Pose(position=position, confidence=confidence,
                keypoints=[str(k) for k in ds["keypoints"].values], individual=individual,
                software=software, path=path,
                fps=float(file_fps) if file_fps else fps, times=times,
                skeleton=_skeleton(path, software))


def _skeleton(path: Path, software: str) -> list[tuple[str, str]] | None:
    """The skeleton's edges when the file stores them (SLEAP files, ndx-pose)."""
    try:
        if software == "SLEAP":
            import sleap_io

            if path.suffix.lower() == ".slp":
                labels = sleap_io.load_slp(str(path))
                return [(e.source.name, e.destination.name)
                        for e in labels.skeletons[0].edges] if labels.skeletons else None
            import h5py

            with h5py.File(path, "r") as f:
                if "edge_names" in f and len(f["edge_names"]):
                    return [tuple(x.decode() if isinstance(x, bytes) else str(x)
                                  for x in pair) for pair in f["edge_names"][()]]
    except Exception:  # the skeleton is a drawing aid; a file without one still loads
        return None
    return None


def clean_pose(pose: Pose, *, pcutoff: float = PCUTOFF, max_gap: int = MAX_GAP) -> Pose:
    """Points below ``pcutoff`` become gaps; gaps of at most ``max_gap`` frames are linearly
    interpolated (movement's ``interpolate_over_time``), longer ones stay NaN."""
    if not 0.0 <= pcutoff <= 1.0:
        raise ValueError(f"pcutoff must be in [0, 1] (a tracker confidence), got {pcutoff}")
    if max_gap < 0:
        raise ValueError(f"max_gap must be ≥ 0 camera frames, got {max_gap}")
    import xarray as xr
    from movement.filtering import filter_by_confidence, interpolate_over_time

    # frame numbers as the time coordinate: max_gap counts camera frames
    data = xr.DataArray(pose.position, dims=("time", "keypoints", "space"),
                        coords={"time": np.arange(pose.n_frames)})
    before = ~np.isfinite(pose.position).all(axis=-1)
    if np.isfinite(pose.confidence).any():
        conf = xr.DataArray(np.nan_to_num(pose.confidence, nan=0.0),
                            dims=("time", "keypoints"))
        data = filter_by_confidence(data, conf, threshold=pcutoff)
    gaps = ~np.isfinite(data.values).all(axis=-1)
    if max_gap > 0:
        data = interpolate_over_time(data, method="linear", max_gap=int(max_gap))
    position = np.asarray(data.values, dtype=np.float64)
    after = ~np.isfinite(position).all(axis=-1)
    return replace(pose, position=position,
                   n_low_confidence=int((gaps & ~before).sum()),
                   n_interpolated=int((gaps & ~after).sum()))
