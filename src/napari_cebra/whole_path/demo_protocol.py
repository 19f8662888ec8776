"""What the whole-path demo does after suite2p, as a Qt-free job: train CEBRA as the Train
widget does, decode the held-out repeat as the Decode widget does; and how the demo's CEBRA
settings were chosen, on the validation repeat only.

The demo trains on every repeat but the last two (the Train widget holds them out), picks the
kNN decoder's ``n_neighbors`` on the second-to-last (validation) repeat and tests on the last.
:func:`choose_settings` runs the same protocol one repeat earlier — the test repeat dropped,
the validation repeat in its place — over a grid expanded and judged by
:mod:`napari_cebra.batch.sweep` (``expand_grid``, ``best_settings``), so the choice never sees
the test repeat.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping, Sequence

import numpy as np

from napari_cebra.progress import Progress

#: what the demo's CEBRA labels may be: frame_id (CEBRA-Behaviour, the Train widget's choice
#: for a movie session) or none (CEBRA-Time); ``conditional`` as batch.sweep names it
LABELS = {"time_delta": "frame_id", "time": "time"}
REPRESENTATIONS = ("cebra", "raw", "pca", "cebra (labels shuffled)", "raw (neural shuffled)")


def held_out_fraction(repeat: np.ndarray) -> float:
    """The Train widget's *Test fraction* for repeats in order: the last two held out,
    rounded up to the hundredth as the widget's box shows it."""
    repeat = np.asarray(repeat)
    present = sorted(int(r) for r in np.unique(repeat))
    first = int(np.flatnonzero(np.isin(repeat, present[-2:]))[0])
    return math.ceil((len(repeat) - first) / len(repeat) * 100) / 100


def train_settings(cebra: Mapping, repeat: np.ndarray, seed: int = 0, device: str = "cpu"):
    """The Train widget's settings for the demo: its defaults, the chosen ``cebra`` values,
    the last two repeats held out."""
    from napari_cebra.pipeline import TrainSettings

    return TrainSettings(output_dimension=int(cebra["output_dimension"]),
                         max_iterations=int(cebra["max_iterations"]),
                         temperature=float(cebra["temperature"]), device=device, seed=seed,
                         test_fraction=held_out_fraction(repeat))


def demo_decoding_steps(
    traces: np.ndarray, frame_id: np.ndarray, repeat: np.ndarray, fs: float,
    movie: np.ndarray, cebra: Mapping, *, seed: int = 0, device: str = "cpu",
    controls: Sequence[str] = ("labels", "neural"),
) -> Generator[Progress, None, object]:
    """Train CEBRA on all repeats but the last two, decode the last; returns the
    :class:`~napari_cebra.analysis.report.FrameDecodingReport` (CEBRA, raw, PCA, controls)."""
    from napari_cebra import pipeline
    from napari_cebra.analysis.frame_decoding import frame_decoding_steps

    repeat = np.asarray(repeat)
    labels = "frame_id" if cebra.get("labels", "frame_id") == "frame_id" else "time"
    ts = train_settings(cebra, repeat, seed, device)
    job = pipeline.job_from_arrays(traces, ts, labels={"frame_id": np.asarray(frame_id)},
                                   label_kinds={"frame_id": "discrete"},
                                   label_columns=["frame_id"] if labels == "frame_id" else [],
                                   fs=fs)
    result = yield from pipeline.train(job)
    present = sorted(int(r) for r in np.unique(repeat))
    n_train = int((repeat != present[-1]).sum())
    return (yield from frame_decoding_steps(
        traces, frame_id, repeat, fs, movie=movie, model=result.model,
        cebra_params=dict(max_iterations=ts.max_iterations,
                          output_dimension=ts.output_dimension,
                          batch_size=max(2, min(512, n_train))),
        test_repeat=present[-1], validation_repeat=present[-2], controls=controls,
        seed=seed, progress_every=10))


def choose_settings(
    traces: np.ndarray, frame_id: np.ndarray, repeat: np.ndarray, fs: float,
    movie: np.ndarray, grid: Mapping[str, Sequence], *, seed: int = 0, device: str = "cpu",
    say=print,
) -> tuple[dict, list[dict]]:
    """The grid's best settings by ±1 s accuracy on the validation repeat, with the test
    (last) repeat dropped; returns ``(chosen, rows)``, one row per combination."""
    from napari_cebra.batch.sweep import best_settings, expand_grid
    from napari_cebra.progress import drain

    repeat = np.asarray(repeat)
    present = sorted(int(r) for r in np.unique(repeat))
    keep = repeat != present[-1]  # the test repeat is never seen while choosing
    rows = []
    for combo in expand_grid(grid):
        cebra = {**combo, "labels": LABELS[combo.get("conditional", "time_delta")]}
        report = drain(demo_decoding_steps(traces[keep], frame_id[keep], repeat[keep], fs,
                                           movie, cebra, seed=seed, device=device,
                                           controls=()))
        scores = {r.name: r.accuracy for r in report.results}
        rows.append({"session": "demo", "status": "done", **combo,
                     "val_score": scores["cebra"], "val_raw": scores["raw"],
                     "val_pca": scores["pca"], "validation_repeat": report.test_repeat})
        say(f"  {cebra}: validation ±1 s {scores['cebra']:.1%} "
            f"(raw {scores['raw']:.1%}, PCA {scores['pca']:.1%})")
    best = best_settings(rows, "demo")
    chosen = {k: best[k] for k in ("output_dimension", "max_iterations", "temperature")}
    chosen["labels"] = LABELS[best.get("conditional", "time_delta")]
    return chosen, rows


#: how the result table names each row of the report
ROW_NAMES = {"cebra": "CEBRA", "raw": "raw dF/F (kNN)", "pca": "PCA of dF/F (kNN)",
             "cebra (labels shuffled)": "control: CEBRA, labels shuffled",
             "raw (neural shuffled)": "control: dF/F shuffled in time"}


def accuracies(report) -> dict[str, float]:
    """±1 s accuracy of every representation of the report, and ``chance``."""
    return {r.name: float(r.accuracy) for r in report.results} | {
        "chance": float(report.chance)}


def verdict(report, margin: float = 0.05) -> str:
    """One plain sentence: does CEBRA beat raw and PCA on the held-out repeat, by how much."""
    acc = accuracies(report)
    if "cebra" not in acc:
        return "No CEBRA result to compare."
    gaps = {name: (acc["cebra"] - acc[name]) * 100 for name in ("raw", "pca") if name in acc}
    text = ", ".join(f"{ROW_NAMES[k].split(' (')[0]} by {v:+.1f} points" for k, v in gaps.items())
    if all(v >= margin * 100 for v in gaps.values()):
        return f"CEBRA beats {text.replace('+', '')} on the held-out repeat."
    losers = [ROW_NAMES[k].split(" (")[0] for k, v in gaps.items() if v < margin * 100]
    return (f"On this session CEBRA does NOT clearly beat {' and '.join(losers)} "
            f"(CEBRA vs {text}); one training run moves by several points — try another "
            "--seed or more --train-steps.")


def result_lines(report) -> list[str]:
    """The demo's result table as text lines (terminal, text overlay, docs)."""
    acc = accuracies(report)
    lines = [f"Held-out repeat {report.test_repeat} (never trained on; validation repeat "
             f"{report.validation_repeat}): movie frame decoded within ±1 s"]
    for r in report.results:
        lines.append(f"  {ROW_NAMES.get(r.name, r.name):<34} {r.accuracy:6.1%}   "
                     f"median error {r.median_frame_error:.0f} frames")
    lines.append(f"  {'chance':<34} {acc['chance']:6.1%}")
    lines.append(verdict(report))
    return lines
