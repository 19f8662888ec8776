import numpy as np
import pytest

from napari_cebra import KNNDecoder


def ring(n, rng):
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(angle), np.sin(angle), 0.05 * rng.standard_normal(n)], 1), angle


def test_regressor_reads_a_continuous_latent_and_not_noise():
    rng = np.random.default_rng(0)
    emb, angle = ring(3000, rng)
    target = np.sin(angle)
    decoder = KNNDecoder(n_neighbors=10).fit(emb[:2000], target[:2000])
    assert decoder.score(emb[2000:], target[2000:]) > 0.95
    noise = KNNDecoder(n_neighbors=10).fit(rng.standard_normal((2000, 3)), target[:2000])
    assert noise.score(rng.standard_normal((1000, 3)), target[2000:]) < 0.1


def test_classifier_for_declared_discrete_labels():
    rng = np.random.default_rng(1)
    emb, angle = ring(2000, rng)
    classes = (angle > np.pi).astype(int)
    decoder = KNNDecoder(n_neighbors=5, discrete=True).fit(emb[:1500], classes[:1500])
    assert decoder.score(emb[1500:], classes[1500:]) > 0.95
    assert set(np.unique(decoder.predict(emb[1500:]))) <= {0, 1}


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="rows"):
        KNNDecoder().fit(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(ValueError, match="n_neighbors"):
        KNNDecoder(n_neighbors=50).fit(np.zeros((10, 2)), np.zeros(10))
    with pytest.raises(RuntimeError, match="not fitted"):
        KNNDecoder().predict(np.zeros((3, 2)))
