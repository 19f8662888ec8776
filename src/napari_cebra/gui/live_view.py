"""The Live widget's result view: the incoming and decoded frames as layers, the decoded value,
a rolling plot of decoded vs true and a latency histogram (painted directly: cheap enough to
redraw ten times a second while a stream runs), and the counts beside the lag."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
from qtpy.QtCore import QPointF
from qtpy.QtGui import QColor, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from napari_cebra.gui.layers import layer_named

REDRAW_S = 0.1  # images and plots are redrawn at most this often
INCOMING, DECODED = "live: incoming frame", "live: decoded frame"


class RollingPlot(QWidget):
    """Decoded (orange) vs true (grey) over the last ``span`` frames, painted directly."""

    def __init__(self, span: int = 300, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.decoded: deque = deque(maxlen=span)
        self.true: deque = deque(maxlen=span)
        self.setMinimumHeight(110)

    def clear(self) -> None:
        self.decoded.clear()
        self.true.clear()
        self.update()

    def add(self, decoded: float, true: float | None) -> None:
        self.decoded.append(decoded)
        self.true.append(np.nan if true is None else true)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(38, 41, 48))
        values = np.array([*self.decoded, *self.true], float)
        values = values[np.isfinite(values)]
        if values.size:
            lo, hi = float(values.min()), float(values.max())
            hi = hi if hi > lo else lo + 1.0
            w, h, n = self.width(), self.height(), self.decoded.maxlen
            for series, color in ((self.true, QColor(170, 170, 170)),
                                  (self.decoded, QColor(255, 150, 40))):
                points = [QPointF(w * i / max(n - 1, 1), h - 4 - (h - 8) * (v - lo) / (hi - lo))
                          for i, v in enumerate(series) if np.isfinite(v)]
                if len(points) > 1:
                    painter.setPen(QPen(color, 1.5))
                    painter.drawPolyline(QPolygonF(points))
        painter.end()


class LatencyHistogram(QWidget):
    """Compute latency per frame: 40 bins from 0 to ``top_ms``, the last one for slower."""

    def __init__(self, top_ms: float = 2.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.top_ms = top_ms
        self.counts = np.zeros(40, np.int64)
        self.setMinimumHeight(60)

    def clear(self) -> None:
        self.counts[:] = 0
        self.update()

    def add(self, latencies_ms) -> None:
        bins = np.minimum((np.asarray(latencies_ms) / self.top_ms * 39).astype(int), 39)
        self.counts += np.bincount(np.maximum(bins, 0), minlength=40)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(38, 41, 48))
        top = self.counts.max()
        if top:
            w, h = self.width() / len(self.counts), self.height() - 2
            for i, c in enumerate(self.counts):
                color = QColor(230, 80, 80) if i == len(self.counts) - 1 else QColor(90, 160, 230)
                bar = h * c / top
                painter.fillRect(int(i * w), int(h - bar), max(int(w) - 1, 1), int(bar), color)
        painter.setPen(QColor(200, 200, 200))
        painter.drawText(4, 12, f"0 … {self.top_ms:g} ms (last bar: slower)")
        painter.end()


class LiveView(QWidget):
    """What a stream decoded so far; fed batches on the UI thread, redrawn at most every
    ``REDRAW_S``."""

    def __init__(self, viewer: Any, status: Callable[[str], Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer, self.status = viewer, status
        self.job = self.summary = None
        self.decoded: list[tuple[int, np.ndarray]] = []  # (frame, value) in arrival order
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.frames_in = self.dropped = self.skipped = self.lag_frames = 0
        self._last_draw = 0.0
        self._pending_frame = self._pending_value = None
        self.value_label = QLabel("—")
        self.value_label.setStyleSheet("font-size: 18px; font-weight: bold;")
        self.stats_label = QLabel("")
        self.stats_label.setWordWrap(True)
        self.plot = RollingPlot()
        self.histogram = LatencyHistogram()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for part in (QLabel("decoded"), self.value_label,
                     QLabel("decoded (orange) vs true (grey)"), self.plot,
                     QLabel("latency per frame"), self.histogram, self.stats_label):
            layout.addWidget(part)

    def prepare_layers(self, job) -> None:
        """Create the display layers now (the first layer of a viewer takes half a second to
        set up): while streaming, only their data changes."""
        from napari_cebra.gui.layers import grid_shape

        shape = None
        if hasattr(job.source, "stack"):
            shape = tuple(job.source.stack.shape[1:])
            shape = grid_shape(shape[0]) if len(shape) == 1 else shape
        if shape is not None:
            self._show_image(INCOMING, np.zeros(shape, np.float32))
        if job.movie is not None:
            self._show_image(DECODED, np.zeros(job.movie.shape[1:], np.float32))

    def reset(self, job) -> None:
        self.job = job
        self.decoded, self.latencies, self.errors = [], [], []
        self.frames_in = self.dropped = self.skipped = 0
        self.summary = None
        self.plot.clear()
        self.histogram.clear()
        self.value_label.setText("—")

    # -- results (UI thread) ----------------------------------------------------------------
    def on_batches(self, batches: list) -> None:
        job = self.job
        for batch in batches:
            if batch.stage == "preparing":
                self.status(batch.message)
                continue
            self.frames_in, self.dropped, self.lag_frames = (batch.frames_in, batch.dropped,
                                                             batch.lag_frames)
            self.skipped += len(batch.errors)
            self.errors.extend(batch.errors)
            lat = [r.latency_ms for r in batch.results if r.latency_ms > 0]
            self.latencies.extend(lat)
            self.histogram.add(lat)
            for r in batch.results:
                self.decoded.append((r.frame, r.value))
                true = None
                if job is not None and job.truth is not None and r.frame < len(job.truth):
                    true = float(job.truth[r.frame])
                self.plot.add(float(r.value[0]) if r.value.dtype.kind in "biuf" else np.nan,
                              true)
            if batch.latest is not None:
                self._pending_frame = batch.latest
            if batch.results:
                self._pending_value = batch.results[-1].value
            if batch.errors:
                self.status(batch.errors[-1])
        now = time.perf_counter()
        if now - self._last_draw >= REDRAW_S:
            self._last_draw = now
            self._redraw()

    def _redraw(self) -> None:
        job = self.job
        if self._pending_frame is not None and job is not None:
            frame = np.asarray(self._pending_frame)
            if frame.ndim == 1:
                from napari_cebra.gui.layers import neuron_grid_movie

                frame = neuron_grid_movie(frame[None])[0]
            self._show_image(INCOMING, frame)
            self._pending_frame = None
        if self._pending_value is not None and job is not None:
            value = self._pending_value
            text = ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in
                             value.tolist())
            self.value_label.setText(f"{job.label}: {text}")
            if job.movie is not None:
                index = int(value[0])
                if 0 <= index < len(job.movie):
                    self._show_image(DECODED, np.asarray(job.movie[index]))
            self._pending_value = None
        self.plot.update()
        self.histogram.update()
        self.stats_label.setText(self.stats_text())

    def _show_image(self, name: str, frame: np.ndarray) -> None:
        layer = layer_named(self.viewer, name)
        if layer is None or layer.data.shape != frame.shape:
            if layer is not None:
                self.viewer.layers.remove(layer)
            self.viewer.add_image(frame, name=name)
        else:
            layer.data = frame

    def stats_text(self) -> str:
        lag = self.lag_frames
        fs = self.job.fs if self.job is not None else None
        lag_ms = f" = {1e3 * lag / fs:.0f} ms at {fs:g} Hz" if fs and lag else ""
        text = (f"frames in {self.frames_in} · decoded {len(self.decoded)} · dropped "
                f"{self.dropped} · skipped {self.skipped} · lag {lag} frames{lag_ms}")
        if self.latencies:
            p50, p99 = np.percentile(self.latencies, [50, 99])
            text += (f" · latency p50 {p50:.2f} ms, p99 {p99:.2f} ms, max "
                     f"{max(self.latencies):.2f} ms")
        return text

    def on_summary(self, summary) -> None:
        self.summary = summary
        self._redraw()
        self.status(f"{summary.message} Decoded {summary.decoded} frames.")
