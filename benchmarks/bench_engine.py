"""Our CEBRA engine vs the reference ``cebra`` package, trained in the same run on the same data.

    python benchmarks/bench_engine.py                # training speed, decoding, transform
    python benchmarks/bench_engine.py --memory-only  # peak RSS of transform on 1 M × 1,000

Training: offset10-model, batch 512, 32 hidden units, 3-D output, time_delta on the synthetic
hippocampus session (position + direction labels). Each engine is warmed up, then timed
alternately ``--repeats`` times; the median iterations/s of each and their ratio are printed.
"ours" draws separate negatives as the reference does (our default); "ours_batch" uses the
other references of a batch as negatives (``negatives="batch"``: a third less work a step).
Decoding: both trained models embed the held-out last 20 % and a cosine kNN decodes position.
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

SETTINGS = dict(model_architecture="offset10-model", batch_size=512, output_dimension=3,
                num_hidden_units=32, learning_rate=3e-4, temperature=1.0, time_offsets=10,
                conditional="time_delta", device="cpu")


def ours(iterations: int, seed: int = 0):
    from napari_cebra import CEBRA

    return CEBRA(**SETTINGS, max_iterations=iterations, seed=seed)


def ours_batch(iterations: int, seed: int = 0):
    """Our engine with the batch's other references as negatives (2 B windows a step)."""
    from napari_cebra import CEBRA

    return CEBRA(**SETTINGS, max_iterations=iterations, seed=seed, negatives="batch")


def reference(iterations: int, seed: int = 0):
    import cebra
    import torch

    torch.manual_seed(seed)
    return cebra.CEBRA(**SETTINGS, max_iterations=iterations, verbose=False)


def timed_fit(make, iterations, x, y):
    model = make(iterations)
    start = time.perf_counter()
    model.fit(x, y)
    return model, iterations / (time.perf_counter() - start)


def decode(model, x, position, cut):
    from sklearn.neighbors import KNeighborsRegressor

    emb = model.transform(x)
    knn = KNeighborsRegressor(n_neighbors=24, metric="cosine").fit(emb[:cut], position[:cut])
    pred = knn.predict(emb[cut:])
    err = np.abs(pred - position[cut:])
    truth = position[cut:]
    r2 = 1 - np.sum((pred - truth) ** 2) / np.sum((truth - truth.mean()) ** 2)
    return float(np.median(err) * 100), float(r2)


def transform_rate(model, x, repeats=3):
    model.transform(x[:1000])
    best = min(_clock(lambda: model.transform(x)) for _ in range(repeats))
    return x.shape[0] / best


def _clock(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def speed_and_decoding(args) -> dict:
    from napari_cebra.synthetic.hippocampus import hippocampus_session

    session = hippocampus_session(n_neurons=args.neurons, n_samples=args.samples, seed=0)
    cut = int(0.8 * session.n_samples)
    x_train, y_train = session.neural[:cut], session.behaviour[:cut]
    engines = (("reference", reference), ("ours", ours), ("ours_batch", ours_batch))
    for _, make in engines:  # warm-up: first fit pays one-off costs
        timed_fit(make, 30, x_train, y_train)
    rates = {name: [] for name, _ in engines}
    models = {}
    for _ in range(args.repeats):
        for name, make in engines:
            models[name], rate = timed_fit(make, args.iterations, x_train, y_train)
            rates[name].append(rate)
    result = {"iterations": args.iterations, "neurons": args.neurons, "samples": args.samples,
              "threads": __import__("torch").get_num_threads()}
    for name in rates:
        result[f"{name}_it_per_s"] = float(np.median(rates[name]))
        result[f"{name}_it_per_s_all"] = [round(r, 2) for r in rates[name]]
        err, r2 = decode(models[name], session.neural, session.position, cut)
        result[f"{name}_median_error_cm"] = err
        result[f"{name}_r2"] = r2
        result[f"{name}_transform_samples_per_s"] = transform_rate(models[name], session.neural)
    result["speed_ratio"] = result["ours_it_per_s"] / result["reference_it_per_s"]
    result["speed_ratio_batch_negatives"] = (result["ours_batch_it_per_s"]
                                             / result["reference_it_per_s"])
    result["transform_ratio"] = (result["ours_transform_samples_per_s"]
                                 / result["reference_transform_samples_per_s"])
    return result


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM; unlike ru_maxrss it restarts at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _memory_child(engine: str, path: str, rows: int, cols: int) -> None:
    """Run in a fresh process: embed a memory-mapped (rows, cols) file, print peak RSS."""
    x = np.memmap(path, dtype=np.float32, mode="r", shape=(rows, cols))
    rng = np.random.default_rng(0)
    small = rng.standard_normal((2000, cols)).astype(np.float32)
    make = ours if engine == "ours" else reference
    model = make(5)
    model.fit(small, np.cumsum(rng.standard_normal((2000, 1)), 0).astype(np.float32))
    base = _peak_rss_mb()
    start = time.perf_counter()
    emb = model.transform(x)
    elapsed = time.perf_counter() - start
    peak = _peak_rss_mb()
    print(json.dumps({"engine": engine, "rows": rows, "cols": cols, "shape": list(emb.shape),
                      "seconds": elapsed, "samples_per_s": rows / elapsed,
                      "peak_rss_mb": peak, "peak_rss_before_transform_mb": base}))


def memory(rows: int, cols: int, engines) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "neural.f32")
        data = np.memmap(path, dtype=np.float32, mode="w+", shape=(rows, cols))
        rng = np.random.default_rng(0)
        step = 50_000
        for start in range(0, rows, step):
            data[start:start + step] = rng.standard_normal((min(step, rows - start), cols))
        data.flush()
        del data
        for engine in engines:
            proc = subprocess.run([sys.executable, __file__, "--child", engine, path, str(rows),
                                   str(cols)], capture_output=True, text=True)
            if proc.returncode:
                out.append({"engine": engine, "rows": rows, "cols": cols,
                            "error": proc.stderr.strip().splitlines()[-1][:200]})
            else:
                out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--neurons", type=int, default=120)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--memory-only", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-rows", type=int, default=1_000_000)
    parser.add_argument("--memory-cols", type=int, default=1000)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine, path, rows, cols = args.child
        _memory_child(engine, path, int(rows), int(cols))
        return
    report = {}
    if not args.memory_only:
        report["training"] = speed_and_decoding(args)
        print(json.dumps(report["training"], indent=2), flush=True)
    if not args.skip_memory:
        report["memory"] = memory(args.memory_rows, args.memory_cols, ["ours"])
        # the reference holds the whole recording in memory; measure it on a tenth
        report["memory"] += memory(args.memory_rows // 10, args.memory_cols,
                                   ["ours", "reference"])
        print(json.dumps(report["memory"], indent=2))
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "engine.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
