"""The Extract traces (suite2p) widget, end to end on the synthetic movie."""

from __future__ import annotations

import numpy as np
import pytest

from napari_cebra.contracts import META_KEY
from napari_cebra.gui import extract_widget as ew
from napari_cebra.gui import jobs
from napari_cebra.synthetic.calcium_movie import match_centroids, simulate_calcium_movie


@pytest.fixture(scope="module")
def sim():
    return simulate_calcium_movie(n_frames=600, shape=(64, 64), n_neurons=6, seed=11)


@pytest.fixture
def errors(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(ew, "show_error", lambda msg: shown.append(str(msg)))
    monkeypatch.setattr(jobs, "show_error", lambda msg: shown.append(str(msg)))
    return shown


def make_widget(viewer, **values):
    widget = ew.ExtractWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.form["fs"].value = values.get("fs", 30.0)
    widget.form["diameter"].value = values.get("diameter", 6.0)
    widget.form["registration"].value = values.get("registration", "rigid")
    return widget


def test_extracts_rois_and_traces_bound_to_the_stack(make_napari_viewer, qtbot, sim, tmp_path):
    viewer = make_napari_viewer()
    stack = viewer.add_image(sim.movie, name="movie", scale=(1, 0.5, 0.5))
    viewer.add_image(np.zeros((64, 64)), name="other")  # selected when the run ends
    widget = make_widget(viewer)
    assert widget.stack.value.name == "movie"  # 2-D layers are not stacks
    out = tmp_path / "out"
    widget.out_dir.value = str(out)
    with qtbot.waitSignal(widget.extracted, timeout=120_000) as blocker:
        widget.start()
        assert widget.running and widget.cancel_button.isEnabled()
    rois = blocker.args[0]
    qtbot.waitUntil(lambda: not widget.running, timeout=10_000)
    assert rois.name == "movie ROIs" and tuple(rois.scale) == (0.5, 0.5)
    meta = rois.metadata[META_KEY]
    n = int(rois.data.max())
    assert meta["traces"].shape == (600, n) and meta["source_layer"] == "movie"
    assert set(meta["trace_sets"]) == {"F", "Fneu", "spks", "dff"} and meta["fs"] == 30.0
    assert len(rois.features) == n and "iscell" in rois.features
    assert "movie registered" in viewer.layers  # registration ran
    assert viewer.layers["movie registered"].data.shape == stack.data.shape
    i, _ = match_centroids(sim.centroids, rois.features[["centroid_y", "centroid_x"]].to_numpy(),
                           max_dist=sim.diameter / 2)
    assert len(i) >= 0.8 * sim.n_neurons
    assert (out / "suite2p" / "plane0" / "stat.npy").exists()


def test_bad_input_shows_an_error_and_changes_nothing(make_napari_viewer, qtbot, errors,
                                                      tmp_path, sim):
    viewer = make_napari_viewer()
    widget = make_widget(viewer)
    widget.start()  # no stack at all
    assert errors and "No stack" in errors[-1] and not widget.running
    viewer.add_image(np.zeros((3, 8, 8), bool), name="mask")
    widget.start()
    assert "number type" in errors[-1]
    flat = tmp_path / "flat.npy"
    np.save(flat, np.zeros((32, 32), np.uint16))
    widget.stack_file.value = str(flat)
    widget.start()
    assert "single image" in errors[-1]
    n_layers = len(viewer.layers)

    # an existing suite2p folder is never overwritten without the explicit choice
    existing = tmp_path / "done"
    (existing / "suite2p" / "plane0").mkdir(parents=True)
    (existing / "suite2p" / "plane0" / "stat.npy").write_bytes(b"keep")
    movie = tmp_path / "movie.npy"
    np.save(movie, sim.movie[:100])
    widget.stack_file.value = str(movie)
    widget.out_dir.value = str(existing)
    widget.start()
    qtbot.waitUntil(lambda: not widget.running, timeout=30_000)
    assert "already holds suite2p results" in errors[-1]
    assert (existing / "suite2p" / "plane0" / "stat.npy").read_bytes() == b"keep"
    assert len(viewer.layers) == n_layers and widget.run_button.isEnabled()


def test_cancel_leaves_the_viewer_and_disk_as_they_were(make_napari_viewer, qtbot, sim, tmp_path):
    viewer = make_napari_viewer()
    viewer.add_image(sim.movie, name="movie")
    widget = make_widget(viewer, registration="rigid")
    out = tmp_path / "cancelled"
    widget.out_dir.value = str(out)
    widget.start()
    qtbot.waitUntil(lambda: out.exists(), timeout=30_000)
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.running, timeout=60_000)
    assert widget.cleanup is not None
    widget.cleanup.join(timeout=60)
    assert not out.exists()
    assert [layer.name for layer in viewer.layers] == ["movie"]
    assert "Cancelled" in widget.status.text()


def test_labels_are_declared_resampled_and_attached(make_napari_viewer, tmp_path, monkeypatch):
    from napari_cebra.gui import labels_widget as lw

    shown: list[str] = []
    monkeypatch.setattr(lw, "show_error", lambda msg: shown.append(str(msg)))
    viewer = make_napari_viewer()
    meta = {"traces": np.zeros((300, 3), np.float32), "fs": 30.0, "labels": {},
            "label_kinds": {}, "time_axis": 0}
    layer = viewer.add_labels(np.zeros((8, 8), np.int32), name="ROIs",
                              metadata={META_KEY: meta})
    widget = lw.LabelsWidget(viewer)
    t = np.arange(0, 10.5, 0.1)  # 10 Hz behaviour with timestamps
    path = tmp_path / "b.csv"
    path.write_text("t,speed,zone\n" + "\n".join(f"{x:.1f},{2 * x:.2f},{int(x) // 5}" for x in t))
    assert widget.load_file(str(path)) and widget.table.rowCount() == 3
    widget.attach()  # nothing declared yet
    assert "declare the kind" in shown[-1] and layer.metadata[META_KEY]["labels"] == {}
    widget.set_kind("t", "time (s)")
    widget.set_kind("speed", "continuous")
    widget.set_kind("zone", "discrete")
    widget.attach()
    labels = layer.metadata[META_KEY]["labels"]
    assert layer.metadata[META_KEY]["label_kinds"] == {"speed": "continuous", "zone": "discrete"}
    np.testing.assert_allclose(labels["speed"], 2 * np.arange(300) / 30.0, atol=1e-4)
    np.testing.assert_array_equal(labels["zone"], (np.arange(300) // 150))

    bad = tmp_path / "nan.csv"
    bad.write_text("speed\n" + "\n".join(["1.0"] * 299 + ["nan"]))
    assert widget.load_file(str(bad))
    widget.set_kind("speed", "continuous")
    widget.attach()
    assert "NaN" in shown[-1]
    np.testing.assert_allclose(layer.metadata[META_KEY]["labels"]["speed"],
                               2 * np.arange(300) / 30.0, atol=1e-4)  # unchanged


@pytest.mark.parametrize("name", ["Extract traces (suite2p)", "Trace view", "Attach labels"])
def test_widgets_dock_from_the_manifest(make_napari_viewer, name):
    viewer = make_napari_viewer()
    dock, widget = viewer.window.add_plugin_dock_widget("napari-cebra", name)
    viewer.add_labels(np.zeros((4, 4), np.int32), name="rois", metadata={META_KEY: {
        "traces": np.zeros((10, 2), np.float32), "fs": 10.0, "time_axis": 0}})
    viewer.add_image(np.zeros((10, 4, 4)), name="movie")
    picker = next(getattr(widget, n) for n in ("stack", "rois", "traces") if hasattr(widget, n))
    items = [layer.name for layer in picker.choices]  # the layers it works on, as they come
    assert items == (["movie"] if name.startswith("Extract") else ["rois"])
