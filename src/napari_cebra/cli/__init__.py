"""``napari-cebra`` command line: batch work without a screen.

Each module in this package that defines ``register(subparsers)`` adds one subcommand; the
subcommand's handler is stored with ``parser.set_defaults(func=handler)`` and receives the parsed
``argparse.Namespace``. Modules import their heavy dependencies inside the handler, and check
every output path before they load data or train.

Exit status: 0 done, 1 the work failed (the message says why), 2 a usage error (bad or missing
options), 130 stopped by Ctrl-C, 143 stopped by SIGTERM. A user error is one line on stderr,
never a traceback; a stopped job leaves no partial file (every write is atomic).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import pkgutil
import signal
import sys
import zipfile


class UsageError(Exception):
    """The options given cannot work together (exit status 2)."""


class Terminated(BaseException):
    """SIGTERM arrived; raised in the main thread so every ``finally`` cleans up."""


# What a user can cause, reported as one line (anything else is a bug and keeps its traceback).
USER_ERRORS = (ValueError, TypeError, KeyError, OSError, RuntimeError, MemoryError, EOFError,
               zipfile.BadZipFile)


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


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


@contextlib.contextmanager
def _sigterm_raises():
    """Turn SIGTERM into :class:`Terminated` while a command runs (main thread only)."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, or a usage error argparse has printed
        return done.code if isinstance(done.code, int) else 2
    except KeyboardInterrupt:
        print("\nnapari-cebra: stopped (Ctrl-C).", file=sys.stderr)
        return 130
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    name = f"napari-cebra {args.command}"
    logging.basicConfig(level=logging.WARNING, format="napari-cebra: %(message)s")
    try:
        with _sigterm_raises():
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"\n{name}: stopped (Ctrl-C); finished files are kept, no partial file is left.",
              file=sys.stderr)
        return 130
    except Terminated:
        print(f"\n{name}: stopped (SIGTERM); finished files are kept, no partial file is left.",
              file=sys.stderr)
        return 143
    except UsageError as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        return 2
    except USER_ERRORS as err:
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"{name}: error: {text}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
