"""The Train CEBRA widget: a real (tiny) run on its worker, cancel, errors, binding, files."""

from __future__ import annotations

import time

import numpy as np
from qtpy.QtCore import QTimer

from napari_cebra.contracts import META_KEY
from napari_cebra.gui import train_widget as tw
from napari_cebra.gui.embedding_view import EmbeddingView
from napari_cebra.gui.layers import traces_layer
from napari_cebra.synthetic.hippocampus import hippocampus_session

TINY = {"iterations": 30, "batch_size": 64, "hidden_units": 16}


def add_session(viewer, name="session", n_samples=1200, seed=0):
    s = hippocampus_session(n_neurons=30, n_samples=n_samples, seed=seed)
    data, kwargs, _ = traces_layer(
        s.neural, name=name, fs=s.fs,
        labels={"position": s.position, "direction": s.direction},
        label_kinds={"position": "continuous", "direction": "discrete"})
    return viewer.add_image(data, **kwargs)


def make_widget(viewer, qtbot, **values):
    widget = tw.TrainWidget(viewer)
    viewer.window.add_dock_widget(widget)
    settings = {**TINY, **values}
    widget.form["max_iterations"].value = settings["iterations"]
    widget.form["batch_size"].value = settings["batch_size"]
    widget.form["num_hidden_units"].value = settings["hidden_units"]
    widget.form["model_architecture"].value = settings.get("model", "offset5-model")
    qtbot.waitUntil(lambda: not widget.warm_up.is_running, timeout=30_000)
    return widget


def wait_done(widget, qtbot, timeout=60_000):
    qtbot.waitUntil(lambda: not widget.running, timeout=timeout)


def test_lists_trace_layers_and_declared_labels(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((5, 4, 4)), name="no traces")
    add_session(viewer, "A")
    widget = make_widget(viewer, qtbot)
    assert [layer.name for layer in widget.traces.choices] == ["A"]
    assert widget.mode_label.text().startswith("CEBRA-Time")
    assert not widget.hybrid.enabled
    widget.set_label_columns(["position", "direction"])
    assert widget.label_columns() == ("position", "direction")
    assert widget.mode_label.text() == "CEBRA-Behaviour: position, direction"
    widget.hybrid.value = True
    assert widget.settings().hybrid
    assert widget.mode_label.text().startswith("CEBRA-Hybrid")


def test_device_list_shows_each_cuda_gpu(make_napari_viewer, qtbot, monkeypatch):
    import torch

    viewer = make_napari_viewer()
    plain = make_widget(viewer, qtbot)
    keys = list(plain.form["device"].choices)
    assert keys[:2] == ["auto", "cpu"]
    n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert keys[2:] == [f"cuda:{i}" for i in range(n_gpus)]
    # Listing only: pretend two GPUs exist.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"Fake GPU {i}")
    widget = tw.TrainWidget(viewer)
    assert list(widget.form["device"].choices) == ["auto", "cpu", "cuda:0", "cuda:1"]
    assert "Fake GPU 1" in widget.form["device"].native.itemText(3)
    widget.form["device"].value = "cuda:1"
    assert widget.settings().device == "cuda:1"
    qtbot.waitUntil(lambda: not widget.warm_up.is_running, timeout=30_000)


def test_train_on_worker_binds_embedding_to_layer(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    layer = add_session(viewer)
    widget = make_widget(viewer, qtbot)
    widget.set_label_columns(["position"])
    widget.form["test_fraction"].value = 0.2
    widget.start()
    assert widget.running and widget.cancel_button.isEnabled()
    assert not widget.train_button.isEnabled()
    assert widget.pbar is not None
    wait_done(widget, qtbot)
    record = layer.metadata[META_KEY]["embedding"]
    assert record["embedding"].shape == (1200, 3)
    assert np.isfinite(record["embedding"]).all()
    assert record["label_columns"] == ["position"]
    assert record["train_mask"].sum() == 960
    assert len(widget.loss_curve.losses) == 30 == len(record["loss"])
    assert widget.pbar is None and widget.train_button.isEnabled()
    assert widget.status.text().startswith("Embedding of 'session': 1200 frames × 3 dims")
    view = EmbeddingView.for_viewer(viewer)
    assert view.source is layer
    assert view.points.data.shape == (1200, 3)
    view.color_box.setCurrentText("train/test")  # the held-out end of the session
    assert [name for name, _ in view.legend.legend["classes"]] == ["test", "train"]


def test_cancel_mid_run_leaves_viewer_as_it_was(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    layer = add_session(viewer)
    before = dict(layer.metadata[META_KEY])
    widget = make_widget(viewer, qtbot, iterations=100_000)
    widget.start()
    qtbot.waitUntil(lambda: len(widget.loss_curve.losses) >= 3, timeout=30_000)
    widget.cancel()
    wait_done(widget, qtbot, timeout=10_000)
    assert len(widget.loss_curve.losses) < 100_000
    assert layer.metadata[META_KEY].keys() == before.keys()
    assert [x.name for x in viewer.layers] == ["session"]
    view = EmbeddingView.for_viewer(viewer)
    assert view.points is None and len(view.viewer_model.layers) == 0
    assert widget.model is None and widget.pbar is None
    assert widget.train_button.isEnabled() and not widget.cancel_button.isEnabled()
    assert "Cancelled" in widget.status.text()


def test_event_loop_heartbeat_while_training(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    add_session(viewer, n_samples=2000)
    widget = make_widget(viewer, qtbot, iterations=100, batch_size=256, hidden_units=32,
                         model="offset10-model")
    beats: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    widget.start()
    reports: list[float] = []
    widget.worker.yielded.connect(lambda _: reports.append(time.perf_counter()))
    timer.start()
    wait_done(widget, qtbot)
    timer.stop()
    # Beats while the worker trained (drawing the result afterwards is not training).
    during = np.array([b for b in beats if b <= reports[-1]])
    assert len(widget.loss_curve.losses) == 100
    assert len(during) > 20
    gaps = np.diff(during)
    assert gaps.max() < 0.05, f"event loop stalled {gaps.max() * 1000:.0f} ms"


def test_result_stays_bound_when_selection_changes(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    first = add_session(viewer, "A", seed=0)
    second = add_session(viewer, "B", seed=1)
    widget = make_widget(viewer, qtbot, iterations=60)
    widget.select_layer("A")
    widget.start()
    # The user moves on while it trains.
    widget.select_layer("B")
    viewer.layers.selection.active = second
    wait_done(widget, qtbot)
    assert "embedding" in first.metadata[META_KEY]
    assert "embedding" not in second.metadata[META_KEY]
    assert first.metadata[META_KEY]["embedding"]["source"] == "A"
    view = EmbeddingView.for_viewer(viewer)
    assert view.source is first
    assert view.points.metadata[META_KEY]["source"] == "A"


def test_bad_settings_show_error_and_widget_stays_usable(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    add_session(viewer, n_samples=200)
    widget = make_widget(viewer, qtbot)
    widget.form["time_offsets"].value = 5000  # longer than the session
    widget.start()
    wait_done(widget, qtbot)
    assert len(errors) == 1 and "time offset" in errors[0]
    assert widget.pbar is None
    assert widget.train_button.isEnabled() and not widget.cancel_button.isEnabled()
    assert "embedding" not in viewer.layers[0].metadata[META_KEY]


def test_no_traces_shows_error(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    widget = make_widget(viewer, qtbot)
    widget.start()
    assert not widget.running and "No traces" in errors[0]


def test_out_of_gpu_memory_suggests_smaller_batch_or_cpu(make_napari_viewer, qtbot, errors,
                                                         monkeypatch):
    import torch

    class Exhausted:
        def fit_steps(self, *args, **kwargs):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            yield

    monkeypatch.setattr("napari_cebra.pipeline.make_estimator", lambda *a: Exhausted())
    viewer = make_napari_viewer()
    add_session(viewer)
    widget = make_widget(viewer, qtbot)
    widget.start()
    wait_done(widget, qtbot)
    assert len(errors) == 1
    assert "smaller batch size" in errors[0] and "CPU" in errors[0]
    assert widget.pbar is None and widget.train_button.isEnabled()


def test_save_load_model_and_embed(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    layer = add_session(viewer)
    widget = make_widget(viewer, qtbot)
    widget.set_label_columns(["direction"])
    widget.form["output_dimension"].value = 4
    widget.start()
    wait_done(widget, qtbot)
    trained = layer.metadata[META_KEY]["embedding"]["embedding"].copy()
    path = widget.save_model(tmp_path / "run.pt")
    assert path.exists()

    other = make_widget(viewer, qtbot)
    other.form["output_dimension"].value = 2
    other.load_model(path)
    assert other.form["output_dimension"].value == 4
    assert other.form["num_hidden_units"].value == 16
    assert other.label_columns() == ("direction",)
    assert other.embed_button.isEnabled()
    del layer.metadata[META_KEY]["embedding"]
    other.embed()
    wait_done(other, qtbot)
    np.testing.assert_allclose(layer.metadata[META_KEY]["embedding"]["embedding"], trained,
                               atol=1e-5)


def test_load_matrix_makes_a_traces_layer(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    widget = make_widget(viewer, qtbot)
    traces = np.random.default_rng(0).normal(size=(300, 7)).astype(np.float32)
    np.save(tmp_path / "cells.npy", traces)
    layer = widget.load_matrix(tmp_path / "cells.npy")
    assert widget.selected_layer() is layer
    np.testing.assert_array_equal(layer.metadata[META_KEY]["traces"], traces)
    assert layer.data.shape[0] == 300  # a time axis for the slider
