"""Run the real suite2p pipeline on a stack, as a generator of progress events.

The stack (a lazy array or a file) is written batch by batch into suite2p's binary format in a
fresh ``<out>/suite2p/plane0`` folder, then ``suite2p.run_plane`` does registration, detection,
extraction, deconvolution and classification. suite2p runs in a helper thread so this generator
can report its log messages as progress while it works; closing the generator cancels the run
at suite2p's next log message. Each run writes into a hidden staging folder inside the output
folder and is moved to ``<out>/suite2p`` only when complete, so a failed, cancelled or
replacing run never costs earlier results (see :mod:`.output_folders`).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_cebra.progress import Progress
from napari_cebra.quiet import import_quietly, quietly

from .output_folders import OutputFolder, default_output_dir
from .stacks import PathLike, iter_frames, open_stack, validate_stack

log = logging.getLogger(__name__)

REGISTRATION_MODES = ("none", "rigid", "nonrigid")
DETECTION_ALGORITHMS = ("sparsery", "sourcery", "cellpose")
# suite2p's log lines that open a stage, and the fraction of the run done when they appear
_STAGES = {
    "REGISTRATION": ("registration", 0.15),
    "ROI DETECTION": ("detection", 0.45),
    "EXTRACTION": ("extraction", 0.75),
    "SPIKE DECONVOLUTION": ("deconvolution", 0.85),
    "ROI CLASSIFICATION": ("classification", 0.95),
}


@dataclass
class ExtractParams:
    """What the user chooses; everything else comes from suite2p's defaults."""

    fs: float
    tau: float = 1.0
    diameter: float = 12.0
    registration: str = "rigid"
    detection: str = "sparsery"
    cellpose_model: str | None = None  # a local weights file; only used with "cellpose"
    neuropil_coefficient: float = 0.7
    torch_device: str = "auto"
    overrides: dict = field(default_factory=dict)  # nested suite2p settings, merged last

    def validate(self) -> None:
        if not np.isfinite(self.fs) or self.fs <= 0:
            raise ValueError(f"fs: frame rate must be a positive number of Hz, got {self.fs}")
        if not np.isfinite(self.tau) or self.tau <= 0:
            raise ValueError(f"tau: indicator decay time must be > 0 s, got {self.tau}")
        if not np.isfinite(self.diameter) or self.diameter < 2:
            raise ValueError(f"diameter: cell diameter must be ≥ 2 px, got {self.diameter}")
        if self.registration not in REGISTRATION_MODES:
            raise ValueError(
                f"registration: choose one of {REGISTRATION_MODES}, got {self.registration!r}"
            )
        if self.detection not in DETECTION_ALGORITHMS:
            raise ValueError(
                f"detection: choose one of {DETECTION_ALGORITHMS}, got {self.detection!r}"
            )
        if self.detection == "cellpose" and not (
            self.cellpose_model and Path(self.cellpose_model).is_file()
        ):
            raise ValueError(
                "detection='cellpose' needs cellpose_model = a local weights file (nothing is "
                f"downloaded); got {self.cellpose_model!r}. Use 'sparsery' or 'sourcery' instead"
            )
        if self.neuropil_coefficient < 0:
            raise ValueError(
                f"neuropil_coefficient must be ≥ 0, got {self.neuropil_coefficient}"
            )


def block_size_for(frame_shape: tuple[int, int]) -> tuple[int, int]:
    """Nonrigid block size from the frame size: about a third of each side, power of two,
    between 16 and suite2p's default 128 (suite2p's 128 px default crashes on small frames)."""

    def one(n: int) -> int:
        size = 2 ** int(np.floor(np.log2(max(n / 3, 1))))
        return int(min(128, max(16, size), n))

    return one(int(frame_shape[0])), one(int(frame_shape[1]))


def sparsery_scale(diameter: float) -> int:
    """sparsery's ``spatial_scale`` (ROI size 3·2^k px) nearest to the cell diameter."""
    return int(np.clip(np.round(np.log2(max(diameter, 1.0) / 3.0)), 1, 4))


def resolve_torch_device(name: str = "auto") -> str:
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(out.get(key), dict) else value
    return out


def suite2p_settings(params: ExtractParams, frame_shape: tuple[int, int]) -> dict:
    """A full suite2p settings dict from the user's choices (suite2p's defaults otherwise)."""
    suite2p = import_quietly("suite2p")  # no import-time notices on the terminal

    params.validate()
    s = suite2p.default_settings()
    s["fs"] = float(params.fs)
    s["tau"] = float(params.tau)
    s["diameter"] = [float(params.diameter), float(params.diameter)]
    s["torch_device"] = resolve_torch_device(params.torch_device)
    s["run"]["do_registration"] = int(params.registration != "none")
    s["registration"]["nonrigid"] = params.registration == "nonrigid"
    s["registration"]["block_size"] = block_size_for(frame_shape)
    s["detection"]["algorithm"] = params.detection
    # sparsery ignores ``diameter``; its spatial scale (3·2^k px, k in 1..4) is set from it
    s["detection"]["sparsery_settings"]["spatial_scale"] = sparsery_scale(params.diameter)
    s["detection"]["cellpose_chan2"] = False
    if params.detection == "cellpose":
        s["detection"]["cellpose_settings"]["cellpose_model"] = str(params.cellpose_model)
    s["extraction"]["neuropil_coefficient"] = float(params.neuropil_coefficient)
    return _merge(s, params.overrides)


# ---------------------------------------------------------------- binary conversion


def _to_int16(frames: np.ndarray, scale: float) -> np.ndarray:
    """suite2p's own conversion: uint16 halved, other types cast (floats scaled, rounded)."""
    if frames.dtype == np.int16:
        return frames
    if frames.dtype == np.uint16:
        return (frames // 2).astype(np.int16)
    if np.issubdtype(frames.dtype, np.floating):
        if not np.isfinite(frames).all():
            raise ValueError(
                "stack: contains NaN or infinite pixels; replace them (e.g. with 0) first"
            )
        frames = np.rint(frames * scale) if scale != 1.0 else np.rint(frames)
    return np.clip(frames, -32768, 32767).astype(np.int16)


def _float_scale(stack) -> float:
    """1 for float stacks whose values already fit int16 with ≥ 100 levels; else a rescale."""
    if not np.issubdtype(np.dtype(stack.dtype), np.floating):
        return 1.0
    n = int(stack.shape[0])
    from napari_cebra.limits import BATCH_BYTES, nbytes_of

    most = max(1, BATCH_BYTES // max(1, nbytes_of(stack.shape[1:], stack.dtype)))
    idx = np.unique(np.linspace(0, n - 1, min(n, 20, most)).astype(int))
    sample = stack[idx]
    sample = np.asarray(sample.compute() if hasattr(sample, "compute") else sample)
    finite = sample[np.isfinite(sample)]
    peak = float(np.abs(finite).max()) if finite.size else 0.0
    if 100 <= peak <= 16000:
        return 1.0
    return 16000.0 / peak if peak > 0 else 1.0


def write_binary(stack, plane_dir: Path, batch: int = 500) -> Generator[int, None, dict]:
    """Write ``stack`` into ``plane_dir/data.bin``; yields frames done, returns shape info."""
    n, ly, lx = (int(s) for s in stack.shape)
    scale = _float_scale(stack)
    mean = np.zeros((ly, lx), np.float64)
    with open(plane_dir / "data.bin", "wb") as fh:
        for start, frames in iter_frames(stack, batch):
            block = _to_int16(frames, scale)
            fh.write(block.tobytes())
            mean += block.sum(axis=0, dtype=np.float64)
            yield start + len(frames)
    return {"nframes": n, "Ly": ly, "Lx": lx, "meanImg": mean / n, "intensity_scale": scale}


# ---------------------------------------------------------------- running suite2p


class _Cancelled(Exception):
    pass


class _QueueHandler(logging.Handler):
    """Forwards suite2p's log records to a queue; raises inside suite2p once cancelled."""

    def __init__(self, q: queue.Queue, cancel: threading.Event, thread_id: int):
        super().__init__(logging.INFO)
        self.q, self.cancel, self.thread_id = q, cancel, thread_id

    def handle(self, record: logging.LogRecord) -> bool:  # not emit: exceptions must escape
        if record.thread != self.thread_id:
            return False
        if self.cancel.is_set():
            raise _Cancelled()
        if record.levelno >= self.level:
            self.q.put(("log", record.getMessage()))
        return True


def _db_for(plane_dir: Path, info: dict, data_path: Path) -> dict:
    suite2p = import_quietly("suite2p")  # no import-time notices on the terminal

    db = suite2p.default_db()
    save_path0 = plane_dir.parent.parent
    db.update(
        data_path=[str(data_path)],
        save_path0=str(save_path0),
        save_folder="suite2p",
        save_path=str(plane_dir),
        fast_disk=str(plane_dir),
        reg_file=str(plane_dir / "data.bin"),
        db_path=str(plane_dir / "db.npy"),
        settings_path=str(plane_dir / "settings.npy"),
        iplane=0,
        nframes=info["nframes"],
        Ly=info["Ly"],
        Lx=info["Lx"],
        meanImg=info["meanImg"],
        input_format="binary",
        keep_movie_raw=False,
        intensity_scale=info["intensity_scale"],  # float stacks: pixel values × this in data.bin
    )
    return db


def run_suite2p_steps(
    source,
    params: ExtractParams,
    out_dir: PathLike | None = None,
    *,
    overwrite: bool = False,
) -> Generator[Progress, None, Path]:
    """Run suite2p on ``source`` (a path or a (T, Y, X) array); yields progress, returns the
    plane folder with suite2p's outputs (stat, F, Fneu, spks, iscell, ops .npy, data.bin).

    Closing the generator before it finishes cancels the run and deletes the new folder.
    """
    params.validate()
    stack = open_stack(source) if isinstance(source, (str, os.PathLike, list, tuple)) else source
    validate_stack(stack, str(source) if isinstance(source, (str, os.PathLike)) else "stack")
    if stack.shape[0] < 50:
        raise ValueError(
            f"stack: suite2p needs at least 50 frames, got {stack.shape[0]}; record longer"
        )
    out = Path(out_dir) if out_dir is not None else default_output_dir(source)
    folder = OutputFolder(out, overwrite=overwrite)
    folder.check()
    settings = suite2p_settings(params, tuple(stack.shape[1:]))
    folder.check_space(2 * int(np.prod(stack.shape, dtype=object)), source if isinstance(
        source, (str, os.PathLike)) else "stack")  # data.bin, before anything is written
    plane_dir = folder.prepare()
    try:
        n = int(stack.shape[0])
        yield Progress("binary", 0, n, f"writing {n} frames for suite2p")
        info = yield from _progress_of(write_binary(stack, plane_dir), n)
        data_path = Path(source).parent if isinstance(source, (str, os.PathLike)) else out
        db = _db_for(plane_dir, info, data_path)
        np.save(plane_dir / "db.npy", db)
        np.save(plane_dir / "settings.npy", settings)
        yield from _run_plane_in_thread(db, settings)
        plane_dir = folder.publish()
    finally:
        folder.discard()  # after publish() only the staging folder's shell is left: nothing
    yield Progress("done", 1, 1, f"suite2p finished: {plane_dir}")
    return plane_dir


def _progress_of(writer: Generator[int, None, dict], n: int
                 ) -> Generator[Progress, None, dict]:
    """Frames written → progress events (binary conversion is the first 10 % of the run)."""
    while True:
        try:
            done = next(writer)
        except StopIteration as stop:
            return stop.value
        yield Progress("binary", done, n * 10, f"{done}/{n} frames written")


def _run_plane_in_thread(db: dict, settings: dict) -> Generator[Progress, None, None]:
    suite2p = import_quietly("suite2p")  # no import-time notices on the terminal

    q: queue.Queue = queue.Queue()
    cancel = threading.Event()

    def target() -> None:
        handler = _QueueHandler(q, cancel, threading.get_ident())
        s2p_logger = logging.getLogger("suite2p")
        old_level = s2p_logger.level
        s2p_logger.setLevel(logging.INFO)
        s2p_logger.addHandler(handler)
        try:
            with quietly("suite2p", expected=(_Cancelled,)):  # stage dumps go to our log (DEBUG)
                suite2p.run_plane(db=db, settings=settings, db_path=db["db_path"])
            q.put(("done", None))
        except BaseException as err:  # noqa: BLE001 - forwarded to the generator
            q.put(("error", err))
        finally:
            s2p_logger.removeHandler(handler)
            s2p_logger.setLevel(old_level)

    thread = threading.Thread(target=target, name="suite2p", daemon=True)
    thread.start()
    stage, fraction = "suite2p", 0.1
    try:
        while True:
            kind, payload = q.get()
            if kind == "done":
                return
            if kind == "error":
                if isinstance(payload, _Cancelled):
                    return
                # suite2p's ValueErrors are about the data or settings ("no ROIs were found")
                kind = ValueError if isinstance(payload, ValueError) else RuntimeError
                raise kind(f"suite2p failed: {payload}") from payload
            for key, (name, frac) in _STAGES.items():
                if f"----------- {key}" in payload:
                    stage, fraction = name, frac
            yield Progress(stage, round(fraction * 1000), 1000, payload)
    finally:
        if thread.is_alive():
            cancel.set()
            t0 = time.monotonic()
            while thread.is_alive() and time.monotonic() - t0 < 600:
                thread.join(timeout=0.5)
