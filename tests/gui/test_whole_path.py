"""One recording the whole way in napari: the V1 stack sample → suite2p → CEBRA → decoded
frames, by pressing Extract, Attach labels, Train and Decode in order (no layer picked)."""

import numpy as np
import pytest

from napari_cebra.contracts import traces_of
from napari_cebra.gui import session_flow
from napari_cebra.gui.model_source import FROM_TRAIN_WIDGET
from napari_cebra.gui.sample_data import MOVIE_NAME, V1_STACK_NAME


def _press(qtbot, widget, button, timeout=240_000):
    button.click()
    qtbot.waitUntil(lambda: not widget.running, timeout=timeout)


def test_four_buttons_take_the_v1_stack_to_decoded_frames(make_napari_viewer, qtbot, tmp_path):
    from napari_cebra.gui.decode_widget import DecodeWidget
    from napari_cebra.gui.extract_widget import ExtractWidget
    from napari_cebra.gui.labels_widget import LabelsWidget
    from napari_cebra.gui.train_widget import TrainWidget

    viewer = make_napari_viewer()
    viewer.open_sample("napari-cebra", "v1-stack")
    stack = viewer.layers[V1_STACK_NAME]
    carried = stack.metadata[session_flow.FRAME_LABELS]
    extract, labels, train = ExtractWidget(viewer), LabelsWidget(viewer), TrainWidget(viewer)
    for name, widget in (("extract", extract), ("labels", labels), ("train", train)):
        viewer.window.add_dock_widget(widget, name=name)
    # Extract offers the stack (not the stimulus movie) at the frame rate the stack carries
    assert extract.stack.value.name == V1_STACK_NAME
    assert extract.form["fs"].value == carried["fs"] == 10.0
    extract.out_dir.value = str(tmp_path / "s2p")  # keep the run out of the temp folder

    # 1. Extract: the ROI layer it makes is every step's input, carrying the stack's labels
    _press(qtbot, extract, extract.run_button)
    rois = session_flow.latest(viewer, "traces")
    assert rois is not None and rois.name == f"{V1_STACK_NAME} ROIs", extract.status.text()
    record = traces_of(rois.metadata)
    n_frames = stack.data.shape[0]
    assert record["traces"].shape[0] == n_frames and record["traces"].shape[1] >= 40
    assert record["movie_layer"] == MOVIE_NAME and not record.get("labels")
    assert labels.traces.value.name == rois.name == train.traces.value.name

    # 2. Attach labels: the stack's frame labels are offered, declared; one press attaches
    assert labels.declared() == ({"frame_id": "discrete", "repeat": "discrete",
                                  "running_speed": "continuous"}, None)
    labels.attach_button.click()
    np.testing.assert_array_equal(record["labels"]["frame_id"], carried["labels"]["frame_id"])
    assert record["label_kinds"]["repeat"] == "discrete"

    # a Decode widget opened now catches up: the extracted traces and the linked movie
    decode = DecodeWidget(viewer)
    viewer.window.add_dock_widget(decode, name="decode")
    assert (decode.traces.value.name, decode.movie.value.name) == (
        rois.name, MOVIE_NAME)
    assert (decode.frame_label.value, decode.repeat_label.value) == (
        "frame_id", "repeat")
    assert (decode.test_repeat.value, decode.val_repeat.value) == ("5", "4")

    # 3. Train: frame_id ticked, the last two repeats (validation, test) held out
    assert train.label_columns() == ("frame_id",) and train.form["output_dimension"].value == 8
    assert train.form["test_fraction"].value >= 2 / 6
    train.form["max_iterations"].value = 300  # short runs; every other choice is the default
    decode.form["max_iterations"].value = 100
    _press(qtbot, train, train.train_button)
    assert train.result is not None and train.result.source == rois.name, train.status.text()
    assert decode.model.value == FROM_TRAIN_WIDGET

    # 4. Decode with that model: decoded frames beside the true ones, on the stack's time axis
    _press(qtbot, decode, decode.run_button)
    report = decode.report
    assert report is not None, decode.status.text()
    cebra = report.result("cebra")
    assert cebra.accuracy > 2 * report.chance, (cebra.accuracy, report.chance)
    decoded, true = decode.result_layers["decoded"], decode.result_layers["true"]
    test = np.flatnonzero(carried["labels"]["repeat"] == 5)
    assert decoded.data.shape[0] == len(test) == true.data.shape[0]
    assert decoded.translate[0] == test[0] and decoded.scale[0] == 1.0  # stack frame = time
    movie = viewer.layers[MOVIE_NAME].data
    np.testing.assert_array_equal(true.data, movie[carried["labels"]["frame_id"][test]])
    np.testing.assert_array_equal(decoded.data, movie[cebra.prediction])
    viewer.dims.set_current_step(0, int(test[10]))
    assert viewer.dims.current_step[0] == test[10] < stack.data.shape[0]
    np.testing.assert_array_equal(decoded._data_view, movie[cebra.prediction[10]])


def test_decode_refuses_a_train_model_that_saw_the_test_repeat():
    from napari_cebra.gui.session_flow import check_model_unseen, held_out_fraction

    repeat = np.repeat(np.arange(6), 100)
    assert held_out_fraction(repeat) == pytest.approx(2 / 6)
    assert held_out_fraction(np.repeat([0, 1], 50)) == 0.0  # nothing left to train on

    class Settings:
        test_fraction = 0.1

    class Result:
        settings = Settings()

    class Train:
        result = Result()

    with pytest.raises(ValueError, match="test repeat 5.*Test fraction' ≥ 0.34"):
        check_model_unseen(Train(), repeat, 5)
    Settings.test_fraction = 0.34
    check_model_unseen(Train(), repeat, 5)


# -- the demo's path on a tiny demo session: the result screen ---------------------------------
TINY = dict(n_repeats=5, movie_seconds=8.0, fs=10.0, n_neurons=40, shape=(96, 96), diameter=8.0)


def test_the_demo_ends_on_true_and_decoded_frames_side_by_side(make_napari_viewer, tmp_path,
                                                              monkeypatch):
    from napari_cebra.cli.demo import demo_settings, run_whole_path, setup_whole_path
    from napari_cebra.gui.embedding_view import EmbeddingView
    from napari_cebra.gui.walkthrough import arrange_result
    from napari_cebra.whole_path.demo_protocol import accuracies, result_lines

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # never the user's cache
    monkeypatch.chdir(tmp_path)
    viewer = make_napari_viewer()
    said = []
    widgets = setup_whole_path(viewer, 300, seed=0, session=TINY, say=said.append)
    assert any("simulating 40 V1 neurons" in s for s in said)  # first use: generated, said so
    widgets["extract"].out_dir.value = str(tmp_path / "s2p")
    run_whole_path(widgets, demo_settings(300, 0), said.append)
    assert [s for s in said if s.startswith("[")] == [
        "[1/4] Extract traces (suite2p) …", "[2/4] Attach labels …", "[3/4] Train CEBRA …",
        "[4/4] Decode movie frames …"]
    train = widgets["train"]
    assert train.result.settings.max_iterations == 300
    assert train.result.label_columns == ("frame_id",)  # the demo's labels

    true, decoded, error = arrange_result(viewer, widgets)
    report = widgets["decode"].report
    # exactly the three in the grid (a row, or two by two in a narrow canvas), in the grid's
    # order: the true frames first (top-left), the decoded ones beside them, the difference
    canvas = viewer.canvas
    assert canvas.grid.enabled and canvas.grid.shape in ((1, 3), (2, 2))
    assert [layer for layer in viewer.layers if layer.visible] == [true, decoded, error]
    assert list(viewer.layers)[-3:] == [true, decoded, error]
    rois = [layer for layer in viewer.layers if layer.name.endswith("ROIs")]
    assert rois and not any(layer.visible for layer in rois)  # hidden, one click away
    assert len(viewer.layers) > 3
    assert true.data.shape == decoded.data.shape == error.data.shape
    assert tuple(true.contrast_limits) == tuple(decoded.contrast_limits)
    assert tuple(true.scale) == tuple(decoded.scale) and tuple(true.translate) == tuple(
        decoded.translate)
    assert all(layer.name_overlay.visible for layer in (true, decoded, error))
    assert "true" in true.name and "decoded" in decoded.name
    text = canvas.overlays.text
    assert text.visible and f"repeat {report.test_repeat}" in text.text
    assert "CEBRA" in text.text and "PCA" in text.text and "chance" in text.text
    # the slider moves the three together, and the embedding view follows it
    k = 17
    t = int(report.test_index[k])
    viewer.dims.set_current_step(0, t)
    movie = viewer.layers[MOVIE_NAME].data
    cebra = report.result("cebra")
    np.testing.assert_array_equal(decoded._data_view, movie[cebra.prediction[k]])
    np.testing.assert_array_equal(true._data_view, movie[report.true_frames[k]])
    np.testing.assert_allclose(error._data_view, np.abs(decoded._data_view - true._data_view))
    assert EmbeddingView.for_viewer(viewer).current_frame() == t

    # the result on this fixed seed: every representation far above its shuffled control and
    # chance; on a session this tiny (160 training frames, 300 steps) CEBRA does not beat the
    # raw traces, and the demo says so plainly (the demo session's ordering is measured by
    # benchmarks/bench_whole_path.py --demo)
    acc = accuracies(report)
    assert acc["cebra"] > acc["chance"] + 0.1, acc
    assert acc["cebra"] > acc["cebra (labels shuffled)"], acc
    assert acc["raw"] > acc["raw (neural shuffled)"] + 0.2, acc
    assert acc["raw (neural shuffled)"] < acc["chance"] + 0.15, acc
    lines = result_lines(report)
    assert lines[0].startswith(f"Held-out repeat {report.test_repeat}")
    beats = acc["cebra"] - max(acc["raw"], acc["pca"]) >= 0.05
    assert ("CEBRA beats" in lines[-1]) == beats, lines
    assert ("does NOT clearly beat" in lines[-1]) == (not beats), lines
    shown = " ".join(text.text.split())  # the canvas wraps long lines
    assert lines[-1].split(" (")[0].split(";")[0] in shown  # the canvas says it too
