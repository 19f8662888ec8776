"""The frame-decoding protocol on a small simulated V1 session with known frames."""

import json

import numpy as np
import pytest

from napari_cebra.analysis.frame_decoding import (
    cebra_labels,
    decode_frames,
    frame_accuracy,
    frame_chance,
    frame_decoding_steps,
    split_repeats,
)
from napari_cebra.synthetic.v1 import v1_session

TINY_CEBRA = dict(max_iterations=20, batch_size=64, num_hidden_units=16, output_dimension=8,
                  device="cpu")


@pytest.fixture(scope="module")
def session():
    # 20 s at 10 Hz: the ±1 s window is 19 of 200 frames, so chance is ~9 %
    return v1_session(n_repeats=4, movie_seconds=20, fs=10, n_neurons=150, movie_shape=(24, 24),
                      seed=2)


@pytest.fixture(scope="module")
def report(session):
    s = session
    events = []
    gen = frame_decoding_steps(s.neural, s.frame_id, s.repeat, s.fs, movie=s.movie,
                               cebra_params=TINY_CEBRA, progress_every=5)
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return stop.value, events


def test_chance_matches_random_guessing():
    rng = np.random.default_rng(0)
    true = rng.integers(0, 900, 200_000)
    guess = rng.integers(0, 900, 200_000)
    assert frame_chance(900, 30) == pytest.approx(frame_accuracy(guess, true, 30), abs=0.003)
    assert 0.06 < frame_chance(900, 30) < 0.066


def test_split_defaults_and_errors():
    rep = np.repeat(np.arange(5), 3)
    assert split_repeats(rep) == ([0, 1, 2, 3], 3, 4)
    assert split_repeats(rep, train_repeats=[1, 2], validation_repeat=1, test_repeat=0) == (
        [1, 2], 1, 0)
    with pytest.raises(ValueError, match="also a training repeat"):
        split_repeats(rep, train_repeats=[0, 1, 4], test_repeat=4)
    with pytest.raises(ValueError, match="validation repeat 4"):
        split_repeats(rep, train_repeats=[0, 1], validation_repeat=4, test_repeat=3)
    with pytest.raises(ValueError, match="at least 3 repeats"):
        split_repeats(np.repeat([0, 1], 3))


def test_protocol_results(report, session):
    rep, events = report
    s = session
    assert (rep.train_repeats, rep.validation_repeat, rep.test_repeat) == ([0, 1, 2], 2, 3)
    assert rep.tolerance == s.fs and rep.n_frames == s.n_frames
    np.testing.assert_array_equal(rep.true_frames, s.frame_id[s.repeat == 3])
    names = [r.name for r in rep.results]
    assert names == ["cebra", "cebra (labels shuffled)", "raw", "pca", "raw (neural shuffled)"]
    for r in rep.results:
        assert r.prediction.shape == (s.n_frames,)
        assert r.prediction.min() >= 0 and r.prediction.max() < s.n_frames
        assert r.accuracy == pytest.approx(frame_accuracy(r.prediction, rep.true_frames, s.fs))
        assert r.n_neighbors in r.validation
        assert r.validation[r.n_neighbors] == max(r.validation.values())
    # the traces carry the frame; shuffling them in time (or the labels) destroys it
    assert rep.result("raw").accuracy > 2.5 * rep.chance
    assert rep.result("pca").accuracy > 2.5 * rep.chance
    assert rep.result("raw (neural shuffled)").accuracy < 1.8 * rep.chance
    assert rep.result("cebra (labels shuffled)").accuracy < 1.8 * rep.chance
    assert set(rep.goodness_of_fit_bits) == {"cebra", "cebra (labels shuffled)"}
    assert all(np.isfinite(v) for v in rep.goodness_of_fit_bits.values())
    # progress: training steps with losses, then the stages, then done
    fit = [e for e in events if e.stage == "train CEBRA"]
    assert [e.step for e in fit] == [5, 10, 15, 20] and all(np.isfinite(e.loss) for e in fit)
    assert events[-1].stage == "done"


def test_continuous_label_decoding():
    # place-cell-like tuning to a continuous variable that is unrelated to the movie frame
    rng = np.random.default_rng(0)
    n_frames, n_rep = 100, 4
    t = n_frames * n_rep
    y = 0.5 + 0.5 * np.sin(2 * np.pi * np.arange(t) / 37.0)  # period unrelated to the movie
    centres = np.linspace(0, 1, 40)
    neural = np.exp(-((y[:, None] - centres) ** 2) / 0.02) + 0.2 * rng.standard_normal((t, 40))
    frame_id = np.tile(np.arange(n_frames), n_rep)
    repeat = np.repeat(np.arange(n_rep), n_frames)
    rep = decode_frames(neural, frame_id, repeat, 10.0, model=False, baselines=("raw",),
                        controls=("neural",), continuous={"position": y})
    by_name = {c.name: c for c in rep.continuous}
    assert set(by_name) == {"raw", "raw (neural shuffled)"}
    raw, shuffled = by_name["raw"], by_name["raw (neural shuffled)"]
    true = y[repeat == 3]
    assert raw.prediction.shape == true.shape
    assert raw.r2 > 0.8 and shuffled.r2 < 0.3
    assert raw.median_abs_error == pytest.approx(np.median(np.abs(raw.prediction - true)))
    assert raw.median_abs_error < 0.5 * shuffled.median_abs_error


def test_report_files(report, tmp_path):
    rep, _ = report
    path = rep.to_json(tmp_path / "r.json", predictions=True)
    data = json.loads(path.read_text())
    assert data["test_repeat"] == 3 and len(data["true_frames"]) == len(rep.true_frames)
    row = next(r for r in data["results"] if r["name"] == "raw")
    assert row["accuracy"] == pytest.approx(rep.result("raw").accuracy)
    csv_path = rep.to_csv(tmp_path / "r.csv")
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("task,name,kind,accuracy")
    assert len(lines) == 1 + len(rep.results) + len(rep.continuous)
    with pytest.raises(FileExistsError, match="r.json"):
        rep.to_json(tmp_path / "r.json")


def test_given_model_and_baselines_only(session):
    from napari_cebra import CEBRA

    s = session
    train = s.repeat < 3
    model = CEBRA(**TINY_CEBRA, seed=0).fit(s.neural[train])  # CEBRA-Time
    rep = decode_frames(s.neural, s.frame_id, s.repeat, s.fs, model=model, baselines=(),
                        controls=())
    assert [r.name for r in rep.results] == ["cebra"]
    ref = model.transform(s.neural[s.repeat == 3])
    assert ref.shape[0] == len(rep.result("cebra").prediction)
    only = decode_frames(s.neural, s.frame_id, s.repeat, s.fs, model=False, controls=())
    assert [r.name for r in only.results] == ["raw", "pca"]


def test_input_errors(session):
    s = session
    with pytest.raises(ValueError, match="frame_id must have one value"):
        decode_frames(s.neural, s.frame_id[:-1], s.repeat, s.fs, model=False)
    with pytest.raises(TypeError, match="frame_id must be integers"):
        decode_frames(s.neural, s.frame_id.astype(float), s.repeat, s.fs, model=False)
    with pytest.raises(ValueError, match="fs"):
        decode_frames(s.neural, s.frame_id, s.repeat, None, model=False)
    with pytest.raises(ValueError, match="unknown baseline"):
        decode_frames(s.neural, s.frame_id, s.repeat, s.fs, model=False, baselines=("ica",))
    with pytest.raises(ValueError, match="need the stimulus movie"):
        cebra_labels("movie", s.frame_id)
    phase = cebra_labels("phase", s.frame_id)
    np.testing.assert_allclose(np.linalg.norm(phase, axis=1), 1.0, atol=1e-6)
