"""The trace view: pick a ROI, see its trace, the frame line follows the slider and back."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backend_bases import MouseEvent

from napari_cebra.contracts import META_KEY
from napari_cebra.gui import trace_view as tv
from napari_cebra.gui.layers import roi_colormap

T, N, FS = 200, 4, 20.0


def add_session(viewer):
    rng = np.random.default_rng(0)
    viewer.add_image(rng.random((T, 32, 32)).astype(np.float32), name="movie")
    labels = np.zeros((32, 32), np.int32)
    for k in range(N):
        labels[4 + 6 * k : 8 + 6 * k, 4:8] = k + 1
    dff = rng.standard_normal((T, N)).astype(np.float32)
    meta = {"traces": dff, "trace_sets": {"dff": dff, "F": dff + 100}, "fs": FS,
            "labels": {}, "label_kinds": {}, "time_axis": 0}
    features = {"roi": np.arange(1, N + 1), "iscell": np.array([True, True, False, True])}
    layer = viewer.add_labels(labels, name="ROIs", features=features,
                              metadata={META_KEY: meta},
                              colormap=roi_colormap(features["iscell"]))
    return layer, dff


@pytest.fixture
def view(make_napari_viewer):
    viewer = make_napari_viewer()
    layer, dff = add_session(viewer)
    widget = tv.TraceView(viewer)
    viewer.window.add_dock_widget(widget)
    return viewer, widget, layer, dff


def test_lists_rois_and_plots_the_picked_one(view):
    viewer, widget, layer, dff = view
    assert widget.rois.value.name == "ROIs"
    assert widget.roi_list.count() == N
    assert "not cell" in widget.roi_list.item(2).text()
    widget.select_roi(3)
    x, y = widget.trace_line.get_data()
    np.testing.assert_allclose(y, dff[:, 2])
    np.testing.assert_allclose(x, np.arange(T) / FS)  # seconds
    assert len(widget.neuropil_line.get_data()[1]) == 0
    widget.set_box.setCurrentText("F")
    np.testing.assert_allclose(widget.trace_line.get_data()[1], dff[:, 2] + 100)
    layer.metadata[META_KEY]["trace_sets"]["Fneu"] = dff * 0 + 3  # F is shown with Fneu
    widget.plot()
    np.testing.assert_allclose(widget.neuropil_line.get_data()[1], 3.0)


def test_clicking_a_roi_on_the_layer_picks_it(view, qtbot):
    viewer, widget, layer, dff = view

    class Click:  # what napari passes to mouse_drag_callbacks
        button, modifiers, view_direction, dims_displayed = 1, (), None, [1, 2]
        position = (0, 6 + 6 * 2 - 1, 5)  # inside ROI 3 (time, y, x)

    widget._on_layer_click(layer, Click())
    assert widget.roi == 3
    np.testing.assert_allclose(widget.trace_line.get_data()[1], dff[:, 2])


def test_frame_line_follows_the_slider_and_the_plot_moves_it(view):
    viewer, widget, layer, _ = view
    widget.select_roi(1)
    viewer.dims.set_current_step(0, 50)
    assert widget.frame_line.get_xdata()[0] == pytest.approx(50 / FS)
    # click on the plot at t = 7.5 s → frame 150
    widget.canvas.draw()
    px, py = widget.ax.transData.transform((7.5, 0.0))
    event = MouseEvent("button_press_event", widget.canvas, px, py, button=1)
    widget.canvas.callbacks.process("button_press_event", event)
    assert viewer.dims.current_step[0] == 150
    assert widget.frame_line.get_xdata()[0] == pytest.approx(150 / FS)


def test_iscell_is_editable(view):
    viewer, widget, layer, _ = view
    widget.select_roi(3)
    grey = layer.colormap.map(3)
    widget.toggle_iscell()
    assert bool(layer.features["iscell"][2]) is True
    assert not np.allclose(layer.colormap.map(3), grey)
    assert "· cell" in widget.roi_list.currentItem().text()
    widget.toggle_iscell()
    assert bool(layer.features["iscell"][2]) is False


def test_layers_come_and_go(view):
    viewer, widget, layer, _ = view
    viewer.layers.remove(layer)
    assert len(widget.rois.choices) == 0 and widget.layer is None
    assert widget.trace() is None


def test_dff_is_recomputed_with_the_chosen_baseline(view):
    viewer, widget, layer, dff = view
    meta = layer.metadata[META_KEY]
    meta["trace_sets"]["Fneu"] = np.full_like(dff, 10.0)
    widget.select_roi(2)
    widget.dff_form["neuropil_coefficient"].value = 0.5
    widget.dff_form["baseline"].value = "constant"
    widget.recompute_dff()
    F = meta["trace_sets"]["F"][:, 1] - 5.0
    f0 = np.percentile(F, 8)
    np.testing.assert_allclose(meta["traces"][:, 1], (F - f0) / f0, rtol=1e-4, atol=1e-5)
    assert meta["trace_sets"]["dff"] is meta["traces"]
    np.testing.assert_allclose(widget.trace_line.get_data()[1], meta["traces"][:, 1])


def test_frames_selected_elsewhere_are_marked_on_the_trace(view):
    viewer, widget, layer, dff = view
    widget.select_roi(2)
    widget.highlight_frames([30, 5, 5, T + 50])  # duplicates and out-of-range frames drop out
    x, y = widget.selection_marks.get_data()
    np.testing.assert_allclose(x, np.array([5, 30]) / FS)
    np.testing.assert_allclose(y, dff[[5, 30], 1])
    widget.select_roi(4)  # the marks follow the ROI shown
    np.testing.assert_allclose(widget.selection_marks.get_data()[1], dff[[5, 30], 3])


def test_a_renamed_layer_stays_chosen(view):
    viewer, widget, layer, _ = view
    other, _ = add_session(viewer)  # named "ROIs [1]"
    widget.rois.value = other
    assert widget.layer is other
    other.name = "second session"
    assert widget.rois.value.name == "second session" and widget.layer is other
    assert len(widget.rois.choices) == 2
