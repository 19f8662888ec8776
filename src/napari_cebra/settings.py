"""A job's settings, declared once.

Every job (extract, train, decode, live, batch, curate, hypotheses, …) declares its settings as
a :mod:`dataclasses` dataclass whose fields are made with :func:`setting`. Each field carries
its default, its range or choices, its unit and its help text; from that one declaration come
the dock widget's form, the command line's options and ``--help``, validation with the same
message everywhere, and the settings JSON saved beside models and reports.

    @dataclass
    class TrainSettings:
        output_dimension: int = setting(3, min=1, max=1024, help="embedding dimension")
        device: str = setting("auto", choices=("auto", "cpu", "cuda"), help="where to train")

No Qt here; the form builder lives in ``napari_cebra.gui``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

_MISSING = dataclasses.MISSING


def setting(default: Any = _MISSING, *, help: str, min: float | None = None,
            max: float | None = None, choices: Sequence[Any] | None = None, unit: str = "",
            label: str = "", cli: str | None = None, gui: bool = True,
            default_factory: Any = _MISSING) -> Any:
    """A dataclass field with its metadata: ``help`` (one line), ``min``/``max`` (inclusive),
    ``choices``, ``unit``, ``label`` (the form's label; defaults to the name in words), ``cli``
    (the option's name, e.g. ``"--hidden-units"``; defaults to the field's name with dashes;
    ``""`` keeps it off the command line) and ``gui`` (False keeps it off the form)."""
    meta = {"help": help, "min": min, "max": max,
            "choices": tuple(choices) if choices is not None else None,
            "unit": unit, "label": label, "cli": cli, "gui": gui}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)
