"""File ▸ Open Sample: both synthetic sessions open offline, carry the traces contract."""

from __future__ import annotations

import numpy as np

from napari_cebra.contracts import META_KEY
from napari_cebra.gui.layers import grid_shape, neuron_grid_movie
from napari_cebra.gui.sample_data import hippocampus_sample
from napari_cebra.pipeline import TrainSettings, job_from_metadata


def test_hippocampus_sample_opens_with_labels_and_a_time_axis(make_napari_viewer):
    viewer = make_napari_viewer()
    layers = viewer.open_sample("napari-cebra", "hippocampus")
    assert len(layers) == 1
    layer = layers[0]
    meta = layer.metadata[META_KEY]
    traces = meta["traces"]
    assert traces.shape == (10_000, 120) and traces.dtype == np.float32
    assert meta["label_kinds"] == {"position": "continuous", "direction": "discrete"}
    assert set(np.unique(meta["labels"]["direction"])) == {0, 1}
    assert meta["fs"] > 0 and meta["time_axis"] == 0
    assert viewer.dims.nsteps[0] == 10_000  # the slider the embedding cursor follows
    # The grid movie shows neuron k's trace at pixel k.
    rows, cols = grid_shape(120)
    np.testing.assert_array_equal(layer.data[:, 3 // cols, 3 % cols], traces[:, 3])
    job = job_from_metadata(meta, TrainSettings(), ["position", "direction"])
    assert job.continuous.shape == (10_000, 1) and job.discrete.shape == (10_000,)


def test_hippocampus_sample_is_deterministic():
    first = hippocampus_sample(n_samples=500)[0]
    second = hippocampus_sample(n_samples=500)[0]
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1]["metadata"][META_KEY]["labels"]["position"],
                                  second[1]["metadata"][META_KEY]["labels"]["position"])


def test_calcium_sample_opens_stack_and_ground_truth(make_napari_viewer):
    viewer = make_napari_viewer()
    movie, rois = viewer.open_sample("napari-cebra", "calcium")
    assert movie.data.shape == (1000, 128, 128)
    assert rois.data.shape == (128, 128)
    meta = rois.metadata[META_KEY]
    n = meta["traces"].shape[1]
    assert meta["traces"].shape == (1000, n) and n > 0
    # Each ground-truth neuron has pixels in the ROI image, with its centroid in features.
    assert set(np.unique(rois.data)) - {0} == set(range(1, n + 1))
    assert len(rois.features) == n
    assert viewer.dims.nsteps[0] == 1000


def test_neuron_grid_movie_pads_spare_pixels():
    movie = neuron_grid_movie(np.ones((4, 5), np.float32))
    assert movie.shape == (4, 2, 3)
    assert movie.sum() == 20


def test_v1_stack_sample_opens_the_raw_stack_its_stimulus_and_truth(make_napari_viewer):
    from napari_cebra.contracts import traces_of

    viewer = make_napari_viewer()
    layers = viewer.open_sample("napari-cebra", "v1-stack")
    stack, movie, truth = layers
    assert stack.data.ndim == 3 and stack.data.shape[1:] == (96, 96)
    assert movie.name == "V1 stimulus movie"
    record = traces_of(truth.metadata)
    assert record["traces"].shape == (stack.data.shape[0], len(truth.features))
    assert record["label_kinds"] == {"frame_id": "discrete", "repeat": "discrete",
                                     "running_speed": "continuous"}
    assert record["movie_layer"] == movie.name
    frame_labels = stack.metadata["napari_cebra_frame_labels"]["labels"]
    assert frame_labels["frame_id"].max() < movie.data.shape[0]


def test_the_sample_nwb_file_opens_as_stack_movie_and_rois_with_traces(make_napari_viewer):
    from napari_cebra.contracts import traces_of
    from napari_cebra.sample_files import sample_files

    files = sample_files()
    viewer = make_napari_viewer()
    layers = viewer.open(str(files.nwb), plugin="napari-cebra")
    kinds = sorted(type(layer).__name__ for layer in layers)
    assert kinds == ["Image", "Image", "Labels"]
    rois = next(layer for layer in layers if type(layer).__name__ == "Labels")
    record = traces_of(rois.metadata)
    assert record["traces"].shape == (600, 50)
    assert {"frame_id", "repeat", "running_speed"} <= set(record["labels"])
