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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit
from napari.layers import Image
from qtpy.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from napari_cebra.contracts import has_traces, label_columns_of, traces_of
from napari_cebra.gui import registry
from napari_cebra.gui.forms import SettingsForm, choose, layer_picker, path_of
from napari_cebra.gui.jobs import JobRunner, RunsJobs
from napari_cebra.gui.layers import layer_named
from napari_cebra.gui.live_view import DECODED, INCOMING, LiveView
from napari_cebra.gui.model_source import FROM_FILE, FROM_TRAIN_WIDGET, ModelChoice
from napari_cebra.job_settings import LiveSettings
from napari_cebra.live.sources import Replay

if TYPE_CHECKING:
    import napari

SOURCE_LAYER = "a layer (replay)"
SOURCE_PATH = "a file or folder (follow)"
UI_INTERVAL_S = 0.03  # results reach the UI at most this often


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


def _ours(layer) -> bool:
    return layer.name in (INCOMING, DECODED)


def _path(edit: FileEdit) -> Path | None:
    return path_of(edit)


class LiveWidget(RunsJobs, QWidget):
    """Decode a stream frame by frame with a trained model; Start / Stop."""

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        registry.register(napari_viewer, "live", self)
        self._stop = threading.Event()
        self.job: LiveJob | None = None
        self._make_widgets()
        self.jobs = JobRunner(on_busy=self._set_busy, status=self.status.setText,
                              interval=UI_INTERVAL_S)
        self.refresh_layers()

    def _make_widgets(self) -> None:
        viewer = self.viewer
        self.model = ModelChoice(self, viewer, [FROM_TRAIN_WIDGET, FROM_FILE],
                                 fallback=FROM_TRAIN_WIDGET)
        self.fit = layer_picker(viewer, filter=lambda x: has_traces(x) and not _ours(x),
                                label="fit kNN on", tooltip="the traces the kNN decoder is "
                                "fitted on (the model's embedding of them, with the label below)")
        self.label = ComboBox(label="label", choices=self._label_names)
        self.source_kind = ComboBox(label="source", choices=[SOURCE_LAYER, SOURCE_PATH])
        self.source = layer_picker(viewer, filter=lambda x: x.ndim >= 2 and not _ours(x),
                                   label="layer")
        self.source_path = FileEdit(label="file / folder", mode="d",
                                    tooltip="growing TIFF file or folder")
        self.rois = FileEdit(label="ROIs", mode="d",
                             tooltip="suite2p plane folder (raw frames only)")
        self.movie = layer_picker(viewer, Image, label="movie", nullable=True,
                                  filter=lambda x: x.ndim == 3 and not has_traces(x)
                                  and not _ours(x), tooltip="show the movie frame whose id "
                                  "is decoded (discrete frame-id labels)")
        self.inputs = Container(widgets=[self.model.box, self.fit, self.label, self.source_kind,
                                         self.source, self.source_path, self.rois, self.movie])
        self.form = SettingsForm(LiveSettings)
        self.fit.changed.connect(self._on_fit)
        self.source.changed.connect(self._on_source_layer)
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.view = LiveView(self.viewer, self.status.setText)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.inputs.native)
        layout.addWidget(self.form.native)
        layout.addLayout(buttons)
        layout.addWidget(self.view)
        layout.addWidget(self.status)
        layout.addStretch(1)

    # -- layers -----------------------------------------------------------------------------
    def _layer(self, name: str):
        return layer_named(self.viewer, name)

    def refresh_layers(self, event=None) -> None:
        for picker in (self.fit, self.source, self.movie):
            picker.reset_choices()
        self._on_fit()

    def _label_names(self, _widget=None) -> list[str]:
        layer = self.fit.value
        meta = traces_of(layer.metadata) if layer is not None else None
        return list(label_columns_of(meta)) if meta else []

    def _on_fit(self, *_) -> None:
        self.label.reset_choices()
        if self.fit.value is not None and self.fit.value in self.source.choices:
            choose(self.source, self.fit.value)  # replay the fitted traces by default
        self._on_source_layer()

    def _on_source_layer(self, *_) -> None:
        layer = self.source.value
        meta = traces_of(layer.metadata) if layer is not None else None
        if meta and meta.get("fs"):
            self.form["fs"].value = float(meta["fs"])

    def set_model_file(self, path: str | Path) -> None:
        """Decode with a saved model (the "Model file…" choice, without a dialog)."""
        self.model.set_file(path)

    def _model(self):
        if self.model.value == FROM_FILE:
            return self.model.file()  # loaded on the worker: torch is slow to start
        return self.model.trained("choose a model file")

    # -- a run ------------------------------------------------------------------------------
    def build_job(self) -> LiveJob:
        """Everything a run needs, read now (raises ValueError naming what is missing)."""
        from napari_cebra.live import open_source

        settings = self.form.settings
        fit_layer = self.fit.value
        meta = traces_of(fit_layer.metadata) if fit_layer is not None else None
        if meta is None:
            raise ValueError("choose the traces layer to fit the kNN decoder on.")
        label = self.label.value
        if label not in meta.get("labels", {}):
            raise ValueError(f"{fit_layer.name!r} has no labels; attach labels to decode.")
        discrete = label_columns_of(meta).get(label) == "discrete"
        model = self._model()
        fs, rois = settings.fs, _path(self.rois)
        if settings.realtime and not fs:
            raise ValueError("replaying at the frame rate needs the frame rate: set it.")
        stop = self._stop.is_set
        truth = None
        if self.source_kind.value == SOURCE_PATH:
            if _path(self.source_path) is None:
                raise ValueError("give the TIFF file or folder to follow.")
            source = open_source(_path(self.source_path), follow=True, stop=stop)
            raw = True
        else:
            layer = self.source.value
            if layer is None:
                raise ValueError("choose the layer to replay.")
            smeta = traces_of(layer.metadata)
            raw = smeta is None
            data = layer.data if raw else np.asarray(smeta["traces"], np.float32)
            source = Replay(data, fs=fs if settings.realtime else None, stop=stop)
            if smeta is not None and label in smeta.get("labels", {}):
                truth = np.asarray(smeta["labels"][label])
                truth = truth if truth.dtype.kind in "biuf" else None  # plotted: numbers
        if raw and rois is None:
            raise ValueError("raw frames need the session's ROIs: give its suite2p plane "
                             "folder (or replay a traces layer).")
        movie = self.movie.value.data if self.movie.value is not None and discrete else None
        return LiveJob(model, np.asarray(meta["traces"], np.float32),
                       np.asarray(meta["labels"][label]), label, discrete, settings.k,
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
        self.view.reset(job)
        self.job = job
        self.view.prepare_layers(job)

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
        self.jobs.start(gen, desc="Live decode", on_result=self.view.on_summary,
                        on_progress=self.view.on_batches,
                        done_message="Stopped; everything decoded so far is kept.")

    def stop(self) -> None:
        """End the stream at the next frame; what was decoded stays shown."""
        self._stop.set()
        self.status.setText("Stopping…")

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._stop.set()  # a closed widget ends its stream (a followed folder never ends)
        self.jobs.stop_when_closed()
        super().closeEvent(event)

    def _set_busy(self, busy: bool) -> None:
        self.start_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)


# the result view's state, read on the widget by scripts and tests
for _name in ("decoded", "latencies", "summary", "stats_label", "value_label", "plot",
              "histogram", "errors", "frames_in", "dropped", "skipped", "lag_frames"):
    setattr(LiveWidget, _name, property(lambda self, _n=_name: getattr(self.view, _n)))
