"""Faithful by construction: the reference package's networks and ours are the same functions.

The reference's weights, mapped into our encoders (and ours into its), give the same embedding
(≤ 1e-5) and the same gradient of the same InfoNCE loss for every parameter (≤ 1e-4) on the
same batch of windows, computed the way each package trains (ours: the windowed GEMM path on
the padded recording; the reference: its conv1d/Linear modules on stacked windows).
"""

import numpy as np
import pytest
import torch

cebra = pytest.importorskip(
    "cebra", reason="the reference package `cebra` is not installed (pip install "
    "napari-cebra[bench]); these tests compare our engine with it")

from cebra.models import criterions  # noqa: E402

from napari_cebra import CEBRA  # noqa: E402
from napari_cebra.engine.loss import infonce  # noqa: E402
from napari_cebra.engine.models import make_model  # noqa: E402
from napari_cebra.engine.reference_weights import (  # noqa: E402
    from_reference,
    import_reference_estimator,
    to_reference,
)

MODELS = ["offset1-model", "offset1-model-mse", "offset5-model", "offset10-model",
          "offset10-model-mse", "offset36-model"]
NEURONS, UNITS, OUTPUT = 13, 16, 4


def _windows(data: torch.Tensor, starts: torch.Tensor, span: int) -> torch.Tensor:
    """The reference's input: (B, neurons, span) channel-major windows."""
    return torch.stack([data[s: s + span].t() for s in starts.tolist()])


def _pair(name: str, direction: str, seed: int = 0):
    torch.manual_seed(seed)
    if direction == "reference→ours":
        ref = cebra.models.init(name, num_neurons=NEURONS, num_units=UNITS, num_output=OUTPUT)
        ours = from_reference(ref, name)
    else:
        ours = make_model(name, NEURONS, UNITS, OUTPUT)
        ref = to_reference(ours, name)
    return ours, ref


def _batch(rf: int, seed: int = 1, batch: int = 32, length: int = 200):
    gen = torch.Generator().manual_seed(seed)
    data = torch.randn(length + rf - 1, NEURONS, generator=gen)
    starts = torch.randint(0, length, (3, batch), generator=gen)
    return data, starts


@pytest.mark.parametrize("direction", ["reference→ours", "ours→reference"])
@pytest.mark.parametrize("name", MODELS)
def test_forward_pass_and_gradients_equal(name, direction):
    ours, ref = _pair(name, direction)
    ours.train()
    ref.train()
    rf = ours.receptive_field
    assert len(ref.get_offset()) == rf
    data, starts = _batch(rf)
    mse = name.endswith("-mse")

    ours_out = [ours.forward_windows(data, s) for s in starts]
    ref_out = [ref(_windows(data, s, rf)) for s in starts]
    for a, b in zip(ours_out, ref_out, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)

    tau = 0.5
    ours_loss = infonce(*ours_out, torch.tensor(tau), "euclidean" if mse else "cosine")[0]
    criterion = (criterions.FixedEuclideanInfoNCE if mse else criterions.FixedCosineInfoNCE)(
        temperature=tau)
    ref_loss = criterion(*ref_out)[0]
    torch.testing.assert_close(ours_loss, ref_loss, atol=1e-5, rtol=1e-5)
    ours_loss.backward()
    ref_loss.backward()

    ours_layers = [ours.first, *ours.skips, ours.last]
    ref_layers = [m for m in ref.modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.Linear))]
    assert len(ours_layers) == len(ref_layers)
    for i, (a, b) in enumerate(zip(ours_layers, ref_layers, strict=True)):
        assert a.weight.grad.abs().sum() > 0, f"layer {i} got no gradient"
        torch.testing.assert_close(a.weight.grad, b.weight.grad.reshape(a.weight.shape),
                                   atol=1e-4, rtol=1e-4, msg=f"{name} layer {i} weight")
        torch.testing.assert_close(a.bias.grad, b.bias.grad, atol=1e-4, rtol=1e-4,
                                   msg=f"{name} layer {i} bias")


def test_a_different_network_is_refused_with_its_shapes():
    ref = cebra.models.init("offset10-model", num_neurons=NEURONS, num_units=UNITS,
                            num_output=OUTPUT)
    with pytest.raises(ValueError, match="weighted layers"):
        from_reference(ref, "offset36-model")
    with pytest.raises(ValueError, match="normaliz"):
        from_reference(ref, "offset10-model-mse")
    ours = make_model("offset5-model", NEURONS, UNITS, OUTPUT)
    with pytest.raises(ValueError, match="weighted layers"):
        to_reference(ours, "offset10-model")


def test_a_mapped_model_differs_when_one_weight_is_off():
    """The equality above is not vacuous: one perturbed weight shows in the output."""
    ours, ref = _pair("offset10-model", "reference→ours")
    data, starts = _batch(10)
    with torch.no_grad():
        ours.skips[1].weight[0, 0, 0] += 0.05
        diff = (ours.forward_windows(data, starts[0]) - ref(_windows(data, starts[0], 10)))
    assert diff.abs().max() > 1e-4


@pytest.mark.parametrize("name", ["offset1-model", "offset10-model"])
def test_our_saved_model_runs_in_the_reference(tmp_path, small_session, name):
    """Train ours, save, load, export: the reference embeds the recording as our transform."""
    x = small_session.neural[:600]
    model = CEBRA(model_architecture=name, batch_size=32, output_dimension=3,
                  num_hidden_units=16, max_iterations=5, device="cpu", seed=0)
    model.fit(x, small_session.position[:600].astype(np.float32))
    loaded = CEBRA.load(model.save(tmp_path / "m.pt"), device="cpu")
    ref = to_reference(loaded.encoders_[0], name)
    before, after = loaded.encoders_[0].offset
    padded = torch.from_numpy(np.concatenate([np.repeat(x[:1], before, 0), x,
                                              np.repeat(x[-1:], after, 0)]))
    rf = loaded.encoders_[0].receptive_field
    with torch.no_grad():
        expected = ref(_windows(padded, torch.arange(len(x)), rf)).numpy()
    np.testing.assert_allclose(loaded.transform(x), expected, atol=1e-5)


def test_a_fitted_reference_estimator_imports(small_session):
    x = small_session.neural[:500]
    ref = cebra.CEBRA(model_architecture="offset10-model", batch_size=32, output_dimension=3,
                      num_hidden_units=16, max_iterations=3, device="cpu", verbose=False)
    ref.fit(x, small_session.position[:500].astype(np.float32))
    ours = import_reference_estimator(ref)
    np.testing.assert_allclose(ours.transform(x), ref.transform(x), atol=1e-5)
