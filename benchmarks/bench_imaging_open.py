"""Lazy opening of a multi-GB stack: open time, first-frame time and peak resident memory.

    python benchmarks/bench_imaging_open.py            # a 3 GB uint16 TIFF (default)
    python benchmarks/bench_imaging_open.py --gb 1     # smaller

A TIFF of real (non-zero) frames is written into a temporary folder, then a *fresh* Python
process opens it the way the napari reader does (``open_stack`` + the layer data of
``read_stack``), shows the first frame, scrubs to a few far-apart frames, and reports its
times and peak RSS (``VmHWM``) next to the file size (also in results/imaging_open.json). The
file is deleted afterwards.
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
path = sys.argv[1]


def peak_rss():  # VmHWM: this process's peak resident set (reset by exec, unlike ru_maxrss)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

t0 = time.perf_counter()
from napari_cebra.gui.reader import read_stack
from napari_cebra.imaging.stacks import open_stack
t_import = time.perf_counter() - t0
rss_base = peak_rss()
t0 = time.perf_counter()
stack = open_stack(path)
t_open = time.perf_counter() - t0
frame = np.asarray(stack[0])
t_first = time.perf_counter() - t0
t1 = time.perf_counter()
(data, kwargs, kind), = read_stack(path)
t_reader = time.perf_counter() - t1
t1 = time.perf_counter()
for i in np.linspace(0, stack.shape[0] - 1, 10).astype(int):
    np.asarray(stack[i]).sum()
t_scrub = (time.perf_counter() - t1) / 10
peak = peak_rss()
print(json.dumps(dict(shape=list(stack.shape), kind=type(stack).__name__, t_import=t_import,
                      t_open=t_open, t_first_frame=t_first, t_reader=t_reader,
                      t_per_scrub_frame=t_scrub, rss_after_imports=rss_base, peak_rss=peak)))
"""


def write_stack(path: Path, gigabytes: float, frame_shape=(512, 512)) -> tuple[int, ...]:
    """A uint16 TIFF of ``gigabytes`` written in chunks (never all in memory)."""
    import tifffile

    n = int(gigabytes * 1e9 / (2 * frame_shape[0] * frame_shape[1]))
    shape = (n, *frame_shape)
    out = tifffile.memmap(path, shape=shape, dtype=np.uint16)
    rng = np.random.default_rng(0)
    base = rng.integers(100, 4000, size=frame_shape, dtype=np.uint16)
    for start in range(0, n, 500):
        stop = min(n, start + 500)
        out[start:stop] = base + (np.arange(start, stop) % 97).astype(np.uint16)[:, None, None]
    out.flush()
    del out
    return shape


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=3.0, help="stack size in GB (≤ 4)")
    args = parser.parse_args(argv)
    if not 0 < args.gb <= 4:
        parser.error("--gb must be in (0, 4]")
    with tempfile.TemporaryDirectory(prefix="bench-open-") as tmp:
        path = Path(tmp) / "stack.tif"
        t0 = time.perf_counter()
        shape = write_stack(path, args.gb)
        t_write = time.perf_counter() - t0
        size = path.stat().st_size
        probe = subprocess.run(
            [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True
        )
        result = json.loads(probe.stdout.strip().splitlines()[-1])
    result.update(file_bytes=size, t_write=t_write)
    mb = 1024**2
    print(f"stack {tuple(shape)} uint16, {size / 1e9:.2f} GB (written in {t_write:.1f} s), "
          f"opened as {result['kind']}")
    print(f"open {result['t_open'] * 1e3:.1f} ms · open + first frame "
          f"{result['t_first_frame'] * 1e3:.1f} ms · napari reader layer data "
          f"{result['t_reader'] * 1e3:.1f} ms · scrub {result['t_per_scrub_frame'] * 1e3:.2f} "
          "ms/frame")
    print(f"peak RSS {result['peak_rss'] / mb:.0f} MB (after imports "
          f"{result['rss_after_imports'] / mb:.0f} MB) = "
          f"{result['peak_rss'] / size:.1%} of the file")
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "imaging_open.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
