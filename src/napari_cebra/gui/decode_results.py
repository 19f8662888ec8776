"""The Decode widget's result view: decoded and true frames as layers, the results table
with baselines and controls, goodness of fit, the consistency matrix and the frame plot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from napari.utils.notifications import show_error
from qtpy.QtWidgets import QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from napari_cebra.contracts import embedding_record
from napari_cebra.gui.frame_plot import FramePlot
from napari_cebra.views import lazy_frames


class DecodeResults(QWidget):
    """What a decoding run found, bound to the layers it ran on (see ``show``)."""

    def __init__(self, viewer: Any, status: Callable[[str], Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer, self.status = viewer, status
        self.report = self.consistency = None
        self.grid = True  # results side by side in napari's grid view
        self.result_layers: dict[str, Any] = {}
        self._time_axis = 0
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["representation", "acc ±1 s", "median err",
                                              "k"])
        self.table.setMinimumHeight(150)
        self.fit_label = QLabel("")
        self.fit_label.setWordWrap(True)
        self.consistency_table = QTableWidget(0, 0)
        self.consistency_table.setVisible(False)
        self.plot = FramePlot()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for part in (self.table, self.fit_label, self.consistency_table, self.plot):
            layout.addWidget(part)
        viewer.dims.events.current_step.connect(self._on_step)

    def show(self, report, consistency, job) -> None:
        """Show ``report`` (and ``consistency``) of ``job``: layers, table, plot."""
        self.report, self.consistency = report, consistency
        rep = self.report
        name = "cebra" if any(r.name == "cebra" for r in rep.results) else rep.results[0].name
        t0 = int(rep.test_index[0])
        movie = job.movie
        scale = tuple(job.movie_layer.scale[-2:])
        translate = [0.0] * 3
        translate[0] = float(t0)
        true_name = f"true frames (repeat {rep.test_repeat})"
        dec_name = f"decoded frames ({name}, repeat {rep.test_repeat})"
        for key, layer_name, frames in (("true", true_name, rep.true_frames),
                                        ("decoded", dec_name, rep.result(name).prediction)):
            data = lazy_frames(movie, frames)  # read frame by frame when drawn
            if layer_name in self.viewer.layers:
                self.viewer.layers.remove(layer_name)
            layer = self.viewer.add_image(
                data, name=layer_name, colormap="gray", contrast_limits=(0.0, 1.0)
                if movie.min() >= 0 and movie.max() <= 1 else None,
                translate=translate, scale=(1.0, *scale),
                metadata={"napari_cebra_decoded": {"frames": np.asarray(frames),
                                                   "test_repeat": rep.test_repeat,
                                                   "source": job.traces_layer.name}})
            self.result_layers[key] = layer
        if self.grid:
            # the stimulus movie is indexed by movie frame, not by time: out of the grid
            job.movie_layer.visible = False
            canvas = getattr(self.viewer, "canvas", None)  # napari ≥ 0.9
            (canvas.grid if canvas is not None else self.viewer.grid).enabled = True
        self._time_axis = job.time_axis
        self.viewer.dims.set_current_step(job.time_axis, t0)
        self._fill_table()
        self.plot.show_report(rep, name, job.kwargs.get("continuous"))
        self.plot.set_time(t0)
        if self.consistency is not None:
            self._show_consistency(job)
        best = rep.result(name)
        self.status(f"Repeat {rep.test_repeat}: {name} decodes {best.accuracy:.1%} of "
                            f"frames within ±1 s (chance {rep.chance:.1%}); median error "
                            f"{best.median_frame_error:.0f} frames.")

    def _fill_table(self) -> None:
        rep = self.report
        rows = [(r.name, f"{r.accuracy:.1%}", f"{r.median_frame_error:.0f} fr",
                 str(r.n_neighbors)) for r in rep.results]
        rows += [(f"{c.name} → {c.label}", f"R² {c.r2:.2f}", f"{c.median_abs_error:.3g}",
                  str(c.n_neighbors)) for c in rep.continuous]
        rows.append(("chance", f"{rep.chance:.1%}", "", ""))
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, text in enumerate(row):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        gof = ", ".join(f"{k}: {v:.2f} bits" for k, v in rep.goodness_of_fit_bits.items())
        if self.consistency is not None:
            gof += f"; multi-session: {self.consistency.goodness_of_fit_bits:.2f} bits"
        self.fit_label.setText(f"Goodness of fit — {gof}" if gof else "")

    def _show_consistency(self, job) -> None:
        res = self.consistency
        n = len(res.names)
        short = [name.split(" :: ")[-1] if len({x.split(' :: ')[0] for x in res.names}) == 1
                 else name for name in res.names]
        self.consistency_table.setRowCount(n)
        self.consistency_table.setColumnCount(n)
        self.consistency_table.setHorizontalHeaderLabels(short)
        self.consistency_table.setVerticalHeaderLabels(short)
        for i in range(n):
            for j in range(n):
                self.consistency_table.setItem(i, j, QTableWidgetItem(f"{res.matrix[i, j]:.2f}"))
        self.consistency_table.setVisible(True)
        self._show_aligned(job)

    def _show_aligned(self, job) -> None:
        """One hidden layer per session holding its aligned embedding, for the embedding view."""
        from napari_cebra.gui.layers import traces_layer

        res = self.consistency
        first = None
        labels = {"frame_id": job.frame_id, "repeat": job.repeat}
        kinds = {"frame_id": "discrete", "repeat": "discrete"}
        for (name, x), emb in zip(job.sessions, res.embeddings, strict=True):
            layer_name = f"aligned: {name}"
            if layer_name in self.viewer.layers:
                self.viewer.layers.remove(layer_name)
            embedding = embedding_record(emb, labels=labels, label_kinds=kinds,
                                         label_columns=["frame_id"], source=name)
            data, kwargs, _ = traces_layer(x, name=layer_name, labels=labels, label_kinds=kinds,
                                           fs=job.fs, embedding=embedding)
            layer = self.viewer.add_image(data, visible=False, **kwargs)
            first = first or layer
        try:
            from napari_cebra.gui.embedding_view import EmbeddingView

            EmbeddingView.for_viewer(self.viewer).show_source(first)
        except Exception as err:  # noqa: BLE001 - the view is optional; the table stays
            show_error(f"Could not show the aligned embeddings: {err}")

    def _on_step(self, event=None) -> None:
        if self.report is None:
            return
        axis = self._time_axis
        step = self.viewer.dims.current_step
        if axis < len(step):
            self.plot.set_time(step[axis])
