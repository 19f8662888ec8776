import numpy as np
import pytest

from napari_cebra.imaging.traces import baseline, delta_f_over_f


def _traces(seed=0, t=3000, fs=30.0):
    rng = np.random.default_rng(seed)
    f0 = 100.0 + 20 * np.sin(np.arange(t) / t * np.pi)  # slow drift
    events = np.zeros(t)
    events[rng.choice(t, 20, replace=False)] = 1
    calcium = np.convolve(events, np.exp(-np.arange(60) / fs))[:t]
    neuropil = 30 + 5 * rng.standard_normal(t)
    F = f0 * (1 + calcium) + 0.7 * neuropil
    return F[None], neuropil[None], calcium[None], f0


@pytest.mark.parametrize("method", ["maximin", "percentile", "constant"])
def test_dff_recovers_relative_change(method):
    F, Fneu, calcium, _ = _traces()
    dff = delta_f_over_f(F, Fneu, neuropil_coefficient=0.7, method=method, fs=30.0,
                         window_s=20.0)
    assert dff.dtype == np.float32 and dff.shape == F.shape
    assert np.corrcoef(dff[0], calcium[0])[0, 1] > 0.95
    if method != "constant":  # a moving baseline removes the drift: dF/F ≈ calcium
        assert np.median(np.abs(dff[0] - calcium[0])) < 0.05


def test_neuropil_coefficient_is_used():
    F, Fneu, calcium, _ = _traces()
    a = delta_f_over_f(F, Fneu, neuropil_coefficient=0.0, fs=30.0)
    b = delta_f_over_f(F, Fneu, neuropil_coefficient=0.7, fs=30.0)
    assert np.corrcoef(b[0], calcium[0])[0, 1] > np.corrcoef(a[0], calcium[0])[0, 1]


def test_baseline_tracks_slow_drift():
    F, _, _, f0 = _traces()
    b = baseline(F - 0.0, "maximin", fs=30.0, window_s=20.0)
    assert np.corrcoef(b[0], f0)[0, 1] > 0.9


def test_bad_inputs():
    F = np.ones((2, 100))
    with pytest.raises(ValueError, match="Fneu shape"):
        delta_f_over_f(F, np.ones((3, 100)), fs=30)
    with pytest.raises(ValueError, match="frame rate"):
        delta_f_over_f(F, method="maximin", fs=None)
    with pytest.raises(ValueError, match="choose one of"):
        baseline(F, "median")
    with pytest.raises(ValueError, match="ROIs, frames"):
        delta_f_over_f(np.ones(100))
