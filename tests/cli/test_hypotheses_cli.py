"""``napari-cebra hypotheses``: traces + a labels CSV (or a pose file) → a report, from the
shell and over a study."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

from napari_cebra.cli import main
from napari_cebra.synthetic.hippocampus import hippocampus_session

FAST = ["--iterations", "40", "--batch-size", "128", "--hidden-units", "8", "--device", "cpu",
        "--shuffles", "1", "--seeds", "2"]


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """Traces .npy and a labels CSV with a header; 'speed' has empty cells (missing)."""
    folder = tmp_path_factory.mktemp("rec")
    s = hippocampus_session(n_neurons=20, n_samples=600, seed=2)
    np.save(folder / "traces.npy", s.neural)
    speed = np.abs(np.gradient(s.position)) * s.fs
    lines = ["position,speed,direction"]
    for t in range(600):
        cell = "" if 100 <= t < 150 else f"{speed[t]:.5f}"
        lines.append(f"{s.position[t]:.5f},{cell},{s.direction[t]}")
    (folder / "behaviour.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_writes_a_report_and_a_plot(recording, tmp_path, capsys):
    report, plot = tmp_path / "r.json", tmp_path / "r.png"
    code = main(["hypotheses", str(recording / "traces.npy"), "--labels",
                 str(recording / "behaviour.csv"), "--discrete", "direction", "--sets",
                 "position", "position,speed", "--report", str(report), "--plot", str(plot),
                 *FAST])
    assert code == 0, capsys.readouterr().err
    data = json.loads(report.read_text())
    names = [m["name"] for m in data["models"]]
    assert names == ["CEBRA-Time", "position", "position (shuffled 1)", "position,speed",
                     "position,speed (shuffled 1)"]
    assert data["variables"] == {"position": "continuous", "speed": "continuous",
                                 "direction": "discrete"}
    assert data["present"]["speed"] == 550  # the empty cells stay missing
    by_name = {m["name"]: m for m in data["models"]}
    assert by_name["position,speed"]["n_train"] == 480 - 50
    assert set(by_name["CEBRA-Time"]["decoding"]["direction"]) == {"accuracy"}
    assert data["settings"]["max_iterations"] == 40 and data["settings"]["seeds"] == 2
    assert plot.read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    assert "goodness of fit (bits)" in out and "position R²" in out
    # never over an existing report unless asked
    again = main(["hypotheses", str(recording / "traces.npy"), "--labels",
                  str(recording / "behaviour.csv"), "--report", str(report), *FAST])
    assert again == 1 and "exists" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--sets", "position,height"], "'height' not among the labels"),
    (["--discrete", "colour"], "colour not in the labels"),
    (["--seeds", "1"], "seeds = 1 must be 2 to 10"),
])
def test_bad_options_are_one_line(recording, tmp_path, capsys, args, message):
    code = main(["hypotheses", str(recording / "traces.npy"), "--labels",
                 str(recording / "behaviour.csv"), "--report", str(tmp_path / "r.json"),
                 *FAST, *args])
    err = capsys.readouterr().err
    assert code in (1, 2) and message in err and "Traceback" not in err
    assert not (tmp_path / "r.json").exists()


def test_labels_of_another_length_are_refused(recording, tmp_path, capsys):
    short = tmp_path / "short.csv"
    short.write_text("position\n" + "\n".join(["0.1"] * 500) + "\n")
    code = main(["hypotheses", str(recording / "traces.npy"), "--labels", str(short),
                 "--report", str(tmp_path / "r.json"), *FAST])
    assert code == 1 and "500 rows but the traces have 600" in capsys.readouterr().err


def _dlc_csv(path):
    path.write_text("scorer,DLC,DLC,DLC\nbodyparts,nose,nose,nose\ncoords,x,y,likelihood\n"
                    "0,1.0,2.0,0.99\n")


def test_pose_file_without_the_pose_reader_is_a_clear_error(recording, tmp_path, capsys,
                                                             monkeypatch):
    monkeypatch.setitem(sys.modules, "napari_cebra.behaviour", None)  # as if not installed
    pose = tmp_path / "mouseDLC.csv"
    _dlc_csv(pose)
    code = main(["hypotheses", str(recording / "traces.npy"), "--labels", str(pose),
                 "--fs", "40", "--report", str(tmp_path / "r.json"), *FAST])
    assert code == 2 and "no pose reader" in capsys.readouterr().err


def test_pose_file_goes_through_behaviour_labels(recording, tmp_path, capsys, monkeypatch):
    s = hippocampus_session(n_neurons=20, n_samples=600, seed=2)
    calls = []

    def behaviour_labels(path, **kwargs):
        calls.append((path, kwargs))
        valid = np.ones(600, bool)
        valid[:60] = False
        x = np.where(valid, s.position, np.nan)
        return types.SimpleNamespace(table={"x": x, "speed": np.where(valid, 1.0, np.nan)},
                                     valid=valid, report={})

    fake = types.ModuleType("napari_cebra.behaviour")
    fake.behaviour_labels = behaviour_labels
    fake.is_pose_file = lambda path: str(path).endswith("DLC.csv")
    monkeypatch.setitem(sys.modules, "napari_cebra.behaviour", fake)
    pose = tmp_path / "mouseDLC.csv"
    _dlc_csv(pose)
    report = tmp_path / "r.json"
    code = main(["hypotheses", str(recording / "traces.npy"), "--labels", str(pose),
                 "--fs", "40", "--camera-fps", "60", "--sets", "x", "--no-include-time",
                 "--report", str(report), *FAST])
    assert code == 0, capsys.readouterr().err
    assert calls[0][1] == {"n_frames": 600, "fs": 40.0, "camera_fps": 60.0}
    data = json.loads(report.read_text())
    assert data["present"] == {"x": 540, "speed": 540}
    assert data["models"][0]["n_train"] == 480 - 60


def test_a_study_runs_one_test_per_session_and_skips_finished_ones(recording, tmp_path,
                                                                   capsys):
    import pandas as pd

    study = tmp_path / "study.csv"
    study.write_text("session,path,fs,labels\n"
                     f"a,{recording / 'traces.npy'},40,{recording / 'behaviour.csv'}\n"
                     f"b,{recording / 'traces.npy'},40,{recording / 'behaviour.csv'}\n")
    out = tmp_path / "results"
    args = ["hypotheses", "--study", str(study), "--out", str(out), "--sets", "position",
            "--discrete", "direction", "--no-include-time", *FAST]
    assert main(args) == 0, capsys.readouterr().err
    table = pd.read_csv(out / "hypotheses.csv")
    assert list(table["session"]) == ["a", "a", "b", "b"]
    assert list(table["model"]) == ["position", "position (shuffled 1)"] * 2
    assert set(table["status"]) == {"done"} and "direction accuracy" in table.columns
    reports = sorted((out / "hypotheses").glob("*.json"))
    assert len(reports) == 2 and len(list((out / "hypotheses").glob("*.png"))) == 2
    stamps = [p.stat().st_mtime_ns for p in reports]
    assert main(args) == 0  # a rerun finds them finished
    assert [p.stat().st_mtime_ns for p in reports] == stamps
