"""Every model a user can pick by name trains, saves and loads to the same embedding; the names
shared with the reference package are its networks (same layers, same outputs)."""

import numpy as np
import pytest
import torch

from napari_cebra import CEBRA
from napari_cebra.engine.models import available_models, make_model

# the reference package's models for neural data, by its names (cebra.models.get_options())
REFERENCE_NAMES = ["offset1-model", "offset1-model-mse", "offset1-model-v2", "offset5-model",
                   "offset10-model", "offset10-model-mse", "offset15-model", "offset20-model",
                   "offset36-model", "offset40-model", "offset50-model"]
ZOO = [n for n in available_models() if "-causal" not in n]  # causal ones: tests/live


def test_the_reference_names_are_all_there():
    assert set(REFERENCE_NAMES) <= set(available_models())


@pytest.mark.parametrize("name", ZOO)
def test_trains_saves_and_loads(name, tmp_path):
    rng = np.random.default_rng(0)
    neural = rng.standard_normal((400, 9)).astype(np.float32)
    model = CEBRA(model_architecture=name, batch_size=32, output_dimension=3,
                  num_hidden_units=8, max_iterations=3, device="cpu", seed=0)
    model.fit(neural, rng.uniform(size=400).astype(np.float32))
    assert len(model.loss_history_) == 3 and np.isfinite(model.loss_history_).all()
    embedding = model.transform(neural)
    assert embedding.shape == (400, 3) and np.isfinite(embedding).all()
    loaded = CEBRA.load(model.save(tmp_path / "m.pt"), device="cpu")
    assert loaded.get_params()["model_architecture"] == name
    np.testing.assert_array_equal(loaded.transform(neural), embedding)


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_shared_names_are_the_reference_networks(name):
    cebra_models = pytest.importorskip(
        "cebra.models", reason="the reference package `cebra` is not installed (pip install "
        "napari-cebra[bench])")
    from napari_cebra.engine.reference_weights import from_reference

    torch.manual_seed(0)
    ref = cebra_models.init(name, num_neurons=9, num_units=8, num_output=3).eval()
    ours = from_reference(ref, name)
    fresh = make_model(name, 9, 8, 3)
    assert [p.numel() for p in ours.parameters()] == [p.numel() for p in fresh.parameters()]
    assert ours.receptive_field == len(ref.get_offset())
    x = torch.randn(4, 9, ours.receptive_field)
    with torch.no_grad():
        torch.testing.assert_close(ours(x.transpose(1, 2))[:, 0], ref(x), atol=1e-5, rtol=1e-5)
