"""Scrubbing a one-hour behaviour video keeps memory bounded (the lazy PyAV video).

    python benchmarks/bench_video_scrub.py            # 1 h, 640 × 480, 60 fps; 300 random seeks
    python benchmarks/bench_video_scrub.py --ci       # 2 min of the same video; 40 seeks

The video is made quickly: ten seconds of low-complexity frames (a moving block and the frame
number in binary) are encoded once with H.264 and their packets are repeated, re-timed, into
one long MP4 (no re-encoding). A fresh Python process then opens it as napari's reader does
(``VideoFrames``), decodes random frames across the whole hour, as a user dragging the slider
would, and records its resident memory after each. Reported: the file's size and frame count,
the RSS after opening, the growth over the scrub (last RSS and peak minus the RSS after the
first frames), and the median/p95 time to show a random frame. The budget: the growth stays
under ``--budget-mb`` (default 150 MB) whatever the video's length. Results go to
``benchmarks/results/video_scrub.json``; the video is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROBE = r"""
import json, sys, time
import numpy as np

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024

path, n_seeks, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
from napari_cebra.behaviour.video import VideoFrames
before = rss()
v = VideoFrames(path)
opened = rss()
rng = np.random.default_rng(seed)
targets = rng.integers(0, v.shape[0], n_seeks)
times, trace = [], []
for k, i in enumerate(targets):
    t0 = time.perf_counter()
    frame = v[int(i)]
    times.append(time.perf_counter() - t0)
    assert frame.shape == v.shape[1:]
    trace.append(rss())
warm = trace[min(10, len(trace) - 1)]
print(json.dumps({"frames": int(v.shape[0]), "shape": list(v.shape[1:]), "fps": v.fps,
    "rss_before_open_mb": before / 2**20, "rss_after_open_mb": opened / 2**20,
    "rss_after_10_frames_mb": warm / 2**20, "rss_last_mb": trace[-1] / 2**20,
    "rss_peak_mb": max(trace) / 2**20,
    "growth_after_warmup_mb": (max(trace) - warm) / 2**20,
    "frames_decoded": v.n_decoded, "seeks": n_seeks,
    "median_frame_s": float(np.median(times)), "p95_frame_s": float(np.percentile(times, 95))}))
"""


def _segment(path: Path, seconds: float, fps: int, shape: tuple[int, int]) -> None:
    from napari_cebra.behaviour.video import write_video

    h, w = shape

    def frames():
        for i in range(int(seconds * fps)):
            image = np.full((h, w, 3), 40, np.uint8)
            x = (i * 7) % (w - 40)
            image[h // 2 - 20:h // 2 + 20, x:x + 40] = (200, 180, 160)
            for bit in range(12):
                if i >> bit & 1:
                    image[10:30, 10 + 24 * bit:30 + 24 * bit] = 255
            yield image

    write_video(path, frames(), fps, crf=30, gop=fps * 2)


def make_long_video(path: Path, total_seconds: float, fps: int = 60,
                    shape: tuple[int, int] = (480, 640), segment_seconds: float = 10.0) -> None:
    """A long video by repeating one encoded segment's packets, re-timed (stream copy)."""
    import av

    seg = path.with_name("segment.mp4")
    _segment(seg, segment_seconds, fps, shape)
    repeats = int(np.ceil(total_seconds / segment_seconds))
    with av.open(str(seg)) as src, av.open(str(path), "w") as out:
        stream_in = src.streams.video[0]
        stream_out = out.add_stream_from_template(stream_in)
        packets = [p for p in src.demux(stream_in) if p.size]
        span = int(round(segment_seconds / float(stream_in.time_base)))
        for r in range(repeats):
            for p in packets:
                p.pts += span if r else 0
                p.dts += span if r else 0
                p.stream = stream_out
                out.mux(p)
    seg.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ci", action="store_true", help="a 2-minute video and 40 seeks")
    parser.add_argument("--minutes", type=float, default=None, help="video length")
    parser.add_argument("--seeks", type=int, default=None, help="random frames shown")
    parser.add_argument("--budget-mb", type=float, default=150.0,
                        help="largest RSS growth allowed over the scrub")
    parser.add_argument("--out", default="benchmarks/results/video_scrub.json")
    args = parser.parse_args()
    minutes = args.minutes or (2.0 if args.ci else 60.0)
    seeks = args.seeks or (40 if args.ci else 300)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.mp4"
        t0 = time.perf_counter()
        make_long_video(path, minutes * 60)
        made = time.perf_counter() - t0
        probe = subprocess.run([sys.executable, "-c", PROBE, str(path), str(seeks), "0"],
                               capture_output=True, text=True, check=True)
        result = json.loads(probe.stdout.strip().splitlines()[-1])
        result.update(minutes=minutes, file_mb=path.stat().st_size / 2**20,
                      make_video_s=made, budget_mb=args.budget_mb)
    ok = result["growth_after_warmup_mb"] <= args.budget_mb
    result["within_budget"] = ok
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"{result['frames']} frames ({minutes:g} min, {result['file_mb']:.0f} MB): RSS "
          f"{result['rss_after_10_frames_mb']:.0f} → peak {result['rss_peak_mb']:.0f} MB over "
          f"{seeks} random frames (growth {result['growth_after_warmup_mb']:.1f} MB, budget "
          f"{args.budget_mb:g}); median {1e3 * result['median_frame_s']:.0f} ms per frame")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
