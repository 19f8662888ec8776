"""Regenerate the sample files in this folder (or in FOLDER).

    python sample_data/make_sample_data.py              # into sample_data/, keeping files
    python sample_data/make_sample_data.py --overwrite  # replace them (each file whole)
    python sample_data/make_sample_data.py /some/folder

The files are simulated (seeded, offline): see ``napari_cebra.sample_files`` for what each is.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", nargs="?", type=Path, default=Path(__file__).resolve().parent)
    p.add_argument("--overwrite", action="store_true", help="replace existing sample files")
    args = p.parse_args(argv)
    from napari_cebra.sample_files import NAMES, generate

    folder = generate(args.folder, overwrite=args.overwrite)
    for name in NAMES.values():
        path = folder / name
        print(f"{path.stat().st_size / 1e6:7.2f} MB  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
