"""``napari-cebra train TRACES --labels POS.npy --out model.pt``: train CEBRA from the shell.

Drives the same generator as the napari widget (:func:`napari_cebra.pipeline.train`), with a
progress bar on stderr.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

from napari_cebra.cli import UsageError
from napari_cebra.cli._options import add_options, settings_from_args
from napari_cebra.cli._progress_bar import ProgressBar
from napari_cebra.pipeline import TrainSettings


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a CEBRA model on a (time, neurons) matrix",
        description="Train CEBRA on TRACES: a (time, neurons) .npy, or the traces.npz that "
        "'napari-cebra extract' writes. No labels → CEBRA-Time; --labels/--discrete → "
        "CEBRA-Behaviour (add --hybrid for both objectives).",
    )
    p.add_argument("traces", help="(time, neurons) .npy, .npz with a trace set, or a suite2p "
                   "output folder")
    p.add_argument("--trace-set", default=None,
                   help="array to use from an .npz (default: dff, else the first 2-D array)")
    p.add_argument("--labels", action="append", default=[], metavar="FILE",
                   help="continuous labels, (time,) or (time, d) .npy; repeatable")
    p.add_argument("--discrete", action="append", default=[], metavar="FILE",
                   help="discrete labels, (time,) integer .npy; repeatable")
    p.add_argument("--out", default=None,
                   help="model file to write (.pt, plus MODEL.pt.settings.json)")
    p.add_argument("--embedding", default=None,
                   help="also write the embedding with time and labels (.npy, .csv or .h5)")
    add_options(p.add_argument_group("CEBRA settings"), TrainSettings)
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing output files (refused otherwise)")
    p.set_defaults(func=handler)


def load_traces(path: str | Path, trace_set: str | None = None):
    """The (time, neurons) matrix of a .npy file, one array of an .npz, or a trace set of a
    suite2p output folder (dF/F by default)."""
    import numpy as np

    path = Path(path)
    if path.is_dir():
        from napari_cebra.imaging import load_session

        sets = load_session(path).trace_sets
        name = trace_set or "dff"
        if name not in sets:
            raise ValueError(f"{path} has no trace set {name!r}; it has {', '.join(sets)}.")
        return sets[name]
    if not path.is_file():
        raise FileNotFoundError(f"traces file {path} does not exist.")
    if path.suffix != ".npz":
        return load_array(path, "traces file")
    try:
        with np.load(path, allow_pickle=False) as data:
            names = [n for n in data.files if data[n].ndim == 2]
            name = trace_set or ("dff" if "dff" in names else (names[0] if names else None))
            if name not in data.files:
                raise KeyError(name)
            return data[name]
    except KeyError:
        if name is None:
            raise ValueError(f"{path.name} holds no 2-D (time, neurons) array.") from None
        raise ValueError(f"{path.name} has no array {name!r}; its 2-D arrays: "
                         f"{', '.join(names) or 'none'}.") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"traces file {path} is not a readable .npz of numeric arrays "
                         f"({err}).") from err


def load_array(path: str | Path, what: str):
    """A numeric ``.npy`` array; a damaged file or one holding Python objects is named."""
    from napari_cebra.imaging.safe_npy import load_npy

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist.")
    try:
        return load_npy(path)
    except ValueError as err:
        raise ValueError(f"{what}: {err}") from err


def check_outputs(args: argparse.Namespace) -> None:
    """Every output path checked before any data is read (a typo costs seconds, not a run)."""
    from napari_cebra.embedding_files import EMBEDDING_SUFFIXES
    from napari_cebra.files import check_target
    from napari_cebra.model_files import check_model_targets

    if not args.out and not args.embedding:
        raise UsageError("nothing would be kept: give --out MODEL.pt and/or --embedding FILE.")
    if args.out:
        check_model_targets(args.out, overwrite=args.overwrite)
    if args.embedding:
        if Path(args.embedding).suffix.lower() not in EMBEDDING_SUFFIXES:
            raise UsageError(f"--embedding {args.embedding}: use one of "
                             f"{', '.join(EMBEDDING_SUFFIXES)}.")
        check_target(args.embedding, overwrite=args.overwrite, what="embedding file")
    if args.out and args.embedding and Path(args.out).resolve() == Path(
            args.embedding).resolve():
        raise UsageError("--out and --embedding name the same file.")


def handler(args: argparse.Namespace) -> int:
    import numpy as np

    from napari_cebra import pipeline
    from napari_cebra.embedding_files import save_embedding
    from napari_cebra.model_files import save_model
    from napari_cebra.progress import drain

    check_outputs(args)
    traces = load_traces(args.traces, args.trace_set)
    labels, kinds = {}, {}
    for kind, files in (("continuous", args.labels), ("discrete", args.discrete)):
        for file in files:
            values = load_array(file, "labels file")
            if kind == "continuous":
                values = values.reshape(len(values), -1)
                for j in range(values.shape[1]):
                    name = Path(file).stem + (f"_{j}" if values.shape[1] > 1 else "")
                    labels[name], kinds[name] = values[:, j].astype(np.float32), kind
            else:
                labels[Path(file).stem], kinds[Path(file).stem] = values, kind
    settings = settings_from_args(TrainSettings, args)
    job = pipeline.job_from_arrays(traces, settings, labels=labels, label_kinds=kinds,
                                   label_columns=list(labels), source=Path(args.traces).name)
    print(f"{job.mode} on {job.neural.shape[0]} frames × {job.neural.shape[1]} neurons",
          file=sys.stderr)
    with ProgressBar() as bar:
        result = drain(pipeline.train(job), bar)  # a TrainingError is one line (exit 1)
    if args.out:
        save_model(result.model, args.out, settings, job.label_columns, overwrite=args.overwrite)
        print(f"model: {args.out}", file=sys.stderr)
    if args.embedding:
        save_embedding(args.embedding, result.embedding, result.time, result.labels,
                       overwrite=args.overwrite)
        print(f"embedding: {args.embedding}", file=sys.stderr)
    return 0
