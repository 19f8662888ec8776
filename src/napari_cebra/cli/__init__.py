"""``napari-cebra`` command line: batch work without a screen.

Each module in this package that defines ``register(subparsers)`` adds one subcommand; the
subcommand's handler is stored with ``parser.set_defaults(func=handler)`` and receives the parsed
``argparse.Namespace``. Modules import their heavy dependencies inside the handler.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-cebra",
        description="Calcium imaging → suite2p → CEBRA embeddings → decoding, from napari or here.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError, PermissionError) as err:
        print(f"napari-cebra {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
