"""Live decoding: one frame in, the decoded label out, doing only the new work per frame.

Pure core (no Qt). :class:`LiveDecoder` (``push(frame)`` → :class:`LiveResult`) chains
:class:`~napari_cebra.live.rois.RawFrames` (raw image → ROI dF/F), the encoder on its receptive
field (:class:`~napari_cebra.live.encoder_window.EncoderWindow`, the model's own weights) and
the kNN read-out (:class:`~napari_cebra.live.knn.LiveKNN`). Sources (:mod:`.sources`) replay a
recording, follow a growing TIFF file or folder, or take frames from acquisition software;
:func:`~napari_cebra.live.stream.stream_batches` drives a decoder from a source.
"""

from .decoder import LiveDecoder, LiveResult
from .rois import RawFrames, RoiMasks, RunningDff
from .sources import FollowTiff, FrameQueue, Replay, open_source
from .stream import StreamBatch, StreamSummary, live_steps, stream_batches

__all__ = ["FollowTiff", "FrameQueue", "LiveDecoder", "LiveResult", "RawFrames", "Replay",
           "RoiMasks", "RunningDff", "StreamBatch", "StreamSummary", "live_steps",
           "open_source", "stream_batches"]
