"""Causal models: the window ends at the current frame, so nothing later changes an output."""

import numpy as np
import pytest

from napari_cebra import CEBRA
from napari_cebra.engine.models import available_models


@pytest.mark.parametrize("size", [5, 10])
def test_a_causal_model_never_looks_ahead_and_survives_a_file(size, tmp_path):
    name = f"offset{size}-model-causal"
    assert name in available_models() and f"offset{size}-model-causal-mse" in available_models()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 12)).astype(np.float32)
    model = CEBRA(model_architecture=name, max_iterations=5, batch_size=32,
                  output_dimension=4, num_hidden_units=8, device="cpu", seed=0).fit(x)
    assert model.encoders_[0].offset == (size - 1, 0)
    full = model.transform(x)
    for t in (1, 50, 137):  # the past alone gives the same output at t − 1
        np.testing.assert_allclose(model.transform(x[:t])[-1], full[t - 1], atol=1e-6)
    again = CEBRA.load(model.save(tmp_path / "causal.pt"), device="cpu")
    assert again.encoders_[0].offset == (size - 1, 0)
    np.testing.assert_allclose(again.transform(x), full, atol=1e-6)
