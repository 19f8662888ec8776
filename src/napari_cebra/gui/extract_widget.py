""""Extract traces (suite2p)" dock widget: a thin shell around ``imaging.extract_steps``.

The :class:`~napari_cebra.job_settings.ExtractSettings` form, the stack (a layer or a file)
captured when Run is pressed, the core generator on a worker through
:class:`~napari_cebra.gui.jobs.JobRunner` (progress in the Activity dock, Cancel), and the
results bound to that stack: mean image, registered movie, ROI Labels carrying the traces. A
cancelled or failed run adds nothing and leaves no output folder behind.
"""

from __future__ import annotations

from pathlib import Path

import napari
from magicgui.widgets import CheckBox, Container, FileEdit
from napari.layers import Image
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from napari_cebra.gui import registry, session_flow
from napari_cebra.gui.forms import SettingsForm, choose, layer_picker, path_of
from napari_cebra.gui.jobs import JobRunner, RunsJobs, run_buttons
from napari_cebra.imaging.output_folders import default_output_dir
from napari_cebra.imaging.session import ImagingSession, extract_steps
from napari_cebra.imaging.stacks import open_stack, validate_stack
from napari_cebra.job_settings import ExtractSettings

from .layers import session_layers


def is_stack(layer) -> bool:
    """A movie suite2p can run on: an Image of three or more dimensions, not RGB."""
    return isinstance(layer, Image) and layer.ndim >= 3 and not layer.rgb


def _path(edit: FileEdit) -> str:
    path = path_of(edit)
    return "" if path is None else str(path)


class ExtractWidget(RunsJobs, QWidget):
    """Pick a stack and suite2p's main settings; run; get ROIs and traces as layers."""

    extracted = Signal(object)  # the ROI Labels layer, once added

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        registry.register(napari_viewer, "extract", self)
        self.stack = layer_picker(napari_viewer, Image, filter=is_stack, label="Image layer")
        self.stack_file = FileEdit(label="Stack file", mode="r",
                                   filter="Stacks (*.tif *.tiff *.npy)",
                                   tooltip="or a stack file (TIFF, .npy, folder of TIFFs)")
        self.out_dir = FileEdit(label="Output folder", mode="d",
                                tooltip="a fresh folder by default")
        self.overwrite = CheckBox(text="replace suite2p results already in that folder")
        self.inputs = Container(widgets=[self.stack, self.stack_file, self.out_dir,
                                         self.overwrite])
        self.form = SettingsForm(ExtractSettings)
        self.status = QLabel("Choose a stack, then press Extract traces.")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.inputs.native)
        layout.addWidget(self.form.native)
        layout.addLayout(run_buttons(self, "Extract traces"))
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.stack.changed.connect(self._on_layer_changed)
        napari_viewer.layers.events.inserted.connect(self.refresh_layers)
        self.refresh_layers()
        self.jobs = JobRunner(on_busy=self._set_busy, status=self.status.setText)

    # ------------------------------------------------------------------ inputs
    def stack_layers(self) -> list[Image]:
        return [layer for layer in self.viewer.layers if is_stack(layer)]

    def refresh_layers(self, event=None) -> None:
        """A stack that carries frame labels is offered first (session_flow)."""
        self.stack.reset_choices()
        preferred = session_flow.preferred_stack(self.stack_layers())
        if preferred is not None:
            choose(self.stack, preferred)
        self._on_layer_changed()

    def _on_layer_changed(self, *_) -> None:
        """A stack that carries its frame rate (frame labels) sets the frame rate."""
        fs = session_flow.carried_fs(self.selected_layer())
        if fs:
            self.form["fs"].value = fs

    def selected_layer(self) -> Image | None:
        return self.stack.value

    def settings(self) -> ExtractSettings:
        return self.form.settings

    def _source(self):
        """(data or path, name, source layer or None); raises a clear error if none."""
        path = _path(self.stack_file)
        if path:
            validate_stack(open_stack(path), path)  # lazy: fails now, not on the worker
            return path, Path(path).stem or Path(path).name, None
        layer = self.selected_layer()
        if layer is None:
            raise ValueError("No stack: add a movie (File ▸ Open) or give a stack file.")
        data = layer.data[0] if layer.multiscale else layer.data
        validate_stack(data, f"layer {layer.name!r}")
        return data, layer.name, layer

    def _frame_rate(self, settings: ExtractSettings, source, layer) -> float:
        """The form's frame rate, else the one the stack declares; a clear error if none."""
        from napari_cebra.imaging.stacks import frame_rate_of

        fs = settings.fs or session_flow.carried_fs(layer)
        if fs is None and isinstance(source, str):
            fs = frame_rate_of(source)
        if not fs:
            raise ValueError("Frame rate: the stack does not declare one; set it in Hz.")
        return float(fs)

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        """Start suite2p on a worker; results go to the stack chosen now."""
        if self.running:
            return
        try:
            settings = self.settings()
            source, name, layer = self._source()
            params = settings.params(self._frame_rate(settings, source, layer))
            params.validate()
        except (ValueError, TypeError, FileNotFoundError) as err:
            show_error(str(err))
            self.status.setText(f"Not started: {err}")
            return
        out = _path(self.out_dir) or None
        if out is None and layer is not None:  # next to the layer's file, when it has one
            path = layer.source.path or layer.metadata.get("source_path")
            out = default_output_dir(path) if path else None
        geometry, time_axis = {}, 0
        if layer is not None:
            geometry = {"scale": tuple(layer.scale[-2:]), "translate": tuple(layer.translate[-2:])}
            time_axis = max(0, self.viewer.dims.ndim - layer.ndim)  # layer axis 0 in the viewer
        job = {"layer": layer, "name": name, "geometry": geometry, "time_axis": time_axis}
        steps = extract_steps(
            source, fs=params.fs, tau=params.tau, diameter=params.diameter,
            registration=params.registration, detection=params.detection, out_dir=out,
            overwrite=bool(self.overwrite.value), baseline=settings.baseline_params())
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
