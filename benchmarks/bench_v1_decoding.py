"""The paper's movie-frame decoding on the synthetic V1 session, ours vs the reference ``cebra``.

    python benchmarks/bench_v1_decoding.py                      # 10 repeats × 30 s, 200 cells
    python benchmarks/bench_v1_decoding.py --consistency        # + multi-session consistency
    python benchmarks/bench_v1_decoding.py --iterations 50 --repeats 3 --seconds 10 --batch-size 128
    python benchmarks/bench_v1_decoding.py --paired 10 --neurons 400 --iterations 500

``--paired N``: N paired runs on the same session, seeds 0..N-1 (the seed of both engines'
training; the data stay those of ``--seed``), same iterations; per pair the ±1 s frame-ID
accuracy of each, then the mean difference with a paired t-test and a sign test.

Both engines train with the same settings (offset10-model, time_delta, continuous labels = PCA
features of the frame on screen) on repeats 1–9 and embed every repeat separately; the same
cosine-kNN protocol (n_neighbors chosen on repeat 9, refit on 1–9, test on repeat 10) decodes
the frame of repeat 10. Baselines: kNN on the raw traces and on their PCA. Controls: the whole
pipeline with the training labels shuffled in time, and kNN on time-shuffled traces.
Writes a JSON report (never overwriting one) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def reference_embedder(params: dict, x_train: np.ndarray, y_train: np.ndarray, neural, seed):
    """Train the reference ``cebra`` with our settings; return (embed(idx), seconds)."""
    import cebra
    import torch

    torch.manual_seed(seed)
    keys = ("model_architecture", "batch_size", "output_dimension", "num_hidden_units",
            "learning_rate", "temperature", "time_offsets", "conditional", "max_iterations",
            "distance")
    model = cebra.CEBRA(**{k: params[k] for k in keys}, device="cpu", verbose=False)
    start = time.perf_counter()
    model.fit(x_train, y_train)
    seconds = time.perf_counter() - start
    return (lambda idx: model.transform(neural[idx])), seconds


def run_consistency(sessions, names, movie, params, out: dict) -> None:
    from napari_cebra.analysis.consistency import measure_consistency

    start = time.perf_counter()
    res = measure_consistency([s[0] for s in sessions], [s[1] for s in sessions], names,
                              movie=movie, cebra_params=params)
    out["consistency"] = {**res.to_dict(), "seconds": time.perf_counter() - start}
    print("\nconsistency (R² after linear alignment, row → column):")
    print(" " * 22 + "".join(f"{n[:14]:>15}" for n in names))
    for n, row in zip(names, res.matrix, strict=True):
        print(f"{n[:20]:>20}  " + "".join(f"{v:15.3f}" for v in row))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--neurons", type=int, default=200)
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--output-dimension", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-reference", action="store_true", help="skip the reference cebra")
    p.add_argument("--no-controls", action="store_true", help="skip the shuffled CEBRA retrain")
    p.add_argument("--consistency", action="store_true",
                   help="also train a multi-session model: calcium vs spikes of one animal and "
                        "calcium of a second animal")
    p.add_argument("--consistency-iterations", type=int, default=1000)
    p.add_argument("--consistency-only", action="store_true", help="skip the frame decoding")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads for both engines (1: fair and fast on a busy machine)")
    p.add_argument("--paired", type=int, default=0, metavar="N",
                   help="N paired seeded runs (ours vs reference) and a paired t-test")
    p.add_argument("--out", type=Path, default=None, help="JSON report (default: "
                   "benchmarks/results/v1_decoding_<time>.json)")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from napari_cebra.analysis.frame_decoding import (
        DEFAULT_CEBRA,
        cebra_labels,
        frame_decoding_steps,
        split_repeats,
    )
    from napari_cebra.synthetic.v1 import v1_session

    out_path = args.out or Path(__file__).parent / "results" / \
        f"v1_decoding_{time.strftime('%Y%m%d_%H%M%S')}.json"
    if out_path.exists():
        print(f"{out_path} exists; choose another --out.", file=sys.stderr)
        return 1
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if args.paired:
        return paired(args, out_path)

    start = time.perf_counter()
    s = v1_session(n_repeats=args.repeats, movie_seconds=args.seconds, n_neurons=args.neurons,
                   seed=args.seed)
    gen_seconds = time.perf_counter() - start
    params = {**DEFAULT_CEBRA, "max_iterations": args.iterations,
              "output_dimension": args.output_dimension, "batch_size": args.batch_size,
              "device": "cpu"}
    if args.consistency_only:
        data = {"session": s.params, "timings": {"generate_s": gen_seconds}}
        run_consistency_of(s, args, params, data)
        _write(data, out_path)
        return 0
    train, val, test = split_repeats(s.repeat)
    train_idx = np.flatnonzero(np.isin(s.repeat, train))
    y = cebra_labels("movie", s.frame_id, s.movie)
    extra, timings = {}, {"generate_s": gen_seconds, "torch_threads": torch.get_num_threads()}
    if not args.no_reference:
        print(f"training the reference cebra ({args.iterations} steps)…", flush=True)
        embed, timings["reference_fit_s"] = reference_embedder(
            params, s.neural[train_idx], y[train_idx], s.neural, args.seed)
        extra["reference cebra"] = embed

    print(f"training ours ({args.iterations} steps) and decoding…", flush=True)
    fit_times: dict[str, float] = {}
    t0 = time.perf_counter()
    gen = frame_decoding_steps(
        s.neural, s.frame_id, s.repeat, s.fs, movie=s.movie, cebra_params=params, labels="movie",
        controls=("neural",) if args.no_controls else ("labels", "neural"),
        continuous={"running_speed": s.running_speed}, extra=extra, seed=args.seed,
        progress_every=max(1, args.iterations // 4))
    while True:
        try:
            ev = next(gen)
        except StopIteration as stop:
            report = stop.value
            break
        if ev.stage.startswith("train") and ev.step == ev.total:
            fit_times[ev.stage] = time.perf_counter() - t0
        if ev.stage.startswith("train") and ev.loss is not None:
            print(f"  {ev.message}  loss {ev.loss:.4f}", flush=True)
        if not ev.stage.startswith("train"):
            t0 = time.perf_counter()
    timings["ours_fit_s"] = fit_times.get("train CEBRA")
    if timings.get("reference_fit_s") and timings["ours_fit_s"]:
        timings["fit_speed_ratio_ours_over_reference"] = \
            timings["reference_fit_s"] / timings["ours_fit_s"]

    print(f"\nframe-ID decoding of repeat {test + 1} (train {train[0] + 1}–{train[-1] + 1}, "
          f"n_neighbors chosen on repeat {val + 1}); chance ±1 s = {report.chance:.1%}")
    print(f"{'representation':<26}{'kind':<11}{'acc ±1 s':>9}{'median err':>12}{'k':>5}")
    for r in report.results:
        print(f"{r.name:<26}{r.kind:<11}{r.accuracy:9.1%}{r.median_frame_error:9.1f} fr"
              f"{r.n_neighbors:5d}")
    print("\nrunning speed (continuous):")
    for c in report.continuous:
        print(f"{c.name:<26} R² {c.r2:7.3f}   median |err| {c.median_abs_error:6.2f} cm/s")
    print("goodness of fit (bits):", {k: round(v, 3) for k, v in
                                      report.goodness_of_fit_bits.items()})
    print("timings:", {k: round(v, 1) if isinstance(v, float) else v for k, v in timings.items()})

    data = report.to_dict()
    data.update(session=s.params, timings=timings)
    if args.consistency:
        run_consistency_of(s, args, params, data)
    _write(data, out_path)
    return 0


def paired_statistics(ours: list[float], reference: list[float]) -> dict:
    """Mean difference (ours − reference), its 95 % CI, paired t-test and two-sided sign test."""
    from scipy import stats

    diff = np.asarray(ours, float) - np.asarray(reference, float)
    out = {"n": int(diff.size), "mean_ours": float(np.mean(ours)),
           "mean_reference": float(np.mean(reference)), "mean_difference": float(diff.mean()),
           "wins_ours": int((diff > 0).sum()), "wins_reference": int((diff < 0).sum())}
    if diff.size > 1:
        sd = float(diff.std(ddof=1))
        half = float(stats.t.ppf(0.975, diff.size - 1)) * sd / np.sqrt(diff.size)
        out.update(sd_difference=sd, ci95=[out["mean_difference"] - half,
                                           out["mean_difference"] + half],
                   t_test_p=float(stats.ttest_rel(ours, reference).pvalue) if sd > 0 else 1.0)
    decided = out["wins_ours"] + out["wins_reference"]
    out["sign_test_p"] = (float(stats.binomtest(out["wins_ours"], decided).pvalue)
                          if decided else 1.0)
    return out


def paired(args, out_path: Path) -> int:
    """``--paired N``: same data, seeds 0..N-1, ours and the reference decoded the same way."""
    from napari_cebra.analysis.frame_decoding import DEFAULT_CEBRA, frame_decoding_steps
    from napari_cebra.files import write_json
    from napari_cebra.progress import drain
    from napari_cebra.synthetic.v1 import v1_session

    s = v1_session(n_repeats=args.repeats, movie_seconds=args.seconds, n_neurons=args.neurons,
                   seed=args.seed)
    from napari_cebra.analysis.frame_decoding import cebra_labels, split_repeats

    train, _, _ = split_repeats(s.repeat)
    train_idx = np.flatnonzero(np.isin(s.repeat, train))
    y = cebra_labels("movie", s.frame_id, s.movie)
    base = {**DEFAULT_CEBRA, "max_iterations": args.iterations,
            "output_dimension": args.output_dimension, "batch_size": args.batch_size,
            "device": "cpu"}
    runs = []
    for seed in range(args.paired):
        embed, ref_s = reference_embedder(base, s.neural[train_idx], y[train_idx], s.neural,
                                          seed)
        start = time.perf_counter()
        report = drain(frame_decoding_steps(
            s.neural, s.frame_id, s.repeat, s.fs, movie=s.movie,
            cebra_params={**base, "seed": seed}, labels="movie", baselines=(), controls=(),
            extra={"reference cebra": embed}, seed=seed, progress_every=10**9))
        acc = {r.name: r.accuracy for r in report.results}
        ours_name = next(r.name for r in report.results if r.kind != "reference")
        runs.append({"seed": seed, "ours": acc[ours_name], "reference": acc["reference cebra"],
                     "reference_fit_s": ref_s, "ours_fit_and_decode_s":
                     time.perf_counter() - start})
        print(f"seed {seed}: ours {acc[ours_name]:.1%}  reference "
              f"{acc['reference cebra']:.1%}", flush=True)
    stats_ = paired_statistics([r["ours"] for r in runs], [r["reference"] for r in runs])
    print(f"\nmean ±1 s accuracy: ours {stats_['mean_ours']:.1%}, reference "
          f"{stats_['mean_reference']:.1%}; difference {stats_['mean_difference']:+.2%} "
          f"(95 % CI {stats_.get('ci95', [np.nan, np.nan])[0]:+.2%} … "
          f"{stats_.get('ci95', [np.nan, np.nan])[1]:+.2%}), paired t-test p = "
          f"{stats_.get('t_test_p', float('nan')):.3f}, sign test "
          f"{stats_['wins_ours']}:{stats_['wins_reference']} p = {stats_['sign_test_p']:.3f}")
    write_json(out_path, {"mode": "paired", "session": s.params, "settings": base,
                          "threads": __import__("torch").get_num_threads(), "runs": runs,
                          "statistics": stats_}, what="benchmark report")
    print(f"wrote {out_path}")
    return 0


def run_consistency_of(s, args, params: dict, data: dict) -> None:
    from napari_cebra.synthetic.v1 import v1_session

    other = v1_session(n_repeats=args.repeats, movie_seconds=args.seconds,
                       n_neurons=args.neurons, seed=args.seed + 1)
    sessions = [(s.neural, s.frame_id), (s.spikes, s.frame_id), (other.neural, other.frame_id)]
    names = ["animal 1 calcium", "animal 1 spikes", "animal 2 calcium"]
    print(f"training a multi-session model ({args.consistency_iterations} steps)…", flush=True)
    run_consistency(sessions, names, s.movie,
                    {**params, "max_iterations": args.consistency_iterations}, data)


def _write(data: dict, out_path: Path) -> None:
    from napari_cebra.analysis.report import json_safe as _plain

    with out_path.open("x") as fh:
        json.dump(_plain(data), fh, indent=2)
    print(f"\nwrote {out_path}")


if __name__ == "__main__":
    sys.exit(main())
