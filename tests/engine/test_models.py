import numpy as np
import pytest
import torch

from napari_cebra.engine.models import available_models, conv_gemm, make_model


def test_conv_gemm_matches_conv1d_and_its_gradient():
    torch.manual_seed(0)
    x = torch.randn(3, 11, 5, dtype=torch.double, requires_grad=True)
    w = torch.randn(4, 5, 3, dtype=torch.double, requires_grad=True)
    b = torch.randn(4, dtype=torch.double, requires_grad=True)
    expected = torch.nn.functional.conv1d(x.transpose(1, 2), w, b).transpose(1, 2)
    torch.testing.assert_close(conv_gemm(x, w, b), expected)
    assert torch.autograd.gradcheck(conv_gemm, (x, w, b))


@pytest.mark.parametrize("name", available_models())
def test_receptive_field_is_the_offset_and_windows_match_full_pass(name):
    offset = int(name.split("-")[0].removeprefix("offset"))
    model = make_model(name, num_neurons=7, num_units=8, num_output=3)
    assert model.receptive_field == offset
    data = torch.randn(80, 7)
    full = model(data[None])[0]
    assert full.shape == (80 - offset + 1, 3)
    starts = torch.tensor([0, 3, 3, 17, 80 - offset])
    torch.testing.assert_close(model.forward_windows(data, starts), full[starts])
    torch.testing.assert_close(model.forward_windows(data, starts, dense=True), full[starts])
    torch.testing.assert_close(model.embed_sequence(data), full, atol=1e-5, rtol=1e-4)
    norms = full.norm(dim=1)
    if name.endswith("-mse"):
        assert not torch.allclose(norms, torch.ones_like(norms))
    else:
        torch.testing.assert_close(norms, torch.ones_like(norms))


@pytest.mark.parametrize("dense", [False, True])
@pytest.mark.parametrize("gaps", [False, True])
@pytest.mark.parametrize("name", ["offset5-model", "offset10-model", "offset36-model-causal"])
def test_window_gradients_match_a_plain_conv1d_network(name, gaps, dense):
    """Our GEMM path trains the same function as a textbook conv1d network, also where windows
    repeat, overlap or abut (each layer is computed once per time point that is needed), and
    where they are 1, 2 or 3 samples apart; gathered (CPU) and dense (GPU) alike."""
    torch.manual_seed(1)
    model = make_model(name, 6, 8, 3).double()
    span = model.receptive_field
    data = torch.randn(4 * span + 20, 6, dtype=torch.double)
    starts = torch.tensor([0, 5, 5, 9, 9 + span, 20, span + 20])
    if gaps:  # window ends at s + span − 1: the next one starts 2, 3 and 4 samples later
        starts = torch.tensor([0, span + 1, 2 * span + 3, 3 * span + 6, 3 * span + 6])
    model.forward_windows(data, starts, dense=dense).sum().backward()
    ours = {k: p.grad.clone() for k, p in model.named_parameters()}
    model.zero_grad()

    def reference(x):  # (B, N, L) channel-major, torch's own conv1d
        g = torch.nn.functional.gelu
        h = torch.nn.functional.conv1d(x, model.first.weight, model.first.bias)
        h = g(h)
        for conv in model.skips:
            h = h[:, :, 1:-1] + g(conv(h))
        return torch.nn.functional.normalize(model.last(h), dim=1)[:, :, 0]

    windows = torch.stack([data[s: s + span].t() for s in starts.tolist()])
    reference(windows).sum().backward()
    for k, p in model.named_parameters():
        torch.testing.assert_close(ours[k], p.grad, msg=k)


def test_unknown_architecture_names_the_choices():
    with pytest.raises(ValueError, match="offset10-model"):
        make_model("offset11-model", 3, 4, 2)


def test_model_output_is_finite_for_constant_input():
    model = make_model("offset5-model", 4, 8, 2)
    out = model(torch.zeros(1, 20, 4))
    assert np.isfinite(out.detach().numpy()).all()
