"""Trace view: a ROI's trace over time, with a line at the current frame.

Pick a ROI by clicking it on a ROI layer or in the list; the time slider moves the line (only
the line is redrawn) and clicking the plot moves the slider. "Cell / not cell" flips the
ROI's ``iscell`` on the layer (features and colours). "Recompute dF/F" applies another neuropil
coefficient / baseline to the layer's F and Fneu (what training uses by default).
"""

from __future__ import annotations

import napari
import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from napari.layers import Layer
from napari.utils.notifications import show_error
from qtpy.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from napari_cebra.contracts import has_traces, time_axis_of, traces_of
from napari_cebra.gui import registry
from napari_cebra.gui.forms import SettingsForm, follow_layers, layer_picker
from napari_cebra.gui.layers import traces_layers
from napari_cebra.imaging.session import dff_from_sets
from napari_cebra.job_settings import ExtractSettings

from .layers import set_iscell


class TraceView(QWidget):
    """Plot one ROI's traces from a layer that carries them (docs/CONTRACTS.md)."""

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        registry.register(napari_viewer, "traces", self)
        self.layer: Layer | None = None
        self.roi: int | None = None  # label value (1-based) of the ROI shown

        self.rois = layer_picker(napari_viewer, filter=has_traces, label="ROI layer")
        self.set_box = QComboBox()
        self.roi_list = QListWidget()
        self.roi_list.setMaximumHeight(120)
        self.iscell_button = QPushButton("Cell / not cell")
        self.iscell_button.setToolTip("Flip whether the shown ROI counts as a cell.")
        # dF/F as Extract computes it: the same declared settings
        self.dff_form = SettingsForm(ExtractSettings, layout="horizontal", labels=False,
                                     only=("neuropil_coefficient", "baseline",
                                           "baseline_window"))
        self.dff_button = QPushButton("Recompute dF/F")
        self.figure = Figure(figsize=(4, 2.2), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(160)
        self.ax = self.figure.add_subplot(111)
        self.trace_line = self.ax.plot([], [], lw=0.8)[0]
        self.neuropil_line = self.ax.plot([], [], lw=0.6, color="0.6", label="Fneu")[0]
        self.frame_line = self.ax.axvline(0.0, color="tab:red", lw=1.0)
        # frames selected elsewhere (points picked in the embedding view), marked on the trace
        self.selection_marks = self.ax.plot([], [], "o", ms=3, color="tab:orange")[0]
        self.selected_frames = np.empty(0, dtype=np.int64)

        form = QFormLayout()
        form.addRow("ROI layer", self.rois.native)
        form.addRow("Trace", self.set_box)
        row = QHBoxLayout()
        row.addWidget(self.roi_list, stretch=1)
        row.addWidget(self.iscell_button)
        dff_row = QHBoxLayout()
        dff_row.addWidget(self.dff_form.native)
        dff_row.addWidget(self.dff_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addLayout(dff_row)
        layout.addWidget(self.canvas, stretch=1)

        self.rois.changed.connect(self._on_layer_changed)
        self.set_box.currentTextChanged.connect(lambda _: self.plot())
        self.roi_list.currentItemChanged.connect(self._on_list)
        self.iscell_button.clicked.connect(self.toggle_iscell)
        self.dff_button.clicked.connect(self.recompute_dff)
        self.canvas.mpl_connect("button_press_event", self._on_plot_click)
        self.viewer.dims.events.current_step.connect(self._on_step)
        follow_layers(self.viewer, self.refresh_layers)
        self.refresh_layers()

    # ------------------------------------------------------------------ layers
    def trace_layers(self) -> list[Layer]:
        return traces_layers(self.viewer)

    def refresh_layers(self, event=None) -> None:
        self.rois.reset_choices()
        if self.rois.value is not self.layer:
            self._on_layer_changed(self.rois.value)

    def _meta(self) -> dict:
        return (traces_of(self.layer.metadata) if self.layer is not None else None) or {}

    def _on_layer_changed(self, layer: Layer | None) -> None:
        if self.layer is not None and self._on_layer_click in self.layer.mouse_drag_callbacks:
            self.layer.mouse_drag_callbacks.remove(self._on_layer_click)
        self.layer = layer if layer in self.viewer.layers else None
        self.roi = None
        self.roi_list.blockSignals(True)
        self.roi_list.clear()
        self.set_box.blockSignals(True)
        self.set_box.clear()
        if self.layer is not None:
            meta = self._meta()
            sets = list(meta.get("trace_sets") or {}) or ["traces"]
            self.set_box.addItems(sets)
            if "dff" in sets:
                self.set_box.setCurrentText("dff")
            for roi, cell in self._roi_rows():
                item = QListWidgetItem(self._roi_text(roi, cell))
                item.setData(256, roi)  # Qt.UserRole
                self.roi_list.addItem(item)
            self.layer.mouse_drag_callbacks.append(self._on_layer_click)
        self.set_box.blockSignals(False)
        self.roi_list.blockSignals(False)
        self.plot()

    def _roi_rows(self) -> list[tuple[int, bool | None]]:
        n = int(self._meta()["traces"].shape[1])
        features = getattr(self.layer, "features", None)
        if features is not None and "roi" in features and len(features) == n:
            cells = features["iscell"] if "iscell" in features else [None] * n
            return [(int(r), None if c is None else bool(c))
                    for r, c in zip(features["roi"], cells, strict=True)]
        return [(i + 1, None) for i in range(n)]

    @staticmethod
    def _roi_text(roi: int, cell: bool | None) -> str:
        return f"ROI {roi}" + ("" if cell is None else (" · cell" if cell else " · not cell"))

    # ------------------------------------------------------------------ picking
    def select_roi(self, roi: int) -> None:
        """Show ROI ``roi`` (its label value, 1-based)."""
        for i in range(self.roi_list.count()):
            if self.roi_list.item(i).data(256) == roi:
                self.roi_list.setCurrentRow(i)
                return

    def _on_list(self, item, _previous=None) -> None:
        self.roi = None if item is None else int(item.data(256))
        self.plot()

    def _on_layer_click(self, layer, event) -> None:
        if event.button != 1 or "Shift" in {k.name for k in event.modifiers}:
            return
        value = layer.get_value(event.position, view_direction=event.view_direction,
                                dims_displayed=event.dims_displayed, world=True)
        if isinstance(value, (int, np.integer)) and value > 0:
            self.select_roi(int(value))

    # ------------------------------------------------------------------ plotting
    def time_axis(self) -> int:
        return time_axis_of(self._meta())

    def fs(self) -> float | None:
        fs = self._meta().get("fs")
        return float(fs) if fs else None

    def trace(self, name: str | None = None) -> np.ndarray | None:
        """The shown ROI's trace from set ``name`` (default: the chosen one)."""
        if self.layer is None or self.roi is None:
            return None
        meta = self._meta()
        name = name or self.set_box.currentText()
        matrix = (meta.get("trace_sets") or {}).get(name, meta["traces"])
        rows = [r for r, _ in self._roi_rows()]
        return np.asarray(matrix[:, rows.index(self.roi)])

    def _to_x(self, frame: float) -> float:
        fs = self.fs()
        return frame / fs if fs else frame

    def plot(self) -> None:
        """Redraw the trace (on ROI / layer / trace-set change only)."""
        y = self.trace()
        self.neuropil_line.set_data([], [])
        if y is None:
            self.trace_line.set_data([], [])
            self.ax.set_title("pick a ROI", fontsize=9)
        else:
            x = self._to_x(np.arange(len(y)))
            self.trace_line.set_data(x, y)
            lo, hi = float(y.min()), float(y.max())
            has_fneu = "Fneu" in (self._meta().get("trace_sets") or {})
            if self.set_box.currentText() == "F" and has_fneu:  # F with its neuropil
                fneu = self.trace("Fneu")
                self.neuropil_line.set_data(x, fneu)
                lo, hi = min(lo, float(fneu.min())), max(hi, float(fneu.max()))
            self.ax.set_xlim(x[0], x[-1] if len(x) > 1 else x[0] + 1)
            pad = 0.05 * ((hi - lo) or 1.0)
            self.ax.set_ylim(lo - pad, hi + pad)
            self.ax.set_title(f"{self.layer.name} · ROI {self.roi}", fontsize=9)
        self.ax.set_xlabel("time (s)" if self.fs() else "frame", fontsize=8)
        self.ax.set_ylabel(self.set_box.currentText(), fontsize=8)
        self._mark_selection(y)
        self._on_step()
        self.canvas.draw_idle()

    def highlight_frames(self, frames) -> None:
        """Mark frames chosen elsewhere (e.g. points selected in the embedding view)."""
        self.selected_frames = np.unique(np.asarray(frames, dtype=np.int64))
        self._mark_selection(self.trace())
        self.canvas.draw_idle()

    def _mark_selection(self, y: np.ndarray | None) -> None:
        if y is None:
            self.selection_marks.set_data([], [])
            return
        frames = self.selected_frames
        frames = frames[(frames >= 0) & (frames < len(y))]
        self.selection_marks.set_data(self._to_x(frames), y[frames])

    def current_frame(self) -> int:
        axis = self.time_axis()
        step = self.viewer.dims.current_step
        return int(step[axis]) if axis < len(step) else 0

    def _on_step(self, event=None) -> None:
        x = self._to_x(self.current_frame())
        self.frame_line.set_xdata([x, x])
        if event is not None:
            self.canvas.draw_idle()

    def _on_plot_click(self, event) -> None:
        if event.inaxes is not self.ax or event.xdata is None or self.layer is None:
            return
        fs = self.fs()
        frame = int(round(event.xdata * fs if fs else event.xdata))
        n = int(self._meta()["traces"].shape[0])
        self.viewer.dims.set_current_step(self.time_axis(), int(np.clip(frame, 0, n - 1)))

    # ------------------------------------------------------------------ editing
    def recompute_dff(self) -> None:
        """dF/F from the layer's F / Fneu with the chosen neuropil coefficient and baseline."""
        meta = self._meta()
        sets = meta.get("trace_sets") or {}
        if "F" not in sets:
            show_error("This layer has no raw F traces to recompute dF/F from.")
            return
        base = self.dff_form.settings.baseline_params()
        try:
            dff = dff_from_sets(sets, self.fs(), base)
        except ValueError as err:
            show_error(str(err))
            return
        sets["dff"] = dff
        meta["traces"] = dff
        meta["neuropil_coefficient"] = base.neuropil_coefficient
        self.plot()

    def toggle_iscell(self) -> None:
        layer, roi = self.layer, self.roi
        if layer is None or roi is None or "iscell" not in getattr(layer, "features", {}):
            show_error("Pick a ROI on a suite2p ROI layer first.")
            return
        rows = np.flatnonzero(layer.features["roi"].to_numpy() == roi)
        new = not bool(layer.features["iscell"].iloc[rows[0]])
        set_iscell(layer, roi, new)
        item = self.roi_list.currentItem()
        if item is not None:
            item.setText(self._roi_text(roi, new))
