"""An NWB file opened through napari: a lazy stack, the stimulus movie and a ROI layer whose
traces and labels Train and Decode use as they are; the embedding saved into a new NWB."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Points

from napari_cebra.contracts import META_KEY, has_traces
from napari_cebra.embedding_files import load_embedding
from napari_cebra.gui import reader
from napari_cebra.gui.writers import write_embedding
from napari_cebra.imaging.nwb_write import write_session_nwb
from napari_cebra.synthetic.v1_imaging import v1_imaging_session

pytest.importorskip("pynwb")


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    s = v1_imaging_session(n_repeats=2, movie_seconds=3.0, n_neurons=8, shape=(32, 36),
                           motion=False, seed=2)
    fp = s.footprints
    masks = np.where(fp > 0.3 * fp.max(axis=(1, 2), keepdims=True), 1.0, 0.0)
    path = tmp_path_factory.mktemp("nwb") / "mouse.nwb"
    write_session_nwb(path, stack=np.round(s.stack).astype(np.uint16), fs=s.fs, masks=masks,
                      traces=s.true_traces,
                      labels={"repeat": s.repeat, "running_speed": s.running_speed},
                      stimulus_frame_id=s.frame_id, stimulus_movie=s.movie)
    return s, path


def test_nwb_opens_as_stack_movie_and_roi_layers(make_napari_viewer, recording, qtbot):
    from napari_cebra.gui.decode_widget import DecodeWidget
    from napari_cebra.gui.train_widget import TrainWidget

    s, path = recording
    assert reader.get_nwb_reader(str(path)) is reader.read_nwb
    assert reader.get_nwb_reader(str(path.parent)) is None
    assert reader.get_stack_reader(str(path)) is None  # the NWB reader opens it, not this one
    viewer = make_napari_viewer()
    layers = viewer.open(str(path), plugin="napari-cebra")
    names = [layer.name for layer in layers]
    assert names == ["mouse TwoPhotonSeries", "mouse stimulus_movie", "mouse ROIs"]
    stack, movie, rois = layers
    assert type(stack.data).__name__ == "Array" and stack.data.shape == s.stack.shape  # lazy
    assert stack.metadata["fs"] == s.fs
    np.testing.assert_array_equal(movie.data, s.movie)
    assert rois.__class__.__name__ == "Labels" and rois.data.max() == 8
    record = rois.metadata[META_KEY]
    np.testing.assert_array_equal(record["traces"], s.true_traces.astype(np.float32))
    assert record["fs"] == s.fs and record["time_axis"] == 0
    assert record["label_kinds"] == {"repeat": "discrete", "running_speed": "continuous",
                                     "frame": "discrete"}
    np.testing.assert_array_equal(record["labels"]["frame"], s.frame_id)
    np.testing.assert_array_equal(record["labels"]["repeat"], s.repeat)
    assert record["movie_layer"] == "mouse stimulus_movie"
    assert [layer.name for layer in viewer.layers if has_traces(layer)] == ["mouse ROIs"]

    train = TrainWidget(viewer)
    viewer.window.add_dock_widget(train)
    assert train.traces.value.name == "mouse ROIs"
    decode = DecodeWidget(viewer)
    viewer.window.add_dock_widget(decode)
    assert decode.traces.value.name == "mouse ROIs"
    assert decode.movie.value.name == "mouse stimulus_movie"
    assert (decode.frame_label.value, decode.repeat_label.value) == (
        "frame", "repeat")
    qtbot.waitUntil(lambda: not train.warm_up.is_running, timeout=30_000)


def test_embedding_layer_saves_as_a_new_nwb(make_napari_viewer, recording, tmp_path):
    _, source = recording
    emb = np.random.default_rng(0).normal(size=(180, 3)).astype(np.float32)
    record = {"embedding": emb, "time": np.arange(180), "labels": {"repeat": np.arange(180) // 90},
              "settings": {"max_iterations": 10}, "fs": 30.0, "source_file": str(source)}
    viewer = make_napari_viewer()
    layer = Points(emb[::10], metadata={META_KEY: {"kind": "embedding", **record}})
    viewer.add_layer(layer)
    out = tmp_path / "embedding.nwb"
    assert viewer.layers.save(str(out), selected=True, plugin="napari-cebra") == [str(out)]
    got, time, labels = load_embedding(out)
    np.testing.assert_array_equal(got, emb)
    np.testing.assert_array_equal(time, np.arange(180))
    np.testing.assert_array_equal(labels["repeat"], np.arange(180) // 90)
    before = source.read_bytes()
    meta = {"metadata": layer.metadata}
    with pytest.raises(ValueError, match="recording the embedding came from"):
        write_embedding(str(source), layer.data, meta)
    other = dict(record, source_file=None)
    with pytest.raises(FileExistsError, match="more than a napari-cebra embedding"):
        write_embedding(str(source), layer.data, {"metadata": {META_KEY: other}})
    assert source.read_bytes() == before
