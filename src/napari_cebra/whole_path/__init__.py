"""One recording the whole way: a raw stack → suite2p ROIs → CEBRA → decoded movie frames.

Pure core (no Qt): ``napari-cebra decode --stack`` and the benchmark call it; the napari
widgets run the same steps one button at a time.
"""

from .frame_labels import FrameLabels, read_frame_labels
from .stack_decoding import cell_traces, decode_stack_steps, extraction_summary

__all__ = ["FrameLabels", "cell_traces", "decode_stack_steps", "extraction_summary",
           "read_frame_labels"]
