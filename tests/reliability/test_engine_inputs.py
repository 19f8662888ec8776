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


@pytest.mark.parametrize("bad", [X.astype(np.complex64), X.astype(object)])
def test_transform_refuses_complex_and_object_arrays(fitted, bad):
    with pytest.raises(TypeError, match="must hold real numbers"):
        fitted.transform(bad)


def test_fit_refuses_complex_arrays():
    with pytest.raises(TypeError, match="must hold real numbers"):
        CEBRA(max_iterations=2, device="cpu").fit(X.astype(np.complex64))


def test_discrete_labels_with_a_single_class_are_refused():
    with pytest.raises(ValueError, match="single class .* at least two classes"):
        CEBRA(max_iterations=2, device="cpu").fit(X, discrete=np.zeros(300, int))
