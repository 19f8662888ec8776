"""Small helpers shared by this package's widgets."""

from __future__ import annotations


def same_layer(a, b) -> bool:
    """Whether two layer references are one layer (plugin widgets get fresh proxies each time)."""
    return a is b or (a is not None and b is not None and a.unique_id == b.unique_id)


def traces_layers(viewer) -> list:
    """The viewer's layers that carry traces (docs/CONTRACTS.md), in layer-list order."""
    from napari_cebra.contracts import META_KEY

    return [layer for layer in viewer.layers
            if isinstance(layer.metadata.get(META_KEY), dict)
            and layer.metadata[META_KEY].get("traces") is not None]
