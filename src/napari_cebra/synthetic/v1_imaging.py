"""The V1 session seen through a two-photon microscope: a raw stack with ground truth.

:func:`v1_imaging_session` simulates the mouse watching the movie (``synthetic.v1``) and
renders its neurons' spikes as a calcium-imaging movie (``synthetic.calcium_movie``: soma
footprints, neuropil, indicator kinetics, shot noise, slow bleaching, small rigid motion). The
result carries everything a lab has — the stack, the stimulus movie, per-frame ``frame_id`` and
``repeat`` — and the truth it never has: footprints, centroids and each neuron's true trace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class V1ImagingSession:
    stack: np.ndarray  # (T, Y, X) float32 photon counts
    movie: np.ndarray  # (F, H, W) float32 stimulus in [0, 1]
    frame_id: np.ndarray  # (T,) int64 movie frame on screen
    repeat: np.ndarray  # (T,) int64 repeat index
    running_speed: np.ndarray  # (T,) float32 cm/s, the mouse's behaviour
    fs: float
    footprints: np.ndarray  # (N, Y, X) float32, true soma footprints
    centroids: np.ndarray  # (N, 2) float (y, x)
    true_traces: np.ndarray  # (T, N) float32 true somatic fluorescence
    spikes: np.ndarray  # (T, N) spike counts
    tau: float
    diameter: float


def v1_imaging_session(n_repeats: int = 10, movie_seconds: float = 30.0, fs: float = 30.0,
                       n_neurons: int = 200, shape: tuple[int, int] = (256, 256),
                       motion: bool = True, seed: int = 0, diameter: float | None = None
                       ) -> V1ImagingSession:
    """A raw V1 stack: ``n_neurons`` cells watching the movie ``n_repeats`` times.

    ``diameter`` (px) sets the soma size (default: a twelfth of the frame, which crowds many
    neurons into a small frame; give it for a realistic density).
    """
    from .calcium_movie import simulate_calcium_movie
    from .v1 import v1_session

    session = v1_session(n_repeats=n_repeats, movie_seconds=movie_seconds, fs=fs,
                         n_neurons=n_neurons, seed=seed)
    tau = float(session.params.get("tau", 0.7))
    sim = simulate_calcium_movie(shape=shape, fs=fs, motion=motion, seed=seed + 1000,
                                 spikes=session.spikes, tau=tau, diameter=diameter)
    return V1ImagingSession(
        stack=sim.movie, movie=session.movie, frame_id=session.frame_id,
        repeat=session.repeat, running_speed=session.running_speed, fs=float(fs),
        footprints=sim.footprints, centroids=sim.centroids, true_traces=sim.traces,
        spikes=sim.spikes, tau=sim.tau, diameter=sim.diameter)
