"""What the InfoNCE loss says in bits (no torch): the engine reports it, analysis reuses it."""

from __future__ import annotations

import math


def goodness_of_fit_bits(loss: float, num_negatives: int) -> float:
    """Bits of information the embedding captures: (log n − InfoNCE) / log 2, n negatives."""
    return (math.log(num_negatives) - float(loss)) / math.log(2.0)
