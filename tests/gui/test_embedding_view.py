"""The embedding view: drawing, colouring, dims choice and the two-way link to the stack."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from qtpy.QtWidgets import QWidget

from napari_cebra.contracts import META_KEY
from napari_cebra.gui import registry
from napari_cebra.gui.embedding_view import EmbeddingView, colors_for
from napari_cebra.gui.layers import traces_layer
from napari_cebra.views import project


def ring(n: int, dims: int = 3, seed: int = 0) -> np.ndarray:
    """Frames on a circle in dims 1–2 (dim 0 flat): no point hides another along dim 0."""
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
    emb = np.zeros((n, dims), dtype=np.float32)
    emb[:, 1], emb[:, 2 % dims] = np.cos(angle), np.sin(angle)
    if dims > 3:
        emb[:, 3:] = np.random.default_rng(seed).normal(size=(n, dims - 3))
    return emb


def session_with_embedding(viewer, embedding: np.ndarray, name: str = "session"):
    n = len(embedding)
    labels = {"position": np.linspace(0, 1.6, n).astype(np.float32),
              "direction": (np.arange(n) // 50 % 2).astype(np.int64)}
    kinds = {"position": "continuous", "direction": "discrete"}
    data, kwargs, _ = traces_layer(np.zeros((n, 4), np.float32), name=name, labels=labels,
                                   label_kinds=kinds)
    layer = viewer.add_image(data, **kwargs)
    layer.metadata[META_KEY]["embedding"] = {
        "embedding": embedding, "time": np.arange(n), "labels": labels, "label_kinds": kinds,
        "train_mask": np.ones(n, bool), "source": name, "settings": {}, "loss": [],
    }
    return layer


@pytest.fixture
def view_of(make_napari_viewer):
    def build(embedding, **kwargs):
        viewer = make_napari_viewer()
        layer = session_with_embedding(viewer, embedding, **kwargs)
        view = EmbeddingView.for_viewer(viewer)
        view.show_source(layer)
        return viewer, layer, view

    return build


def test_cursor_and_trail_follow_the_time_slider(view_of):
    emb = ring(200)
    viewer, _, view = view_of(emb)
    assert view.viewer_model.dims.ndisplay == 3
    data_events, cursor_events = [], []
    view.points.events.data.connect(data_events.append)
    view.cursor.events.data.connect(cursor_events.append)
    view.trail_length.setValue(10)
    viewer.dims.set_current_step(0, 123)
    np.testing.assert_allclose(view.cursor.data, emb[123:124])
    # Trail: 10 segments ending at the current frame.
    trail = view.trail.data
    assert trail.shape == (10, 2, 3)
    np.testing.assert_allclose(trail[0, 0], emb[113])
    np.testing.assert_allclose(trail[-1, 0] + trail[-1, 1], emb[123], atol=1e-6)
    viewer.dims.set_current_step(0, 7)
    np.testing.assert_allclose(view.cursor.data, emb[7:8])
    assert len(view.trail.data) == 7
    assert cursor_events and not data_events  # only the cursor redraws, not 200 points


def test_clicking_a_point_moves_the_time_slider(view_of):
    emb = ring(120)
    viewer, _, view = view_of(emb)
    target = 77
    ray = np.array([1.0, 0.0, 0.0])  # along dim 0, across the flat ring
    event = SimpleNamespace(position=tuple(emb[target] - ray), view_direction=ray,
                            dims_displayed=[0, 1, 2], type="mouse_press")
    handler = view._on_mouse(view.viewer_model, event)
    next(handler)
    event.type = "mouse_release"
    with pytest.raises(StopIteration):
        next(handler)
    assert viewer.dims.current_step[0] == target
    np.testing.assert_allclose(view.cursor.data, emb[target:target + 1])
    # A drag (rotating the camera) is not a click.
    viewer.dims.set_current_step(0, 0)
    event = SimpleNamespace(position=tuple(emb[10] - ray), view_direction=ray,
                            dims_displayed=[0, 1, 2], type="mouse_press")
    handler = view._on_mouse(view.viewer_model, event)
    next(handler)
    event.type = "mouse_move"
    next(handler)
    event.type = "mouse_release"
    with pytest.raises(StopIteration):
        next(handler)
    assert viewer.dims.current_step[0] == 0


def test_selecting_points_publishes_their_frames(view_of):
    viewer, layer, view = view_of(ring(300))
    published = []
    view.frames_selected.connect(published.append)
    marked = []

    class FrameMarker(QWidget):  # any registered widget with highlight_frames (a trace view)
        def highlight_frames(self, frames):
            marked.append(frames)

    marker = FrameMarker()
    registry.register(viewer, "marker", marker)
    viewer.window.add_dock_widget(marker, name="marker")
    view.points.selected_data = {5}
    assert viewer.dims.current_step[0] == 5
    view.points.selected_data = {40, 41, 250}
    np.testing.assert_array_equal(published[-1], [40, 41, 250])
    np.testing.assert_array_equal(layer.metadata[META_KEY]["selected_frames"], [40, 41, 250])
    np.testing.assert_array_equal(marked[-1], [40, 41, 250])
    assert viewer.dims.current_step[0] == 5  # many points: highlight, don't jump
    assert "3 frame(s) selected: 40, 41, 250" in view.info.text()
    # Removing the source layer empties the view.
    viewer.layers.remove(layer)
    assert view.source is None and len(view.viewer_model.layers) == 0
    assert len(view.source_box.choices) == 0


def test_colour_by_time_or_label_with_legend(view_of):
    _, _, view = view_of(ring(200))
    assert view.color_box.currentText() == "time"
    assert view.legend.legend["kind"] == "continuous"
    assert view.legend.legend["range"] == (0.0, 199.0)
    by_time = view.points.face_color.copy()
    view.color_box.setCurrentText("direction")
    assert view.legend.legend["kind"] == "discrete"
    assert [name for name, _ in view.legend.legend["classes"]] == ["0", "1"]
    colors = view.points.face_color
    assert len(np.unique(colors.round(4), axis=0)) == 2
    assert not np.allclose(colors, by_time)
    np.testing.assert_allclose(colors[0], colors[1])  # same class, same colour
    assert not np.allclose(colors[0], colors[60])  # frames 0 and 60 differ in direction


def test_colors_for_continuous_spans_the_colormap():
    rgba, legend = colors_for(np.array([2.0, 3.0, 4.0]), "continuous")
    assert legend["range"] == (2.0, 4.0)
    assert rgba.shape == (3, 4) and not np.allclose(rgba[0], rgba[-1])


def test_flat_2d_and_chosen_dims_or_pca_beyond_3d(view_of):
    emb = ring(150, dims=6)
    viewer, _, view = view_of(emb)
    np.testing.assert_allclose(view.points.data, emb[:, :3])
    view.set_dims((0, 2, 5))
    np.testing.assert_allclose(view.points.data, emb[:, [0, 2, 5]])
    viewer.dims.set_current_step(0, 9)
    np.testing.assert_allclose(view.cursor.data, emb[9:10, [0, 2, 5]])
    view.set_dims("pca")
    np.testing.assert_allclose(view.points.data, project(emb, "pca"), atol=1e-5)
    # A 2-D embedding of another session is drawn flat.
    flat = np.ascontiguousarray(ring(150)[:, 1:])
    view.show_source(session_with_embedding(viewer, flat, name="flat"))
    assert view.source.name == "flat"
    assert view.viewer_model.dims.ndisplay == 2 and view.points.data.shape == (150, 2)
    assert not view.pca_box.isEnabled()
    viewer.dims.set_current_step(0, 42)
    np.testing.assert_allclose(view.cursor.data, flat[42:43])


def test_100k_points_draw_a_subsample_but_keep_the_data(view_of):
    n = 100_000
    emb = np.random.default_rng(1).normal(size=(n, 3)).astype(np.float32)
    viewer, layer, view = view_of(emb)
    view.max_points.setValue(20_000)
    assert len(view.points.data) <= 20_000
    assert layer.metadata[META_KEY]["embedding"]["embedding"].shape == (n, 3)
    frames = view.points.features["frame"].to_numpy()
    np.testing.assert_allclose(view.points.data, emb[frames])
    viewer.dims.set_current_step(0, n - 1)
    np.testing.assert_allclose(view.cursor.data, emb[n - 1:])  # any frame, drawn or not
    index = 1234
    view.pick(index)
    assert viewer.dims.current_step[0] == frames[index]


def test_renaming_the_source_keeps_it_shown(view_of):
    viewer, layer, view = view_of(ring(200))
    layer.name = "renamed session"
    assert view.source_box.value.name == "renamed session" and view.source is layer
    assert view.points is not None and len(view.points.data) == 200

