"""Our CEBRA engine vs the reference ``cebra`` package: every workload of issue 10 in one run.

    python benchmarks/bench_engine.py                    # all training workloads + transform
    python benchmarks/bench_engine.py --workloads a,c    # a subset (a–f), no transform
    python benchmarks/bench_engine.py --quick            # few iterations, 100 k-row transform
    python benchmarks/bench_engine.py --workloads none   # transform only

Training: offset10-model, batch 512, 32 hidden units, default (independent) negatives, torch
threads = ``--threads`` (2). Each engine is warmed up, then the two fit alternately
``--repeats`` times on the same data; iterations/s = iterations / fit seconds, median of the
repeats. Workloads:

    a  hippocampus-like, 120 neurons, 3-D, time_delta (position + direction labels)
    b  V1-like, 400 neurons, 32-D, time_delta, 16 continuous movie features as labels
    c  V1-like, 400 neurons, 8-D, CEBRA-Time (no labels)
    d  V1-like, 1,000 neurons, 32-D, time_delta, movie features
    e  hippocampus-like, 1,000 neurons, 3-D, time_delta
    f  V1-like, 1,000 neurons, 27,000 frames (the movie 30 times: a 15-minute session at
       30 Hz), 32-D, time_delta, movie features

Transform: a (rows × cols) float32 file, memory-mapped, embedded by a model fitted for a few
steps, each engine in its own process so its peak RSS (VmHWM) is its own. The reference reads
the whole array into memory, so it runs on ``--reference-rows`` rows (samples/s compare).
The machine's read bandwidth is measured in the same run (numpy sum over the mapped file, warm
page cache), giving the bandwidth limit of any transform: bandwidth / (4 · cols) samples/s.
Results go to benchmarks/results/engine_<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

COMMON = dict(model_architecture="offset10-model", batch_size=512, num_hidden_units=32,
              learning_rate=3e-4, temperature=1.0, time_offsets=10, device="cpu")

WORKLOADS = {
    "a": dict(name="hippocampus 120 n, 3-D, time_delta", data="hippocampus", neurons=120,
              output_dimension=3, conditional="time_delta"),
    "b": dict(name="V1 400 n, 32-D, time_delta (movie)", data="v1", neurons=400,
              output_dimension=32, conditional="time_delta"),
    "c": dict(name="V1 400 n, 8-D, CEBRA-Time", data="v1", neurons=400, output_dimension=8,
              conditional="time"),
    "d": dict(name="V1 1,000 n, 32-D, time_delta (movie)", data="v1", neurons=1000,
              output_dimension=32, conditional="time_delta"),
    "e": dict(name="hippocampus 1,000 n, 3-D, time_delta", data="hippocampus", neurons=1000,
              output_dimension=3, conditional="time_delta"),
    "f": dict(name="V1 1,000 n × 27,000 frames, 32-D (movie)", data="v1", neurons=1000,
              output_dimension=32, conditional="time_delta", repeats=30),
}


def workload_data(spec: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """(neural, continuous labels or None) of a workload."""
    if spec["data"] == "hippocampus":
        from napari_cebra.synthetic.hippocampus import hippocampus_session

        s = hippocampus_session(n_neurons=spec["neurons"], n_samples=10_000, seed=0)
        return s.neural.astype(np.float32), s.behaviour.astype(np.float32)
    from napari_cebra.analysis.frame_decoding import cebra_labels
    from napari_cebra.synthetic.v1 import v1_session

    s = v1_session(n_repeats=spec.get("repeats", 10), movie_seconds=30.0,
                   n_neurons=spec["neurons"], seed=0)
    if spec["conditional"] == "time":
        return s.neural.astype(np.float32), None
    return s.neural.astype(np.float32), cebra_labels("movie", s.frame_id, s.movie)


def make_engine(engine: str, spec: dict, iterations: int, device: str = "cpu", seed: int = 0):
    params = {**COMMON, "output_dimension": spec["output_dimension"],
              "conditional": spec["conditional"], "max_iterations": iterations,
              "device": device}
    params.update({k: spec[k] for k in ("batch_size", "num_hidden_units") if k in spec})
    if engine == "ours":
        from napari_cebra import CEBRA

        return CEBRA(**params, seed=seed)
    import cebra
    import torch

    torch.manual_seed(seed)
    return cebra.CEBRA(**params, verbose=False)


def fit_rate(engine: str, spec: dict, iterations: int, x, y, device: str = "cpu") -> float:
    model = make_engine(engine, spec, iterations, device)
    start = time.perf_counter()
    model.fit(x) if y is None else model.fit(x, y)
    return iterations / (time.perf_counter() - start)


def work_per_step(spec: dict, x: np.ndarray, y, steps: int = 5) -> dict:
    """Multiply-adds and first-layer input bytes of one training step, ours vs the reference.

    Both run offset10 (first conv k=2, three k=3 skips, last k=3) on M = 3·B windows. The
    reference convolves every position of every window (9, 7, 5, 3 and 1 per layer); ours
    (on a CPU) computes each layer once per distinct time point that the step's windows need
    from it (``_LayerPlan``, on windows drawn by our sampler). Forward + weight gradient for
    the first layer (no input gradient), forward + input and weight gradients for the others."""
    import torch

    from napari_cebra.engine.models import _LayerPlan, make_model
    from napari_cebra.engine.sampling import Labels, Sampler

    b = spec.get("batch_size", COMMON["batch_size"])
    u = spec.get("num_hidden_units", COMMON["num_hidden_units"])
    n, d = x.shape[1], spec["output_dimension"]
    model = make_model("offset10-model", n, u, d)
    rng = np.random.default_rng(0)
    sampler = Sampler(Labels(len(x), continuous=y), spec["conditional"], 10, 0.0, "empirical",
                      rng)
    counts = []
    for _ in range(steps):
        ref = sampler.references((b,))
        starts = np.concatenate([ref, sampler.positives(ref), sampler.negatives((b,))])
        plan = _LayerPlan(model, len(x) + 9, starts, torch.device("cpu"))
        counts.append([t.numel() for t in plan.times])
    rows = np.mean(counts, axis=0)  # input, first conv, 3 skips, output
    m = 3 * b
    per_window = np.array([10, 9, 7, 5, 3, 1])

    def macs(r):
        return (2 * r[0] * n * 2 * u  # first layer: per input row, both taps (ours) …
                + 3 * (r[2] + r[3] + r[4]) * 3 * u * u + 3 * r[5] * 3 * u * d)

    ref_rows = m * per_window
    ref_macs = 2 * ref_rows[1] * n * 2 * u + 3 * (ref_rows[2] + ref_rows[3] + ref_rows[4]) \
        * 3 * u * u + 3 * ref_rows[5] * 3 * u * d  # … per output position, both taps
    ours_macs = macs(rows)
    ours_first = 2 * rows[0] * n * 2 * u
    ref_first = 2 * ref_rows[1] * n * 2 * u
    return {"windows": m, "distinct_time_points": float(rows[0]),
            "ours_rows_per_layer": [round(float(r)) for r in rows],
            "reference_rows_per_layer": [int(r) for r in ref_rows],
            "reference_macs": float(ref_macs), "ours_macs": float(ours_macs),
            "reference_first_layer_share": float(ref_first / ref_macs),
            "ours_first_layer_share": float(ours_first / ours_macs),
            "flop_ratio": float(ref_macs / ours_macs),
            "reference_input_bytes": m * 10 * n * 4, "ours_input_bytes": float(rows[0] * n * 4)}


def training(keys: list[str], iterations: int, repeats: int) -> list[dict]:
    rows = []
    for key in keys:
        spec = WORKLOADS[key]
        x, y = workload_data(spec)
        for engine in ("reference", "ours"):  # warm-up: first fits pay one-off costs
            fit_rate(engine, spec, max(10, iterations // 10), x, y)
        rates: dict[str, list[float]] = {"reference": [], "ours": []}
        for _ in range(repeats):
            for engine in ("reference", "ours"):
                rates[engine].append(fit_rate(engine, spec, iterations, x, y))
        row = {"workload": key, **spec, "samples": int(x.shape[0]), "iterations": iterations,
               "ours_it_per_s": float(np.median(rates["ours"])),
               "reference_it_per_s": float(np.median(rates["reference"])),
               "ours_all": [round(r, 2) for r in rates["ours"]],
               "reference_all": [round(r, 2) for r in rates["reference"]]}
        row["ratio"] = row["ours_it_per_s"] / row["reference_it_per_s"]
        work = work_per_step(spec, x, y)
        row["work_per_step"] = work
        row["ours_gflop_per_s"] = 2 * work["ours_macs"] * row["ours_it_per_s"] / 1e9
        row["reference_gflop_per_s"] = 2 * work["reference_macs"] * row["reference_it_per_s"] / 1e9
        print(f"  {key}  {spec['name']:<40}{row['ours_it_per_s']:9.1f}"
              f"{row['reference_it_per_s']:9.1f}{row['ratio']:8.2f}×"
              f"{work['flop_ratio']:8.2f}×{row['ours_gflop_per_s']:9.1f}"
              f"{row['reference_gflop_per_s']:9.1f}", flush=True)
        rows.append(row)
    return rows


# -- transform ------------------------------------------------------------------------------
def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM; unlike ru_maxrss it restarts at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _transform_child(engine: str, path: str, rows: int, cols: int) -> None:
    """In a fresh process: embed a memory-mapped (rows, cols) file, print one JSON line."""
    import torch

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    x = np.memmap(path, dtype=np.float32, mode="r", shape=(rows, cols))
    rng = np.random.default_rng(0)
    small = rng.standard_normal((2000, cols)).astype(np.float32)
    spec = {"output_dimension": 3, "conditional": "time_delta"}
    model = make_engine(engine, spec, 5)
    model.fit(small, np.cumsum(rng.standard_normal((2000, 1)), 0).astype(np.float32))
    model.transform(small)
    base = _rss_mb()
    start = time.perf_counter()
    emb = model.transform(x)
    elapsed = time.perf_counter() - start
    peak = _peak_rss_mb()
    print(json.dumps({"engine": engine, "rows": rows, "cols": cols, "shape": list(emb.shape),
                      "seconds": elapsed, "samples_per_s": rows / elapsed,
                      "rss_before_mb": base, "peak_rss_mb": peak,
                      "peak_above_before_mb": peak - base}))


def _bandwidth_child(path: str, rows: int, cols: int) -> None:
    """Read bandwidth of this machine: a numpy sum over the mapped file (page cache warm)."""
    x = np.memmap(path, dtype=np.float32, mode="r", shape=(rows, cols))
    step = max(1, (8 << 20) // (4 * cols))
    best = 0.0
    for _ in range(2):
        start = time.perf_counter()
        for lo in range(0, rows, step):
            float(x[lo:lo + step].sum())
        best = max(best, rows * cols * 4 / (time.perf_counter() - start))
    print(json.dumps({"read_bytes_per_s": best}))


def _child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                          text=True)
    if proc.returncode:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1][:300]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def transform(rows: int, cols: int, reference_rows: int, threads: int) -> dict:
    os.environ["BENCH_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "neural.f32")
        data = np.memmap(path, dtype=np.float32, mode="w+", shape=(rows, cols))
        rng = np.random.default_rng(0)
        step = 50_000
        for start in range(0, rows, step):
            data[start:start + step] = rng.standard_normal((min(step, rows - start), cols))
        data.flush()
        del data
        bandwidth = _child("bandwidth", path, str(rows), str(cols))
        ours = {"engine": "ours", **_child("transform", "ours", path, str(rows), str(cols))}
        ref = {"engine": "reference",
               **_child("transform", "reference", path, str(reference_rows), str(cols))}
    out = {"rows": rows, "cols": cols, "ours": ours, "reference": ref, **bandwidth}
    if "samples_per_s" in ours and "samples_per_s" in ref:
        out["ratio"] = ours["samples_per_s"] / ref["samples_per_s"]
    if "read_bytes_per_s" in bandwidth and "samples_per_s" in ours:
        out["bandwidth_limit_samples_per_s"] = bandwidth["read_bytes_per_s"] / (4 * cols)
        out["fraction_of_bandwidth_limit"] = (ours["samples_per_s"]
                                              / out["bandwidth_limit_samples_per_s"])
    return out


def print_transform(t: dict) -> None:
    print(f"\ntransform {t['rows']:,} × {t['cols']:,} float32, memory-mapped")
    for name in ("ours", "reference"):
        r = t[name]
        if "error" in r:
            print(f"  {name:<10} failed: {r['error']}")
            continue
        print(f"  {name:<10}{r['rows']:>10,} rows {r['samples_per_s']:12,.0f} samples/s   "
              f"peak RSS {r['peak_rss_mb']:7.0f} MB ({r['peak_above_before_mb']:+.0f} MB "
              f"during transform)")
    if "ratio" in t:
        print(f"  ratio ours / reference: {t['ratio']:.2f}×")
    if "bandwidth_limit_samples_per_s" in t:
        print(f"  read bandwidth {t['read_bytes_per_s'] / 1e9:.2f} GB/s → limit "
              f"{t['bandwidth_limit_samples_per_s']:,.0f} samples/s; ours at "
              f"{t['fraction_of_bandwidth_limit']:.0%} of it")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workloads", default="all", help="comma-separated subset of a–f, 'all' "
                   "(with transform) or 'none' (transform only)")
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true",
                   help="60 iterations × 2 repeats; transform on 100,000 rows")
    p.add_argument("--transform", choices=("auto", "yes", "no"), default="auto",
                   help="auto: with --workloads all/none only")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--cols", type=int, default=1000)
    p.add_argument("--reference-rows", type=int, default=100_000)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "bandwidth":
            _bandwidth_child(rest[0], int(rest[1]), int(rest[2]))
        else:
            _transform_child(rest[0], rest[1], int(rest[2]), int(rest[3]))
        return 0
    import torch

    torch.set_num_threads(args.threads)
    if args.quick:
        args.iterations, args.repeats = 60, 2
        args.rows = args.reference_rows = min(args.rows, 100_000)
    keys = (list(WORKLOADS) if args.workloads == "all" else [] if args.workloads == "none"
            else [k.strip() for k in args.workloads.split(",") if k.strip()])
    unknown = [k for k in keys if k not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {unknown}; choose from {', '.join(WORKLOADS)}")
    do_transform = (args.transform == "yes"
                    or (args.transform == "auto" and args.workloads in ("all", "none")))
    out_path = args.out or Path(__file__).parent / "results" / \
        f"engine_{time.strftime('%Y%m%d_%H%M%S')}.json"
    report: dict = {"threads": torch.get_num_threads(), "torch": torch.__version__,
                    "settings": COMMON, "cpu_count": os.cpu_count(),
                    "load_average_start": os.getloadavg()}
    import cebra

    report["reference_version"] = cebra.__version__
    if keys:
        print(f"training it/s, {args.iterations} iterations × {args.repeats} alternating fits, "
              f"{report['threads']} threads")
        print(f"     {'workload':<40}{'ours':>9}{'ref':>9}{'ratio':>9}{'FLOPs':>9}"
              f"{'GF/s us':>9}{'GF/s ref':>9}")
        print("     (FLOPs: the reference's multiply-adds per step / ours; GF/s: achieved)")
        report["training"] = training(keys, args.iterations, args.repeats)
    if do_transform:
        report["transform"] = transform(args.rows, args.cols, args.reference_rows, args.threads)
        print_transform(report["transform"])
    report["load_average_end"] = os.getloadavg()
    from napari_cebra.files import write_json

    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_json(out_path, report, what="benchmark report")
    print(f"\nwrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
