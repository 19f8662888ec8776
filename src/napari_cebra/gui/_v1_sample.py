"""File ▸ Open Sample ▸ synthetic V1: the stimulus movie and the neurons watching it."""

from __future__ import annotations

import numpy as np

from napari_cebra.gui.sample_data import LayerData, traces_layer

MOVIE_NAME = "V1 stimulus movie"
TRACES_NAME = "V1 (neurons)"


def v1_layers(session) -> list[LayerData]:
    """The movie (Image, frames × H × W) and a traces layer with frame_id/repeat labels."""
    s = session
    labels = {"frame_id": s.frame_id.astype(np.int64), "repeat": s.repeat.astype(np.int64),
              "running_speed": s.running_speed.astype(np.float32)}
    kinds = {"frame_id": "discrete", "repeat": "discrete", "running_speed": "continuous"}
    traces = traces_layer(
        s.neural, name=TRACES_NAME, labels=labels, label_kinds=kinds, fs=s.fs, sample="v1",
        trace_sets={"calcium": s.neural, "spikes": s.spikes}, movie_layer=MOVIE_NAME)
    movie = (s.movie, {"name": MOVIE_NAME, "colormap": "gray", "contrast_limits": (0.0, 1.0),
                       "metadata": {"napari_cebra_movie": {"fs": s.fs}}}, "image")
    return [movie, traces]


def v1_sample(n_repeats: int = 10, movie_seconds: float = 30.0, seed: int = 0
              ) -> list[LayerData]:
    """A mouse watching a 30 s natural movie ten times: 200 V1 neurons (calcium), movie."""
    from napari_cebra.synthetic.v1 import v1_session

    return v1_layers(v1_session(n_repeats=n_repeats, movie_seconds=movie_seconds, seed=seed))
