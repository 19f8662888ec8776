"""benchmarks/gpu_check.py cannot rot: its --dry-run runs every part tiny on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"


def test_gpu_check_dry_run_runs_every_part(tmp_path):
    pytest.importorskip("napari")
    if not os.environ.get("DISPLAY"):
        pytest.skip("the widget part needs a display (pytest-xvfb provides one)")
    out = tmp_path / "gpu_check.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["device"] == "cpu" and report["dry_run"] is True
    for part in ("training", "transform", "save_load", "widget"):
        assert report[part]["ok"], report[part].get("error")
    rows = report["training"]["rows"]
    assert [r["workload"] for r in rows] == ["a", "b", "c", "d", "e", "f"]
    assert all(r["ours_it_per_s"] > 0 for r in rows)
    if report["training"]["reference"]:
        assert all(r["reference_it_per_s"] > 0 and r["ratio"] > 0 for r in rows)
    ours = report["transform"]["ours"]
    assert ours["shape"] == [2000, 3] and ours["finite"]
    assert report["save_load"]["max_abs_difference"] < 1e-4
    assert report["widget"]["device"] == "cpu"
    assert report["widget"]["embedding_shape"] == [1200, 3]
    assert "GPU check on cpu" in proc.stdout


def test_gpu_check_never_overwrites_a_report(tmp_path):
    out = tmp_path / "gpu_check.json"
    out.write_text("keep")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "already exists" in proc.stderr
    assert out.read_text() == "keep"
