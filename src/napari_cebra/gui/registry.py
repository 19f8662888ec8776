"""How napari-cebra's widgets find each other in one viewer.

Each widget registers itself under a *role* when it is created (``register(viewer, "train",
self)``); others look it up (``find(viewer, "train")``) or reach every widget that offers a
method (``offering(viewer, "highlight_frames")``). References are weak: a closed widget drops
out by itself. Roles in use:

- ``"train"`` — the Train CEBRA widget (its ``.model`` is the last trained or loaded model);
- ``"embedding"`` — the CEBRA embedding view (``EmbeddingView.for_viewer`` docks one if absent);
- ``"decode"``, ``"extract"``, ``"traces"``, ``"labels"``, ``"live"`` — the other docks.

A widget that can mark frames picked elsewhere offers ``highlight_frames(frames)``.
"""

from __future__ import annotations

import weakref
from typing import Any

_WIDGETS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # viewer → {role: [refs]}


def register(viewer: Any, role: str, widget: Any) -> None:
    """Record ``widget`` as a ``role`` widget of ``viewer``."""
    roles = _WIDGETS.setdefault(viewer, {})
    refs = [r for r in roles.get(role, []) if r() is not None and r() is not widget]
    roles[role] = [*refs, weakref.ref(widget)]


def _alive(viewer: Any, role: str | None = None) -> list:
    roles = _WIDGETS.get(viewer, {})
    out = []
    for name, refs in roles.items():
        if role is None or name == role:
            out.extend(w for w in (r() for r in refs) if w is not None and _usable(w))
    return out


def _usable(widget: Any) -> bool:
    try:
        widget.objectName()  # a deleted Qt widget raises RuntimeError
    except RuntimeError:
        return False
    except AttributeError:
        pass
    return True


def find(viewer: Any, role: str) -> Any | None:
    """The most recently registered live widget of ``role``, or ``None``."""
    widgets = _alive(viewer, role)
    return widgets[-1] if widgets else None


def offering(viewer: Any, method: str) -> list:
    """Every live widget of ``viewer`` with a callable ``method``."""
    return [w for w in _alive(viewer) if callable(getattr(w, method, None))]
