"""napari readers for pose files and behaviour videos, and the behaviour sample.

Dropping a DeepLabCut / SLEAP / Lightning Pose / NWB ndx-pose file gives a Points layer of the
keypoints (plus the skeleton when the file stores one); dropping a video gives a lazy RGB
Image (frames decoded only when shown). When the file's folder also holds
``camera_times.csv`` and ``imaging_times.csv`` (``frame``, ``time_s`` on one clock: the
layout of the behaviour sample), both are put on the imaging time axis, so they move with the
imaging stack; otherwise their time axis is camera frames (the Behaviour widget aligns them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_cebra.gui.layers import LayerData

TIMES = ("camera_times.csv", "imaging_times.csv")


def _single(path) -> str | None:
    if isinstance(path, list):
        return str(path[0]) if len(path) == 1 else None
    return str(path)


def folder_alignment(folder: Path, n_camera: int):
    """The alignment from ``camera_times.csv`` + ``imaging_times.csv`` beside a file, if both
    are there and the camera's count matches; else None."""
    from napari_cebra.behaviour import align_clocks, read_timestamps

    cam_file, img_file = (folder / name for name in TIMES)
    if not (cam_file.is_file() and img_file.is_file()):
        return None
    camera = read_timestamps(cam_file, "time_s")
    if len(camera) != n_camera:
        return None
    return align_clocks(n_camera, camera_times=camera,
                        imaging_times=read_timestamps(img_file, "time_s"))


def get_pose_reader(path):
    from napari_cebra.behaviour import is_pose_file

    path = _single(path)
    if path is None or not is_pose_file(path):
        return None
    return read_pose


def read_pose(path) -> list[LayerData]:
    from napari_cebra.behaviour import load_pose
    from napari_cebra.behaviour.layers import pose_points, pose_skeleton

    pose = load_pose(_single(path))
    alignment = folder_alignment(pose.path.parent, pose.n_frames)
    layers = [pose_points(pose, alignment)]
    skeleton = pose_skeleton(pose, pose.skeleton, alignment)
    return layers + ([skeleton] if skeleton else [])


def get_video_reader(path):
    from napari_cebra.behaviour.video import VIDEO_SUFFIXES

    path = _single(path)
    if path is None or Path(path).suffix.lower() not in VIDEO_SUFFIXES:
        return None
    return read_video


def read_video(path) -> list[LayerData]:
    from napari_cebra.behaviour.layers import video_layer
    from napari_cebra.behaviour.video import VideoFrames

    path = Path(_single(path))
    video = VideoFrames(path)
    alignment = folder_alignment(path.parent, video.n_camera_frames)
    if alignment is not None:
        video.close()
        video = VideoFrames(path, alignment=alignment)
    return [video_layer(video)]


TRACES_NAME = "arena place cells (neurons)"
VIDEO_NAME = "arena video"


def behaviour_sample_layers() -> list[LayerData]:
    """The behaviour sample on one (imaging) time axis: the video, the tracked keypoints and
    skeleton, and the place cells' traces carrying the pose-derived labels (x, y, speed,
    heading; NaN where behaviour is missing, left out of training)."""
    from napari_cebra.behaviour import behaviour_labels, read_timestamps
    from napari_cebra.behaviour.layers import pose_points, pose_skeleton, video_layer
    from napari_cebra.behaviour.video import VideoFrames, check_video_matches_pose
    from napari_cebra.gui.layers import traces_layer
    from napari_cebra.synthetic.behaviour_session import (
        IMAGING_FPS,
        SHAPE,
        SKELETON,
        behaviour_sample_files,
    )

    files = behaviour_sample_files()
    labels = behaviour_labels(
        files["pose"], imaging_times=read_timestamps(files["imaging_times"], "time_s"),
        camera_times=read_timestamps(files["camera_times"], "time_s"),
        variables=("position", "speed", "heading:tail_base>nose"))
    alignment = labels.alignment
    video = VideoFrames(files["video"], alignment=alignment)
    check_video_matches_pose(video, labels.pose.n_frames, files["pose"].name)
    traces = np.load(files["traces"], allow_pickle=False)
    table = {k: v.astype(np.float32) for k, v in labels.table.items()}
    data, kwargs, kind = traces_layer(
        traces, name=TRACES_NAME, labels=table, label_kinds=dict(labels.kinds),
        fs=IMAGING_FPS, sample="behaviour", behaviour_report=labels.report)
    # the neuron grid beside the video, as tall as it
    rows, cols = data.shape[1:]
    scale = SHAPE[0] / rows
    kwargs.update(scale=(1.0, scale, scale), translate=(0.0, 0.0, SHAPE[1] + 8.0))
    layers = [video_layer(video, name=VIDEO_NAME), (data, kwargs, kind),
              pose_points(labels.pose, alignment, name="keypoints (DeepLabCut)", size=4)]
    skeleton = pose_skeleton(labels.pose, SKELETON, alignment, name="skeleton")
    return layers + ([skeleton] if skeleton else [])


def behaviour_sample() -> list[LayerData]:
    """File ▸ Open Sample ▸ Synthetic behaviour session (video + DeepLabCut + place cells)."""
    return behaviour_sample_layers()
