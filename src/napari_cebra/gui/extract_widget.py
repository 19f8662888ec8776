""""Extract traces (suite2p)" dock widget: a thin shell around ``imaging.extract_steps``.

It captures the chosen stack (layer or file) when Run is pressed, drives the core generator on
a worker through :class:`~napari_cebra.gui.jobs.JobRunner` (progress in the Activity dock,
Cancel), and
adds the results bound to that stack: mean image, registered movie, ROI Labels carrying the
traces. A cancelled or failed run adds nothing and leaves no output folder behind.
"""

from __future__ import annotations

from pathlib import Path

import napari
from napari.layers import Image
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Signal
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
    QVBoxLayout,
    QWidget,
)

from napari_cebra.gui import registry, session_flow
from napari_cebra.gui.combos import follow_layers, refill_layers
from napari_cebra.gui.jobs import JobRunner, RunsJobs
from napari_cebra.imaging.output_folders import default_output_dir
from napari_cebra.imaging.session import BaselineParams, ImagingSession, extract_steps
from napari_cebra.imaging.stacks import open_stack, validate_stack
from napari_cebra.imaging.suite2p_run import ExtractParams
from napari_cebra.imaging.traces import BASELINES

from .layers import session_layers


def _double(lo: float, hi: float, value: float, decimals: int = 2, step: float = 1.0):
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def _path_row(edit: QLineEdit, button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit, stretch=1)
    row.addWidget(button)
    return row


class ExtractWidget(RunsJobs, QWidget):
    """Pick a stack and suite2p's main settings; run; get ROIs and traces as layers."""

    extracted = Signal(object)  # the ROI Labels layer, once added

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        registry.register(napari_viewer, "extract", self)

        self.layer_box = QComboBox()
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("or a stack file (TIFF, .npy, folder of TIFFs)")
        self.file_button = QPushButton("Browse…")
        self.fs = _double(0.01, 10_000.0, 30.0, step=1.0)
        self.tau = _double(0.01, 100.0, 1.0, step=0.1)
        self.diameter = _double(2.0, 500.0, 12.0, decimals=1)
        self.registration = QComboBox()
        self.registration.addItems(["rigid", "nonrigid", "none"])  # REGISTRATION_MODES
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("a fresh folder (default)")
        self.out_button = QPushButton("Browse…")
        self.overwrite = QCheckBox("replace suite2p results already in that folder")
        self.neuropil = _double(0.0, 2.0, 0.7, step=0.05)
        self.baseline = QComboBox()
        self.baseline.addItems(list(BASELINES))
        self.baseline_window = _double(1.0, 10_000.0, 60.0, decimals=0, step=10.0)
        self.run_button = QPushButton("Extract traces")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.status = QLabel("Choose a stack, then press Extract traces.")
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Image layer", self.layer_box)
        form.addRow("Stack file", _path_row(self.file_edit, self.file_button))
        form.addRow("Frame rate (Hz)", self.fs)
        form.addRow("Decay time τ (s)", self.tau)
        form.addRow("Cell diameter (px)", self.diameter)
        form.addRow("Registration", self.registration)
        form.addRow("Output folder", _path_row(self.out_edit, self.out_button))
        form.addRow("", self.overwrite)
        form.addRow("Neuropil coeff.", self.neuropil)
        form.addRow("dF/F baseline", self.baseline)
        form.addRow("Baseline window (s)", self.baseline_window)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.layer_box.currentIndexChanged.connect(self._on_layer_changed)
        self.file_button.clicked.connect(self._browse_file)
        self.out_button.clicked.connect(self._browse_out)
        follow_layers(self.viewer, self.refresh_layers)
        self.refresh_layers()
        self.jobs = JobRunner(on_busy=self._set_busy, status=self.status.setText)

    # ------------------------------------------------------------------ inputs
    def stack_layers(self) -> list[Image]:
        return [
            layer for layer in self.viewer.layers
            if isinstance(layer, Image) and layer.ndim >= 3 and not layer.rgb
        ]

    def refresh_layers(self, event=None) -> None:
        layers = self.stack_layers()  # a stack carrying frame labels first (session_flow)
        if refill_layers(self.layer_box, layers, prefer=session_flow.preferred_stack(layers)):
            self._on_layer_changed()

    def _on_layer_changed(self, *_) -> None:
        """A stack that carries its frame rate (frame labels) sets the frame rate."""
        fs = session_flow.carried_fs(self.selected_layer())
        if fs:
            self.fs.setValue(fs)

    def selected_layer(self) -> Image | None:
        name = self.layer_box.currentText()
        return next((layer for layer in self.viewer.layers if layer.name == name), None)

    def params(self) -> tuple[ExtractParams, BaselineParams]:
        base = BaselineParams(
            neuropil_coefficient=self.neuropil.value(),
            method=self.baseline.currentText(),
            window_s=self.baseline_window.value(),
        )
        params = ExtractParams(
            fs=self.fs.value(),
            tau=self.tau.value(),
            diameter=self.diameter.value(),
            registration=self.registration.currentText(),
            neuropil_coefficient=base.neuropil_coefficient,
        )
        params.validate()
        return params, base

    def _source(self):
        """(data or path, name, source layer or None); raises a clear error if none."""
        path = self.file_edit.text().strip()
        if path:
            validate_stack(open_stack(path), path)  # lazy: fails now, not on the worker
            return path, Path(path).stem or Path(path).name, None
        layer = self.selected_layer()
        if layer is None:
            raise ValueError("No stack: add a movie (File ▸ Open) or give a stack file.")
        data = layer.data[0] if layer.multiscale else layer.data
        validate_stack(data, f"layer {layer.name!r}")
        return data, layer.name, layer

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        """Start suite2p on a worker; results go to the stack chosen now."""
        if self.running:
            return
        try:
            params, base = self.params()
            source, name, layer = self._source()
        except (ValueError, TypeError, FileNotFoundError) as err:
            show_error(str(err))
            self.status.setText(f"Not started: {err}")
            return
        out = self.out_edit.text().strip() or None
        if out is None and layer is not None:  # next to the layer's file, when it has one
            path = layer.source.path or layer.metadata.get("source_path")
            out = default_output_dir(path) if path else None
        geometry = {}
        time_axis = 0
        if layer is not None:
            geometry = {"scale": tuple(layer.scale[-2:]), "translate": tuple(layer.translate[-2:])}
            time_axis = max(0, self.viewer.dims.ndim - layer.ndim)  # layer axis 0 in the viewer
        job = {"layer": layer, "name": name, "geometry": geometry, "time_axis": time_axis}
        steps = extract_steps(
            source,
            fs=params.fs,
            tau=params.tau,
            diameter=params.diameter,
            registration=params.registration,
            out_dir=out,
            overwrite=self.overwrite.isChecked(),
            baseline=base,
        )
        self.status.setText(f"Running suite2p on {name!r}…")
        self.jobs.start(steps, desc=f"suite2p on {name}", on_progress=self._on_progress,
                        on_result=lambda session: self._add_results(session, job),
                        error=lambda err: f"suite2p extraction failed: {err}",
                        done_message="Cancelled; nothing was added.")

    def _set_busy(self, busy: bool) -> None:
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _on_progress(self, batch: list) -> None:
        event = batch[-1]
        self.status.setText(f"{event.stage}: {event.message[:80]}")

    def _add_results(self, session: ImagingSession, job: dict) -> None:
        """The extraction's layers, placed on the stack the run started from."""
        layer = job.get("layer")
        if layer is not None and layer not in self.viewer.layers:
            show_info(f"{job['name']!r} was removed during the run; results are added unplaced.")
        added = []
        for data, kwargs, kind in session_layers(
            session, job["name"], time_axis=job["time_axis"], source=job["name"],
            geometry=job["geometry"],
        ):
            added.append(getattr(self.viewer, f"add_{kind}")(data, **kwargs))
        n, cells = session.suite2p.n_rois, int(session.roi_features["iscell"].sum())
        self.status.setText(
            f"{n} ROIs ({cells} cells) from {job['name']!r} → {session.suite2p.plane_dir}"
        )
        source = layer if layer is not None and layer in self.viewer.layers else None
        session_flow.extracted(self.viewer, source, added[-1])  # the next steps' input
        self.extracted.emit(added[-1])

    # ------------------------------------------------------------------ dialogs
    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Stack", "", "Stacks (*.tif *.tiff *.npy);;All files (*)"
        )
        if path:
            self.file_edit.setText(path)

    def _browse_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Output folder")
        if path:
            self.out_edit.setText(path)
