"""File ▸ Open Sample: synthetic sessions generated on the spot (seeded, offline, seconds)."""

from __future__ import annotations

import numpy as np

from napari_cebra.contracts import traces_record
from napari_cebra.gui.layers import LayerData, record_metadata, traces_layer


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
    meta = traces_record(sim.traces, fs=sim.fs,
                         trace_sets={"true": sim.traces, "spikes": sim.spikes},
                         ground_truth=True, sample="calcium")
    movie = (np.asarray(sim.movie, dtype=np.float32),
             {"name": "calcium movie", "colormap": "gray",
              "contrast_limits": _limits(sim.movie),
              "metadata": {"shifts": np.asarray(sim.shifts)}}, "image")
    return [movie, _truth_layer(sim.footprints, sim.centroids, meta)]


def _limits(movie: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(movie[:: max(1, len(movie) // 50)], [1, 99.8])
    return float(lo), float(hi)


def _truth_layer(footprints: np.ndarray, centroids: np.ndarray, meta: dict,
                 name: str = "ground-truth ROIs") -> LayerData:
    """The true soma footprints as a Labels layer carrying the true traces (a traces record)."""
    footprints = np.asarray(footprints, dtype=np.float32)
    rois = np.zeros(footprints.shape[1:], dtype=np.int32)
    if len(footprints):
        strongest = footprints.argmax(axis=0)
        peak = footprints.max(axis=0)
        inside = peak > 0.2 * peak.max()
        rois[inside] = strongest[inside] + 1
    centroids = np.asarray(centroids, dtype=np.float32).reshape(-1, 2)
    features = {"roi": np.arange(1, len(footprints) + 1), "centroid_y": centroids[:, 0],
                "centroid_x": centroids[:, 1]}
    return (rois, {"name": name, "opacity": 0.4, "features": features,
                   "metadata": record_metadata(meta)}, "labels")

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


V1_STACK_NAME = "V1 imaging (raw stack)"


def v1_stack_sample() -> list[LayerData]:
    """A raw two-photon stack of V1 neurons watching a movie, with its stimulus and truth.

    Read from the sample files a lab would have (``sample_data/``: the TIFF stack, the
    stimulus movie, the frame-labels CSV, the behaviour CSV on its own clock; see
    :mod:`napari_cebra.sample_files`). Layers: the stack (extract traces from it), the
    stimulus movie, and the ground-truth ROIs carrying the true traces with the same labels
    (to compare with what extraction finds). The stack's metadata keeps the frame labels and
    the running speed (put on the frame times) for the steps that follow.
    """
    from napari_cebra.sample_files import sample_files

    return stack_layers(sample_files())


def stack_layers(files) -> list[LayerData]:
    """The layers of a V1 imaging session's files (see :func:`v1_stack_sample`)."""
    import tifffile

    from napari_cebra.imaging.labels import align_labels, load_labels
    from napari_cebra.whole_path import read_frame_labels

    stack = tifffile.imread(files.stack)
    frames = read_frame_labels(files.frame_labels, n_frames=len(stack))
    speed = align_labels(load_labels(files.behaviour, {"running_speed": "continuous"},
                                     time_column="time_s"), len(stack), fs=files.fs)
    labels = {"frame_id": frames.frame_id, "repeat": frames.repeat,
              "running_speed": speed.columns["running_speed"].astype(np.float32)}
    kinds = {"frame_id": "discrete", "repeat": "discrete", "running_speed": "continuous"}
    with np.load(files.truth, allow_pickle=False) as truth:
        true_traces, spikes = truth["true_traces"], truth["spikes"]
        footprints, centroids = truth["footprints"], truth["centroids"]
    meta = traces_record(true_traces, fs=files.fs, labels=labels, label_kinds=kinds,
                         trace_sets={"true": true_traces, "spikes": spikes.astype(np.float32)},
                         ground_truth=True, sample="v1-stack", movie_layer=MOVIE_NAME)
    layer = (stack, {"name": V1_STACK_NAME, "colormap": "gray",
                     "contrast_limits": _limits(stack),
                     "metadata": {"napari_cebra_frame_labels": {
                         "labels": labels, "label_kinds": kinds, "fs": files.fs,
                         "movie_layer": MOVIE_NAME},
                         "napari_cebra_source": {"stack": str(files.stack),
                                                 "frame_labels": str(files.frame_labels),
                                                 "behaviour": str(files.behaviour)}}}, "image")
    movie = tifffile.imread(files.movie).astype(np.float32) / 255.0
    movie_layer = (movie, {"name": MOVIE_NAME, "colormap": "gray", "contrast_limits": (0.0, 1.0),
                           "metadata": {"napari_cebra_movie": {"fs": files.fs}}}, "image")
    return [layer, movie_layer, _truth_layer(footprints, centroids, meta,
                                             name="V1 ground-truth ROIs")]
