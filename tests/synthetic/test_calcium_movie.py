import numpy as np
import pytest

from napari_cebra.synthetic.calcium_movie import match_centroids, simulate_calcium_movie


@pytest.fixture(scope="module")
def sim():
    return simulate_calcium_movie(n_frames=300, shape=(64, 64), n_neurons=8, fs=20.0, seed=3)


def test_shapes_and_types(sim):
    t, n = 300, 8
    assert sim.movie.shape == (t, 64, 64) and sim.movie.dtype == np.float32
    assert sim.footprints.shape == (n, 64, 64)
    assert sim.centroids.shape == (n, 2)
    assert sim.traces.shape == (t, n) and sim.spikes.shape == (t, n)
    assert sim.shifts.shape == (t, 2)
    assert sim.fs == 20.0 and sim.n_neurons == n


def test_deterministic_for_a_seed():
    a = simulate_calcium_movie(n_frames=50, shape=(32, 32), n_neurons=3, seed=1)
    b = simulate_calcium_movie(n_frames=50, shape=(32, 32), n_neurons=3, seed=1)
    c = simulate_calcium_movie(n_frames=50, shape=(32, 32), n_neurons=3, seed=2)
    np.testing.assert_array_equal(a.movie, b.movie)
    assert not np.array_equal(a.movie, c.movie)


def test_footprints_are_somata_at_their_centroids(sim):
    yy, xx = np.mgrid[:64, :64]
    for fp, (cy, cx) in zip(sim.footprints, sim.centroids, strict=True):
        assert fp.max() == pytest.approx(1.0)
        area = (fp > 0.5).sum()
        assert 0.3 * np.pi * (sim.diameter / 2) ** 2 < area < 2.5 * np.pi * (sim.diameter / 2) ** 2
        inside = fp > 0.5
        assert abs(yy[inside].mean() - cy) < 1.5 and abs(xx[inside].mean() - cx) < 1.5


def test_traces_follow_spikes_with_indicator_decay(sim):
    # fluorescence jumps in the frame after each spike
    for i in range(sim.n_neurons):
        s, f = sim.spikes[:, i], sim.traces[:, i]
        assert s.sum() > 0
        assert np.corrcoef(s[:-1], np.diff(f))[0, 1] > 0.8
    # and decays with tau: the autocorrelation at lag tau is near 1/e of the transient's
    one = simulate_calcium_movie(n_frames=2000, shape=(32, 32), n_neurons=1, seed=5)
    f = one.traces[:, 0] - one.traces[:, 0].min()
    lag = int(one.tau * one.fs)
    t_peak = int(np.argmax(f[: len(f) - 2 * lag]))
    ratio = f[t_peak + lag] / f[t_peak]
    assert 0.2 < ratio < 0.7  # e^-1 ≈ 0.37, more if another spike arrives
    assert np.all(sim.traces.min(axis=0) > 0)


def test_motion_moves_the_frames():
    still = simulate_calcium_movie(n_frames=200, shape=(48, 48), n_neurons=4, motion=False)
    moved = simulate_calcium_movie(n_frames=200, shape=(48, 48), n_neurons=4, motion=True)
    assert np.all(still.shifts == 0)
    assert moved.shifts.std(axis=0).min() > 0.3 and np.abs(moved.shifts).max() <= 3.0 + 1e-6


def test_movie_mean_tracks_the_neurons(sim):
    # the pixels of a neuron brighten when it fires (motion is small against a soma)
    for i in range(sim.n_neurons):
        mask = sim.footprints[i] > 0.6
        pix = sim.movie[:, mask].mean(axis=1)
        assert np.corrcoef(pix, sim.traces[:, i])[0, 1] > 0.5


def test_match_centroids_removes_a_global_offset():
    truth = np.array([[10.0, 10.0], [30.0, 40.0], [50.0, 20.0]])
    found = truth[::-1] + [2.0, -1.5]
    i, j = match_centroids(truth, found, max_dist=1.0)
    assert list(i) == [0, 1, 2] and list(j) == [2, 1, 0]
    assert match_centroids(truth, found[:0], 1.0)[0].size == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_frames"):
        simulate_calcium_movie(n_frames=0)
    with pytest.raises(ValueError, match="16 px"):
        simulate_calcium_movie(shape=(8, 8))
