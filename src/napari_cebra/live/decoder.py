"""Decode a stream: a raw frame (or a vector of traces) in, the decoded label out.

:class:`LiveDecoder` chains the per-frame work — ROI fluorescence and dF/F for raw frames
(:class:`~napari_cebra.live.rois.RawFrames`), the encoder on its receptive field
(:class:`~napari_cebra.live.encoder_window.EncoderWindow`) and the kNN read-out on the training
embedding (:class:`~napari_cebra.live.knn.LiveKNN`) — and times it. Each result carries its
compute latency and, apart from it, the lag: the frames the model's window reaches into the
future (4 for ``offset10-model``, 0 for ``offset10-model-causal``).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .encoder_window import EncoderWindow
from .knn import LiveKNN


@dataclass(frozen=True)
class LiveResult:
    """One decoded time point.

    ``frame`` is the source's own number of the frame that ``value`` and ``embedding``
    belong to (frames skipped before it are not closed up: it stays the source's number);
    ``arrived`` is the number of time points decoded into the window when it was decoded,
    ``lag_frames`` past the one decoded.
    ``latency_ms`` is the compute time of the push that produced it, from frame to label.
    """

    frame: int
    value: np.ndarray  # (n_labels,) decoded label(s)
    embedding: np.ndarray  # (output_dimension,)
    latency_ms: float
    lag_frames: int
    arrived: int


class LiveDecoder:
    """A trained model, its kNN decoder on the training embedding and, for raw images, a
    front end: ``push(frame)`` returns a :class:`LiveResult`, or ``None`` while the receptive
    field is still filling. A bad frame (another shape, NaN) raises ``ValueError`` and changes
    nothing, so the stream can go on with the next one.

    ``train_embedding`` (n, d) and ``train_labels`` (n,) or (n, m) fit the kNN decoder (the
    model's embedding of its training data and their labels; see :meth:`from_training`);
    ``discrete`` makes it a majority vote instead of a mean. ``frontend`` (e.g.
    :class:`~napari_cebra.live.rois.RawFrames`) turns a raw image into the (neurons,) sample.
    """

    def __init__(self, model, train_embedding: np.ndarray, train_labels: np.ndarray, *,
                 n_neighbors: int = 24, discrete: bool = False, session_id: int = 0,
                 frontend=None, label_names: Sequence[str] | None = None) -> None:
        if not getattr(model, "is_fitted_", False):
            raise ValueError("the model is not trained; train it or load a model file first.")
        if not 0 <= int(session_id) < len(model.encoders_):
            raise ValueError(f"session_id={session_id} is out of range; the model has "
                             f"{len(model.encoders_)} session(s).")
        self.model = model
        self.window = EncoderWindow(model.encoders_[int(session_id)])
        self.knn = LiveKNN(train_embedding, train_labels, n_neighbors=n_neighbors,
                           discrete=discrete)
        if self.knn.dims != self.window.num_output:
            raise ValueError(f"the training embedding has {self.knn.dims} dimensions but the "
                             f"model outputs {self.window.num_output}; embed the training data "
                             "with this model.")
        names = list(label_names) if label_names is not None else (
            ["label"] if self.knn.n_outputs == 1 else
            [f"label_{i}" for i in range(self.knn.n_outputs)])
        if len(names) != self.knn.n_outputs:
            raise ValueError(f"{len(names)} label names for {self.knn.n_outputs} label "
                             "columns.")
        self.label_names = names
        n_rois = getattr(getattr(frontend, "masks", None), "n_rois", None)
        if n_rois is not None and n_rois != self.window.num_neurons:
            raise ValueError(f"the ROI masks give {n_rois} ROIs but the model was trained on "
                             f"{self.window.num_neurons} neurons; use the suite2p folder its "
                             "training traces came from.")
        self.frontend = frontend
        self.frame_shape: tuple[int, ...] = (
            tuple(frontend.frame_shape) if frontend is not None else (self.window.num_neurons,))
        self._next = 0  # time index of the next decoded point
        self._offered = 0  # frames offered to push (refused ones too), for messages
        self._numbers: deque[int] = deque()  # source numbers of accepted frames not yet out
        self._finished = False

    @classmethod
    def from_training(cls, model, neural: np.ndarray, labels: np.ndarray, *,
                      session_id: int | None = None, **kwargs) -> LiveDecoder:
        """Fit the kNN decoder on the model's own embedding of ``neural`` with ``labels``."""
        embedding = model.transform(neural, session_id=session_id)
        return cls(model, embedding, labels, session_id=session_id or 0, **kwargs)

    # -- what the stream needs to know ------------------------------------------------------
    @property
    def lag_frames(self) -> int:
        """Frames the window reaches past the decoded time point (0: causal model)."""
        return self.window.lag

    @property
    def receptive_field(self) -> int:
        return self.window.receptive_field

    @property
    def discrete(self) -> bool:
        return self.knn.discrete

    def reset(self) -> None:
        """Start a new stream (its next frame is time point 0)."""
        self.window.reset()
        self._offered = 0
        self._numbers.clear()
        self._finished = False
        if self.frontend is not None and hasattr(self.frontend, "reset"):
            self.frontend.reset()
        self._next = 0

    # -- per frame --------------------------------------------------------------------------
    def check(self, frame: np.ndarray, index: int | None = None) -> np.ndarray:
        """``frame`` as an array if it can be decoded, else ``ValueError`` saying why."""
        frame = np.asarray(frame)
        index = self._offered if index is None else index
        if frame.shape != self.frame_shape:
            what = "raw frames" if self.frontend is not None else "traces"
            raise ValueError(f"frame {index} has shape {frame.shape}; this "
                             f"decoder takes {what} of shape {self.frame_shape}. It was "
                             "skipped.")
        if frame.dtype.kind not in "biuf":
            raise ValueError(f"frame {index} holds {frame.dtype} values, not "
                             "numbers. It was skipped.")
        if frame.dtype.kind == "f" and not np.isfinite(frame).all():
            raise ValueError(f"frame {index} holds NaN or infinite values. "
                             "It was skipped; the stream goes on.")
        return frame

    def push(self, frame: np.ndarray, index: int | None = None) -> LiveResult | None:
        """Decode one new frame: a raw image with a front end, else (neurons,) traces.

        ``index`` is the source's number of the frame (default: frames offered so far); the
        result of a frame carries it, so skipped frames never renumber the ones after them.
        """
        start = time.perf_counter()
        if self._finished:
            raise RuntimeError("this stream has ended (finish() was called); call reset() to "
                               "decode a new one.")
        number = self._offered if index is None else int(index)
        try:
            frame = self.check(frame, number)
        finally:
            self._offered += 1
        sample = self.frontend(frame) if self.frontend is not None else frame
        embedding = self.window.push(sample)
        self._numbers.append(number)
        if embedding is None:
            return None
        return self._result(embedding, start)

    def finish(self) -> list[LiveResult]:
        """The stream has ended: decode its last ``lag_frames`` time points, padding the end
        as ``transform`` pads a recording's end. Then :meth:`reset` for a new stream."""
        results = []
        self._finished = True
        for embedding in self.window.finish():
            results.append(self._result(embedding, time.perf_counter()))
        return results

    def _result(self, embedding: np.ndarray, start: float) -> LiveResult:
        value = self.knn.predict_one(embedding)
        self._next += 1
        frame = self._numbers.popleft() if self._numbers else self._next - 1
        return LiveResult(frame, value, embedding, 1e3 * (time.perf_counter() - start),
                          self.lag_frames, self.window.samples_in - 1)
