"""napari layer data (``(data, kwargs, type)`` tuples) for behaviour, without Qt.

Keypoints become a Points layer (features: keypoint, confidence, camera frame), the skeleton a
Vectors layer (one segment per edge and frame: fast for thousands of frames, where a Shapes
layer of as many lines is not), the video a lazy RGB Image. With an :class:`Alignment`
everything is put on the imaging time axis (index = imaging frame, showing the camera frame
nearest in time) so it moves with the imaging stack and the traces.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .clocks import Alignment
from .pose import Pose

LayerData = tuple[Any, dict, str]
KEYPOINT_COLORS = ("#ff4d4d", "#4dd2ff", "#ffd24d", "#7dff4d", "#d24dff", "#ff9f4d")


def _frame_map(pose: Pose, alignment: Alignment | None) -> tuple[np.ndarray, np.ndarray]:
    """(axis index, camera frame) pairs: camera frames, or imaging frames through the map."""
    if alignment is None:
        frames = np.arange(pose.n_frames)
        return frames, frames
    cam = alignment.nearest_camera_frame(np.arange(len(alignment.imaging_times)))
    axis = np.flatnonzero(cam >= 0)
    return axis, cam[axis]


def pose_points(pose: Pose, alignment: Alignment | None = None, *,
                name: str | None = None, size: float = 5.0) -> LayerData:
    """The keypoints as a Points layer (t, y, x); missing points are left out."""
    axis, cam = _frame_map(pose, alignment)
    xy = pose.position[cam]  # (n, K, 2)
    n, k = xy.shape[:2]
    t = np.repeat(axis, k)
    kp = np.tile(np.arange(k), n)
    flat = xy.reshape(-1, 2)
    keep = np.isfinite(flat).all(axis=1)
    data = np.column_stack([t, flat[:, 1], flat[:, 0]])[keep]
    names = np.asarray(pose.keypoints, dtype=object)[kp][keep]
    conf = pose.confidence[cam].reshape(-1)[keep]
    colors = np.array([KEYPOINT_COLORS[i % len(KEYPOINT_COLORS)] for i in kp[keep]])
    features = {"keypoint": names, "confidence": conf,
                "camera_frame": np.repeat(cam, k)[keep]}
    kwargs = {"name": name or f"{pose.path.stem} keypoints", "features": features,
              "face_color": colors if len(colors) else "red", "size": size,
              "border_width": 0, "ndim": 3,
              "metadata": {"napari_cebra_pose": {"path": str(pose.path),
                                                 "keypoints": list(pose.keypoints),
                                                 "software": pose.software}}}
    return data, kwargs, "points"


def pose_skeleton(pose: Pose, edges, alignment: Alignment | None = None, *,
                  name: str | None = None) -> LayerData | None:
    """The skeleton (edges between keypoint names) as a Vectors layer, or None without one."""
    if not edges:
        return None
    axis, cam = _frame_map(pose, alignment)
    vectors = []
    for a, b in edges:
        pa = pose.position[cam, pose.keypoint_index(a)]
        pb = pose.position[cam, pose.keypoint_index(b)]
        ok = np.isfinite(pa).all(1) & np.isfinite(pb).all(1)
        start = np.column_stack([axis, pa[:, 1], pa[:, 0]])[ok]
        step = np.column_stack([np.zeros(ok.sum()), (pb - pa)[ok, 1], (pb - pa)[ok, 0]])
        vectors.append(np.stack([start, step], axis=1))
    data = np.concatenate(vectors) if vectors else np.zeros((0, 2, 3))
    return data, {"name": name or f"{pose.path.stem} skeleton", "edge_width": 1.5,
                  "edge_color": "white", "vector_style": "line", "ndim": 3}, "vectors"


def decoded_points(xy: np.ndarray, *, name: str = "decoded position",
                   color: str = "cyan") -> LayerData:
    """A decoded (T, 2) x/y position on imaging frames as a Points layer (NaN rows left out),
    to draw beside the tracked one on the video."""
    xy = np.asarray(xy, dtype=np.float64)
    keep = np.isfinite(xy).all(axis=1)
    t = np.flatnonzero(keep)
    data = np.column_stack([t, xy[keep, 1], xy[keep, 0]])
    return data, {"name": name, "face_color": color, "symbol": "cross", "size": 9,
                  "border_width": 0, "ndim": 3}, "points"


def video_layer(video, *, name: str | None = None) -> LayerData:
    """A lazy video (:class:`~napari_cebra.behaviour.video.VideoFrames`) as an RGB Image."""
    return video, {"name": name or video.path.stem, "rgb": not video.gray,
                   "contrast_limits": (0, 255), "multiscale": False,
                   "metadata": {"napari_cebra_video": {
                       "path": str(video.path), "fps": video.fps,
                       "n_camera_frames": video.n_camera_frames,
                       "imaging_axis": video.alignment is not None}}}, "image"
