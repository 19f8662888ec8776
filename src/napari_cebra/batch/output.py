"""The results folder of a batch run: empty, or one a batch run made — checked before work.

``batch --out DIR`` writes ``DIR/.napari-cebra-batch`` (a marker) before anything else; a
later run accepts a folder only when it is empty or holds that marker, so a user's folder is
never written into, and ``results.csv`` / ``consistency.csv`` are replaced only where a batch
run wrote them. Writability is tried (a file created and removed) before any work starts.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

MARKER_NAME = ".napari-cebra-batch"


def check_out(out: str | os.PathLike) -> Path:
    """Raise a clear error unless ``out`` is new, empty, or a batch run's folder, and can be
    written now. Nothing is created."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file; give a folder for the results.")
    if out.is_dir():
        entries = sorted(p.name for p in out.iterdir())
        if entries and MARKER_NAME not in entries:
            raise FileExistsError(
                f"--out {out} holds other files ({', '.join(entries[:3])}"
                + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
                + ") and was not made by 'napari-cebra batch' (no "
                f"{MARKER_NAME}); give a new or empty folder, or the folder of an earlier "
                "batch run to resume it.")
    existing = next((p for p in (out, *out.absolute().parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        raise FileNotFoundError(f"--out {out}: its parent folder does not exist; create it "
                                "first.")
    if out != existing and existing != out.absolute().parent:
        raise FileNotFoundError(f"--out {out}: its parent folder {out.absolute().parent} does "
                                "not exist; create it first.")
    _try_writing(existing, out)
    return out


def _try_writing(folder: Path, out: Path) -> None:
    """Create and remove a file in ``folder``: the one sure test that results can go there."""
    try:
        fd, name = tempfile.mkstemp(prefix=".napari-cebra-probe-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as err:
        raise PermissionError(
            f"--out {out}: cannot write there ({err.strerror or err}); choose a folder you "
            "can write to. Nothing was run.") from err


def claim(out: str | os.PathLike, study: str | None = None) -> Path:
    """Check ``out`` (:func:`check_out`), create it and write the marker; return it."""
    out = check_out(out)
    out.mkdir(exist_ok=True)
    marker = out / MARKER_NAME
    if not marker.exists():
        from napari_cebra.files import write_json

        write_json(marker, {"made_by": "napari-cebra batch", "created": time.time(),
                            "study": study}, what="batch marker")
    return out


def forget_stale(out: Path, *names: str) -> None:
    """Remove tables of an earlier run (ours: the folder has the marker) before a new run, so
    a table that this run does not rewrite is never left beside its results."""
    if not (out / MARKER_NAME).exists():
        return
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()

