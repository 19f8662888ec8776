"""Model files: ``torch.save`` of state dicts plus JSON metadata, loaded with weights_only."""

from __future__ import annotations

import json
from pathlib import Path

FORMAT = "napari-cebra/model"
FORMAT_VERSION = 1


def save_model(model, path: Path, overwrite: bool) -> Path:
    import torch

    from napari_cebra.files import atomic_path, check_target

    check_target(path, overwrite=overwrite, what="model file")
    metadata = {
        "params": model.get_params(),
        "n_features_in": model.neurons_per_session_,
        "adapted": bool(getattr(model, "adapted_", False)),
        "label_kinds": model.label_kinds_,
        "multi_session": model.multi_session_,
        "seed": model.seed_,
        "batch_size": model.batch_size_,
        "num_negatives": model.num_negatives_,
        "trained_on": model.device_,
        "loss_history": model.loss_history_,
        "torch_version": torch.__version__,
    }
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "metadata": json.dumps(metadata),
        "encoders": [{k: v.detach().cpu() for k, v in e.state_dict().items()}
                     for e in model.encoders_],
        "temperature": {k: v.detach().cpu() for k, v in model.temperature_.state_dict().items()},
    }
    with atomic_path(path, overwrite=overwrite, what="model file") as tmp:
        torch.save(payload, tmp)
    return path


def load_model(cls, path: Path, device: str):
    import torch

    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}.")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes): the save was interrupted or the copy "
                         "failed. Copy the model file again or retrain.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable payload is not our model file
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ValueError(f"{path} is not a napari-cebra model file (or it carries a pickled "
                         f"object, which is refused for safety): {first}") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a napari-cebra model file (no '{FORMAT}' marker).")
    version = payload.get("format_version", 0)
    if not isinstance(version, int):
        raise ValueError(f"{path} is damaged: its format version is {version!r}.")
    if version > FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer napari-cebra (format "
                         f"{payload['format_version']}); upgrade napari-cebra to read it.")
    try:
        meta = _checked_metadata(payload)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path} is damaged or was not written by napari-cebra: its metadata "
                         f"is unusable ({type(err).__name__}: {err}). Use the original file "
                         "or retrain.") from err
    from .device import resolve_device

    target = resolve_device(device)  # a bad device is the caller's error, not the file's
    try:
        return _build(cls, payload, meta, device, target)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path} is damaged or does not match its metadata "
                         f"({type(err).__name__}: {str(err).splitlines()[0]}). Use the "
                         "original file or retrain.") from err


_META_TYPES = {"params": dict, "n_features_in": list, "label_kinds": (dict, type(None), list),
               "multi_session": bool, "batch_size": int, "num_negatives": int,
               "loss_history": list}
_PARAM_TYPES = {"model_architecture": str, "num_hidden_units": int, "output_dimension": int,
                "temperature": (int, float), "temperature_mode": str,
                "min_temperature": (int, float)}


def _checked_metadata(payload: dict) -> dict:
    """The model file's JSON metadata, with every field we use present and of the right type."""
    raw = payload.get("metadata")
    if not isinstance(raw, str):
        raise TypeError("metadata is not a JSON string")
    meta = json.loads(raw)
    if not isinstance(meta, dict):
        raise TypeError("metadata is not a JSON object")
    for key, kind in _META_TYPES.items():
        if not isinstance(meta[key], kind):
            raise TypeError(f"'{key}' is {type(meta[key]).__name__}")
    for key, kind in _PARAM_TYPES.items():
        if not isinstance(meta["params"][key], kind):
            raise TypeError(f"params '{key}' is {type(meta['params'][key]).__name__}")
    if not all(isinstance(n, int) and n > 0 for n in meta["n_features_in"]):
        raise ValueError("'n_features_in' must list positive neuron counts")
    if not isinstance(payload.get("encoders"), list) or len(payload["encoders"]) != len(
            meta["n_features_in"]):
        raise ValueError("the file's encoders do not match its metadata")
    return meta


def _build(cls, payload: dict, meta: dict, device: str, target: str):
    from .loss import Temperature
    from .models import make_model

    params = dict(meta["params"])
    params["device"] = device
    params = {k: v for k, v in params.items() if k in cls().get_params()}  # newer extras
    model = cls(**params)
    encoders = []
    for n_features, state in zip(meta["n_features_in"], payload["encoders"], strict=True):
        encoder = make_model(params["model_architecture"], n_features,
                             params["num_hidden_units"], params["output_dimension"])
        encoder.load_state_dict(state)
        encoders.append(encoder.to(target).eval())
    temperature = Temperature(params["temperature"], params["temperature_mode"],
                              params["min_temperature"])
    temperature.load_state_dict(payload["temperature"])
    model.encoders_ = encoders
    model.temperature_ = temperature.to(target)
    model.loss_history_ = list(meta["loss_history"])
    model.device_ = target
    model.seed_ = meta["seed"]
    model.batch_size_ = meta["batch_size"]
    model.num_negatives_ = meta["num_negatives"]
    model.multi_session_ = meta["multi_session"]
    model._set_neurons(list(meta["n_features_in"]))
    model.label_kinds_ = meta["label_kinds"]
    model.trained_on_ = meta["trained_on"]
    model.adapted_ = bool(meta.get("adapted", False))
    return model
