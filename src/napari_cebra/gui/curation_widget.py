"""Curate a suite2p plane in napari: a thin shell over :mod:`napari_cebra.imaging.curation`.

Opening a plane folder adds, on one grid, its mean, enhanced mean, correlation map and max
projection, the registered movie (the time slider), the ROIs (coloured by cell / not cell or
any statistic) and an empty "draw" Labels layer; a raster of all ROIs (sorted by rastermap)
marks the current frame and moves it on a click. Click ROIs (Shift adds) and press **C** /
**N** or the buttons; filter on thresholds with live counts; delete, merge, add what was
painted; undo, redo; **Save** writes suite2p's files, **Discard** restores the originals.
"""

from __future__ import annotations

from pathlib import Path

import napari
import numpy as np
from napari.utils.notifications import show_error
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from napari_cebra.contracts import META_KEY, traces_of
from napari_cebra.imaging.roi_stats import STATISTICS, CellFilter

from . import registry, session_flow
from .forms import SettingsForm
from .layers import record_metadata, roi_colormap

CELL_COLOURS = "cell / not cell"


class CurationWidget(QWidget):
    """Inspect and curate one suite2p plane; see the module docstring."""

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        from .raster_view import RasterView

        super().__init__(parent)
        self.viewer = napari_viewer
        self.curation = None
        self.selected: list[int] = []
        self.layers: dict = {}
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("suite2p plane folder")
        browse = QPushButton("Open…")
        browse.clicked.connect(self._browse)
        self.colour_box = QComboBox()
        self.colour_box.addItems([CELL_COLOURS, *STATISTICS])
        self.colour_box.currentTextChanged.connect(lambda _: self._recolour())
        self.form = SettingsForm(CellFilter)
        self.form.changed.connect(lambda *_: self._show_counts())
        self.counts = QLabel()
        self.status = QLabel("Open a suite2p plane folder.")
        self.status.setWordWrap(True)
        self.raster = RasterView(on_time=self._set_time)
        row = QHBoxLayout()
        row.addWidget(self.folder), row.addWidget(browse)
        grid = QGridLayout()
        actions = [("Cell (C)", lambda: self.mark(True)),
                   ("Not cell (N)", lambda: self.mark(False)), ("Delete", self.delete),
                   ("Merge", self.merge), ("Add drawn ROI", self.add_drawn),
                   ("Soma-sized", self._soma_preset), ("Apply filter", self.apply_filter),
                   ("Undo", self.undo), ("Redo", self.redo), ("Save", self.save),
                   ("Discard", self.discard)]
        self.buttons: dict[str, QPushButton] = {}
        for i, (text, slot) in enumerate(actions):
            button = self.buttons[text.split(" (")[0]] = QPushButton(text)
            button.clicked.connect(self._guarded(slot))
            grid.addWidget(button, i // 3, i % 3)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(QLabel("Colour ROIs by"))
        layout.addWidget(self.colour_box)
        layout.addWidget(self.form.native)
        layout.addWidget(self.counts)
        layout.addLayout(grid)
        layout.addWidget(self.raster)
        layout.addWidget(self.status)
        self.viewer.dims.events.current_step.connect(self._time_moved)
        registry.register(napari_viewer, "curation", self)
        session_flow.follow_latest(napari_viewer, self)

    def follow_session(self, role: str, output) -> None:
        """Extract finished (a traces layer from a suite2p folder): open that plane."""
        folder = (traces_of(getattr(output, "metadata", None)) or {}).get("suite2p_dir")
        if role == "traces" and folder and self.curation is None:
            self._guarded(lambda: self.open_folder(folder), needs_plane=False)()

    # ------------------------------------------------------------------ opening
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "suite2p plane folder")
        if folder:
            self._guarded(lambda: self.open_folder(folder), needs_plane=False)()

    def open_folder(self, folder: str | Path) -> None:
        """Open a plane and show its layers (replacing those of a plane shown before)."""
        from napari_cebra.imaging.curation import Curation
        from napari_cebra.imaging.projections import PROJECTIONS, plane_projections

        curation = Curation.open(folder)
        for layer in self.layers.values():
            if layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
        self.curation, self.selected, self.layers = curation, [], {}
        self.folder.setText(str(curation.plane_dir))
        name = curation.plane_dir.name
        movie = curation._output.registered
        images = plane_projections(curation.ops, curation.shape, movie)
        for key, image in images.items():
            self.layers[key] = self.viewer.add_image(
                image, name=f"{name} {PROJECTIONS[key]}", colormap="gray",
                visible=key == "meanImgE")
        if movie is not None:
            self.layers["movie"] = self.viewer.add_image(movie, name=f"{name} registered",
                                                         colormap="gray", visible=False)
        rois = self.viewer.add_labels(curation.label_image(), name=f"{name} ROIs", opacity=0.6)
        rois.mouse_drag_callbacks.append(self._on_click)
        rois.bind_key("c", lambda _: self.mark(True), overwrite=True)
        rois.bind_key("n", lambda _: self.mark(False), overwrite=True)
        self.layers["rois"] = rois
        self.layers["draw"] = self.viewer.add_labels(
            np.zeros(curation.shape, np.int32), name=f"{name} draw ROI")
        self.viewer.layers.selection.active = rois
        self.refresh(raster=True)

    # ------------------------------------------------------------------ state → view
    def refresh(self, raster: bool = False) -> None:
        c = self.curation
        rois = self.layers["rois"]
        table = c.statistics()
        labels = c.label_image()
        if not np.array_equal(rois.data, labels):
            rois.data = labels
        rois.features = table.reset_index().assign(roi=np.arange(1, c.n_rois + 1),
                                                   iscell=table["cell"].to_numpy())
        if (rois.metadata.get(META_KEY) or {}).get("curation_hash") != c.hash:
            rois.metadata = record_metadata(self._traces_record())  # only when cells change
        self._recolour(table)
        self._show_counts(table)
        if raster or c.n_rois != len(self.raster.order):
            self._raster()
        self.status.setText(
            f"{c.plane_dir}: {c.n_rois} ROIs, {len(c.cells)} cells; selected "
            f"{self.selected}; curation {c.hash}"
            f"{' (unsaved)' if c.changed else ''}.")

    def _traces_record(self) -> dict:
        """The curated cells' traces (dF/F, F, Fneu, spks) for Train / Decode, with their
        suite2p indices and the curation's hash."""
        from napari_cebra.contracts import traces_record
        from napari_cebra.imaging.session import BaselineParams, dff_from_sets

        c, cells = self.curation, self.curation.cells
        sets = {name: c.traces(name)[cells].T.copy() for name in ("F", "Fneu", "spks")
                if c.traces(name) is not None}
        baseline = BaselineParams(neuropil_coefficient=c._coefficient)
        sets["dff"] = dff_from_sets(sets, c.fs, baseline)
        return traces_record(sets["dff"], fs=c.fs, trace_sets=sets, suite2p_dir=str(c.plane_dir),
                             neuropil_coefficient=baseline.neuropil_coefficient,
                             roi_indices=cells, curation_hash=c.hash)

    def _recolour(self, table=None) -> None:
        from matplotlib import colormaps
        from napari.utils.colormaps import DirectLabelColormap

        if self.curation is None:
            return
        table = self.curation.statistics() if table is None else table
        key = self.colour_box.currentText()
        if key == CELL_COLOURS:
            colours = roi_colormap(table["cell"].to_numpy())
        else:
            v = np.nan_to_num(table[key].to_numpy(float))
            lo, hi = np.percentile(v, [2, 98]) if v.size else (0, 1)
            rgba = colormaps["viridis"](np.clip((v - lo) / max(hi - lo, 1e-12), 0, 1))
            colours = {None: (0, 0, 0, 0), 0: (0, 0, 0, 0)}
            colours.update({i + 1: tuple(c) for i, c in enumerate(rgba)})
        for i in self.selected:
            colours[i + 1] = (1.0, 1.0, 1.0, 1.0)
        self.layers["rois"].colormap = DirectLabelColormap(color_dict=colours)

    def _show_counts(self, table=None) -> None:
        from napari_cebra.imaging.roi_stats import passing

        if self.curation is None:
            return
        table = self.curation.statistics() if table is None else table
        keep = passing(table, **self.thresholds())
        self.counts.setText(f"{int((keep & table['cell']).sum())} of {int(table['cell'].sum())}"
                            f" cells pass the filter ({int(keep.sum())} of {len(table)} ROIs).")

    def _raster(self) -> None:
        from napari_cebra.imaging.projections import raster_order
        from napari_cebra.imaging.traces import delta_f_over_f

        c = self.curation
        F, Fneu = c.traces("F"), c.traces("Fneu")
        dff = delta_f_over_f(F, Fneu, method="maximin" if c.fs else "constant", fs=c.fs)
        self.raster.show_raster(dff, raster_order(dff), c.fs)

    # ------------------------------------------------------------------ time
    def _set_time(self, frame: int) -> None:
        "movie" in self.layers and self.viewer.dims.set_current_step(0, frame)

    def _time_moved(self, event=None) -> None:
        if "movie" in self.layers and self.viewer.dims.ndim >= 3:
            self.raster.set_time(int(self.viewer.dims.current_step[0]))

    # ------------------------------------------------------------------ actions
    def _guarded(self, slot, needs_plane: bool = True):
        def run(*_):
            if self.curation is None and needs_plane:
                show_error("Open a suite2p plane folder first.")
                return
            try:
                slot()
            except Exception as err:  # noqa: BLE001 - shown to the user, view unchanged
                show_error(str(err))
        return run

    def _on_click(self, layer, event) -> None:
        value = layer.get_value(event.position, world=True)
        if value:
            self.select([int(value) - 1], add="Shift" in {str(m) for m in event.modifiers})

    def select(self, rois, add: bool = False) -> None:
        """Select ROIs (0-based indices), replacing the selection unless ``add``."""
        rois = [int(r) for r in np.atleast_1d(rois)]
        self.selected = sorted(set(self.selected) | set(rois)) if add else sorted(set(rois))
        self.refresh()

    def _need(self, n: int = 1) -> list[int]:
        if len(self.selected) < n:
            raise ValueError(f"select at least {n} ROI{'s' if n > 1 else ''} first "
                             "(click on the ROI layer; Shift-click adds).")
        return self.selected

    def mark(self, flag: bool) -> None:
        self.curation.set_cell(self._need(), flag), self.refresh()

    def delete(self) -> None:
        self.curation.remove(self._need())
        self.selected = []
        self.refresh()

    def merge(self) -> None:
        self.selected = [self.curation.merge(self._need(2))]
        self.refresh()

    def add_drawn(self) -> None:
        draw = self.layers["draw"]
        self.selected = self.curation.add(np.asarray(draw.data))
        draw.data = np.zeros_like(draw.data)
        self.refresh()

    def thresholds(self) -> dict:
        return self.form.settings.thresholds()

    def _soma_preset(self) -> None:
        self.form.set(CellFilter.soma())
        self._show_counts()

    def apply_filter(self) -> None:
        self.curation.filter(**self.thresholds()), self.refresh()

    def undo(self) -> None:
        self.curation.undo()
        self.selected = [i for i in self.selected if i < self.curation.n_rois]
        self.refresh()

    def redo(self) -> None:
        self.curation.redo(), self.refresh()

    def save(self) -> None:
        self.curation.save(), self.refresh()

    def discard(self) -> None:
        self.curation.discard()
        self.selected = []
        self.refresh(raster=True)
