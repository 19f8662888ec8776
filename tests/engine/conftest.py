import numpy as np
import pytest

from napari_cebra.synthetic.hippocampus import hippocampus_session


@pytest.fixture(scope="session")
def small_session():
    return hippocampus_session(n_neurons=40, n_samples=2000, seed=3)


@pytest.fixture
def tiny_model_kwargs():
    return dict(model_architecture="offset10-model", batch_size=64, output_dimension=3,
                num_hidden_units=16, max_iterations=15, device="cpu", seed=0)


@pytest.fixture
def random_neural():
    return np.random.default_rng(0).standard_normal((300, 12)).astype(np.float32)
