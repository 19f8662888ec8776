"""``napari-cebra live``: decode every frame of a source as it arrives, one CSV line per frame.

    napari-cebra live --model m.pt --fit-traces X.npy --fit-labels Y.npy \\
        --source traces.npy --out decoded.csv
    napari-cebra live --model m.pt --fit-traces X.npy --fit-labels frame_ids.npy --discrete \\
        --source acquisition_folder/ --rois suite2p/plane0 --out decoded.csv

The kNN decoder is fitted on the model's embedding of ``--fit-traces`` with ``--fit-labels``;
then every frame of ``--source`` is pushed in order. ``decoded.csv`` gets a header and one
line per frame (``frame`` — the source's own frame number —, ``latency_ms``, the label
columns, ``skipped`` — why a frame was not decoded, empty otherwise), each written whole and
flushed, so a reader (or a crash) sees only complete lines. A run that decodes nothing writes
no file (exit 1), so the retry is not refused.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from napari_cebra.cli import UsageError
from napari_cebra.cli._options import add_options
from napari_cebra.job_settings import LiveSettings

MAX_SHOWN_ERRORS = 10


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "live", help="decode a stream frame by frame (replay, growing file or folder)",
        description="Fit the kNN decoder on the model's embedding of --fit-traces with "
        "--fit-labels, then decode every frame of --source in order: (time, neurons) traces, "
        "or raw frames with --rois. Writes one CSV line per decoded frame as it is decoded.")
    p.add_argument("--model", type=Path, required=True, help="trained model file (.pt)")
    p.add_argument("--fit-traces", type=Path, required=True,
                   help=".npy (time, neurons): the data the kNN decoder is fitted on")
    p.add_argument("--fit-labels", type=Path, required=True,
                   help=".npy (time,) or (time, columns): their labels")
    p.add_argument("--discrete", action="store_true",
                   help="the labels are classes (majority vote); default continuous (mean)")
    p.add_argument("--source", type=Path, required=True,
                   help="traces .npy, a stack (.npy/.tif) or a folder of TIFFs being written")
    p.add_argument("--rois", type=Path, default=None,
                   help="suite2p plane folder: the source is raw frames, decoded through its "
                   "ROI and neuropil masks and a running dF/F baseline (its cells as "
                   "iscell.npy marks them, or all ROIs when --fit-traces has one per ROI)")
    p.add_argument("--out", type=Path, required=True, help="CSV to write (must not exist)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--follow", action="store_true",
                   help="the source file is still being written: follow it (a folder always is)")
    p.add_argument("--label-names", default=None,
                   help="comma-separated CSV column names for the label columns")
    add_options(p.add_argument_group("decoding settings"), LiveSettings)
    p.set_defaults(func=handler)


def _load_npy(path: Path, what: str):
    import numpy as np

    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist.")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        raise ValueError(f"{what} {path} is not a plain numeric .npy array ({err}).") from err


def _open_csv(path: Path, overwrite: bool):
    """A fresh file, never through a link planted at ``path``: checked, then created with
    O_EXCL (``"x"``); ``--overwrite`` removes the old entry (a link itself, not its target)."""
    from napari_cebra.files import check_target

    check_target(path, overwrite=overwrite, what="output CSV")
    if overwrite and os.path.lexists(path):
        os.unlink(path)
    return open(path, "x", encoding="utf-8", newline="")


def _fmt(value) -> str:
    """One CSV cell: floats in their shortest exact form, classes as text (quoted if needed)."""
    kind = getattr(getattr(value, "dtype", None), "kind", "")
    text = repr(float(value)) if kind == "f" else str(value.item() if kind else value)
    if any(c in text for c in ',"\n'):
        text = '"' + text.replace('"', '""') + '"'
    return text


def handler(args: argparse.Namespace) -> int:
    from napari_cebra.files import check_target
    from napari_cebra.live import LiveDecoder, RawFrames, open_source, stream_batches

    if args.k < 1:
        raise UsageError(f"--k {args.k}: give at least one neighbour.")
    if args.realtime and not args.fs:
        raise UsageError("--realtime needs --fs (the rate to replay at).")
    check_target(args.out, overwrite=args.overwrite, what="output CSV")
    if not args.model.is_file():
        raise FileNotFoundError(f"model file {args.model} does not exist.")
    if args.rois is not None and not args.rois.exists():
        raise FileNotFoundError(f"ROI folder {args.rois} does not exist.")
    if not args.source.exists() and not (args.follow and args.source.parent.is_dir()):
        raise FileNotFoundError(f"source {args.source} does not exist.")
    traces = _load_npy(args.fit_traces, "--fit-traces")
    labels = _load_npy(args.fit_labels, "--fit-labels")
    if labels.ndim not in (1, 2) or len(labels) != len(traces):
        raise ValueError(f"--fit-labels has shape {labels.shape}; it needs one row per time "
                         f"point of --fit-traces ({len(traces)}).")
    names = [n.strip() for n in args.label_names.split(",")] if args.label_names else None

    from napari_cebra.model_files import load_model

    model, _, columns = load_model(args.model, device="cpu")
    if names is None and columns and len(columns) == (1 if labels.ndim == 1 else labels.shape[1]):
        names = list(columns)
    frontend = None
    if args.rois is not None:
        from napari_cebra.imaging.suite2p_read import read_suite2p

        plane = read_suite2p(args.rois)  # the curated cells, unless the model saw every ROI
        every_roi = traces.shape[1] == plane.n_rois != int((plane.iscell[:, 0] > 0.5).sum())
        frontend = RawFrames.from_suite2p(
            args.rois, fs=args.fs, neuropil_coefficient=args.neuropil_coefficient,
            baseline=args.baseline, window_s=args.window_s, cells_only=not every_roi)
    decoder = LiveDecoder.from_training(
        model, traces, labels, session_id=args.session_id, n_neighbors=args.k,
        discrete=args.discrete, frontend=frontend, label_names=names)
    fs = args.fs or (frontend.fs if frontend is not None else None)
    lag = decoder.lag_frames
    lag_time = f" = {1e3 * lag / fs:.0f} ms at {fs:g} Hz" if fs and lag else ""
    how = (f"frame t is decoded when frame t + {lag} arrives" if lag else
           "each frame is decoded as it arrives")
    print(f"lag: {lag} frames{lag_time} ({model.model_architecture}: {how}), besides the "
          "compute latency per frame.", file=sys.stderr)
    source = open_source(args.source, fs=args.fs if args.realtime else None,
                         follow=args.follow, idle_s=args.idle_s)
    writer = LiveCsv(args.out, args.overwrite, decoder.label_names)
    shown = 0
    try:
        gen = stream_batches(decoder, source, interval_s=0.1)
        summary = None
        while summary is None:
            try:
                batch = next(gen)
            except StopIteration as stop:
                summary = stop.value
                break
            writer.write(batch.results, batch.skipped)
            for err in batch.errors:
                shown += 1
                if shown <= MAX_SHOWN_ERRORS:
                    print(f"napari-cebra live: {err}", file=sys.stderr)
        writer.finish()
    finally:
        writer.close()
    if not summary.decoded:  # no file was written: a retry is not refused as "exists"
        raise ValueError(f"{summary.message} Nothing was decoded, so {args.out} was not "
                         f"written ({summary.skipped} frames refused).")
    stats = summary.latency_percentiles()
    print(f"{summary.message} Decoded {summary.decoded} frames to {args.out}: latency p50 "
          f"{stats['p50']:.3f} ms, p99 {stats['p99']:.3f} ms, max {stats['max']:.3f} ms; lag "
          f"{lag} frames; {summary.skipped} bad frames skipped (named in the CSV's 'skipped' "
          f"column), {summary.dropped} dropped.")
    return 1 if summary.failed else 0


class LiveCsv:
    """The live CSV: ``frame`` (the source's own frame number), ``latency_ms``, the labels,
    ``skipped`` (why a frame was not decoded; empty for decoded rows). Rows are in frame
    order, each written whole and flushed. The file is created with the first decoded row:
    a run that decodes nothing leaves no file."""

    def __init__(self, path: Path, overwrite: bool, label_names) -> None:
        self.path, self.overwrite, self.names = path, overwrite, list(label_names)
        self.fh = None
        self.pending: list[tuple[int, str]] = []  # skipped frames not yet written

    def _row(self, cells) -> str:
        return ",".join(cells) + "\n"

    def _skips_before(self, frame: float) -> str:
        self.pending.sort()
        lines = [self._row([str(n), "", *([""] * len(self.names)), _fmt(why)])
                 for n, why in self.pending if n < frame]
        self.pending = [(n, why) for n, why in self.pending if n >= frame]
        return "".join(lines)

    def write(self, results, skipped) -> None:
        self.pending += [(n, why) for n, why in skipped if n >= 0]
        if not results:
            return
        if self.fh is None:
            self.fh = _open_csv(self.path, self.overwrite)
            self.fh.write(self._row(["frame", "latency_ms", *self.names, "skipped"]))
        for r in results:
            text = self._skips_before(r.frame) + self._row(
                [str(r.frame), f"{r.latency_ms:.4f}", *(_fmt(v) for v in r.value), ""])
            self.fh.write(text)  # whole lines per write
        self.fh.flush()

    def finish(self) -> None:
        if self.fh is not None and self.pending:
            self.fh.write(self._skips_before(float("inf")))
            self.fh.flush()

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
