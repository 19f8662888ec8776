"""``napari-cebra curate``: mark, filter, merge or remove a suite2p plane's ROIs from the shell.

The same core as the napari curation view (``imaging.curation``): thresholds come from
:class:`~napari_cebra.imaging.roi_stats.CellFilter`, ``--soma`` is the soma-size rule
``decode --stack`` uses. Nothing is written without ``--save`` (a dry run prints the result).
"""

from __future__ import annotations

import argparse
import sys


def _indices(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give ROI indices like 3 or 3,4,7") from None


def register(subparsers) -> None:
    from napari_cebra.imaging.roi_stats import CellFilter

    from ._options import add_options

    p = subparsers.add_parser(
        "curate", help="mark / filter / merge / remove a suite2p plane's ROIs",
        description="Curate the ROIs of a suite2p plane folder and save them in suite2p's own "
        "files (iscell.npy …; the originals are kept as *.orig.npy). Steps run in this order: "
        "--cell, --not-cell, --remove, --merge, then the filter thresholds.")
    p.add_argument("plane", help="suite2p output folder (or its plane folder)")
    p.add_argument("--cell", type=_indices, default=[], help="ROIs to mark as cells (3,4,7)")
    p.add_argument("--not-cell", type=_indices, default=[], help="ROIs to mark as not cells")
    p.add_argument("--remove", type=_indices, default=[], help="ROIs to delete")
    p.add_argument("--merge", type=_indices, action="append", default=[],
                   help="ROIs to merge into one (traces re-extracted); repeatable")
    add_options(p.add_argument_group("thresholds (the defaults keep every ROI)"), CellFilter)
    p.add_argument("--soma", action="store_true",
                   help="keep only soma-sized cells (0.5–2.5 × the median cell's pixels)")
    p.add_argument("--stats", default=None, help="write the per-ROI statistics to this .csv")
    p.add_argument("--save", action="store_true", help="write the result into the folder")
    p.add_argument("--discard", action="store_true",
                   help="restore the folder's original files (from *.orig.npy) and stop")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from napari_cebra.files import write_text
    from napari_cebra.imaging.curation import Curation
    from napari_cebra.imaging.roi_stats import CellFilter

    from ._options import settings_from_args

    c = Curation.open(args.plane)
    if args.discard:
        c.discard()
        print(f"{c.plane_dir}: restored; {c.n_rois} ROIs, {len(c.cells)} cells "
              f"(curation {c.hash}).", file=sys.stderr)
        return 0
    if args.cell:
        c.set_cell(args.cell, True)
    if args.not_cell:
        c.set_cell(args.not_cell, False)
    if args.remove:
        c.remove(args.remove)
    for group in args.merge:
        c.merge(group)
    chosen = settings_from_args(CellFilter, args)
    if chosen != CellFilter() or args.soma:
        c.filter(**chosen.thresholds(), soma=args.soma)
    if args.stats:
        write_text(args.stats, c.statistics().to_csv(), what="statistics file")
    if args.save:
        c.save()
    verb = "saved" if args.save else "dry run (add --save to write)"
    print(f"{c.plane_dir}: {c.n_rois} ROIs, {len(c.cells)} cells (curation {c.hash}); {verb}.",
          file=sys.stderr)
    return 0
