"""Model files: ``torch.save`` of state dicts plus JSON metadata, loaded with weights_only."""

from __future__ import annotations

import json
import warnings
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
        with warnings.catch_warnings():  # torch's warnings about pickles: ours say it
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable payload is not our model file
        raise _refusal(path, err) from None  # torch's text suggests the unsafe load: not kept
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


def _refusal(path: Path, err: BaseException) -> Exception:
    """Why a model file was not loaded, in our words: torch's own message advises loading
    with ``weights_only=False``, the one step that would run the file's code."""
    import pickle
    import re

    text = str(err)
    if isinstance(err, PermissionError) or "Permission denied" in text or \
            "Operation not permitted" in text:
        from napari_cebra.files import unreadable

        return unreadable(path, err, "model file")
    if isinstance(err, pickle.UnpicklingError) or "Weights only load failed" in text:
        found = re.search(r"GLOBAL ([\w.]+)", text) or re.search(r"global[: ]+'?([\w.]+)", text)
        what = f" (it asks for {found.group(1)})" if found else ""
        return ValueError(
            f"{path} holds a pickled Python object{what}, which could run code on this "
            "computer when loaded: it is not a napari-cebra model file, and napari-cebra "
            "refuses to open it. A model saved by "
            "napari-cebra holds only numbers and text. Ask whoever gave you the file for one "
            "saved by napari-cebra, or retrain the model from the data.")
    first = next((line for line in text.strip().splitlines() if line.strip()
                  and "weights_only" not in line), type(err).__name__)
    return ValueError(f"{path} is not a napari-cebra model file, or it is damaged or "
                      f"truncated ({first.strip()}). Copy the file again, or retrain.")


def _check_declared_sizes(payload: dict, meta: dict) -> None:
    """The layer sizes the metadata declares must be those of the stored weights (a crafted
    header could declare a model of any size; building it would allocate it)."""
    from napari_cebra.limits import DeclaredSizeError

    params = meta["params"]
    hidden, out = params["num_hidden_units"], params["output_dimension"]
    if not (isinstance(hidden, int) and hidden > 0 and isinstance(out, int) and out > 0):
        raise ValueError("num_hidden_units and output_dimension must be positive")
    for n_features, state in zip(meta["n_features_in"], payload["encoders"], strict=True):
        if not isinstance(state, dict):
            raise TypeError("an encoder's weights are not a state dict")
        stored = sum(int(getattr(t, "numel", lambda: 0)()) for t in state.values())
        needed = max(n_features * hidden, hidden * out)
        if needed > stored:
            raise DeclaredSizeError(
                f"the metadata declares layers of {n_features} inputs × {hidden} hidden units "
                f"× {out} outputs (at least {needed} weights) but the file stores {stored}")


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
    _check_declared_sizes(payload, meta)
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
