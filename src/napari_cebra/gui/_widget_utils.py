"""Small helpers shared by this package's widgets."""

from __future__ import annotations

import os
import sys


def keep_triton_out() -> None:
    """Hide the ``triton`` package from torch in a napari process.

    torch's optimisers import ``torch._dynamo``, which imports triton when it is installed;
    triton's bundled LLVM clashes with the LLVM that Mesa's OpenGL drivers (llvmpipe under
    Xvfb, radeonsi) have already loaded for napari's canvas, and the process segfaults.
    napari-cebra never uses ``torch.compile``, so training only loses a feature it does not use.
    Nothing changes when triton is already imported (it then loaded before OpenGL, safely).
    """
    if "triton" not in sys.modules:
        sys.modules["triton"] = None  # makes ``import triton`` raise ImportError


def leave_a_core_for_the_ui() -> None:
    """Train on all cores but one, so the event loop is never starved (torch uses all)."""
    import torch

    cores = os.cpu_count() or 1
    if cores > 1 and torch.get_num_threads() >= cores:
        torch.set_num_threads(cores - 1)


def same_layer(a, b) -> bool:
    """Whether two layer references are one layer (plugin widgets get fresh proxies each time)."""
    return a is b or (a is not None and b is not None and a.unique_id == b.unique_id)


def traces_layers(viewer) -> list:
    """The viewer's layers that carry traces (docs/CONTRACTS.md), in layer-list order."""
    from napari_cebra.contracts import META_KEY

    return [layer for layer in viewer.layers
            if isinstance(layer.metadata.get(META_KEY), dict)
            and layer.metadata[META_KEY].get("traces") is not None]
