"""benchmarks/bench_full_session.py cannot rot: a tiny session runs it end to end (render, open,
extract, trace view, labels, train, embedding, decode, interaction) and its report holds a
row per stage and the figures the targets are checked against."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_full_session.py"
STAGES = ["open stack", "extract (suite2p)", "open suite2p folder", "trace view",
          "attach labels", "train CEBRA", "embedding view", "decode"]


def test_a_tiny_full_session_reports_every_stage(tmp_path):
    pytest.importorskip("napari")
    if not os.environ.get("DISPLAY"):
        pytest.skip("the session runs in a napari window (pytest-xvfb provides a display)")
    out = tmp_path / "full_session.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--frames", "120", "--size", "64", "--neurons", "10",
         "--diameter", "8", "--iterations", "10", "--no-bare", "--clicks", "3",
         "--scrub-steps", "10", "--work", str(tmp_path / "work"), "--out", str(out)],
        capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert list(report["stages"]) == STAGES
    for row in report["stages"].values():
        assert row["wall_s"] >= 0 and row["peak_rss_mb"] > 0 and row["stall_ticks"] >= 1
    assert report["session"]["frames"] == 120 and report["rois"] >= 2
    summary = report["summary"]
    assert 0 < summary["peak_rss_outside_suite2p_mb"] < 8 * 1024
    assert summary["cells_x_frames_float32_mb"] == pytest.approx(
        report["cells"] * 120 * 4 / 2**20)
    clicks = report["interaction"]
    assert clicks["trace_view_rois"] == report["rois"]
    assert clicks["embedding_points"] == 120  # every frame a point
    for name in ("pick ROI (trace view)", "click point (embedding)"):
        assert clicks[name]["clicks"] == 3 and clicks[name]["response_p50_ms"] > 0
    assert set(report["decoding"]) >= {"cebra"}
    assert "bench_full_session" not in proc.stderr  # no traceback from the script
