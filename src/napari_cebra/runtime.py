"""Process-wide settings napari-cebra makes when it runs inside napari — all of them here.

:func:`prepare_for_gui` applies both settings below, once per process (later calls do
nothing). Who calls it, and when:

- the Train CEBRA widget, when it is created (it loads torch to list models and devices);
- :class:`napari_cebra.gui.jobs.JobRunner`, before any widget's first job starts;
- :func:`hide_triton` alone — it must come before torch is imported — whenever a widget that
  runs jobs is created, and in ``napari-cebra demo`` before napari opens its window.

The two settings, each with a way out:

- **Hides the ``triton`` package from torch** (``sys.modules["triton"] = None``). torch's
  optimisers import ``torch._dynamo``, which imports triton when it is installed; triton's
  bundled LLVM clashes with the LLVM that Mesa's OpenGL drivers (llvmpipe under Xvfb,
  radeonsi) have already loaded for napari's canvas, and the process segfaults. napari-cebra
  never uses ``torch.compile``. Nothing changes when triton is already imported.
  Opt out: ``NAPARI_CEBRA_ALLOW_TRITON=1``.
- **Leaves one CPU core to the user interface**: torch trains on ``cores − 1`` threads, so the
  event loop is never starved. Opt out or choose: ``NAPARI_CEBRA_TORCH_THREADS=N``
  (``0`` leaves torch's own choice).

Scripts and the command line never call this: they keep torch's defaults.
"""

from __future__ import annotations

import os
import sys

ALLOW_TRITON = "NAPARI_CEBRA_ALLOW_TRITON"
TORCH_THREADS = "NAPARI_CEBRA_TORCH_THREADS"

_prepared = False


def hide_triton() -> bool:
    """Make ``import triton`` fail in this process (see the module notes); True if hidden."""
    if os.environ.get(ALLOW_TRITON, "") not in ("", "0") or "triton" in sys.modules:
        return False
    sys.modules["triton"] = None  # makes ``import triton`` raise ImportError
    return True


def torch_threads_for_gui() -> int | None:
    """The torch thread count for a napari process: env override, else cores − 1 (≥ 1);
    ``None`` leaves torch's default."""
    value = os.environ.get(TORCH_THREADS, "").strip()
    if value:
        try:
            threads = int(value)
        except ValueError:
            raise ValueError(f"{TORCH_THREADS}={value!r} must be a whole number of threads "
                             "(0 = torch's own choice).") from None
        return threads if threads > 0 else None
    cores = os.cpu_count() or 1
    return cores - 1 if cores > 1 else None


def prepare_for_gui() -> None:
    """Apply both settings once per process (later calls do nothing)."""
    global _prepared
    if _prepared:
        return
    hide_triton()
    threads = torch_threads_for_gui()
    if threads is not None:
        import torch

        if torch.get_num_threads() > threads:
            torch.set_num_threads(threads)
    _prepared = True
