"""A job's settings, declared once.

Every job (extract, train, decode, live, batch, curate, hypotheses, …) declares its settings as
a :mod:`dataclasses` dataclass deriving from :class:`Settings`, whose fields are made with
:func:`setting`. Each field carries its default, its range or choices, its unit and its help
text; from that one declaration come

- validation with the same message everywhere (:func:`validate`, run by ``__post_init__``),
- the settings JSON saved beside models and reports (:func:`to_dict` / :func:`from_dict`,
  :func:`to_json` / :func:`from_json`: unknown keys are ignored, wrong types or ranges raise),
- the command line's options and ``--help`` (``napari_cebra.cli._options.add_options``),
- the dock widget's form (``napari_cebra.gui.forms.SettingsForm``, magicgui).

    @dataclass
    class TrainSettings(Settings):
        output_dimension: int = setting(3, min=1, max=1024, help="embedding dimension")
        device: str = setting("auto", choices=("auto", "cpu", "cuda"), help="where to train")

Adding a parameter is one line; ``tests/test_settings_declared_once.py`` fails when the form,
the CLI and the JSON disagree. No Qt here.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

_MISSING = dataclasses.MISSING
S = TypeVar("S")


def setting(default: Any = _MISSING, *, help: str, min: float | None = None,
            max: float | None = None,
            choices: Sequence[Any] | Callable[[], Sequence[Any]] | None = None,
            unit: str = "", label: str = "", cli: str | None = None, gui: bool = True,
            step: float | None = None, none: str = "", file_mode: str = "r",
            default_factory: Any = _MISSING) -> Any:
    """A dataclass field with its metadata.

    ``help`` (one line), ``min``/``max`` (inclusive), ``choices`` (a sequence, or a function
    returning one when the list is only known at run time, e.g. the registered models: such
    choices fill the form's combo box but are checked by the job, not here), ``unit``,
    ``label`` (the form's label; defaults to the name in words), ``cli`` (the option's name,
    e.g. ``"--hidden-units"``; defaults to the field's name with dashes; ``""`` keeps it off the
    command line), ``gui`` (False keeps it off the form), ``step`` (the form's spin step),
    ``none`` (for an ``X | None`` field: what None means, e.g. ``"random"``) and ``file_mode``
    (for a path: ``"r"`` an existing file, ``"w"`` a file to write, ``"d"`` a folder).
    """
    if choices is not None and not callable(choices):
        choices = tuple(choices)
    meta = {"help": help, "min": min, "max": max, "choices": choices, "unit": unit,
            "label": label, "cli": cli, "gui": gui, "step": step, "none": none,
            "file_mode": file_mode}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class Field:
    """One declared setting: its name, type and metadata (see :func:`setting`)."""

    name: str
    type: Any  # the base type: int, float, bool, str, Path, tuple, …
    optional: bool  # ``X | None``
    default: Any
    help: str
    min: float | None
    max: float | None
    choices: tuple | Callable[[], Sequence[Any]] | None
    unit: str
    label: str
    cli: str  # "--hidden-units"; "" when kept off the command line
    gui: bool
    step: float | None
    none: str
    file_mode: str

    @property
    def fixed_choices(self) -> tuple | None:
        """The choices when they are declared as a list (not computed at run time)."""
        return self.choices if isinstance(self.choices, tuple) else None

    def choice_values(self) -> tuple | None:
        """The allowed values, computing run-time choices (``(label, value)`` pairs → value)."""
        if self.choices is None:
            return None
        items = self.choices if isinstance(self.choices, tuple) else tuple(self.choices())
        return tuple(item[1] if isinstance(item, tuple) else item for item in items)

    def rule(self) -> str:
        """What the value must be, in words: ``1 to 1024``, ``one of 'a', 'b'``, ``≥ 0``."""
        if self.fixed_choices is not None:
            words = "any of " if self.type is tuple else "one of "
            return words + ", ".join(repr(c) for c in self.fixed_choices)
        unit = f" {self.unit}" if self.unit else ""
        if self.min is not None and self.max is not None:
            return f"{_num(self.min)} to {_num(self.max)}{unit}"
        if self.min is not None:
            return f"≥ {_num(self.min)}{unit}"
        if self.max is not None:
            return f"≤ {_num(self.max)}{unit}"
        return _TYPE_WORDS.get(self.type, getattr(self.type, "__name__", str(self.type)))


_TYPE_WORDS = {int: "a whole number", float: "a number", bool: "true or false", str: "text",
               Path: "a file path", tuple: "a list"}


def _num(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


class SettingsError(ValueError):
    """A setting out of range, of the wrong type or not among its choices; says which."""


@cache
def fields_of(cls: type) -> tuple[Field, ...]:
    """The declared settings of a settings class, in declaration order."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a settings dataclass.")
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if "help" not in f.metadata:
            continue  # a plain field, not a user-facing setting
        base, optional = _base_type(hints[f.name])
        default = f.default if f.default is not _MISSING else (
            f.default_factory() if f.default_factory is not _MISSING else _MISSING)
        meta = f.metadata
        cli = meta["cli"] if meta["cli"] is not None else "--" + f.name.replace("_", "-")
        out.append(Field(
            name=f.name, type=base, optional=optional, default=default, help=meta["help"],
            min=meta["min"], max=meta["max"], choices=meta["choices"], unit=meta["unit"],
            label=meta["label"] or f.name.replace("_", " ").capitalize(), cli=cli,
            gui=meta["gui"], step=meta.get("step"), none=meta.get("none", ""),
            file_mode=meta.get("file_mode", "r")))
    return tuple(out)


def field_of(cls: type, name: str) -> Field:
    for f in fields_of(cls):
        if f.name == name:
            return f
    raise KeyError(f"{cls.__name__} has no setting {name!r}.")


def _base_type(hint: Any) -> tuple[Any, bool]:
    """``int | None`` → ``(int, True)``; ``tuple[str, ...]`` → ``(tuple, False)``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        base, _ = _base_type(args[0]) if len(args) == 1 else (object, False)
        return base, len(args) < len(typing.get_args(hint))
    if origin is not None:
        return origin, False
    return hint, False


def problem(field: Field, value: Any) -> str | None:
    """Why ``value`` is not allowed for ``field``, in one sentence; None when it is."""
    if value is None:
        return None if field.optional else f"must be {field.rule()}, not empty"
    kind = field.type
    ok = {
        bool: lambda v: isinstance(v, bool) or type(v).__name__ == "bool_",
        int: lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool),
        float: lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool)
        and not math.isnan(float(v)),
        str: lambda v: isinstance(v, str),
        Path: lambda v: isinstance(v, str | os.PathLike),
    }.get(kind)
    if ok is not None and not ok(value):
        return f"must be {_TYPE_WORDS[kind]}"
    if kind is tuple:
        if not isinstance(value, tuple | list):
            return "must be a list"
        if field.fixed_choices is not None and any(v not in field.fixed_choices for v in value):
            return f"must be {field.rule()}"
        return None
    if field.fixed_choices is not None and value not in field.fixed_choices:
        return f"must be {field.rule()}"
    if kind in (int, float) and ((field.min is not None and value < field.min) or (
            field.max is not None and value > field.max)):
        return f"must be {field.rule()}"
    return None


def message(field: Field, value: Any, owner: str = "") -> str:
    """The one message for a bad value: name, value, what is allowed, what it is for."""
    where = f"{owner}: " if owner else ""
    return (f"{where}{field.name} = {value!r} {problem(field, value) or 'is not allowed'} "
            f"({field.help}).")


def validate(instance: Any) -> None:
    """Raise :class:`SettingsError` naming the first setting that is not allowed."""
    cls = type(instance)
    for f in fields_of(cls):
        value = getattr(instance, f.name)
        if problem(f, value) is not None:
            raise SettingsError(message(f, value, cls.__name__))


def to_dict(instance: Any) -> dict[str, Any]:
    """The settings as JSON-ready values (paths as text, tuples as lists)."""
    out = {}
    for f in dataclasses.fields(instance):
        out[f.name] = _jsonable(getattr(instance, f.name))
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


def from_dict(cls: type[S], values: Mapping[str, Any]) -> S:
    """Build ``cls`` from a dict, ignoring keys it does not know (e.g. engine-only params).

    Values come back to their declared type (a path from text, a tuple from a list, an int
    from ``3.0``); a value of the wrong type or out of range raises :class:`SettingsError`.
    """
    if not isinstance(values, Mapping):
        raise SettingsError(f"{cls.__name__}: expected a mapping of settings, got "
                            f"{type(values).__name__}.")
    declared = {f.name: f for f in fields_of(cls)}
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            continue
        f = declared.get(key)
        kwargs[key] = _coerce(f, value) if f is not None else value
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise SettingsError(f"{cls.__name__}: {err}") from err


def _coerce(f: Field, value: Any) -> Any:
    if value is None:
        return None
    if f.type is Path and isinstance(value, str):
        return Path(value)
    if f.type is tuple and isinstance(value, list):
        return tuple(value)
    if f.type is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if f.type is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def to_json(instance: Any) -> str:
    """The settings as a JSON object (one key per field), as saved beside results."""
    return json.dumps(to_dict(instance), indent=2) + "\n"


def from_json(cls: type[S], text: str | bytes) -> S:
    """Read what :func:`to_json` wrote; a damaged text or a bad value raises one clear error."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SettingsError(f"{cls.__name__}: not a JSON object of settings ({err}).") from err
    return from_dict(cls, data)


class Settings:
    """Base of a job's settings dataclass: validation on creation, dict/JSON round trip.

    Subclasses are ``@dataclass``es whose fields come from :func:`setting`; one that needs a
    cross-field check overrides ``__post_init__`` and calls ``super().__post_init__()`` first.
    """

    def __post_init__(self) -> None:
        validate(self)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls: type[S], values: Mapping[str, Any]) -> S:
        return from_dict(cls, values)

    def to_json(self) -> str:
        return to_json(self)

    @classmethod
    def from_json(cls: type[S], text: str | bytes) -> S:
        return from_json(cls, text)

    def replace(self: S, **changes: Any) -> S:
        """A copy with ``changes`` (validated)."""
        return dataclasses.replace(self, **changes)


#: every job's settings class, as ``"module:Class"`` (the list the declared-once test walks)
JOBS: dict[str, str] = {
    "extract": "napari_cebra.job_settings:ExtractSettings",
    "train": "napari_cebra.pipeline:TrainSettings",
    "decode": "napari_cebra.job_settings:DecodeSettings",
    "live": "napari_cebra.job_settings:LiveSettings",
    "batch": "napari_cebra.job_settings:BatchSettings",
    "hypotheses": "napari_cebra.analysis.hypotheses:HypothesisSettings",
    "behaviour": "napari_cebra.behaviour.settings:BehaviourSettings",
}


def registered() -> dict[str, type]:
    """Every job's settings class, by job name (imported on demand)."""
    import importlib

    out = {}
    for job, where in JOBS.items():
        module, name = where.split(":")
        out[job] = getattr(importlib.import_module(module), name)
    return out
