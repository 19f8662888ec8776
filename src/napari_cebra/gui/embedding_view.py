"""The embedding as Points in a second napari canvas, docked beside the main viewer.

Linked both ways to the session's time axis: the main time slider moves a cursor (and a short
trail) through the embedding; clicking a point moves the slider to that frame, and selecting
many points publishes their frames (``frames_selected`` and the source layer's
``metadata["napari_cebra"]["selected_frames"]``). Only a display subsample is drawn for long
sessions; the data stays whole in the source layer's metadata.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.components import ViewerModel
from napari.layers import Layer
from napari.qt import QtViewer
from napari.utils.colormaps import ensure_colormap
from qtpy.QtCore import QRectF, Qt, Signal
from qtpy.QtGui import QColor, QLinearGradient, QPainter
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_cebra.contracts import META_KEY, embedding_of, time_axis_of, traces_of
from napari_cebra.gui import registry
from napari_cebra.gui.forms import layer_picker
from napari_cebra.gui.layers import same_layer
from napari_cebra.views import display_indices, project

if TYPE_CHECKING:
    import napari

# Distinct colours for discrete labels (cycled).
PALETTE = np.array([
    [0.12, 0.47, 0.71], [1.00, 0.50, 0.05], [0.17, 0.63, 0.17], [0.84, 0.15, 0.16],
    [0.58, 0.40, 0.74], [0.55, 0.34, 0.29], [0.89, 0.47, 0.76], [0.50, 0.50, 0.50],
    [0.74, 0.74, 0.13], [0.09, 0.75, 0.81],
], dtype=np.float32)
CONTINUOUS_CMAP = "viridis"
SPLIT = "train/test"  # colour option when part of the session was held out


def embedding_sources(viewer: napari.Viewer) -> list[Layer]:
    """Layers of ``viewer`` that hold a trained embedding (metadata contract)."""
    return [layer for layer in viewer.layers if embedding_of(layer.metadata) is not None]


def colors_for(values: np.ndarray, kind: str) -> tuple[np.ndarray, dict[str, Any]]:
    """RGBA per value and a legend description: a colormap range or class → colour."""
    values = np.asarray(values)
    if kind == "discrete":
        classes, inverse = np.unique(values, return_inverse=True)
        rgb = PALETTE[inverse.reshape(-1) % len(PALETTE)]
        rgba = np.concatenate([rgb, np.ones((len(rgb), 1), np.float32)], axis=1)
        legend = {"kind": "discrete",
                  "classes": [(str(c), PALETTE[i % len(PALETTE)]) for i, c in enumerate(classes)]}
        return rgba, legend
    v = values.astype(np.float64)
    lo, hi = (float(np.nanmin(v)), float(np.nanmax(v))) if v.size else (0.0, 1.0)
    scaled = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
    cmap = ensure_colormap(CONTINUOUS_CMAP)
    rgba = np.asarray(cmap.map(scaled.reshape(-1)), dtype=np.float32)
    return rgba, {"kind": "continuous", "cmap": cmap, "range": (lo, hi)}


class Legend(QWidget):
    """A colourbar (continuous) or colour swatches (discrete) for the embedding's colouring."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.legend: dict[str, Any] = {}
        self.title = ""
        self.setMinimumHeight(42)

    def set_legend(self, title: str, legend: dict[str, Any]) -> None:
        self.title, self.legend = title, legend
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        if not self.legend:
            return
        painter = QPainter(self)
        painter.setPen(QColor("white"))
        width = self.width()
        painter.drawText(QRectF(0, 0, width, 14), Qt.AlignmentFlag.AlignLeft, self.title)
        if self.legend["kind"] == "continuous":
            gradient = QLinearGradient(0, 0, width, 0)
            for stop in np.linspace(0, 1, 11):
                r, g, b, a = self.legend["cmap"].map(np.array([stop]))[0]
                gradient.setColorAt(float(stop), QColor.fromRgbF(r, g, b, a))
            painter.fillRect(QRectF(0, 16, width, 8), gradient)
            lo, hi = self.legend["range"]
            painter.drawText(QRectF(0, 25, width, 16), Qt.AlignmentFlag.AlignLeft, f"{lo:.4g}")
            painter.drawText(QRectF(0, 25, width - 2, 16), Qt.AlignmentFlag.AlignRight,
                             f"{hi:.4g}")
        else:
            x = 0.0
            for name, (r, g, b) in self.legend["classes"][:12]:
                painter.fillRect(QRectF(x, 18, 12, 12), QColor.fromRgbF(r, g, b))
                painter.drawText(QRectF(x + 15, 16, 60, 16), Qt.AlignmentFlag.AlignLeft, name)
                x += 20 + 8 * len(name)
                if x > width:
                    break
        painter.end()


class EmbeddingView(QWidget):
    """Dock widget: the embedding of one traces layer, in its own napari canvas."""

    frames_selected = Signal(object)  # np.ndarray of frames picked in the embedding

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        registry.register(napari_viewer, "embedding", self)
        self.source: Layer | None = None
        self._record: dict[str, Any] | None = None
        self._coords: np.ndarray | None = None  # (T, 2|3) projected, every frame
        self._shown: np.ndarray = np.zeros(0, dtype=np.int64)  # frames drawn
        self._syncing = False

        self.viewer_model = ViewerModel(title="CEBRA embedding")
        self.qt_viewer = QtViewer(self.viewer_model)
        self.qt_viewer.setMinimumSize(300, 300)
        self.points = self.trail = self.cursor = None
        self._make_controls()
        self._lay_out()
        self._connect()
        self.refresh_sources()

    def _make_controls(self) -> None:
        self.source_box = layer_picker(self.viewer, label="Embedding of",
                                       filter=lambda x: embedding_of(x.metadata) is not None)
        self.color_box = QComboBox()
        self.dim_boxes = [QSpinBox() for _ in range(3)]
        self.pca_box = QCheckBox("PCA")
        self.pca_box.setToolTip("Show the first 3 principal components of a > 3-D embedding.")
        self.max_points = QSpinBox()
        self.max_points.setRange(1_000, 1_000_000)
        self.max_points.setSingleStep(10_000)
        self.max_points.setValue(50_000)
        self.max_points.setToolTip("Most points drawn; longer sessions are strided for display.")
        self.trail_length = QSpinBox()
        self.trail_length.setRange(0, 1_000)
        self.trail_length.setValue(30)
        self.save_button = QPushButton("Save embedding…")
        self.legend = Legend()
        self.info = QLabel("Train a model to see its embedding here.")
        self.info.setWordWrap(True)

    def _lay_out(self) -> None:
        form = QFormLayout()
        form.addRow("Embedding of", self.source_box.native)
        form.addRow("Colour by", self.color_box)
        dims_row = QHBoxLayout()
        for box in self.dim_boxes:
            dims_row.addWidget(box)
        dims_row.addWidget(self.pca_box)
        form.addRow("Show dims", dims_row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Trail"))
        row.addWidget(self.trail_length)
        row.addWidget(QLabel("Max drawn"))
        row.addWidget(self.max_points)
        layout = QVBoxLayout(self)
        layout.addWidget(self.qt_viewer, stretch=1)
        layout.addWidget(self.legend)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.save_button)
        layout.addWidget(self.info)

    def _connect(self) -> None:
        self.source_box.changed.connect(self._on_source_box)
        self.color_box.currentTextChanged.connect(lambda _: self._recolor())
        for box in self.dim_boxes:
            box.valueChanged.connect(self._on_dims_changed)
        self.pca_box.toggled.connect(self._on_dims_changed)
        self.max_points.valueChanged.connect(lambda _: self._redraw())
        self.trail_length.valueChanged.connect(lambda _: self.update_cursor())
        self.save_button.clicked.connect(self._save_dialog)
        self.viewer.dims.events.current_step.connect(self.update_cursor)
        self.viewer.layers.events.inserted.connect(self.refresh_sources)
        self.viewer.layers.events.renamed.connect(self.refresh_sources)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        self.viewer_model.mouse_drag_callbacks.append(self._on_mouse)
        self.destroyed.connect(_make_closer(self))

    # ------------------------------------------------------------------ public API
    @classmethod
    def for_viewer(cls, viewer: napari.Viewer) -> EmbeddingView:
        """The view docked in ``viewer``, docking a new one if there is none."""
        view = registry.find(viewer, "embedding")
        if isinstance(view, cls) and view.qt_viewer is not None:
            return view
        view = cls(viewer)
        viewer.window.add_dock_widget(view, name="CEBRA embedding", area="right")
        return view

    def show_source(self, layer: Layer) -> None:
        """Show the embedding stored on ``layer`` (``metadata["napari_cebra"]["embedding"]``)."""
        self.refresh_sources()
        if not any(x is layer for x in self.source_box.choices):
            raise ValueError(f"layer {layer.name!r} holds no embedding.")
        if self.source_box.value is layer:
            self._set_source(layer)
        else:
            self.source_box.value = layer

    def refresh_sources(self, event=None) -> None:
        with self.source_box.changed.blocked():
            self.source_box.reset_choices()
            if self.source is not None and self.source in self.source_box.choices:
                self.source_box.value = self.source  # the layer shown stays chosen
        if self.source is None and self.source_box.value is not None:
            self._on_source_box(self.source_box.value)

    def frame_of_point(self, index: int) -> int:
        """Session frame of the drawn point ``index``."""
        return int(self._shown[int(index)])

    def current_frame(self) -> int:
        axis = self._time_axis()
        step = self.viewer.dims.current_step
        return int(step[axis]) if axis < len(step) else 0

    def go_to_frame(self, frame: int) -> None:
        """Move the main viewer's time slider to ``frame``."""
        axis = self._time_axis()
        if axis < self.viewer.dims.ndim:
            self.viewer.dims.set_current_step(axis, int(frame))

    def pick(self, index: int) -> int:
        """Clicking the drawn point ``index``: the main viewer goes to its frame."""
        frame = self.frame_of_point(index)
        self.go_to_frame(frame)
        return frame

    def select_frames(self, frames: np.ndarray) -> None:
        """Publish frames picked in the embedding to the source layer and listeners."""
        frames = np.unique(np.asarray(frames, dtype=np.int64))
        record = None if self.source is None else traces_of(self.source.metadata)
        if record is not None:
            record["selected_frames"] = frames
        shown = ", ".join(str(f) for f in frames[:8]) + (" …" if len(frames) > 8 else "")
        self.info.setText(f"{len(frames)} frame(s) selected: {shown}")
        self.frames_selected.emit(frames)
        # Other docks that can mark frames (e.g. a trace view) do so.
        for widget in registry.offering(self.viewer, "highlight_frames"):
            if widget is not self:
                widget.highlight_frames(frames)

    def close_view(self) -> None:
        """Disconnect from the main viewer and close the embedding canvas (idempotent)."""
        if self.qt_viewer is None:
            return
        for emitter, slot in ((self.viewer.dims.events.current_step, self.update_cursor),
                              (self.viewer.layers.events.inserted, self.refresh_sources),
                              (self.viewer.layers.events.renamed, self.refresh_sources),
                              (self.viewer.layers.events.removed, self._on_layer_removed)):
            emitter.disconnect(slot)
        self.viewer_model.mouse_drag_callbacks.clear()
        self.viewer_model.layers.clear()
        self.qt_viewer.close()
        self.qt_viewer = None
        self.points = self.trail = self.cursor = None
        self.source = self._record = None

    # ------------------------------------------------------------------ drawing
    def _time_axis(self) -> int:
        if self.source is None:
            return 0
        return time_axis_of(traces_of(self.source.metadata))

    def _on_source_box(self, layer: Layer | None) -> None:
        if self.qt_viewer is not None and layer is not None and layer in self.viewer.layers:
            self._set_source(layer)

    def _on_layer_removed(self, event) -> None:
        if self.source is not None and same_layer(event.value, self.source):
            self.source = self._record = self._coords = None
            self.viewer_model.layers.clear()
            self.points = self.trail = self.cursor = None
        self.refresh_sources()

    def _set_source(self, layer: Layer) -> None:
        self.source = layer
        self._record = embedding_of(layer.metadata)
        emb = np.asarray(self._record["embedding"])
        d = emb.shape[1]
        self._syncing = True
        for i, box in enumerate(self.dim_boxes):
            box.setRange(0, max(d - 1, 0))
            box.setValue(min(i, d - 1))
            box.setEnabled(d > 3)
        self.pca_box.setEnabled(d > 3)
        if d <= 3:
            self.pca_box.setChecked(False)
        self._syncing = False
        self.color_box.blockSignals(True)
        self.color_box.clear()
        self.color_box.addItem("time")
        self.color_box.addItems(list(self._record.get("labels", {})))
        mask = self._record.get("train_mask")
        if mask is not None and not np.all(mask):
            self.color_box.addItem(SPLIT)
        self.color_box.blockSignals(False)
        self._redraw()

    def set_dims(self, spec: str | tuple[int, int, int]) -> None:
        """Choose the drawn dims of a > 3-D embedding: ``"pca"`` or three indices."""
        self._syncing = True
        if isinstance(spec, str):
            self.pca_box.setChecked(spec.lower() == "pca")
        else:
            self.pca_box.setChecked(False)
            for box, value in zip(self.dim_boxes, spec, strict=True):
                box.setValue(int(value))
        self._syncing = False
        self._redraw()

    def _dims_spec(self) -> str | tuple[int, ...]:
        if self.pca_box.isChecked():
            return "pca"
        return tuple(box.value() for box in self.dim_boxes)

    def _on_dims_changed(self, *_) -> None:
        if not self._syncing:
            self._redraw()

    def _redraw(self) -> None:
        """Rebuild the points layer (new source, dims or subsample)."""
        if self._record is None:
            return
        emb = np.asarray(self._record["embedding"])
        self._coords = project(emb, self._dims_spec())
        self._shown = display_indices(len(emb), self.max_points.value())
        coords = self._coords[self._shown]
        extent = float(np.ptp(self._coords, axis=0).max()) if len(coords) else 1.0
        size = max(extent, 1e-6) * 0.012
        features = {"frame": self._shown}
        for name, values in self._record.get("labels", {}).items():
            features[name] = np.asarray(values)[self._shown]
        self.viewer_model.layers.clear()
        ndim = coords.shape[1]
        self.points = self.viewer_model.add_points(
            coords, name="embedding", size=size, features=features, border_width=0,
            metadata={META_KEY: {"kind": "embedding", **self._record}},  # for the writer
        )
        self.trail = self.viewer_model.add_vectors(
            np.zeros((1, 2, ndim)), edge_color="white", edge_width=size * 0.4,
            vector_style="line", name="trail",
        )
        self.cursor = self.viewer_model.add_points(
            np.zeros((1, ndim)), size=size * 5, face_color="red", border_color="white",
            border_width=0.2, name="cursor",
        )
        self.viewer_model.dims.ndisplay = 3 if ndim == 3 else 2
        self.viewer_model.layers.selection.active = self.points
        self.points.selected_data.events.items_changed.connect(self._on_selection)
        self._recolor()
        self.viewer_model.reset_view()
        self.update_cursor()
        self.info.setText(
            f"{len(emb):,} frames × {emb.shape[1]} dims from {self.source.name!r}"
            + (f" (drawing {len(self._shown):,})" if len(self._shown) < len(emb) else "")
            + ". Click a point to go to its frame; select points to mark their frames."
        )

    def _recolor(self) -> None:
        if self.points is None or self._record is None:
            return
        column = self.color_box.currentText() or "time"
        if column == "time":
            values, kind = self._shown, "continuous"
        elif column == SPLIT:
            train = np.asarray(self._record["train_mask"])[self._shown]
            values, kind = np.where(train, "train", "test"), "discrete"
        else:
            values = np.asarray(self._record["labels"][column])[self._shown]
            kind = self._record.get("label_kinds", {}).get(column, "continuous")
        rgba, legend = colors_for(values, kind)
        self.points.face_color = rgba
        self.legend.set_legend(column, legend)

    def update_cursor(self, event=None) -> None:
        """Move the cursor and trail to the main viewer's frame (only these layers redraw)."""
        if self.cursor is None or self._coords is None:
            return
        frame = int(np.clip(self.current_frame(), 0, len(self._coords) - 1))
        self.cursor.data = self._coords[frame:frame + 1]
        start = max(0, frame - self.trail_length.value())
        path = self._coords[start:frame + 1]
        if len(path) < 2:
            path = np.repeat(self._coords[frame:frame + 1], 2, axis=0)
        # The trail: one segment (start, step) per pair of consecutive frames.
        self.trail.data = np.stack([path[:-1], np.diff(path, axis=0)], axis=1)

    # ------------------------------------------------------------------ picking
    def _on_selection(self, event=None) -> None:
        if self.points is None or self._syncing:
            return
        picked = np.fromiter(self.points.selected_data, dtype=np.int64)
        if len(picked) == 0:
            return
        frames = self._shown[picked]
        if len(frames) == 1:
            self.go_to_frame(int(frames[0]))
        self.select_frames(frames)

    def point_at(self, position, view_direction=None, dims_displayed=None) -> int | None:
        """Index of the drawn point under a world position (and view ray, in 3-D)."""
        if self.points is None:
            return None
        value = self.points.get_value(position, view_direction=view_direction,
                                      dims_displayed=dims_displayed, world=True)
        return None if value is None else int(value)

    def _on_mouse(self, viewer: ViewerModel, event):
        """Click (press + release without drag) on a point → go to its frame."""
        index = self.point_at(event.position, getattr(event, "view_direction", None),
                              list(getattr(event, "dims_displayed", []) or []) or None)
        yield
        moved = False
        while event.type == "mouse_move":
            moved = True
            yield
        if index is not None and not moved:
            self.pick(index)

    def _save_dialog(self) -> None:
        if self.points is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save embedding", f"{self.source.name}-embedding.h5",
            "Embedding (*.h5 *.csv *.npy)")
        if path:
            from napari_cebra.gui.writers import write_embedding

            write_embedding(path, self.points.data, {"metadata": self.points.metadata,
                                                     "features": self.points.features})

    @property
    def record(self) -> dict[str, Any] | None:
        return self._record


def _make_closer(view: EmbeddingView):
    """A slot for the dock's ``destroyed``: close the canvas and break reference cycles, so
    neither the second QtViewer nor its model outlive the main window."""
    view_ref = weakref.ref(view)

    def close(*_):
        alive = view_ref()
        if alive is not None:
            alive.close_view()

    return close
