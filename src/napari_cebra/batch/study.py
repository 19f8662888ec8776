"""The study file: one row per session, read and checked before any work starts.

Columns: ``session`` (a unique name), ``path`` (a stack ``.tif``/``.tiff``, a suite2p output
folder, an ``.nwb`` file or a ``(time, neurons)`` ``.npy``), ``fs`` (frame rate in Hz; may be
left empty for suite2p folders and NWB files, which carry it), and optionally ``labels`` (a
``.npy``/``.csv`` of continuous labels, one row per frame), ``discrete`` (a ``.npy``/``.csv`` of
integer labels) and ``test_fraction`` (the end of the session held out for testing; 0.2 by
default; the same length before it validates). Relative paths are relative to the study file.
Every problem is reported at once, one line per bad row or column.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from napari_cebra.limits import MAX_RATE_HZ

REQUIRED = ("session", "path")
OPTIONAL = ("fs", "labels", "discrete", "test_fraction")
STACK_SUFFIXES = (".tif", ".tiff")
DEFAULT_TEST_FRACTION = 0.2


class StudyError(ValueError):
    """The study file cannot be run; the message lists every bad row or column."""


@dataclass(frozen=True)
class Session:
    """One row of the study, with absolute paths and the kind of input it names."""

    session: str
    path: str
    kind: str  # "stack", "suite2p", "nwb" or "npy"
    fs: float | None = None
    labels: str | None = None
    discrete: str | None = None
    test_fraction: float = DEFAULT_TEST_FRACTION

    def to_dict(self) -> dict:
        return asdict(self)


def kind_of(path: Path) -> str | None:
    """What a session path holds, from its name (``None``: not a supported input)."""
    if path.is_dir():
        return "suite2p"
    suffix = path.suffix.lower()
    if suffix in STACK_SUFFIXES:
        return "stack"
    return {".nwb": "nwb", ".npy": "npy"}.get(suffix)


def read_study(path: str | Path) -> list[Session]:
    """The sessions of a study CSV; raises :class:`StudyError` naming every bad row/column."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise StudyError(f"study file {path} does not exist; give a CSV with columns "
                         f"{', '.join(REQUIRED + OPTIONAL)} (one row per session).")
    import io

    from napari_cebra.imaging.text_tables import read_text

    try:
        text = read_text(path, "study file")  # UTF-8 (BOM or not); Latin-1 named
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                            skipinitialspace=True)
    except (ValueError, PermissionError) as err:
        if str(path) in str(err):
            raise StudyError(str(err)) from err
        raise StudyError(f"study file {path} is not a readable CSV ({err}).") from err
    except pd.errors.ParserError as err:
        raise StudyError(f"study file {path} is not a readable CSV ({err}).") from err
    table.columns = [str(c).strip() for c in table.columns]
    problems: list[str] = []
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        problems.append(f"column(s) {', '.join(missing)} missing: the header must name at "
                        f"least {', '.join(REQUIRED)}.")
    unknown = [c for c in table.columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        problems.append(f"column(s) {', '.join(map(repr, unknown))} unknown: use only "
                        f"{', '.join(REQUIRED + OPTIONAL)}.")
    if problems:
        raise StudyError(f"study file {path}:\n  " + "\n  ".join(problems))
    if table.empty:
        raise StudyError(f"study file {path} has no sessions; add one row per session.")
    sessions, seen = [], {}
    for i, row in enumerate(table.to_dict("records")):
        where = f"row {i + 2}"  # the header is line 1
        values = {k: str(row.get(k, "")).strip() for k in REQUIRED + OPTIONAL}
        session, errors = _session(values, path.parent, where)
        if session is not None and session.session in seen:
            errors.append(f"{where}: session name {session.session!r} is also on "
                          f"{seen[session.session]}; give every session its own name.")
        if errors:
            problems.extend(errors)
        else:
            seen[session.session] = where
            sessions.append(session)
    if problems:
        raise StudyError(f"study file {path}:\n  " + "\n  ".join(problems))
    return sessions


def _file(text: str, base: Path) -> Path:
    p = Path(text).expanduser()
    return p if p.is_absolute() else (base / p)


def _number(text: str, name: str, where: str, errors: list[str]) -> float | None:
    try:
        value = float(text)
    except ValueError:
        errors.append(f"{where}: {name} {text!r} is not a number.")
        return None
    if not math.isfinite(value):
        errors.append(f"{where}: {name} {text!r} is not a finite number.")
        return None
    return value


def _session(values: dict, base: Path, where: str) -> tuple[Session | None, list[str]]:
    errors: list[str] = []
    name = values["session"]
    if not name:
        errors.append(f"{where}: the session name is empty; give every row a name.")
    elif not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", name):
        errors.append(f"{where}: session name {name!r} may hold only letters, digits, '_', '-' "
                      "and '.' (it names files); rename it.")
    where = f"{where} (session {name!r})" if name else where
    kind = None
    if not values["path"]:
        errors.append(f"{where}: path is empty; give the recording (stack .tif, suite2p "
                      "folder, .nwb or (time, neurons) .npy).")
        path = None
    else:
        path = _file(values["path"], base)
        if not path.exists():
            errors.append(f"{where}: path {path} does not exist; fix the path (relative paths "
                          "are relative to the study file).")
        else:
            kind = kind_of(path)
            if kind is None:
                errors.append(f"{where}: path {path.name} is not a supported input; use a "
                              "stack .tif, a suite2p folder, an .nwb file or a .npy.")
    fs = None
    if values["fs"]:
        fs = _number(values["fs"], "fs", where, errors)
        if fs is not None and not 0 < fs <= MAX_RATE_HZ:
            errors.append(f"{where}: fs {values['fs']} must be a positive frame rate in Hz, "
                          f"at most {MAX_RATE_HZ:g} (a rate above is a typo or a wrong unit).")
    elif kind in ("stack", "npy"):
        errors.append(f"{where}: fs is empty; a {kind} does not carry its frame rate, give it "
                      "in Hz.")
    test_fraction = DEFAULT_TEST_FRACTION
    if values["test_fraction"]:
        value = _number(values["test_fraction"], "test_fraction", where, errors)
        if value is not None and not 0.0 < value < 0.5:
            errors.append(f"{where}: test_fraction {values['test_fraction']} must be between "
                          "0 and 0.5 (the same length before the test part validates).")
        elif value is not None:
            test_fraction = value
    files = {}
    for column in ("labels", "discrete"):
        if not values[column]:
            files[column] = None
            continue
        label_path = _file(values[column], base)
        if label_path.suffix.lower() not in (".npy", ".csv"):
            errors.append(f"{where}: {column} {label_path.name} must be a .npy or .csv file.")
        elif not label_path.is_file():
            errors.append(f"{where}: {column} file {label_path} does not exist; fix the path.")
        files[column] = str(label_path.resolve())
    if errors:
        return None, errors
    return Session(session=name, path=str(path.resolve()), kind=kind, fs=fs,
                   labels=files["labels"], discrete=files["discrete"],
                   test_fraction=test_fraction), []
