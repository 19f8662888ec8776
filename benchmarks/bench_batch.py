"""Batch runs on Dask: one study sequentially vs on a LocalCluster, and a sweep on V1.

    python benchmarks/bench_batch.py                       # both parts (≈ 10 min on 2 busy cores)
    python benchmarks/bench_batch.py --part speedup --sessions 4 --iterations 200
    python benchmarks/bench_batch.py --part sweep --iterations 300

Part ``speedup``: the same study of place-cell sessions (napari_cebra.synthetic.hippocampus)
run one task after another in this process (torch with every core) and on a LocalCluster
sized to the machine (one single-threaded torch per core): wall-clock seconds of each.

Part ``sweep``: a V1 session (napari_cebra.synthetic.v1) as a one-session study, labels = the
movie phase (cos, sin); test = the last repeat, validation = the one before (the frame-decoding
protocol's split). The sweep chooses settings on validation; then the paper's protocol
(napari_cebra.analysis.frame_decoding: cosine kNN, n_neighbors chosen on the validation
repeat, ±1 s frame-ID accuracy on the test repeat) is run with the chosen settings and with the
default settings (pipeline.TrainSettings) at the same iteration budget.
Writes a JSON (never overwriting one) and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_study(folder: Path, n: int, samples: int, neurons: int) -> Path:
    from napari_cebra.synthetic.hippocampus import hippocampus_session

    rows = ["session,path,fs,labels,test_fraction"]
    for i in range(n):
        s = hippocampus_session(n_neurons=neurons, n_samples=samples, seed=i)
        np.save(folder / f"s{i}.npy", s.neural.astype(np.float32))
        np.save(folder / f"s{i}_pos.npy", s.position.astype(np.float32))
        rows.append(f"s{i},s{i}.npy,{s.fs},s{i}_pos.npy,0.2")
    (folder / "study.csv").write_text("\n".join(rows) + "\n")
    return folder / "study.csv"


def speedup(args, tmp: Path) -> dict:
    from napari_cebra.batch import run_study
    from napari_cebra.batch.cluster import machine_shape

    study = make_study(tmp, args.sessions, args.samples, args.neurons)
    settings = dict(max_iterations=args.iterations, batch_size=args.batch_size, device="cpu")
    out = {"sessions": args.sessions, "samples": args.samples, "neurons": args.neurons,
           "settings": settings, "workers_threads": machine_shape()}
    start = time.perf_counter()
    seq = run_study(study, tmp / "sequential", settings, workers=0, progress=False)
    out["sequential_s"] = time.perf_counter() - start
    start = time.perf_counter()
    par = run_study(study, tmp / "cluster", settings, progress=False)
    out["cluster_s"] = time.perf_counter() - start  # includes the cluster's start-up
    out["speedup"] = out["sequential_s"] / out["cluster_s"]
    out["all_done"] = bool((seq["status"] == "done").all() and (par["status"] == "done").all())
    out["test_r2_sequential"] = seq["test_score"].tolist()
    out["test_r2_cluster"] = par["test_score"].tolist()
    print(f"study of {args.sessions} sessions: sequential {out['sequential_s']:.1f} s, "
          f"LocalCluster {out['workers_threads']} {out['cluster_s']:.1f} s → speed-up "
          f"{out['speedup']:.2f}×")
    return out


def v1_sweep(args, tmp: Path) -> dict:
    from napari_cebra.analysis.frame_decoding import DEFAULT_CEBRA, cebra_labels, decode_frames
    from napari_cebra.batch import sweep
    from napari_cebra.pipeline import TrainSettings
    from napari_cebra.synthetic.v1 import v1_session

    s = v1_session(n_repeats=args.repeats, movie_seconds=args.seconds, n_neurons=args.v1_neurons,
                   seed=args.seed)
    np.save(tmp / "v1.npy", s.neural.astype(np.float32))
    np.save(tmp / "v1_phase.npy", cebra_labels("phase", s.frame_id, n_frames=s.n_frames))
    fraction = 1.0 / s.n_repeats  # test: the last repeat; validation: the one before
    (tmp / "v1.csv").write_text("session,path,fs,labels,test_fraction\n"
                                f"v1,v1.npy,{s.fs},v1_phase.npy,{fraction}\n")
    base = dict(max_iterations=args.iterations, batch_size=args.batch_size, device="cpu",
                seed=args.seed)
    grid = {"output_dimension": [3, 16], "learning_rate": [3e-4, 3e-3],
            "temperature": [1.0, 0.1]}
    start = time.perf_counter()
    frame = sweep(tmp / "v1.csv", grid, tmp / "sweep", base, workers=args.workers,
                  progress=False)
    seconds = time.perf_counter() - start
    final = frame[frame["stage"] == "final"].iloc[0]
    chosen = {k: final[k] for k in grid}
    chosen = {k: (int(v) if k == "output_dimension" else float(v)) for k, v in chosen.items()}
    default = {k: getattr(TrainSettings(), k) for k in grid}

    def accuracy(choice: dict) -> float:
        ts = TrainSettings.from_dict({**base, **choice})
        params = {**DEFAULT_CEBRA, **ts.estimator_params(True)}
        params.pop("test_fraction", None)
        report = decode_frames(s.neural, s.frame_id, s.repeat, s.fs, labels="phase",
                               cebra_params=params, baselines=(), controls=(), seed=args.seed)
        return float(report.result(report.results[0].name).accuracy)

    out = {"repeats": args.repeats, "seconds": args.seconds, "neurons": args.v1_neurons,
           "base": base, "grid": grid, "sweep_s": seconds, "chosen": chosen,
           "default": default}
    out["accuracy_chosen"] = accuracy(chosen)
    out["accuracy_default"] = accuracy(default)
    out["points_better"] = 100 * (out["accuracy_chosen"] - out["accuracy_default"])
    out["chance"] = 2 * s.fs / s.n_frames
    out["select_rows"] = frame[frame["stage"] == "select"][
        list(grid) + ["val_score"]].to_dict("records")
    print(f"V1 sweep ({len(out['select_rows'])} settings, {seconds:.0f} s): chosen {chosen}")
    print(f"±1 s frame-ID accuracy on the test repeat: chosen {out['accuracy_chosen']:.1%}, "
          f"default {out['accuracy_default']:.1%} ({out['points_better']:+.1f} points; chance "
          f"{out['chance']:.1%})")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--part", choices=("both", "speedup", "sweep"), default="both")
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--neurons", type=int, default=40)
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--v1-neurons", type=int, default=100)
    p.add_argument("--workers", type=int, default=None, help="sweep workers (machine-sized)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="JSON report (default: "
                   "benchmarks/results/batch_<time>.json)")
    args = p.parse_args(argv)
    out_path = args.out or Path(__file__).parent / "results" / \
        f"batch_{time.strftime('%Y%m%d_%H%M%S')}.json"
    if out_path.exists():
        print(f"{out_path} exists; choose another --out.", file=sys.stderr)
        return 2
    data: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("both", "speedup"):
            (Path(tmp) / "a").mkdir()
            data["speedup"] = speedup(args, Path(tmp) / "a")
        if args.part in ("both", "sweep"):
            (Path(tmp) / "b").mkdir()
            data["sweep"] = v1_sweep(args, Path(tmp) / "b")
    from napari_cebra.files import write_text

    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_text(out_path, json.dumps(data, indent=2, default=str) + "\n")
    print(f"report: {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
