"""Hypothesis tests over a study: one task per session, in a Dask worker (or in-process).

Each session's ``labels`` file (CSV/NPY, named columns, one row per frame; empty cells are
missing) gives its continuous variables and its ``discrete`` file (if any) its classes; its
``test_fraction`` is the held-out block. A task writes ``DIR/hypotheses/<key>.json`` (the
report) and ``<key>.png`` (the figure) atomically, ``<key>`` being the session's name and a
hash of its inputs and the settings, so a rerun skips finished sessions. All models of all
sessions go to ``DIR/hypotheses.csv`` (one row per session × model).

    from napari_cebra.batch.hypotheses_tasks import run_hypotheses_study
    table = run_hypotheses_study("study.csv", "results/", {"max_iterations": 3000})
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import tasks
from .study import Session, read_study

TABLE_NAME = "hypotheses.csv"


def task_key(session: dict, settings: dict, discrete: Sequence[str]) -> str:
    h = tasks.digest({"inputs": tasks.input_digest(session), "settings": settings,
                      "discrete": sorted(discrete), "stage": "hypotheses"})
    return f"{session['session']}-hypotheses-{h[:12]}"


def report_path(out: str | Path, key: str) -> Path:
    return Path(out) / "hypotheses" / f"{key}.json"


def session_labels(session: dict, discrete: Sequence[str] = ()
                   ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The session's variables (name → (T,) float64, NaN where missing) and their kinds."""
    from napari_cebra.imaging.labels import read_label_table

    labels, kinds = {}, {}
    for column, kind in (("labels", "continuous"), ("discrete", "discrete")):
        if not session.get(column):
            continue
        for name, values in read_label_table(session[column]).items():
            if name == "time_s":
                continue
            if np.asarray(values).dtype == object:
                raise ValueError(f"{Path(session[column]).name}: column {name!r} is not "
                                 "numbers; give numeric labels (classes as integers).")
            key = name if name not in labels else f"{column}_{name}"
            labels[key] = np.asarray(values, np.float64)
            kinds[key] = "discrete" if kind == "discrete" or name in discrete else kind
    if not labels:
        raise ValueError(f"session {session['session']!r} has no labels file; a hypothesis "
                         "test compares behaviour variables: add a labels column.")
    return labels, kinds


def run_task(spec: dict) -> dict:
    """One session's hypothesis test; never raises for a problem of the session (the row
    says ``failed`` and why). Returns the session's row (status, report path, seconds)."""
    from napari_cebra.analysis.hypotheses import HypothesisSettings, run_hypotheses

    session, out, key = spec["session"], spec["out"], spec["key"]
    path = report_path(out, key)
    row: dict[str, Any] = {"session": session["session"], "key": key, "report": str(path)}
    if path.is_file():
        return {**row, "status": "done", "error": "", "seconds": 0.0}
    start = time.perf_counter()
    try:
        extracted = tasks.extract(session, out) if session["kind"] == "stack" else None
        neural, _ = tasks.load_inputs(session, extracted)
        labels, kinds = session_labels(session, spec.get("discrete", ()))
        settings = HypothesisSettings.from_dict(
            {**spec["settings"], "test_fraction": session["test_fraction"]})
        path.parent.mkdir(parents=True, exist_ok=True)
        result = run_hypotheses(neural, labels, kinds, settings, source=session["session"])
        result.plot(path.with_suffix(".png"), overwrite=True)
        result.save(path, overwrite=True)  # the report last: present means finished
        row.update(status="done", error="")
    except Exception as err:  # noqa: BLE001 - recorded in the table, the study goes on
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        row.update(status="failed", error=f"{type(err).__name__}: {text}")
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row


def study_table(rows: Sequence[dict]):
    """One row per session × model: the session's status, then its report's table."""
    import pandas as pd

    from napari_cebra.analysis.hypotheses import HypothesisResult

    frames = []
    for row in rows:
        if row.get("status") == "done":
            table = HypothesisResult.load(row["report"]).table()
            table.insert(0, "session", row["session"])
            table["report"] = row["report"]
            table["status"], table["error"] = "done", ""
            frames.append(table)
        else:
            frames.append(pd.DataFrame([{k: row.get(k, "") for k in
                                         ("session", "report", "status", "error")}]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["session", "status", "error"])


def run_hypotheses_study(study: str | Path | Sequence[Session], out: str | Path,
                         settings: Any = None, *, discrete: Sequence[str] = (), client=None,
                         workers: int | None = 0, scheduler: str | None = None):
    """Every session's hypothesis test (one task each, finished ones skipped); returns the
    table of every session × model, also written to ``out/hypotheses.csv``. ``settings``: a
    :class:`~napari_cebra.analysis.hypotheses.HypothesisSettings` or a dict of its fields
    (``test_fraction`` comes from each session). ``workers=0`` runs in this process."""
    from dataclasses import asdict, is_dataclass

    from napari_cebra.analysis.hypotheses import HypothesisSettings
    from napari_cebra.files import atomic_write

    from .sweep import _with_client

    sessions = read_study(study) if isinstance(study, (str, Path)) else list(study)
    values = asdict(settings) if is_dataclass(settings) else dict(settings or {})
    values = HypothesisSettings.from_dict(values).to_dict()  # checked before any work
    values.pop("test_fraction")
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    specs = []
    for s in sessions:
        d = s.to_dict()
        specs.append({"session": d, "settings": values, "out": str(out),
                      "discrete": list(discrete), "key": task_key(d, values, discrete)})

    def run(c):
        if c is None:
            return [run_task(spec) for spec in specs]
        futures = [c.submit(run_task, spec, key=spec["key"], pure=False, retries=2)
                   for spec in specs]
        return c.gather(futures)

    rows = _with_client(client, workers, scheduler, run)
    table = study_table(rows)
    with atomic_write(out / TABLE_NAME, "w", overwrite=True, what="hypotheses table",
                      newline="") as fh:
        table.to_csv(fh, index=False)
    return table
