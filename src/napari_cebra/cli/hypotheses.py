"""``napari-cebra hypotheses TRACES --labels LABELS --report R.json``: CEBRA's hypothesis tests.

    napari-cebra hypotheses traces.npz --labels behaviour.csv --report r.json
    napari-cebra hypotheses traces.npz --labels behaviour.csv --sets "x" "y" "x,y" \\
        --shuffles 2 --iterations 3000 --report r.json --plot r.png
    napari-cebra hypotheses traces.npz --labels mouse_DLC.h5 --fs 30 --camera-fps 60 ...
    napari-cebra hypotheses --study study.csv --out results/     # one test per session

CEBRA-Time, then CEBRA-Behaviour per label set and its time-shuffled controls, all on the
same traces and budget (:mod:`napari_cebra.analysis.hypotheses`). Options come from
:class:`~napari_cebra.analysis.hypotheses.HypothesisSettings`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from napari_cebra.analysis.hypotheses import HypothesisSettings
from napari_cebra.cli import UsageError
from napari_cebra.cli._options import add_options, values_from_args

POSE_SUFFIXES = (".h5", ".slp", ".nwb")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "hypotheses", help="which behaviour variables shape the embedding (vs shuffled "
        "controls)",
        description="Discover first, then test hypotheses: on TRACES train CEBRA-Time, then "
        "CEBRA-Behaviour for each label set (each variable alone and the sets given) and, per "
        "set, models on time-shuffled labels; report per model the final InfoNCE loss, the "
        "goodness of fit (bits), held-out decoding of every variable and the consistency "
        "between runs. With --study, one test per session of a study CSV.")
    p.add_argument("traces", nargs="?", help="(time, neurons) .npy, .npz with a trace set, "
                   "or a suite2p output folder (as 'train' takes them)")
    p.add_argument("--trace-set", default=None, help="array to use from an .npz or suite2p "
                   "folder (default: dff)")
    p.add_argument("--labels", action="append", default=[], metavar="FILE",
                   help="behaviour: a CSV/NPY of named columns (one row per frame; empty "
                   "cells are missing) or a pose file (DeepLabCut, SLEAP, Lightning Pose, NWB); "
                   "repeatable")
    p.add_argument("--discrete", default="", metavar="NAMES",
                   help="comma-separated columns that are classes (the others are continuous)")
    p.add_argument("--variables", default="", metavar="NAMES",
                   help="comma-separated columns to use (default: every column but 'time_s')")
    p.add_argument("--sets", nargs="+", default=None, metavar="SET",
                   help='label sets, e.g. --sets "x" "y" "x,y" (default: each variable alone, '
                   "then all together)")
    pose = p.add_argument_group("pose files (labels put on the imaging frames)")
    pose.add_argument("--fs", type=float, default=None, help="imaging frame rate (Hz)")
    pose.add_argument("--camera-fps", type=float, default=None, help="camera frame rate (Hz)")
    pose.add_argument("--offset", type=float, default=None,
                      help="seconds from camera frame 0 to imaging frame 0")
    pose.add_argument("--px-per-cm", type=float, default=None, help="scale, pixels per cm")
    pose.add_argument("--pcutoff", type=float, default=None,
                      help="keypoints below this likelihood are gaps")
    add_options(p.add_argument_group("test settings"), HypothesisSettings, exclude=("sets",))
    p.add_argument("--report", default=None, help="report to write (.json)")
    p.add_argument("--plot", default=None, help="also write a figure (.png)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing output files (refused otherwise)")
    batch = p.add_argument_group("a study (one test per session; see 'napari-cebra batch')")
    batch.add_argument("--study", type=Path, default=None, help="study CSV; each session's "
                       "labels file gives its variables")
    batch.add_argument("--out", type=Path, default=None, help="results folder of a --study")
    batch.add_argument("--workers", type=int, default=0,
                       help="Dask worker processes for a --study (0: in this process)")
    p.set_defaults(func=handler)


def settings_from(args: argparse.Namespace):
    values = values_from_args(HypothesisSettings, args)
    values["sets"] = ";".join(args.sets or [])
    try:
        return HypothesisSettings(**values)
    except ValueError as err:
        raise UsageError(str(err)) from err


def looks_like_pose(path: Path) -> bool:
    """A pose file by its layout (the behaviour module's test when installed)."""
    try:
        from napari_cebra.behaviour import is_pose_file
    except ImportError:
        if path.suffix.lower() in POSE_SUFFIXES:
            return True
        if path.suffix.lower() == ".csv" and path.is_file():
            with open(path, encoding="utf-8-sig", errors="replace") as fh:
                return fh.readline().split(",")[0].strip().lower() == "scorer"
        return False
    return is_pose_file(path)


def read_labels(files, n_frames: int, args: argparse.Namespace):
    """(labels name → (T,) float, kinds, valid mask or None) from label tables and pose files."""
    import numpy as np

    from napari_cebra.imaging.labels import read_label_table

    discrete = {c.strip() for c in args.discrete.split(",") if c.strip()}
    labels, valid = {}, None
    for file in map(Path, files):
        if not file.exists():
            raise FileNotFoundError(f"labels file {file} does not exist.")
        if looks_like_pose(file):
            pose = pose_labels(file, n_frames, args)
            columns = pose.table
            valid = pose.valid if valid is None else valid & pose.valid
        else:
            columns = read_label_table(file)
        for name, values in columns.items():
            if name == "time_s":
                continue
            if name in labels:
                raise UsageError(f"label {name!r} is in two of the --labels files; rename one.")
            if np.asarray(values).dtype == object:
                raise ValueError(f"labels file {file.name}: column {name!r} is not numbers; "
                                 "give numeric labels (classes as integers).")
            values = np.asarray(values, np.float64)
            if len(values) != n_frames:
                raise ValueError(f"labels file {file.name}: column {name!r} has {len(values)} "
                                 f"rows but the traces have {n_frames} frames; give one row "
                                 "per imaging frame (a pose file is resampled for you).")
            labels[name] = values
    wanted = [c.strip() for c in args.variables.split(",") if c.strip()]
    unknown = sorted((set(wanted) | discrete) - set(labels))
    if unknown:
        raise UsageError(f"column(s) {', '.join(unknown)} not in the labels; they have "
                         f"{', '.join(labels) or 'no columns'}.")
    if wanted:
        labels = {k: labels[k] for k in wanted}
    kinds = {k: "discrete" if k in discrete else "continuous" for k in labels}
    return labels, kinds, valid


def pose_labels(path: Path, n_frames: int, args: argparse.Namespace):
    """A pose file's derived variables on the imaging frames (``napari_cebra.behaviour``)."""
    try:
        from napari_cebra.behaviour import behaviour_labels
    except ImportError as err:
        raise UsageError(f"--labels {path.name} is a pose file, and this installation has no "
                         "pose reader (napari_cebra.behaviour); export the variables as a CSV "
                         "with one row per imaging frame instead.") from err
    if args.fs is None:
        raise UsageError(f"--labels {path.name} is a pose file: give the imaging frame rate "
                         "--fs (Hz) to put it on the imaging frames.")
    options = {k: getattr(args, k) for k in ("camera_fps", "offset", "px_per_cm", "pcutoff")
               if getattr(args, k) is not None}
    return behaviour_labels(path, n_frames=n_frames, fs=args.fs, **options)


def check_outputs(args: argparse.Namespace) -> None:
    from napari_cebra.files import check_target

    if args.study is not None:
        if args.traces or args.labels or args.report:
            raise UsageError("--study runs every session of a study: give no TRACES, "
                             "--labels or --report with it (the study names them).")
        if args.out is None:
            raise UsageError("--study needs --out DIR for the results.")
        return
    if not args.traces:
        raise UsageError("give TRACES (or --study STUDY.csv --out DIR).")
    if not args.labels:
        raise UsageError("give the behaviour with --labels FILE (a CSV of variables or a pose "
                         "file).")
    if not args.report:
        raise UsageError("nothing would be kept: give --report R.json.")
    if Path(args.report).suffix.lower() != ".json":
        raise UsageError(f"--report {args.report}: the report is a .json file.")
    check_target(args.report, overwrite=args.overwrite, what="hypotheses report")
    if args.plot:
        if Path(args.plot).suffix.lower() != ".png":
            raise UsageError(f"--plot {args.plot}: the figure is a .png file.")
        check_target(args.plot, overwrite=args.overwrite, what="hypotheses plot")


def handler(args: argparse.Namespace) -> int:
    from napari_cebra.analysis.hypotheses import hypothesis_steps
    from napari_cebra.cli._progress_bar import ProgressBar
    from napari_cebra.cli.train import load_traces
    from napari_cebra.progress import drain

    check_outputs(args)
    settings = settings_from(args)
    if args.study is not None:
        return run_study(args, settings)
    traces = load_traces(args.traces, args.trace_set)
    labels, kinds, valid = read_labels(args.labels, len(traces), args)
    print(f"hypotheses on {traces.shape[0]} frames × {traces.shape[1]} neurons; variables "
          f"{', '.join(labels)}", file=sys.stderr)
    with ProgressBar() as bar:
        result = drain(hypothesis_steps(traces, labels, kinds, settings, valid=valid,
                                        source=Path(args.traces).name), bar)
    result.save(args.report, overwrite=args.overwrite)
    if args.plot:
        result.plot(args.plot, overwrite=args.overwrite)
    print(format_table(result))
    print(f"report: {args.report}" + (f"\nplot: {args.plot}" if args.plot else ""))
    return 0


def format_table(result) -> str:
    import pandas as pd

    table = result.table().drop(columns=["kind"])
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        return table.to_string(index=False, float_format=lambda v: f"{v:.3f}")


def run_study(args: argparse.Namespace, settings) -> int:
    from napari_cebra.batch import StudyError, read_study
    from napari_cebra.batch.hypotheses_tasks import run_hypotheses_study

    try:
        sessions = read_study(args.study)
    except StudyError as err:
        raise UsageError(str(err)) from err
    frame = run_hypotheses_study(sessions, args.out, settings, workers=args.workers,
                                 discrete=[c.strip() for c in args.discrete.split(",")
                                           if c.strip()])
    failed = frame[frame["status"] != "done"]
    for _, row in failed.iterrows():
        print(f"  failed: {row['session']}: {row['error']}", file=sys.stderr)
    print(f"results: {args.out / 'hypotheses.csv'}")
    return 1 if len(failed) else 0
