"""Live decode: a trained model decodes every frame of a stream as it arrives.

Pick the model (the Train widget's, or a file), the traces layer and label its kNN decoder is
fitted on, and a source: a layer replayed (at its frame rate or as fast as possible), or a TIFF
file or folder followed while an acquisition program writes it. Raw frames need the session's
suite2p plane folder (ROI and neuropil masks). The stream runs on a worker
(:func:`napari_cebra.live.live_steps`); results reach the UI in batches at most every 30 ms, and
only cheap things are redrawn: the incoming frame, the decoded frame (or value), a rolling plot
of decoded vs true, a latency histogram, and the counts (decoded, dropped, skipped) beside the
lag.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import QPointF
from qtpy.QtGui import QColor, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_cebra.contracts import has_traces, label_columns_of, traces_of
from napari_cebra.gui import registry
from napari_cebra.gui.combos import follow_layers, refill, refill_layers
from napari_cebra.gui.jobs import JobRunner, RunsJobs
from napari_cebra.gui.model_source import (
    FROM_FILE,
    FROM_TRAIN_WIDGET,
    ask_model_file,
    checked_model_file,
    train_widget_model,
)
from napari_cebra.live.sources import Replay

if TYPE_CHECKING:
    import napari

SOURCE_LAYER = "a layer (replay)"
SOURCE_PATH = "a file or folder (follow)"
NO_MOVIE = "(none)"
UI_INTERVAL_S = 0.03  # results reach the UI at most this often
REDRAW_S = 0.1  # images and plots are redrawn at most this often
INCOMING, DECODED = "live: incoming frame", "live: decoded frame"


@dataclass
class LiveJob:
    """What a run needs, read from the widget on the UI thread."""

    model: Any  # a trained CEBRA, or the Path of a model file (loaded on the worker)
    fit_traces: np.ndarray
    fit_labels: np.ndarray
    label: str
    discrete: bool
    k: int
    source: Any  # napari_cebra.live.sources.Source
    rois: Path | None
    fs: float | None
    truth: np.ndarray | None  # true labels of the source's frames, when known
    movie: np.ndarray | None  # frames shown by decoded frame id
    raw: bool


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


class LiveWidget(RunsJobs, QWidget):
    """Decode a stream frame by frame with a trained model; Start / Stop."""

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        registry.register(napari_viewer, "live", self)
        self._model_path: Path | None = None
        self._stop = threading.Event()
        self.job: LiveJob | None = None
        self.summary = None
        self.decoded: list[tuple[int, np.ndarray]] = []  # (frame, value) in arrival order
        self.latencies: list[float] = []
        self.frames_in = self.dropped = self.skipped = 0
        self.lag_frames = 0
        self.errors: list[str] = []
        self._last_draw = 0.0
        self._pending_frame = None
        self._pending_value = None
        self._make_widgets()
        self._lay_out()
        self.jobs = JobRunner(on_busy=self._set_busy, status=self.status.setText,
                              interval=UI_INTERVAL_S)
        follow_layers(napari_viewer, self.refresh_layers)
        self.refresh_layers()

    # -- widgets ----------------------------------------------------------------------------
    def _make_widgets(self) -> None:
        self.model_box = QComboBox()
        self.model_box.addItems([FROM_TRAIN_WIDGET, FROM_FILE])
        self.model_box.textActivated.connect(self._on_model_choice)
        self.fit_box = QComboBox()
        self.fit_box.setToolTip("the traces the kNN decoder is fitted on (the model's "
                                "embedding of them, with the label below)")
        self.fit_box.currentTextChanged.connect(self._fill_labels)
        self.label_box = QComboBox()
        self.k_spin = QSpinBox()
        self.k_spin.setRange(1, 10_000)
        self.k_spin.setValue(24)
        self.source_kind = QComboBox()
        self.source_kind.addItems([SOURCE_LAYER, SOURCE_PATH])
        self.source_box = QComboBox()
        self.source_box.currentTextChanged.connect(self._on_source_layer)
        self.source_path = QLineEdit()
        self.source_path.setPlaceholderText("growing TIFF file or folder")
        self.rois_path = QLineEdit()
        self.rois_path.setPlaceholderText("suite2p plane folder (raw frames only)")
        self.realtime_check = QCheckBox("at its frame rate")
        self.fs_spin = QDoubleSpinBox()
        self.fs_spin.setRange(0.1, 10_000.0)
        self.fs_spin.setValue(30.0)
        self.fs_spin.setSuffix(" Hz")
        self.movie_box = QComboBox()
        self.movie_box.setToolTip("show the movie frame whose id is decoded (discrete frame-id "
                                  "labels)")
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.value_label = QLabel("—")
        self.value_label.setStyleSheet("font-size: 18px; font-weight: bold;")
        self.stats_label = QLabel("")
        self.stats_label.setWordWrap(True)
        self.plot = RollingPlot()
        self.histogram = LatencyHistogram()
        self.status = QLabel("")
        self.status.setWordWrap(True)

    def _lay_out(self) -> None:
        form = QFormLayout()
        form.addRow("model", self.model_box)
        form.addRow("fit kNN on", self.fit_box)
        form.addRow("label", self.label_box)
        form.addRow("k", self.k_spin)
        form.addRow("source", self.source_kind)
        form.addRow("layer", self.source_box)
        form.addRow("file / folder", self._with_browse(self.source_path, folder=True))
        form.addRow("ROIs", self._with_browse(self.rois_path, folder=True))
        rate = QHBoxLayout()
        rate.addWidget(self.realtime_check)
        rate.addWidget(self.fs_spin)
        form.addRow("replay", rate)
        form.addRow("movie", self.movie_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("decoded"))
        layout.addWidget(self.value_label)
        layout.addWidget(QLabel("decoded (orange) vs true (grey)"))
        layout.addWidget(self.plot)
        layout.addWidget(QLabel("latency per frame"))
        layout.addWidget(self.histogram)
        layout.addWidget(self.stats_label)
        layout.addWidget(self.status)
        layout.addStretch(1)

    def _with_browse(self, edit: QLineEdit, folder: bool) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit)
        button = QPushButton("…")
        button.setMaximumWidth(28)

        def browse():
            path = QFileDialog.getExistingDirectory(self, "Folder") if folder else \
                QFileDialog.getOpenFileName(self, "File")[0]
            if path:
                edit.setText(path)

        button.clicked.connect(browse)
        row.addWidget(button)
        return box

    # -- layers -----------------------------------------------------------------------------
    def _layer(self, name: str):
        layers = self.viewer.layers
        return layers[name] if name in layers else None  # noqa: SIM401 - LayerList has no .get

    def refresh_layers(self, event=None) -> None:
        ours = (INCOMING, DECODED)
        layers = [layer for layer in self.viewer.layers if layer.name not in ours]
        traces = [layer for layer in layers if has_traces(layer)]
        refill_layers(self.fit_box, traces)
        stacks = [layer for layer in layers if getattr(layer, "ndim", 0) >= 2]
        refill_layers(self.source_box, stacks, prefer=self.fit_box.currentText())
        images = [layer for layer in layers if layer.__class__.__name__ == "Image"
                  and not has_traces(layer) and layer.data.ndim == 3]
        refill(self.movie_box, [NO_MOVIE, *(layer.name for layer in images)])
        self._fill_labels()
        self._on_source_layer()

    def _fill_labels(self, *_) -> None:
        layer = self._layer(self.fit_box.currentText())
        meta = traces_of(layer.metadata) if layer is not None else None
        names = list(label_columns_of(meta)) if meta else []
        refill(self.label_box, names)

    def _on_source_layer(self, *_) -> None:
        layer = self._layer(self.source_box.currentText())
        meta = traces_of(layer.metadata) if layer is not None else None
        if meta and meta.get("fs"):
            self.fs_spin.setValue(float(meta["fs"]))

    def _on_model_choice(self, text: str) -> None:
        if text == FROM_FILE:
            path = ask_model_file(self)
            if path:
                self._model_path = path
            else:
                self.model_box.setCurrentText(FROM_TRAIN_WIDGET)

    def set_model_file(self, path: str | Path) -> None:
        """Decode with a saved model (the "Model file…" choice, without a dialog)."""
        self._model_path = Path(path)
        self.model_box.setCurrentText(FROM_FILE)

    def _model(self):
        if self.model_box.currentText() == FROM_FILE:
            # loaded on the worker: torch is slow to start
            return checked_model_file(self._model_path)
        return train_widget_model(self.viewer, "choose a model file")

    # -- a run ------------------------------------------------------------------------------
    def build_job(self) -> LiveJob:
        """Everything a run needs, read now (raises ValueError naming what is missing)."""
        from napari_cebra.live import open_source

        fit_layer = self._layer(self.fit_box.currentText())
        meta = traces_of(fit_layer.metadata) if fit_layer is not None else None
        if meta is None:
            raise ValueError("choose the traces layer to fit the kNN decoder on.")
        label = self.label_box.currentText()
        if label not in meta.get("labels", {}):
            raise ValueError(f"{fit_layer.name!r} has no labels; attach labels to decode.")
        discrete = label_columns_of(meta).get(label) == "discrete"
        model = self._model()
        fs = self.fs_spin.value()
        rois = Path(self.rois_path.text()) if self.rois_path.text().strip() else None
        stop = self._stop.is_set
        truth = None
        if self.source_kind.currentText() == SOURCE_PATH:
            if not self.source_path.text().strip():
                raise ValueError("give the TIFF file or folder to follow.")
            source = open_source(self.source_path.text(), follow=True, stop=stop)
            raw = True
        else:
            layer = self._layer(self.source_box.currentText())
            if layer is None:
                raise ValueError("choose the layer to replay.")
            smeta = traces_of(layer.metadata)
            raw = smeta is None
            data = layer.data if raw else np.asarray(smeta["traces"], np.float32)
            source = Replay(data, fs=fs if self.realtime_check.isChecked() else None, stop=stop)
            if smeta is not None and label in smeta.get("labels", {}):
                truth = np.asarray(smeta["labels"][label])
                truth = truth if truth.dtype.kind in "biuf" else None  # plotted: numbers
        if raw and rois is None:
            raise ValueError("raw frames need the session's ROIs: give its suite2p plane "
                             "folder (or replay a traces layer).")
        movie = None
        if self.movie_box.currentText() not in ("", NO_MOVIE) and discrete:
            movie = self._layer(self.movie_box.currentText()).data
        return LiveJob(model, np.asarray(meta["traces"], np.float32),
                       np.asarray(meta["labels"][label]), label, discrete, self.k_spin.value(),
                       source, rois, fs, truth, movie, raw)

    def start(self) -> None:
        """Start streaming; errors in the inputs are shown and nothing starts."""
        from napari.utils.notifications import show_error

        from napari_cebra.live import LiveDecoder, RawFrames, live_steps

        try:
            job = self.build_job()
        except (ValueError, OSError) as err:
            show_error(str(err))
            self.status.setText(str(err))
            return
        self._reset_view()
        self.job = job
        self._prepare_layers(job)

        def make_decoder():
            model = job.model
            if isinstance(model, Path):
                from napari_cebra.model_files import load_model

                model = load_model(model, device="cpu")[0]
            frontend = None
            if job.rois is not None and job.raw:
                frontend = RawFrames.from_suite2p(job.rois, fs=job.fs)
            return LiveDecoder.from_training(model, job.fit_traces, job.fit_labels,
                                             n_neighbors=job.k, discrete=job.discrete,
                                             frontend=frontend, label_names=[job.label])

        self._stop.clear()
        gen = live_steps(make_decoder, job.source, interval_s=UI_INTERVAL_S,
                         stop=self._stop.is_set)
        self.jobs.start(gen, desc="Live decode", on_result=self._on_summary,
                        on_progress=self._on_batches,
                        done_message="Stopped; everything decoded so far is kept.")

    def stop(self) -> None:
        """End the stream at the next frame; what was decoded stays shown."""
        self._stop.set()
        self.status.setText("Stopping…")

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._stop.set()  # a closed widget ends its stream (a followed folder never ends)
        self.jobs.stop_when_closed()
        super().closeEvent(event)

    def _prepare_layers(self, job: LiveJob) -> None:
        """Create the display layers now (the first layer of a viewer takes half a second to
        set up): while streaming, only their data changes."""
        from napari_cebra.gui.layers import grid_shape

        shape = None
        if isinstance(job.source, Replay):
            shape = tuple(job.source.stack.shape[1:])
            shape = grid_shape(shape[0]) if len(shape) == 1 else shape
        if shape is not None:
            self._show_image(INCOMING, np.zeros(shape, np.float32))
        if job.movie is not None:
            self._show_image(DECODED, np.zeros(job.movie.shape[1:], np.float32))

    def _set_busy(self, busy: bool) -> None:
        self.start_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)

    def _reset_view(self) -> None:
        self.decoded, self.latencies, self.errors = [], [], []
        self.frames_in = self.dropped = self.skipped = 0
        self.summary = None
        self.plot.clear()
        self.histogram.clear()
        self.value_label.setText("—")

    # -- results (UI thread) ----------------------------------------------------------------
    def _on_batches(self, batches: list) -> None:
        job = self.job
        for batch in batches:
            if batch.stage == "preparing":
                self.status.setText(batch.message)
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
                self.status.setText(batch.errors[-1])
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
        layer = self._layer(name)
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

    def _on_summary(self, summary) -> None:
        self.summary = summary
        self._redraw()
        self.status.setText(f"{summary.message} Decoded {summary.decoded} frames.")
