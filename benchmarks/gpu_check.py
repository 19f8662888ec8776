"""One prepared GPU check (≤ 5 minutes on a CUDA machine): run it whenever a GPU is at hand.

    xvfb-run -a python benchmarks/gpu_check.py --out gpu_check.json    # on a CUDA machine
    python benchmarks/gpu_check.py --dry-run --out /tmp/gpu_check.json  # tiny, CPU, seconds

Parts (each timed; one that fails is recorded with its error and the others still run):

1. training: every workload of ``bench_engine.py`` (a–f) fitted on the device by our engine and
   by the reference ``cebra`` (when installed), iterations/s of each and their ratio;
2. transform: a memory-mapped (1,000,000 × 1,000) float32 file embedded on the device (ours;
   the reference on a tenth of the rows, since it loads the whole array);
3. save/load: a model trained on the device, saved, loaded on the CPU: equal embeddings;
4. job: the Train widget's worker job (``pipeline.train`` on a hippocampus session, drained as
   the widget's worker drains it) on the device, with no Qt, for machines without napari;
5. widget: the Train widget (napari viewer, needs a display: Xvfb) trains on the device.

``--dry-run`` runs everything tiny on the CPU so the script cannot rot (tests run it).
Prints a table and writes JSON to ``--out`` (never over an existing file).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_engine  # noqa: E402  (the workload definitions, shared with the CPU benchmark)

TINY = {"batch_size": 32, "num_hidden_units": 8}  # --dry-run


def _timed(results: dict, name: str, fn, *args) -> None:
    start = time.perf_counter()
    try:
        results[name] = {"ok": True, **fn(*args)}
    except Exception as err:  # one failing part must not hide the others' figures
        results[name] = {"ok": False, "error": f"{type(err).__name__}: {err}",
                         "traceback": traceback.format_exc()[-2000:]}
    results[name]["seconds"] = time.perf_counter() - start
    print(f"[{name}] {'ok' if results[name]['ok'] else 'FAILED: ' + results[name]['error']} "
          f"({results[name]['seconds']:.1f} s)", flush=True)


def _has_reference() -> bool:
    try:
        import cebra  # noqa: F401
    except ImportError:
        return False
    return True


def _data(spec: dict, dry: bool):
    if not dry:
        return bench_engine.workload_data(spec)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, min(spec["neurons"], 24))).astype(np.float32)
    if spec["conditional"] == "time":
        return x, None
    dims = 3 if spec["data"] == "hippocampus" else 16
    return x, np.cumsum(rng.standard_normal((400, dims)), 0).astype(np.float32)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def part_training(device: str, dry: bool, iterations: int) -> dict:
    engines = ["ours"] + (["reference"] if _has_reference() else [])
    rows = []
    for key, spec in bench_engine.WORKLOADS.items():
        x, y = _data(spec, dry)
        if dry:
            spec = {**spec, **TINY}
        row = {"workload": key, "name": spec["name"], "neurons": int(x.shape[1])}
        for engine in engines:
            bench_engine.fit_rate(engine, spec, 2 if dry else 20, x, y, device)  # warm-up
            _sync(device)
            row[f"{engine}_it_per_s"] = bench_engine.fit_rate(engine, spec, iterations, x, y,
                                                              device)
        if "reference_it_per_s" in row:
            row["ratio"] = row["ours_it_per_s"] / row["reference_it_per_s"]
        rows.append(row)
        print(f"  {key} {spec['name']:<40}" + "".join(
            f"{row.get(e + '_it_per_s', float('nan')):10.1f}" for e in ("ours", "reference"))
            + (f"{row['ratio']:8.2f}×" if "ratio" in row else ""), flush=True)
    return {"rows": rows, "iterations": iterations, "reference": "reference" in engines}


def _fitted(engine: str, cols: int, device: str, iterations: int = 5, tiny: bool = False):
    rng = np.random.default_rng(0)
    small = rng.standard_normal((2000, cols)).astype(np.float32)
    spec = {"output_dimension": 3, "conditional": "time_delta", **(TINY if tiny else {})}
    model = bench_engine.make_engine(engine, spec, iterations, device)
    model.fit(small, np.cumsum(rng.standard_normal((2000, 1)), 0).astype(np.float32))
    return model, small


def part_transform(device: str, rows: int, cols: int, tiny: bool) -> dict:
    out: dict = {"rows": rows, "cols": cols}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "neural.f32")
        data = np.memmap(path, dtype=np.float32, mode="w+", shape=(rows, cols))
        rng = np.random.default_rng(0)
        step = max(1, (64 << 20) // (4 * cols))
        for lo in range(0, rows, step):
            data[lo:lo + step] = rng.random((min(step, rows - lo), cols), dtype=np.float32)
        data.flush()
        del data
        x = np.memmap(path, dtype=np.float32, mode="r", shape=(rows, cols))
        for engine, n in (("ours", rows), ("reference", max(1, rows // 10))):
            if engine == "reference" and not _has_reference():
                continue
            model, small = _fitted(engine, cols, device, tiny=tiny)
            model.transform(small)
            _sync(device)
            start = time.perf_counter()
            emb = model.transform(x[:n])
            _sync(device)
            seconds = time.perf_counter() - start
            out[engine] = {"rows": n, "samples_per_s": n / seconds, "seconds": seconds,
                           "shape": list(emb.shape), "finite": bool(np.isfinite(emb).all())}
            del model, emb
    if "reference" in out:
        out["ratio"] = out["ours"]["samples_per_s"] / out["reference"]["samples_per_s"]
    return out


def part_save_load(device: str, tiny: bool) -> dict:
    from napari_cebra import CEBRA

    model, small = _fitted("ours", 40, device, iterations=20, tiny=tiny)
    on_device = model.transform(small)
    with tempfile.TemporaryDirectory() as tmp:
        path = model.save(Path(tmp) / "model.pt")
        loaded = CEBRA.load(path, device="cpu")
    on_cpu = loaded.transform(small)
    diff = float(np.abs(on_device - on_cpu).max())
    if not diff < 1e-4:
        raise AssertionError(f"embeddings differ by {diff} after loading on the CPU")
    return {"trained_on": str(device), "loaded_on": "cpu", "max_abs_difference": diff,
            "shape": list(on_cpu.shape)}


def part_job(device: str, dry: bool) -> dict:
    from napari_cebra import pipeline
    from napari_cebra.synthetic.hippocampus import hippocampus_session

    s = hippocampus_session(n_neurons=30 if dry else 120, n_samples=1200 if dry else 10_000,
                            seed=0)
    settings = pipeline.TrainSettings(max_iterations=20 if dry else 500,
                                      batch_size=64 if dry else 512,
                                      num_hidden_units=16 if dry else 32, device=device)
    job = pipeline.job_from_arrays(s.neural, settings, labels={"position": s.position},
                                   label_kinds={"position": "continuous"},
                                   label_columns=["position"], source="session", fs=s.fs)
    events = []
    start = time.perf_counter()
    result = pipeline.run(pipeline.train(job), events.append)
    seconds = time.perf_counter() - start
    emb = np.asarray(result.embedding)
    if not np.isfinite(emb).all():
        raise AssertionError("the job's embedding has non-finite values")
    return {"device": device, "train_and_embed_s": seconds, "progress_events": len(events),
            "model_device": str(getattr(result.model, "device_", "?")),
            "embedding_shape": list(emb.shape), "final_loss": float(result.loss[-1])}


def part_widget(device: str, dry: bool) -> dict:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_cebra.gui.layers import traces_layer
    from napari_cebra.gui.train_widget import TrainWidget
    from napari_cebra.synthetic.hippocampus import hippocampus_session

    viewer = napari.Viewer(show=False)
    try:
        s = hippocampus_session(n_neurons=30 if dry else 120, n_samples=1200 if dry else 10_000,
                                seed=0)
        data, kwargs, _ = traces_layer(s.neural, name="session", fs=s.fs,
                                       labels={"position": s.position},
                                       label_kinds={"position": "continuous"})
        viewer.add_image(data, **kwargs)
        widget = TrainWidget(viewer)
        viewer.window.add_dock_widget(widget)
        form = widget.form
        form["max_iterations"].value = 20 if dry else 500
        form["batch_size"].value = 64 if dry else 512
        form["num_hidden_units"].value = 16 if dry else 32
        form["model_architecture"].value = "offset10-model"
        widget.set_label_columns(["position"])
        wanted = device if device != "cuda" else "cuda:0"
        if wanted not in form["device"].choices:
            raise RuntimeError(f"the widget offers no device {device!r}")
        form["device"].value = wanted
        app = QApplication.instance()
        deadline = time.monotonic() + 240
        while widget.warm_up.is_running and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        start = time.perf_counter()
        widget.start()
        while (widget.running or widget.model is None) and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        seconds = time.perf_counter() - start
        if widget.model is None:
            raise RuntimeError(f"the widget produced no model: {widget.status.text()}")
        result = widget.result
        return {"device": widget.settings().device, "train_and_embed_s": seconds,
                "model_device": str(getattr(widget.model, "device_", "?")),
                "embedding_shape": list(result.embedding.shape),
                "status": widget.status.text()}
    finally:
        viewer.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="JSON report (must not exist)")
    p.add_argument("--dry-run", action="store_true", help="everything tiny, on the CPU")
    p.add_argument("--device", default="cuda")
    p.add_argument("--iterations", type=int, default=200)
    p.add_argument("--skip", default="", help="comma-separated parts to skip "
                   "(training, transform, save_load, job, widget)")
    args = p.parse_args(argv)
    from napari_cebra.files import check_target, write_json

    try:
        check_target(args.out, overwrite=False, what="report")
    except OSError as err:
        print(err, file=sys.stderr)
        return 2
    import torch

    device = "cpu" if args.dry_run else args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("torch sees no CUDA device; run with --dry-run, or on a GPU machine.",
              file=sys.stderr)
        return 2
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    report: dict = {"device": device, "dry_run": args.dry_run, "torch": torch.__version__,
                    "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
                    "threads": torch.get_num_threads()}
    start = time.perf_counter()
    iterations = 3 if args.dry_run else args.iterations
    rows, cols = (2000, 50) if args.dry_run else (1_000_000, 1000)
    parts = {"training": (part_training, device, args.dry_run, iterations),
             "transform": (part_transform, device, rows, cols, args.dry_run),
             "save_load": (part_save_load, device, args.dry_run),
             "job": (part_job, device, args.dry_run),
             "widget": (part_widget, device, args.dry_run)}
    for name, (fn, *fn_args) in parts.items():
        if name not in skip:
            _timed(report, name, fn, *fn_args)
    report["total_seconds"] = time.perf_counter() - start
    _print(report)
    write_json(args.out, report, what="report")
    print(f"wrote {args.out}")
    return 0 if all(report[n]["ok"] for n in parts if n in report) else 1


def _print(report: dict) -> None:
    print(f"\nGPU check on {report['device']} ({report['gpu'] or 'no GPU'}), "
          f"{report['total_seconds']:.0f} s")
    tr = report.get("training", {})
    for row in tr.get("rows", []):
        print(f"  train {row['workload']} {row['name']:<40}{row['ours_it_per_s']:9.1f} it/s"
              + (f"  reference {row['reference_it_per_s']:8.1f}  ratio {row['ratio']:.2f}×"
                 if "ratio" in row else ""))
    t = report.get("transform", {})
    for engine in ("ours", "reference"):
        if engine in t:
            print(f"  transform {engine:<10}{t[engine]['rows']:>10,} rows "
                  f"{t[engine]['samples_per_s']:14,.0f} samples/s")
    s = report.get("save_load", {})
    if s.get("ok"):
        print(f"  save on {s['trained_on']}, load on cpu: max |Δ| {s['max_abs_difference']:.2e}")
    j = report.get("job", {})
    if j.get("ok"):
        print(f"  Train job on {j['device']}: {j['train_and_embed_s']:.1f} s, "
              f"model on {j['model_device']}, embedding {j['embedding_shape']}")
    w = report.get("widget", {})
    if w.get("ok"):
        print(f"  Train widget on {w['device']}: {w['train_and_embed_s']:.1f} s, "
              f"embedding {w['embedding_shape']}")


if __name__ == "__main__":
    sys.exit(main())
