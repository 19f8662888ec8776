import math

import numpy as np
import pytest
import torch

from napari_cebra.analysis.metrics import goodness_of_fit_bits
from napari_cebra.engine.loss import Temperature, infonce


def direct_infonce(ref, pos, neg, tau, distance):
    """The formula written out with loops: mean_i −ψ(x_i, y⁺_i)/τ + log Σ_j exp(ψ(x_i, y⁻_j)/τ)."""
    def psi(a, b):
        if distance == "cosine":
            return float(np.dot(a, b))
        return -float(np.sum((a - b) ** 2))

    total = 0.0
    for i in range(len(ref)):
        negatives = sum(math.exp(psi(ref[i], n) / tau) for n in neg)
        total += -psi(ref[i], pos[i]) / tau + math.log(negatives)
    return total / len(ref)


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("tau", [0.1, 1.0])
def test_loss_equals_the_formula(distance, tau):
    rng = np.random.default_rng(0)
    ref, pos, neg = (rng.standard_normal((16, 3)) for _ in range(3))
    if distance == "cosine":
        ref, pos, neg = (a / np.linalg.norm(a, axis=1, keepdims=True) for a in (ref, pos, neg))
    loss, align, uniform = infonce(*(torch.tensor(a) for a in (ref, pos, neg)), tau, distance)
    assert loss.item() == pytest.approx(direct_infonce(ref, pos, neg, tau, distance), rel=1e-9)
    assert loss.item() == pytest.approx(align.item() + uniform.item(), rel=1e-9)


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_batch_negatives_are_the_other_references(distance):
    rng = np.random.default_rng(1)
    ref, pos = rng.standard_normal((12, 3)), rng.standard_normal((12, 3))
    loss, _, _ = infonce(torch.tensor(ref), torch.tensor(pos), None, 0.5, distance)
    expected = np.mean([
        direct_infonce(ref[i:i + 1], pos[i:i + 1], np.delete(ref, i, axis=0), 0.5, distance)
        for i in range(12)])
    assert loss.item() == pytest.approx(expected, rel=1e-9)


def test_loss_is_stable_where_exp_overflows():
    ref = torch.ones(4, 2) * 30.0
    loss, _, _ = infonce(ref, ref, ref, 0.01, "euclidean")
    assert torch.isfinite(loss)
    loss, _, _ = infonce(torch.ones(4, 3), torch.ones(4, 3), torch.ones(4, 3), 1e-3, "cosine")
    assert torch.isfinite(loss) and loss.item() == pytest.approx(math.log(4), abs=1e-4)


def test_learnable_temperature_starts_at_value_and_respects_minimum():
    temp = Temperature(1.0, mode="auto", min_temperature=0.2)
    assert temp().item() == pytest.approx(1.0, rel=1e-6)
    with torch.no_grad():
        temp.log_excess.fill_(-50.0)
    assert temp().item() >= 0.2
    fixed = Temperature(0.5)
    assert not list(fixed.parameters()) and fixed().item() == 0.5
    with pytest.raises(ValueError, match="temperature_mode"):
        Temperature(1.0, mode="learned")


def test_goodness_of_fit_is_zero_at_chance_and_counts_bits():
    assert goodness_of_fit_bits(math.log(512), 512) == pytest.approx(0.0)
    assert goodness_of_fit_bits(math.log(512) - math.log(2), 512) == pytest.approx(1.0)
