"""File ▸ Open Sample: synthetic sessions generated on the spot (seeded, offline, seconds)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from napari_cebra.contracts import META_KEY

LayerData = tuple[Any, dict[str, Any], str]


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
    meta = {
        "traces": traces,
        "fs": fs,
        "labels": dict(labels or {}),
        "label_kinds": dict(label_kinds or {}),
        "time_axis": 0,
        **extra_meta,
    }
    lo, hi = np.percentile(traces, [1, 99.5]) if traces.size else (0.0, 1.0)
    kwargs = {
        "name": name,
        "metadata": {META_KEY: meta},
        "colormap": "magma",
        "contrast_limits": (float(lo), float(hi) if hi > lo else float(lo) + 1.0),
    }
    return neuron_grid_movie(traces), kwargs, "image"


def hippocampus_sample(n_samples: int = 10_000, seed: int = 0) -> list[LayerData]:
    """A rat running on a 1.6 m track: 120 place cells + position and direction labels."""
    from napari_cebra.synthetic.hippocampus import hippocampus_session

    session = hippocampus_session(n_samples=n_samples, seed=seed)
    labels = {
        "position": np.asarray(session.position, dtype=np.float32),
        "direction": np.asarray(session.direction, dtype=np.int64),
    }
    kinds = {"position": "continuous", "direction": "discrete"}
    return [traces_layer(session.neural, name="hippocampus (neurons)", labels=labels,
                         label_kinds=kinds, fs=session.fs, sample="hippocampus")]


def calcium_sample(n_frames: int = 1000, seed: int = 0) -> list[LayerData]:
    """A motion-corrupted calcium movie with its ground truth (footprints, traces, spikes).

    The ROI Labels layer carries the true traces (metadata contract), so training works
    straight away; run suite2p on the movie to compare.
    """
    from napari_cebra.synthetic.calcium_movie import simulate_calcium_movie

    sim = simulate_calcium_movie(n_frames=n_frames, seed=seed)
    movie = np.asarray(sim.movie, dtype=np.float32)
    footprints = np.asarray(sim.footprints, dtype=np.float32)
    rois = np.zeros(movie.shape[1:], dtype=np.int32)
    if len(footprints):
        strongest = footprints.argmax(axis=0)
        peak = footprints.max(axis=0)
        inside = peak > 0.2 * peak.max()
        rois[inside] = strongest[inside] + 1
    centroids = np.asarray(sim.centroids, dtype=np.float32).reshape(-1, 2)
    meta = {
        "traces": np.asarray(sim.traces, dtype=np.float32),
        "trace_sets": {"true": np.asarray(sim.traces, dtype=np.float32),
                       "spikes": np.asarray(sim.spikes, dtype=np.float32)},
        "fs": float(sim.fs),
        "labels": {},
        "label_kinds": {},
        "time_axis": 0,
        "ground_truth": True,
        "sample": "calcium",
    }
    features = {
        "roi": np.arange(1, len(footprints) + 1),
        "centroid_y": centroids[:, 0],
        "centroid_x": centroids[:, 1],
    }
    lo, hi = np.percentile(movie[:: max(1, len(movie) // 50)], [1, 99.8])
    return [
        (movie, {"name": "calcium movie", "colormap": "gray",
                 "contrast_limits": (float(lo), float(hi)),
                 "metadata": {"shifts": np.asarray(sim.shifts)}}, "image"),
        (rois, {"name": "ground-truth ROIs", "opacity": 0.4, "features": features,
                "metadata": {META_KEY: meta}}, "labels"),
    ]
