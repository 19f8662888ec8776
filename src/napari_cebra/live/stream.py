"""Drive a live decoder from a source, in batches a UI (or a CSV writer) can keep up with.

:func:`stream_batches` pushes every frame of a source through a :class:`LiveDecoder` and yields
a :class:`StreamBatch` at most every ``interval_s`` (and once at the end). A bad frame is
reported in the batch and skipped; the stream goes on. When the source ends — or fails, or is
stopped — the decoder's last ``lag`` time points are decoded (the end padded as ``transform``
pads it) and the generator returns a :class:`StreamSummary`: everything decoded so far is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field

import numpy as np

from .decoder import LiveDecoder, LiveResult


@dataclass
class StreamBatch:
    """What happened since the previous batch."""

    results: list[LiveResult]
    frames_in: int  # frames taken from the source so far
    dropped: int  # frames the source skipped because decoding fell behind, so far
    errors: list[str]  # frames refused in this batch, one message each
    latest: np.ndarray | None  # the newest frame taken (for display)
    done: bool = False
    message: str = ""  # at the end: why the stream ended
    lag_frames: int = 0  # the decoder's lag (frames the window reaches ahead)
    stage: str = "live decoding"
    fraction: float = 0.0  # of a recording being replayed (0 for an open-ended stream)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (source frame, why)


@dataclass
class StreamSummary:
    frames_in: int
    decoded: int
    skipped: int
    dropped: int
    lag_frames: int
    message: str
    latencies_ms: np.ndarray = field(repr=False)
    failed: bool = False  # the source never worked (e.g. a followed file never appeared)

    def latency_percentiles(self) -> dict[str, float]:
        lat = self.latencies_ms
        if lat.size == 0:
            return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
        p50, p99 = np.percentile(lat, [50, 99])
        return {"p50": float(p50), "p99": float(p99), "max": float(lat.max())}


def check_frame_shape(decoder: LiveDecoder, shape, source_name: str = "the source") -> None:
    """One clear error, before streaming, when the source's frames are not what the decoder
    takes (instead of one error per frame)."""
    shape = tuple(int(n) for n in shape)
    if shape != tuple(decoder.frame_shape):
        what = "raw frames" if decoder.frontend is not None else "traces"
        raise ValueError(
            f"{source_name}: its frames have shape {shape}, but this decoder takes {what} of "
            f"shape {tuple(decoder.frame_shape)}; "
            + ("give the raw movie of the session the ROIs came from." if decoder.frontend
               is not None else "give (time, neurons) traces of the neurons the model was "
               "trained on, or raw frames with their suite2p ROIs (--rois).")
        )


def stream_batches(decoder: LiveDecoder, source: Iterable[np.ndarray], *,
                   interval_s: float = 0.03, stop: Callable[[], bool] | None = None,
                   max_errors: int | None = 1000
                   ) -> Generator[StreamBatch, None, StreamSummary]:
    """Decode every frame of ``source``; yield batches at most every ``interval_s``.

    ``stop()`` true ends the stream cleanly at the next frame; so does closing the generator
    (the last lag frames are then not decoded). More than ``max_errors`` refused frames in a
    row end it too (the source is sending something else).
    """
    known = getattr(source, "frame_shape", None)
    if known is not None:  # known before streaming: checked once
        check_frame_shape(decoder, known, str(getattr(source, "name", "the source")))
    results: list[LiveResult] = []
    errors: list[str] = []
    skipped_frames: list[tuple[int, str]] = []
    latencies: list[float] = []
    frames_in = decoded = skipped = in_a_row = 0
    latest = None
    message = ""
    last = time.perf_counter()

    total = getattr(source, "n_frames", None)

    def from_source() -> None:
        """Frames the source itself could not read (a damaged file), and why."""
        take = getattr(source, "take_skipped", None)
        if take is not None:
            skipped_frames.extend(take())
        damaged = getattr(source, "take_damaged", None)
        if damaged is not None:
            errors.extend(damaged())

    def batch(done: bool = False) -> StreamBatch:
        nonlocal results, errors, skipped_frames, last
        from_source()
        dropped = int(getattr(source, "dropped", 0))
        fraction = min(1.0, (frames_in + dropped) / total) if total else 0.0
        out = StreamBatch(results, frames_in, dropped, errors, latest, done, message,
                          decoder.lag_frames, fraction=1.0 if done else fraction,
                          skipped=skipped_frames)
        results, errors, skipped_frames, last = [], [], [], time.perf_counter()
        return out

    iterator = iter(source)
    try:
        while True:
            if stop is not None and stop():
                message = f"stopped after {frames_in} frames."
                break
            try:
                frame = next(iterator)
            except StopIteration:
                message = getattr(source, "end_message", "") or (
                    f"the source ended after {frames_in} frames.")
                break
            except (OSError, ValueError, RuntimeError) as err:
                message = f"the source failed after {frames_in} frames: {err}"
                break
            frames_in += 1
            latest = frame
            position = int(getattr(source, "position", -1))
            number = position if position >= 0 else frames_in - 1
            if frames_in == 1 and known is None and np.shape(frame) != tuple(
                    decoder.frame_shape):  # the first frame tells the shape: checked once
                shape_error = f"frame {number} has shape {np.shape(frame)}"
                message = (f"{shape_error}, but this decoder takes frames of shape "
                           f"{tuple(decoder.frame_shape)}; stopped (every frame of this source "
                           "would be refused).")
                skipped += 1
                skipped_frames.append((number, "wrong frame shape"))
                break
            try:
                result = decoder.push(frame, number)
            except ValueError as err:
                skipped += 1
                in_a_row += 1
                errors.append(str(err))
                skipped_frames.append((number, _reason(err)))
                if max_errors is not None and in_a_row > max_errors:
                    message = (f"{in_a_row} frames in a row could not be decoded; stopped. "
                               f"Last: {err}")
                    break
            else:
                in_a_row = 0
                if result is not None:
                    results.append(result)
                    latencies.append(result.latency_ms)
                    decoded += 1
            if time.perf_counter() - last >= interval_s:
                yield batch()
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    for result in decoder.finish():  # the end of the recording: decode what the lag held back
        results.append(result)
        decoded += 1
    yield batch(done=True)
    return StreamSummary(frames_in, decoded, skipped, int(getattr(source, "dropped", 0)),
                         decoder.lag_frames, message, np.asarray(latencies, np.float64),
                         failed=bool(getattr(source, "failed", False)))


def _reason(err: ValueError) -> str:
    """A refused frame's reason, short enough for one CSV cell."""
    text = str(err)
    for key, reason in (("NaN", "NaN or infinite values"), ("shape", "wrong frame shape"),
                        ("not numbers", "not numbers")):
        if key in text:
            return reason
    return text.split(";")[0]


def live_steps(make_decoder: Callable[[], LiveDecoder], source: Iterable[np.ndarray], *,
               interval_s: float = 0.03, stop: Callable[[], bool] | None = None
               ) -> Generator[StreamBatch, None, StreamSummary]:
    """:func:`stream_batches` after building the decoder (fitting its kNN read-out embeds the
    training data: seconds, so it belongs on the worker too). The first batch says so."""
    yield StreamBatch([], 0, 0, [], None, message="fitting the kNN decoder…",
                      stage="preparing")
    decoder = make_decoder()
    return (yield from stream_batches(decoder, source, interval_s=interval_s, stop=stop))
