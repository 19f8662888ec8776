"""Model files with their settings: the one way napari-cebra saves and loads a trained model.

``run.pt`` holds the engine's weights and metadata (``CEBRA.save``: state dicts + JSON, read
back with ``torch.load(weights_only=True)``); ``run.pt.settings.json`` beside it keeps the
run's :class:`~napari_cebra.pipeline.TrainSettings` and label columns. Both are written whole
or not at all; neither replaces an existing file unless asked.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from napari_cebra.files import atomic_path, check_target
from napari_cebra.pipeline import TrainSettings

log = logging.getLogger(__name__)

SETTINGS_FORMAT = "napari-cebra/settings"
SETTINGS_VERSION = 1


def settings_path(model_path: str | Path) -> Path:
    """The JSON file next to a model file that keeps the run's settings and label choice."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + ".settings.json")


def check_model_targets(path: str | Path, overwrite: bool = False) -> Path:
    """Raise unless the model file and its settings file can both be written now."""
    path = check_target(path, overwrite=overwrite, what="model file")
    check_target(settings_path(path), overwrite=overwrite, what="settings file")
    return path


def save_model(model, path: str | Path, settings: TrainSettings,
               label_columns: Sequence[str] = (), overwrite: bool = False,
               rois: dict | None = None) -> Path:
    """``model.save(path)`` plus its settings file (``<path>.settings.json``); ``rois``
    (suite2p folder, ROI indices, curation hash) records which ROIs the traces were.

    Both targets are checked before either is written. The two are written to temporary files
    first and published together, so an error or Ctrl-C leaves both or neither.
    """
    path = check_model_targets(path, overwrite)
    side = settings_path(path)
    record = {"format": SETTINGS_FORMAT, "format_version": SETTINGS_VERSION,
              "settings": settings.to_dict(), "label_columns": list(label_columns)}
    if rois:
        record["rois"] = dict(rois)
    text = json.dumps(record, indent=2) + "\n"
    side_was_there, side_published = os.path.lexists(side), False
    try:
        with atomic_path(path, overwrite=overwrite, what="model file") as model_tmp:
            with atomic_path(side, overwrite=overwrite, what="settings file") as side_tmp:
                model.save(model_tmp, overwrite=True)  # onto our own fresh temporary file
                side_tmp.write_text(text, encoding="utf-8")
            side_published = True  # the model follows as the outer block ends
    except BaseException:
        if side_published and not side_was_there:
            side.unlink(missing_ok=True)  # never a settings file without its model
        raise
    log.info("saved model %s and its settings", path)
    return path


def load_model(path: str | Path, device: str = "auto"):
    """``(model, settings, label_columns)``: every model napari-cebra opens comes through here.

    Settings come from ``<path>.settings.json`` when present (checked: a damaged or newer file
    raises ``ValueError`` naming it), else from the model's own parameters.
    """
    from napari_cebra.engine.estimator import CEBRA

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist.")
    model = CEBRA.load(path, device=device)
    log.info("loaded model %s (trained on %s)", path, getattr(model, "trained_on_", "?"))
    side = settings_path(path)
    if side.exists():
        settings, columns = _read_settings(side)
    else:
        settings, columns = TrainSettings.from_dict(model.get_params()), ()
    return model, settings, columns


def _read_settings(side: Path) -> tuple[TrainSettings, tuple[str, ...]]:
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        version = data.get("format_version", 1)  # files from before the version field: 1
        if not isinstance(version, int) or version > SETTINGS_VERSION:
            raise ValueError(f"format version {version!r} is newer than this napari-cebra "
                             f"reads ({SETTINGS_VERSION}); upgrade napari-cebra")
        settings = TrainSettings.from_dict(data.get("settings") or {})
        columns = tuple(str(c) for c in data.get("label_columns") or ())
    except (ValueError, TypeError, AttributeError, UnicodeDecodeError) as err:
        raise ValueError(f"{side} is damaged or not a napari-cebra settings file ({err}); "
                         "delete it to load the model with its own parameters.") from err
    return settings, columns
