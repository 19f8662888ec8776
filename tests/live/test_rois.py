"""Raw frames → ROI fluorescence as suite2p extracts it, and a baseline that only looks back."""

import numpy as np
import pytest

from napari_cebra.live import RawFrames, RoiMasks, RunningDff


def test_sparse_masks_reproduce_suite2p_F_and_Fneu(suite2p_own_folder):
    import tifffile

    from napari_cebra.imaging.suite2p_read import read_suite2p

    output = read_suite2p(suite2p_own_folder)
    masks, _ = RoiMasks.from_suite2p(suite2p_own_folder)
    movie = tifffile.imread(suite2p_own_folder.parent / "data" / "movie.tif")
    F, Fneu = zip(*(masks.fluorescence(frame) for frame in movie), strict=True)
    np.testing.assert_allclose(np.stack(F, 1), output.F, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(np.stack(Fneu, 1), output.Fneu, rtol=1e-4, atol=1e-2)
    with pytest.raises(ValueError, match="ROI masks are for"):
        masks.fluorescence(movie[0][:-1])


def test_running_baseline_follows_a_slow_drift_without_looking_ahead():
    fs, n = 30.0, 3600
    t = np.arange(n) / fs
    f0 = 100.0 * (1 + 0.3 * t / t[-1])[:, None] * np.array([1.0, 2.0])  # slow rise, 2 ROIs
    rng = np.random.default_rng(0)
    events = np.zeros((n, 2))
    events[rng.choice(n, 40), 0] = 1.0
    events[rng.choice(n, 40), 1] = 1.0
    kernel = np.exp(-np.arange(60) / 15.0)
    true_dff = np.stack([np.convolve(events[:, i], kernel)[:n] for i in range(2)], 1)
    F = f0 * (1 + true_dff)
    dff = RunningDff(2, fs=fs, neuropil_coefficient=0.0, window_s=20.0)
    live = np.stack([dff(row) for row in F])
    settled = slice(int(25 * fs), None)
    assert np.median(np.abs(live[settled] - true_dff[settled])) < 0.05
    # causal: the first half is the same whether or not the second half ever comes
    again = RunningDff(2, fs=fs, neuropil_coefficient=0.0, window_s=20.0)
    np.testing.assert_array_equal(np.stack([again(row) for row in F[: n // 2]]),
                                  live[: n // 2])


def test_fixed_baseline_and_neuropil_subtraction():
    dff = RunningDff(2, neuropil_coefficient=0.5, baseline="fixed", f0=np.array([50.0, 80.0]))
    out = dff(np.array([120.0, 100.0]), np.array([40.0, 20.0]))
    np.testing.assert_allclose(out, [(100 - 50) / 50, (90 - 80) / 80], rtol=1e-6)
    with pytest.raises(ValueError, match="frame rate"):
        RunningDff(2, baseline="maximin")
    with pytest.raises(ValueError, match="f0"):
        RunningDff(2, baseline="fixed")


def test_raw_frames_front_end_from_a_suite2p_folder(suite2p_own_folder):
    front = RawFrames.from_suite2p(suite2p_own_folder, baseline="fixed")
    frame = np.full(front.frame_shape, 100, np.int16)
    out = front(frame)
    assert out.shape == (front.masks.n_rois,) and np.isfinite(out).all()


def test_masks_of_another_session_are_refused_when_the_decoder_is_built(suite2p_own_folder):
    from napari_cebra import CEBRA
    from napari_cebra.live import LiveDecoder

    front = RawFrames.from_suite2p(suite2p_own_folder, baseline="fixed")
    x = np.random.default_rng(0).normal(size=(100, front.masks.n_rois + 3)).astype(np.float32)
    model = CEBRA(max_iterations=2, batch_size=16, num_hidden_units=4, output_dimension=3,
                  device="cpu", seed=0).fit(x)
    with pytest.raises(ValueError, match=f"give {front.masks.n_rois} ROIs"):
        LiveDecoder.from_training(model, x, np.arange(100.0), frontend=front)
