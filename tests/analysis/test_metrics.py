import numpy as np
import pytest

from napari_cebra.analysis.metrics import consistency_matrix, latent_r2


def test_consistency_is_one_for_linear_copies_and_low_for_unrelated():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((500, 3))
    b = a @ rng.standard_normal((3, 3)) + 1.0  # the same embedding, linearly transformed
    c = rng.standard_normal((500, 3))
    scores = consistency_matrix([a, b, c])
    assert scores.shape == (3, 3) and np.allclose(np.diag(scores), 1)
    assert scores[0, 1] > 0.999 and scores[1, 0] > 0.999
    assert scores[0, 2] < 0.1


def test_consistency_across_sessions_of_different_length_uses_label_bins():
    rng = np.random.default_rng(1)
    pos1, pos2 = rng.uniform(0, 1.6, 800), rng.uniform(0, 1.6, 1300)

    def embed(p):
        clean = np.stack([np.cos(2 * p), np.sin(2 * p), p], 1)
        return clean + 0.02 * rng.standard_normal((len(p), 3))

    scores = consistency_matrix([embed(pos1), embed(pos2)], labels=[pos1, pos2], n_bins=40)
    assert scores[0, 1] > 0.95
    with pytest.raises(ValueError, match="different lengths"):
        consistency_matrix([embed(pos1), embed(pos2)])


def test_latent_r2_separates_signal_from_noise():
    rng = np.random.default_rng(2)
    latent = rng.uniform(0, 1, 1000)
    emb = np.stack([np.cos(3 * latent), np.sin(3 * latent), np.ones_like(latent)], 1)
    assert latent_r2(emb, latent) > 0.95
    assert latent_r2(rng.standard_normal((1000, 3)), latent) < 0.1
    with pytest.raises(ValueError, match="method"):
        latent_r2(emb, latent, method="umap")
