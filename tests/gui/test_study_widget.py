"""The Study widget: a batch results table in, a session's traces and embedding out."""

from __future__ import annotations

import numpy as np

from napari_cebra.batch.results import write_results
from napari_cebra.contracts import embedding_of, traces_of
from napari_cebra.embedding_files import save_embedding
from napari_cebra.gui.embedding_view import EmbeddingView
from napari_cebra.gui.study_widget import StudyWidget


def fake_batch(folder):
    """A batch folder as 'napari-cebra batch' leaves it: two done sessions, one failed."""
    rng = np.random.default_rng(0)
    rows = []
    for i, name in enumerate(("a", "b")):
        traces = rng.normal(size=(200, 7 + i)).astype(np.float32)
        np.save(folder / f"{name}.npy", traces)
        emb = rng.normal(size=(200, 3)).astype(np.float32)
        pos = np.linspace(0, 1, 200, dtype=np.float32)
        (folder / "tasks").mkdir(exist_ok=True)
        path = folder / "tasks" / f"{name}-final-x.embedding.npy"
        save_embedding(path, emb, np.arange(200), {"label": pos})
        rows.append(dict(session=name, stage="final", status="done", error="", val_score=0.9,
                         test_score=0.8 - i / 10, score_kind="r2", n_neighbors=3,
                         output_dimension=3, conditional="time_delta", embedding=str(path),
                         traces=str(folder / f"{name}.npy"), n_frames=200, n_neurons=7 + i,
                         fs=20.0, test_fraction=0.2))
    rows.append(dict(session="c", stage="final", status="failed", error="ValueError: bad"))
    write_results(rows, folder)
    return folder


def test_opens_the_table_and_loads_a_session_into_the_embedding_view(
        make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    widget = StudyWidget(viewer)
    qtbot.addWidget(widget)
    widget.open_results(fake_batch(tmp_path))
    assert widget.table.rowCount() == 3
    header = [widget.table.horizontalHeaderItem(j).text()
              for j in range(widget.table.columnCount())]
    assert header[:3] == ["session", "stage", "status"]
    assert widget.table.item(2, header.index("status")).text() == "failed"
    assert widget.sessions() == ["a", "b"]

    widget._load_row(1)  # double-clicking session b: its files are read on a worker
    assert widget.running and not widget.load_button.isEnabled()
    qtbot.waitUntil(lambda: not widget.running, timeout=20_000)
    assert widget.load_button.isEnabled()
    layer = viewer.layers["b traces"]
    record = traces_of(layer.metadata)
    assert record["traces"].shape == (200, 8) and record["fs"] == 20.0
    assert record["label_kinds"] == {"label": "continuous"}
    emb = embedding_of(layer.metadata)
    assert emb["embedding"].shape == (200, 3)
    assert emb["train_mask"].sum() == 160  # validation + training; the last 20 % tested
    view = EmbeddingView.for_viewer(viewer)
    assert view.source is layer
    assert "test 0.700" in widget.info.text()


def test_cancelling_a_load_leaves_the_viewer_as_it_was(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    widget = StudyWidget(viewer)
    qtbot.addWidget(widget)
    widget.open_results(fake_batch(tmp_path))
    widget._load_row(0)
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.running, timeout=20_000)
    assert len(viewer.layers) == 0
    assert "Cancelled" in widget.info.text()
    widget._load_row(0)  # and the widget is ready for the next load
    qtbot.waitUntil(lambda: not widget.running, timeout=20_000)
    assert "a traces" in viewer.layers


def test_a_failed_session_is_refused_with_the_choices(make_napari_viewer, tmp_path):
    import pytest

    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-cebra", "Study")  # the manifest
    assert isinstance(widget, StudyWidget)
    widget.open_results(fake_batch(tmp_path))
    with pytest.raises(ValueError, match="choose one of a, b"):
        widget.load_session("c")
    assert len(viewer.layers) == 0


def test_a_suite2p_session_also_gets_its_roi_labels(make_napari_viewer, qtbot, tmp_path,
                                                     suite2p_own_folder):
    from napari_cebra.imaging.session import load_session

    n = load_session(suite2p_own_folder).n_frames
    path = tmp_path / "e.embedding.npy"
    save_embedding(path, np.zeros((n, 3), np.float32), np.arange(n), {})
    write_results([dict(session="plane", stage="final", status="done", error="",
                        val_score=np.nan, test_score=np.nan, score_kind="",
                        embedding=str(path), traces=str(suite2p_own_folder), n_frames=n,
                        n_neurons=1, fs=np.nan, test_fraction=0.2)], tmp_path)
    viewer = make_napari_viewer()
    widget = StudyWidget(viewer)
    qtbot.addWidget(widget)
    widget.open_results(tmp_path / "results.csv")
    layer = widget.load_session("plane")
    rois = viewer.layers["plane ROIs"]
    assert rois.data.max() >= 1 and "plane mean image" in viewer.layers
    assert traces_of(layer.metadata)["fs"] > 0  # the rate suite2p recorded
    assert embedding_of(layer.metadata)["embedding"].shape == (n, 3)


def test_the_table_is_read_and_checked_on_a_worker(make_napari_viewer, qtbot, tmp_path):
    from napari_cebra.gui.study_widget import StudyWidget

    folder = fake_batch(tmp_path)
    (folder / "b.npy").unlink()  # a finished session whose traces went missing
    widget = StudyWidget(make_napari_viewer())
    widget.start_open(folder)
    widget.cancel()  # cancelled: the table stays as it was (empty)
    qtbot.waitUntil(lambda: not widget.running, timeout=20_000)
    assert widget.frame is None and widget.table.rowCount() == 0
    assert "Cancelled" in widget.info.text()
    widget.start_open(folder)
    assert widget.running and not widget.open_button.isEnabled()
    qtbot.waitUntil(lambda: not widget.running, timeout=20_000)
    assert widget.table.rowCount() == 3 and widget.sessions() == ["a", "b"]
    assert "Missing files: b: traces" in widget.info.text()
