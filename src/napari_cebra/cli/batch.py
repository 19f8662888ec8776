"""``napari-cebra batch STUDY.csv --out DIR``: every session of a study, on Dask.

    napari-cebra batch study.csv --out results/            # a LocalCluster sized to the machine
    napari-cebra batch study.csv --out results/ --workers 4
    napari-cebra batch study.csv --out results/ --scheduler tcp://head:8786
    napari-cebra batch study.csv --out results/ --sweep grid.json

Rerunning the same command skips finished tasks; failed tasks are listed in
``DIR/results.csv`` with their error (exit status 1 when any failed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from napari_cebra.cli import UsageError
from napari_cebra.cli._options import add_options, values_from_args
from napari_cebra.job_settings import BatchSettings
from napari_cebra.pipeline import TrainSettings

#: the CEBRA settings a study run takes from the command line (the rest: a --sweep grid)
TRAINING_OPTIONS = ("model_architecture", "output_dimension", "num_hidden_units",
                    "max_iterations", "batch_size", "learning_rate", "temperature", "device",
                    "seed")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "batch", help="extract, train, embed and score every session of a study (Dask)",
        description="Run every session of STUDY.csv (columns session, path, fs, and optional "
        "labels, discrete, test_fraction) as Dask tasks: extract (stacks), train on the "
        "training split, embed, decode the labels (n_neighbors chosen on validation, scored "
        "on the test split). With --sweep, try a grid of settings on validation, refit the "
        "best per session and test it. Results: DIR/results.csv; finished tasks are skipped "
        "on a rerun.")
    p.add_argument("study", type=Path, help="study CSV, one row per session")
    p.add_argument("--out", type=Path, required=True, help="results folder (created; reused "
                   "by a rerun)")
    add_options(p.add_mutually_exclusive_group(), BatchSettings, only=("workers", "scheduler"))
    add_options(p, BatchSettings, only=("sweep",))
    add_options(p.add_argument_group("CEBRA settings"), TrainSettings, only=TRAINING_OPTIONS)
    p.add_argument("--yes", action="store_true",
                   help="run a sweep of more than 200 tasks without asking")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=handler)


def check_outputs(args: argparse.Namespace) -> None:
    """The results folder is checked before the study is read: new, empty or one a batch run
    made, and writable."""
    from napari_cebra.batch.output import check_out

    try:
        check_out(args.out)
    except (OSError, ValueError) as err:
        raise UsageError(str(err)) from err
    if args.workers is not None and args.workers < 0:
        raise UsageError(f"--workers {args.workers}: give 0 or more workers.")


def _grid(path: Path) -> dict:
    if not path.is_file():
        raise UsageError(f"--sweep {path} does not exist.")
    try:
        grid = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise UsageError(f"--sweep {path} is not valid JSON ({err}).") from err
    if not isinstance(grid, dict):
        raise UsageError(f"--sweep {path} must hold a JSON object: setting → list of values.")
    return grid


def handler(args: argparse.Namespace) -> int:
    from napari_cebra.batch import StudyError, read_study, run_study, sweep
    from napari_cebra.batch.sweep import check_settings, check_sweep_size, expand_grid

    check_outputs(args)
    grid = _grid(args.sweep) if args.sweep else None
    settings = check_settings(values_from_args(TrainSettings, args))
    try:
        sessions = read_study(args.study)  # every bad row named before anything runs
    except StudyError as err:
        raise UsageError(str(err)) from err
    if grid is not None:
        try:
            check_sweep_size(len(sessions), grid, args.yes)  # before making the combinations
            expand_grid(grid, settings)
        except ValueError as err:
            raise UsageError(f"--sweep {args.sweep}: {err}") from err
    print(f"{len(sessions)} sessions → {args.out}", file=sys.stderr)
    where = dict(workers=args.workers, scheduler=args.scheduler, progress=not args.quiet)
    if grid is not None:
        frame = sweep(sessions, grid, args.out, settings, yes=args.yes, **where)
    else:
        frame = run_study(sessions, args.out, settings, **where)
    failed = frame[frame["status"] != "done"]
    for _, row in failed.iterrows():
        print(f"  failed: {row['session']} ({row['stage']}): {row['error']}", file=sys.stderr)
    finals = frame[(frame["stage"] == "final") & (frame["status"] == "done")]
    for _, row in finals.iterrows():
        print(f"  {row['session']:<20} validation {row['val_score']:.3f}  test "
              f"{row['test_score']:.3f} ({row['score_kind'] or 'no labels'})")
    print(f"results: {args.out / 'results.csv'}")
    if len(failed):
        print(f"napari-cebra batch: {len(failed)} of {len(frame)} tasks failed; see "
              f"{args.out / 'results.csv'} (a rerun retries them).", file=sys.stderr)
        return 1
    return 0
