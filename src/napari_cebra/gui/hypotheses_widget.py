"""The "Test hypotheses" dock widget: CEBRA-Time, CEBRA-Behaviour per label set and their
shuffled controls on one traces layer, as a table, a plot and embedding layers.

The form is :class:`~napari_cebra.gui.forms.SettingsForm` of
:class:`~napari_cebra.analysis.hypotheses.HypothesisSettings`;
the job is :func:`~napari_cebra.analysis.hypotheses.hypothesis_steps` on a
:class:`~napari_cebra.gui.jobs.JobRunner` (Cancel leaves the viewer as it was). When it ends,
each real model's embedding (first run) is added as Points layers, one per variable it is
coloured by; each carries an embedding record, so the CEBRA embedding view can show it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from napari.utils.notifications import show_info
from qtpy.QtCore import Qt
from qtpy.QtGui import QPixmap
from qtpy.QtWidgets import (
    QFileDialog,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from napari_cebra.contracts import META_KEY, embedding_record, traces_of
from napari_cebra.gui import registry
from napari_cebra.gui.forms import SettingsForm, choose, layer_picker
from napari_cebra.gui.jobs import JobRunner, RunsJobs, run_buttons
from napari_cebra.gui.tables import results_table, show_frame

if TYPE_CHECKING:
    import napari

LAYER_PREFIX = "hypotheses · "


def has_labelled_traces(layer) -> bool:
    """A layer whose traces record carries labels (what a hypothesis test needs)."""
    return bool((traces_of(getattr(layer, "metadata", None)) or {}).get("labels"))


class HypothesesWidget(RunsJobs, QWidget):
    """Pick a traces layer with labels, set the test, Run; read the table and the plot."""

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        from magicgui.widgets import Container

        from napari_cebra.analysis.hypotheses import HypothesisSettings

        super().__init__(parent)
        self.viewer = napari_viewer
        self.result = None
        self.added: list = []  # the layers of the last result
        self.source_picker = layer_picker(napari_viewer, filter=has_labelled_traces,
                                          label="Traces (with labels)")
        self.form = SettingsForm(HypothesisSettings)
        buttons = run_buttons(self, "Run")  # .run_button → start(), .cancel_button → cancel()
        self.save_button = QPushButton("Save report…")
        self.save_button.setEnabled(False)
        self.table = results_table(min_height=180)
        self.plot = QLabel()
        self.plot.setAlignment(Qt.AlignCenter)
        self.info = QLabel("Choose a traces layer with labels (e.g. File › New › Samples › "
                           "Synthetic hippocampus session).")
        self.info.setWordWrap(True)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(Container(widgets=[self.source_picker]).native)
        layout.addWidget(self.form.native)
        layout.addLayout(buttons)
        layout.addWidget(self.info)
        layout.addWidget(self.table)
        layout.addWidget(self.plot)
        self.save_button.clicked.connect(self._save_dialog)
        self.jobs = JobRunner(on_busy=self._set_busy, status=self.info.setText)
        self.destroyed.connect(self.jobs.stop_when_closed)
        registry.register(self.viewer, "hypotheses", self)

    # ------------------------------------------------------------------ public API
    def settings(self):
        """The form's values as :class:`HypothesisSettings` (a bad value raises, named)."""
        return self.form.settings

    def set_settings(self, **values: Any) -> None:
        """Fill the form (scripts and tests): ``set_settings(max_iterations=200)``."""
        for name, value in values.items():
            self.form[name].value = value

    def select_layer(self, layer) -> None:
        """Pick the traces layer (a layer or its name)."""
        choose(self.source_picker, layer)

    def source(self):
        layer = self.source_picker.value
        if layer is None or layer not in self.viewer.layers:
            raise ValueError("no traces layer with labels; open a session and attach labels "
                             "(Attach labels) first.")
        return layer

    def start(self) -> None:
        """The Run button: :meth:`run`."""
        self.run()

    def run(self) -> None:
        """Start the test on the chosen layer (progress and Cancel in the Activity dock)."""
        from napari_cebra.analysis.hypotheses import hypothesis_steps
        from napari_cebra.pipeline import explain_error

        try:
            layer = self.source()
            record = traces_of(layer.metadata)
            settings = self.settings()
            kinds = {k: v for k, v in (record.get("label_kinds") or {}).items()
                     if k in record["labels"]}
            if not kinds:
                raise ValueError(f"{layer.name}: no label has a declared kind; declare them "
                                 "in Attach labels (continuous or discrete).")
            labels = {k: record["labels"][k] for k in kinds}
            gen = hypothesis_steps(record["traces"], labels, kinds, settings,
                                   source=layer.name)  # NaN labels are missing frames
        except ValueError as err:
            self.info.setText(f"Cannot run: {err}")
            return
        self.jobs.start(gen, desc="Hypotheses", error=explain_error,
                        on_result=lambda result: self.show_result(result, layer))

    def show_result(self, result, layer=None) -> None:
        """Table, plot and embedding layers of a finished test."""
        self.result = result
        self._fill_table(result.table())
        self._show_plot(result)
        self._add_layers(result, layer)
        self.save_button.setEnabled(True)
        best = max((m for m in result.margins()), key=lambda m: m["bits"], default=None)
        self.info.setText(f"{len(result.models)} models on {result.n_frames} frames (last "
                          f"{result.n_test} held out)."
                          + (f" Largest margin over its controls: {best['model']} "
                             f"(+{best['bits']:.2f} bits)." if best else ""))

    def save_report(self, path: str, overwrite: bool = False) -> None:
        if self.result is None:
            raise ValueError("run a test first.")
        self.result.save(path, overwrite=overwrite)

    # ------------------------------------------------------------------ internals
    def _set_busy(self, busy: bool) -> None:
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.form.enabled = not busy

    def _fill_table(self, frame) -> None:
        show_frame(self.table, frame.drop(columns=["kind"]),
                   text=lambda v: f"{v:.3f}" if isinstance(v, float) else str(v))

    def _show_plot(self, result) -> None:
        import io

        buffer = io.BytesIO()
        result.plot().savefig(buffer, format="png", dpi=60)
        pixmap = QPixmap()
        pixmap.loadFromData(buffer.getvalue(), "PNG")
        self.plot.setPixmap(pixmap)

    def _add_layers(self, result, layer) -> None:
        from napari_cebra.gui.embedding_view import colors_for
        from napari_cebra.views import display_indices, project

        record = traces_of(layer.metadata) if layer is not None else None
        labels = {k: np.asarray((record or {}).get("labels", {}).get(k)) for k in
                  result.variables} if record else {}
        for old in self.added:  # a new result replaces the last one's layers
            if old in self.viewer.layers:
                self.viewer.layers.remove(old)
        self.added = []
        train = np.arange(result.n_frames) < result.n_frames - result.n_test
        for model in result.models:
            if model.kind == "shuffled" or model.name not in result.embeddings:
                continue
            emb = result.embeddings[model.name]
            shown = display_indices(len(emb), 20_000)
            coords = project(emb, tuple(range(min(3, emb.shape[1]))))[shown]
            size = max(float(np.ptp(coords, axis=0).max()), 1e-6) * 0.025
            meta = {META_KEY: {"embedding": embedding_record(
                emb, train_mask=train, labels=labels, label_kinds=result.variables,
                label_columns=model.labels, source=result.source)}}
            for var, kind in result.variables.items():
                values = labels.get(var)
                if values is None or len(values) != len(emb):
                    continue
                rgba, _ = colors_for(np.nan_to_num(values[shown].astype(np.float64)), kind)
                rgba[~np.isfinite(values[shown].astype(np.float64)), 3] = 0.15  # missing
                self.added.append(self.viewer.add_points(
                    coords, name=f"{LAYER_PREFIX}{model.name} · by {var}", size=size,
                    face_color=rgba, border_width=0, visible=not self.added,
                    features={"frame": shown, var: values[shown]}, metadata=meta))

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the hypotheses report", "",
                                              "JSON (*.json)")
        if path:
            self.save_report(path, overwrite=True)  # the dialog asked about replacing
            show_info(f"Saved {path}")
