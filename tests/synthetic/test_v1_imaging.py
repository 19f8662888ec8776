"""The V1 session rendered as a raw two-photon stack, and suite2p finding its neurons."""

import numpy as np
import pytest

from napari_cebra.synthetic.calcium_movie import match_centroids
from napari_cebra.synthetic.v1 import v1_session
from napari_cebra.synthetic.v1_imaging import v1_imaging_session


@pytest.fixture(scope="module")
def imaged():
    return v1_imaging_session(n_repeats=4, movie_seconds=10, n_neurons=40, shape=(128, 128),
                              seed=0)


def test_the_stack_images_the_v1_neurons_with_their_labels(imaged):
    s = imaged
    ref = v1_session(n_repeats=4, movie_seconds=10, n_neurons=40, seed=0)
    assert s.stack.shape == (1200, 128, 128) and s.stack.dtype == np.float32
    np.testing.assert_array_equal(s.spikes, ref.spikes)  # the same cells, the same spikes
    np.testing.assert_array_equal(s.frame_id, ref.frame_id)
    np.testing.assert_array_equal(s.repeat, ref.repeat)
    assert s.footprints.shape == (40, 128, 128) and s.true_traces.shape == (1200, 40)
    # each true trace is that neuron's spikes through the indicator's decay (tau)
    from scipy.signal import lfilter

    calcium = lfilter([1.0], [1.0, -np.exp(-1.0 / (s.tau * s.fs))], s.spikes, axis=0)
    r = [np.corrcoef(calcium[:, i], s.true_traces[:, i])[0, 1] for i in range(40)]
    assert np.min(r) > 0.9


def test_suite2p_finds_the_v1_neurons_in_the_raw_stack(imaged, tmp_path):
    from napari_cebra.imaging import extract
    from napari_cebra.imaging.suite2p_read import roi_centroids

    s = imaged
    session = extract(s.stack, fs=s.fs, tau=s.tau, diameter=s.diameter,
                      registration="rigid", out_dir=tmp_path / "out", torch_device="cpu")
    found = roi_centroids(session.suite2p.stat)
    truth, hit = match_centroids(s.centroids, found, s.diameter / 2)
    assert len(truth) / len(s.centroids) >= 0.9  # recall
    assert len(hit) / len(found) >= 0.9  # precision
