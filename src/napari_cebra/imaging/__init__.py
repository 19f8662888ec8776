"""Calcium imaging in: lazy stacks, suite2p (run and read), traces (dF/F) and labels.

Pure core (no Qt, no napari). suite2p and torch are imported only when a run starts.
"""

from . import nwb as _nwb  # noqa: F401 - registers the .nwb format with open_stack
from .labels import LabelSet, align_labels, load_labels, make_label_set
from .session import (
    BaselineParams,
    ImagingSession,
    drain,
    extract,
    extract_steps,
    load_session,
)
from .stacks import open_stack, validate_stack
from .suite2p_read import Suite2pOutput, is_suite2p_folder, read_suite2p
from .suite2p_run import ExtractParams, block_size_for, run_suite2p_steps
from .traces import baseline, delta_f_over_f

__all__ = [
    "BaselineParams",
    "ExtractParams",
    "ImagingSession",
    "LabelSet",
    "Suite2pOutput",
    "align_labels",
    "baseline",
    "block_size_for",
    "delta_f_over_f",
    "drain",
    "extract",
    "extract_steps",
    "is_suite2p_folder",
    "load_labels",
    "load_session",
    "make_label_set",
    "open_stack",
    "read_suite2p",
    "run_suite2p_steps",
    "validate_stack",
]
