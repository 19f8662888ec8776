"""The Train widget's Embed on another recording's neurons: refused with the neuron counts
unless 'Adapt to these neurons' is ticked; ticked, a new input layer is fitted on the worker
and the second session's embedding decodes position."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import KNeighborsRegressor

from napari_cebra.contracts import META_KEY
from napari_cebra.gui import train_widget as tw
from napari_cebra.gui.layers import traces_layer
from napari_cebra.synthetic.hippocampus import hippocampus_session


def _add(viewer, name: str, n_neurons: int, seed: int):
    s = hippocampus_session(n_neurons=n_neurons, n_samples=1500, seed=seed)
    data, kwargs, _ = traces_layer(
        s.neural, name=name, fs=s.fs, labels={"position": s.position},
        label_kinds={"position": "continuous"})
    return viewer.add_image(data, **kwargs), s.position


def test_embed_adapts_to_another_neuron_count(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    first, _ = _add(viewer, "day 1", 40, seed=1)
    second, position = _add(viewer, "day 2", 28, seed=2)
    widget = tw.TrainWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.form["model_architecture"].value = "offset5-model"
    widget.form["max_iterations"].value = 150
    widget.form["batch_size"].value = 128
    widget.form["learning_rate"].value = 3e-3
    qtbot.waitUntil(lambda: not widget.warm_up.is_running, timeout=30_000)

    widget.select_layer(first)
    widget.set_label_columns(["position"])
    widget.start()
    qtbot.waitUntil(lambda: not widget.running, timeout=60_000)
    assert "embedding" in first.metadata[META_KEY] and not errors
    model = widget.model

    widget.select_layer(second)
    widget.set_label_columns(["position"])
    widget.embed()  # not ticked: refused, naming both neuron counts
    assert widget.adapt_box.text() == "Adapt to these neurons"
    assert len(errors) == 1 and "28 neurons" in errors[0] and "40" in errors[0]
    assert "Adapt to these neurons" in errors[0] and not widget.running
    assert "embedding" not in second.metadata[META_KEY]

    model.set_params(max_adapt_iterations=100)
    widget.adapt_box.setChecked(True)
    widget.embed()
    assert widget.running  # on the worker
    qtbot.waitUntil(lambda: not widget.running, timeout=60_000)
    assert len(errors) == 1, errors
    embedding = second.metadata[META_KEY]["embedding"]["embedding"]
    assert embedding.shape == (1500, 3) and widget.model.n_features_in_ == 28
    assert model.n_features_in_ == 40  # the day-1 model itself is kept as it was
    n = 1000
    knn = KNeighborsRegressor(n_neighbors=10).fit(embedding[:n], position[:n])
    assert knn.score(embedding[n:], position[n:]) > 0.8
    assert np.isfinite(embedding).all()
