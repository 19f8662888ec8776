"""``napari-cebra decode``: runs the protocol, writes reports, never overwrites them."""

import json

import numpy as np
import pytest

from napari_cebra.cli import main
from napari_cebra.synthetic.v1 import v1_session


@pytest.fixture(scope="module")
def session_file(tmp_path_factory):
    s = v1_session(n_repeats=3, movie_seconds=20, fs=10, n_neurons=60, movie_shape=(16, 16),
                   seed=5)
    path = tmp_path_factory.mktemp("decode") / "session.npz"
    np.savez(path, neural=s.neural, frame_id=s.frame_id, repeat=s.repeat, fs=s.fs,
             movie=s.movie, speed=s.running_speed)
    return path, s


def test_decode_with_a_saved_model(session_file, tmp_path, capsys):
    from napari_cebra import CEBRA

    path, s = session_file
    model = CEBRA(max_iterations=20, batch_size=64, num_hidden_units=16, output_dimension=8,
                  device="cpu", seed=0).fit(s.neural[s.repeat < 2])
    model_path = model.save(tmp_path / "m.pt")
    report, table = tmp_path / "r.json", tmp_path / "r.csv"
    rc = main(["decode", "--input", str(path), "--model", str(model_path), "--device", "cpu",
               "--controls", "neural", "--continuous", "speed", "--report", str(report),
               "--csv", str(table), "--predictions"])
    assert rc == 0
    data = json.loads(report.read_text())
    names = [r["name"] for r in data["results"] if r["task"] == "frame_id"]
    assert names == ["cebra", "raw", "pca", "raw (neural shuffled)"]
    assert data["test_repeat"] == 2 and data["train_repeats"] == [0, 1]
    true = np.asarray(data["true_frames"])
    np.testing.assert_array_equal(true, s.frame_id[s.repeat == 2])
    for row in data["results"]:
        if row["task"] == "frame_id":
            pred = np.asarray(data["predictions"][row["name"]])
            assert row["accuracy"] == pytest.approx(np.mean(np.abs(pred - true) < s.fs))
    assert {r["task"] for r in data["results"]} == {"frame_id", "speed"}
    assert "cebra" in data["goodness_of_fit_bits"]
    assert len(table.read_text().splitlines()) == 1 + len(data["results"])
    assert "raw (neural shuffled)" in capsys.readouterr().out


def test_decode_synthetic_trains_here(tmp_path):
    report = tmp_path / "v1.json"
    rc = main(["decode", "--synthetic-v1", "--repeats", "3", "--seconds", "6", "--neurons", "30",
               "--iterations", "10", "--batch-size", "64", "--output-dimension", "4",
               "--device", "cpu", "--baselines", "raw", "--controls", "",
               "--report", str(report)])
    assert rc == 0
    data = json.loads(report.read_text())
    assert [r["name"] for r in data["results"]] == ["cebra", "raw"]
    assert data["settings"]["cebra"]["max_iterations"] == 10
    assert data["fs"] == 30.0 and data["tolerance_frames"] == 30.0


def test_never_overwrites_and_explains_errors(session_file, tmp_path, capsys):
    path, _ = session_file
    report = tmp_path / "exists.json"
    report.write_text("keep me")
    rc = main(["decode", "--input", str(path), "--report", str(report)])
    assert rc == 1 and report.read_text() == "keep me"
    assert "exists.json already exists" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    np.savez(bad, neural=np.zeros((10, 3)))
    rc = main(["decode", "--input", str(bad), "--report", str(tmp_path / "x.json")])
    assert rc == 1
    err = capsys.readouterr().err
    assert "lacks frame_id, repeat, fs" in err
    assert not (tmp_path / "x.json").exists()
