"""The behaviour video, lazily: only the frames looked at are decoded (PyAV).

:class:`VideoFrames` is an array-like (``shape``, ``dtype``, ``ndim``, ``__getitem__``) that
napari takes as an Image layer's data. A frame is found by seeking to the keyframe before it
and decoding forward; a small LRU cache keeps the last frames, so scrubbing a one-hour video
holds a handful of frames in memory, never the video. Given an :class:`Alignment`, index ``i``
is imaging frame ``i`` and shows the camera frame nearest to its time (black outside the
camera's recording), so the video shares the imaging stack's time axis.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg")
CACHE_FRAMES = 32
FORWARD_DECODE = 48  # decode forward rather than seek when the target is this close ahead


class VideoFrames:
    """A video file as a lazy (T, H, W, 3) uint8 array; T is imaging frames when aligned."""

    def __init__(self, path: str | Path, *, alignment=None, cache_frames: int = CACHE_FRAMES,
                 gray: bool = False) -> None:
        import av

        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no such video file")
        try:
            self._container = av.open(str(self.path))
            self._stream = self._container.streams.video[0]
        except (av.error.FFmpegError, IndexError) as err:
            raise ValueError(f"{self.path}: not a video PyAV can read ({err})") from err
        self._stream.thread_type = "AUTO"
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate else None
        if not self.fps:
            raise ValueError(f"{self.path}: the video gives no frame rate")
        self._time_base = float(self._stream.time_base)
        self._start = self._stream.start_time or 0
        self.n_camera_frames = int(self._stream.frames) or self._count_frames()
        self.height = int(self._stream.codec_context.height)
        self.width = int(self._stream.codec_context.width)
        self.gray = gray
        self.alignment = alignment
        self._index_map = None
        if alignment is not None:
            if len(alignment.camera_times) != self.n_camera_frames:
                raise ValueError(
                    f"{self.path}: the video has {self.n_camera_frames} frames but the "
                    f"alignment has {len(alignment.camera_times)} camera frames")
            self._index_map = alignment.nearest_camera_frame(
                np.arange(len(alignment.imaging_times)))
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_frames = max(1, int(cache_frames))
        self._lock = threading.Lock()
        self._decoder = None  # the running frame iterator after the last decode
        self._last = -2  # camera index of the last decoded frame
        self.n_decoded = 0  # frames decoded so far (a measure of the laziness)

    # -- array-like -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        n = len(self._index_map) if self._index_map is not None else self.n_camera_frames
        return (n, self.height, self.width) if self.gray else (n, self.height, self.width, 3)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"{self.path.name}: a lazy video ({self.shape[0]} frames) is not read "
                        "whole into memory; index the frames you need")

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            key = (key,)
        first, rest = key[0], key[1:]
        if isinstance(first, (int, np.integer)):
            return self.frame(int(first))[rest] if rest else self.frame(int(first))
        indices = np.arange(self.shape[0])[first]
        frames = np.stack([self.frame(int(i)) for i in np.atleast_1d(indices)]) if np.size(
            indices) else np.zeros((0, *self.shape[1:]), np.uint8)
        return frames[(slice(None), *rest)] if rest else frames

    # -- frames -----------------------------------------------------------------------------
    def camera_index(self, index: int) -> int:
        """The camera frame shown at ``index`` (−1: no camera frame at that time)."""
        n = self.shape[0]
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"{self.path.name}: frame {index} is outside 0–{n - 1}")
        return int(self._index_map[index]) if self._index_map is not None else index

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as (H, W, 3) (or (H, W) when ``gray``) uint8."""
        cam = self.camera_index(index)
        if cam < 0:
            return np.zeros(self.shape[1:], np.uint8)
        with self._lock:
            if cam in self._cache:
                self._cache.move_to_end(cam)
                return self._cache[cam]
            image = self._decode(cam)
            self._cache[cam] = image
            while len(self._cache) > self._cache_frames:
                self._cache.popitem(last=False)
            return image

    def _index_of(self, frame) -> int:
        t = (frame.pts - self._start) * self._time_base if frame.pts is not None else frame.time
        return int(round(t * self.fps))

    def _decode(self, target: int) -> np.ndarray:
        if not (self._decoder is not None and self._last < target <= self._last + FORWARD_DECODE):
            pts = int(round(target / self.fps / self._time_base)) + self._start
            self._container.seek(pts, backward=True, any_frame=False, stream=self._stream)
            self._decoder = self._container.decode(self._stream)
        fmt = "gray" if self.gray else "rgb24"
        for frame in self._decoder:
            self.n_decoded += 1
            i = self._index_of(frame)
            self._last = i
            if i >= target:
                return frame.to_ndarray(format=fmt)
        self._decoder = None
        raise IndexError(f"{self.path.name}: camera frame {target} could not be decoded (the "
                         f"video ends before it)")

    def _count_frames(self) -> int:
        n = sum(1 for p in self._container.demux(self._stream) if p.size)
        self._container.seek(0)
        return n

    def close(self) -> None:
        self._container.close()
        self._cache.clear()


def check_video_matches_pose(video: VideoFrames, n_pose_frames: int,
                             pose_name: str = "the pose file") -> None:
    """Refuse a video whose frame count contradicts its pose file, naming both counts."""
    if video.n_camera_frames != int(n_pose_frames):
        raise ValueError(
            f"{video.path.name} has {video.n_camera_frames} frames but {pose_name} has "
            f"{n_pose_frames} rows; they are not the same recording (or one was cut) — give "
            "the video the pose file was tracked on")


def write_video(path: str | Path, frames, fps: float, *, codec: str = "libx264",
                crf: int = 23, gop: int = 30, overwrite: bool = False) -> Path:
    """Encode (T, H, W, 3) uint8 frames (any iterable of them) into a video with PyAV,
    written whole or not at all."""
    import av

    from napari_cebra.files import atomic_path

    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        container = av.open(str(tmp), mode="w", format=path.suffix.lstrip(".") or None)
        try:
            stream = None
            for image in frames:
                image = np.ascontiguousarray(image, dtype=np.uint8)
                if stream is None:
                    from fractions import Fraction

                    stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(
                        1000))
                    stream.height, stream.width = image.shape[:2]
                    stream.pix_fmt = "yuv420p"
                    stream.options = {"crf": str(crf), "g": str(gop)} if "264" in codec else {
                        "g": str(gop)}
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            if stream is not None:
                for packet in stream.encode():
                    container.mux(packet)
        finally:
            container.close()
    return path
