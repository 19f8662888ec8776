"""The "Decode" dock widget: which movie frame was on screen, decoded from the neurons.

The science is :mod:`napari_cebra.analysis.frame_decoding`; this widget picks the inputs,
runs the protocol's generator on a ``thread_worker`` (Cancel → ``worker.quit()``), and shows
what comes back: the decoded frames as an Image layer on the session's time axis beside the
true stimulus frames, a predicted-vs-true plot following the slider, the results table with
baselines and controls, goodness of fit, and the consistency matrix across sessions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image, Layer
from napari.utils.notifications import show_error
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_cebra.contracts import embedding_record, has_traces, time_axis_of, traces_of
from napari_cebra.gui import registry, session_flow
from napari_cebra.gui.combos import follow_layers, refill_layers
from napari_cebra.gui.frame_plot import FramePlot
from napari_cebra.gui.jobs import JobRunner, RunsJobs
from napari_cebra.gui.layers import traces_layers
from napari_cebra.gui.model_source import (
    FROM_FILE,
    FROM_TRAIN_WIDGET,
    ask_model_file,
    checked_model_file,
    train_widget_model,
)
from napari_cebra.views import lazy_frames

if TYPE_CHECKING:
    import napari

TRAIN_HERE = "Train here"


@dataclass
class DecodeJob:
    """Everything a run needs, captured when Run is pressed (layers by identity)."""

    traces_layer: Layer
    movie_layer: Image
    neural: np.ndarray
    frame_id: np.ndarray
    repeat: np.ndarray
    fs: float
    movie: np.ndarray
    kwargs: dict[str, Any]
    sessions: list[tuple[str, np.ndarray]] = field(default_factory=list)  # for consistency
    time_axis: int = 0


def decode_job_steps(job: DecodeJob):
    """The worker body: the core's decoding-and-consistency job on the captured arrays."""
    from napari_cebra.analysis.consistency import decode_with_consistency_steps

    return (yield from decode_with_consistency_steps(
        job.neural, job.frame_id, job.repeat, job.fs, movie=job.movie, sessions=job.sessions,
        **job.kwargs))


class DecodeWidget(RunsJobs, QWidget):
    """Decode the movie frame (and continuous labels) of a test repeat, with controls."""

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        registry.register(napari_viewer, "decode", self)
        self.report = None
        self.consistency = None
        self.result_layers: dict[str, Layer] = {}
        self._model_path: Path | None = None
        self._time_axis = 0
        self._make_inputs()
        self._make_outputs()
        self._lay_out()
        self._connect()
        self.jobs = JobRunner(on_busy=self._set_busy, status=self.status.setText)
        self.refresh_layers()
        session_flow.follow_latest(self.viewer, self)  # the session's traces, movie, model

    def follow_session(self, role: str, output) -> None:
        """New traces or a newly trained model become the input (see session_flow)."""
        session_flow.decode_follows(self, role, output)

    def _make_inputs(self) -> None:
        self.traces_box = QComboBox()
        self.movie_box = QComboBox()
        self.frame_box = QComboBox()
        self.repeat_box = QComboBox()
        self.test_box = QComboBox()
        self.val_box = QComboBox()
        self.train_edit = QLineEdit()
        self.train_edit.setPlaceholderText("all other repeats")
        self.model_box = QComboBox()
        self.model_box.addItems([TRAIN_HERE, FROM_TRAIN_WIDGET, FROM_FILE])
        self.labels_box = QComboBox()
        self.labels_box.addItems(["movie", "phase", "time"])
        self.labels_box.setToolTip("CEBRA's training labels: PCA features of the frame on screen "
                                   "(movie), the frame's phase in the movie, or none (CEBRA-Time)")
        self.iter_spin = _spin(10, 100_000, 2000, 100)
        self.dim_spin = _spin(2, 128, 32)
        self.continuous_list = QListWidget()
        self.continuous_list.setMaximumHeight(60)
        self.raw_check = QCheckBox("raw traces")
        self.pca_check = QCheckBox("PCA")
        self.shuffle_labels_check = QCheckBox("labels shuffled (retrains)")
        self.shuffle_neural_check = QCheckBox("neural shuffled")
        for box in (self.raw_check, self.pca_check, self.shuffle_labels_check,
                    self.shuffle_neural_check):
            box.setChecked(True)
        self.sessions_list = QListWidget()
        self.sessions_list.setMaximumHeight(70)
        self.sessions_list.setToolTip("tick two or more to train a multi-session model and "
                                      "measure consistency")
        self.grid_check = QCheckBox("grid view of results")
        self.grid_check.setChecked(True)

    def _make_outputs(self) -> None:
        self.run_button = QPushButton("Decode")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.status = QLabel("Pick a traces layer with frame-id and repeat labels.")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["representation", "acc ±1 s", "median err",
                                              "k"])
        self.table.setMinimumHeight(150)
        self.fit_label = QLabel("")
        self.fit_label.setWordWrap(True)
        self.consistency_table = QTableWidget(0, 0)
        self.consistency_table.setVisible(False)
        self.plot = FramePlot()

    def _lay_out(self) -> None:
        form = QFormLayout()
        form.addRow("traces", self.traces_box)
        form.addRow("stimulus movie", self.movie_box)
        form.addRow("frame-id labels", self.frame_box)
        form.addRow("repeat labels", self.repeat_box)
        form.addRow("test repeat", self.test_box)
        form.addRow("validation repeat", self.val_box)
        form.addRow("train repeats", self.train_edit)
        form.addRow("model", self.model_box)
        form.addRow("CEBRA labels", self.labels_box)
        form.addRow("iterations", self.iter_spin)
        form.addRow("output dims", self.dim_spin)
        form.addRow("continuous labels", self.continuous_list)
        base = QHBoxLayout()
        base.addWidget(self.raw_check)
        base.addWidget(self.pca_check)
        form.addRow("baselines", base)
        ctrl = QVBoxLayout()
        ctrl.addWidget(self.shuffle_labels_check)
        ctrl.addWidget(self.shuffle_neural_check)
        form.addRow("controls", ctrl)
        form.addRow("consistency", self.sessions_list)
        form.addRow("", self.grid_check)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.table)
        layout.addWidget(self.fit_label)
        layout.addWidget(self.consistency_table)
        layout.addWidget(self.plot)

    def _connect(self) -> None:
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.traces_box.currentIndexChanged.connect(self._on_traces_changed)
        self.repeat_box.currentIndexChanged.connect(self._fill_repeats)
        self.model_box.currentTextChanged.connect(self._on_model_choice)
        follow_layers(self.viewer, self.refresh_layers)
        self.viewer.dims.events.current_step.connect(self._on_step)

    # ------------------------------------------------------------------ inputs
    def trace_layers(self) -> list[Layer]:
        return traces_layers(self.viewer)

    def movie_layers(self) -> list[Image]:
        return [layer for layer in self.viewer.layers
                if isinstance(layer, Image) and layer.ndim == 3
                and not has_traces(layer)
                and "napari_cebra_decoded" not in layer.metadata]

    def refresh_layers(self, event=None) -> None:
        for box, layers in ((self.traces_box, self.trace_layers()),
                            (self.movie_box, self.movie_layers())):
            refill_layers(box, layers)
        meta = self._meta()
        if meta is not None and meta.get("movie_layer") in self.viewer.layers:
            self.movie_box.setCurrentText(meta["movie_layer"])
        self._on_traces_changed()

    def _layer(self, name: str) -> Layer | None:
        return self.viewer.layers[name] if name in self.viewer.layers else None  # noqa: SIM401

    def _meta(self) -> dict | None:
        layer = self._layer(self.traces_box.currentText())
        return None if layer is None else traces_of(layer.metadata)

    def _on_traces_changed(self, *_) -> None:
        meta = self._meta() or {}
        kinds = meta.get("label_kinds", {})
        discrete = [k for k, v in kinds.items() if v == "discrete"]
        continuous = [k for k, v in kinds.items() if v == "continuous"]
        for box, guess in ((self.frame_box, "frame"), (self.repeat_box, "repeat")):
            box.blockSignals(True)
            box.clear()
            box.addItems(discrete)
            match = [d for d in discrete if guess in d.lower()]
            if match:
                box.setCurrentText(match[0])
            box.blockSignals(False)
        sessions = [f"{layer.name} :: {set_name}" for layer in self.trace_layers()
                    if not layer.name.startswith("aligned: ")
                    for set_name in (traces_of(layer.metadata).get("trace_sets")
                                     or {"traces": None})]
        for box, names in ((self.continuous_list, continuous), (self.sessions_list, sessions)):
            ticked = {box.item(i).text() for i in range(box.count())
                      if box.item(i).checkState() == _checked(True)}
            box.clear()
            for name in names:  # keep what the user ticked across layer changes
                item = QListWidgetItem(name)
                item.setCheckState(_checked(name in ticked))
                box.addItem(item)
        self._fill_repeats()

    def _fill_repeats(self, *_) -> None:
        meta = self._meta() or {}
        rep = meta.get("labels", {}).get(self.repeat_box.currentText())
        values = [] if rep is None else [str(int(v)) for v in np.unique(rep)]
        for box, pick in ((self.test_box, -1), (self.val_box, -2)):
            current = box.currentText()
            box.clear()
            box.addItems(values)
            if current in values:  # keep the user's choice when the layers change
                box.setCurrentText(current)
            elif len(values) >= 2:
                box.setCurrentIndex(len(values) + pick)

    def _on_model_choice(self, text: str) -> None:
        if text == FROM_FILE:
            path = ask_model_file(self)
            if path:
                self._model_path = path
            else:
                self.model_box.setCurrentText(TRAIN_HERE)

    def set_model_file(self, path: str | Path) -> None:
        """Decode with a saved model (what the "Model file…" choice does, without a dialog)."""
        self._model_path = Path(path)
        self.model_box.blockSignals(True)
        self.model_box.setCurrentText(FROM_FILE)
        self.model_box.blockSignals(False)

    def check_sessions(self, names: list[str]) -> None:
        """Tick the consistency sessions ``"layer :: trace set"``."""
        _tick(self.sessions_list, names)

    def check_continuous(self, names: list[str]) -> None:
        """Tick the continuous labels to decode too."""
        _tick(self.continuous_list, names)

    def build_job(self) -> DecodeJob:
        """Everything a run needs, read from the widget now (raises ValueError if unusable)."""
        traces_layer = self._layer(self.traces_box.currentText())
        movie_layer = self._layer(self.movie_box.currentText())
        meta = None if traces_layer is None else traces_of(traces_layer.metadata)
        if meta is None:
            raise ValueError("choose a traces layer (one carrying napari_cebra traces).")
        if movie_layer is None:
            raise ValueError("choose the stimulus movie layer (an Image: frames × H × W).")
        labels = meta.get("labels", {})
        frame_name, repeat_name = self.frame_box.currentText(), self.repeat_box.currentText()
        if frame_name not in labels or repeat_name not in labels:
            raise ValueError(f"{traces_layer.name!r} needs discrete frame-id and repeat labels; "
                             "declare them in its metadata (label_kinds 'discrete').")
        if not self.test_box.currentText() or not self.val_box.currentText():
            raise ValueError("choose the test and validation repeats (the repeat labels need "
                             "at least 3 repeats).")
        if frame_name == repeat_name:
            raise ValueError("frame-id and repeat labels must be two different columns.")
        movie = np.asarray(movie_layer.data, dtype=np.float32)
        frame_id = np.asarray(labels[frame_name]).astype(np.int64)
        if frame_id.max() >= len(movie):
            raise ValueError(f"frame ids reach {frame_id.max()} but {movie_layer.name!r} has "
                             f"{len(movie)} frames; pick the movie that was shown.")
        fs = meta.get("fs")
        if not fs:
            raise ValueError(f"{traces_layer.name!r} has no frame rate (fs); the ±1 s "
                             "tolerance needs it.")
        repeat = np.asarray(labels[repeat_name]).astype(np.int64)
        return DecodeJob(traces_layer, movie_layer, np.asarray(meta["traces"], np.float32),
                         frame_id, repeat, float(fs), movie, self._decode_kwargs(labels, repeat),
                         self._sessions(len(frame_id)), time_axis_of(meta))

    def _model(self):
        """The model the "model" choice names, or ``None`` to train one here."""
        choice = self.model_box.currentText()
        if choice == FROM_TRAIN_WIDGET:
            return train_widget_model(self.viewer, "choose 'Train here' (train it with the "
                                      "test repeat held out)")
        if choice == FROM_FILE:
            from napari_cebra.model_files import load_model

            model, _, _ = load_model(checked_model_file(self._model_path))
            return model
        return None

    def _decode_kwargs(self, labels: dict, repeat: np.ndarray) -> dict[str, Any]:
        """The keyword arguments of the core's decoding job, from the widget's settings."""
        train_text = self.train_edit.text().strip()
        train = [int(v) for v in train_text.replace(" ", "").split(",") if v] or None
        cont = {name: np.asarray(labels[name], dtype=np.float64)
                for name in _ticked(self.continuous_list)}
        test = int(self.test_box.currentText())
        if self.model_box.currentText() == FROM_TRAIN_WIDGET:
            session_flow.check_model_unseen(registry.find(self.viewer, "train"), repeat, test)
        n_train = int(np.isin(repeat, train).sum()) if train else int((repeat != test).sum())
        return dict(
            model=self._model(), labels=self.labels_box.currentText(),
            cebra_params=dict(max_iterations=self.iter_spin.value(),
                              output_dimension=self.dim_spin.value(),
                              batch_size=max(2, min(512, n_train))),
            train_repeats=train, validation_repeat=int(self.val_box.currentText()),
            test_repeat=test,
            baselines=[n for n, c in (("raw", self.raw_check), ("pca", self.pca_check))
                       if c.isChecked()],
            controls=[n for n, c in (("labels", self.shuffle_labels_check),
                                     ("neural", self.shuffle_neural_check)) if c.isChecked()],
            continuous=cont, progress_every=10,
        )

    def _sessions(self, n_frames: int) -> list[tuple[str, np.ndarray]]:
        """The ticked consistency sessions ``("layer :: trace set", (T, N) traces)``."""
        sessions = []
        for text in _ticked(self.sessions_list):
            layer_name, set_name = text.split(" :: ")
            layer = self._layer(layer_name)
            record = None if layer is None else traces_of(layer.metadata)
            if record is None:
                raise ValueError(f"{text}: layer {layer_name!r} is gone or carries no traces.")
            x = (record.get("trace_sets") or {}).get(set_name, record["traces"])
            if len(x) != n_frames:
                raise ValueError(f"{text} has {len(x)} time points; consistency needs "
                                 f"the {n_frames} of the decoded session (same movie "
                                 "labels).")
            sessions.append((text, np.asarray(x, np.float32)))
        return sessions

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        if self.running:
            return
        try:
            job = self.build_job()
        except (ValueError, TypeError, FileNotFoundError, RuntimeError) as err:
            show_error(f"Decode: {err}")
            self.status.setText(str(err))
            return
        self.status.setText("Starting…")
        self.jobs.start(decode_job_steps(job), desc="Decoding frames",
                        on_progress=self._on_progress,
                        on_result=lambda result: self._show(result, job),
                        error=lambda err: f"Decoding failed: {err}")

    def _set_busy(self, busy: bool) -> None:
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _on_progress(self, batch: list) -> None:
        event = batch[-1]
        loss = f" (loss {event.loss:.3f})" if event.loss == event.loss else ""  # NaN: none
        self.status.setText(f"{event.message}{loss}")

    def _show(self, result, job: DecodeJob) -> None:
        if job.movie_layer not in self.viewer.layers:
            show_error("The movie layer was removed while decoding; the result was dropped.")
            return
        self.report, self.consistency = result
        self.show_results(job)

    def show_results(self, job: DecodeJob) -> None:
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
        if self.grid_check.isChecked():
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
        self.status.setText(f"Repeat {rep.test_repeat}: {name} decodes {best.accuracy:.1%} of "
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

    def _show_consistency(self, job: DecodeJob) -> None:
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

    def _show_aligned(self, job: DecodeJob) -> None:
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


def _ticked(box: QListWidget) -> list[str]:
    return [box.item(i).text() for i in range(box.count())
            if box.item(i).checkState() == _checked(True)]


def _tick(box: QListWidget, names: list[str]) -> None:
    for i in range(box.count()):
        item = box.item(i)
        item.setCheckState(_checked(item.text() in names))


def _checked(on: bool):
    from qtpy.QtCore import Qt

    return Qt.CheckState.Checked if on else Qt.CheckState.Unchecked


def _spin(lo: int, hi: int, value: int, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    return box
