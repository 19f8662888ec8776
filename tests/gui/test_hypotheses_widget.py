"""The Test hypotheses widget: a traces layer with labels in; a table, a plot and the
embeddings coloured by each variable out; Cancel leaves the viewer as it was."""

from __future__ import annotations

import numpy as np

from napari_cebra.contracts import embedding_of
from napari_cebra.gui.hypotheses_widget import LAYER_PREFIX, HypothesesWidget
from napari_cebra.gui.layers import traces_layer
from napari_cebra.synthetic.hippocampus import hippocampus_session

TINY = dict(max_iterations=30, batch_size=128, num_hidden_units=8, shuffles=1, seeds=2,
            device="cpu", sets="position")


def add_session(viewer):
    s = hippocampus_session(n_neurons=16, n_samples=500, seed=3)
    data, kwargs, _ = traces_layer(
        s.neural, name="hippocampus", labels={"position": s.position.astype(np.float32),
                                              "direction": s.direction},
        label_kinds={"position": "continuous", "direction": "discrete"}, fs=s.fs)
    return viewer.add_image(data, **kwargs)


def test_runs_and_adds_the_table_plot_and_layers(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    add_session(viewer)
    widget = HypothesesWidget(viewer)
    qtbot.addWidget(widget)
    assert widget.source().name == "hippocampus"
    widget.set_settings(**TINY)
    assert widget.settings().max_iterations == 30
    widget.run()
    assert widget.running and not widget.run_button.isEnabled()
    qtbot.waitUntil(lambda: not widget.running, timeout=300_000)
    assert widget.run_button.isEnabled() and widget.result is not None
    names = [m.name for m in widget.result.models]
    assert names == ["CEBRA-Time", "position", "position (shuffled 1)"]
    assert widget.table.rowCount() == 3
    header = [widget.table.horizontalHeaderItem(j).text()
              for j in range(widget.table.columnCount())]
    assert {"model", "goodness of fit (bits)", "position R²", "direction accuracy"} <= set(header)
    assert not widget.plot.pixmap().isNull()
    added = [layer.name for layer in viewer.layers if layer.name.startswith(LAYER_PREFIX)]
    assert added == [f"{LAYER_PREFIX}{m} · by {v}" for m in ("CEBRA-Time", "position")
                     for v in ("position", "direction")]  # controls are not drawn
    layer = viewer.layers[f"{LAYER_PREFIX}position · by direction"]
    assert layer.data.shape == (500, 3)
    # coloured by the variable: the two directions get two colours
    assert len(np.unique(layer.face_color[:, :3].round(3), axis=0)) == 2
    assert embedding_of(layer.metadata)["embedding"].shape == (500, 3)
    widget.save_report(str(tmp_path / "r.json"))
    assert (tmp_path / "r.json").is_file()
    # a second run replaces the first run's layers
    widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=300_000)
    assert [ly.name for ly in viewer.layers if ly.name.startswith(LAYER_PREFIX)] == added


def test_cancel_leaves_the_viewer_as_it_was(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    add_session(viewer)
    widget = HypothesesWidget(viewer)
    qtbot.addWidget(widget)
    widget.set_settings(**{**TINY, "max_iterations": 5000})
    before = [layer.name for layer in viewer.layers]
    widget.run()
    qtbot.waitUntil(lambda: widget.pbar is not None and widget.pbar.n > 0, timeout=120_000)
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.running, timeout=120_000)
    assert [layer.name for layer in viewer.layers] == before and widget.result is None


def test_a_layer_without_declared_labels_is_refused(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    data, kwargs, _ = traces_layer(np.zeros((100, 4), np.float32), name="plain",
                                   labels={"x": np.arange(100.0)})
    viewer.add_image(data, **kwargs)
    widget = HypothesesWidget(viewer)
    qtbot.addWidget(widget)
    widget.run()
    assert not widget.running and "no label has a declared kind" in widget.info.text()
