"""The curation view: open a suite2p plane, click and mark ROIs, paint one, save, reopen, train."""

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest

from napari_cebra.contracts import traces_of
from napari_cebra.gui.curation_widget import CurationWidget
from napari_cebra.gui.train_widget import TrainWidget
from napari_cebra.imaging.curation import Curation
from napari_cebra.synthetic.calcium_movie import simulate_calcium_movie
from napari_cebra.synthetic.suite2p_plane import true_masks, write_suite2p_plane


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    truth = simulate_calcium_movie(n_frames=400, shape=(64, 64), n_neurons=6, motion=False,
                                   seed=2, diameter=8)
    masks = true_masks(truth)
    folder = write_suite2p_plane(tmp_path_factory.mktemp("s2p") / "plane0", truth, masks[:5],
                                 [0.9, 0.8, 0.4, 0.95, 0.7])
    return folder, truth, masks


@pytest.fixture
def widget(made, tmp_path, make_napari_viewer):
    folder = shutil.copytree(made[0], tmp_path / "plane0")
    viewer = make_napari_viewer()
    w = CurationWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.open_folder(folder)
    return w


def click(widget, truth, neuron, shift=False):
    y, x = truth.centroids[neuron]
    event = SimpleNamespace(position=(0, y, x), modifiers=["Shift"] if shift else [])
    widget._on_click(widget.layers["rois"], event)


def test_curate_save_reopen_and_train(widget, made, qtbot, tmp_path):
    folder, truth, masks = made
    viewer = widget.viewer
    names = [layer.name for layer in viewer.layers]
    for part in ("mean image", "enhanced mean image", "correlation map", "max projection",
                 "registered", "ROIs", "draw ROI"):
        assert any(part in n for n in names), part
    assert widget.raster.image.get_array().shape == (5, 400)
    # the raster moves time, and time moves the raster's line
    widget._set_time(120)
    assert viewer.dims.current_step[0] == 120
    assert widget.raster.line.get_xdata()[0] == 120
    # click ROI 2 and mark it not a cell; Shift-click ROIs 0 and 1 and mark both
    click(widget, truth, 2)
    assert widget.selected == [2]
    widget.buttons["Not cell"].click()
    click(widget, truth, 0)
    click(widget, truth, 1, shift=True)
    assert widget.selected == [0, 1]
    widget.buttons["Not cell"].click()
    assert list(widget.curation.cells) == [3, 4]
    # paint the missed neuron 5 and add it
    widget.layers["draw"].data = masks[5].astype(np.int32)
    widget.buttons["Add drawn ROI"].click()
    assert widget.curation.n_rois == 6 and widget.selected == [5]
    assert widget.layers["rois"].data[masks[5]].min() == 6
    widget.buttons["Undo"].click()
    assert widget.curation.n_rois == 5
    widget.buttons["Redo"].click()
    assert widget.raster.image.get_array().shape == (6, 400)
    # live filter counts, and colouring by a statistic
    assert widget.counts.text().startswith("3 of 3 cells")
    widget.form["min_probability"].value = 0.8
    assert widget.counts.text().startswith("2 of 3 cells")  # ROI 4 has p = 0.7
    widget.colour_box.setCurrentText("snr")
    widget.buttons["Save"].click()
    plane = widget.curation.plane_dir
    assert (plane / "iscell.orig.npy").exists() and (plane / "stat.orig.npy").exists()
    # reopen: the plane folder holds the curation
    again = Curation.open(plane)
    assert list(again.cells) == [3, 4, 5] and again.n_rois == 6
    widget.open_folder(plane)
    assert list(widget.curation.cells) == [3, 4, 5]
    assert sum("ROIs" in layer.name for layer in viewer.layers) == 1  # replaced, not added
    # train on the curated cells in Train CEBRA, from the ROI layer's traces record
    record = traces_of(widget.layers["rois"].metadata)
    assert list(record["roi_indices"]) == [3, 4, 5]
    assert record["curation_hash"] == again.hash
    assert record["traces"].shape == (400, 3)
    train = TrainWidget(viewer)
    viewer.window.add_dock_widget(train)
    train.form["max_iterations"].value = 10
    train.form["batch_size"].value = 32
    train.form["num_hidden_units"].value = 8
    train.form["model_architecture"].value = "offset5-model"
    qtbot.waitUntil(lambda: not train.warm_up.is_running, timeout=30_000)
    train.select_layer(widget.layers["rois"])
    train.start()
    qtbot.waitUntil(lambda: not train.running, timeout=60_000)
    embedding = record["embedding"]["embedding"]
    assert embedding.shape[0] == 400 and np.isfinite(embedding).all()
    train.save_model(tmp_path / "run.pt")
    saved = json.loads((tmp_path / "run.pt.settings.json").read_text())
    assert saved["rois"]["roi_indices"] == [3, 4, 5]
    assert saved["rois"]["curation_hash"] == again.hash

def test_mistakes_are_told_and_change_nothing(widget, monkeypatch):
    from napari_cebra.gui import curation_widget as cw

    shown = []
    monkeypatch.setattr(cw, "show_error", shown.append)
    before = widget.curation.hash
    widget.buttons["Merge"].click()
    widget.buttons["Add drawn ROI"].click()
    assert "select at least 2 ROIs" in shown[0] and "empty" in shown[1]
    assert widget.curation.hash == before and not widget.curation.changed


def test_finishing_extract_opens_the_plane(made, tmp_path, make_napari_viewer):
    from napari_cebra.gui import session_flow
    from napari_cebra.gui.layers import record_metadata
    from napari_cebra.imaging.session import load_session

    folder = shutil.copytree(made[0], tmp_path / "plane0")
    viewer = make_napari_viewer()
    w = CurationWidget(viewer)
    viewer.window.add_dock_widget(w)
    # what Extract hands on: the ROI layer with the plane's traces record
    record = load_session(folder).layer_metadata()
    layer = viewer.add_labels(np.zeros((64, 64), np.int32), metadata=record_metadata(record))
    session_flow.hand_on(viewer, "traces", layer)
    assert w.curation is not None and w.curation.plane_dir == folder
    assert w.curation.n_rois == 5
