"""The "Decode" dock widget: which movie frame was on screen, decoded from the neurons.

The science is :mod:`napari_cebra.analysis.frame_decoding`; this widget is the inputs (layers
and the labels they carry), the :class:`~napari_cebra.job_settings.DecodeSettings` form, the
protocol's generator on a worker (:class:`~napari_cebra.gui.jobs.JobRunner`, Cancel) and the
result view (:class:`~napari_cebra.gui.decode_results.DecodeResults`): decoded frames beside
the true ones on the session's time axis, the results table, goodness of fit, consistency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, LineEdit, Select
from napari.layers import Image, Layer
from napari.utils.notifications import show_error
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from napari_cebra.contracts import has_traces, time_axis_of, traces_of
from napari_cebra.gui import registry, session_flow
from napari_cebra.gui.decode_results import DecodeResults
from napari_cebra.gui.forms import SettingsForm, choose, layer_picker
from napari_cebra.gui.jobs import JobRunner, RunsJobs, run_buttons
from napari_cebra.gui.layers import layer_named, traces_layers
from napari_cebra.gui.model_source import FROM_FILE, FROM_TRAIN_WIDGET, ModelChoice
from napari_cebra.job_settings import DecodeSettings

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


def is_movie(layer: Layer) -> bool:
    """A stimulus movie: a frames × H × W Image that is neither traces nor a decoded result."""
    return (isinstance(layer, Image) and layer.ndim == 3 and not has_traces(layer)
            and "napari_cebra_decoded" not in layer.metadata)


class DecodeWidget(RunsJobs, QWidget):
    """Decode the movie frame (and continuous labels) of a test repeat, with controls."""

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        registry.register(napari_viewer, "decode", self)
        self._repeat_column: tuple = ()  # (traces layer, repeat column) the repeats are of
        self.status = QLabel("Pick a traces layer with frame-id and repeat labels.")
        self.status.setWordWrap(True)
        self.results = DecodeResults(napari_viewer, self.status.setText)
        self.traces = layer_picker(napari_viewer, filter=has_traces, label="traces")
        self.movie = layer_picker(napari_viewer, Image, filter=is_movie, label="stimulus movie")
        self.frame_label = ComboBox(label="frame-id labels", choices=self._discrete)
        self.repeat_label = ComboBox(label="repeat labels", choices=self._discrete)
        self.test_repeat = ComboBox(label="test repeat", choices=self._repeats)
        self.val_repeat = ComboBox(label="validation repeat", choices=self._repeats)
        self.train_repeats = LineEdit(label="train repeats")
        self.train_repeats.native.setPlaceholderText("all other repeats")
        self.model = ModelChoice(self, napari_viewer, [TRAIN_HERE, FROM_TRAIN_WIDGET, FROM_FILE],
                                 fallback=TRAIN_HERE)
        self.continuous = Select(label="continuous labels", choices=self._continuous)
        self.sessions = Select(label="consistency", choices=self._sessions_offered,
                               tooltip="choose two or more to train a multi-session model and "
                               "measure consistency")
        self.grid = CheckBox(text="grid view of results", value=True)
        self.inputs = Container(widgets=[
            self.traces, self.movie, self.frame_label, self.repeat_label, self.test_repeat,
            self.val_repeat, self.train_repeats, self.model.box])
        self.form = SettingsForm(DecodeSettings)
        self.extras = Container(widgets=[self.continuous, self.sessions, self.grid])
        for box in (self.continuous, self.sessions):
            box.native.setMaximumHeight(70)
        buttons = run_buttons(self, "Decode")
        layout = QVBoxLayout(self)
        for part in (self.inputs.native, self.form.native, self.extras.native):
            layout.addWidget(part)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.results)
        self.traces.changed.connect(self._on_traces_changed)
        self.repeat_label.changed.connect(self._fill_repeats)
        self.jobs = JobRunner(on_busy=self._set_busy, status=self.status.setText)
        self.refresh_layers()
        session_flow.follow_latest(self.viewer, self)  # the session's traces, movie, model

    def follow_session(self, role: str, output) -> None:
        """New traces or a newly trained model become the input (see session_flow)."""
        session_flow.decode_follows(self, role, output)

    # ------------------------------------------------------------------ inputs
    def trace_layers(self) -> list[Layer]:
        return traces_layers(self.viewer)

    def _meta(self) -> dict:
        layer = self.traces.value
        return (None if layer is None else traces_of(layer.metadata)) or {}

    def _discrete(self, _widget=None) -> list[str]:
        return [k for k, v in self._meta().get("label_kinds", {}).items() if v == "discrete"]

    def _continuous(self, _widget=None) -> list[str]:
        return [k for k, v in self._meta().get("label_kinds", {}).items() if v == "continuous"]

    def _repeats(self, _widget=None) -> list[str]:
        rep = self._meta().get("labels", {}).get(self.repeat_label.value)
        return [] if rep is None else [str(int(v)) for v in np.unique(rep)]

    def _sessions_offered(self, _widget=None) -> list[str]:
        return [f"{layer.name} :: {set_name}" for layer in self.trace_layers()
                if not layer.name.startswith("aligned: ")
                for set_name in (traces_of(layer.metadata).get("trace_sets")
                                 or {"traces": None})]

    def refresh_layers(self, event=None) -> None:
        self.traces.reset_choices()
        self.movie.reset_choices()
        self._on_traces_changed()

    def _on_traces_changed(self, *_) -> None:
        named = self._meta().get("movie_layer")
        if named in self.viewer.layers and is_movie(self.viewer.layers[named]):
            choose(self.movie, named)  # the movie the traces name
        for box, guess in ((self.frame_label, "frame"), (self.repeat_label, "repeat")):
            with box.changed.blocked():
                box.reset_choices()
                match = [d for d in box.choices if guess in d.lower()]
                if match:
                    box.value = match[0]
        self.continuous.reset_choices()
        self.sessions.reset_choices()
        self._fill_repeats()

    def _fill_repeats(self, *_) -> None:
        column = (id(self.traces.value), self.repeat_label.value)
        same, self._repeat_column = column == self._repeat_column, column
        for box, pick in ((self.test_repeat, -1), (self.val_repeat, -2)):
            current = box.value
            box.reset_choices()
            values = list(box.choices)
            if same and current in values:  # the user's choice stays when layers change
                box.value = current
            elif len(values) >= 2:
                box.value = values[pick]

    def set_model_file(self, path: str | Path) -> None:
        """Decode with a saved model (what the "Model file…" choice does, without a dialog)."""
        self.model.set_file(path)

    def check_sessions(self, names: list[str]) -> None:
        """Choose the consistency sessions ``"layer :: trace set"``."""
        self.sessions.value = [n for n in names if n in self.sessions.choices]

    def check_continuous(self, names: list[str]) -> None:
        """Choose the continuous labels to decode too."""
        self.continuous.value = [n for n in names if n in self.continuous.choices]

    def build_job(self) -> DecodeJob:
        """Everything a run needs, read from the widget now (raises ValueError if unusable)."""
        traces_layer, movie_layer = self.traces.value, self.movie.value
        meta = None if traces_layer is None else traces_of(traces_layer.metadata)
        if meta is None:
            raise ValueError("choose a traces layer (one carrying napari_cebra traces).")
        if movie_layer is None or movie_layer not in self.viewer.layers:
            raise ValueError("choose the stimulus movie layer (an Image: frames × H × W).")
        labels = meta.get("labels", {})
        frame_name, repeat_name = self.frame_label.value, self.repeat_label.value
        if frame_name not in labels or repeat_name not in labels:
            raise ValueError(f"{traces_layer.name!r} needs discrete frame-id and repeat labels; "
                             "declare them in its metadata (label_kinds 'discrete').")
        if not self.test_repeat.value or not self.val_repeat.value:
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
        if self.model.value == FROM_TRAIN_WIDGET:
            return self.model.trained("choose 'Train here' (train it with the test repeat "
                                      "held out)")
        if self.model.value == FROM_FILE:
            from napari_cebra.model_files import load_model

            return load_model(self.model.file())[0]
        return None

    def _decode_kwargs(self, labels: dict, repeat: np.ndarray) -> dict[str, Any]:
        """The keyword arguments of the core's decoding job, from the widget's settings."""
        settings = self.form.settings
        train_text = self.train_repeats.value.strip()
        train = [int(v) for v in train_text.replace(" ", "").split(",") if v] or None
        cont = {name: np.asarray(labels[name], dtype=np.float64)
                for name in self.continuous.value}
        test = int(self.test_repeat.value)
        if self.model.value == FROM_TRAIN_WIDGET:
            session_flow.check_model_unseen(registry.find(self.viewer, "train"), repeat, test)
        n_train = int(np.isin(repeat, train).sum()) if train else int((repeat != test).sum())
        return dict(
            model=self._model(), labels="movie" if settings.labels == "auto" else settings.labels,
            cebra_params={**settings.cebra_params(n_train), "device": settings.device},
            train_repeats=train, validation_repeat=int(self.val_repeat.value), test_repeat=test,
            baselines=list(settings.baselines), controls=list(settings.controls),
            continuous=cont, progress_every=10)

    def _sessions(self, n_frames: int) -> list[tuple[str, np.ndarray]]:
        """The chosen consistency sessions ``("layer :: trace set", (T, N) traces)``."""
        sessions = []
        for text in self.sessions.value:
            layer_name, set_name = text.split(" :: ")
            layer = layer_named(self.viewer, layer_name)
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
        self.results.grid = bool(self.grid.value)
        self.results.show(*result, job)


# the result view's parts, read on the widget by scripts and tests
for _name in ("report", "consistency", "result_layers", "table", "fit_label",
              "consistency_table", "plot"):
    setattr(DecodeWidget, _name, property(lambda self, _n=_name: getattr(self.results, _n)))
