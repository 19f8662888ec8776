"""Sizes a file declares: checked against what it stores and what this machine has, before
anything is allocated or written. Each case runs in its own process, whose peak memory is
measured (``VmHWM``): a file of a few KB declaring petabytes must stay under 1 GB."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from declared_files import CASES, make

HERE = Path(__file__).parent
MEMORY_BUDGET_MB = 1024
#: what each error must say (besides the file's name): the declared size and the limit
EXPECTED = {
    "nwb-stack": "declares 29.8 PB",
    "nwb-extract": "declares 29.8 PB",
    "nwb-traces": "declares 11.2 GB",
    "tiff-pages": "declares 74.5 GB",
    "tiff-compressed": "declares 74.5 GB",
    "npy-stack": "declares 3.6 TB",
    "npy-labels": "declares 3.6 TB",
    "suite2p-ops": "declares 7.3 TB",
    "model-metadata": "declares layers of 6 inputs × 1000000000 hidden units",
    "zarr-extract": "declares 29.8 PB",
}
LIMIT_WORDS = ("holds only", "data chunks", "of memory", "free", "stores")


def _run(case: str, path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(HERE.parents[1] / "src"), str(HERE), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(HERE / "declared_files.py"), case, str(path)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", CASES)
def test_a_huge_declaration_is_refused_before_allocation_within_1_gb(case, tmp_path,
                                                                      record_property):
    path = make(case, tmp_path / "in")
    report = _run(case, path)
    record_property("peak_mb", round(report["peak_mb"]))
    print(f"\n{case}: peak {report['peak_mb']:.0f} MB")
    error = report["error"]
    assert error is not None, f"{case}: the file was accepted"
    message = error["message"]
    assert str(path) in message or path.name in message, message
    assert EXPECTED[case] in message, message
    assert any(w in message for w in LIMIT_WORDS), message
    assert "weights_only" not in message
    assert report["peak_mb"] < MEMORY_BUDGET_MB, f"{case}: {report['peak_mb']:.0f} MB"
    if case.endswith("extract"):  # refused before the output folder was made
        assert not (path.parent / "out").exists()


def test_conversion_batches_are_counted_in_bytes():
    import numpy as np

    from napari_cebra.imaging.stacks import iter_frames
    from napari_cebra.limits import BATCH_BYTES

    small = np.zeros((300, 8, 8), np.uint16)
    big = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint16), (40, 2048, 2048), (0, 0, 0))
    assert [len(b) for _, b in iter_frames(small)] == [300]
    sizes = [len(b) for _, b in iter_frames(big)]
    assert sum(sizes) == 40 and max(sizes) * 2048 * 2048 * 2 <= BATCH_BYTES
    assert [len(b) for _, b in iter_frames(small, 100)] == [100, 100, 100]


def test_free_disk_is_checked_before_anything_is_written(tmp_path, monkeypatch):
    import numpy as np

    from napari_cebra.imaging import output_folders
    from napari_cebra.imaging.suite2p_run import ExtractParams, run_suite2p_steps
    from napari_cebra.limits import DeclaredSizeError

    monkeypatch.setattr("napari_cebra.limits.free_disk", lambda path: 10_000)
    stack = np.ones((60, 16, 16), np.uint16)
    with pytest.raises(DeclaredSizeError, match=r"needs 30\.0 KB on disk.*has 9\.8 KB free"):
        next(run_suite2p_steps(stack, ExtractParams(fs=30.0), tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    assert output_folders  # the module that would have made the folder


@pytest.mark.parametrize("state", ["dead", "reused-pid", "alive", "other-host", "no-marker",
                                   "damaged-marker"])
def test_stale_staging_folders_of_our_own_runs_are_cleaned(tmp_path, state):
    from napari_cebra.imaging.output_folders import MARKER_NAME, OutputFolder, write_marker

    out = tmp_path / "out"
    stale = out / ".suite2p.partial-abc123"
    (stale / "suite2p" / "plane0").mkdir(parents=True)
    (stale / "suite2p" / "plane0" / "data.bin").write_bytes(b"\0" * 64)
    if state != "no-marker":
        write_marker(stale)
        record = json.loads((stale / MARKER_NAME).read_text())
        if state == "dead":
            child = subprocess.Popen([sys.executable, "-c", "pass"])
            child.wait()
            record["pid"] = child.pid  # a process that has ended
        elif state == "reused-pid":
            record["process_started"] -= 3600  # this pid, but started an hour "earlier"
        elif state == "other-host":
            record["host"] = "another-machine"
        (stale / MARKER_NAME).write_text("{not json" if state == "damaged-marker"
                                         else json.dumps(record))
    folder = OutputFolder(out)
    folder.prepare()
    try:
        cleaned = not stale.exists()
        assert cleaned == (state in ("dead", "reused-pid")), state
        assert folder.stage.exists() and (folder.stage / MARKER_NAME).is_file()
    finally:
        folder.discard()
