"""Run a study: every session with one set of settings (:func:`run_study`) or a grid of them,
chosen on validation and refitted (:func:`sweep`). Tasks go to Dask as futures; finished tasks
are skipped, failed ones recorded, lost ones (a killed worker) run again elsewhere."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import tasks
from .output import claim, forget_stale
from .results import write_results
from .study import Session, read_study

#: what a sweep grid may vary (and anything else of ``pipeline.TrainSettings``)
GRID_KEYS = ("model_architecture", "output_dimension", "max_iterations", "learning_rate",
             "temperature", "conditional")
RETRIES = 2  # a task whose worker died runs again (twice at most)
CONSISTENCY_NAME = "consistency.csv"
#: a sweep of more tasks than this runs only when confirmed (``yes=True``, ``--yes``)
CONFIRM_TASKS = 200


def _settings_keys() -> set[str]:
    from dataclasses import fields

    from napari_cebra.pipeline import TrainSettings

    return {f.name for f in fields(TrainSettings)} - {"test_fraction"}


def check_settings(settings: Mapping[str, Any]) -> dict:
    """Settings as a plain dict, checked (unknown names and bad values are named)."""
    from napari_cebra.engine.sampling import CONDITIONALS
    from napari_cebra.pipeline import TrainSettings

    known = _settings_keys() | set(tasks.EXTRA_SETTINGS)
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}; use {', '.join(GRID_KEYS)} "
                         f"or {', '.join(sorted(known - set(GRID_KEYS)))}.")
    conditional = settings.get("conditional")
    if conditional is not None and conditional not in CONDITIONALS:
        raise ValueError(f"conditional {conditional!r}: use one of {', '.join(CONDITIONALS)}.")
    TrainSettings.from_dict(settings)  # raises a clear ValueError on a bad value
    return dict(settings)


def count_grid(grid: Mapping[str, Any]) -> int:
    """How many combinations a grid makes (without making them)."""
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("a sweep grid is a non-empty mapping of setting → list of values, "
                         'e.g. {"output_dimension": [3, 8], "learning_rate": [1e-3, 3e-4]}.')
    count = 1
    for value in grid.values():
        count *= len(value) if isinstance(value, (list, tuple)) else 1
    return count


def check_sweep_size(n_sessions: int, grid: Mapping[str, Any], yes: bool = False) -> int:
    """The number of tasks of a sweep; above :data:`CONFIRM_TASKS` it must be confirmed."""
    combos = count_grid(grid)
    n_tasks = n_sessions * combos + n_sessions  # every combination, then one refit each
    if n_tasks > CONFIRM_TASKS and not yes:
        raise ValueError(
            f"this sweep is {n_tasks:,} tasks ({n_sessions} sessions × {combos:,} "
            f"combinations, plus a refit per session), more than {CONFIRM_TASKS}; each task "
            "trains a model. Narrow the grid, or confirm with --yes (yes=True from Python).")
    return n_tasks


def expand_grid(grid: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> list[dict]:
    """Every combination of the grid's values (a value or a list per setting), over ``base``."""
    count_grid(grid)
    names = list(grid)
    values = []
    for name in names:
        v = grid[name]
        v = list(v) if isinstance(v, (list, tuple)) else [v]
        if not v:
            raise ValueError(f"sweep grid: {name} has no values; give at least one.")
        values.append(v)
    combos = [{**dict(base or {}), **dict(zip(names, c, strict=True))}
              for c in itertools.product(*values)]
    return [check_settings(c) for c in combos]


def _sessions(study: str | Path | Sequence[Session]) -> list[Session]:
    return read_study(study) if isinstance(study, (str, Path)) else list(study)


def _spec(session: Session, settings: dict, stage: str, out: Path) -> dict:
    s = session.to_dict()
    return {"session": s, "settings": settings, "stage": stage, "out": str(out),
            "key": tasks.task_key(s, settings, stage)}


# -- running tasks ----------------------------------------------------------------------------
def run_tasks(specs: Sequence[dict], out: Path, client=None, *, progress: bool = True,
              desc: str = "tasks") -> list[dict]:
    """Run the specs (finished ones are read back, not rerun); one row per spec, in order.

    ``client``: a Dask client; ``None`` runs them one after another in this process.
    """
    from tqdm import tqdm

    rows: dict[str, dict] = {}
    todo = []
    for spec in specs:
        found = tasks.done_result(out, spec["key"])
        if found is not None:
            rows[spec["key"]] = found
        else:
            todo.append(spec)
    bar = tqdm(total=len(specs), initial=len(rows), desc=desc, unit="task", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)
    try:
        if client is None:
            _run_here(todo, out, rows, bar)
        else:
            _run_on(client, todo, out, rows, bar)
    finally:
        bar.close()
    return [rows[s["key"]] for s in specs if s["key"] in rows]


def _failed(spec: dict, err: BaseException) -> dict:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return {"session": spec["session"]["session"], "stage": spec["stage"], "key": spec["key"],
            **spec["settings"], "status": "failed",
            "error": f"{type(err).__name__}: {text}".rstrip(": ")}


def _run_here(todo: list[dict], out: Path, rows: dict, bar) -> None:
    extracted: dict[str, str | BaseException] = {}
    for spec in todo:
        s = spec["session"]
        if s["kind"] == "stack" and s["session"] not in extracted:
            try:
                extracted[s["session"]] = tasks.extract(s, out)
            except Exception as err:  # noqa: BLE001 - the session's rows say why
                extracted[s["session"]] = err
        ex = extracted.get(s["session"])
        if isinstance(ex, BaseException):
            rows[spec["key"]] = _failed(spec, ex)
        else:
            rows[spec["key"]] = tasks.run_task(spec, ex)
        bar.update(1)


def _run_on(client, todo: list[dict], out: Path, rows: dict, bar) -> None:
    from distributed import as_completed

    from .cluster import has_gpu_workers

    resources = {"GPU": 1} if has_gpu_workers(client) else None
    extract_futures = {}
    futures = {}
    for spec in todo:
        s = spec["session"]
        ex = None
        if s["kind"] == "stack":
            if s["session"] not in extract_futures:
                key = "extract-" + tasks.extract_folder(s, out).name
                extract_futures[s["session"]] = client.submit(
                    tasks.extract, s, str(out), key=key, pure=False, retries=RETRIES,
                    resources=resources)
            ex = extract_futures[s["session"]]
        future = client.submit(tasks.run_task, spec, ex, key=spec["key"], pure=False,
                               retries=RETRIES, resources=resources)
        futures[future] = spec
    try:
        for future in as_completed(list(futures)):
            spec = futures[future]
            try:
                rows[spec["key"]] = future.result()
            except Exception as err:  # noqa: BLE001 - extraction failed or worker lost for good
                rows[spec["key"]] = _failed(spec, err)
            bar.update(1)
    except BaseException:
        client.cancel(list(futures) + list(extract_futures.values()))
        raise


def _with_client(client, workers, scheduler, run):
    """Call ``run(client)`` on the given client, a new local cluster, or in-process
    (``workers=0``)."""
    if client is not None or workers == 0:
        return run(client)
    from .cluster import open_client

    with open_client(workers, scheduler) as new:
        return run(new)


# -- a study, a sweep -------------------------------------------------------------------------
def run_study(study, out: str | Path, settings: Mapping[str, Any] | None = None, *,
              client=None, workers: int | None = None, scheduler: str | None = None,
              progress: bool = True):
    """Every session of ``study`` (a CSV path or :class:`Session` list) trained with
    ``settings``, scored on validation and test; returns the results as a DataFrame (also
    ``out/results.csv``). ``workers=0`` runs in this process, one task after another."""
    sessions = _sessions(study)
    settings = check_settings(settings or {})
    out = claim(out, _study_name(study)).resolve()  # new, or ours; writable; before any work
    forget_stale(out, CONSISTENCY_NAME)  # never an earlier study's table beside these results
    specs = [_spec(s, settings, "final", out) for s in sessions]
    rows: list[dict] = []
    try:
        rows = _with_client(client, workers, scheduler,
                            lambda c: run_tasks(specs, out, c, progress=progress,
                                                desc="sessions"))
    finally:  # stopped part-way: the table lists what finished
        frame = write_results(rows or _rows_on_disk(specs, out), out)
    write_consistency(rows, out)
    return frame


def sweep(study, grid: Mapping[str, Any], out: str | Path,
          settings: Mapping[str, Any] | None = None, *, client=None, workers: int | None = None,
          scheduler: str | None = None, progress: bool = True, yes: bool = False):
    """Try every combination of ``grid`` on every session (train on the training split, score
    on validation), refit the best per session on training + validation and test it.
    More than :data:`CONFIRM_TASKS` tasks run only with ``yes=True``.

    Returns a DataFrame of every task (``stage`` ``select`` or ``final``; the ``final`` rows
    are the chosen settings), also written to ``out/results.csv``; the cross-session
    consistency of the final embeddings goes to ``out/consistency.csv``.
    """
    sessions = _sessions(study)
    unlabelled = [s.session for s in sessions if not (s.labels or s.discrete)]
    if unlabelled:
        raise ValueError(f"session(s) {', '.join(unlabelled)} have no labels; a sweep chooses "
                         "settings by decoding labels on the validation split: give a labels "
                         "or discrete file for every session.")
    check_sweep_size(len(sessions), grid, yes)
    combos = expand_grid(grid, settings)
    out = claim(out, _study_name(study)).resolve()  # new, or ours; writable; before any work
    forget_stale(out, CONSISTENCY_NAME)  # never an earlier study's table beside these results
    select = [_spec(s, c, "select", out) for s in sessions for c in combos]
    rows: list[dict] = []
    finals: list[dict] = []

    def run(c):
        done = run_tasks(select, out, c, progress=progress, desc="sweep")
        rows.extend(done)
        for s in sessions:
            best = best_settings(done, s.session)
            if best is not None:
                finals.append(_spec(s, best, "final", out))
        rows.extend(run_tasks(finals, out, c, progress=progress, desc="refit best"))

    complete = False
    try:
        _with_client(client, workers, scheduler, run)
        complete = True
    finally:  # stopped part-way: the table lists what finished
        frame = write_results(rows if complete else _rows_on_disk(select + finals, out), out)
    write_consistency(rows, out)
    return frame


def _study_name(study) -> str | None:
    return str(Path(study).resolve()) if isinstance(study, (str, Path)) else None


def _rows_on_disk(specs: Sequence[dict], out: Path) -> list[dict]:
    """The finished tasks' records among ``specs`` (after an interruption)."""
    found = (tasks.done_result(out, s["key"]) for s in specs)
    return [r for r in found if r is not None]


def best_settings(rows: Sequence[dict], session: str) -> dict | None:
    """The settings of the session's best validation score (``None`` if none finished)."""
    keys = _settings_keys() | set(tasks.EXTRA_SETTINGS)
    scored = [r for r in rows if r.get("session") == session and r.get("status") == "done"
              and np.isfinite(float(r.get("val_score", np.nan)))]
    if not scored:
        return None
    best = max(scored, key=lambda r: float(r["val_score"]))  # ties: the first in the grid
    return {k: best[k] for k in best if k in keys and k != "conditional"} | (
        {"conditional": best["conditional"]} if "conditional" in best and best.get(
            "conditional") is not None else {})


def write_consistency(rows: Sequence[dict], out: Path) -> Path | None:
    """The cross-session consistency matrix of the final embeddings (R² of the linear map
    from each session to each other, aligned by bins of the first continuous label), as
    ``out/consistency.csv``; ``None`` when fewer than two sessions have one."""
    from napari_cebra.analysis.metrics import consistency_matrix
    from napari_cebra.embedding_files import load_embedding
    from napari_cebra.files import atomic_write

    names, embs, labels = [], [], []
    for r in rows:
        if r.get("stage") != "final" or r.get("status") != "done" or r.get("score_kind") != "r2":
            continue
        emb, _, lab = load_embedding(r["embedding"])
        first = next((k for k, v in lab.items() if np.asarray(v).dtype.kind == "f"), None)
        if first is None:
            continue
        names.append(r["session"])
        embs.append(emb)
        labels.append(np.asarray(lab[first], np.float64))
    if len(names) < 2:
        return None
    matrix = consistency_matrix(embs, labels=labels, n_bins=min(100, min(map(len, embs)) // 4))
    import pandas as pd

    path = out / CONSISTENCY_NAME
    with atomic_write(path, "w", overwrite=True, what="consistency table", newline="") as fh:
        pd.DataFrame(matrix, index=names, columns=names).to_csv(fh, index_label="session")
    return path
