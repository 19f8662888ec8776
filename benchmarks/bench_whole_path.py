"""One V1 recording the whole way: raw stack → suite2p → CEBRA → decoded movie frames.

    python benchmarks/bench_whole_path.py                  # 10 repeats × 30 s, 200 cells, 256²
    python benchmarks/bench_whole_path.py --quick          # 4 repeats × 10 s, 60 cells, 128²
    python benchmarks/bench_whole_path.py --cebra-seeds 5  # + 4 more training seeds, paired
    python benchmarks/bench_whole_path.py --demo --choose  # the demo's session: settings
                                                           # chosen on validation, 3 animals

The synthetic V1 imaging session (known footprints and true traces) is written to a TIFF and
run through ``napari_cebra.whole_path.decode_stack_steps`` exactly as ``napari-cebra decode
--stack`` does: suite2p (registration, detection, extraction, classification), the cells'
dF/F, then the frame-decoding protocol (CEBRA on movie features; kNN on the raw traces and on
their PCA). Measured:

- ROI recall and precision of suite2p's cells against the true footprints (target ≥ 90 %);
- ±1 s frame-ID accuracy from the extracted traces vs from the true traces of the same
  neurons (the true neurons matched to the extracted cells), same settings and seed
  (target: within 5 points); kNN on raw and PCA of the extracted traces;
- seconds per stage.

One training run moves by several points from seed to seed, so ``--cebra-seeds N`` retrains
CEBRA with N training seeds (one extraction) on both the extracted and the true traces and
reports the mean of each and their paired difference.

Writes ``benchmarks/results/whole_path.json`` (or ``--out``; never overwriting a file).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--fs", type=float, default=30.0)
    p.add_argument("--neurons", type=int, default=200)
    p.add_argument("--size", type=int, default=256, help="frame height = width, px")
    p.add_argument("--diameter", type=float, default=12.0,
                   help="soma diameter, px (12: 200 cells in 256² px, a realistic density)")
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="4 repeats × 10 s, 60 cells, 128²")
    p.add_argument("--cebra-seeds", type=int, default=1, metavar="N",
                   help="training seeds seed … seed + N − 1 on both trace sets (paired)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.seconds, args.neurons, args.size = 4, 10.0, 60, 128
        args.diameter = 11.0
        args.iterations = min(args.iterations, 800)
    out = args.out or Path(__file__).parent / "results" / (
        "whole_path_quick.json" if args.quick else "whole_path.json")
    from napari_cebra.files import check_target, write_json

    check_target(out, what="benchmark results")

    import tifffile

    from napari_cebra.analysis.frame_decoding import frame_decoding_steps
    from napari_cebra.analysis.report import json_safe
    from napari_cebra.imaging.suite2p_read import roi_centroids
    from napari_cebra.progress import drain
    from napari_cebra.synthetic.calcium_movie import match_centroids
    from napari_cebra.synthetic.v1_imaging import v1_imaging_session
    from napari_cebra.whole_path import FrameLabels, decode_stack_steps

    seconds: dict[str, float] = {}
    t = time.perf_counter()
    s = v1_imaging_session(n_repeats=args.repeats, movie_seconds=args.seconds, fs=args.fs,
                           n_neurons=args.neurons, shape=(args.size, args.size), seed=args.seed,
                           diameter=args.diameter)
    seconds["simulate"] = time.perf_counter() - t
    print(f"session: {s.stack.shape[0]} frames of {args.size}² px, {args.neurons} neurons, "
          f"{args.repeats} repeats × {args.seconds:g} s at {args.fs:g} Hz", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench_whole_path-"))
    t = time.perf_counter()
    tifffile.imwrite(work / "stack.tif", np.round(s.stack).astype(np.uint16))
    seconds["write TIFF"] = time.perf_counter() - t
    s.stack = None  # the TIFF is the input from here on, as in a lab

    cebra = dict(max_iterations=args.iterations, device="cpu")
    stages: dict[str, float] = {}
    last = {"stage": None, "t": time.perf_counter()}

    def clock(event) -> None:  # seconds from each stage's first event to the next stage's
        now = time.perf_counter()
        if event.stage != last["stage"]:
            if last["stage"] is not None:
                stages[last["stage"]] = stages.get(last["stage"], 0.0) + now - last["t"]
            last.update(stage=event.stage, t=now)

    t = time.perf_counter()
    report, session = drain(decode_stack_steps(
        work / "stack.tif", fs=s.fs, frame_labels=FrameLabels(s.frame_id, s.repeat),
        movie=s.movie, out_dir=work / "suite2p-out", tau=s.tau, diameter=s.diameter,
        torch_device="cpu", cebra_params=cebra, controls=(), seed=args.seed), clock)
    now = time.perf_counter()
    if last["stage"] is not None:
        stages[last["stage"]] = stages.get(last["stage"], 0.0) + now - last["t"]
    seconds["stack → decoded frames"] = now - t
    decoding = sum(v for k, v in stages.items() if k in ("train CEBRA", "decode", "baselines",
                                                          "controls"))
    seconds["  suite2p + dF/F"] = now - t - decoding
    seconds["  CEBRA + kNN decoding"] = decoding
    seconds.update({f"    {k}": v for k, v in stages.items()})

    cells = np.asarray(report.extraction["cell_indices"], int)
    found = roi_centroids(session.suite2p.stat)
    i_true, i_cell = match_centroids(s.centroids, found[cells], s.diameter / 2)
    i_true_all, _ = match_centroids(s.centroids, found, s.diameter / 2)
    rois = dict(n_true=len(s.centroids), n_rois=len(found), n_cells=len(cells),
                recall=len(i_true) / len(s.centroids), precision=len(i_true) / max(1, len(cells)),
                recall_all_rois=len(i_true_all) / len(s.centroids),
                precision_all_rois=len(i_true_all) / max(1, len(found)))

    # the same protocol on the true traces of the neurons suite2p found, as dF/F with the
    # same baseline (no neuropil: the true traces have none)
    from napari_cebra.imaging.traces import delta_f_over_f

    t = time.perf_counter()
    true_dff = delta_f_over_f(s.true_traces[:, np.sort(i_true)].T.astype(np.float64),
                              None, method=session.baseline.method, fs=s.fs,
                              window_s=session.baseline.window_s).T.astype(np.float32)
    truth = drain(frame_decoding_steps(
        true_dff, s.frame_id, s.repeat, s.fs, movie=s.movie,
        cebra_params=cebra, baselines=(), controls=(), seed=args.seed))
    seconds["true traces → decoded frames"] = time.perf_counter() - t

    acc = {r.name: r.accuracy for r in report.results}
    acc["cebra (true dF/F, same neurons)"] = truth.result("cebra").accuracy
    gap = acc["cebra (true dF/F, same neurons)"] - acc["cebra"]
    seeds = paired_seeds(args, s, session, true_dff, cebra, acc) if args.cebra_seeds > 1 \
        else None
    print(f"\nROIs: {rois['n_rois']} found, {rois['n_cells']} cells; recall "
          f"{rois['recall']:.1%}, precision {rois['precision']:.1%} (target ≥ 90 % each)")
    print(f"frame-ID accuracy within ±1 s on the test repeat (chance {report.chance:.1%}):")
    for name, value in acc.items():
        print(f"  {name:<36} {value:6.1%}")
    print(f"  extracted vs true traces: {gap * 100:+.1f} points (target within 5)")
    if seeds is not None:
        print(f"over {len(seeds['extracted'])} training seeds: extracted "
              f"{np.mean(seeds['extracted']):.1%}, true {np.mean(seeds['true']):.1%}; "
              f"true − extracted {seeds['mean_gap_points']:+.1f} points "
              f"(sd {seeds['sd_gap_points']:.1f})")
    print("seconds:")
    for name, value in seconds.items():
        print(f"  {name:<36} {value:8.1f}")
    result = dict(
        benchmark="whole_path", argv=sys.argv[1:],
        session=dict(repeats=args.repeats, seconds=args.seconds, fs=args.fs,
                     neurons=args.neurons, size=args.size, diameter=args.diameter,
                     seed=args.seed),
        cebra=dict(cebra, labels="movie"), rois=rois, chance=report.chance, accuracy=acc,
        extracted_minus_true_points=-gap * 100, training_seeds=seeds, seconds=seconds,
        extraction={k: v for k, v in report.extraction.items() if k != "cell_indices"})
    write_json(out, json_safe(result), what="benchmark results")
    print(f"results: {out}")
    return 0


def paired_seeds(args, s, session, true_dff, cebra: dict, first: dict) -> dict:
    """±1 s accuracy of CEBRA on the extracted and on the true traces, seeds seed … seed+N−1
    (the first from the main run), and the paired gap in points."""
    from napari_cebra.analysis.frame_decoding import frame_decoding_steps
    from napari_cebra.progress import drain
    from napari_cebra.whole_path.stack_decoding import cell_traces

    extracted, _ = cell_traces(session)
    runs = {"extracted": [first["cebra"]], "true": [first["cebra (true dF/F, same neurons)"]]}
    for seed in range(args.seed + 1, args.seed + args.cebra_seeds):
        for name, traces in (("extracted", extracted), ("true", true_dff)):
            rep = drain(frame_decoding_steps(
                traces, s.frame_id, s.repeat, s.fs, movie=s.movie,
                cebra_params={**cebra, "seed": seed}, baselines=(), controls=(), seed=seed))
            runs[name].append(rep.result("cebra").accuracy)
        print(f"  seed {seed}: extracted {runs['extracted'][-1]:.1%}, true "
              f"{runs['true'][-1]:.1%}", flush=True)
    gaps = 100 * (np.asarray(runs["true"]) - np.asarray(runs["extracted"]))
    return {**runs, "seeds": list(range(args.seed, args.seed + args.cebra_seeds)),
            "mean_gap_points": float(gaps.mean()), "sd_gap_points": float(gaps.std(ddof=1))}


# -- the whole-path demo's session: the settings chosen on validation, the result per animal --
DEFAULT_GRID = {"output_dimension": [8, 32], "max_iterations": [500, 1000],
                "temperature": [0.5, 1.0], "conditional": ["time_delta", "time"]}


def demo(argv: list[str] | None = None) -> int:
    """``--demo``: the demo session of each ``--seeds`` animal (from the cache, made on first
    use), suite2p as the Extract widget runs it, then the demo's protocol; ``--choose`` first
    picks the CEBRA settings on the first animal's validation repeat (test repeat dropped)."""
    p = argparse.ArgumentParser(description="the whole-path demo's session (see --demo)")
    p.add_argument("--demo", action="store_true")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--choose", action="store_true",
                   help="choose the CEBRA settings on the validation repeat first")
    p.add_argument("--grid", type=json.loads, default=DEFAULT_GRID,
                   help="the sweep grid (JSON), batch.sweep's setting names")
    p.add_argument("--work", type=Path, default=None, help="suite2p outputs (kept, reused)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" /
                   "whole_path_demo.json")
    args = p.parse_args(argv)
    from napari_cebra.analysis.report import json_safe
    from napari_cebra.files import check_target, write_json
    from napari_cebra.sample_files import DEMO_CEBRA, DEMO_SESSION
    from napari_cebra.whole_path.demo_protocol import accuracies, choose_settings, verdict

    check_target(args.out, what="benchmark results")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_demo-"))
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() \
        else []
    chosen, rows, results = dict(DEMO_CEBRA), [], {}
    for i, seed in enumerate(args.seeds):
        inputs, seconds = _demo_inputs(seed, work)
        if args.choose and i == 0:
            print(f"choosing on animal {seed}'s validation repeat (test repeat dropped):")
            t = time.perf_counter()
            chosen, rows = choose_settings(*inputs, args.grid, seed=seed)
            seconds["choose"] = time.perf_counter() - t
            print(f"chosen: {chosen}", flush=True)
        from napari_cebra.progress import drain
        from napari_cebra.whole_path.demo_protocol import demo_decoding_steps

        t = time.perf_counter()
        report = drain(demo_decoding_steps(*inputs, chosen, seed=seed))
        seconds["train + decode"] = time.perf_counter() - t
        acc = accuracies(report)
        results[seed] = dict(accuracy=acc, verdict=verdict(report), seconds=seconds,
                             n_cells=int(inputs[0].shape[1]), test_repeat=report.test_repeat)
        print(f"animal {seed}: " + ", ".join(f"{k} {v:.1%}" for k, v in acc.items())
              + f"\n  {verdict(report)}\n  seconds: "
              + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()), flush=True)
    print("\n| animal (seed) | CEBRA | raw | PCA | CEBRA, labels shuffled | dF/F shuffled "
          "| chance |\n|---|---|---|---|---|---|---|")
    for seed, r in results.items():
        a = r["accuracy"]
        print(f"| {seed} | " + " | ".join(f"{100 * a[k]:.1f} %" for k in (
            "cebra", "raw", "pca", "cebra (labels shuffled)", "raw (neural shuffled)",
            "chance")) + " |")
    write_json(args.out, json_safe(dict(
        benchmark="whole_path_demo", argv=sys.argv[1:], session=DEMO_SESSION, chosen=chosen,
        validation=rows, results=results, loadavg_at_start=load)), what="benchmark results")
    print(f"results: {args.out}")
    return 0


def _demo_inputs(seed: int, work: Path):
    """(traces, frame_id, repeat, fs, movie) of animal ``seed``'s demo session after suite2p
    (its output kept in ``work`` and reused), and the seconds each step took."""
    import tifffile

    from napari_cebra.imaging import extract_steps
    from napari_cebra.imaging.session import load_session
    from napari_cebra.progress import drain
    from napari_cebra.sample_files import demo_files, read_manifest
    from napari_cebra.whole_path import read_frame_labels
    from napari_cebra.whole_path.stack_decoding import cell_traces

    seconds = {}
    t = time.perf_counter()
    files = demo_files(seed, say=lambda text: print(f"  {text}", flush=True))
    seconds["session (cache)"] = time.perf_counter() - t
    manifest = read_manifest(files.folder)
    out = work / f"seed{seed}"
    t = time.perf_counter()
    if (out / "suite2p").is_dir():
        session = load_session(out)
    else:
        session = drain(extract_steps(files.stack, fs=files.fs, tau=manifest["tau"],
                                      diameter=manifest["diameter"], out_dir=out,
                                      torch_device="cpu"))
    seconds["suite2p + dF/F"] = time.perf_counter() - t
    traces, _ = cell_traces(session)
    labels = read_frame_labels(files.frame_labels, n_frames=session.n_frames)
    movie = tifffile.imread(files.movie).astype(np.float32) / 255.0
    return (traces, labels.frame_id, labels.repeat, files.fs, movie), seconds


if __name__ == "__main__":
    raise SystemExit(demo() if "--demo" in sys.argv else main())
