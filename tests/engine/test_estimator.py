import numpy as np
import pytest

from napari_cebra import CEBRA, TrainingStep


def test_fit_transform_shapes_and_unit_sphere(small_session, tiny_model_kwargs):
    model = CEBRA(**tiny_model_kwargs).fit(small_session.neural, small_session.behaviour)
    emb = model.transform(small_session.neural)
    assert emb.shape == (small_session.n_samples, 3) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert len(model.loss_history_) == 15


def test_padding_keeps_length_for_every_architecture(random_neural):
    for arch in ("offset1-model", "offset5-model", "offset36-model-mse"):
        model = CEBRA(model_architecture=arch, batch_size=32, max_iterations=2, device="cpu",
                      seed=0).fit(random_neural)
        assert model.transform(random_neural[:50]).shape == (50, 3)
        # chunked transform equals one pass
        np.testing.assert_allclose(model.transform(random_neural, chunk_size=37),
                                   model.transform(random_neural), atol=1e-5)


def test_seeded_runs_are_reproducible_on_cpu(small_session, tiny_model_kwargs):
    a = CEBRA(**tiny_model_kwargs).fit(small_session.neural)
    b = CEBRA(**tiny_model_kwargs).fit(small_session.neural)
    assert a.loss_history_ == b.loss_history_
    np.testing.assert_array_equal(a.transform(small_session.neural),
                                  b.transform(small_session.neural))


def test_training_reduces_the_loss(small_session):
    model = CEBRA(batch_size=256, max_iterations=150, learning_rate=3e-3, device="cpu", seed=0)
    model.fit(small_session.neural, small_session.behaviour)
    first, last = np.mean(model.loss_history_[:10]), np.mean(model.loss_history_[-10:])
    assert last < first - 0.1
    assert model.goodness_of_fit_bits() > 0.5


def test_fit_steps_yields_steps_and_closing_discards_the_run(random_neural, tiny_model_kwargs):
    model = CEBRA(**tiny_model_kwargs)
    gen = model.fit_steps(random_neural)
    steps = [next(gen) for _ in range(3)]
    assert [s.step for s in steps] == [1, 2, 3]
    assert all(isinstance(s, TrainingStep) and s.max_iterations == 15 for s in steps)
    gen.close()
    assert not model.is_fitted_
    # a fitted model survives a cancelled re-fit untouched
    model.fit(random_neural)
    before = model.transform(random_neural)
    gen = model.fit_steps(random_neural * 2)
    next(gen)
    gen.close()
    np.testing.assert_array_equal(model.transform(random_neural), before)
    assert len(model.loss_history_) == 15


def test_callback_can_stop_early_and_keep_the_model(random_neural, tiny_model_kwargs):
    seen = []
    model = CEBRA(**tiny_model_kwargs).fit(
        random_neural, callback=lambda s: seen.append(s.step) or s.step < 5)
    assert seen == [1, 2, 3, 4, 5]
    assert model.is_fitted_ and len(model.loss_history_) == 5


def test_discrete_hybrid_and_learned_temperature_train(small_session, tiny_model_kwargs):
    CEBRA(**tiny_model_kwargs).fit(small_session.neural, discrete=small_session.direction)
    CEBRA(**tiny_model_kwargs, prior="uniform").fit(
        small_session.neural, small_session.position[:, None], discrete=small_session.direction)
    hybrid = CEBRA(**{**tiny_model_kwargs, "hybrid": True}).fit(
        small_session.neural, small_session.behaviour)
    assert np.isfinite(hybrid.loss_history_).all()
    auto = CEBRA(**tiny_model_kwargs, temperature_mode="auto", min_temperature=0.2)
    auto.fit(small_session.neural, small_session.behaviour)
    assert auto.temperature_().item() >= 0.2


def test_batch_negatives_train_with_one_fewer_negative(small_session, tiny_model_kwargs):
    model = CEBRA(**tiny_model_kwargs, negatives="batch", temperature_mode="auto")
    model.fit(small_session.neural, small_session.behaviour)
    assert model.num_negatives_ == 63 and np.isfinite(model.loss_history_).all()
    assert CEBRA(**tiny_model_kwargs).fit(small_session.neural).num_negatives_ == 64
    with pytest.raises(ValueError, match="negatives"):
        CEBRA(**tiny_model_kwargs, negatives="hard").fit(small_session.neural)


def test_multi_session_shares_one_embedding_space(small_session, tiny_model_kwargs):
    other = small_session.neural[:, ::-1].copy()  # same animal, neurons in another order
    model = CEBRA(**tiny_model_kwargs).fit(
        [small_session.neural, other[:1500]],
        [small_session.behaviour, small_session.behaviour[:1500]])
    assert model.transform(other, session_id=1).shape == (2000, 3)
    with pytest.raises(ValueError, match="session_id"):
        model.transform(other)
    with pytest.raises(ValueError, match="labels"):
        CEBRA(**tiny_model_kwargs).fit([small_session.neural, other])


@pytest.mark.parametrize("neural, labels, match, error", [
    (np.zeros(10), None, "2-D", ValueError),
    (np.zeros((5, 3, 2)), None, "2-D", ValueError),
    (np.full((300, 4), np.nan), None, "NaN", ValueError),
    (np.zeros((300, 4)), np.zeros(299), "299 time points", ValueError),
    (np.zeros((300, 4)), np.arange(600).reshape(300, 2), "integer", TypeError),
    (np.zeros((8, 4)), None, "only 8 time points", ValueError),
    (np.array([["a", "b"]] * 300), None, "numbers", TypeError),
])
def test_bad_input_is_named(neural, labels, match, error, tiny_model_kwargs):
    with pytest.raises(error, match=match):
        CEBRA(**tiny_model_kwargs).fit(neural, labels)


def test_more_bad_input(random_neural, tiny_model_kwargs):
    # draws are with replacement (as in the reference): a batch may exceed the recording
    assert CEBRA(**{**tiny_model_kwargs, "batch_size": 512}).fit(random_neural).is_fitted_
    with pytest.raises(ValueError, match="model_architecture"):
        CEBRA(**{**tiny_model_kwargs, "model_architecture": "resnet"}).fit(random_neural)
    with pytest.raises(ValueError, match="conditional"):
        CEBRA(**{**tiny_model_kwargs, "conditional": "behaviour"}).fit(random_neural)
    with pytest.raises(TypeError, match="non-integer"):
        CEBRA(**tiny_model_kwargs).fit(random_neural, discrete=np.linspace(0, 1, 300))
    with pytest.raises(ValueError, match="cuda"):
        CEBRA(**{**tiny_model_kwargs, "device": "gpu"}).fit(random_neural)
    # integer labels are fine once declared continuous
    CEBRA(**tiny_model_kwargs).fit(random_neural, continuous=np.arange(300))
    model = CEBRA(**tiny_model_kwargs).fit(random_neural)
    with pytest.raises(ValueError, match="12"):
        model.transform(random_neural[:, :5])
    with pytest.raises(RuntimeError, match="not fitted"):
        CEBRA().transform(random_neural)


def test_params_follow_the_reference_names():
    model = CEBRA(batch_size=128, conditional="delta")
    params = model.get_params()
    for name in ("model_architecture", "batch_size", "output_dimension", "num_hidden_units",
                 "learning_rate", "temperature", "temperature_mode", "time_offsets",
                 "conditional", "max_iterations", "distance", "hybrid", "device"):
        assert name in params
    assert "batch_size=128" in repr(model)
    with pytest.raises(ValueError, match="not a CEBRA parameter"):
        model.set_params(batchsize=3)
