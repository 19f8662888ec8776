"""Building napari layers for napari-cebra: one module for the reader, samples and widgets.

Functions return napari "layer data tuples" ``(data, kwargs, layer_type)`` so every entry point
builds identical layers. Layers that carry traces follow docs/CONTRACTS.md (a traces record from
:func:`napari_cebra.contracts.traces_record` under ``metadata["napari_cebra"]``; ROI Labels
layers also have one ``features`` row per ROI). Also here: finding those layers in a viewer.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from napari_cebra.contracts import META_KEY, has_traces, traces_record

if TYPE_CHECKING:
    from napari_cebra.imaging.session import ImagingSession

LayerData = tuple[Any, dict[str, Any], str]
NON_CELL_COLOR = (0.55, 0.55, 0.55, 0.6)


def record_metadata(record: dict[str, Any]) -> dict[str, Any]:
    """A layer's ``metadata`` carrying a traces record (the only place layers store one)."""
    return {META_KEY: record}


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
                "metadata": record_metadata(meta),
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


# ------------------------------------------------------------------ traces without a stack

def grid_shape(n_neurons: int) -> tuple[int, int]:
    """Rows × cols of the near-square grid that shows one pixel per neuron."""
    cols = math.ceil(math.sqrt(n_neurons))
    return math.ceil(n_neurons / cols), cols


def neuron_grid_movie(traces: np.ndarray) -> np.ndarray:
    """(T, N) traces → (T, rows, cols) movie, one pixel per neuron (spare pixels stay 0)."""
    traces = np.asarray(traces, dtype=np.float32)
    t, n = traces.shape
    rows, cols = grid_shape(n)
    movie = np.zeros((t, rows * cols), dtype=np.float32)
    movie[:, :n] = traces
    return movie.reshape(t, rows, cols)


def traces_layer(traces: np.ndarray, *, name: str, labels: dict[str, np.ndarray] | None = None,
                 label_kinds: dict[str, str] | None = None, fs: float | None = None,
                 **extra_meta: Any) -> LayerData:
    """An Image layer (time, rows, cols) of traces that carries the traces metadata contract.

    It gives a session without a stack a time axis, so the time slider and the embedding's
    linked cursor work.
    """
    traces = np.asarray(traces, dtype=np.float32)
    meta = traces_record(traces, fs=fs, labels=labels, label_kinds=label_kinds,
                         trace_sets=extra_meta.pop("trace_sets", None), **extra_meta)
    lo, hi = np.percentile(traces, [1, 99.5]) if traces.size else (0.0, 1.0)
    kwargs = {
        "name": name,
        "metadata": record_metadata(meta),
        "colormap": "magma",
        "contrast_limits": (float(lo), float(hi) if hi > lo else float(lo) + 1.0),
    }
    return neuron_grid_movie(traces), kwargs, "image"


# ------------------------------------------------------------------ finding layers

def same_layer(a, b) -> bool:
    """Whether two layer references are one layer (plugin widgets get fresh proxies each time)."""
    return a is b or (a is not None and b is not None and a.unique_id == b.unique_id)


def traces_layers(viewer) -> list:
    """The viewer's layers that carry traces (docs/CONTRACTS.md), in layer-list order."""
    return [layer for layer in viewer.layers if has_traces(layer)]


def layer_named(viewer, name: str | None) -> Any:
    """The viewer's layer called ``name``, or None (napari's LayerList has no ``.get``)."""
    return viewer.layers[name] if name and name in viewer.layers else None
