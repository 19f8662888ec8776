"""Behaviour labels on imaging frames, from a pose file: the one entry point.

    labels = behaviour_labels("mouse_DLC.h5", n_frames=600, fs=10.0, camera_fps=30.0,
                              offset=1.5, variables=("position", "speed"))
    labels.table["x"]   # (600,) float64, NaN where behaviour is missing
    labels.valid        # (600,) bool: every variable present
    labels.report       # alignment + cleaning figures (dict)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .clocks import Alignment, align_clocks, resample
from .derived import CIRCULAR, DEFAULT_VARIABLES, derive
from .pose import MAX_GAP, PCUTOFF, Pose, clean_pose, load_pose


@dataclass
class BehaviourLabels:
    """Derived behaviour variables on the imaging frames."""

    table: dict[str, np.ndarray]  # name → (T,) float64, NaN where missing
    valid: np.ndarray  # (T,) bool, all variables present
    report: dict
    kinds: dict[str, str] = field(default_factory=dict)  # all "continuous"
    alignment: Alignment | None = None
    pose: Pose | None = None

    @property
    def n_missing(self) -> int:
        return int((~self.valid).sum())


def camera_table(pose: Pose | str | Path, variables=None, *, px_per_cm: float | None = None,
                 pcutoff: float = PCUTOFF, max_gap: int = MAX_GAP) -> dict[str, np.ndarray]:
    """Cleaned, derived variables on camera frames, NaN in long gaps, plus ``time_s`` when the
    camera times are known (for readers that resample by themselves: ``read_label_table``).
    By default: the centroid's position, and its speed when the times are known."""
    if not isinstance(pose, Pose):
        pose = load_pose(pose)
    cleaned = clean_pose(pose, pcutoff=pcutoff, max_gap=max_gap)
    if variables is None:
        variables = ("position", "speed") if pose.times is not None else ("position",)
    table = derive(cleaned, variables, px_per_cm=px_per_cm)
    if pose.times is not None:
        table = {"time_s": pose.times, **table}
    return table


def behaviour_labels(pose_path: str | Path | Pose, *, imaging_times=None,
                     n_frames: int | None = None, fs: float | None = None,
                     camera_times=None, camera_fps: float | None = None, offset: float = 0.0,
                     camera_pulses=None, imaging_pulses=None,
                     variables=DEFAULT_VARIABLES, px_per_cm: float | None = None,
                     pcutoff: float = PCUTOFF, max_gap: int = MAX_GAP,
                     software: str | None = None,
                     individual: str | None = None) -> BehaviourLabels:
    """Load a pose file, clean it, derive ``variables`` and put them on the imaging frames.

    Imaging frames: ``imaging_times`` (s), or ``n_frames`` at ``fs`` Hz. Camera frames: the
    pose file's own times (NWB), ``camera_times`` (s, one per pose row), or ``camera_fps``.
    Alignment: shared-clock timestamps, ``offset`` (s; imaging frame 0 is ``offset`` s after
    camera frame 0), or sync pulses (``camera_pulses``/``imaging_pulses``, s on each clock).
    Cleaning: points below ``pcutoff`` are gaps; gaps up to ``max_gap`` camera frames are
    interpolated, longer ones stay missing (NaN, ``valid`` False).
    """
    pose = pose_path if isinstance(pose_path, Pose) else load_pose(
        pose_path, software=software, fps=camera_fps, individual=individual)
    if camera_times is not None:
        camera_times = np.asarray(camera_times, dtype=np.float64)
        if len(camera_times) != pose.n_frames:
            raise ValueError(f"{pose.path.name}: {pose.n_frames} pose rows but "
                             f"{len(camera_times)} camera timestamps; give one per frame")
    elif pose.software == "NWB" and pose.times is not None:
        camera_times = pose.times  # NWB stores its own timestamps
    if camera_times is None and camera_fps is None and pose.fps is None:
        raise ValueError(f"{pose.path.name}: the camera's frame rate is unknown; give "
                         "camera_fps (Hz) or camera timestamps")
    cleaned = clean_pose(pose, pcutoff=pcutoff, max_gap=max_gap)
    if camera_times is not None:
        cleaned.times = camera_times
    camera = derive(cleaned, variables, px_per_cm=px_per_cm)
    alignment = align_clocks(
        pose.n_frames, n_frames, camera_times=camera_times, imaging_times=imaging_times,
        camera_fps=camera_fps or pose.fps, imaging_fps=fs, offset=offset,
        camera_pulses=camera_pulses, imaging_pulses=imaging_pulses)
    table = {name: resample(values, alignment, circular=name == CIRCULAR)
             for name, values in camera.items()}
    valid = np.logical_and.reduce([np.isfinite(v) for v in table.values()])
    missing_camera = int(cleaned.missing.any(axis=1).sum())
    report = {
        "pose_file": str(pose.path), "software": pose.software,
        "keypoints": list(pose.keypoints), "individual": pose.individual,
        "variables": list(table), "pcutoff": pcutoff, "max_gap": max_gap,
        "px_per_cm": px_per_cm,
        "n_camera_frames": pose.n_frames,
        "n_low_confidence_points": cleaned.n_low_confidence,
        "n_interpolated_points": cleaned.n_interpolated,
        "n_camera_frames_missing": missing_camera,
        "n_imaging_frames": len(valid),
        "n_imaging_frames_missing": int((~valid).sum()),
        "alignment": alignment.report.as_dict(),
    }
    return BehaviourLabels(table=table, valid=valid, report=report,
                           kinds={name: "continuous" for name in table},
                           alignment=alignment, pose=cleaned)
