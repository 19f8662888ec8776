"""``napari-cebra extract STACK --fs 30 --out DIR``: suite2p on a stack, from the shell."""

from __future__ import annotations

import argparse

from napari_cebra.cli._options import add_options
from napari_cebra.cli._progress_bar import ProgressBar
from napari_cebra.job_settings import ExtractSettings


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "extract",
        help="run suite2p on a calcium-imaging stack (ROIs, traces, dF/F)",
        description="Run suite2p (registration, detection, extraction, deconvolution, "
        "classification) on STACK and write its outputs plus traces.npz (dF/F and friends, "
        "T × N) into a new output folder.",
    )
    p.add_argument("stack", nargs="+",
                   help="TIFF/.npy/.zarr/.nwb stack, a folder of TIFFs, or files")
    p.add_argument("--out", default=None, help="output folder (default: a fresh one)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace suite2p results already in --out"
    )
    add_options(p.add_argument_group("extraction settings"), ExtractSettings)
    p.set_defaults(func=handler)


def _frame_rate(fs: float | None, source) -> float:
    """``--fs`` as given, else the rate the stack's metadata declares."""
    import math

    from napari_cebra.cli import UsageError
    from napari_cebra.imaging.stacks import frame_rate_of

    if fs is None:
        fs = frame_rate_of(source)
        if fs is None:
            raise UsageError(f"--fs: the frame rate of {source} is not in its metadata; give "
                             "it in Hz (e.g. --fs 30).")
        print(f"frame rate {fs:g} Hz (from the file's metadata)")
    if not math.isfinite(fs) or fs <= 0:
        raise UsageError(f"--fs must be a positive frame rate in Hz, got {fs}.")
    return float(fs)


def handler(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from napari_cebra.files import atomic_path
    from napari_cebra.imaging import BaselineParams, drain, extract_steps
    from napari_cebra.imaging.output_folders import default_output_dir, prepare_output_dir

    source = args.stack[0] if len(args.stack) == 1 else args.stack
    args.fs = _frame_rate(args.fs, source)
    # the output folder is checked before the stack is read or suite2p starts: its parent
    # must exist (as for every output of the command line), it must be writable and hold no
    # results unless --overwrite
    out = Path(args.out) if args.out else default_output_dir(source)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(
            f"output folder {out}: its parent folder {parent} does not exist; create it "
            "first or choose another location."
        )
    prepare_output_dir(out, overwrite=args.overwrite)
    baseline = BaselineParams(
        neuropil_coefficient=args.neuropil_coefficient,
        method=args.baseline,
        window_s=args.baseline_window,
    )
    with ProgressBar() as bar:
        session = drain(extract_steps(
            source,
            fs=args.fs,
            tau=args.tau,
            diameter=args.diameter,
            registration=args.registration,
            detection=args.detection,
            out_dir=out,
            overwrite=args.overwrite,
            baseline=baseline,
            torch_device=args.device,
        ), bar)
    plane = Path(session.suite2p.plane_dir)
    with atomic_path(plane / "traces.npz", what="traces file") as tmp:
        np.savez(tmp, fs=session.fs, **session.trace_sets)
    n_cells = int(session.suite2p.iscell[:, 0].sum()) if session.suite2p.n_rois else 0
    print(
        f"{session.suite2p.n_rois} ROIs ({n_cells} cells), {session.n_frames} frames → {plane}"
    )
    return 0
