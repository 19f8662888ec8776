"""Our conditional samplers draw the paper's distributions: the same ones as the reference
package's samplers (``cebra.distributions``), on the same labels, by two-sample tests.

For each conditional we draw 10,000 (reference, positive) pairs from each package and compare
the distribution of the label step (label[positive] − label[reference]) with a
Kolmogorov–Smirnov test, and class frequencies with a chi-square test. Each test also shows
that it can fail: a deliberately wrong sampler (another time offset, another δ, another prior)
is rejected on the same data.
"""

import numpy as np
import pytest
import torch
from scipy import stats

dist = pytest.importorskip(
    "cebra.distributions", reason="the reference package `cebra` is not installed (pip install "
    "napari-cebra[bench]); these tests compare our samplers with it")

from napari_cebra.engine.sampling import Labels, Sampler  # noqa: E402

N_DRAWS = 10_000
T = 2_000
SAME, DIFFERENT = 1e-4, 1e-8  # p-value above which we accept, below which we reject


@pytest.fixture(scope="module")
def labels():
    """A smooth 1-D trajectory (position on a track) and unbalanced classes in blocks."""
    rng = np.random.default_rng(7)
    position = np.cumsum(rng.normal(0, 0.02, T))
    position = (position - position.min()) / np.ptp(position)
    classes = np.repeat(rng.choice(3, size=T // 50, p=[0.6, 0.3, 0.1]), 50)
    return position.astype(np.float32), classes.astype(np.int64)


def _seed(seed: int = 0) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the reference's discrete sampler draws from it


def _ours(labels, conditional, *, continuous=True, discrete=False, time_offset=10, delta=0.1,
          prior="empirical", seed=1):
    position, classes = labels
    sampler = Sampler(Labels(T, position[:, None] if continuous else None,
                             classes if discrete else None),
                      conditional, time_offset, delta, prior, np.random.default_rng(seed))
    ref = sampler.references((N_DRAWS,))
    return ref, sampler.positives(ref)


def _step(labels, ref, pos):
    position = labels[0]
    return position[np.asarray(pos)] - position[np.asarray(ref)]


def _ks(a, b) -> float:
    return stats.ks_2samp(a, b).pvalue


def _chi2(a, b, k: int) -> float:
    table = np.stack([np.bincount(a, minlength=k), np.bincount(b, minlength=k)])
    return stats.chi2_contingency(table).pvalue


def test_time(labels):
    _seed()
    reference = dist.TimeContrastive(torch.from_numpy(labels[0][:, None]), time_offset=10)
    r_ref = reference.sample_prior(N_DRAWS)
    r_pos = reference.sample_conditional(r_ref).numpy()
    ref, pos = _ours(labels, "time")
    assert np.all(pos - ref == 10) and np.all(r_pos - r_ref.numpy() == 10)
    assert _ks(ref, r_ref.numpy()) > SAME  # same prior: uniform over [0, T − offset)
    assert _ks(_step(labels, ref, pos), _step(labels, r_ref, r_pos)) > SAME
    ref, pos = _ours(labels, "time", time_offset=20)
    assert _ks(_step(labels, ref, pos), _step(labels, r_ref, r_pos)) < DIFFERENT


def test_time_delta(labels):
    _seed()
    reference = dist.TimedeltaDistribution(torch.from_numpy(labels[0][:, None]), time_delta=10)
    r_ref = reference.sample_prior(N_DRAWS)
    r_step = _step(labels, r_ref, reference.sample_conditional(r_ref))
    ref, pos = _ours(labels, "time_delta")
    assert _ks(ref, r_ref.numpy()) > SAME
    assert _ks(_step(labels, ref, pos), r_step) > SAME
    ref, pos = _ours(labels, "time_delta", time_offset=20)
    assert _ks(_step(labels, ref, pos), r_step) < DIFFERENT


def test_delta(labels):
    _seed()
    reference = dist.DeltaNormalDistribution(torch.from_numpy(labels[0][:, None]), delta=0.1)
    r_ref = reference.sample_prior(N_DRAWS)
    r_step = _step(labels, r_ref, reference.sample_conditional(r_ref))
    ref, pos = _ours(labels, "delta", delta=0.1)
    assert _ks(_step(labels, ref, pos), r_step) > SAME
    ref, pos = _ours(labels, "delta", delta=0.15)
    assert _ks(_step(labels, ref, pos), r_step) < DIFFERENT


@pytest.mark.parametrize("prior", ["empirical", "uniform"])
def test_discrete(labels, prior):
    classes = labels[1]
    _seed()
    kind = dist.DiscreteEmpirical if prior == "empirical" else dist.DiscreteUniform
    reference = kind(torch.from_numpy(classes))
    r_ref = reference.sample_prior(N_DRAWS).numpy()
    r_pos = np.asarray(reference.sample_conditional(torch.from_numpy(classes[r_ref])))
    ref, pos = _ours(labels, "time_delta", continuous=False, discrete=True, prior=prior)
    assert np.all(classes[pos] == classes[ref]) and np.all(classes[r_pos] == classes[r_ref])
    assert _chi2(classes[ref], classes[r_ref], 3) > SAME  # the prior's class frequencies
    assert _ks(pos, r_pos) > SAME  # within a class, positives are uniform over its samples
    other = "uniform" if prior == "empirical" else "empirical"
    wrong, _ = _ours(labels, "time_delta", continuous=False, discrete=True, prior=other)
    assert _chi2(classes[wrong], classes[r_ref], 3) < DIFFERENT


def test_mixed_discrete_and_time_delta(labels):
    position, classes = labels
    _seed()
    reference = dist.MixedTimeDeltaDistribution(torch.from_numpy(classes),
                                                torch.from_numpy(position[:, None]),
                                                time_delta=10)
    r_ref = reference.sample_prior(N_DRAWS)
    r_pos = reference.sample_conditional(r_ref).numpy()
    r_ref = r_ref.numpy()
    ref, pos = _ours(labels, "time_delta", discrete=True, prior="uniform")
    assert np.all(classes[pos] == classes[ref]) and np.all(classes[r_pos] == classes[r_ref])
    assert _chi2(classes[ref], classes[r_ref], 3) > SAME
    r_step = _step(labels, r_ref, r_pos)
    assert _ks(_step(labels, ref, pos), r_step) > SAME
    ref, pos = _ours(labels, "time_delta", discrete=True, prior="uniform", time_offset=25)
    assert _ks(_step(labels, ref, pos), r_step) < DIFFERENT


def test_exact_label_ties_pick_the_same_time_point_as_the_reference_search():
    """Repeated stimuli give exact label ties. The reference's brute-force search returns the
    earliest tied time point; ours must return the very same index for every query (this
    decides which repeat the positives come from, worth ≈ 2 points of movie decoding)."""
    rng = np.random.default_rng(5)
    frames = rng.normal(size=(300, 4))
    movie = np.tile(frames, (5, 1))  # a 300-frame movie shown 5 times, 4-D features
    ours = Sampler(Labels(len(movie), movie.astype(np.float32)), "time_delta", 10, 0.1,
                   "empirical", np.random.default_rng(0))
    query = ours.queries(ours.references((N_DRAWS,)))
    reference = dist.ContinuousIndex(torch.from_numpy(movie))  # float64: no rounding ties
    expected = reference.search(torch.from_numpy(query.astype(np.float64))).numpy()
    np.testing.assert_array_equal(ours.nearest(query, None), expected)
    assert expected.max() < 300  # the first showing, always
