"""``napari-cebra demo``: sample loaded, widgets docked, training and a screenshot."""

from __future__ import annotations

import numpy as np
from qtpy.QtGui import QImage

from napari_cebra.cli import build_parser
from napari_cebra.cli.demo import handler, setup, train_and_wait
from napari_cebra.contracts import META_KEY
from napari_cebra.gui.embedding_view import EmbeddingView
from napari_cebra.gui.train_widget import TrainWidget


def test_demo_options_parse():
    args = build_parser().parse_args(
        ["demo", "--train-steps", "30", "--screenshot", "x.png", "--sample", "calcium"])
    assert args.func is handler
    assert (args.train_steps, args.screenshot, args.sample) == (30, "x.png", "calcium")


def test_demo_is_ready_to_train_and_trains(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    train, view = setup(viewer, "hippocampus")
    assert isinstance(train, TrainWidget) and isinstance(view, EmbeddingView)
    assert set(viewer.window.dock_widgets.values()) >= {train, view}
    assert train.selected_layer().unique_id == viewer.layers[0].unique_id  # via napari's proxy
    assert train.label_columns() == ("position", "direction")
    assert train.train_button.isEnabled()
    train.form["batch_size"].value = 128
    train.form["num_hidden_units"].value = 16
    assert train_and_wait(train, 20)
    assert EmbeddingView.for_viewer(viewer) is view  # the docked view shows the result
    assert view.points is not None
    assert viewer.layers[0].metadata[META_KEY]["embedding"]["embedding"].shape == (10_000, 3)
    viewer.dims.set_current_step(0, 1234)
    np.testing.assert_allclose(view.cursor.data[0], view._coords[1234])
    path = tmp_path / "shot.png"
    viewer.screenshot(str(path), canvas_only=False)
    image = QImage(str(path))
    assert image.width() > 300 and image.height() > 300


def test_demo_v1_stack_options_parse():
    args = build_parser().parse_args(
        ["demo", "--sample", "v1-stack", "--train-steps", "200", "--exit-after-run"])
    assert (args.sample, args.train_steps, args.exit_after_run) == ("v1-stack", 200, True)
    assert not build_parser().parse_args(["demo"]).exit_after_run


def test_demo_v1_stack_docks_the_four_steps_ready_to_press(make_napari_viewer, tmp_path,
                                                           monkeypatch):
    from napari_cebra.cli.demo import setup_whole_path
    from napari_cebra.gui.sample_data import MOVIE_NAME, V1_STACK_NAME
    from napari_cebra.gui.walkthrough import STEPS

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the demo session: a tiny one, here
    viewer = make_napari_viewer()
    widgets = setup_whole_path(viewer, steps=120, session=dict(
        n_repeats=3, movie_seconds=6.0, n_neurons=10, shape=(48, 48), diameter=8.0))
    assert list(widgets) == list(STEPS) == ["extract", "labels", "train", "decode"]
    assert set(viewer.window.dock_widgets.values()) >= set(widgets.values())
    assert {V1_STACK_NAME, MOVIE_NAME} <= {layer.name for layer in viewer.layers}
    extract = widgets["extract"]
    assert extract.stack.value.name == V1_STACK_NAME and extract.form["fs"].value == 10.0
    assert (widgets["train"].form["max_iterations"].value
            == widgets["decode"].form["max_iterations"].value == 120)
    for key, (_, button) in STEPS.items():
        assert getattr(widgets[key], button).isEnabled()
