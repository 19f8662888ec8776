"""Behaviour under Xvfb: video + keypoints + imaging on one time axis; moving the slider shows
the camera frame taken at that imaging frame's time; the widget attaches pose labels."""

from pathlib import Path

import numpy as np
import pytest

from napari_cebra.contracts import META_KEY, embedding_record
from napari_cebra.gui.behaviour_reader import (
    TRACES_NAME,
    VIDEO_NAME,
    behaviour_sample_layers,
    read_pose,
    read_video,
)
from napari_cebra.synthetic.behaviour_session import (
    KEYPOINTS,
    behaviour_sample_files,
    render_frame,
)


@pytest.fixture(scope="module")
def files():
    return behaviour_sample_files()


@pytest.fixture(scope="module")
def truth(files):
    with np.load(files["truth"], allow_pickle=False) as t:
        return {k: t[k] for k in ("body", "heading", "keypoints", "camera_times",
                                  "imaging_times")}


def _shown(layer):
    return np.asarray(layer._slice.image.raw)


def _closest_rendered(image, truth, around):
    """Which camera frame's rendering (among ``around``) the displayed image is."""
    errs = [np.abs(image.astype(float) - render_frame(truth["body"][j], truth["heading"][j])
                   ).mean() for j in around]
    return around[int(np.argmin(errs))]


def test_slider_shows_the_camera_frame_at_that_imaging_time(make_napari_viewer, truth):
    viewer = make_napari_viewer()
    for data, kwargs, kind in behaviour_sample_layers():
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    video, traces = viewer.layers[VIDEO_NAME], viewer.layers[TRACES_NAME]
    points = viewer.layers["keypoints (DeepLabCut)"]
    n_imaging = len(truth["imaging_times"])
    assert video.data.shape[0] == traces.data.shape[0] == n_imaging  # one time axis
    assert viewer.dims.range[0].stop == n_imaging - 1
    assert video.data.n_decoded < 60  # only what was shown has been decoded
    for i in (40, 333, 500):
        viewer.dims.set_current_step(0, i)
        # the camera frame taken nearest in time to imaging frame i (from the two clocks'
        # timestamps, independently of the alignment code)
        expected = int(np.argmin(np.abs(truth["camera_times"] - truth["imaging_times"][i])))
        around = list(range(expected - 12, expected + 13, 3))
        assert _closest_rendered(_shown(video), truth, around) == expected
        assert np.array_equal(_shown(traces), traces.data[i])
        # the keypoints shown are the tracked ones of that camera frame (x, y within 3 px)
        shown = points.data[points._view_indices]
        assert len(shown) == len(KEYPOINTS)
        np.testing.assert_allclose(shown[:, [2, 1]], truth["keypoints"][expected], atol=3.0)
    assert video.data.n_decoded < 150


def test_readers_put_dropped_files_on_the_imaging_axis(files, truth):
    n_imaging = len(truth["imaging_times"])
    (video, kwargs, kind), = read_video(str(files["video"]))
    assert kind == "image" and kwargs["rgb"] and video.shape[0] == n_imaging
    layers = read_pose(str(files["pose"]))
    data, kwargs, kind = layers[0]
    assert kind == "points" and data[:, 0].max() == n_imaging - 1
    assert set(kwargs["features"]["keypoint"]) == set(KEYPOINTS)


def test_widget_attaches_pose_labels_and_draws_decoded_position(make_napari_viewer, files,
                                                                qtbot):
    from napari_cebra.gui.behaviour_widget import DECODED_NAME, BehaviourWidget
    from napari_cebra.gui.layers import traces_layer

    viewer = make_napari_viewer()
    traces = np.load(files["traces"])
    data, kwargs, _ = traces_layer(traces, name="cells", fs=10.0)
    layer = viewer.add_image(data, **kwargs)
    w = BehaviourWidget(viewer)
    viewer.window.add_dock_widget(w, name="Behaviour")
    form = w.form
    form["pose_file"].value = files["pose"]
    form["video"].value = files["video"]
    form["alignment"].value = "timestamps"
    form["camera_times"].value = files["camera_times"]
    form["imaging_times"].value = files["imaging_times"]
    form["variables"].value = "position, speed, heading:tail_base>nose"
    w.run()
    qtbot.waitUntil(lambda: not w.jobs.running, timeout=60_000)
    record = layer.metadata[META_KEY]
    assert {"x", "y", "speed", "heading"} <= set(record["labels"])
    assert record["label_kinds"]["x"] == "continuous"
    x = record["labels"]["x"]
    assert len(x) == len(traces) and 0 < np.isnan(x).sum() < 20  # the occlusion, named
    assert "frames without behaviour" in w.status.text()
    assert any(Path(getattr(lyr.data, "path", "")).name == "arena_video.mp4"
               for lyr in viewer.layers)
    assert sum(lyr.name.endswith("keypoints") for lyr in viewer.layers) == 1
    # an "embedding" that holds the position (as a trained one would) → the decoded layer
    xy = np.nan_to_num(np.stack([x, record["labels"]["y"]], 1), nan=0.0)
    emb = np.column_stack([xy / 100, np.ones(len(xy))]).astype(np.float32)
    record["embedding"] = embedding_record(emb, train_mask=np.arange(len(x)) < 450)
    w.show_decoded()
    decoded = viewer.layers[DECODED_NAME]
    assert len(decoded.data) == len(x)
    ok = np.isfinite(x)
    err = np.hypot(decoded.data[ok, 2] - x[ok], decoded.data[ok, 1] - record["labels"]["y"][ok])
    assert np.median(err) < 3.0
    assert "held-out" in w.status.text()


def test_widget_refuses_a_video_of_another_length(make_napari_viewer, files, qtbot, tmp_path,
                                                  monkeypatch):
    from napari_cebra.behaviour.video import write_video
    from napari_cebra.gui import jobs
    from napari_cebra.gui.behaviour_widget import BehaviourWidget
    from napari_cebra.gui.layers import traces_layer

    shown = []
    monkeypatch.setattr(jobs, "show_error", lambda msg: shown.append(str(msg)))
    short = write_video(tmp_path / "short.mp4", (np.zeros((32, 32, 3), np.uint8)
                                                 for _ in range(50)), 30.0)
    viewer = make_napari_viewer()
    data, kwargs, _ = traces_layer(np.load(files["traces"]), name="cells", fs=10.0)
    layer = viewer.add_image(data, **kwargs)
    w = BehaviourWidget(viewer)
    w.form["pose_file"].value = files["pose"]
    w.form["video"].value = short
    w.form["camera_times"].value = files["camera_times"]
    w.form["imaging_times"].value = files["imaging_times"]
    n_layers = len(viewer.layers)
    w.run()
    qtbot.waitUntil(lambda: not w.jobs.running, timeout=60_000)
    assert any("short.mp4 has 50 frames but" in m and "1800 rows" in m for m in shown)
    assert len(viewer.layers) == n_layers and not layer.metadata[META_KEY]["labels"]
