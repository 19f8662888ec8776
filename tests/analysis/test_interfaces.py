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
