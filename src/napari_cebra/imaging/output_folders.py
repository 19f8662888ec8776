"""Where an extraction writes: checked before it starts, staged while it runs, published whole.

A run writes into a hidden staging folder inside the output folder (``.suite2p.partial-…``)
and :class:`OutputFolder` moves it to ``<out>/suite2p`` only once it finished. Replacing
earlier results sets them aside only then and deletes them only after the new ones are in
place; a ``<out>/suite2p`` holding files suite2p does not write is never replaced. A failed or
cancelled run removes exactly what it created.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

import numpy as np

from .stacks import PathLike

log = logging.getLogger(__name__)


def has_suite2p_output(folder: PathLike) -> bool:
    """True when ``folder`` holds suite2p results (directly, in plane*/ or in suite2p/)."""
    folder = Path(folder)
    candidates = [folder, folder / "suite2p"]
    for c in candidates:
        if (c / "stat.npy").exists() or any(c.glob("plane*/stat.npy")) or any(
            c.glob("plane*/data.bin")
        ):
            return True
    return False


def fresh_output_dir(base: PathLike, stem: str = "session") -> Path:
    """A new folder ``<base>/<stem>_suite2p`` (``_2``, ``_3`` … if taken); not created."""
    base = Path(base)
    candidate = base / f"{stem}_suite2p"
    n = 2
    while candidate.exists():
        candidate = base / f"{stem}_suite2p_{n}"
        n += 1
    return candidate


def default_output_dir(source) -> Path:
    """A fresh folder next to the source file when that folder is writable, else (and for
    in-memory stacks) in the temp folder. Nothing is created here."""
    import tempfile

    if isinstance(source, (list, tuple)) and source:
        source = source[0]
    if isinstance(source, (str, os.PathLike)):
        src = Path(source)
        stem = src.stem or "session"
        if os.access(src.parent, os.W_OK):
            return fresh_output_dir(src.parent, stem)
        return fresh_output_dir(tempfile.gettempdir(), stem)
    return fresh_output_dir(tempfile.gettempdir(), "napari-cebra")


# What suite2p (run_s2p, its GUI) and this plugin write inside ``<out>/suite2p``. Replacing
# results deletes an old ``<out>/suite2p`` only when it holds nothing else: a file of the
# user's there (notes, curated copies) makes the replace refuse instead of deleting it.
SUITE2P_FILES = frozenset({
    "stat.npy", "stat_orig.npy", "F.npy", "Fneu.npy", "spks.npy", "iscell.npy", "redcell.npy",
    "F_chan2.npy", "Fneu_chan2.npy", "ops.npy", "ops1.npy", "db.npy", "settings.npy",
    "reg_outputs.npy", "detect_outputs.npy", "zcorr.npy", "bad_frames.npy", "timings.npy",
    "embedding.npy", "data.bin", "data_raw.bin", "data_chan2.bin", "data_raw_chan2.bin",
    "data_chan2_raw.bin", "Fall.mat", "run.log", "traces.npz",
})
SUITE2P_FOLDERS = re.compile(r"plane\d+|combined|reg_tif|reg_tif_chan2")


def foreign_files(results: PathLike) -> list[Path]:
    """Files and folders under a suite2p results folder that suite2p did not write."""
    foreign = []
    for root, dirs, files in os.walk(results):
        in_tif_folder = Path(root).name.startswith("reg_tif")
        for name in sorted(dirs):
            if not SUITE2P_FOLDERS.fullmatch(name) or os.path.islink(os.path.join(root, name)):
                foreign.append(Path(root, name))
                dirs.remove(name)
        foreign += [Path(root, name) for name in sorted(files) if not (
            name in SUITE2P_FILES or (in_tif_folder and name.lower().endswith((".tif", ".tiff"))))]
    return foreign


STAGING_PREFIXES = (".suite2p.partial-", ".suite2p.replaced-")
MARKER_NAME = ".napari-cebra-run.json"  # inside a staging folder: which run made it


def _process_started(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), ``None`` if none runs."""
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, ValueError):
        return None


def write_marker(folder: Path) -> None:
    """Mark ``folder`` as this run's: host, process id and when the process started."""
    import json
    import socket

    record = {"host": socket.gethostname(), "pid": os.getpid(),
              "process_started": _process_started(os.getpid())}
    (folder / MARKER_NAME).write_text(json.dumps(record), encoding="utf-8")


def is_stale(folder: Path) -> bool:
    """True only for a staging folder provably left by a run of ours that has ended: its
    marker names this host and a process that no longer runs (or a newer one with its id)."""
    import json
    import socket

    try:
        record = json.loads((folder / MARKER_NAME).read_text(encoding="utf-8"))
        host, pid, started = record["host"], int(record["pid"]), record["process_started"]
    except (OSError, ValueError, KeyError, TypeError):
        return False  # no marker of ours (or a damaged one): not provably ours, kept
    if host != socket.gethostname():
        return False  # another machine's run (a shared disk): cannot tell, kept
    now = _process_started(pid)
    return now is None or (started is not None and abs(now - float(started)) > 1.0)


def clean_stale_staging(out: PathLike) -> list[Path]:
    """Remove the staging folders in ``out`` that earlier runs of ours left (killed before
    they could clean up); return them. Folders without our marker are never touched."""
    out = Path(out)
    removed = []
    if not out.is_dir():
        return removed
    for entry in sorted(out.iterdir()):
        if (entry.name.startswith(STAGING_PREFIXES) and entry.is_dir()
                and not entry.is_symlink() and is_stale(entry)):
            shutil.rmtree(entry, ignore_errors=True)
            if not entry.exists():
                log.info("removed %s, left by an earlier run that did not finish", entry)
                removed.append(entry)
    return removed


class OutputFolder:
    """Where one extraction writes: a hidden staging folder inside ``out``, published as
    ``<out>/suite2p`` only once the run is complete.

    ``prepare()`` checks and creates; ``publish()`` moves the new results into place (an
    existing ``<out>/suite2p`` is swapped out only then, and removed only after the swap;
    one holding files suite2p did not write is never replaced, see :func:`foreign_files`);
    ``discard()`` removes exactly what this run created — the staging folder and any folders
    made for ``out`` — so a failed or cancelled run leaves every earlier file as it was.
    """

    def __init__(self, out: PathLike, overwrite: bool = False) -> None:
        self.out = Path(out)
        self.overwrite = overwrite
        self.stage: Path | None = None
        self.created: list[Path] = []  # folders made for ``out``, outermost first

    @property
    def final_plane(self) -> Path:
        return self.out / "suite2p" / "plane0"

    @property
    def plane(self) -> Path:
        """The plane folder suite2p writes into during the run."""
        if self.stage is None:
            raise RuntimeError("prepare() the output folder first")
        return self.stage / "suite2p" / "plane0"

    def check(self) -> None:
        """Refuse unusable or occupied folders before anything is created."""
        out = self.out
        if out.exists() and not out.is_dir():
            raise FileExistsError(f"{out}: exists and is not a folder; choose a folder for output")
        results = out / "suite2p"
        if os.path.lexists(results) and (results.is_symlink() or not results.is_dir()):
            raise FileExistsError(
                f"{results}: exists and is not a suite2p results folder (a file or a link); "
                "move it, or choose a new output folder"
            )
        occupied = has_suite2p_output(out) or results.exists()
        if occupied and not self.overwrite:
            raise FileExistsError(
                f"{out}: already holds suite2p results; choose a new output folder, open it "
                "with the reader instead, or replace them (overwrite=True, --overwrite, or "
                "tick replace; the old results go only once the new run has finished)"
            )
        if self.overwrite and results.exists():
            foreign = foreign_files(results)
            if foreign:
                raise FileExistsError(
                    f"{results}: holds {foreign[0].relative_to(results)}"
                    + (f" and {len(foreign) - 1} more file(s)" if len(foreign) > 1 else "")
                    + ", which suite2p did not write; replacing the results would delete "
                    "it. Move it out of that folder, or choose a new output folder."
                )

    def check_space(self, nbytes: int, source) -> None:
        """Refuse, before anything is written, a run whose files cannot fit on the disk."""
        from napari_cebra.limits import check_disk

        check_disk(int(nbytes), self.out, source, "suite2p's copy of the movie (int16)",
                   hint="free space there, choose an output folder on a larger disk, or "
                   "check the frame count and size the file declares")

    def prepare(self) -> Path:
        """Check, create ``out`` if needed and a fresh staging folder; return its plane folder."""
        import tempfile

        self.check()
        missing = [p for p in (self.out, *self.out.parents) if not p.exists()]
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            self.created = missing[::-1]
            clean_stale_staging(self.out)
            self.stage = Path(tempfile.mkdtemp(prefix=".suite2p.partial-", dir=self.out))
            write_marker(self.stage)
            self.plane.mkdir(parents=True)
            log.info("suite2p run staged in %s", self.stage)
        except OSError as err:
            self.discard()
            raise PermissionError(
                f"{self.out}: output folder is not writable ({err.strerror or err}); choose "
                "another output folder"
            ) from err
        return self.plane

    def publish(self) -> Path:
        """Move the finished run to ``<out>/suite2p``; return the final plane folder."""
        import tempfile

        assert self.stage is not None
        _retarget_paths(self.plane, self.stage, self.out)
        target = self.out / "suite2p"
        old: Path | None = None
        if target.exists():
            self.check()  # the folder may have gained results during the run
            old = Path(tempfile.mkdtemp(prefix=".suite2p.replaced-", dir=self.out))
            try:
                write_marker(old)
                target.rename(old / "suite2p")
            except BaseException:
                shutil.rmtree(old, ignore_errors=True)
                raise
        try:
            (self.stage / "suite2p").rename(target)
        except BaseException:  # Ctrl-C included: the old results go back where they were
            if old is not None:
                (old / "suite2p").rename(target)
                shutil.rmtree(old, ignore_errors=True)
            raise
        shutil.rmtree(self.stage, ignore_errors=True)  # ours: whatever else suite2p left there
        self.stage, self.created = None, []
        log.info("suite2p results published in %s%s", target,
                 " (earlier results replaced)" if old is not None else "")
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final_plane

    def discard(self) -> None:
        """Remove the staging folder and the folders made for ``out`` (if still empty)."""
        if self.stage is not None:
            log.info("suite2p run did not finish; removing its staging folder %s", self.stage)
            shutil.rmtree(self.stage, ignore_errors=True)
            self.stage = None
        for folder in reversed(self.created):  # innermost first; never a non-empty one
            try:
                folder.rmdir()
            except OSError:
                break
        self.created = []


def _retarget_paths(plane: Path, old_root: Path, new_root: Path) -> None:
    """Point the paths suite2p recorded in ops/db (under the staging folder) to the final one."""
    from .safe_npy import load_npy

    old, new = str(old_root), str(new_root)

    def fix(value):
        if isinstance(value, str) and value.startswith(old):
            return new + value[len(old):]
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    for name in ("ops.npy", "db.npy"):
        path = plane / name
        if not path.exists():
            continue
        data = load_npy(path, allow_objects=True).item()
        if isinstance(data, dict):
            tmp = path.with_name(f".{path.stem}.partial.npy")  # np.save keeps .npy names
            np.save(tmp, np.array({k: fix(v) for k, v in data.items()}, dtype=object))
            os.replace(tmp, path)


def prepare_output_dir(out_dir: PathLike, overwrite: bool = False) -> Path:
    """Check ``out_dir`` is usable (writable; free of suite2p results unless ``overwrite``)
    without creating anything in it; return the plane folder results will land in."""
    folder = OutputFolder(out_dir, overwrite)
    folder.check()
    probe_from = next((p for p in (folder.out, *folder.out.parents) if p.exists()), Path("."))
    if not probe_from.is_dir() or not os.access(probe_from, os.W_OK | os.X_OK):
        raise PermissionError(
            f"{folder.out}: output folder is not writable ({probe_from} does not accept new "
            "files); choose another output folder"
        )
    return folder.final_plane
