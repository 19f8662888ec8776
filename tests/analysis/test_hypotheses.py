"""Hypothesis tests on place cells with known ground truth: position shapes the activity, an
independent random walk does not."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_cebra.analysis.hypotheses import (
    HypothesisResult,
    HypothesisSettings,
    hypothesis_steps,
    parse_sets,
    run_hypotheses,
    shuffled,
)
from napari_cebra.progress import drain
from napari_cebra.synthetic.hippocampus import hippocampus_session

TINY = dict(max_iterations=150, batch_size=256, num_hidden_units=16, output_dimension=3,
            seeds=2, shuffles=1, device="cpu")


def random_walk(n: int, seed: int, tau: float = 80.0) -> np.ndarray:
    """A smooth, stationary variable unrelated to the neurons: a random walk pulled back to
    0 (Ornstein-Uhlenbeck, correlation time ``tau`` frames), as slow as the laps."""
    noise = np.random.default_rng(seed).standard_normal(n)
    a = np.exp(-1.0 / tau)
    walk = np.empty(n)
    walk[0] = noise[0]
    for t in range(1, n):
        walk[t] = a * walk[t - 1] + np.sqrt(1 - a * a) * noise[t]
    return walk


@pytest.fixture(scope="module")
def session():
    s = hippocampus_session(n_neurons=40, n_samples=2000, seed=1)
    return s, {"position": s.position, "walk": random_walk(2000, 7)}


@pytest.fixture(scope="module")
def result(session):
    s, labels = session
    return run_hypotheses(s.neural, labels, sets="position; walk", include_time=False, **TINY)


def by_name(result: HypothesisResult, name: str):
    return next(m for m in result.models if m.name == name)


def mean(values):
    return float(np.mean(values))


def test_true_variable_beats_its_control_and_an_irrelevant_one(result):
    pos, ctrl, walk = (by_name(result, n) for n in ("position", "position (shuffled 1)", "walk"))
    r2 = {m.name: mean(m.decoding["position"]["R²"]) for m in (pos, ctrl, walk)}
    err = {m.name: mean(m.decoding["position"]["median abs error"]) for m in (pos, ctrl, walk)}
    bits = {m.name: mean(m.goodness_of_fit_bits) for m in (pos, ctrl, walk)}
    assert r2["position"] > 0.9
    assert r2["position"] > r2["position (shuffled 1)"] + 0.1
    assert r2["position"] > r2["walk"] + 0.1
    assert err["position"] < 0.4 * min(err["position (shuffled 1)"], err["walk"])
    assert bits["position"] > bits["position (shuffled 1)"] + 0.3
    assert bits["position"] > bits["walk"] + 0.5
    # the walk is not in the activity: no embedding decodes it on held-out time, and its
    # model is no better than its own control
    assert all(mean(m.decoding["walk"]["R²"]) < 0.2 for m in result.models)
    margins = {m["model"]: m for m in result.margins()}
    assert margins["position"]["bits"] > 0.3 and margins["position"]["position R²"] > 0.1
    assert margins["walk"]["bits"] < 0.2 and margins["walk"]["walk R²"] < 0.1


def test_every_model_reports_every_variable_for_every_seed(result):
    assert [m.name for m in result.models] == ["position", "position (shuffled 1)", "walk",
                                               "walk (shuffled 1)"]
    for m in result.models:
        assert len(m.loss) == len(m.goodness_of_fit_bits) == 2
        assert set(m.decoding) == {"position", "walk"}
        assert all(len(v) == 2 and np.all(np.isfinite(v)) for d in m.decoding.values()
                   for v in d.values())
        assert -1 <= m.consistency_r2 <= 1
        assert result.embeddings[m.name].shape == (2000, 3)
    assert by_name(result, "position").consistency_r2 > 0.8
    table = result.table()
    assert list(table["model"]) == [m.name for m in result.models]
    assert {"loss", "goodness of fit (bits)", "consistency R²", "position R²",
            "position median abs error", "walk R²"} <= set(table.columns)
    assert result.n_test == 400


def test_report_round_trips_and_is_never_overwritten(result, tmp_path):
    path = tmp_path / "r.json"
    result.save(path)
    data = json.loads(path.read_text())
    assert data["format"] == "napari-cebra hypotheses" and len(data["models"]) == 4
    back = HypothesisResult.load(path)
    assert back.settings == result.settings and back.variables == result.variables
    assert back.table().equals(result.table())
    with pytest.raises(FileExistsError):
        result.save(path)
    result.save(path, overwrite=True)
    png = tmp_path / "r.png"
    result.plot(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_labels_are_left_out_not_invented(session, monkeypatch):
    from napari_cebra.engine.estimator import CEBRA

    s, labels = session
    position = labels["position"].copy()
    position[100:400] = np.nan  # a tracking gap
    valid = np.ones(2000, bool)
    valid[900:1000] = False  # frames without behaviour
    seen = []
    original = CEBRA.fit_steps

    def spy(self, neural, y=None, **kwargs):
        seen.append((np.asarray(neural).shape[0], kwargs.get("continuous")))
        return original(self, neural, y, **kwargs)

    monkeypatch.setattr(CEBRA, "fit_steps", spy)
    result = run_hypotheses(s.neural, {"position": position, "walk": labels["walk"]},
                            valid=valid, sets="position", include_time=True,
                            **{**TINY, "max_iterations": 60, "shuffles": 1})
    n_train = 1600 - 300 - 100
    time_model, pos = by_name(result, "CEBRA-Time"), by_name(result, "position")
    assert time_model.n_train == 1600 and pos.n_train == n_train
    assert result.present == {"position": 2000 - 300 - 100, "walk": 1900}
    behaviour_fits = [c for n, c in seen if c is not None]
    assert len(behaviour_fits) == 4  # position and its control, two runs each
    for n, c in seen:
        assert n == (n_train if c is not None else 1600)
        if c is not None:
            assert np.all(np.isfinite(c))
    # the real model saw exactly the known positions, in order
    known = np.isfinite(position[:1600]) & valid[:1600]
    np.testing.assert_allclose(behaviour_fits[0][:, 0], position[:1600][known], rtol=1e-6)


def test_controls_keep_the_labels_but_break_their_timing():
    y = np.arange(1000, dtype=float)[:, None]
    rolled, shift = shuffled(y, "circular", np.random.default_rng(0))
    assert 100 <= shift < 900
    np.testing.assert_array_equal(rolled, np.roll(y, shift, axis=0))
    permuted, _ = shuffled(y, "permute", np.random.default_rng(0))
    assert sorted(permuted[:, 0]) == list(y[:, 0]) and not np.array_equal(permuted, y)


def test_sets_and_settings_are_checked():
    assert parse_sets("", ["x", "y"]) == [("x",), ("y",), ("x", "y")]
    assert parse_sets("x; y ,x;x", ["x", "y"]) == [("x",), ("y", "x")]
    assert parse_sets(["x", "x,y"], ["x", "y"]) == [("x",), ("x", "y")]
    with pytest.raises(ValueError, match="'z' not among the labels"):
        parse_sets("x; z", ["x", "y"])
    with pytest.raises(ValueError, match="seeds = 1 must be 2 to 10"):
        HypothesisSettings(seeds=1)
    with pytest.raises(ValueError, match="shuffle = 'random' must be one of"):
        HypothesisSettings(shuffle="random")
    with pytest.raises(ValueError, match="unknown hypothesis setting"):
        HypothesisSettings.from_dict({"iterations": 3})


def test_bad_labels_are_named():
    x = np.random.default_rng(0).standard_normal((200, 5)).astype(np.float32)
    with pytest.raises(ValueError, match="no declared kind"):
        drain(hypothesis_steps(x, {"a": np.zeros(200)}, {}))
    with pytest.raises(ValueError, match="label 'a' has shape"):
        drain(hypothesis_steps(x, {"a": np.zeros(150)}, {"a": "continuous"}))
    with pytest.raises(ValueError, match="non-integer"):
        drain(hypothesis_steps(x, {"a": np.linspace(0, 1, 200)}, {"a": "discrete"}))


def test_discrete_variable_is_scored_by_accuracy(session):
    s, _ = session
    result = run_hypotheses(s.neural, {"direction": s.direction}, {"direction": "discrete"},
                            include_time=False, **{**TINY, "max_iterations": 60})
    assert [m.name for m in result.models] == ["direction", "direction (shuffled 1)"]
    assert set(result.models[0].decoding["direction"]) == {"accuracy"}
    assert 0 <= result.models[0].decoding["direction"]["accuracy"][0] <= 1
