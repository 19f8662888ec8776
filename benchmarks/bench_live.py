"""Live decoding latency per frame, beside what a user does otherwise, and what causality costs.

    python benchmarks/bench_live.py                  # everything (a few minutes on 2 cores)
    python benchmarks/bench_live.py --frames 2000 --skip-accuracy   # a quick look

(a) traces in: 1,000 neurons, offset10-model, 32-D output, 32 hidden units, kNN (k = 24) on
    100,000 training points: ``LiveDecoder.push`` per frame (frame → label), p50/p99/max over
    ``--frames`` frames; beside it, per frame, our batch ``transform`` on the last receptive
    field window (10 frames), the same plus scikit-learn kNN, and the reference ``cebra``
    package's ``transform`` on that window (when installed).
(b) a 512 × 512 raw frame in, 1,000 ROIs (suite2p masks with neuropil rings), running dF/F:
    push per frame; beside it the masks on the last window + our / the reference transform.
(c) the price of causality: ``offset10-model`` vs ``offset10-model-causal`` trained the same
    way on the hippocampus sample (position R², direction accuracy on the held-out 20 %) and
    the V1 sample (movie frame within ±1 s on the last repeat, CEBRA-Time).

Every path runs single-threaded (BLAS and torch), as a closed-loop process pinned to one core
would; the machine's load average is printed with the results since p99 and max depend on it.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

WINDOW = 10  # offset10-model's receptive field
NEURONS, DIMS, HIDDEN, K = 1000, 32, 32, 24


def _stats(ms) -> dict:
    ms = np.asarray(ms, np.float64)
    p50, p99 = np.percentile(ms, [50, 99])
    return {"p50": float(p50), "p99": float(p99), "max": float(ms.max()), "n": int(ms.size)}


def _timed(fn, n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        out.append(1e3 * (time.perf_counter() - start))
    return out


def _sessions(n_train: int, n_stream: int, seed: int = 0):
    """Place-cell traces of 1,000 neurons: a training set of n_train points and a stream."""
    from napari_cebra.synthetic.hippocampus import hippocampus_session

    chunks, positions = [], []
    per = 10_000
    for i in range(-(-n_train // per)):
        s = hippocampus_session(n_neurons=NEURONS, n_samples=per, seed=seed + i)
        chunks.append(s.neural)
        positions.append(s.position)
    stream = hippocampus_session(n_neurons=NEURONS, n_samples=max(n_stream, WINDOW),
                                 seed=seed + 1000)
    return chunks, positions, stream


def _model(x, y, steps: int):
    from napari_cebra import CEBRA

    return CEBRA(model_architecture="offset10-model", output_dimension=DIMS,
                 num_hidden_units=HIDDEN, batch_size=512, max_iterations=steps, device="cpu",
                 seed=0).fit(x, y)


def _reference(x, y, steps: int):
    try:
        import cebra
    except ImportError:
        return None
    return cebra.CEBRA(model_architecture="offset10-model", output_dimension=DIMS,
                       num_hidden_units=HIDDEN, batch_size=512, max_iterations=steps,
                       device="cpu", verbose=False).fit(x, y)


def traces_case(args, chunks, positions, stream, model, ref) -> dict:
    from napari_cebra.analysis.decoders import KNNDecoder
    from napari_cebra.live import LiveDecoder

    emb = np.concatenate([model.transform(c) for c in chunks])[: args.train_points]
    labels = np.concatenate(positions)[: args.train_points]
    live = LiveDecoder(model, emb, labels, n_neighbors=K)
    frames = stream.neural[: args.frames]
    results = []
    for x in frames:
        r = live.push(x)
        if r is not None:
            results.append(r)
    results += live.finish()
    batch = model.transform(frames)
    emb_diff = float(np.abs(np.stack([r.embedding for r in results]) - batch).max())
    sk = KNNDecoder(n_neighbors=K).fit(emb, labels)
    check = min(2000, len(batch))
    same = float(np.mean(np.isclose(np.array([r.value[0] for r in results[:check]]),
                                    sk.predict(batch[:check]), rtol=1e-6, atol=1e-12)))
    n_batch = min(args.batch_frames, len(frames) - WINDOW)
    last = [frames[i: i + WINDOW] for i in range(n_batch)]
    row = {"live": _stats([r.latency_ms for r in results if r.latency_ms > 0][: args.frames]),
           "ours_transform": _stats(_timed(lambda i: model.transform(last[i]), n_batch)),
           "ours_transform_knn": _stats(_timed(
               lambda i: sk.predict(model.transform(last[i])[-1:]), n_batch)),
           "lag_frames": live.lag_frames, "max_abs_embedding_diff": emb_diff,
           "labels_identical_fraction": same, "train_points": int(len(emb))}
    if ref is not None:
        row["reference_transform"] = _stats(_timed(lambda i: ref.transform(last[i]), n_batch))
    return row


def _ring_stat(n: int, shape: tuple[int, int], seed: int = 0) -> list[dict]:
    """n round ROIs (radius 5 px, Gaussian weights) at random places in the frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[-5:6, -5:6]
    disk = yy**2 + xx**2 <= 25
    stat = []
    for cy, cx in rng.integers(6, np.array(shape) - 6, size=(n, 2)):
        y, x = (yy[disk] + cy).astype(np.int32), (xx[disk] + cx).astype(np.int32)
        lam = np.exp(-(yy[disk] ** 2 + xx[disk] ** 2) / 18.0).astype(np.float32)
        stat.append({"ypix": y, "xpix": x, "lam": lam, "radius": 5.0})
    return stat


def raw_case(args, emb, labels, model, ref) -> dict:
    from napari_cebra.live import LiveDecoder, RawFrames, RoiMasks, RunningDff

    shape = (512, 512)
    t0 = time.perf_counter()
    masks = RoiMasks.from_stat(_ring_stat(NEURONS, shape), shape)
    build_s = time.perf_counter() - t0
    front = RawFrames(masks, RunningDff(NEURONS, fs=30.0))
    live = LiveDecoder(model, emb, labels, n_neighbors=K, frontend=front)
    rng = np.random.default_rng(1)
    pool = rng.poisson(200, size=(args.raw_pool, *shape)).astype(np.uint16)
    lat = []
    for i in range(args.frames):
        r = live.push(pool[i % len(pool)])
        if r is not None:
            lat.append(r.latency_ms)
    stack = pool[:WINDOW]

    def extract(frames):
        cols = np.ascontiguousarray(frames.reshape(len(frames), -1).T, dtype=np.float32)
        both = (masks.weights @ cols).T
        return both[:, :NEURONS] - 0.7 * both[:, NEURONS:]

    n_batch = min(args.batch_frames, 200)
    row = {"live": _stats(lat), "lag_frames": live.lag_frames,
           "mask_nonzeros": int(masks.weights.nnz), "masks_build_s": build_s,
           "ours_transform": _stats(_timed(lambda i: model.transform(extract(stack)), n_batch))}
    if ref is not None:
        row["reference_transform"] = _stats(_timed(lambda i: ref.transform(extract(stack)),
                                                   n_batch))
    return row


def causality_case(args) -> dict:
    from napari_cebra import CEBRA
    from napari_cebra.analysis.decoders import KNNDecoder
    from napari_cebra.synthetic.hippocampus import hippocampus_session
    from napari_cebra.synthetic.v1 import v1_session

    out = {}
    s = hippocampus_session()
    cut = int(0.8 * s.n_samples)
    v1 = v1_session(n_repeats=10, movie_seconds=30.0)
    train, test = v1.repeat < 9, v1.repeat == 9
    for arch in ("offset10-model", "offset10-model-causal"):
        model = CEBRA(model_architecture=arch, output_dimension=8, batch_size=512,
                      max_iterations=args.steps_accuracy, device="cpu", seed=0)
        model.fit(s.neural[:cut], s.behaviour[:cut])
        e_tr, e_te = model.transform(s.neural[:cut]), model.transform(s.neural[cut:])
        r2 = KNNDecoder(n_neighbors=K).fit(e_tr, s.position[:cut]).score(e_te, s.position[cut:])
        acc = KNNDecoder(n_neighbors=K, discrete=True).fit(e_tr, s.direction[:cut]).score(
            e_te, s.direction[cut:])
        tm = CEBRA(model_architecture=arch, output_dimension=32, batch_size=512,
                   max_iterations=args.steps_accuracy, device="cpu", seed=0)
        tm.fit(v1.neural[train])
        knn = KNNDecoder(n_neighbors=K, discrete=True).fit(tm.transform(v1.neural[train]),
                                                           v1.frame_id[train])
        pred = knn.predict(tm.transform(v1.neural[test]))
        within = float(np.mean(np.abs(pred - v1.frame_id[test]) <= round(v1.fs)))
        out[arch] = {"position_r2": float(r2), "direction_accuracy": float(acc),
                     "v1_frame_within_1s": within}
    return out


def _table(rows: list[tuple[str, dict | None]]) -> str:
    lines = ["| path (per frame) | p50 ms | p99 ms | max ms |", "|---|---:|---:|---:|"]
    for name, st in rows:
        if st is not None:
            lines.append(f"| {name} | {st['p50']:.3f} | {st['p99']:.3f} | {st['max']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--train-points", type=int, default=100_000)
    parser.add_argument("--batch-frames", type=int, default=500,
                        help="frames timed for the batch comparisons")
    parser.add_argument("--steps", type=int, default=200, help="training steps, cases a/b")
    parser.add_argument("--steps-accuracy", type=int, default=2000, help="training steps, c")
    parser.add_argument("--raw-pool", type=int, default=100, help="distinct raw frames cycled")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--json", default=None, help="also write the results here (new file)")
    args = parser.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    report = {}
    with threadpool_limits(1):
        chunks, positions, stream = _sessions(args.train_points, args.frames)
        model = _model(chunks[0], positions[0], args.steps)
        ref = _reference(chunks[0], positions[0], args.steps)
        a = traces_case(args, chunks, positions, stream, model, ref)
        report["traces"] = a
        emb = np.concatenate([model.transform(c) for c in chunks])[: args.train_points]
        labels = np.concatenate(positions)[: args.train_points]
        del chunks
        report["raw"] = raw_case(args, emb, labels, model, ref)
        if not args.skip_accuracy:
            report["causality"] = causality_case(args)
    report["load_average"] = os.getloadavg()
    print(f"(a) traces in: {NEURONS} neurons, offset10-model, {DIMS}-D, kNN k={K} on "
          f"{a['train_points']:,} points; lag {a['lag_frames']} frames (133 ms at 30 Hz); "
          f"live = batch: max |Δembedding| {a['max_abs_embedding_diff']:.1e}, labels identical "
          f"on {a['labels_identical_fraction']:.1%}")
    print(_table([("live push (frame → label)", a["live"]),
                   ("ours: transform on the last window", a["ours_transform"]),
                   ("ours: transform + sklearn kNN", a["ours_transform_knn"]),
                   ("reference cebra: transform on the last window",
                    a.get("reference_transform"))]))
    b = report["raw"]
    print(f"\n(b) 512 × 512 raw frame in, {NEURONS} ROIs ({b['mask_nonzeros']:,} mask weights), "
          f"running dF/F; lag {b['lag_frames']} frames")
    print(_table([("live push (frame → label)", b["live"]),
                  ("ours: masks + transform on the last window", b["ours_transform"]),
                  ("reference cebra: masks + transform on the last window",
                   b.get("reference_transform"))]))
    if "causality" in report:
        print("\n(c) what causality costs (held-out data, kNN k=24)")
        print("| model | lag | hippocampus position R² | direction accuracy | "
              "V1 frame within ±1 s |\n|---|---:|---:|---:|---:|")
        for arch, r in report["causality"].items():
            lag = 0 if arch.endswith("causal") else 4
            print(f"| {arch} | {lag} | {r['position_r2']:.3f} | {r['direction_accuracy']:.1%} "
                  f"| {r['v1_frame_within_1s']:.1%} |")
    print(f"\nload average during the run: {report['load_average'][0]:.1f} (2 cores)")
    if args.json:
        from napari_cebra.files import write_json

        write_json(args.json, json.loads(json.dumps(report)))


if __name__ == "__main__":
    main()
