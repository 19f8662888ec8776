"""The Decode widget under Xvfb: runs on a worker, adds decoded frames linked to the slider."""

import numpy as np
import pytest

from napari_cebra.contracts import META_KEY
from napari_cebra.gui import jobs
from napari_cebra.gui.sample_data import MOVIE_NAME, TRACES_NAME, v1_layers, v1_sample
from napari_cebra.synthetic.v1 import v1_session


@pytest.fixture(scope="module")
def session():
    return v1_session(n_repeats=3, movie_seconds=10, fs=10, n_neurons=40, movie_shape=(16, 16),
                      seed=3)


@pytest.fixture
def widget(make_napari_viewer, session):
    from napari_cebra.gui.decode_widget import DecodeWidget

    viewer = make_napari_viewer()
    for data, kwargs, kind in v1_layers(session):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    w = DecodeWidget(viewer)
    viewer.window.add_dock_widget(w, name="Decode")
    w.form["max_iterations"].value = 10
    w.form["output_dimension"].value = 4
    return w


def test_v1_sample_follows_the_traces_contract():
    layers = v1_sample(n_repeats=3, movie_seconds=2)
    (movie, mkw, mkind), (traces, tkw, tkind) = layers
    assert mkind == "image" and movie.shape[0] == 60 and mkw["name"] == MOVIE_NAME
    meta = tkw["metadata"][META_KEY]
    assert meta["traces"].shape == (180, 200) and meta["fs"] == 30.0
    assert meta["label_kinds"] == {"frame_id": "discrete", "repeat": "discrete",
                                   "running_speed": "continuous"}
    assert set(meta["trace_sets"]) == {"calcium", "spikes"}
    assert meta["labels"]["frame_id"].max() == 59


def test_decode_runs_on_worker_and_shows_decoded_frames(widget, session, qtbot):
    from napari.qt.threading import GeneratorWorker

    w, s, viewer = widget, session, widget.viewer
    assert (w.traces.value.name, w.movie.value.name) == (TRACES_NAME, MOVIE_NAME)
    assert (w.frame_label.value, w.repeat_label.value) == ("frame_id", "repeat")
    assert (w.test_repeat.value, w.val_repeat.value) == ("2", "1")
    w.check_sessions([f"{TRACES_NAME} :: calcium", f"{TRACES_NAME} :: spikes"])
    w.check_continuous(["running_speed"])
    w.start()
    assert isinstance(w.worker, GeneratorWorker) and w.running  # returned at once: a worker
    qtbot.waitUntil(lambda: not w.running, timeout=120_000)
    rep = w.report
    assert rep is not None, w.status.text()
    decoded = w.result_layers["decoded"]
    true = w.result_layers["true"]
    n = s.n_frames
    assert decoded.data.shape == (n, 16, 16) == true.data.shape  # the test repeat's length
    pred = rep.result("cebra").prediction
    for k in range(n):  # every decoded frame is the predicted frame of the stimulus movie
        np.testing.assert_array_equal(decoded.data[k], s.movie[pred[k]])
        np.testing.assert_array_equal(true.data[k], s.movie[s.frame_id[2 * n + k]])
    # the slider drives both layers and the plot's cursor
    t0 = int(rep.test_index[0])
    assert t0 == 2 * n
    viewer.dims.set_current_step(0, t0 + 17)
    np.testing.assert_array_equal(decoded._data_view, s.movie[pred[17]])
    np.testing.assert_array_equal(true._data_view, s.movie[s.frame_id[t0 + 17]])
    assert [c.get_xdata()[0] for c in w.plot.cursors] == [t0 + 17, t0 + 17]  # frames, speed
    # results table, goodness of fit, consistency matrix
    names = [w.table.item(i, 0).text() for i in range(w.table.rowCount())]
    assert names[:2] == ["cebra", "cebra (labels shuffled)"] and "raw" in names
    assert "cebra → running_speed" in names
    assert "bits" in w.fit_label.text()
    assert w.consistency is not None and w.consistency.matrix.shape == (2, 2)
    assert w.consistency_table.rowCount() == 2
    assert f"aligned: {TRACES_NAME} :: spikes" in viewer.layers


def test_cancel_leaves_viewer_unchanged(widget, qtbot):
    w = widget
    w.form["max_iterations"].value = 50_000
    before = [layer.name for layer in w.viewer.layers]
    w.start()
    qtbot.waitUntil(lambda: "train CEBRA: step" in w.status.text(), timeout=120_000)
    w.cancel()
    qtbot.waitUntil(lambda: not w.running, timeout=60_000)
    assert [layer.name for layer in w.viewer.layers] == before
    assert w.report is None and "Cancelled" in w.status.text()
    assert w.run_button.isEnabled()


def test_bad_input_shows_error_and_stays_usable(widget, monkeypatch):
    import napari_cebra.gui.decode_widget as mod

    errors = []
    monkeypatch.setattr(mod, "show_error", errors.append)
    monkeypatch.setattr(jobs, "show_error", errors.append)
    w = widget
    w.viewer.layers.remove(MOVIE_NAME)
    w.start()
    assert errors and "stimulus movie" in errors[0]
    assert not w.running and w.run_button.isEnabled()
