"""Consistency across sessions: one multi-session CEBRA model, pairwise R² after alignment.

The sessions watched the same movie (e.g. one animal recorded as calcium traces and as spike
counts, or several animals). Each session gets its own encoder into a shared space, trained on
the same movie labels; the consistency matrix then says how well each session's embedding is
predicted, after a linear alignment, from another's (frame-by-frame, via the frame ids).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from napari_cebra.progress import Progress, fit_progress


@dataclass
class ConsistencyResult:
    names: list[str]
    matrix: np.ndarray  # (S, S) R² of the linear map from session i to j
    goodness_of_fit_bits: float
    embeddings: list[np.ndarray] = field(repr=False)  # one (T_i, d) per session

    def to_dict(self) -> dict:
        return dict(names=list(self.names), matrix=self.matrix.tolist(),
                    goodness_of_fit_bits=self.goodness_of_fit_bits)


def consistency_steps(
    neural: Sequence[np.ndarray], frame_ids: Sequence[np.ndarray], names: Sequence[str], *,
    movie: np.ndarray | None = None, labels: str = "movie", cebra_params: Mapping | None = None,
    progress_every: int = 50, model=None,
) -> Generator[Progress, None, ConsistencyResult]:
    """Train one multi-session CEBRA model on ``neural`` (a list) and measure its consistency.

    ``model``: a fitted multi-session model with one encoder per session, in the order of
    ``neural``, used as it is (no training). Yields :class:`Progress`; returns a
    :class:`ConsistencyResult`: the names, the matrix and each session's embedding in the
    shared space.
    """
    from .metrics import consistency_matrix

    if len(neural) < 2 or len(neural) != len(frame_ids) or len(names) != len(neural):
        raise ValueError("consistency needs two or more sessions, each with frame ids and a "
                         f"name; got {len(neural)} sessions, {len(frame_ids)} frame-id arrays "
                         f"and {len(names)} names.")
    if model is None and labels == "time":
        raise ValueError("multi-session training aligns sessions through their labels; use "
                         "labels 'movie' or 'phase', not 'time'.")
    n_frames = None if movie is None else len(movie)
    if n_frames is None:
        n_frames = int(max(np.max(f) for f in frame_ids)) + 1
    if model is None:
        from napari_cebra.engine.estimator import CEBRA

        from .frame_decoding import DEFAULT_CEBRA, cebra_labels

        ys = [cebra_labels(labels, np.asarray(f), movie, n_frames) for f in frame_ids]
        model = CEBRA(**{**DEFAULT_CEBRA, **dict(cebra_params or {})})
        yield from fit_progress(
            model.fit_steps([np.asarray(x, np.float32) for x in neural], continuous=ys),
            "train multi-session CEBRA", progress_every)
    elif len(getattr(model, "encoders_", ())) != len(neural):
        raise ValueError(f"the multi-session model has {len(getattr(model, 'encoders_', ()))} "
                         f"session encoders but {len(neural)} sessions were given; pass one "
                         "session per encoder, in training order.")
    yield Progress("consistency", 0, 1, "consistency matrix")
    embeddings = [model.transform(np.asarray(x, np.float32), session_id=i)
                  for i, x in enumerate(neural)]
    matrix = np.asarray(consistency_matrix(embeddings, labels=[np.asarray(f) for f in frame_ids],
                                           n_bins=n_frames), np.float64)
    return ConsistencyResult(names=list(names), matrix=matrix,
                             goodness_of_fit_bits=float(model.goodness_of_fit_bits()),
                             embeddings=embeddings)


def measure_consistency(*args, **kwargs) -> ConsistencyResult:
    """Run :func:`consistency_steps` to the end."""
    from napari_cebra.progress import drain

    return drain(consistency_steps(*args, **kwargs))


def decode_with_consistency_steps(
    neural: np.ndarray, frame_id: np.ndarray, repeat: np.ndarray, fs: float, *,
    movie: np.ndarray | None = None, sessions: Sequence[tuple[str, np.ndarray]] = (),
    **kwargs,
) -> Generator[Progress, None, tuple]:
    """The decode widget's job: the frame-decoding protocol on one session, then (with two or
    more ``sessions``, name → (T, N) traces watching the same movie) their consistency.

    ``kwargs`` go to :func:`~napari_cebra.analysis.frame_decoding.frame_decoding_steps`.
    Returns ``(report, consistency or None)``; the report carries the consistency too.
    """
    from .frame_decoding import frame_decoding_steps

    report = yield from frame_decoding_steps(neural, frame_id, repeat, fs, movie=movie,
                                             **kwargs)
    consistency = None
    if len(sessions) >= 2:
        labels = kwargs.get("labels", "movie")
        consistency = yield from consistency_steps(
            [x for _, x in sessions], [frame_id] * len(sessions), [n for n, _ in sessions],
            movie=movie, labels="movie" if labels == "time" else labels,
            cebra_params=dict(kwargs.get("cebra_params") or {}))
        report.consistency = consistency.to_dict()
    return report, consistency
