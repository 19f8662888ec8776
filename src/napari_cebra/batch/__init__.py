"""Many sessions and hyperparameter sweeps on Dask distributed.

A *study* (a CSV, one row per session) is run as Dask tasks, one per session × settings:
:func:`run_study` trains every session with one set of settings, :func:`sweep` tries a grid on
a validation split, refits the best settings per session and tests them. Each task writes its
files atomically under a name derived from its inputs and settings, so a rerun skips what is
done; ``DIR/results.csv`` has one row per task. No Qt, no napari; Dask and torch are imported
only when work starts.
"""

from __future__ import annotations

from .study import Session, StudyError, read_study
from .sweep import expand_grid, run_study, sweep

__all__ = ["Session", "StudyError", "expand_grid", "read_study", "run_study", "sweep"]
