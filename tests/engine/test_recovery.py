"""Does CEBRA recover what we put in? Synthetic hippocampus session with known position."""

import numpy as np
import pytest

from napari_cebra import CEBRA, KNNDecoder
from napari_cebra.analysis.metrics import latent_r2, median_absolute_error
from napari_cebra.synthetic.hippocampus import hippocampus_session

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def session():
    return hippocampus_session(n_neurons=100, n_samples=6000, seed=11)


def split(n):
    cut = int(n * 0.8)
    return slice(0, cut), slice(cut, n)


def fit(session, labels, iterations=500, batch_size=512, **kw):
    train, _ = split(session.n_samples)
    model = CEBRA(batch_size=batch_size, output_dimension=3, learning_rate=3e-3,
                  max_iterations=iterations, device="cpu", seed=0, **kw)
    if labels is None:
        return model.fit(session.neural[train])
    return model.fit(session.neural[train], labels[train])


def held_out_position(model, session):
    """kNN-decode position of the held-out last 20 %: (R², median absolute error in m)."""
    train, test = split(session.n_samples)
    emb = model.transform(session.neural)
    decoder = KNNDecoder(n_neighbors=24).fit(emb[train], session.position[train])
    predicted = decoder.predict(emb[test])
    return (decoder.score(emb[test], session.position[test]),
            median_absolute_error(session.position[test], predicted))


@pytest.fixture(scope="module")
def behaviour_model(session):
    return fit(session, session.behaviour)


def test_behaviour_embedding_decodes_held_out_position(behaviour_model, session):
    r2, error = held_out_position(behaviour_model, session)
    print(f"CEBRA-Behaviour held-out position R² = {r2:.3f}, median error {100 * error:.1f} cm")
    assert r2 >= 0.9


def test_shuffled_labels_decode_far_worse(behaviour_model, session):
    rng = np.random.default_rng(0)
    shuffled = session.behaviour[rng.permutation(session.n_samples)]
    r2_real, error_real = held_out_position(behaviour_model, session)
    r2, error = held_out_position(fit(session, shuffled), session)
    print(f"shuffled-label control R² = {r2:.3f}, median error {100 * error:.1f} cm "
          f"(real labels: {100 * error_real:.1f} cm)")
    assert r2 < r2_real - 0.2
    assert error > 3 * error_real


def test_time_contrastive_finds_the_track(session):
    model = fit(session, None, iterations=600, batch_size=256, time_offsets=10)
    r2 = latent_r2(model.transform(session.neural), session.behaviour[:, :2])
    print(f"CEBRA-Time latent R² (position, direction) = {r2:.3f}")
    assert r2 > 0.6
