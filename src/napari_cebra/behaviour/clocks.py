"""Two clocks made one: camera frames placed on the microscope's time axis.

Three ways, the ones labs have:

- **timestamps**: per-frame times of both devices on one shared clock (a column of a table, a
  file, NWB timestamps);
- **rates + offset**: nominal frame rates and the time of the first imaging frame on the
  camera's clock (``offset`` seconds after camera frame 0);
- **TTL / sync pulses**: times of the same pulses seen by both devices; a linear map (offset +
  drift) is fitted from camera to imaging time.

Behaviour is then resampled onto imaging frames by interpolating between the two camera frames
around each imaging time; imaging frames outside the camera's coverage, in a hole where camera
frames were dropped, or next to a missing pose are *named* (mask + count), never filled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

DROP_FACTOR = 1.5  # a camera interval this many times the median is a dropped frame


@dataclass
class AlignmentReport:
    """What the alignment found (all times in seconds on the imaging clock)."""

    method: str
    offset_s: float  # imaging frame 0 minus camera frame 0
    drift_ppm: float  # camera clock rate error vs the imaging clock (0 when not measured)
    camera_fps: float
    imaging_fps: float
    coverage_percent: float  # imaging frames inside the camera's recording
    n_dropped_camera_frames: int  # detected from gaps in the camera timestamps
    n_imaging_frames: int
    n_camera_frames: int
    n_pulses: int = 0
    pulse_residual_ms: float = 0.0  # largest misfit of a sync pulse to the fitted map

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        text = (f"{self.method}: offset {self.offset_s:+.3f} s, drift {self.drift_ppm:+.0f} "
                f"ppm, camera {self.camera_fps:.3g} Hz → imaging {self.imaging_fps:.3g} Hz, "
                f"coverage {self.coverage_percent:.1f} %, "
                f"{self.n_dropped_camera_frames} dropped camera frames")
        if self.n_pulses:
            text += (f", {self.n_pulses} sync pulses (worst misfit "
                     f"{self.pulse_residual_ms:.2f} ms)")
        return text


@dataclass
class Alignment:
    """Camera frame times and imaging frame times on one (the imaging) clock."""

    camera_times: np.ndarray  # (Tc,) seconds
    imaging_times: np.ndarray  # (Ti,) seconds
    report: AlignmentReport

    def nearest_camera_frame(self, imaging_index) -> np.ndarray:
        """Camera frame nearest in time to each imaging frame; −1 outside the camera's span."""
        t = self.imaging_times[np.asarray(imaging_index)]
        ct = self.camera_times
        j = np.clip(np.searchsorted(ct, t), 1, len(ct) - 1)
        j = np.where(np.abs(ct[j - 1] - t) <= np.abs(ct[j] - t), j - 1, j)
        half = 0.5 * _median_step(ct)
        outside = (t < ct[0] - half) | (t > ct[-1] + half)
        return np.where(outside, -1, j)


def _median_step(t: np.ndarray) -> float:
    return float(np.median(np.diff(t))) if len(t) > 1 else 0.0


def _check_times(name: str, t, n: int | None = None) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64).ravel()
    if n is not None and len(t) != n:
        raise ValueError(f"{name}: {len(t)} timestamps for {n} frames; give one time per frame")
    if len(t) < 2:
        raise ValueError(f"{name}: need at least 2 timestamps, got {len(t)}")
    if not np.isfinite(t).all():
        raise ValueError(f"{name}: timestamp {int(np.flatnonzero(~np.isfinite(t))[0])} is "
                         "NaN/infinite")
    bad = np.flatnonzero(np.diff(t) <= 0)
    if bad.size:
        raise ValueError(f"{name}: timestamps must increase; {bad[0] + 1} ({t[bad[0] + 1]:.6g} "
                         f"s) is not after {bad[0]} ({t[bad[0]]:.6g} s)")
    return t


def _dropped(t: np.ndarray, fps: float | None = None) -> int:
    """Camera frames missing from the timestamps (gaps over DROP_FACTOR × the frame step)."""
    step = 1.0 / fps if fps else _median_step(t)
    gaps = np.diff(t) / step
    return int(np.sum(np.round(gaps[gaps > DROP_FACTOR]) - 1))


def _coverage(camera: np.ndarray, imaging: np.ndarray) -> float:
    half = 0.5 * _median_step(camera)
    inside = (imaging >= camera[0] - half) & (imaging <= camera[-1] + half)
    return 100.0 * float(inside.mean())


def align_clocks(n_camera: int, n_imaging: int | None = None, *,
                 camera_times=None, imaging_times=None,
                 camera_fps: float | None = None, imaging_fps: float | None = None,
                 offset: float = 0.0,
                 camera_pulses=None, imaging_pulses=None) -> Alignment:
    """Place ``n_camera`` camera frames on the imaging clock.

    Give either both ``camera_times`` and ``imaging_times`` (shared clock), or rates
    (``camera_fps``/``imaging_fps`` or times) and ``offset`` (s; imaging frame 0 happens
    ``offset`` s after camera frame 0), or ``camera_pulses``/``imaging_pulses``: the same sync
    pulses' times on each device's clock (s), from which offset and drift are fitted.
    """
    shared_clock = camera_times is not None and imaging_times is not None
    if imaging_times is None:
        if n_imaging is None or imaging_fps is None:
            raise ValueError("alignment: give the imaging frame times, or the number of "
                             "imaging frames and their rate (Hz)")
        if not (np.isfinite(imaging_fps) and imaging_fps > 0):
            raise ValueError(f"alignment: imaging rate must be > 0 Hz, got {imaging_fps}")
        imaging_times = np.arange(int(n_imaging)) / float(imaging_fps)
    imaging = _check_times("imaging times", imaging_times, n_imaging)
    if camera_fps is not None and not (np.isfinite(camera_fps) and camera_fps > 0):
        raise ValueError(f"alignment: camera rate must be > 0 Hz, got {camera_fps}")
    own = (_check_times("camera times", camera_times, n_camera) if camera_times is not None
           else None)
    if own is None and camera_fps is None:
        raise ValueError("alignment: give the camera's frame times or its rate (fps)")
    if own is None:
        own = np.arange(int(n_camera)) / float(camera_fps)
    n_pulses, residual, drift = 0, 0.0, 0.0
    if (camera_pulses is None) != (imaging_pulses is None):
        raise ValueError("alignment: sync pulses are needed from both devices (camera and "
                         "imaging)")
    if camera_pulses is not None:
        cp = _check_times("camera sync pulses", camera_pulses)
        ip = _check_times("imaging sync pulses", imaging_pulses)
        if len(cp) != len(ip):
            raise ValueError(f"alignment: {len(cp)} camera sync pulses but {len(ip)} imaging "
                             "ones; give the pulses both devices saw (trim missed ones)")
        slope, intercept = np.polyfit(cp, ip, 1)
        camera = slope * own + intercept
        residual = float(np.max(np.abs(slope * cp + intercept - ip))) * 1e3
        drift, n_pulses, method = (slope - 1.0) * 1e6, len(cp), "sync pulses"
    elif shared_clock and offset == 0.0:
        camera, method = own, "timestamps"
    else:
        # rates + offset: camera frame 0 at −offset on the imaging clock
        camera, method = own - float(offset), "rates + offset"
    report = AlignmentReport(
        method=method, offset_s=float(imaging[0] - camera[0]), drift_ppm=float(drift),
        camera_fps=float(camera_fps or 1.0 / _median_step(camera)),
        imaging_fps=float(imaging_fps or 1.0 / _median_step(imaging)),
        coverage_percent=_coverage(camera, imaging),
        n_dropped_camera_frames=_dropped(own, camera_fps),
        n_imaging_frames=len(imaging), n_camera_frames=int(n_camera),
        n_pulses=n_pulses, pulse_residual_ms=residual)
    return Alignment(camera_times=camera, imaging_times=imaging, report=report)


def resample(values: np.ndarray, alignment: Alignment, *, circular: bool = False,
             max_gap_s: float | None = None) -> np.ndarray:
    """``values`` (Tc,) on camera frames → (Ti,) on imaging frames, NaN where missing.

    Linear between the two camera frames around each imaging time; NaN outside the camera's
    span, when either neighbour is NaN, or when the two neighbours are more than ``max_gap_s``
    apart (dropped camera frames; default 2.5 camera frame steps). Angles (``circular``)
    are interpolated on the unit circle.
    """
    ct, it = alignment.camera_times, alignment.imaging_times
    values = np.asarray(values, dtype=np.float64)
    if len(values) != len(ct):
        raise ValueError(f"resample: {len(values)} values for {len(ct)} camera frames")
    if max_gap_s is None:
        max_gap_s = 2.5 * _median_step(ct)
    j = np.clip(np.searchsorted(ct, it, side="right"), 1, len(ct) - 1)
    t0, t1 = ct[j - 1], ct[j]
    w = np.clip((it - t0) / (t1 - t0), 0.0, 1.0)
    half = 0.5 * _median_step(ct)
    # within half a frame beyond either end, the end frame itself stands
    w = np.where(it < ct[0], 0.0, np.where(it > ct[-1], 1.0, w))
    v0, v1 = values[j - 1], values[j]
    if circular:
        z = (1 - w) * np.exp(1j * v0) + w * np.exp(1j * v1)
        out = np.angle(z)
    else:
        out = (1 - w) * v0 + w * v1
    bad = ~np.isfinite(v0) & (w < 1) | ~np.isfinite(v1) & (w > 0)
    bad |= (t1 - t0) > max_gap_s
    bad |= (it < ct[0] - half) | (it > ct[-1] + half)
    out = np.where(bad, np.nan, out)
    return out


def read_timestamps(path: str | Path, column: str | None = None) -> np.ndarray:
    """Per-frame times (s) from a table (.csv/.tsv/.txt/.npy column; first column unless
    ``column`` names one) or from an NWB file (the first series with timestamps: pose
    estimation, two-photon, any ``column``-named series)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such timestamps file")
    if path.suffix.lower() == ".nwb":
        return _nwb_timestamps(path, column)
    from napari_cebra.imaging.labels import read_label_table

    table = read_label_table(path)
    if column is None:
        column = next(iter(table))
    if column not in table:
        raise ValueError(f"{path}: no column {column!r}; columns are {list(table)}")
    values = table[column]
    if values.dtype == object:
        raise ValueError(f"{path}: column {column!r} is not numbers (seconds)")
    return _check_times(f"{path.name} column {column!r}", values)


def _nwb_timestamps(path: Path, name: str | None) -> np.ndarray:
    import h5py

    found: list[tuple[str, np.ndarray]] = []
    with h5py.File(path, "r") as f:
        def visit(key, obj):
            if isinstance(obj, h5py.Group) and "timestamps" in obj:
                found.append((key, obj["timestamps"][()]))
            elif isinstance(obj, h5py.Group) and "starting_time" in obj and "data" in obj:
                rate = obj["starting_time"].attrs.get("rate")
                if rate:
                    start = float(obj["starting_time"][()])
                    found.append((key, start + np.arange(obj["data"].shape[0]) / rate))
        f.visititems(visit)
    if name is not None:
        found = [(k, t) for k, t in found if k.split("/")[-1] == name or k == name]
    if not found:
        raise ValueError(f"{path}: no time series with timestamps"
                         + (f" named {name!r}" if name else ""))
    key, t = found[0]
    return _check_times(f"{path.name} {key}", t)
