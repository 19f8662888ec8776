"""The analysis package's seams: decoders and representations by name, one R², no torch."""

import subprocess
import sys

import numpy as np
import pytest

from napari_cebra.analysis import decoders, representations
from napari_cebra.analysis.frame_decoding import decode_frames
from napari_cebra.analysis.scores import r2


def test_importing_analysis_does_not_load_torch():
    modules = ["consistency", "decoders", "frame_decoding", "metrics", "movie_features",
               "report", "representations", "scores", "selection"]
    code = ("import sys, napari_cebra.analysis; "
            + "; ".join(f"import napari_cebra.analysis.{m}" for m in modules)
            + "; assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_registered_decoder_speaks_the_interface():
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((300, 3))
    y = emb[:, 0] * 2
    for name in decoders.DECODERS:
        model = decoders.make_decoder(name, discrete=False)
        assert isinstance(model, decoders.Decoder)
        assert model.fit(emb[:200], y[:200]) is model
        assert model.predict(emb[200:]).shape == (100,)
        assert model.score(emb[200:], y[200:]) > 0.5
    with pytest.raises(ValueError, match="decoder 'svm' is unknown; registered: knn"):
        decoders.make_decoder("svm")


def test_a_registered_decoder_is_used_by_make_decoder():
    @decoders.register_decoder("mean")
    class MeanDecoder:
        discrete = False

        def __init__(self, **kwargs):
            self.kwargs = kwargs

        def fit(self, emb, y):
            self.mean_ = float(np.mean(y))
            return self

        def predict(self, emb):
            return np.full(len(emb), self.mean_)

        def score(self, emb, y):
            return r2(y, self.predict(emb))

    try:
        model = decoders.make_decoder("mean", n_neighbors=3)
        assert model.fit(np.zeros((4, 2)), [1, 2, 3, 4]).predict(np.zeros((2, 2)))[0] == 2.5
    finally:
        del decoders.DECODERS["mean"]


def test_one_r2_averaged_uniformly_over_columns():
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(1)
    true = rng.standard_normal((200, 2))
    pred = true + rng.standard_normal((200, 2)) * [[0.1, 1.0]]
    per_column = r2_score(true, pred, multioutput="raw_values")
    assert r2(true, pred) == pytest.approx(per_column.mean())
    assert np.isnan(r2(np.ones(10), np.zeros(10)))  # undefined, not a misleading number
    knn = decoders.make_decoder("knn", n_neighbors=5).fit(true[:150], true[:150, 0] * 3)
    assert knn.score(true[150:], true[150:, 0] * 3) == pytest.approx(
        r2(true[150:, 0] * 3, knn.predict(true[150:])))


def test_a_registered_representation_appears_in_the_report():
    @representations.register_representation("first", "first neuron", "baseline",
                                              "kNN on neuron 0 alone")
    def first(ctx):
        yield from ()
        return lambda idx: ctx.neural[idx][:, :1]

    rng = np.random.default_rng(2)
    frames = np.tile(np.arange(60), 4)
    neural = np.c_[np.sin(frames / 9.5), rng.standard_normal((240, 3))].astype(np.float32)
    try:
        report = decode_frames(neural, frames, np.repeat(np.arange(4), 60), 5.0, model=False,
                               baselines=("raw", "first"), controls=("neural",))
    finally:
        del representations.REPRESENTATIONS["first"]
    names = [r.name for r in report.results]
    assert names == ["raw", "first neuron", "raw (neural shuffled)"]
    first_result = report.results[1]
    assert first_result.accuracy > report.results[2].accuracy  # beats the shuffled control


def test_every_default_report_row_comes_from_the_registry():
    reps = representations.REPRESENTATIONS
    assert {k: reps[k].kind for k in ("cebra", "raw", "pca", "neural")} == {
        "cebra": "model", "raw": "baseline", "pca": "baseline", "neural": "control"}
    assert reps["cebra"].learns_labels and not reps["raw"].learns_labels
    assert representations.available("control")[0] == representations.LABELS_CONTROL
    with pytest.raises(ValueError, match="kind 'reference' is unknown"):
        representations.register_representation("x", "x", "reference", "")
    with pytest.raises(ValueError, match="'labels' is the labels-shuffled control"):
        representations.register_representation("labels", "x", "control", "")
    with pytest.raises(ValueError, match=r"unknown baseline/control/model \['svm'\]; .*models: "
                                         "cebra"):
        decode_frames(np.zeros((30, 2)), np.tile(np.arange(10), 3), np.repeat(np.arange(3), 10),
                      5.0, models=("svm",))


def test_a_registered_model_gets_its_labels_shuffled_control():
    """A model that learns the labels (here: kNN from traces to the phase labels) is followed in
    the report by itself retrained on shuffled labels, which falls to chance."""
    from sklearn.neighbors import KNeighborsRegressor

    @representations.register_representation("oracle", "oracle", "model",
                                             "traces mapped onto the labels", learns_labels=True)
    def oracle(ctx):
        y = ctx.labels[ctx.train_index]
        if ctx.shuffle is not None:
            y = y[ctx.shuffle]
        yield from ()
        fit = KNeighborsRegressor(5).fit(ctx.neural[ctx.train_index], y)
        return representations.Features(lambda idx: fit.predict(ctx.neural[idx]), 1.5)

    rng = np.random.default_rng(3)
    frames = np.tile(np.arange(300), 4)  # ±2 frames of 300: chance 1.7 %
    angle = 2 * np.pi * frames / 300
    neural = (np.c_[np.cos(angle), np.sin(angle)] @ rng.standard_normal((2, 20))
              + 0.1 * rng.standard_normal((1200, 20))).astype(np.float32)
    try:
        report = decode_frames(neural, frames, np.repeat(np.arange(4), 300), 2.0, labels="phase",
                               models=("oracle",), baselines=("raw",), controls=("labels",))
    finally:
        del representations.REPRESENTATIONS["oracle"]
    assert [(r.name, r.kind) for r in report.results] == [
        ("oracle", "model"), ("oracle (labels shuffled)", "control"), ("raw", "baseline")]
    assert report.result("oracle").accuracy > 5 * report.chance
    assert report.result("oracle (labels shuffled)").accuracy < 3 * report.chance
    assert report.goodness_of_fit_bits == {"oracle": 1.5, "oracle (labels shuffled)": 1.5}


def test_metrics_use_the_one_r2():
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import KFold
    from sklearn.neighbors import KNeighborsRegressor

    from napari_cebra.analysis.metrics import consistency_matrix, latent_r2

    rng = np.random.default_rng(4)
    a = rng.standard_normal((300, 3))
    b = np.c_[a[:, :2] @ [[1.0, 0.5], [0.2, 1.0]], rng.standard_normal(300)]  # one column noise
    m = consistency_matrix([a, b])
    assert m[0, 1] == pytest.approx(r2(b, LinearRegression().fit(a, b).predict(a)))
    assert 0.5 < m[0, 1] < 0.8  # the noise column counts with equal weight: about 2/3
    latent = np.c_[a[:, 0], a[:, 1] ** 2]
    folds = KFold(5, shuffle=True, random_state=0).split(a)
    expected = np.mean([r2(latent[te], KNeighborsRegressor(24, metric="cosine").fit(
        a[tr], latent[tr]).predict(a[te])) for tr, te in folds])
    assert latent_r2(a, latent) == pytest.approx(expected)
