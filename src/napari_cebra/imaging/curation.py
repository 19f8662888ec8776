"""Curate a suite2p plane's ROIs and write the result back in suite2p's own format.

``Curation.open(plane_dir)`` reads the plane through the safe readers. Every step — mark cells
(:meth:`~Curation.set_cell`), :meth:`~Curation.remove`, :meth:`~Curation.merge`, draw a ROI
(:meth:`~Curation.add`), :meth:`~Curation.filter` on thresholds — can be undone and redone.
New ROIs get F, Fneu and spks from the registered movie through suite2p's own extraction and
deconvolution (:mod:`.roi_traces`). :meth:`~Curation.save` writes ``iscell.npy`` ((N, 2): flag,
untouched classifier probability) and, when ROIs were added, merged or removed, ``stat.npy``,
``F.npy``, ``Fneu.npy``, ``spks.npy`` (and ``redcell.npy``) with the same rows, so suite2p's GUI
and any script see the same cells. The first save keeps each original beside it
(``iscell.orig.npy`` …, never overwritten), a save writes all files or none, and a folder
changed on disk since it was opened is refused. :meth:`~Curation.discard` restores the
originals.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .roi_stats import passing, relative_size, roi_statistics
from .safe_npy import load_npy
from .stacks import PathLike
from .suite2p_read import find_plane_dir, read_suite2p

ROI_FILES = ("stat.npy", "F.npy", "Fneu.npy", "spks.npy", "iscell.npy", "redcell.npy")
"""The per-ROI files of a plane that a curation may rewrite."""
TRACE_SETS = ("F", "Fneu", "spks")
BACKUP = ".orig"
"""Backups are suite2p's names with this suffix before ``.npy``: ``iscell.orig.npy``."""


class FolderChangedError(RuntimeError):
    """The plane folder changed on disk since the curation read it; nothing was written."""


def backup_path(path: Path) -> Path:
    """Where the original of a suite2p file is kept: ``iscell.npy`` → ``iscell.orig.npy``."""
    return path.with_name(f"{path.stem}{BACKUP}{path.suffix}")


def curation_hash(stat, iscell: np.ndarray) -> str:
    """A short fingerprint of a plane's ROIs and cell flags: equal iff the same pixels are
    the same ROIs, in the same order, with the same cell flags."""
    h = hashlib.sha256()
    iscell = np.asarray(iscell, float).reshape(len(stat), -1)
    for s, row in zip(stat, iscell, strict=True):
        h.update(b"1" if row[0] > 0.5 else b"0")
        for key in ("ypix", "xpix"):
            h.update(np.ascontiguousarray(s[key], np.int64).tobytes())
            h.update(b"|")
    return h.hexdigest()[:16]


def _fingerprint(path: Path) -> tuple | None:
    if not path.exists():
        return None
    st = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return st.st_size, st.st_mtime_ns, digest.hexdigest()


@dataclass(frozen=True)
class _State:
    rows: np.ndarray  # int: row of the pool each current ROI is
    flags: np.ndarray  # bool: is a cell
    prob: np.ndarray  # float: classifier probability (untouched)


class Curation:
    """An editable, undoable selection of a suite2p plane's ROIs (see the module docstring).

    ROI indices are positions in the current list (0-based, as in suite2p's files)."""

    def __init__(self, plane_dir: Path) -> None:
        self.plane_dir = Path(plane_dir)
        self._load()

    @classmethod
    def open(cls, folder: PathLike, plane: int = 0) -> Curation:
        """Open the plane folder (a suite2p output folder, its ``plane{N}`` or ``suite2p/``)."""
        return cls(find_plane_dir(folder, plane))

    # --- reading -------------------------------------------------------------------------
    def _load(self) -> None:
        out = read_suite2p(self.plane_dir)
        self.ops, self.shape, self.fs = out.ops, out.shape, out.fs
        self._output = out
        n = out.n_rois
        self._stat: list[dict] = list(out.stat)
        self._traces = {"F": [out.F], "Fneu": [out.Fneu], "spks": [out.spks]}
        redcell_path = self.plane_dir / "redcell.npy"
        self._redcell = (np.asarray(load_npy(redcell_path), float).reshape(n, -1)
                         if redcell_path.exists() else None)
        self._two_channel = (self.plane_dir / "F_chan2.npy").exists()
        state = _State(np.arange(n), out.iscell[:, 0] > 0.5, out.iscell[:, 1].astype(float))
        self._state = self._saved = state
        self._undo: list[_State] = []
        self._redo: list[_State] = []
        self._stat_cache: dict[int, dict] = {}
        self._prints = {name: _fingerprint(self.plane_dir / name) for name in ROI_FILES}

    # --- the current set -----------------------------------------------------------------
    @property
    def n_rois(self) -> int:
        return len(self._state.rows)

    @property
    def stat(self) -> list[dict]:
        return [self._stat[r] for r in self._state.rows]

    @property
    def iscell(self) -> np.ndarray:
        """(N, 2) as suite2p stores it: cell flag (0/1), classifier probability."""
        return np.stack([self._state.flags.astype(float), self._state.prob], axis=1) \
            if self.n_rois else np.zeros((0, 2))

    @property
    def cells(self) -> np.ndarray:
        """Indices of the ROIs marked as cells."""
        return np.flatnonzero(self._state.flags)

    @property
    def hash(self) -> str:
        return curation_hash(self.stat, self.iscell)

    @property
    def changed(self) -> bool:
        """Whether the current set differs from what is in the folder."""
        return not _same(self._state, self._saved)

    def traces(self, name: str = "F") -> np.ndarray | None:
        """(N, T) float32 trace set ``F``, ``Fneu`` or ``spks`` of the current ROIs."""
        parts = self._traces[name]
        if parts[0] is None:
            return None
        return np.concatenate(parts, axis=0)[self._state.rows]

    def label_image(self) -> np.ndarray:
        """int32 image, ROI i painted i + 1."""
        from .suite2p_read import roi_label_image

        return roi_label_image(self.stat, self.shape)

    def statistics(self):
        """Per-ROI statistics (pandas DataFrame, index = ROI): ``cell``, ``probability``,
        ``npix``, ``size``, ``skew``, ``compact``, ``aspect_ratio``, ``snr``, ``mean_dff``."""
        import pandas as pd

        rows = self._state.rows
        missing = [int(r) for r in np.unique(rows) if int(r) not in self._stat_cache]
        if missing:
            F = np.concatenate(self._traces["F"], axis=0)[missing]
            Fneu = self._traces["Fneu"]
            Fneu = None if Fneu[0] is None else np.concatenate(Fneu, axis=0)[missing]
            table = roi_statistics([self._stat[r] for r in missing], np.zeros((len(missing), 2)),
                                   F, Fneu, fs=self.fs, neuropil_coefficient=self._coefficient)
            for r, (_, row) in zip(missing, table.iterrows(), strict=True):
                self._stat_cache[r] = row.to_dict()
        table = pd.DataFrame([self._stat_cache[int(r)] for r in rows],
                             index=pd.RangeIndex(len(rows), name="roi"))
        if not len(rows):
            table = roi_statistics([], np.zeros((0, 2)), np.zeros((0, 1)), None, fs=self.fs)
        table["cell"] = self._state.flags
        table["probability"] = self._state.prob
        table["size"] = relative_size(table["npix"].to_numpy(), self._state.flags)
        return table

    @property
    def _coefficient(self) -> float:
        ex = self.ops.get("extraction")
        value = ex.get("neuropil_coefficient") if isinstance(ex, dict) else None
        return float(value if value is not None else self.ops.get("neucoeff", 0.7))

    # --- editing -------------------------------------------------------------------------
    def _indices(self, rois) -> np.ndarray:
        idx = np.unique(np.atleast_1d(np.asarray(rois, dtype=int)))
        bad = idx[(idx < 0) | (idx >= self.n_rois)]
        if bad.size:
            raise IndexError(f"ROI {int(bad[0])} does not exist; this plane has {self.n_rois} "
                             f"ROIs (0–{self.n_rois - 1}).")
        return idx

    def _push(self, state: _State) -> None:
        self._undo.append(self._state)
        self._redo.clear()
        self._state = state

    def set_cell(self, rois, flag: bool = True) -> None:
        """Mark ``rois`` (an index or indices) as cells (``flag``) or not cells."""
        idx = self._indices(rois)
        flags = self._state.flags.copy()
        flags[idx] = bool(flag)
        self._push(_State(self._state.rows, flags, self._state.prob))

    def remove(self, rois) -> None:
        """Delete ``rois`` from the plane (their rows leave every file on save)."""
        keep = np.setdiff1d(np.arange(self.n_rois), self._indices(rois))
        s = self._state
        self._push(_State(s.rows[keep], s.flags[keep], s.prob[keep]))

    def filter(self, **thresholds) -> int:
        """Unmark the cells outside the thresholds (see :func:`.roi_stats.passing`, e.g.
        ``filter(probability=0.5, soma=True)``); returns how many cells are left."""
        keep = passing(self.statistics(), **thresholds)
        flags = self._state.flags & keep
        self._push(_State(self._state.rows, flags, self._state.prob))
        return int(flags.sum())

    def merge(self, rois) -> int:
        """Join two or more ROIs into one (pixels united, traces re-extracted from the movie);
        the parts stay, marked not cells, as suite2p's GUI leaves them. Returns the new index."""
        idx = self._indices(rois)
        if idx.size < 2:
            raise ValueError("merge: choose at least two ROIs.")
        parts = [self.stat[i] for i in idx]
        y = np.concatenate([p["ypix"] for p in parts])
        x = np.concatenate([p["xpix"] for p in parts])
        lam = np.concatenate([np.asarray(p.get("lam", np.ones(len(p["ypix"]))), float)
                              for p in parts])  # suite2p's merge joins the weights as they are
        _, first = np.unique(np.stack([y, x], 1), axis=0, return_index=True)
        others = [s for i, s in enumerate(self.stat) if i not in set(idx.tolist())]
        stat = self._extract([(y[first], x[first], lam[first])], others)[0]
        stat["imerge"] = [int(i) for i in idx]
        flags = self._state.flags.copy()
        flags[idx] = False
        prob = float(np.mean(self._state.prob[idx]))
        self._append([stat], flags, [prob])
        return self.n_rois - 1

    def add(self, mask: np.ndarray) -> list[int]:
        """Add drawn ROIs: a 2-D boolean mask (one ROI) or a label image (one ROI per label).
        Their traces are extracted from the registered movie; they are marked cells. Returns
        their indices."""
        mask = np.asarray(mask)
        if mask.shape != tuple(self.shape):
            raise ValueError(f"the drawn mask is {mask.shape} but the plane is {self.shape}; "
                             "paint on the plane's own grid.")
        values = [True] if mask.dtype == bool else [v for v in np.unique(mask) if v > 0]
        pixels = []
        for v in values:
            y, x = np.nonzero(mask == v)
            if y.size:
                pixels.append((y, x, np.ones(y.size, np.float32)))
        if not pixels:
            raise ValueError("the drawn mask is empty; paint the ROI's pixels first.")
        stats = self._extract(pixels, self.stat)
        for s in stats:
            s["manual"] = 1
        self._append(stats, self._state.flags, [1.0] * len(stats))
        return list(range(self.n_rois - len(stats), self.n_rois))

    def _extract(self, pixels, others: list[dict]) -> list[dict]:
        from .roi_traces import extract_new_rois, new_roi_stat, suite2p_settings

        if self._two_channel:
            raise ValueError(f"{self.plane_dir} has a second channel (F_chan2.npy); drawing "
                             "and merging ROIs there is not supported — mark cells instead.")
        movie = self._output.registered
        if movie is None:
            raise FileNotFoundError(
                f"{self.plane_dir / 'data.bin'}: the registered movie is missing, so new ROIs "
                "have no traces. Re-run suite2p keeping the binary (keep_movie_raw / "
                "delete_bin off), then draw again.")
        settings = suite2p_settings(self.ops)
        stats = [new_roi_stat(y, x, lam, self.shape, settings, others) for y, x, lam in pixels]
        traces = extract_new_rois(stats, others, movie, self.ops)
        for name in TRACE_SETS:
            if self._traces[name][0] is not None:
                self._traces[name].append(traces[name])
        return stats

    def _append(self, stats: list[dict], flags: np.ndarray, prob: Iterable[float]) -> None:
        start = len(self._stat)
        self._stat.extend(stats)
        s = self._state
        rows = np.concatenate([s.rows, np.arange(start, start + len(stats))])
        self._push(_State(rows, np.concatenate([flags, np.ones(len(stats), bool)]),
                          np.concatenate([s.prob, np.asarray(list(prob), float)])))

    def undo(self) -> bool:
        """Step back; False when there is nothing to undo."""
        if not self._undo:
            return False
        self._redo.append(self._state)
        self._state = self._undo.pop()
        return True

    def redo(self) -> bool:
        """Step forward again; False when there is nothing to redo."""
        if not self._redo:
            return False
        self._undo.append(self._state)
        self._state = self._redo.pop()
        return True

    # --- writing -------------------------------------------------------------------------
    def _check_unchanged(self) -> None:
        for name, before in self._prints.items():
            if _fingerprint(self.plane_dir / name) != before:
                raise FolderChangedError(
                    f"{self.plane_dir / name} changed on disk since the curation was opened "
                    "(suite2p or another program wrote it); nothing was saved. Reopen the "
                    "folder to curate its new contents.")

    def _arrays(self) -> dict[str, np.ndarray]:
        """What the plane's files must hold for the current set."""
        rows = self._state.rows
        out = {"iscell.npy": self.iscell}
        if not np.array_equal(rows, self._saved.rows):
            stat = np.empty(len(rows), dtype=object)
            stat[:] = self.stat
            out["stat.npy"] = stat
            for name in TRACE_SETS:
                if self._traces[name][0] is not None:
                    out[f"{name}.npy"] = self.traces(name)
            if self._redcell is not None:
                n0 = len(self._redcell)
                red = np.zeros((len(self._stat), self._redcell.shape[1]))
                red[:n0] = self._redcell
                out["redcell.npy"] = red[rows]
        return out

    def _check_backups(self) -> None:
        """Backups belong to this suite2p run: ``ops.orig.npy`` (a copy of the run's
        ``ops.npy``, which a curation never changes) must still match ``ops.npy``."""
        ops, kept = self.plane_dir / "ops.npy", backup_path(self.plane_dir / "ops.npy")
        if kept.exists() and ops.exists() and _fingerprint(ops)[::2] != _fingerprint(kept)[::2]:
            raise FolderChangedError(
                f"{self.plane_dir}: the *{BACKUP}.npy backups are from an earlier suite2p run "
                f"(ops.npy differs from {kept.name}); nothing was written. Move the "
                f"*{BACKUP}.npy files out of the folder, then save again.")

    def save(self) -> None:
        """Write the curation into the plane folder (see the module docstring)."""
        self._check_unchanged()
        self._check_backups()
        arrays = self._arrays()
        for name in [*arrays, "ops.npy"]:  # originals first, kept once, never overwritten
            path = self.plane_dir / name
            if path.exists() and not backup_path(path).exists():
                _copy_whole(path, backup_path(path))
        _replace_all(self.plane_dir, {n: _npy_writer(a) for n, a in arrays.items()})
        self._saved = self._state
        self._prints = {name: _fingerprint(self.plane_dir / name) for name in ROI_FILES}

    def discard(self) -> None:
        """Throw the curation away: restore the original files (from their backups) and
        reopen them; the undo history is cleared."""
        self._check_unchanged()
        self._check_backups()
        backups = {name: backup_path(self.plane_dir / name) for name in ROI_FILES}
        backups = {n: b for n, b in backups.items() if b.exists()}
        if backups:
            _replace_all(self.plane_dir, {n: _copy_writer(b) for n, b in backups.items()})
        self._load()


def _same(a: _State, b: _State) -> bool:
    return (np.array_equal(a.rows, b.rows) and np.array_equal(a.flags, b.flags)
            and np.array_equal(a.prob, b.prob))


def _npy_writer(array: np.ndarray):
    def write(path: Path) -> None:
        with open(path, "wb") as fh:
            # stat.npy is an object array of dicts, as suite2p writes it; our reads stay safe
            np.save(fh, array, allow_pickle=array.dtype.hasobject)
    return write


def _copy_writer(source: Path):
    def write(path: Path) -> None:
        shutil.copyfile(source, path)
    return write


def _copy_whole(source: Path, target: Path) -> None:
    from napari_cebra.files import atomic_path

    with atomic_path(target, overwrite=False, what="backup") as tmp:
        shutil.copyfile(source, tmp)


def _replace_all(folder: Path, writers: dict) -> None:
    """Write every file of ``writers`` (name → function writing a path) to a temporary file,
    then move them all into place; if any step fails, every file is as it was before."""
    temps: dict[str, Path] = {}
    saved: dict[str, Path | None] = {}
    done: list[str] = []
    try:
        for name, write in writers.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=folder)
            os.close(fd)
            temps[name] = Path(tmp)
            write(temps[name])
            with open(temps[name], "rb+") as fh:
                os.fsync(fh.fileno())
        for name in writers:  # hard links keep the current files for a roll-back
            target = folder / name
            if target.exists():
                fd, prev = tempfile.mkstemp(prefix=f".{name}.", suffix=".prev", dir=folder)
                os.close(fd)
                os.unlink(prev)
                try:
                    os.link(target, prev)
                except OSError:
                    shutil.copy2(target, prev)
                saved[name] = Path(prev)
            else:
                saved[name] = None
        for name in writers:
            os.replace(temps[name], folder / name)
            done.append(name)
    except BaseException:
        for name in reversed(done):
            with contextlib.suppress(OSError):
                if saved[name] is not None:
                    os.replace(saved[name], folder / name)
                else:
                    os.unlink(folder / name)
        raise
    finally:
        for path in [*temps.values(), *(p for p in saved.values() if p is not None)]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        with contextlib.suppress(OSError):
            fd = os.open(folder, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)


def saved_cells(folder: PathLike, plane: int = 0) -> dict:
    """Which ROIs of a plane folder are cells as saved — ``suite2p_dir``, ``roi_indices``,
    ``curation_hash`` — read from ``stat.npy`` and ``iscell.npy`` only (for reports)."""
    plane_dir = find_plane_dir(folder, plane)
    stat = load_npy(plane_dir / "stat.npy", allow_objects=True)
    iscell = np.asarray(load_npy(plane_dir / "iscell.npy"), float).reshape(len(stat), -1)
    return {"suite2p_dir": str(plane_dir),
            "roi_indices": [int(i) for i in np.flatnonzero(iscell[:, 0] > 0.5)],
            "curation_hash": curation_hash(stat, iscell[:, [0, -1]])}
