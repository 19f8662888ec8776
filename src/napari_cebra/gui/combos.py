"""Combo boxes that list layers (or labels) and keep the user's choice across refreshes."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from qtpy.QtWidgets import QComboBox


def refill(box: QComboBox, names: Sequence[str], prefer: str | None = None,
           keys: Sequence[Hashable] | None = None) -> bool:
    """Replace the items of ``box`` with ``names`` without emitting change signals.

    The current choice stays selected when it is still listed — by its ``keys`` entry when
    keys are given (so a renamed layer stays chosen), else by text — else ``prefer`` when
    listed, else the first item. Returns whether the selected text changed.
    """
    before, before_key = box.currentText(), box.currentData()
    names = list(names)
    keys = list(keys) if keys is not None else [None] * len(names)
    if before_key is not None and before_key in keys:
        index = keys.index(before_key)
    elif before in names:
        index = names.index(before)
    elif prefer in names:
        index = names.index(prefer)
    else:
        index = None
    box.blockSignals(True)
    try:
        box.clear()
        for name, key in zip(names, keys, strict=True):
            box.addItem(name, key)
        if index is not None:
            box.setCurrentIndex(index)
    finally:
        box.blockSignals(False)
    return box.currentText() != before


def refill_layers(box: QComboBox, layers: Sequence[Any], prefer: str | None = None) -> bool:
    """:func:`refill` with layer names, keeping the chosen layer by identity (renames too)."""
    return refill(box, [layer.name for layer in layers], prefer,
                  keys=[str(layer.unique_id) for layer in layers])


def follow_layers(viewer, callback: Callable[[Any], Any]) -> None:
    """Call ``callback(event)`` whenever a layer is added to, removed from or renamed in
    ``viewer``. napari holds a bound method weakly: a closed widget stops being called."""
    viewer.layers.events.inserted.connect(callback)
    viewer.layers.events.removed.connect(callback)
    viewer.layers.events.renamed.connect(callback)
