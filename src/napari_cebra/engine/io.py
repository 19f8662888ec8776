"""Model files: ``torch.save`` of state dicts plus JSON metadata, loaded with weights_only."""

from __future__ import annotations

import json
from pathlib import Path

FORMAT = "napari-cebra/model"
FORMAT_VERSION = 1


def save_model(model, path: Path, overwrite: bool) -> Path:
    import torch

    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; choose another file name or pass "
                              "overwrite=True.")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name such as run.pt.")
    metadata = {
        "params": model.get_params(),
        "n_features_in": model.n_features_in_,
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
    tmp = path.with_name(path.name + ".partial")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_model(cls, path: Path, device: str):
    import torch

    from .device import resolve_device
    from .loss import Temperature
    from .models import make_model

    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable payload is not our model file
        raise ValueError(f"{path} is not a napari-cebra model file (or it carries a pickled "
                         f"object, which is refused for safety): {str(err).splitlines()[0]}"
                         ) from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a napari-cebra model file (no '{FORMAT}' marker).")
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer napari-cebra (format "
                         f"{payload['format_version']}); upgrade napari-cebra to read it.")
    meta = json.loads(payload["metadata"])
    params = dict(meta["params"])
    params["device"] = device
    model = cls(**params)
    target = resolve_device(device)
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
    model.n_features_in_ = list(meta["n_features_in"])
    model.label_kinds_ = meta["label_kinds"]
    model.trained_on_ = meta["trained_on"]
    model.is_fitted_ = True
    return model
