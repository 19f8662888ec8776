"""``napari-cebra decode``: the movie-frame decoding protocol from the shell, with a report.

    napari-cebra decode --synthetic-v1 --report v1.json --csv v1.csv
    napari-cebra decode --input session.npz --model model.pt --report out.json
    napari-cebra decode --stack stack.tif --fs 30 --frame-labels labels.csv \
        --stimulus movie.tif --report out.json

``--stack`` runs suite2p on the raw stack first (into ``--out``, a fresh folder by default) and
decodes from the dF/F of the ROIs it classifies as cells; the report gets an ``extraction``
section. ``labels.csv`` has ``frame_id`` and ``repeat`` columns, one row per imaging frame.

``session.npz`` holds ``neural`` (T, N), ``frame_id`` (T,) int, ``repeat`` (T,) int, ``fs``
(scalar), optionally ``movie`` (F, H, W) and any continuous labels named with ``--continuous``.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

from napari_cebra.cli import UsageError
from napari_cebra.cli._options import add_options, settings_from_args
from napari_cebra.cli._progress_bar import ProgressBar
from napari_cebra.job_settings import DecodeSettings, ExtractSettings


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") \
            from err


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "decode", help="decode movie frames from neural activity (the paper's protocol)",
        description="Train CEBRA (or use --model) on the training repeats, choose the kNN "
        "n_neighbors on a validation repeat, decode the frame of every time point of the test "
        "repeat; compare with kNN on the raw traces and their PCA, and with shuffled controls. "
        "Writes a JSON (and optionally CSV) report; existing files are kept unless --overwrite.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", type=Path, help="session .npz (neural, frame_id, repeat, fs, "
                     "optional movie)")
    src.add_argument("--synthetic-v1", action="store_true",
                     help="simulate a V1 session (see --repeats/--seconds/--neurons)")
    src.add_argument("--stack", type=Path, help="a raw imaging stack (TIFF/.npy/.zarr): run "
                     "suite2p, then decode from its cells' dF/F (needs --frame-labels)")
    raw = p.add_argument_group("raw stack (--stack)")
    raw.add_argument("--frame-labels", type=Path, default=None,
                     help="CSV with frame_id and repeat, one row per imaging frame")
    raw.add_argument("--stimulus", type=Path, default=None,
                     help="the movie shown (TIFF/.npy, frames × H × W); CEBRA then trains on "
                     "its frames' features")
    raw.add_argument("--out", type=Path, default=None,
                     help="suite2p output folder (default: a fresh one next to the stack)")
    add_options(raw, ExtractSettings, only=("fs", "tau", "diameter", "registration"))
    raw.add_argument("--all-rois", action="store_true",
                     help="decode from every ROI, not only the soma-sized ones suite2p calls "
                     "cells")
    p.add_argument("--repeats", type=int, default=10, help="synthetic: movie repeats (10)")
    p.add_argument("--seconds", type=float, default=30.0, help="synthetic: movie length (30)")
    p.add_argument("--neurons", type=int, default=200, help="synthetic: neurons (200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", type=Path, help="a trained CEBRA model file to decode with")
    add_options(p.add_argument_group("decoding settings"), DecodeSettings)
    p.add_argument("--train-repeats", type=_ints, default=None, help="e.g. 0,1,2 (all but test)")
    p.add_argument("--validation-repeat", type=int, default=None,
                   help="training repeat that chooses n_neighbors (last training repeat)")
    p.add_argument("--test-repeat", type=int, default=None, help="(last repeat)")
    p.add_argument("--continuous", type=_names, default=None,
                   help="continuous labels to decode too (synthetic: running_speed)")
    p.add_argument("--report", type=Path, required=True, help="JSON report to write")
    p.add_argument("--csv", type=Path, default=None, help="CSV summary to write")
    p.add_argument("--predictions", action="store_true",
                   help="include every predicted frame in the JSON report")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing report files (refused otherwise)")
    p.set_defaults(func=handler)


def _load(args) -> dict:
    import numpy as np

    if args.synthetic_v1:
        from napari_cebra.synthetic.v1 import v1_session

        s = v1_session(n_repeats=args.repeats, movie_seconds=args.seconds,
                       n_neurons=args.neurons, seed=args.seed)
        return dict(neural=s.neural, frame_id=s.frame_id, repeat=s.repeat, fs=s.fs,
                    movie=s.movie, extra={"running_speed": s.running_speed})
    if not args.input.exists():
        raise FileNotFoundError(f"session file {args.input} does not exist.")
    try:
        with np.load(args.input, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"session file {args.input} is not a readable .npz of numeric arrays "
                         f"({err}).") from err
    missing = [k for k in ("neural", "frame_id", "repeat", "fs") if k not in arrays]
    if missing:
        raise ValueError(f"{args.input} lacks {', '.join(missing)}; it needs neural, "
                         "frame_id, repeat and fs (and optionally movie).")
    return dict(neural=arrays.pop("neural"), frame_id=arrays.pop("frame_id"),
                repeat=arrays.pop("repeat"), fs=float(arrays.pop("fs")),
                movie=arrays.pop("movie", None), extra=arrays)


def check_outputs(args: argparse.Namespace) -> None:
    """The report files checked before any data is read or any model trained."""
    from napari_cebra.files import check_target

    if args.stack is None:
        given = [f"--{n.replace('_', '-')}" for n in ("fs", "frame_labels", "stimulus", "out")
                 if getattr(args, n) is not None]
        if given:
            raise UsageError(f"{', '.join(given)} go with --stack (a raw imaging stack).")
    elif args.frame_labels is None:
        raise UsageError("--stack needs --frame-labels: a CSV with frame_id and repeat, one "
                         "row per imaging frame.")
    check_target(args.report, overwrite=args.overwrite, what="report file")
    if args.csv is not None:
        check_target(args.csv, overwrite=args.overwrite, what="CSV report")
        if Path(args.csv).resolve() == Path(args.report).resolve():
            raise UsageError("--report and --csv name the same file.")


def handler(args: argparse.Namespace) -> int:
    from napari_cebra.analysis.frame_decoding import frame_decoding_steps
    from napari_cebra.progress import drain

    check_outputs(args)
    model = None
    if args.model is not None:  # a missing or damaged model fails before the data are read
        from napari_cebra.model_files import load_model

        model, _, _ = load_model(args.model, device=args.device)
    if args.stack is not None:
        return _decode_stack(args, model)
    session = _load(args)
    continuous = {}
    for name in args.continuous or []:
        if name not in session["extra"]:
            raise ValueError(f"continuous label {name!r} is not in the session; it has "
                             f"{', '.join(sorted(session['extra'])) or 'none'}.")
        continuous[name] = session["extra"][name]
    gen = frame_decoding_steps(
        session["neural"], session["frame_id"], session["repeat"], session["fs"],
        movie=session["movie"], continuous=continuous,
        **_decoding_options(args, model, session["movie"]))
    with ProgressBar() as bar:
        report = drain(gen, bar)
    _write_and_print(args, report)
    return 0


def _decoding_options(args: argparse.Namespace, model, movie) -> dict:
    """The protocol's settings from the command line (shared by every input)."""
    settings = settings_from_args(DecodeSettings, args)
    params = {**settings.cebra_params(), "device": settings.device}
    labels = settings.labels if settings.labels != "auto" else (
        "movie" if movie is not None else "phase")
    return dict(model=model, cebra_params=params, labels=labels,
                train_repeats=args.train_repeats, validation_repeat=args.validation_repeat,
                test_repeat=args.test_repeat, baselines=list(settings.baselines),
                controls=list(settings.controls), seed=args.seed,
                progress_every=max(1, settings.max_iterations // 50))


def _decode_stack(args: argparse.Namespace, model) -> int:
    """suite2p on --stack, then the protocol on its cells' dF/F; the report says what was
    extracted. Every input is checked before suite2p starts."""
    import numpy as np

    from napari_cebra.imaging.output_folders import default_output_dir, prepare_output_dir
    from napari_cebra.imaging.stacks import frame_rate_of, open_stack
    from napari_cebra.progress import drain
    from napari_cebra.whole_path import decode_stack_steps, read_frame_labels

    stack = open_stack(args.stack)  # ScanImage, ImageJ, OME and NWB files declare their rate
    fs = args.fs if args.fs is not None else frame_rate_of(args.stack)
    if fs is None or not np.isfinite(fs) or fs <= 0:
        raise UsageError(f"--fs: the frame rate of {args.stack} is not in its metadata; "
                         "give it in Hz (e.g. --fs 30)." if fs is None else
                         f"--fs must be a positive frame rate in Hz, got {fs}.")
    labels = read_frame_labels(args.frame_labels, n_frames=len(stack))
    test = args.test_repeat if args.test_repeat is not None else int(labels.repeat.max())
    train = args.train_repeats or sorted(set(np.unique(labels.repeat).tolist()) - {test})
    n_train = int(np.isin(labels.repeat, train).sum())
    if args.batch_size > n_train:  # found now, not after suite2p has run
        raise UsageError(f"--batch-size {args.batch_size} is larger than the training repeats "
                         f"({n_train} frames); use --batch-size {n_train} or less.")
    movie = None
    if args.stimulus is not None:
        movie = np.asarray(open_stack(args.stimulus), dtype=np.float32)
    out = args.out if args.out is not None else default_output_dir(args.stack)
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise FileNotFoundError(f"--out {out}: its parent folder does not exist; create it "
                                "first or choose another location.")
    prepare_output_dir(out, overwrite=args.overwrite)
    gen = decode_stack_steps(
        args.stack, fs=fs, frame_labels=labels, movie=movie, out_dir=out, overwrite=args.overwrite,
        tau=args.tau, diameter=args.diameter, registration=args.registration,
        cells_only=not args.all_rois, torch_device=args.device,
        **_decoding_options(args, model, movie))
    with ProgressBar() as bar:
        report, _ = drain(gen, bar)
    ex = report.extraction
    print(f"suite2p: {ex['n_rois']} ROIs, {ex['n_cells']} cells → {ex['output_folder']}")
    _write_and_print(args, report)
    return 0


def _write_and_print(args: argparse.Namespace, report) -> None:
    report.to_json(args.report, predictions=args.predictions, overwrite=args.overwrite)
    if args.csv is not None:
        report.to_csv(args.csv, overwrite=args.overwrite)
    print(f"frame-ID accuracy within ±1 s (chance {report.chance:.1%}):")
    for r in report.results:
        print(f"  {r.name:<26} {r.accuracy:6.1%}   median error {r.median_frame_error:.1f} "
              f"frames   (k={r.n_neighbors})")
    for c in report.continuous:
        print(f"  {c.label} from {c.name}: R² {c.r2:.3f}, median |error| "
              f"{c.median_abs_error:.3g}")
    print(f"report: {args.report}" + (f", {args.csv}" if args.csv else ""))
