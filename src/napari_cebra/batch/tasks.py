"""One task = one session × one set of settings, run in a Dask worker (or in-process).

:func:`run_task` is a pure function of a small spec dict: it reads the session from its shared
path, trains on its training split, embeds every frame, decodes the labels with a kNN whose
``n_neighbors`` is chosen on the validation split, writes its files atomically under
``DIR/tasks/<key>.*`` and returns a small dict (the row of ``results.csv``). ``<key>`` is the
session name, the stage and a hash of the inputs (path, size, modification time of every file)
and the settings, so a rerun finds finished work and a changed input is trained anew.

Splits (contiguous, in time): with ``n_test = round(T × test_fraction)``, the last ``n_test``
frames test, the ``n_test`` before them validate, the rest trains. A ``select`` task (a sweep)
trains on the training part and scores on validation; a ``final`` task trains on training +
validation (``n_neighbors`` still chosen on validation) and scores on the test part.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1
STAGES = ("select", "final")
#: settings a task accepts besides the fields of ``pipeline.TrainSettings``
EXTRA_SETTINGS = ("conditional",)


# -- names ------------------------------------------------------------------------------------
def fingerprint(path: str | None) -> list:
    """What identifies an input without reading it: name, size and mtime of each file."""
    if not path:
        return []
    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    out = []
    for f in files:
        st = f.stat()
        out.append([str(f), st.st_size, st.st_mtime_ns])
    return out


def digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def input_digest(session: dict) -> str:
    return digest({"path": fingerprint(session["path"]), "fs": session.get("fs"),
                   "labels": fingerprint(session.get("labels")),
                   "discrete": fingerprint(session.get("discrete")),
                   "test_fraction": session.get("test_fraction")})


def task_key(session: dict, settings: dict, stage: str) -> str:
    """``<session>-<stage>-<hash>``: the same inputs and settings give the same key."""
    h = digest({"inputs": input_digest(session), "settings": settings, "stage": stage,
                "version": FORMAT_VERSION})
    return f"{session['session']}-{stage}-{h[:12]}"


def extract_folder(session: dict, out: str | Path) -> Path:
    """Where suite2p's output of a stack session goes (one folder per stack and frame rate)."""
    h = digest({"path": fingerprint(session["path"]), "fs": session.get("fs")})[:12]
    return Path(out) / "extract" / f"{session['session']}-{h}"


def task_files(out: str | Path, key: str) -> dict[str, Path]:
    base = Path(out) / "tasks"
    return {"result": base / f"{key}.json", "embedding": base / f"{key}.embedding.npy",
            "model": base / f"{key}.pt"}


def done_result(out: str | Path, key: str) -> dict | None:
    """The record of a finished task (``None`` if it has not finished)."""
    path = task_files(out, key)["result"]
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # unreadable: run it again (it is rewritten whole)


# -- inputs -----------------------------------------------------------------------------------
def extract(session: dict, out: str | Path) -> str:
    """suite2p on a stack session into :func:`extract_folder` (skipped when already there);
    returns the folder. Runs as its own task, before the session's training tasks."""
    from napari_cebra.imaging.session import extract_steps
    from napari_cebra.imaging.suite2p_read import find_plane_dir
    from napari_cebra.progress import drain

    folder = extract_folder(session, out)
    try:  # suite2p publishes its folder whole: present means finished
        if (find_plane_dir(folder, 0) / "stat.npy").is_file():
            return str(folder)
    except (FileNotFoundError, ValueError):
        pass
    folder.parent.mkdir(parents=True, exist_ok=True)
    drain(extract_steps(session["path"], fs=float(session["fs"]), out_dir=folder))
    return str(folder)


def read_label_file(path: str, discrete: bool) -> np.ndarray:
    """A (T,) or (T, d) label array from ``.npy`` (no pickles) or ``.csv`` (an optional header
    row of names), read as the Attach-labels step reads them."""
    from napari_cebra.imaging.labels import read_label_table

    p = Path(path)
    columns = read_label_table(p)
    text = [name for name, v in columns.items() if v.dtype == object]
    if text:
        raise ValueError(f"labels file {p.name}: column {text[0]!r} is not numbers; give "
                         "numeric labels (classes as integers).")
    values = np.column_stack([np.asarray(v, np.float64) for v in columns.values()])
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if discrete:
        if values.ndim != 1 or not np.all(np.isfinite(values)) or not np.all(
                values == np.round(values)):
            raise ValueError(f"discrete labels {p.name} must be one column of integers.")
        return values.astype(np.int64)
    return values.astype(np.float32)


def read_labels(session: dict, n_frames: int, fs: float | None
                ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The session's label files on its frames, as the Attach-labels step reads them: named
    by their header (a file without one by its name, as ``train`` names it), a time column
    used as their time base (never trained on), resampled onto the frames at ``fs``."""
    from napari_cebra.imaging.labels import labels_on_frames

    labels: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    for column, kind in (("labels", "continuous"), ("discrete", "discrete")):
        if not session.get(column):
            continue
        found = labels_on_frames(session[column], kind, n_frames, fs)
        for name, values in found.columns.items():
            if name in labels:
                raise ValueError(f"label name {name!r} is in both label files of session "
                                 f"{session['session']!r}; rename one column.")
            labels[name], kinds[name] = values, kind
    return labels, kinds


def load_inputs(session: dict, extracted: str | None = None) -> tuple[np.ndarray, float | None]:
    """The session's (time, neurons) float32 traces and frame rate, from its shared path; a
    rate that is impossible (≤ 0, NaN, above ``limits.MAX_RATE_HZ``) is refused."""
    from napari_cebra.imaging.nwb import checked_rate

    traces, fs = _load_inputs(session, extracted)
    if fs is not None:
        fs = checked_rate(fs, f"session {session['session']!r} ({session['path']})")
    return traces, fs


def _load_inputs(session: dict, extracted: str | None) -> tuple[np.ndarray, float | None]:
    kind, path, fs = session["kind"], session["path"], session.get("fs")
    if kind == "stack":
        path, kind = extracted or str(extract_folder(session, "")), "suite2p"
    if kind == "suite2p":
        from napari_cebra.imaging.session import load_session

        s = load_session(path, cells_only=True)  # the cells as saved (curated)
        return s.trace_sets["dff"], fs or s.fs
    if kind == "nwb":
        from napari_cebra.imaging.nwb import nwb_traces

        traces, rate = nwb_traces(path)  # an impossible rate in the file is refused there
        return np.asarray(traces, np.float32), fs or rate
    from napari_cebra.imaging.safe_npy import load_npy

    traces = load_npy(path)
    if traces.ndim != 2:
        raise ValueError(f"{Path(path).name}: traces must be (time, neurons); got shape "
                         f"{traces.shape}.")
    return np.asarray(traces, np.float32), fs


def _saved_cells(session: dict, extracted: str | None) -> dict | None:
    """Which suite2p ROIs a suite2p/stack session trains on (indices, curation hash)."""
    if session["kind"] not in ("suite2p", "stack"):
        return None
    from napari_cebra.imaging.curation import saved_cells

    path = session["path"] if session["kind"] == "suite2p" else (
        extracted or str(extract_folder(session, "")))
    return saved_cells(path)


def split_bounds(n: int, test_fraction: float) -> tuple[int, int]:
    """(end of training, end of validation): ``[0, a)`` trains, ``[a, b)`` validates,
    ``[b, n)`` tests."""
    n_test = int(round(n * float(test_fraction)))
    if n_test < 2 or n - 2 * n_test < 2:
        raise ValueError(f"{n} frames and test_fraction {test_fraction} leave no usable "
                         "validation/test part; use a longer session or another fraction.")
    return n - 2 * n_test, n - n_test


# -- the task ---------------------------------------------------------------------------------
def run_task(spec: dict, extracted: str | None = None) -> dict:
    """Train, embed and score one session with one set of settings; never raises for a
    problem of the session (the row says ``failed`` and why)."""
    session, settings, stage, out = spec["session"], spec["settings"], spec["stage"], spec["out"]
    key = spec["key"]
    row = {"session": session["session"], "stage": stage, "key": key,
           **{k: v for k, v in settings.items()}}
    found = done_result(out, key)
    if found is not None:  # finished by an earlier attempt (e.g. on a worker since lost)
        return found
    start = time.perf_counter()
    try:
        row.update(_train_and_score(session, settings, stage, out, key, extracted))
        row.update(status="done", error="")
    except Exception as err:  # noqa: BLE001 - recorded in results.csv, the study goes on
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        row.update(status="failed", error=f"{type(err).__name__}: {text}")
    row.update(seconds=round(time.perf_counter() - start, 3), worker=_where())
    if row["status"] == "done":
        from napari_cebra.files import write_json

        task_files(out, key)["result"].parent.mkdir(parents=True, exist_ok=True)
        write_json(task_files(out, key)["result"], row, overwrite=True, what="task result")
    return row


def _where() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _train_and_score(session: dict, settings: dict, stage: str, out: str, key: str,
                     extracted: str | None) -> dict:
    from napari_cebra import pipeline
    from napari_cebra.analysis.scores import r2
    from napari_cebra.analysis.selection import select_and_predict
    from napari_cebra.embedding_files import save_embedding
    from napari_cebra.model_files import save_model

    threads = os.environ.get("NAPARI_CEBRA_TORCH_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    neural, fs = load_inputs(session, extracted)
    rois = _saved_cells(session, extracted)
    n = len(neural)
    train_end, val_end = split_bounds(n, session["test_fraction"])
    labels, kinds = read_labels(session, n, fs)
    conditional = settings.get("conditional") or ("time_delta" if labels else "time")
    train_end_fit = train_end if stage == "select" else val_end
    ts = pipeline.TrainSettings.from_dict({**settings,
                                           "test_fraction": (n - train_end_fit) / n})
    columns = [] if conditional == "time" else list(labels)
    job = pipeline.job_from_arrays(neural, ts, labels=labels, label_kinds=kinds,
                                   label_columns=columns, source=session["session"], fs=fs)
    model = pipeline.make_estimator(ts, bool(columns))
    model.set_params(conditional=conditional)
    result = pipeline.run(pipeline.train(job, model=model))
    emb = result.embedding
    record: dict[str, Any] = {"n_frames": n, "n_neurons": int(neural.shape[1]), "fs": fs,
                              "test_fraction": session["test_fraction"],
                              "conditional": conditional, "final_loss": float(
                                  result.loss[-1]) if result.loss else float("nan")}
    if rois:
        record["curation_hash"] = rois["curation_hash"]
    cont = [k for k in labels if kinds[k] == "continuous"]
    if cont:
        y, discrete = np.stack([labels[k] for k in cont], 1), False
        record["score_kind"] = "r2"

        def score(pred, true):
            return r2(true, pred)
    elif labels:
        y, discrete = labels[next(iter(labels))], True
        record["score_kind"] = "accuracy"

        def score(pred, true):
            return float(np.mean(pred == true))
    else:
        y = None
        record.update(score_kind="", val_score=float("nan"), test_score=float("nan"))
    if y is not None:
        fit, val = slice(0, train_end), slice(train_end, val_end)
        if stage == "select":
            _, k, val_scores = select_and_predict(emb[fit], y[fit], emb[val], y[val], emb[fit],
                                                  y[fit], emb[val], discrete=discrete,
                                                  score=score)
            record.update(val_score=val_scores[k], test_score=float("nan"), n_neighbors=k)
        else:
            trainval, test = slice(0, val_end), slice(val_end, n)
            pred, k, val_scores = select_and_predict(emb[fit], y[fit], emb[val], y[val],
                                                     emb[trainval], y[trainval], emb[test],
                                                     discrete=discrete, score=score)
            record.update(val_score=val_scores[k], test_score=float(score(pred, y[test])),
                          n_neighbors=k)
    if stage == "final":
        files = task_files(out, key)
        files["model"].parent.mkdir(parents=True, exist_ok=True)
        save_embedding(files["embedding"], emb, result.time, result.labels, overwrite=True,
                       fs=fs)
        save_model(result.model, files["model"], ts, columns, overwrite=True, rois=rois)
        record.update(embedding=str(files["embedding"]), model=str(files["model"]),
                      traces=extracted or session["path"])
    return record
