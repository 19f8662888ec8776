"""Bad input to the engine is refused with a message, never silently used."""

import numpy as np
import pytest

from napari_cebra import CEBRA

X = np.random.default_rng(0).standard_normal((300, 6)).astype(np.float32)


@pytest.fixture(scope="module")
def fitted():
    return CEBRA(max_iterations=3, batch_size=32, num_hidden_units=8, device="cpu",
                 seed=0).fit(X)


@pytest.mark.parametrize("chunk", [0, -5, 2.5])
def test_transform_refuses_a_chunk_size_that_is_not_positive(fitted, chunk):
    with pytest.raises(ValueError, match="chunk_size=.* must be a positive whole number"):
        fitted.transform(X, chunk_size=chunk)


def test_chunked_transform_still_equals_one_pass(fitted):
    np.testing.assert_allclose(fitted.transform(X, chunk_size=7), fitted.transform(X),
                               atol=1e-6)


@pytest.mark.parametrize("bad", [X.astype(np.complex64), np.full(X.shape, "n/a", dtype=object)])
def test_transform_refuses_complex_and_object_arrays(fitted, bad):
    with pytest.raises(TypeError, match="must hold real numbers"):
        fitted.transform(bad)


def test_transform_takes_numbers_boxed_as_objects(fitted):
    """As scikit-learn expects: an object array of numbers is numbers."""
    np.testing.assert_array_equal(fitted.transform(X.astype(object)), fitted.transform(X))


def test_fit_refuses_complex_arrays():
    with pytest.raises(TypeError, match="must hold real numbers"):
        CEBRA(max_iterations=2, device="cpu").fit(X.astype(np.complex64))


def test_discrete_labels_with_a_single_class_are_refused():
    with pytest.raises(ValueError, match="single class .* at least two classes"):
        CEBRA(max_iterations=2, device="cpu").fit(X, discrete=np.zeros(300, int))


def test_a_single_class_label_column_is_named():
    from napari_cebra import pipeline

    settings = pipeline.TrainSettings(max_iterations=2, device="cpu")
    with pytest.raises(ValueError, match="label 'lap': a single class .* at least two classes"):
        pipeline.job_from_arrays(X, settings, labels={"lap": np.zeros(300, int)},
                                 label_kinds={"lap": "discrete"}, label_columns=["lap"])


def test_a_split_that_leaves_one_class_for_training_is_named_before_training(monkeypatch):
    from napari_cebra import pipeline

    monkeypatch.setattr(pipeline, "make_estimator",
                        lambda *a: pytest.fail("training started with a single class"))
    side = (np.arange(300) >= 240).astype(int)  # the second class only in the last 20 %
    settings = pipeline.TrainSettings(max_iterations=2, time_offsets=5, test_fraction=0.2,
                                      device="cpu")
    job = pipeline.job_from_arrays(X, settings, labels={"side": side},
                                   label_kinds={"side": "discrete"}, label_columns=["side"])
    with pytest.raises(ValueError, match="label 'side': a single class in the training frames"):
        pipeline.run(pipeline.train(job))
