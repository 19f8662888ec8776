"""napari-cebra: CEBRA embeddings of calcium-imaging sessions, in napari and from Python.

The public API is imported lazily so that napari starts fast (torch loads on first use).
"""

from __future__ import annotations

__version__ = "0.1.0"

_EXPORTS = {
    "CEBRA": "napari_cebra.engine.estimator",
    "TrainingStep": "napari_cebra.engine.estimator",
    "available_models": "napari_cebra.engine.models",
    "available_devices": "napari_cebra.engine.device",
    "KNNDecoder": "napari_cebra.analysis.decoders",
    "goodness_of_fit_bits": "napari_cebra.analysis.metrics",
    "consistency_matrix": "napari_cebra.analysis.metrics",
    "latent_r2": "napari_cebra.analysis.metrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'napari_cebra' has no attribute {name!r}")
