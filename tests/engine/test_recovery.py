"""Does CEBRA recover what we put in? Synthetic hippocampus session with known position."""

import numpy as np
import pytest

from napari_cebra import CEBRA, KNNDecoder
from napari_cebra.analysis.metrics import latent_r2
from napari_cebra.synthetic.hippocampus import hippocampus_session

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def session():
    return hippocampus_session(n_neurons=100, n_samples=6000, seed=11)


def split(n):
    cut = int(n * 0.8)
    return slice(0, cut), slice(cut, n)


def decode_position(model, session, labels_for_decoder):
    train, test = split(session.n_samples)
    emb = model.transform(session.neural)
    decoder = KNNDecoder(n_neighbors=24).fit(emb[train], labels_for_decoder[train])
    return decoder.score(emb[test], session.position[test]), emb


def fit(session, labels, iterations=600, **kw):
    train, _ = split(session.n_samples)
    model = CEBRA(batch_size=512, output_dimension=3, learning_rate=3e-3, max_iterations=iterations,
                  device="cpu", seed=0, **kw)
    if labels is None:
        return model.fit(session.neural[train])
    return model.fit(session.neural[train], labels[train])


def test_behaviour_embedding_decodes_held_out_position(session):
    model = fit(session, session.behaviour)
    r2, _ = decode_position(model, session, session.position)
    print(f"CEBRA-Behaviour held-out position R² = {r2:.3f}")
    assert r2 >= 0.9


def test_shuffled_labels_decode_far_worse(session):
    rng = np.random.default_rng(0)
    shuffled = session.behaviour[rng.permutation(session.n_samples)]
    model = fit(session, shuffled)
    r2, _ = decode_position(model, session, session.position)
    print(f"shuffled-label control R² = {r2:.3f}")
    assert r2 < 0.5


def test_time_contrastive_finds_the_track(session):
    model = fit(session, None, iterations=800, time_offsets=10)
    emb = model.transform(session.neural)
    r2 = latent_r2(emb, session.behaviour[:, :2])
    print(f"CEBRA-Time latent R² (position, direction) = {r2:.3f}")
    assert r2 > 0.6
