"""Layer data for imaging results: ROI labels that carry their traces, stacks, colours.

Functions here return napari "layer data tuples" ``(data, kwargs, layer_type)`` so the reader
and the extract widget build identical layers. The traces follow docs/CONTRACTS.md: the ROI
Labels layer has ``metadata["napari_cebra"]`` and one ``features`` row per ROI.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_cebra.contracts import META_KEY
from napari_cebra.imaging.session import ImagingSession

LayerData = tuple[Any, dict[str, Any], str]
NON_CELL_COLOR = (0.55, 0.55, 0.55, 0.6)


def roi_colormap(iscell: np.ndarray) -> dict:
    """Label → RGBA: cells in distinct hues, non-cells grey, background transparent."""
    import colorsys

    colors: dict = {None: (0.0, 0.0, 0.0, 0.0), 0: (0.0, 0.0, 0.0, 0.0)}
    golden = 0.61803398875
    for i, cell in enumerate(np.asarray(iscell, bool)):
        if cell:
            r, g, b = colorsys.hsv_to_rgb((i * golden) % 1.0, 0.85, 1.0)
            colors[i + 1] = (r, g, b, 1.0)
        else:
            colors[i + 1] = NON_CELL_COLOR
    return colors


def contrast_limits(stack) -> tuple[float, float]:
    """From a few frames only (never the whole, possibly huge, stack)."""
    n = int(stack.shape[0])
    idx = sorted({0, n // 2, n - 1})
    frames = [np.asarray(stack[i]) for i in idx]
    lo, hi = np.percentile(np.stack(frames), [0.5, 99.8])
    return float(lo), float(hi) if hi > lo else float(lo) + 1.0


def stack_layer(stack, name: str, **kwargs) -> LayerData:
    return stack, {"name": name, "contrast_limits": contrast_limits(stack), **kwargs}, "image"


def session_layers(
    session: ImagingSession,
    name: str,
    *,
    time_axis: int = 0,
    source: str | None = None,
    geometry: dict | None = None,
    with_movie: bool = True,
) -> list[LayerData]:
    """Mean image, registered movie (if registration ran) and the ROI Labels layer.

    ``geometry`` (scale/translate of the source stack's last two axes) places them on it.
    """
    geometry = geometry or {}
    out = session.suite2p
    meta = session.layer_metadata(time_axis=time_axis)
    if source is not None:
        meta["source_layer"] = source
    features = session.roi_features
    layers: list[LayerData] = []
    reg = out.registered if with_movie else None
    mean = out.mean_image
    layers.append(
        (mean, {"name": f"{name} mean image", "colormap": "gray", "visible": reg is None,
                **geometry}, "image")
    )
    if reg is not None:
        layers.append(stack_layer(reg, f"{name} registered", colormap="gray", **geometry))
    layers.append(
        (
            session.roi_labels,
            {
                "name": f"{name} ROIs",
                "features": features,
                "metadata": {META_KEY: meta},
                "colormap": roi_colormap(features["iscell"]),
                "opacity": 0.5,
                **geometry,
            },
            "labels",
        )
    )
    return layers


def set_iscell(layer, roi: int, value: bool) -> None:
    """Mark ROI ``roi`` (its label value) as cell / non-cell on a ROI Labels layer."""
    from napari.utils.colormaps import DirectLabelColormap

    features = layer.features
    rows = np.flatnonzero(np.asarray(features["roi"]) == roi)
    if rows.size == 0:
        raise ValueError(f"ROI {roi} is not on layer {layer.name!r}")
    features.loc[rows[0], "iscell"] = bool(value)
    layer.features = features
    layer.colormap = DirectLabelColormap(color_dict=roi_colormap(features["iscell"].to_numpy()))
