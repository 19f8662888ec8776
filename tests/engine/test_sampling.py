import numpy as np
import pytest

from napari_cebra.engine.sampling import Labels, Sampler


def sampler(labels, conditional="time_delta", offset=10, prior="empirical", seed=0):
    return Sampler(labels, conditional, offset, 0.1, prior, np.random.default_rng(seed))


def test_time_positives_are_exactly_offset_ahead():
    s = sampler(Labels(500), conditional="time", offset=7)
    ref = s.references((20, 64))
    pos = s.positives(ref)
    assert np.all(pos - ref == 7)
    assert ref.min() >= 0 and pos.max() < 500


def test_no_labels_means_time_contrastive_whatever_the_conditional():
    s = sampler(Labels(300), conditional="time_delta", offset=3)
    ref = s.references((4, 32))
    assert np.all(s.positives(ref) - ref == 3)


def test_discrete_positives_share_the_reference_class():
    rng = np.random.default_rng(1)
    classes = rng.integers(0, 5, 1000)
    s = sampler(Labels(1000, discrete=classes))
    ref = s.references((10, 128))
    pos = s.positives(ref)
    assert np.array_equal(classes[ref], classes[pos])
    assert np.mean(pos != ref) > 0.9  # not just the reference itself


def test_uniform_prior_balances_rare_classes():
    classes = np.zeros(2000, dtype=np.int64)
    classes[:100] = 1  # 5 % of the time
    empirical = sampler(Labels(2000, discrete=classes)).references((50, 200))
    balanced = sampler(Labels(2000, discrete=classes), prior="uniform").references((50, 200))
    assert np.mean(classes[empirical] == 1) == pytest.approx(0.05, abs=0.01)
    assert np.mean(classes[balanced] == 1) == pytest.approx(0.5, abs=0.02)


def test_time_delta_positive_is_nearest_to_label_plus_empirical_step():
    # a label that grows one unit per sample: every empirical 5-sample step is +5
    y = np.arange(1000, dtype=np.float32)[:, None]
    s = sampler(Labels(1000, continuous=y), offset=5)
    ref = s.references((8, 64))
    pos = s.positives(ref)
    assert np.array_equal(pos, np.minimum(ref + 5, 999))


def test_delta_positive_is_the_nearest_label_to_the_query():
    rng = np.random.default_rng(2)
    y = rng.uniform(0, 1, (400, 1)).astype(np.float32)
    s = sampler(Labels(400, continuous=y), conditional="delta")
    query = np.array([[0.25], [0.5], [0.9]], dtype=np.float32)
    found = s.nearest(query, None)
    brute = np.abs(y[:, 0][None] - query).argmin(1)
    assert np.array_equal(found, brute)


def test_mixed_labels_keep_the_class_and_match_the_continuous_label():
    rng = np.random.default_rng(3)
    y = rng.uniform(0, 1, (1500, 1)).astype(np.float32)
    d = rng.integers(0, 2, 1500)
    s = sampler(Labels(1500, continuous=y, discrete=d), conditional="delta")
    ref = s.references((10, 100))
    pos = s.positives(ref)
    assert np.array_equal(d[ref], d[pos])
    assert np.median(np.abs(y[pos, 0] - y[ref, 0])) < 0.15


def test_negatives_cover_the_whole_session_uniformly():
    s = sampler(Labels(100), conditional="time")
    neg = s.negatives((200, 100)).ravel()
    counts = np.bincount(neg, minlength=100)
    assert counts.min() > 0.8 * counts.mean() and counts.max() < 1.2 * counts.mean()


@pytest.mark.parametrize("kwargs, match", [
    ({"conditional": "nearest"}, "conditional"),
    ({"prior": "uniform"}, "discrete"),
    ({"offset": 0}, "time_offsets"),
])
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sampler(Labels(100), **kwargs)


def test_exact_label_ties_resolve_to_the_earliest_time_point():
    """A movie shown 4 times gives every frame's label 4 times: each positive is the nearest
    label's first showing (within the class, when classes are given too)."""
    rng = np.random.default_rng(3)
    frames = rng.normal(size=(150, 3)).astype(np.float32)
    movie = np.tile(frames, (4, 1))  # (600, 3): repeat r occupies rows 150·r … 150·r + 149
    sampler = Sampler(Labels(600, continuous=movie), "time_delta", 10, 0.1, "empirical",
                      np.random.default_rng(0))
    ref = sampler.references((5_000,))
    pos = sampler.positives(ref)
    assert pos.max() < 150  # always the first showing …
    assert len(np.unique(pos)) > 100  # … of many different frames
    exact = sampler.nearest(movie[[400, 160, 599]], None)
    np.testing.assert_array_equal(exact, [100, 10, 149])

    # with classes: the earliest time point of the nearest label *within* the class
    classes = np.repeat([0, 1], 300)  # repeats 1–2 are class 0, repeats 3–4 class 1
    sampler = Sampler(Labels(600, continuous=movie, discrete=classes), "time_delta", 10, 0.1,
                      "empirical", np.random.default_rng(0))
    ref = sampler.references((5_000,))
    pos = sampler.positives(ref)
    first_showing = np.where(classes[ref] == 0, pos < 150, (pos >= 300) & (pos < 450))
    assert first_showing.all()
