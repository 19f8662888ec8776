"""The "Train CEBRA" dock widget: settings in, a worker thread, the embedding out.

The science is :mod:`napari_cebra.pipeline`; this widget is the :class:`TrainSettings` form
(:mod:`napari_cebra.gui.forms`), the inputs (a traces layer, its trace set and labels), a run
of ``pipeline.train`` through :class:`~napari_cebra.gui.jobs.JobRunner` (a worker, progress in
the Activity dock, Cancel), the live loss curve, and the result bound to the layer the run
started from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from magicgui.widgets import CheckBox, ComboBox, Container, Select
from napari.layers import Layer
from napari.utils.notifications import show_error
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from napari_cebra import pipeline
from napari_cebra.contracts import LABEL_KINDS, has_traces, label_columns_of, rois_of, traces_of
from napari_cebra.gui import registry, session_flow
from napari_cebra.gui.forms import SettingsForm, choose, layer_picker
from napari_cebra.gui.jobs import JobRunner, RunsJobs, run_blocking_job
from napari_cebra.gui.layers import same_layer, traces_layers
from napari_cebra.gui.loss_curve import LossCurve
from napari_cebra.gui.train_files import ModelFiles, TorchWarmUp
from napari_cebra.pipeline import TrainSettings

if TYPE_CHECKING:
    import napari


class TrainWidget(ModelFiles, RunsJobs, QWidget):
    """Pick traces and labels, set CEBRA's parameters, train on a worker, save/load models."""

    trained = Signal(object)  # pipeline.TrainingResult, after it is bound to its layer
    form_excludes = ("hybrid",)  # the hybrid box stands with the labels it needs

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from napari_cebra.runtime import prepare_for_gui

        prepare_for_gui()  # before torch loads below (see napari_cebra.runtime)
        self.viewer = napari_viewer
        registry.register(napari_viewer, "train", self)
        self.model = None  # the last trained or loaded estimator
        self.result: pipeline.TrainingResult | None = None
        self._model_columns: tuple[str, ...] = ()
        self.traces = layer_picker(napari_viewer, filter=has_traces, label="Traces",
                                   name="traces")
        self.trace_set = ComboBox(label="Trace set", choices=self._trace_sets)
        self.labels = Select(label="Labels", choices=self._label_choices,
                             tooltip="None chosen → CEBRA-Time; chosen → CEBRA-Behaviour.")
        self.labels.native.setMaximumHeight(80)
        self.hybrid = CheckBox(text="hybrid (time + labels)")
        self.inputs = Container(widgets=[self.traces, self.trace_set, self.labels, self.hybrid])
        self.mode_label = QLabel()
        self.form = SettingsForm(TrainSettings, exclude=self.form_excludes)
        self._make_buttons()
        self._lay_out()
        self.traces.changed.connect(self._on_traces_changed)
        self.labels.changed.connect(self._update_mode)
        self.hybrid.changed.connect(self._update_mode)
        self._on_traces_changed()
        # torch's first optimiser imports ~3 s of modules; do it now, off the UI thread.
        self.warm_up = TorchWarmUp()
        self.warm_up.start()
        self.jobs = JobRunner(on_busy=self._set_busy, status=self.status.setText)
        self.destroyed.connect(self.jobs.stop_when_closed)  # napari closed mid-run
        session_flow.follow_latest(self.viewer, self)  # traces extracted before it opened

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
        self.load_matrix_button = QPushButton("Load matrix…")
        self.load_matrix_button.setToolTip("Load a (time, neurons) .npy file as a traces layer.")
        self.adapt_box = QCheckBox("Adapt to these neurons")
        self.adapt_box.setToolTip(
            "Embed fits a new input layer for the chosen traces first (for another recording, "
            "e.g. a different neuron count), keeping the model's other layers; the chosen "
            "labels drive it. The model's 'max_adapt_iterations' steps (default 500).")
        self.loss_curve = LossCurve()
        self.status = QLabel("Pick traces, then press Train.")
        self.status.setWordWrap(True)
        for button, slot in ((self.train_button, self.start), (self.cancel_button, self.cancel),
                             (self.save_button, self._save_dialog),
                             (self.load_button, self._load_dialog),
                             (self.embed_button, self.embed),
                             (self.load_matrix_button, self._load_matrix_dialog)):
            button.clicked.connect(slot)

    def _lay_out(self) -> None:
        buttons = QGridLayout()
        buttons.addWidget(self.train_button, 0, 0, 1, 2)
        buttons.addWidget(self.cancel_button, 0, 2)
        buttons.addWidget(self.save_button, 1, 0)
        buttons.addWidget(self.load_button, 1, 1)
        buttons.addWidget(self.embed_button, 1, 2)
        buttons.addWidget(self.adapt_box, 2, 0, 1, 2)
        buttons.addWidget(self.load_matrix_button, 2, 2)
        layout = QVBoxLayout(self)
        for part in (self.inputs.native, self.mode_label, self.form.native):
            layout.addWidget(part)
        layout.addLayout(buttons)
        layout.addWidget(self.loss_curve)
        layout.addWidget(self.status)
        layout.addStretch(1)

    # ------------------------------------------------------------------ inputs
    def trace_layers(self) -> list[Layer]:
        return traces_layers(self.viewer)

    def refresh_layers(self, event=None) -> None:
        self.traces.reset_choices()
        self._on_traces_changed()

    def selected_layer(self) -> Layer | None:
        return self.traces.value

    def follow_session(self, role: str, output) -> None:
        """New traces from Extract / Attach labels become the input (see session_flow)."""
        session_flow.train_follows(self, role, output)

    def select_layer(self, layer: Layer | str) -> None:
        choose(self.traces, layer)

    def _record(self) -> dict:
        layer = self.traces.value
        return (traces_of(layer.metadata) if layer is not None else None) or {}

    def _trace_sets(self, _widget=None) -> list[str]:
        return ["traces", *(self._record().get("trace_sets") or {})]

    def _label_choices(self, _widget=None) -> list[tuple[str, str]]:
        return [(f"{name} ({kind})", name) for name, kind in
                label_columns_of(self._record()).items() if kind in LABEL_KINDS]

    def _on_traces_changed(self, *_) -> None:
        self.trace_set.reset_choices()
        self.labels.reset_choices()
        self._update_mode()

    def label_columns(self) -> tuple[str, ...]:
        chosen = set(self.labels.value)
        return tuple(name for _, name in self._label_choices() if name in chosen)

    def set_label_columns(self, columns) -> None:
        self.labels.reset_choices()
        offered = {name for _, name in self._label_choices()}
        self.labels.value = [c for c in columns if c in offered]

    def _update_mode(self, *_) -> None:
        columns = self.label_columns()
        self.hybrid.enabled = bool(columns)
        if not columns:
            mode = "CEBRA-Time (no labels)"
        else:
            kind = "Hybrid" if self.hybrid.value else "Behaviour"
            mode = f"CEBRA-{kind}: " + ", ".join(columns)
        self.mode_label.setText(mode)

    def settings(self) -> TrainSettings:
        """The settings shown in the widget (raises ValueError naming a bad value)."""
        return self.form.settings_with(hybrid=bool(self.hybrid.value))

    def set_settings(self, settings: TrainSettings) -> None:
        self.form.set(settings)
        self.hybrid.value = settings.hybrid

    def build_job(self) -> tuple[Layer, pipeline.TrainingJob]:
        layer = self.selected_layer()
        if layer is None:
            raise ValueError("No traces: open a sample (File ▸ Open Sample), extract traces, "
                             "or load a (time, neurons) matrix.")
        record = traces_of(layer.metadata)
        if record is None:
            raise ValueError(f"Layer {layer.name!r} no longer carries traces; pick another.")
        trace_set = self.trace_set.value
        job = pipeline.job_from_metadata(
            record, self.settings(), self.label_columns(),
            trace_set=None if trace_set in ("", "traces", None) else trace_set,
            source=layer.name)
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
