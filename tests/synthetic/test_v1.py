"""The simulated V1 session: shapes, ground truth, a movie from the bundled photos, variability."""

import numpy as np
import pytest

from napari_cebra.analysis.movie_features import movie_features
from napari_cebra.synthetic.v1 import natural_movie, v1_session


@pytest.fixture(scope="module")
def session():
    return v1_session(n_repeats=3, movie_seconds=4, fs=30, n_neurons=60, movie_shape=(32, 32),
                      seed=1)


def test_shapes_and_ground_truth(session):
    s = session
    f, t = 120, 360
    assert s.movie.shape == (f, 32, 32) and s.movie.dtype == np.float32
    assert s.neural.shape == s.spikes.shape == (t, 60)
    assert s.neural.dtype == np.float32
    np.testing.assert_array_equal(s.frame_id, np.tile(np.arange(f), 3))
    np.testing.assert_array_equal(s.repeat, np.repeat(np.arange(3), f))
    assert s.running_speed.shape == (t,) and (s.running_speed >= 0).all()
    assert s.fs == 30 and s.n_repeats == 3 and s.n_frames == f
    np.testing.assert_array_equal(s.stimulus()[f + 5], s.movie[5])
    assert np.isfinite(s.neural).all()


def test_movie_is_natural_and_moving(session):
    m = session.movie
    assert m.min() >= 0.0 and m.max() <= 1.0 and m.std() > 0.1
    step = np.abs(np.diff(m, axis=0)).mean(axis=(1, 2))
    # slow pans and zooms: consecutive frames differ a little, frames far apart a lot
    assert np.median(step) < 0.1
    assert np.abs(m[0] - m[len(m) // 2]).mean() > 3 * np.median(step)


def test_seeded_and_same_movie_across_animals():
    a = v1_session(n_repeats=2, movie_seconds=2, n_neurons=20, movie_shape=(16, 16), seed=3)
    b = v1_session(n_repeats=2, movie_seconds=2, n_neurons=20, movie_shape=(16, 16), seed=3)
    c = v1_session(n_repeats=2, movie_seconds=2, n_neurons=20, movie_shape=(16, 16), seed=4)
    np.testing.assert_array_equal(a.neural, b.neural)
    np.testing.assert_array_equal(a.movie, c.movie)  # same movie, another animal
    assert not np.allclose(a.neural, c.neural)


def test_responses_follow_the_movie_but_vary_between_repeats(session):
    from scipy.ndimage import uniform_filter1d

    s = session
    x = uniform_filter1d(s.neural.reshape(3, s.n_frames, -1), 5, axis=1)
    # the last repeat's population activity matches the mean of the others at the right frame
    template, test = x[:2].mean(0), x[2]

    def z(a):
        return (a - a.mean(1, keepdims=True)) / (a.std(1, keepdims=True) + 1e-9)

    pred = (z(test) @ z(template).T).argmax(1)
    hits = np.abs(pred - np.arange(s.n_frames)) < 5
    chance = 9 / s.n_frames
    assert hits.mean() > 2 * chance
    # ... but not identically: trial-to-trial variability
    assert np.abs(x[0] - x[1]).mean() > 0.3 * x.std()
    rate = s.spikes.mean() * s.fs
    assert 0.5 < rate < 10


def test_natural_movie_shape_and_features():
    m = natural_movie(50, (24, 20), fs=10, rng=np.random.default_rng(0))
    assert m.shape == (50, 24, 20)
    z = movie_features(m, n_components=5)
    assert z.shape == (50, 5)
    assert np.isfinite(z).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_repeats"):
        v1_session(n_repeats=0)
