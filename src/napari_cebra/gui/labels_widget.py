""""Attach labels" dock widget: behaviour / stimulus labels onto a traces layer.

Load a CSV/NPY, declare each column (continuous, discrete, time, or ignore), give the labels'
rate if they were sampled differently; the labels are resampled onto the imaging frames and
stored in the layer's ``metadata["napari_cebra"]["labels"/"label_kinds"]`` for training.
A traces layer just extracted from a stack that carries frame labels (the V1 stack sample) is
picked and its labels are offered, declared, before any file (see ``session_flow``).
"""

from __future__ import annotations

import napari
import numpy as np
from magicgui.widgets import Container, FileEdit, FloatSpinBox
from napari.layers import Layer
from napari.utils.notifications import show_error
from qtpy.QtWidgets import (
    QComboBox,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_cebra.contracts import has_traces, traces_of
from napari_cebra.gui import registry, session_flow
from napari_cebra.gui.forms import choose, layer_picker, path_of
from napari_cebra.gui.layers import traces_layers
from napari_cebra.imaging.labels import align_labels, make_label_set, read_label_table

ROLES = ("ignore", "continuous", "discrete", "time (s)")


class LabelsWidget(QWidget):
    """Declare and attach labels to the traces of one layer."""

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        registry.register(napari_viewer, "labels", self)
        self.columns: dict = {}
        self._loaded = ""  # the labels file read last

        self.traces = layer_picker(napari_viewer, filter=has_traces, label="Traces layer")
        self.labels_file = FileEdit(label="Labels file", mode="r",
                                    filter="Labels (*.csv *.npy *.tsv)",
                                    tooltip="labels .csv or .npy")
        self.rate = FloatSpinBox(label="Labels rate (Hz)", min=0.0, max=100_000.0, step=0.001,
                                 tooltip="the rate the labels were sampled at, when it is not "
                                 "one row per imaging frame")
        self.rate.native.setSpecialValueText("one row per frame")
        self.inputs = Container(widgets=[self.traces, self.labels_file, self.rate])
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["column", "kind"])
        self.table.setMaximumHeight(160)
        self.attach_button = QPushButton("Attach labels")
        self.status = QLabel("Load a labels file, declare its columns, attach.")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        for part in (self.inputs.native, self.table, self.attach_button, self.status):
            layout.addWidget(part)
        layout.addStretch(1)
        self.labels_file.changed.connect(self._on_file)
        self.attach_button.clicked.connect(self.attach)
        session_flow.follow_latest(self.viewer, self)

    def trace_layers(self) -> list[Layer]:
        return traces_layers(self.viewer)

    def refresh_layers(self, event=None) -> None:
        self.traces.reset_choices()

    def _on_file(self, _value=None) -> None:
        path = path_of(self.labels_file)
        if path is not None and str(path) != self._loaded:
            self.load_file(str(path))

    def load_file(self, path: str) -> bool:
        """Read the file's columns into the table (all "ignore" until declared)."""
        if not path:
            return False
        try:
            self.columns = read_label_table(path)
        except (ValueError, TypeError, FileNotFoundError, OSError) as err:
            show_error(str(err))
            self.status.setText(f"Not loaded: {err}")
            return False
        self._loaded = str(path)
        with self.labels_file.changed.blocked():
            self.labels_file.value = str(path)
        self._fill_table()
        n = len(next(iter(self.columns.values())))
        self.status.setText(f"{len(self.columns)} columns × {n} rows; declare the kinds.")
        return True

    def _fill_table(self, kinds: dict[str, str] | None = None) -> None:
        self.table.setRowCount(len(self.columns))
        for i, name in enumerate(self.columns):
            self.table.setItem(i, 0, QTableWidgetItem(name))
            box = QComboBox()
            box.addItems(list(ROLES))
            box.setCurrentText((kinds or {}).get(name, "ignore"))
            self.table.setCellWidget(i, 1, box)

    def follow_session(self, role: str, layer) -> None:
        """New traces from Extract: pick them, and offer the frame labels their stack carried
        (declared, one row per frame) unless they are attached already or a file is loaded."""
        if role != "traces":
            return
        choose(self.traces, layer)
        carried = session_flow.carried_labels(layer)
        record = traces_of(layer.metadata) or {}
        if carried is None or self._loaded:
            return
        if set(carried["labels"]) <= set(record.get("labels") or {}):
            self.status.setText(f"{layer.name!r} has its frame labels "
                                f"({', '.join(carried['labels'])}); load a file to add more.")
            return
        self.columns = {k: np.asarray(v) for k, v in carried["labels"].items()}
        self._fill_table(carried.get("label_kinds"))
        self.rate.value = 0.0  # one row per imaging frame
        self.status.setText(f"Frame labels from the stack ({', '.join(self.columns)}), "
                            f"declared; press Attach labels to put them on {layer.name!r}.")

    def set_kind(self, column: str, role: str) -> None:
        for i in range(self.table.rowCount()):
            if self.table.item(i, 0).text() == column:
                self.table.cellWidget(i, 1).setCurrentText(role)
                return
        raise KeyError(column)

    def declared(self) -> tuple[dict[str, str], str | None]:
        kinds, time_column = {}, None
        for i in range(self.table.rowCount()):
            name, role = self.table.item(i, 0).text(), self.table.cellWidget(i, 1).currentText()
            if role.startswith("time"):
                time_column = name
            elif role != "ignore":
                kinds[name] = role
        return kinds, time_column

    def attach(self) -> None:
        """Resample the declared columns onto the layer's frames and store them on it."""
        layer = self.traces.value
        meta = traces_of(layer.metadata) if layer in self.viewer.layers else None
        if meta is None:
            show_error("No traces layer: extract traces or open a suite2p folder first.")
            return
        n_frames = int(meta["traces"].shape[0])
        kinds, time_column = self.declared()
        try:
            labels = make_label_set(
                self.columns, kinds, time_column=time_column, fs=self.rate.value or None
            )
            labels = align_labels(labels, n_frames, fs=meta.get("fs"))
        except (ValueError, TypeError) as err:
            show_error(f"Labels not attached: {err}")
            self.status.setText(f"Not attached: {err}")
            return
        meta.setdefault("labels", {}).update(labels.columns)
        meta.setdefault("label_kinds", {}).update(labels.kinds)
        session_flow.hand_on(self.viewer, "traces", layer)  # Train, Decode
        self.status.setText(f"Attached {', '.join(labels.kinds)} to {layer.name!r} "
                            f"({n_frames} frames).")
