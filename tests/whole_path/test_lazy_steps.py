"""Steps that must stay lazy on a lab-size stack: a stack far larger than a memory budget is
opened, converted for suite2p, split into planes and its decoded frames shown, while this
process's peak memory grows by a fraction of the stack's size (measured in a fresh process)."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from napari_cebra.imaging.session import BaselineParams, dff_from_sets

# A 12,000 × 64 × 128 uint16 stack: 197 MB; each step may grow the peak by a fifth of it.
SCRIPT = textwrap.dedent("""
    import json, sys, tempfile
    from pathlib import Path
    import numpy as np

    def peak_mb():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

    def reset():
        Path("/proc/self/clear_refs").write_text("5")

    from napari_cebra.imaging.planes import split_planes
    from napari_cebra.imaging.stacks import open_stack
    from napari_cebra.imaging.suite2p_run import write_binary
    from napari_cebra.views import lazy_frames

    work = Path(sys.argv[1])
    path = work / "big.npy"
    big = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint16, shape=(12000, 64, 128))
    for start in range(0, 12000, 1000):
        big[start:start + 1000] = np.random.default_rng(start).integers(
            0, 4000, (1000, 64, 128), dtype=np.uint16)
    big.flush()
    del big
    out = {"stack_mb": path.stat().st_size / 2**20}

    def step(name, fn):
        reset()
        base = peak_mb()
        value = fn()
        out[name] = peak_mb() - base
        return value

    stack = step("open", lambda: open_stack(path))
    out["first"] = int(stack[0, 0, 0])
    (work / "plane").mkdir()
    def convert(s, folder):
        gen = write_binary(s, folder, batch=500)
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                return stop.value
    info = step("binary", lambda: convert(stack, work / "plane"))
    out["binary_frames"] = info["nframes"]
    planes = step("split", lambda: split_planes(stack, 2))
    (work / "plane1").mkdir()
    info = step("binary_plane", lambda: convert(planes[1], work / "plane1"))
    frames = np.arange(12000)[::-1] % 12000
    decoded = step("decoded", lambda: lazy_frames(stack, frames))
    out["decoded_shape"] = list(decoded.shape)
    out["decoded_ok"] = bool(np.array_equal(decoded[5], stack[frames[5]])
                             and np.array_equal(decoded[2:4, 1], stack[frames[2:4], 1]))
    print(json.dumps(out))
""")


def test_a_stack_much_larger_than_the_budget_opens_converts_and_decodes(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    # a quarter of the stack (~47 MB of 187 MB): one conversion batch (500 frames, 8 MB) and its
    # float copies fit; a step that held the stack, or even half of it, does not
    budget = out["stack_mb"] / 4
    assert out["binary_frames"] == 12000 and out["decoded_ok"]
    assert out["decoded_shape"] == [12000, 64, 128]  # 197 MB if it were materialised
    for step in ("open", "binary", "split", "binary_plane", "decoded"):
        assert out[step] < budget, (step, out[step], budget, out)
    assert (tmp_path / "plane" / "data.bin").stat().st_size == 12000 * 64 * 128 * 2


@pytest.mark.parametrize("fs", [30.0, None])
def test_dff_in_blocks_of_rois_equals_dff_of_all_at_once(fs):
    rng = np.random.default_rng(1)
    F = (100 + rng.gamma(2.0, 10.0, (900, 37))).astype(np.float32)
    sets = {"F": F, "Fneu": (0.5 * F + rng.normal(0, 2, F.shape)).astype(np.float32)}
    base = BaselineParams(window_s=5.0)
    whole = dff_from_sets(sets, fs, base, block=10_000)
    blocks = dff_from_sets(sets, fs, base, block=8)
    assert whole.shape == (900, 37) and whole.dtype == np.float32
    np.testing.assert_array_equal(blocks, whole)
