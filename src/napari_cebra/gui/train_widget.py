"""The "Train CEBRA" dock widget: settings in, a worker thread, the embedding out.

The science is :mod:`napari_cebra.pipeline`; this widget picks the inputs, runs
``pipeline.train`` through :class:`~napari_cebra.gui.jobs.JobRunner` (a worker, progress in
the Activity dock, Cancel), draws the live loss and binds the result to the layer the run
started from.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Layer
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QPointF, Qt, Signal
from qtpy.QtGui import QColor, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_cebra import model_files, pipeline
from napari_cebra.contracts import LABEL_KINDS, label_columns_of, rois_of, traces_of
from napari_cebra.gui import registry, session_flow
from napari_cebra.gui.combos import follow_layers, refill_layers
from napari_cebra.gui.jobs import JobRunner, RunsJobs, run_blocking_job
from napari_cebra.gui.layers import (
    same_layer,
    traces_layers,
)
from napari_cebra.pipeline import TrainSettings

if TYPE_CHECKING:
    import napari

TEMPERATURE_MODES = {"fixed": "constant", "auto": "auto"}


class LossCurve(QWidget):
    """The loss per step, repainted at most once per frame (Qt coalesces ``update()``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.losses: list[float] = []
        self.total = 1
        self.setMinimumHeight(90)

    def reset(self, total: int) -> None:
        self.losses, self.total = [], max(int(total), 1)
        self.update()

    def add(self, *losses: float) -> None:
        self.losses.extend(float(v) for v in losses)
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        w, h = self.width(), self.height()
        painter.fillRect(0, 0, w, h, QColor(30, 30, 36))
        painter.setPen(QColor(170, 170, 170))
        if not self.losses:
            painter.drawText(6, 16, "loss")
            painter.end()
            return
        y = np.asarray(self.losses, dtype=np.float64)
        finite = y[np.isfinite(y)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        span = hi - lo if hi > lo else 1.0
        # At most one vertex per pixel column.
        idx = np.unique(np.linspace(0, len(y) - 1, min(len(y), max(w, 2))).astype(int))
        xs = 4 + (w - 8) * idx / max(self.total - 1, 1)
        ys = (h - 18) - (h - 26) * (np.nan_to_num(y[idx], nan=hi) - lo) / span
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(255, 170, 60), 1.5))
        painter.drawPolyline(QPolygonF([QPointF(a, b) for a, b in zip(xs, ys, strict=True)]))
        painter.setPen(QColor(200, 200, 200))
        painter.drawText(6, 14, f"loss {y[-1]:.4f}   step {len(y)}/{self.total}")
        painter.drawText(6, h - 4, f"min {lo:.4f}  max {hi:.4f}")
        painter.end()


class TrainWidget(RunsJobs, QWidget):
    """Pick traces and labels, set CEBRA's parameters, train on a worker, save/load models."""

    trained = Signal(object)  # pipeline.TrainingResult, after it is bound to its layer

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from napari_cebra.runtime import prepare_for_gui

        prepare_for_gui()  # before torch loads below (see napari_cebra.runtime)
        self.viewer = napari_viewer
        registry.register(napari_viewer, "train", self)
        self.model = None  # the last trained or loaded estimator
        self.result: pipeline.TrainingResult | None = None
        self._model_columns: tuple[str, ...] = ()
        self._make_inputs()
        self._make_parameters()
        self._make_buttons()
        self._lay_out()
        self._connect()
        self.refresh_layers()
        # torch's first optimiser imports ~3 s of modules; do it now, off the UI thread.
        self.warm_up = _TorchWarmUp()
        self.warm_up.start()
        self.jobs = JobRunner(on_busy=self._set_busy, status=self.status.setText)
        self.destroyed.connect(self.jobs.stop_when_closed)  # napari closed mid-run
        session_flow.follow_latest(self.viewer, self)  # traces extracted before it opened

    def _make_inputs(self) -> None:
        self.traces_box = QComboBox()
        self.trace_set_box = QComboBox()
        self.load_matrix_button = QPushButton("Load matrix…")
        self.load_matrix_button.setToolTip("Load a (time, neurons) .npy file as a traces layer.")
        self.labels_list = QListWidget()
        self.labels_list.setMaximumHeight(80)
        self.labels_list.setToolTip("No label ticked → CEBRA-Time; ticked → CEBRA-Behaviour.")
        self.hybrid_box = QCheckBox("hybrid (time + labels)")
        self.mode_label = QLabel()

    def _make_parameters(self) -> None:
        from napari_cebra.engine.device import available_devices
        from napari_cebra.engine.models import available_models  # imports torch, once, here

        self.model_box = QComboBox()
        self.model_box.addItems(available_models())
        self.model_box.setCurrentText(TrainSettings.model_architecture)
        self.output_dim = _spin(1, 128, 3)
        self.hidden_units = _spin(1, 1024, 32)
        self.iterations = _spin(1, 1_000_000, 2000, step=500)
        self.batch_size = _spin(2, 1_000_000, 512, step=128)
        self.learning_rate = QDoubleSpinBox()
        self.learning_rate.setDecimals(6)
        self.learning_rate.setRange(1e-6, 1.0)
        self.learning_rate.setSingleStep(1e-4)
        self.learning_rate.setValue(3e-4)
        self.temperature = QDoubleSpinBox()
        self.temperature.setDecimals(2)
        self.temperature.setRange(0.01, 100.0)
        self.temperature.setValue(1.0)
        self.temperature_mode = QComboBox()
        self.temperature_mode.addItems(list(TEMPERATURE_MODES))
        self.time_offset = _spin(1, 10_000, 10)
        self.test_fraction = QDoubleSpinBox()
        self.test_fraction.setRange(0.0, 0.9)
        self.test_fraction.setSingleStep(0.05)
        self.test_fraction.setToolTip("Fraction of the session, at its end, held out of training.")
        self.device_box = QComboBox()
        for key, name in available_devices():
            self.device_box.addItem(name, key)
        self.seed = _spin(-1, 2**31 - 1, 0)
        self.seed.setSpecialValueText("random")

    def _make_buttons(self) -> None:
        self.train_button = QPushButton("Train")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.save_button = QPushButton("Save model…")
        self.save_button.setEnabled(False)
        self.load_button = QPushButton("Load model…")
        self.embed_button = QPushButton("Embed")
        self.embed_button.setEnabled(False)
        self.embed_button.setToolTip("Embed the chosen traces with the trained/loaded model.")
        self.adapt_box = QCheckBox("Adapt to these neurons")
        self.adapt_box.setToolTip(
            "Embed fits a new input layer for the chosen traces first (for another recording, "
            "e.g. a different neuron count), keeping the model's other layers; the ticked "
            "labels drive it. The model's 'max_adapt_iterations' steps (default 500).")
        self.loss_curve = LossCurve()
        self.status = QLabel("Pick traces, then press Train.")
        self.status.setWordWrap(True)

    def _lay_out(self) -> None:
        form = QFormLayout()
        source_row = QHBoxLayout()
        source_row.addWidget(self.traces_box, stretch=1)
        source_row.addWidget(self.load_matrix_button)
        form.addRow("Traces", source_row)
        form.addRow("Trace set", self.trace_set_box)
        form.addRow("Labels", self.labels_list)
        form.addRow("", self.hybrid_box)
        form.addRow("Mode", self.mode_label)
        # CEBRA's parameters, two per row to keep the dock short.
        params = QGridLayout()
        temp_row = QHBoxLayout()
        temp_row.addWidget(self.temperature)
        temp_row.addWidget(self.temperature_mode)
        cells = [("Model", self.model_box), ("Output dim", self.output_dim),
                 ("Iterations", self.iterations), ("Hidden units", self.hidden_units),
                 ("Learning rate", self.learning_rate), ("Batch size", self.batch_size),
                 ("Temperature", temp_row), ("Time offset", self.time_offset),
                 ("Test fraction", self.test_fraction), ("Seed", self.seed)]
        for i, (label, field) in enumerate(cells):
            row, col = divmod(i, 2)
            params.addWidget(QLabel(label), row, 2 * col)
            if isinstance(field, QHBoxLayout):
                params.addLayout(field, row, 2 * col + 1)
            else:
                params.addWidget(field, row, 2 * col + 1)
        params.addWidget(QLabel("Device"), len(cells) // 2, 0)
        params.addWidget(self.device_box, len(cells) // 2, 1, 1, 3)
        buttons = QGridLayout()
        buttons.addWidget(self.train_button, 0, 0, 1, 2)
        buttons.addWidget(self.cancel_button, 0, 2)
        buttons.addWidget(self.save_button, 1, 0)
        buttons.addWidget(self.load_button, 1, 1)
        buttons.addWidget(self.embed_button, 1, 2)
        buttons.addWidget(self.adapt_box, 2, 0, 1, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(params)
        layout.addLayout(buttons)
        layout.addWidget(self.loss_curve)
        layout.addWidget(self.status)
        layout.addStretch(1)

    def _connect(self) -> None:
        self.traces_box.currentIndexChanged.connect(self._on_traces_changed)
        self.labels_list.itemChanged.connect(lambda _: self._update_mode())
        self.hybrid_box.toggled.connect(lambda _: self._update_mode())
        self.temperature_mode.currentTextChanged.connect(
            lambda text: self.temperature.setToolTip(
                "starting value, learned" if text == "auto" else "fixed"))
        self.train_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.save_button.clicked.connect(self._save_dialog)
        self.load_button.clicked.connect(self._load_dialog)
        self.embed_button.clicked.connect(self.embed)
        self.load_matrix_button.clicked.connect(self._load_matrix_dialog)
        follow_layers(self.viewer, self.refresh_layers)

    # ------------------------------------------------------------------ inputs
    def trace_layers(self) -> list[Layer]:
        return traces_layers(self.viewer)

    def refresh_layers(self, event=None) -> None:
        refill_layers(self.traces_box, self.trace_layers())
        self._on_traces_changed()

    def selected_layer(self) -> Layer | None:
        name = self.traces_box.currentText()
        return self.viewer.layers[name] if name and name in self.viewer.layers else None

    def follow_session(self, role: str, output) -> None:
        """New traces from Extract / Attach labels become the input (see session_flow)."""
        session_flow.train_follows(self, role, output)

    def select_layer(self, layer: Layer | str) -> None:
        name = layer if isinstance(layer, str) else layer.name
        self.traces_box.setCurrentText(name)

    def _on_traces_changed(self, *_) -> None:
        layer = self.selected_layer()
        meta = (traces_of(layer.metadata) if layer is not None else None) or {}
        self.trace_set_box.clear()
        self.trace_set_box.addItem("traces")
        self.trace_set_box.addItems(list(meta.get("trace_sets") or {}))
        self.labels_list.blockSignals(True)
        self.labels_list.clear()
        for name, kind in label_columns_of(meta).items():
            item = QListWidgetItem(f"{name} ({kind})")
            item.setData(Qt.ItemDataRole.UserRole, name)
            declared = kind in LABEL_KINDS
            flags = Qt.ItemFlag.ItemIsUserCheckable
            if declared:
                flags |= Qt.ItemFlag.ItemIsEnabled
            item.setFlags(flags)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.labels_list.addItem(item)
        self.labels_list.blockSignals(False)
        self._update_mode()

    def label_columns(self) -> tuple[str, ...]:
        items = (self.labels_list.item(i) for i in range(self.labels_list.count()))
        return tuple(item.data(Qt.ItemDataRole.UserRole) for item in items
                     if item.checkState() == Qt.CheckState.Checked)

    def set_label_columns(self, columns) -> None:
        wanted = set(columns)
        for i in range(self.labels_list.count()):
            item = self.labels_list.item(i)
            checked = item.data(Qt.ItemDataRole.UserRole) in wanted
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def _update_mode(self) -> None:
        has_labels = bool(self.label_columns())
        self.hybrid_box.setEnabled(has_labels)
        if not has_labels:
            mode = "CEBRA-Time (no labels)"
        elif self.hybrid_box.isChecked():
            mode = "CEBRA-Hybrid: " + ", ".join(self.label_columns())
        else:
            mode = "CEBRA-Behaviour: " + ", ".join(self.label_columns())
        self.mode_label.setText(mode)

    def settings(self) -> TrainSettings:
        """The settings shown in the widget (raises ValueError for bad combinations)."""
        return TrainSettings(
            model_architecture=self.model_box.currentText(),
            output_dimension=self.output_dim.value(),
            num_hidden_units=self.hidden_units.value(),
            max_iterations=self.iterations.value(),
            batch_size=self.batch_size.value(),
            learning_rate=self.learning_rate.value(),
            temperature=self.temperature.value(),
            temperature_mode=TEMPERATURE_MODES[self.temperature_mode.currentText()],
            time_offsets=self.time_offset.value(),
            hybrid=self.hybrid_box.isChecked(),
            device=self.device_box.currentData() or "auto",
            seed=None if self.seed.value() < 0 else self.seed.value(),
            test_fraction=self.test_fraction.value(),
        )

    def set_settings(self, settings: TrainSettings) -> None:
        if self.model_box.findText(settings.model_architecture) >= 0:
            self.model_box.setCurrentText(settings.model_architecture)
        self.output_dim.setValue(settings.output_dimension)
        self.hidden_units.setValue(settings.num_hidden_units)
        self.iterations.setValue(settings.max_iterations)
        self.batch_size.setValue(settings.batch_size)
        self.learning_rate.setValue(settings.learning_rate)
        self.temperature.setValue(settings.temperature)
        mode = {v: k for k, v in TEMPERATURE_MODES.items()}.get(settings.temperature_mode, "fixed")
        self.temperature_mode.setCurrentText(mode)
        self.time_offset.setValue(settings.time_offsets)
        self.test_fraction.setValue(settings.test_fraction)
        self.hybrid_box.setChecked(settings.hybrid)
        index = self.device_box.findData(settings.device)
        self.device_box.setCurrentIndex(max(index, 0))
        self.seed.setValue(-1 if settings.seed is None else int(settings.seed))

    def build_job(self) -> tuple[Layer, pipeline.TrainingJob]:
        layer = self.selected_layer()
        if layer is None:
            raise ValueError("No traces: open a sample (File ▸ Open Sample), extract traces, "
                             "or load a (time, neurons) matrix.")
        record = traces_of(layer.metadata)
        if record is None:
            raise ValueError(f"Layer {layer.name!r} no longer carries traces; pick another.")
        trace_set = self.trace_set_box.currentText()
        job = pipeline.job_from_metadata(
            record, self.settings(), self.label_columns(),
            trace_set=None if trace_set in ("", "traces") else trace_set, source=layer.name)
        return layer, job

    # ------------------------------------------------------------------ training
    def start(self) -> None:
        """Train on a worker thread; the result is bound to the layer chosen now."""
        if self.running:
            return
        try:
            layer, job = self.build_job()
        except (ValueError, TypeError) as err:
            show_error(str(err))
            return
        from napari_cebra.gui.embedding_view import EmbeddingView

        EmbeddingView.for_viewer(self.viewer)  # its canvas is built now, not when results land
        self.loss_curve.reset(job.settings.max_iterations)
        self.status.setText(f"Training {job.mode} on {layer.name!r}…")
        self.jobs.start(pipeline.train(job), desc=f"CEBRA on {layer.name}",
                        on_progress=self._on_progress,
                        on_result=lambda result: self._bind(result, layer),
                        error=lambda err: "CEBRA training failed: "
                        + pipeline.explain_error(err, job.settings))

    def embed(self) -> None:
        """Embed the chosen traces with the current model, on a worker."""
        if self.running or self.model is None:
            return
        try:
            layer, job = self.build_job()
            job.label_columns = self._model_columns
        except (ValueError, TypeError) as err:
            show_error(str(err))
            return
        if self.adapt_box.isChecked():
            self._adapt(layer, job)
            return
        mismatch = pipeline.neuron_mismatch(job, self.model)
        if mismatch is not None:
            show_error(mismatch)
            return
        self.status.setText(f"Embedding {layer.name!r}…")
        self.jobs.start(run_blocking_job(pipeline.embed, job, self.model),
                        desc=f"embed {layer.name}",
                        on_result=lambda result: self._bind(result, layer),
                        error=lambda err: "Embedding failed: "
                        + pipeline.explain_error(err, job.settings))

    def _adapt(self, layer: Layer, job: pipeline.TrainingJob) -> None:
        """Fit a new input layer for ``layer``'s neurons on a worker, then embed it."""
        self.loss_curve.reset(int(self.model.max_adapt_iterations))
        self.status.setText(f"Adapting the model to {layer.name!r} "
                            f"({job.neural.shape[1]} neurons)…")
        self.jobs.start(pipeline.adapt(job, self.model), desc=f"adapt to {layer.name}",
                        on_progress=self._on_progress,
                        on_result=lambda result: self._bind(result, layer),
                        error=lambda err: "Adapting failed: "
                        + pipeline.explain_error(err, job.settings))

    def _set_busy(self, busy: bool) -> None:
        for button in (self.train_button, self.load_button, self.embed_button,
                       self.save_button, self.load_matrix_button):
            button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        if not busy:
            self.save_button.setEnabled(self.model is not None)
            self.embed_button.setEnabled(self.model is not None)

    def _on_progress(self, batch: list) -> None:
        self.loss_curve.add(*(event.loss for event in batch if event.stage == "fit"))
        if batch[-1].stage == "embed":
            self.status.setText("Embedding every frame…")

    def _bind(self, result: pipeline.TrainingResult, layer: Layer) -> None:
        """Store ``result`` on the layer the run started from (if it is still there)."""
        record = traces_of(layer.metadata)
        if record is None or not any(same_layer(layer, x) for x in self.viewer.layers):
            show_error("The traces layer was removed during training; the result was dropped.")
            return
        self.model, self.result = result.model, result
        self._model_columns = result.label_columns
        self._model_rois = rois_of(record)  # which suite2p ROIs, for the settings file
        record["embedding"] = result.as_metadata()
        from napari_cebra.gui.embedding_view import EmbeddingView

        EmbeddingView.for_viewer(self.viewer).show_source(layer)
        loss = f", final loss {result.loss[-1]:.4f}" if result.loss else ""
        self.status.setText(f"Embedding of {layer.name!r}: {result.embedding.shape[0]} frames × "
                            f"{result.embedding.shape[1]} dims{loss}.")
        session_flow.hand_on(self.viewer, "model", self)  # Decode uses it next
        self.trained.emit(result)

    # ------------------------------------------------------------------ files
    def save_model(self, path: str | Path) -> Path:
        if self.model is None:
            raise ValueError("No model yet: train or load one first.")
        settings = self.result.settings if self.result is not None else self.settings()
        return model_files.save_model(self.model, path, settings, self._model_columns,
                                   overwrite=True, rois=getattr(self, "_model_rois", None))

    def load_model(self, path: str | Path) -> None:
        model, settings, columns = model_files.load_model(path)
        self.model, self.result, self._model_columns = model, None, tuple(columns)
        self._model_rois = None
        self.set_settings(settings)
        self.set_label_columns(columns)
        self._set_busy(False)
        self.status.setText(f"Loaded {Path(path).name}; press 'Embed' to use it.")

    def load_matrix(self, path: str | Path) -> Layer:
        """A (time, neurons) .npy matrix as a traces layer (CEBRA-Time until labels exist)."""
        from napari_cebra.gui.layers import traces_layer

        path = Path(path)
        traces = np.load(path, allow_pickle=False)
        if traces.ndim != 2:
            raise ValueError(f"{path.name}: expected a (time, neurons) matrix, got {traces.shape}.")
        data, kwargs, _ = traces_layer(traces, name=path.stem)
        layer = self.viewer.add_image(data, **kwargs)
        self.select_layer(layer)
        return layer

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save CEBRA model", "cebra-model.pt",
                                              "CEBRA model (*.pt)")
        if path:
            _report(self.save_model, path)

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load CEBRA model", "", "CEBRA model (*.pt)")
        if path:
            _report(self.load_model, path)

    def _load_matrix_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load traces", "", "Traces (*.npy)")
        if path:
            _report(self.load_matrix, path)


def _report(func, *args) -> Any:
    try:
        out = func(*args)
    except (ValueError, TypeError, OSError, RuntimeError) as err:
        show_error(str(err))
        return None
    show_info(f"{getattr(func, '__name__', 'done').replace('_', ' ')}: {args[0]}")
    return out


def _spin(lo: int, hi: int, value: int, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    return box


class _TorchWarmUp:
    """torch's first optimiser imports ~3 s of modules: do it once, off the UI thread.

    A plain thread, not a napari worker: a worker's Qt signals may be deleted when napari
    closes while it still runs, which aborts the process at exit.
    """

    def __init__(self) -> None:
        self._thread = threading.Thread(target=self._run, name="torch-warm-up", daemon=True)

    @staticmethod
    def _run() -> None:
        try:
            import torch

            torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
        except Exception:  # noqa: BLE001 - only a warm-up: training reports real errors
            pass

    def start(self) -> None:
        self._thread.start()

    @property
    def is_running(self) -> bool:
        return self._thread.is_alive()
