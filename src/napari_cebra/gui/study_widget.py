"""The "Study" dock widget: the results table of ``napari-cebra batch``, one session at a time.

Open a ``results.csv`` (or its folder): the table is read and checked (every finished session's
traces and embedding files are there) on a worker, and every task becomes a row of the table.
Choosing a session (a finished ``final`` row) loads its traces as a traces layer
(docs/CONTRACTS.md, with its labels) and binds the task's embedding to it, shown in the CEBRA
embedding view. Both run on a worker (Cancel leaves the widget and the viewer as they were);
the table and the layers change only when everything is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from napari_cebra.contracts import embedding_record, traces_of
from napari_cebra.gui import registry
from napari_cebra.gui.jobs import JobRunner, RunsJobs, run_blocking_job
from napari_cebra.gui.layers import traces_layer
from napari_cebra.gui.tables import results_table, show_frame

if TYPE_CHECKING:
    import napari

#: the table's columns (the settings and scores a user compares)
SHOWN = ("session", "stage", "status", "val_score", "test_score", "score_kind",
         "model_architecture", "output_dimension", "max_iterations", "learning_rate",
         "temperature", "conditional", "error")


class StudyWidget(RunsJobs, QWidget):
    """Results table of a batch run; double-click (or Load) a session to view it."""

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self.frame = None  # the results DataFrame
        self.path: Path | None = None
        self.open_button = QPushButton("Open results…")
        self.load_button = QPushButton("Load session")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.table = results_table(select_rows=True)
        self.info = QLabel("Open the results.csv of 'napari-cebra batch'.")
        self.info.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table)
        layout.addWidget(self.info)
        self.open_button.clicked.connect(self._open_dialog)
        self.load_button.clicked.connect(self._load_selected)
        self.cancel_button.clicked.connect(self.cancel)
        self.jobs = JobRunner(on_busy=self._set_busy, status=self.info.setText)
        self.destroyed.connect(self.jobs.stop_when_closed)  # closed mid-load: add nothing
        self.table.cellDoubleClicked.connect(lambda row, _col: self._load_row(row))
        registry.register(self.viewer, "study", self)

    # ------------------------------------------------------------------ public API
    def open_results(self, path: str | Path) -> None:
        """Show a results table (``results.csv`` or the batch folder holding it); blocking
        (the Open button reads and checks it on a worker: :meth:`start_open`)."""
        self._fill(read_study_results(path))

    def start_open(self, path: str | Path) -> None:
        """Read and check a results table on a worker; the table changes when it is read."""
        if self.running:
            return
        self.info.setText(f"Reading {Path(path).name}…")
        self.jobs.start(run_blocking_job(read_study_results, path),
                        desc=f"Reading {Path(path).name}", on_result=self._fill,
                        done_message="Cancelled; the table is as it was.")

    def _fill(self, read: tuple) -> None:
        frame, path, missing = read
        self.frame, self.path = frame, path
        show_frame(self.table, self.frame, [c for c in SHOWN if c in self.frame.columns],
                   _text)
        done = self.frame[(self.frame["stage"] == "final") & (self.frame["status"] == "done")]
        failed = int((self.frame["status"] != "done").sum())
        text = (f"{len(self.frame)} tasks, {len(done)} sessions ready, {failed} failed. "
                "Double-click a finished 'final' row to load it.")
        if missing:
            text += f" Missing files: {'; '.join(missing[:3])}" + (" …" if len(missing) > 3
                                                                   else "") + "."
        self.info.setText(text)

    def sessions(self) -> list[str]:
        """Sessions with a finished final task (those that can be loaded)."""
        if self.frame is None:
            return []
        done = self.frame[(self.frame["stage"] == "final") & (self.frame["status"] == "done")]
        return list(dict.fromkeys(done["session"]))

    def load_session(self, session: str):
        """Add the session's traces layer with its embedding and show it; return the layer.
        (Blocking; the table's double-click and Load button read the files on a worker.)"""
        return self._show(self._read(self._final_row(session)))

    # ------------------------------------------------------------------ internals
    def _final_row(self, session: str) -> dict:
        if self.frame is None:
            raise ValueError("open a results table first.")
        rows = self.frame[(self.frame["session"] == session) & (self.frame["stage"] == "final")
                          & (self.frame["status"] == "done")]
        if rows.empty:
            raise ValueError(f"session {session!r} has no finished final task in "
                             f"{self.path}; choose one of {', '.join(self.sessions()) or 'none'}.")
        return rows.iloc[-1].to_dict()

    def _read(self, row: dict) -> tuple[dict, list]:
        """Everything the session shows, read from its files (no viewer access: a worker
        may run this): the task row and [(data, kwargs, kind)], the traces layer last."""
        from napari_cebra.batch.study import kind_of

        layers = []
        folder = self._resolve(row["traces"])
        if kind_of(folder) == "suite2p":  # also its mean image and ROI labels
            from napari_cebra.gui.layers import session_layers
            from napari_cebra.imaging.session import load_session

            layers += session_layers(load_session(folder), str(row["session"]),
                                     with_movie=False)
        data, kwargs = _layer_of(row, self._resolve)
        layers.append((data, kwargs, "image"))
        return row, layers

    def _show(self, read: tuple[dict, list]):
        """Add the layers read by :meth:`_read` (UI thread); return the traces layer."""
        from napari_cebra.gui.embedding_view import EmbeddingView

        row, layers = read
        for data, kwargs, kind in layers:
            layer = getattr(self.viewer, f"add_{kind}")(data, **kwargs)
        EmbeddingView.for_viewer(self.viewer).show_source(layer)
        self.info.setText(f"{row['session']}: {row['n_frames']} frames × {row['n_neurons']} "
                          f"neurons; validation {row['val_score']:.3f}, test "
                          f"{row['test_score']:.3f} ({row['score_kind']}).")
        return layer

    def _set_busy(self, busy: bool) -> None:
        self.load_button.setEnabled(not busy)
        self.open_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _resolve(self, text: str) -> Path:
        """A path of the table; relative ones are relative to the table's folder."""
        return _resolve(self.path, text)

    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open batch results", "",
                                              "Results table (results.csv);;CSV (*.csv)")
        if path:
            self.start_open(path)

    def _load_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            show_info("Choose a session row first.")
            return
        self._load_row(rows[0].row())

    def _load_row(self, index: int) -> None:
        if self.frame is None or not 0 <= index < len(self.frame) or self.running:
            return
        session = str(self.frame.iloc[index]["session"])
        try:
            row = self._final_row(session)
        except ValueError as err:
            show_error(str(err))
            return
        self.info.setText(f"Loading {session}…")
        self.jobs.start(run_blocking_job(self._read, row), desc=f"Loading {session}",
                        on_result=self._show,
                        done_message="Cancelled; the viewer is as it was.")


def _resolve(table: Path | None, text: str) -> Path:
    p = Path(str(text))
    if p.is_absolute() or p.exists() or table is None:
        return p
    return table.parent / p


def read_study_results(path: str | Path) -> tuple[Any, Path, list[str]]:
    """``(frame, results.csv path, missing files)``: the table read and checked — every
    finished session's traces and embedding named where they are missing. No viewer access:
    a worker runs this."""
    from napari_cebra.batch.results import RESULTS_NAME, read_results

    path = Path(path)
    frame = read_results(path)
    table = path / RESULTS_NAME if path.is_dir() else path
    done = frame[(frame["stage"] == "final") & (frame["status"] == "done")]
    missing = [f"{row['session']}: {column} {row[column]}"
               for row in done.to_dict("records") for column in ("traces", "embedding")
               if column in row and not _resolve(table, row[column]).exists()]
    return frame, table, missing


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _layer_of(row: dict, resolve) -> tuple:
    """The traces layer (data, kwargs) of a final task, its embedding record attached."""
    from napari_cebra.batch.study import kind_of
    from napari_cebra.batch.tasks import load_inputs, split_bounds
    from napari_cebra.embedding_files import load_embedding

    traces_path = resolve(row["traces"])
    kind = kind_of(traces_path)
    fs = None if row.get("fs") is None or np.isnan(float(row["fs"])) else float(row["fs"])
    session = {"session": row["session"], "path": str(traces_path), "kind": kind, "fs": fs}
    traces, fs = load_inputs(session)
    emb, time, labels = load_embedding(resolve(row["embedding"]))
    kinds = {k: ("discrete" if k == "class" else "continuous") for k in labels}
    data, kwargs, _ = traces_layer(traces, name=f"{row['session']} traces", labels=labels,
                                   label_kinds=kinds, fs=fs)
    _, val_end = split_bounds(len(emb), float(row["test_fraction"]))
    settings = {k: row[k] for k in ("model_architecture", "output_dimension", "max_iterations",
                                    "learning_rate", "temperature", "conditional") if k in row}
    record = traces_of(kwargs["metadata"])
    record["embedding"] = embedding_record(
        emb, time=time, train_mask=np.arange(len(emb)) < val_end, labels=labels,
        label_kinds=kinds, label_columns=[k for k in labels if row.get(
            "conditional") != "time"], settings=json.loads(json.dumps(settings, default=str)),
        source=row["session"])
    return data, kwargs
