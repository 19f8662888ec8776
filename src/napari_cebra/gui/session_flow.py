"""One recording, step after step: what one napari-cebra step makes, the next one picks first.

Extract → Attach labels → Train → Decode on one recording without re-picking layers. Per viewer
this module keeps the most recent output of each *role*:

- ``"traces"``: the ROI layer Extract made (handed on again when labels are attached to it);
- ``"model"``: the Train widget whose model was trained on that layer.

A step hands its output on with :func:`hand_on`; every open widget offering
``follow_session(role, layer_or_widget)`` is told at once, and a widget opened later asks
:func:`latest`. A stack carries what the steps after extraction need in
``metadata["napari_cebra_frame_labels"]`` (``labels``, ``label_kinds``, ``fs``,
``movie_layer``, e.g. from the V1 stack sample): Extract takes its frame rate, the ROI layer
remembers the labels and the stimulus movie, Attach labels offers the labels first and Decode
shows that movie.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np

from napari_cebra.contracts import traces_of
from napari_cebra.gui import registry
from napari_cebra.gui.forms import choose
from napari_cebra.gui.model_source import FROM_TRAIN_WIDGET as FROM_TRAIN_WIDGET_CHOICE

FRAME_LABELS = "napari_cebra_frame_labels"
DECODE_DIMENSIONS = 8  # Train's output dimension, at least, when it trains on movie frames
_LATEST: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # viewer → {role: ref}


def hand_on(viewer: Any, role: str, output: Any) -> None:
    """Make ``output`` the latest ``role`` output of ``viewer`` and tell the open widgets."""
    ref = output.unique_id if hasattr(output, "unique_id") else weakref.ref(output)
    _LATEST.setdefault(viewer, {})[role] = ref
    for widget in registry.offering(viewer, "follow_session"):
        widget.follow_session(role, output)


def latest(viewer: Any, role: str) -> Any | None:
    """The latest ``role`` output still there (a layer still in the viewer), or ``None``."""
    ref = _LATEST.get(viewer, {}).get(role)
    if ref is None:
        return None
    if callable(ref):
        return ref()
    return next((layer for layer in viewer.layers if layer.unique_id == ref), None)


def follow_latest(viewer: Any, widget: Any) -> None:
    """For a widget just opened: catch up with the outputs made before it existed."""
    for role in ("traces", "model"):
        output = latest(viewer, role)
        if output is not None:
            widget.follow_session(role, output)


# ------------------------------------------------------------------ what a stack carries

def carried_labels(layer: Any) -> dict | None:
    """The frame labels a stack (or the ROI layer extracted from it) carries, or ``None``."""
    carried = getattr(layer, "metadata", {}).get(FRAME_LABELS)
    return carried if isinstance(carried, dict) and carried.get("labels") else None


def carried_fs(layer: Any) -> float | None:
    """The frame rate a stack carries (its frame labels' ``fs``), or ``None``."""
    fs = (getattr(layer, "metadata", {}).get(FRAME_LABELS) or {}).get("fs")
    return float(fs) if fs else None


def preferred_stack(layers: list) -> str | None:
    """The name of the newest stack that carries frame labels (what Extract offers first)."""
    carrying = [layer for layer in layers if carried_labels(layer) is not None]
    return carrying[-1].name if carrying else None


def extracted(viewer: Any, stack: Any | None, rois: Any) -> None:
    """Extract made ``rois`` from ``stack``: it remembers the stack's frame labels and stimulus
    movie (when their length matches its frames) and becomes the latest traces."""
    carried = carried_labels(stack) if stack is not None else None
    record = traces_of(rois.metadata)
    if carried is not None and record is not None:
        n_frames = int(np.asarray(record["traces"]).shape[0])
        if all(len(v) == n_frames for v in carried["labels"].values()):
            rois.metadata[FRAME_LABELS] = carried
            if carried.get("movie_layer"):
                record.setdefault("movie_layer", carried["movie_layer"])
    hand_on(viewer, "traces", rois)


def held_out_fraction(repeat: np.ndarray, n_repeats: int = 2) -> float:
    """The fraction of the session, at its end, made of its last ``n_repeats`` repeats (what
    Train holds out so Decode's validation and test repeats are unseen by the model)."""
    repeat = np.asarray(repeat)
    values = list(dict.fromkeys(repeat[::-1].tolist()))  # repeats from the end, in order
    if len(values) <= n_repeats:
        return 0.0
    first = int(np.flatnonzero(np.isin(repeat, values[:n_repeats]))[0])
    if np.isin(repeat[:first], values[:n_repeats]).any():
        return 0.0  # the held-out repeats are not the session's end: nothing simple to hold out
    return (len(repeat) - first) / len(repeat)


def check_model_unseen(train_widget: Any, repeat: np.ndarray, test_repeat: int) -> None:
    """``ValueError`` when the Train widget's model trained on frames of ``test_repeat`` (a
    loaded model's training data is unknown: it passes)."""
    from napari_cebra.pipeline import split_mask

    result = getattr(train_widget, "result", None)
    if result is None:
        return
    repeat = np.asarray(repeat)
    trained_on = split_mask(len(repeat), result.settings.test_fraction)
    if trained_on[repeat == test_repeat].any():
        need = held_out_fraction(repeat)
        raise ValueError(
            f"the Train widget's model was trained on frames of test repeat {test_repeat}; "
            f"retrain it with 'Test fraction' ≥ {math.ceil(need * 100) / 100:.2f} (the last "
            "two repeats held out) or choose 'Train here'.")


# ------------------------------------------------------------------ the widgets' part

def train_follows(train: Any, role: str, output: Any) -> None:
    """Train picks new traces; with discrete ``frame_id``/``repeat`` labels it ticks
    ``frame_id`` and holds out the last two repeats (Decode's validation and test repeats)."""
    if role != "traces":
        return
    train.select_layer(output)
    train._on_traces_changed()  # labels may have been attached since it was picked
    record = traces_of(output.metadata) or {}
    labels, kinds = record.get("labels") or {}, record.get("label_kinds") or {}
    if kinds.get("repeat") != "discrete" or "repeat" not in labels:
        return
    fraction = held_out_fraction(labels["repeat"])
    if fraction:
        train.form["test_fraction"].value = math.ceil(fraction * 100) / 100
    if kinds.get("frame_id") == "discrete" and "frame_id" in labels:
        train.set_label_columns(["frame_id"])
        # 3 dimensions cannot keep 100s of movie frames apart; the decoding protocol uses 32
        dims = train.form["output_dimension"]
        dims.value = max(dims.value, DECODE_DIMENSIONS)
    train.status.setText(f"{output.name!r}: the last two repeats are held out for Decode; "
                         "press Train.")


def decode_follows(decode: Any, role: str, output: Any) -> None:
    """Decode picks new traces (and the stimulus movie they name), and decodes with the Train
    widget's model when it was trained on the traces Decode shows."""
    if role == "traces":
        decode.refresh_layers()
        choose(decode.traces, output)  # the movie the traces name; their labels
    elif role == "model":
        result = getattr(output, "result", None)
        chosen = decode.traces.value
        if result is not None and chosen is not None and result.source == chosen.name:
            decode.model.box.value = FROM_TRAIN_WIDGET_CHOICE
            decode.status.setText(f"Decodes with the model trained on {result.source!r}; "
                                  "press Decode.")
