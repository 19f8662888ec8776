"""``fit(..., adapt=True)``: a trained model on another recording's neurons.

Two simulated place-cell sessions on the same track with different cells (60 and 45 neurons):
the model trained on session 1, with a new input layer fitted on session 2 (every other layer
frozen), embeds session 2 so that position decodes almost perfectly; the same network with its
new input layer left untrained (one step) decodes far worse, and without adapting the model
refuses session 2 with a message naming both neuron counts.
"""

import copy

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsRegressor

from napari_cebra import CEBRA
from napari_cebra.synthetic.hippocampus import hippocampus_session


def _r2(embedding: np.ndarray, position: np.ndarray) -> float:
    """Position decoding on the last 30 % of the session from a kNN fitted on the first 70 %."""
    n = int(0.7 * len(position))
    knn = KNeighborsRegressor(n_neighbors=10).fit(embedding[:n], position[:n])
    return knn.score(embedding[n:], position[n:])


@pytest.fixture(scope="module")
def sessions():
    return (hippocampus_session(n_neurons=60, n_samples=2000, seed=1),
            hippocampus_session(n_neurons=45, n_samples=2000, seed=2))


@pytest.fixture(scope="module")
def trained(sessions):
    first = sessions[0]
    model = CEBRA(model_architecture="offset5-model", batch_size=128, output_dimension=3,
                  num_hidden_units=32, max_iterations=150, learning_rate=3e-3, device="cpu",
                  seed=0, max_adapt_iterations=100)
    return model.fit(first.neural, first.position.astype(np.float32))


def _adapted(trained, session, iterations: int) -> CEBRA:
    model = copy.deepcopy(trained).set_params(max_adapt_iterations=iterations)
    return model.fit(session.neural, session.position.astype(np.float32), adapt=True)


def test_adapted_model_decodes_the_new_session(trained, sessions):
    second = sessions[1]
    adapted = _adapted(trained, second, 100)
    untrained_input = _adapted(trained, second, 1)
    score = _r2(adapted.transform(second.neural), second.position)
    baseline = _r2(untrained_input.transform(second.neural), second.position)
    chance = _r2(adapted.transform(second.neural),
                 np.random.default_rng(0).permutation(second.position))
    assert score > 0.9, score
    assert score > baseline + 0.3, (score, baseline)
    assert chance < 0.1, chance
    assert len(adapted.loss_history_) == 100 and adapted.adapted_
    assert adapted.n_features_in_ == 45


def test_only_the_input_layer_changes(trained, sessions):
    adapted = _adapted(trained, sessions[1], 5)
    old, new = trained.encoders_[0], adapted.encoders_[0]
    assert new.first.weight.shape == (32, 45, old.first.weight.shape[2])
    for (name, before), (_, after) in zip(old.named_parameters(), new.named_parameters(),
                                          strict=True):
        if not name.startswith("first."):
            torch.testing.assert_close(before, after, rtol=0, atol=0, msg=name)
    assert all(p.requires_grad for p in new.parameters())  # trainable again afterwards
    assert trained.n_features_in_ == 60  # the copy we adapted from is untouched


def test_without_adapt_the_other_recording_is_refused(trained, sessions):
    with pytest.raises(ValueError, match=r"45 neurons but this model was trained on 60.*"
                                         r"adapt=True"):
        trained.transform(sessions[1].neural)


def test_adapting_round_trips_through_a_file_and_cancels_cleanly(trained, sessions, tmp_path):
    second = sessions[1]
    adapted = _adapted(trained, second, 5)
    loaded = CEBRA.load(adapted.save(tmp_path / "adapted.pt"), device="cpu")
    assert loaded.adapted_ and loaded.n_features_in_ == 45
    np.testing.assert_allclose(loaded.transform(second.neural), adapted.transform(second.neural),
                               atol=1e-6)
    model = copy.deepcopy(trained)
    gen = model.fit_steps(second.neural, second.position.astype(np.float32), adapt=True)
    next(gen)
    gen.close()
    assert model.n_features_in_ == 60 and model.encoders_[0].num_neurons == 60


def test_adapt_needs_a_single_session(sessions):
    first, second = sessions
    position = [s.position[:1000].astype(np.float32) for s in sessions]
    multi = CEBRA(model_architecture="offset1-model", batch_size=32, max_iterations=2,
                  device="cpu", seed=0).fit([first.neural[:1000], second.neural[:1000]], position)
    with pytest.raises(ValueError, match="single-session"):
        multi.fit(second.neural, second.position.astype(np.float32), adapt=True)
    # on an unfitted model adapt=True is an ordinary fit (as in the reference)
    fresh = CEBRA(model_architecture="offset1-model", batch_size=32, max_iterations=3,
                  device="cpu", seed=0).fit(second.neural, adapt=True)
    assert len(fresh.loss_history_) == 3 and not fresh.adapted_
