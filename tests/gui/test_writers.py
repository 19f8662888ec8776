"""Saving an embedding layer through napari's writer plugin: every frame, time and labels."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Points

from napari_cebra.contracts import META_KEY
from napari_cebra.embedding_files import load_embedding


def drawn_subsample_layer():
    """Like the embedding view's layer: every 10th frame drawn, all 100 in the metadata."""
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(100, 4)).astype(np.float32)
    labels = {"position": rng.uniform(0, 1.6, 100), "direction": rng.integers(0, 2, 100)}
    shown = np.arange(0, 100, 10)
    record = {"embedding": emb, "time": np.arange(100), "labels": labels}
    layer = Points(emb[shown, :3], features={"frame": shown},
                   metadata={META_KEY: {"kind": "embedding", **record}})
    return layer, emb, labels


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".h5"])
def test_writer_saves_the_whole_embedding(make_napari_viewer, tmp_path, suffix):
    viewer = make_napari_viewer()  # File ▸ Save Selected Layers goes through the plugin
    layer, emb, labels = drawn_subsample_layer()
    viewer.add_layer(layer)
    path = tmp_path / f"embedding{suffix}"
    written = viewer.layers.save(str(path), selected=True, plugin="napari-cebra")
    assert [str(path)] == written
    got, time, got_labels = load_embedding(path)
    np.testing.assert_allclose(got, emb, rtol=1e-6)
    np.testing.assert_array_equal(time, np.arange(100))
    np.testing.assert_allclose(got_labels["position"], labels["position"])
    np.testing.assert_array_equal(got_labels["direction"], labels["direction"])


def test_writer_saves_a_plain_points_layer_with_its_frame_feature(make_napari_viewer,
                                                                    tmp_path):
    viewer = make_napari_viewer()
    data = np.random.default_rng(2).normal(size=(6, 3))
    layer = Points(data, features={"frame": [3, 4, 5, 9, 10, 11], "speed": np.arange(6.0)})
    viewer.add_layer(layer)
    path = tmp_path / "points.csv"
    assert layer.save(str(path), plugin="napari-cebra") == [str(path)]
    got, time, labels = load_embedding(path)
    np.testing.assert_allclose(got, data, rtol=1e-6)
    np.testing.assert_array_equal(time, [3, 4, 5, 9, 10, 11])
    np.testing.assert_allclose(labels["speed"], np.arange(6.0))
