"""Helpers for the fault suite: folder snapshots, code-running payloads, small suite2p folders."""

import hashlib
import os
from pathlib import Path

import numpy as np


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder below ``folder``: relative path → sha256 (or "dir"/"link")."""
    state = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            state[os.path.relpath(os.path.join(root, name), folder)] = "dir"
        for name in files:
            path = Path(root, name)
            rel = os.path.relpath(path, folder)
            state[rel] = ("link" if path.is_symlink()
                          else hashlib.sha256(path.read_bytes()).hexdigest())
    return state


class Payload:
    """Pickles as a call to ``Path.touch(marker)``: proof that loading ran code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


class ShellPayload(Payload):
    """Pickles as ``os.system("touch marker")``, the classic attack."""

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def fake_suite2p_plane(folder: Path, n_rois: int = 4, n_frames: int = 200, *, stat_extra=None,
                       ops_extra=None) -> Path:
    """A small plane folder in suite2p's layout (stat/ops pickled as suite2p writes them)."""
    rng = np.random.default_rng(0)
    plane = folder / "suite2p" / "plane0"
    plane.mkdir(parents=True)
    stat = []
    for i in range(n_rois):
        y, x = np.meshgrid(np.arange(3) + 4 * i, np.arange(3), indexing="ij")
        stat.append({"ypix": y.ravel(), "xpix": x.ravel(), "lam": np.ones(9, np.float32),
                     "med": [4 * i + 1, 1], "npix": 9})
    if stat_extra is not None:
        stat[1]["footprint"] = stat_extra
    ops = {"fs": 30.0, "Ly": 32, "Lx": 16, "meanImg": rng.random((32, 16)),
           "save_path": str(plane)}
    if ops_extra is not None:
        ops["extra"] = ops_extra
    np.save(plane / "stat.npy", np.array(stat, dtype=object), allow_pickle=True)
    np.save(plane / "ops.npy", np.array(ops, dtype=object), allow_pickle=True)
    np.save(plane / "F.npy", (rng.random((n_rois, n_frames)) + 1).astype(np.float32))
    np.save(plane / "Fneu.npy", (rng.random((n_rois, n_frames)) * 0.5).astype(np.float32))
    np.save(plane / "spks.npy", rng.random((n_rois, n_frames)).astype(np.float32))
    np.save(plane / "iscell.npy", np.ones((n_rois, 2)))
    return plane
