"""The Behaviour job's settings, declared once (form, saved JSON): which pose file, video and
clocks, how to clean the pose, which variables to derive."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from napari_cebra.settings import Settings, setting

from .pose import MAX_GAP, PCUTOFF

ALIGNMENTS = ("timestamps", "rates + offset", "sync pulses")


@dataclass
class BehaviourSettings(Settings):
    pose_file: Path | None = setting(None, help="pose file: DeepLabCut .h5/.csv, SLEAP "
                                     ".slp/.h5, Lightning Pose .csv, NWB ndx-pose")
    video: Path | None = setting(None, help="the camera's video (optional; opened lazily)")
    alignment: str = setting("timestamps", choices=ALIGNMENTS,
                             help="how camera and microscope times are matched")
    camera_times: Path | None = setting(None, help="camera timestamps: a table whose column "
                                        "'time_s' (else its first) gives one time per frame")
    imaging_times: Path | None = setting(None, help="imaging timestamps, on the camera "
                                         "timestamps' clock")
    camera_fps: float | None = setting(None, min=0.1, max=10_000.0, unit="Hz", none="from file",
                                       help="camera frame rate (rates + offset, sync pulses)")
    offset_s: float = setting(0.0, min=-3600.0, max=3600.0, unit="s", step=0.01,
                              help="imaging frame 0 happens this long after camera frame 0")
    camera_pulses: Path | None = setting(None, help="sync pulse times on the camera clock (s)")
    imaging_pulses: Path | None = setting(None, help="the same pulses on the imaging clock (s)")
    pcutoff: float = setting(PCUTOFF, min=0.0, max=1.0, step=0.05,
                             help="points with a lower tracker confidence become gaps")
    max_gap: int = setting(MAX_GAP, min=0, max=1000, unit="frames",
                           help="gaps up to this long are interpolated; longer ones stay "
                           "missing and are left out of training")
    variables: str = setting("position, speed", help="variables to derive, comma-separated: "
                             "position[:kp+kp], speed[:kp], heading:from>to, distance:a>b")
    px_per_cm: float | None = setting(None, min=0.1, max=10_000.0, step=0.1, unit="px/cm",
                                      none="pixels",
                                      help="scale: lengths in cm instead of pixels")

    def variable_list(self) -> list[str]:
        return [v.strip() for v in self.variables.split(",") if v.strip()]


def _pulses(path: Path | None, what: str):
    from .clocks import read_timestamps

    if path is None:
        raise ValueError(f"sync pulses: give the {what} pulse times file")
    return read_timestamps(path)


def behaviour_steps(settings: BehaviourSettings, *, n_frames: int, fs: float | None):
    """Load, clean, align and derive, as a job (yields :class:`Progress`; returns
    ``(BehaviourLabels, VideoFrames | None)``). The video is checked against the pose file's
    length and put on the imaging time axis."""
    from napari_cebra.progress import Progress

    from .clocks import read_timestamps
    from .labels import behaviour_labels

    s = settings
    if s.pose_file is None:
        raise ValueError("choose a pose file (DeepLabCut, SLEAP, Lightning Pose or NWB)")
    yield Progress("behaviour", 0, 3, f"reading {Path(s.pose_file).name}")
    kwargs: dict = {}
    if s.alignment == "timestamps":
        if s.imaging_times is None:
            raise ValueError("timestamps: give the imaging timestamps file (or pick 'rates + "
                             "offset')")
        kwargs["imaging_times"] = read_timestamps(s.imaging_times, _time_column(s.imaging_times))
        if s.camera_times is not None:
            kwargs["camera_times"] = read_timestamps(s.camera_times,
                                                     _time_column(s.camera_times))
    else:
        if not fs:
            raise ValueError("the traces layer has no frame rate; give the imaging timestamps")
        kwargs.update(n_frames=n_frames, fs=fs, offset=s.offset_s)
        if s.alignment == "sync pulses":
            kwargs.update(camera_pulses=_pulses(s.camera_pulses, "camera"),
                          imaging_pulses=_pulses(s.imaging_pulses, "imaging"))
    labels = behaviour_labels(s.pose_file, camera_fps=s.camera_fps,
                              variables=s.variable_list(), px_per_cm=s.px_per_cm,
                              pcutoff=s.pcutoff, max_gap=s.max_gap, **kwargs)
    if len(labels.valid) != n_frames:
        raise ValueError(f"the imaging timestamps give {len(labels.valid)} frames but the "
                         f"traces have {n_frames}")
    yield Progress("behaviour", 2, 3, "opening the video")
    video = None
    if s.video is not None:
        from .video import VideoFrames, check_video_matches_pose

        video = VideoFrames(s.video)
        check_video_matches_pose(video, labels.pose.n_frames, Path(s.pose_file).name)
        video.close()
        video = VideoFrames(s.video, alignment=labels.alignment)
    yield Progress("behaviour", 3, 3, "done")
    return labels, video


def _time_column(path: Path) -> str | None:
    """'time_s' when the table has it, else its first column."""
    from napari_cebra.imaging.labels import read_label_table

    if Path(path).suffix.lower() == ".nwb":
        return None
    return "time_s" if "time_s" in read_label_table(path) else None
