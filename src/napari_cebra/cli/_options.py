"""Command-line options generated from a job's settings class (``napari_cebra.settings``).

    add_options(parser, TrainSettings, exclude=("test_fraction",))
    settings = settings_from_args(TrainSettings, args, hybrid=args.hybrid)

Each declared field becomes one option: its name (``setting(cli=...)`` or the field's name
with dashes), type, default, choices, and ``--help`` text with the allowed range and unit. The
value lands in ``args.<field name>``. A value out of range is refused by argparse with the same
message the form and the JSON reader give.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from napari_cebra.settings import Field, fields_of, message, problem


def cli_fields(cls: type, exclude: Iterable[str] = (),
               only: Iterable[str] | None = None) -> list[Field]:
    """The fields of ``cls`` that :func:`add_options` turns into options."""
    exclude, only = set(exclude), (set(only) if only is not None else None)
    return [f for f in fields_of(cls) if f.cli and f.name not in exclude
            and (only is None or f.name in only)]


def help_text(f: Field) -> str:
    """``help`` plus the allowed values, unit and default, as ``--help`` shows them."""
    ranged = (f.fixed_choices is None and (f.min is not None or f.max is not None)) or (
        f.type is tuple)
    allowed = f"{f.rule()}; " if ranged else ""
    if f.optional and f.none:
        allowed = allowed[:-2] + f" or {f.none}; " if allowed else f"or {f.none}; "
    return f"{f.help} ({allowed}default {_shown(f.default, f)})".replace("%", "%%")


def _shown(value: Any, f: Field) -> str:
    if value is None:
        return f.none or "none"
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _parser(f: Field):
    """The argparse ``type``: converts, then checks the range with the shared message."""
    base = {int: int, float: float, Path: Path}.get(f.type, str)
    if f.type is tuple:
        base = _comma_list

    def parse(text: str) -> Any:
        if f.optional and text.strip().lower() in ("none", f.none.lower() or "none"):
            return None
        try:
            value = base(text)
        except ValueError:
            raise argparse.ArgumentTypeError(message(f, text)) from None
        if problem(f, value) is not None:
            raise argparse.ArgumentTypeError(message(f, value))
        return value

    parse.__name__ = getattr(base, "__name__", "value")
    return parse


def _comma_list(text: str) -> tuple[str, ...]:
    """``"raw,pca"`` → ``("raw", "pca")``; ``""`` → ``()``."""
    return tuple(v.strip() for v in text.split(",") if v.strip())


def add_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type, *,
                exclude: Iterable[str] = (), only: Iterable[str] | None = None,
                defaults: dict[str, Any] | None = None) -> list[Field]:
    """Add one option per declared field of ``cls`` (see the module docstring).

    ``defaults`` overrides a field's default for this subcommand only (e.g. decode trains
    with a larger output dimension); returns the fields added.
    """
    defaults = defaults or {}
    added = cli_fields(cls, exclude, only)
    for f in added:
        default = defaults.get(f.name, f.default)
        if f.type is bool:
            parser.add_argument(f.cli, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=default, help=f.help.replace("%", "%%"))
            continue
        kwargs: dict[str, Any] = dict(dest=f.name, default=default, help=help_text(f))
        if f.type is tuple:
            kwargs["type"] = _parser(f)
            kwargs["metavar"] = ",".join(f.fixed_choices or ("A", "B"))
        elif f.fixed_choices is not None:
            kwargs["choices"] = f.fixed_choices
            kwargs["type"] = type(f.fixed_choices[0]) if f.fixed_choices else str
        else:
            kwargs["type"] = _parser(f)
        parser.add_argument(f.cli, **kwargs)
    return added


def settings_from_args(cls: type, args: argparse.Namespace, **extra: Any):
    """``cls`` built from the options :func:`add_options` added (``extra`` wins)."""
    values = {f.name: getattr(args, f.name) for f in fields_of(cls) if hasattr(args, f.name)}
    values.update(extra)
    return cls(**values)


def values_from_args(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The declared fields of ``cls`` found on ``args``, as a dict."""
    return {f.name: getattr(args, f.name) for f in fields_of(cls) if hasattr(args, f.name)}
