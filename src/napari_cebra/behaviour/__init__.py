"""Behaviour in: pose-tracking files, two clocks made one, the camera video, derived labels.

Qt-free. Pose files are read by ``movement`` (DeepLabCut, SLEAP, Lightning Pose, NWB
ndx-pose), videos by PyAV, lazily. The entry point for training and hypothesis tests is
:func:`behaviour_labels`: derived variables on the imaging frames, with a mask of the frames
without behaviour and a report of the alignment.
"""

from .clocks import Alignment, AlignmentReport, align_clocks, read_timestamps, resample
from .derived import DEFAULT_VARIABLES, derive
from .labels import BehaviourLabels, behaviour_labels, camera_table
from .pose import MAX_GAP, PCUTOFF, Pose, clean_pose, is_pose_file, load_pose, sniff_software
from .settings import BehaviourSettings, behaviour_steps

__all__ = [
    "DEFAULT_VARIABLES",
    "MAX_GAP",
    "PCUTOFF",
    "Alignment",
    "AlignmentReport",
    "BehaviourLabels",
    "BehaviourSettings",
    "Pose",
    "align_clocks",
    "behaviour_labels",
    "behaviour_steps",
    "camera_table",
    "clean_pose",
    "derive",
    "is_pose_file",
    "load_pose",
    "read_timestamps",
    "resample",
    "sniff_software",
]
