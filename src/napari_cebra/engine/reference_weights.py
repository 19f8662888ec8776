"""Weights to and from the reference ``cebra`` package's models.

Both packages build the same networks (the paper's): a stack of layers with one weight and one
bias each, in the same order. Ours keep every layer as a time convolution
(``first``, ``skips``, ``last``); the reference's offset1 MLPs use ``nn.Linear``, whose
(out, in) weight is our kernel-1 (out, in, 1) convolution. So a mapping is the ordered list of
weighted layers, reshaped where needed; shapes are checked layer by layer.

``from_reference(ref_encoder, name)`` gives our encoder, ``to_reference(ours, name)`` the
reference's (needs ``cebra`` installed), ``import_reference_estimator(cebra.CEBRA)`` a fitted
:class:`napari_cebra.CEBRA` from a fitted reference estimator.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .models import Encoder, make_model


def _weighted_layers(module) -> list:
    """The Conv1d/Linear layers of a network, in forward order (module registration order)."""
    from torch import nn

    return [m for m in module.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]


def _our_layers(encoder: Encoder) -> list:
    return [encoder.first, *encoder.skips, encoder.last]


def _copy_layers(source: list, target: list, what: str) -> None:
    import torch

    if len(source) != len(target):
        raise ValueError(f"{what}: the networks have {len(source)} and {len(target)} weighted "
                         "layers; pick the same model_architecture on both sides.")
    with torch.no_grad():
        for i, (src, dst) in enumerate(zip(source, target, strict=True)):
            weight = src.weight.reshape(dst.weight.shape) if src.weight.numel() == \
                dst.weight.numel() else None
            if weight is None or src.bias.shape != dst.bias.shape:
                raise ValueError(f"{what}: layer {i} has weight shape {tuple(src.weight.shape)}, "
                                 f"the target expects {tuple(dst.weight.shape)}; the models "
                                 "differ in neurons, hidden units or output dimension.")
            dst.weight.copy_(weight)
            dst.bias.copy_(src.bias)


def _reference_sizes(ref) -> tuple[int, int, int]:
    layers = _weighted_layers(ref)
    if not layers:
        raise ValueError("the reference model has no Conv1d/Linear layers to import.")
    first = layers[0]
    neurons = first.in_channels if hasattr(first, "in_channels") else first.in_features
    units = first.out_channels if hasattr(first, "out_channels") else first.out_features
    return int(neurons), int(units), int(ref.num_output)


def from_reference(ref, name: str) -> Encoder:
    """Our encoder ``name`` carrying the weights of the reference model ``ref``
    (``cebra.models.init(name, ...)`` or a fitted ``cebra.CEBRA().model_``)."""
    neurons, units, output = _reference_sizes(ref)
    ours = make_model(name, neurons, units, output)
    if ours.normalize != bool(getattr(ref, "normalize", ours.normalize)):
        raise ValueError(f"{name} {'normalizes' if ours.normalize else 'does not normalize'} "
                         "its output but the reference model does the opposite; pick the "
                         "matching architecture (the '-mse' models do not normalize).")
    _copy_layers(_weighted_layers(ref), _our_layers(ours), f"importing into {name}")
    return ours.eval()


def to_reference(ours: Encoder, name: str):
    """The reference package's model ``name`` carrying our encoder's weights."""
    try:
        import cebra.models
    except ImportError as err:
        raise ImportError("to_reference needs the reference package: pip install cebra "
                          "(or napari-cebra[bench]).") from err
    units = ours.first.weight.shape[0]
    ref = cebra.models.init(name, num_neurons=ours.num_neurons, num_units=units,
                            num_output=ours.num_output)
    _copy_layers(_our_layers(ours), _weighted_layers(ref), f"exporting to {name}")
    return ref.eval()


def import_reference_estimator(ref_estimator: Any, device: str = "cpu"):
    """A fitted :class:`napari_cebra.CEBRA` with the encoder of a fitted ``cebra.CEBRA``.

    Single-session models only; ``transform`` then embeds as the reference would (same
    network, same weights, same replicate padding at the edges).
    """
    from .device import resolve_device
    from .estimator import CEBRA
    from .loss import Temperature

    model_ = getattr(ref_estimator, "model_", None)
    if model_ is None:
        raise ValueError("the reference estimator is not fitted (it has no model_); fit it "
                         "first.")
    if isinstance(model_, (list, tuple)) or hasattr(model_, "__len__"):
        raise ValueError("multi-session reference models are not supported; import one "
                         "session's model with from_reference(model, name).")
    params = ref_estimator.get_params()
    ours_params = {k: v for k, v in params.items() if k in CEBRA().get_params()}
    ours_params["device"] = device
    if ours_params.get("conditional") not in ("time", "time_delta", "delta"):
        ours_params["conditional"] = "time_delta"
    model = CEBRA(**ours_params)
    model._check_params()
    encoder = from_reference(model_, model.model_architecture)
    target = resolve_device(device)
    temperature = Temperature(float(model.temperature), model.temperature_mode,
                              model.min_temperature)
    model.encoders_ = [encoder.to(target)]
    model.temperature_ = temperature.to(target)
    model.loss_history_ = []
    model.device_ = target
    model.seed_ = params.get("seed")
    model.batch_size_ = int(params.get("batch_size") or 1)
    model.num_negatives_ = model.batch_size_
    model.multi_session_ = False
    model._set_neurons([encoder.num_neurons])
    kinds = [np.dtype(entry[0]).kind for entry in getattr(ref_estimator, "label_types_", [])]
    model.label_kinds_ = {"continuous": "f" in kinds, "discrete": any(k in "iub" for k in kinds)}
    model.adapted_ = False
    return model
