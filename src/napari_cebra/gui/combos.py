"""Combo boxes that list layers (or labels) and keep the user's choice across refreshes."""

from __future__ import annotations

from collections.abc import Sequence

from qtpy.QtWidgets import QComboBox


def refill(box: QComboBox, names: Sequence[str], prefer: str | None = None) -> bool:
    """Replace the items of ``box`` with ``names`` without emitting change signals.

    The current choice stays selected when it is still listed, else ``prefer`` when listed,
    else the first item. Returns whether the selected text changed.
    """
    before = box.currentText()
    names = list(names)
    keep = before if before in names else (prefer if prefer in names else None)
    box.blockSignals(True)
    try:
        box.clear()
        box.addItems(names)
        if keep is not None:
            box.setCurrentIndex(names.index(keep))
    finally:
        box.blockSignals(False)
    return box.currentText() != before


def follow_layers(viewer, callback) -> None:
    """Call ``callback(event)`` whenever a layer is added to or removed from ``viewer``."""
    viewer.layers.events.inserted.connect(callback)
    viewer.layers.events.removed.connect(callback)
