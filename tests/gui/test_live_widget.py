"""The Live decode widget under Xvfb: decoded frames appear while the UI stays responsive."""

import time

import numpy as np
import pytest

from napari_cebra.gui.forms import choose
from napari_cebra.gui.sample_data import MOVIE_NAME, TRACES_NAME, v1_layers
from napari_cebra.synthetic.v1 import v1_session


@pytest.fixture(scope="module")
def session():
    return v1_session(n_repeats=3, movie_seconds=10, fs=10, n_neurons=40, movie_shape=(16, 16),
                      seed=3)


@pytest.fixture(scope="module")
def model_file(session, tmp_path_factory):
    from napari_cebra import CEBRA

    model = CEBRA(max_iterations=20, batch_size=64, num_hidden_units=16, output_dimension=8,
                  device="cpu", seed=0).fit(session.neural)
    return model.save(tmp_path_factory.mktemp("live_gui") / "m.pt")


@pytest.fixture
def widget(make_napari_viewer, session, model_file):
    from napari_cebra.gui.live_widget import LiveWidget

    viewer = make_napari_viewer()
    for data, kwargs, kind in v1_layers(session):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    w = LiveWidget(viewer)
    viewer.window.add_dock_widget(w, name="Live decode")
    w.set_model_file(model_file)
    choose(w.fit, TRACES_NAME)
    w.label.value = "frame_id"
    choose(w.source, TRACES_NAME)
    choose(w.movie, MOVIE_NAME)
    return w


class Heartbeat:
    """A 10 ms timer on the UI thread; its longest gap is how long the UI stalled."""

    def __init__(self):
        from qtpy.QtCore import QTimer

        self.ticks = []
        self.timer = QTimer()
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))
        self.timer.start(10)

    def max_gap_ms(self):
        self.timer.stop()
        return 1e3 * float(np.diff(self.ticks).max())


def test_decoded_frames_appear_while_the_ui_stays_responsive(widget, session, qtbot):
    from napari_cebra.gui.live_widget import DECODED, INCOMING

    w = widget
    w.form["realtime"].value = True
    w.form["fs"].value = 150.0  # 300 frames in 2 s
    w.start()  # creates the display layers, then streams
    beat = Heartbeat()
    assert w.running and not w.start_button.isEnabled()
    qtbot.waitUntil(lambda: len(w.decoded) > 20, timeout=60_000)
    assert DECODED in w.viewer.layers and INCOMING in w.viewer.layers  # shown while streaming
    qtbot.waitUntil(lambda: not w.running, timeout=60_000)
    gap = beat.max_gap_ms()
    summary = w.summary
    assert summary is not None, w.status.text()
    n = len(session.neural)
    assert summary.frames_in + summary.dropped == n
    assert [f for f, _ in w.decoded] == list(range(summary.frames_in))  # lag frames included
    last_id = int(w.decoded[-1][1][0])
    np.testing.assert_array_equal(w.viewer.layers[DECODED].data, session.movie[last_id])
    assert "lag 4 frames" in w.stats_label.text() and "p99" in w.stats_label.text()
    assert w.histogram.counts.sum() > 0 and len(w.plot.true) > 0
    assert gap <= 50, f"the UI stalled for {gap:.0f} ms"


def test_stop_keeps_what_was_decoded(widget, qtbot):
    w = widget
    w.form["realtime"].value = True
    w.form["fs"].value = 20.0  # 15 s of frames: stopped long before the end
    w.start()
    qtbot.waitUntil(lambda: len(w.decoded) >= 5, timeout=60_000)
    w.stop_button.click()
    qtbot.waitUntil(lambda: not w.running, timeout=30_000)
    assert w.summary is not None and "stopped after" in w.summary.message
    assert len(w.decoded) == w.summary.frames_in >= 5
    assert w.start_button.isEnabled()


def test_raw_frames_without_rois_are_refused_before_anything_starts(widget, qtbot):
    w = widget
    choose(w.source, MOVIE_NAME)
    w.start()
    assert not w.running and "suite2p plane folder" in w.status.text()
