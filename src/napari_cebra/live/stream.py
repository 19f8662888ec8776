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


@dataclass
class StreamSummary:
    frames_in: int
    decoded: int
    skipped: int
    dropped: int
    lag_frames: int
    message: str
    latencies_ms: np.ndarray = field(repr=False)

    def latency_percentiles(self) -> dict[str, float]:
        lat = self.latencies_ms
        if lat.size == 0:
            return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
        p50, p99 = np.percentile(lat, [50, 99])
        return {"p50": float(p50), "p99": float(p99), "max": float(lat.max())}


def stream_batches(decoder: LiveDecoder, source: Iterable[np.ndarray], *,
                   interval_s: float = 0.03, stop: Callable[[], bool] | None = None,
                   max_errors: int | None = 1000
                   ) -> Generator[StreamBatch, None, StreamSummary]:
    """Decode every frame of ``source``; yield batches at most every ``interval_s``.

    ``stop()`` true ends the stream cleanly at the next frame; so does closing the generator
    (the last lag frames are then not decoded). More than ``max_errors`` refused frames in a
    row end it too (the source is sending something else).
    """
    results: list[LiveResult] = []
    errors: list[str] = []
    latencies: list[float] = []
    frames_in = decoded = skipped = in_a_row = 0
    latest = None
    message = ""
    last = time.perf_counter()

    total = getattr(source, "n_frames", None)

    def batch(done: bool = False) -> StreamBatch:
        nonlocal results, errors, last
        dropped = int(getattr(source, "dropped", 0))
        fraction = min(1.0, (frames_in + dropped) / total) if total else 0.0
        out = StreamBatch(results, frames_in, dropped, errors, latest, done, message,
                          decoder.lag_frames, fraction=1.0 if done else fraction)
        results, errors, last = [], [], time.perf_counter()
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
            try:
                result = decoder.push(frame)
            except ValueError as err:
                skipped += 1
                in_a_row += 1
                errors.append(str(err))
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
                         decoder.lag_frames, message, np.asarray(latencies, np.float64))


def live_steps(make_decoder: Callable[[], LiveDecoder], source: Iterable[np.ndarray], *,
               interval_s: float = 0.03, stop: Callable[[], bool] | None = None
               ) -> Generator[StreamBatch, None, StreamSummary]:
    """:func:`stream_batches` after building the decoder (fitting its kNN read-out embeds the
    training data: seconds, so it belongs on the worker too). The first batch says so."""
    yield StreamBatch([], 0, 0, [], None, message="fitting the kNN decoder…",
                      stage="preparing")
    decoder = make_decoder()
    return (yield from stream_batches(decoder, source, interval_s=interval_s, stop=stop))
