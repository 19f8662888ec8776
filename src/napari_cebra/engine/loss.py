"""InfoNCE, the contrastive objective of CEBRA, with fixed or learnable temperature."""

from __future__ import annotations

import math

import torch
from torch import nn

DISTANCES = ("cosine", "euclidean")


def similarities(ref: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, distance: str):
    """Return (ψ(ref_i, pos_i) of shape (B,), ψ(ref_i, neg_j) of shape (B, B))."""
    if distance == "cosine":
        return (ref * pos).sum(-1), ref @ neg.t()
    if distance == "euclidean":
        pos_sim = -((ref - pos) ** 2).sum(-1)
        ref_sq = (ref**2).sum(-1, keepdim=True)
        neg_sq = (neg**2).sum(-1)
        neg_sim = -(ref_sq - 2.0 * ref @ neg.t() + neg_sq[None, :])
        return pos_sim, neg_sim
    raise ValueError(f"distance={distance!r} is unknown; use one of {DISTANCES}.")


def infonce(ref: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor | None, temperature,
            distance: str):
    """Mean InfoNCE: −ψ(x, y⁺)/τ + log Σ_j exp(ψ(x, y⁻_j)/τ), computed with log-sum-exp.

    ``neg=None`` takes the other references of the batch as each reference's negatives (they
    are i.i.d. draws from the same prior, so this is the same objective with B − 1 negatives).
    Returns (loss, alignment term, uniformity term), each a scalar tensor.
    """
    pos_sim, neg_sim = similarities(ref, pos, ref if neg is None else neg, distance)
    align = -pos_sim / temperature
    logits = neg_sim / temperature
    if neg is None:  # mask after scaling, so a learned τ never meets −inf · 0
        self_pairs = torch.eye(ref.shape[0], dtype=torch.bool, device=ref.device)
        logits = logits.masked_fill(self_pairs, float("-inf"))
    uniform = torch.logsumexp(logits, dim=1)
    return (align + uniform).mean(), align.mean(), uniform.mean()


class Temperature(nn.Module):
    """τ: a constant, or (``mode="auto"``) learned as ``min_temperature + exp(θ)``."""

    def __init__(self, temperature: float, mode: str = "constant", min_temperature: float = 0.1):
        super().__init__()
        if mode not in ("constant", "auto"):
            raise ValueError(f"temperature_mode={mode!r} is unknown; use 'constant' or 'auto'.")
        if not temperature > 0:
            raise ValueError(f"temperature={temperature!r} must be positive.")
        self.mode = mode
        self.min_temperature = float(min_temperature)
        if mode == "auto":
            if not min_temperature > 0:
                raise ValueError(f"min_temperature={min_temperature!r} must be positive.")
            start = max(temperature - min_temperature, 1e-3)
            self.log_excess = nn.Parameter(torch.tensor(math.log(start)))
        else:
            self.register_buffer("value", torch.tensor(float(temperature)))

    def forward(self) -> torch.Tensor:
        if self.mode == "auto":
            return self.min_temperature + self.log_excess.exp()
        return self.value
