"""Behaviour variables derived from keypoints: position, speed, heading, distance.

A variable is named by a short spec, the same from Python, the shell and the widget:

- ``position`` (centroid of all keypoints) or ``position:nose`` or ``position:ear_l+ear_r``
  (centroid of those) → two columns ``x``/``y`` (``nose_x``/``nose_y``, ...);
- ``speed`` / ``speed:nose`` → ``speed`` / ``nose_speed`` (per second, from the camera times);
- ``heading:tail_base>nose`` → ``heading``, the direction from the first to the second keypoint
  in radians (−π, π], image axes (x right, y down); plain ``heading`` is the direction of
  movement of the centroid;
- ``distance:nose>tail_base`` → ``distance_nose_tail_base``.

Lengths are in pixels, or in cm when ``px_per_cm`` is given. Missing points give NaN rows.
Speeds are differences over the real camera times (dropped frames make uneven steps), which is
why they are computed here rather than with a uniform-time-step derivative.
"""

from __future__ import annotations

import numpy as np

from .pose import Pose

DEFAULT_VARIABLES = ("position", "speed")
KINDS = ("position", "speed", "heading", "distance")
CIRCULAR = "heading"  # columns holding angles (resampled on the unit circle)


def _centroid(pose: Pose, names: list[str]) -> np.ndarray:
    idx = [pose.keypoint_index(n) for n in names] if names else list(range(len(pose.keypoints)))
    # a centroid with one of its keypoints missing would jump; it is missing too
    return pose.position[:, idx, :].mean(axis=1)


def _parse(spec: str) -> tuple[str, list[str]]:
    kind, _, rest = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise ValueError(f"behaviour variable {spec!r}: the kind must be one of "
                         f"{', '.join(KINDS)} (e.g. 'position:nose', 'speed', "
                         "'heading:tail_base>nose', 'distance:nose>tail_base')")
    sep = ">" if ">" in rest else "+"
    names = [n.strip() for n in rest.split(sep) if n.strip()] if rest else []
    if kind in ("distance",) and len(names) != 2:
        raise ValueError(f"behaviour variable {spec!r}: give two keypoints, e.g. "
                         "'distance:nose>tail_base'")
    if kind == "heading" and len(names) not in (0, 2):
        raise ValueError(f"behaviour variable {spec!r}: give two keypoints (from>to), e.g. "
                         "'heading:tail_base>nose', or none for the direction of movement")
    return kind, names


def _prefix(names: list[str]) -> str:
    return ("+".join(names) + "_") if names else ""


def _frame_times(pose: Pose) -> np.ndarray:
    if pose.times is not None:
        return pose.times
    if pose.fps:
        return np.arange(pose.n_frames) / pose.fps
    raise ValueError(f"{pose.path.name}: speed needs the camera's frame rate or timestamps; "
                     "give fps")


def _velocity(xy: np.ndarray, t: np.ndarray) -> np.ndarray:
    if len(t) < 2:
        return np.full_like(xy, np.nan)
    return np.gradient(xy, t, axis=0)


def derive(pose: Pose, variables=DEFAULT_VARIABLES, *,
           px_per_cm: float | None = None) -> dict[str, np.ndarray]:
    """Columns (name → (T,) float64 on camera frames) for each variable spec."""
    if px_per_cm is not None and not (np.isfinite(px_per_cm) and px_per_cm > 0):
        raise ValueError(f"px_per_cm must be > 0 (pixels per centimetre), got {px_per_cm}")
    scale = 1.0 / px_per_cm if px_per_cm else 1.0
    if isinstance(variables, str):
        variables = [variables]
    out: dict[str, np.ndarray] = {}
    for spec in variables:
        kind, names = _parse(spec)
        if kind == "position":
            xy = _centroid(pose, names) * scale
            out[_prefix(names) + "x"], out[_prefix(names) + "y"] = xy[:, 0], xy[:, 1]
        elif kind == "speed":
            v = _velocity(_centroid(pose, names) * scale, _frame_times(pose))
            out[_prefix(names) + "speed"] = np.hypot(v[:, 0], v[:, 1])
        elif kind == "heading":
            if names:
                d = _centroid(pose, names[1:]) - _centroid(pose, names[:1])
            else:
                d = _velocity(_centroid(pose, []), _frame_times(pose))
            out["heading"] = np.arctan2(d[:, 1], d[:, 0])
        else:
            d = _centroid(pose, names[1:]) - _centroid(pose, names[:1])
            out[f"distance_{names[0]}_{names[1]}"] = np.hypot(d[:, 0], d[:, 1]) * scale
    return out
