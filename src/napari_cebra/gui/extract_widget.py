""""Extract traces (suite2p)" dock widget: a thin shell around ``imaging.extract_steps``.

It captures the chosen stack (layer or file) when Run is pressed, drives the core generator on
a napari ``thread_worker`` (progress in the Activity dock, Cancel calls ``worker.quit()``), and
adds the results bound to that stack: mean image, registered movie, ROI Labels carrying the
traces. A cancelled or failed run adds nothing and leaves no output folder behind.
"""

from __future__ import annotations

import threading
from pathlib import Path

import napari
from napari.layers import Image
from napari.qt.threading import thread_worker
from napari.utils import progress
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

from napari_cebra.imaging.session import BaselineParams, ImagingSession, extract_steps
from napari_cebra.imaging.stacks import open_stack, validate_stack
from napari_cebra.imaging.suite2p_run import ExtractParams, ExtractProgress, default_output_dir
from napari_cebra.imaging.traces import BASELINES

from ._imaging_layers import session_layers
from ._widget_utils import keep_triton_out


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


@thread_worker(ignore_errors=True)
def _drive(gen):
    """Run the core generator on a worker thread; its return value becomes ``returned``."""
    return (yield from gen)


class ExtractWidget(QWidget):
    """Pick a stack and suite2p's main settings; run; get ROIs and traces as layers."""

    extracted = Signal(object)  # the ROI Labels layer, once added

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        keep_triton_out()  # suite2p imports torch on the worker; see _widget_utils
        self.viewer = napari_viewer
        self.worker = None
        self.pbar: progress | None = None
        self.cleanup: threading.Thread | None = None  # closes a cancelled run off the UI thread
        self._gen = None
        self._job: dict | None = None
        self._cancelled = False

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
        self.file_button.clicked.connect(self._browse_file)
        self.out_button.clicked.connect(self._browse_out)
        self.viewer.layers.events.inserted.connect(self.refresh_layers)
        self.viewer.layers.events.removed.connect(self.refresh_layers)
        self.refresh_layers()

    # ------------------------------------------------------------------ inputs
    def stack_layers(self) -> list[Image]:
        return [
            layer for layer in self.viewer.layers
            if isinstance(layer, Image) and layer.ndim >= 3 and not layer.rgb
        ]

    def refresh_layers(self, event=None) -> None:
        current = self.layer_box.currentText()
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        for layer in self.stack_layers():
            self.layer_box.addItem(layer.name)
        if current:
            self.layer_box.setCurrentText(current)
        self.layer_box.blockSignals(False)

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
    @property
    def running(self) -> bool:
        return self.worker is not None

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
        self._job = {"layer": layer, "name": name, "geometry": geometry, "time_axis": time_axis}
        self._cancelled = False
        self._gen = extract_steps(
            source,
            fs=params.fs,
            tau=params.tau,
            diameter=params.diameter,
            registration=params.registration,
            out_dir=out,
            overwrite=self.overwrite.isChecked(),
            baseline=base,
        )
        self.pbar = progress(total=100, desc=f"suite2p on {name}")
        worker = _drive(self._gen)
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_finished)
        self._set_running(worker)
        self.status.setText(f"Running suite2p on {name!r}…")
        worker.start()

    def cancel(self) -> None:
        """Stop the run; nothing is added and its new output folder is removed."""
        if self.worker is not None:
            self._cancelled = True
            self.status.setText("Cancelling…")
            self.worker.quit()

    def _set_running(self, worker) -> None:
        self.worker = worker
        self.run_button.setEnabled(worker is None)
        self.cancel_button.setEnabled(worker is not None)

    def _on_progress(self, event: ExtractProgress) -> None:
        if self._cancelled:  # a late event from before the cancel
            return
        pbar = self.pbar  # updating it can process events that close it
        if pbar is not None:
            pbar.set_description(f"suite2p: {event.stage}")
            target = int(round(100 * event.fraction))
            if target > pbar.n:
                pbar.update(target - pbar.n)
        self.status.setText(f"{event.stage}: {event.message[:80]}")

    def _on_returned(self, session: ImagingSession | None) -> None:
        job = self._job or {}
        if session is None or self._cancelled:
            return
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
        self.extracted.emit(added[-1])

    def _on_errored(self, err: Exception) -> None:
        show_error(f"suite2p extraction failed: {err}")
        self.status.setText(f"Failed: {err}")

    def _on_aborted(self) -> None:
        self._cancelled = True
        gen, self._gen = self._gen, None
        if gen is not None:  # closing waits for suite2p to stop: do it off the UI thread
            self.cleanup = threading.Thread(target=gen.close, name="suite2p-cancel", daemon=True)
            self.cleanup.start()

    def _on_finished(self) -> None:
        if self._cancelled:
            self.status.setText("Cancelled; nothing was added.")
        if self.pbar is not None:
            self.pbar.close()
            self.pbar = None
        self._job = None
        self._set_running(None)

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
