"""A study on a 2-worker LocalCluster: completes, reports failures, skips finished work,
survives a killed worker; a sweep refits the best settings; the CLI end to end."""

import json
import os
import threading
import time

import numpy as np
import pandas as pd

from napari_cebra.batch import run_study, sweep
from napari_cebra.batch.tasks import task_files
from napari_cebra.cli import main


def _mtimes(folder):
    return {p.name: p.stat().st_mtime_ns for p in sorted((folder / "tasks").iterdir())}


def test_study_completes_reports_the_failure_and_a_rerun_skips_done_work(
        tmp_path, make_study, settings, client):
    study = make_study(tmp_path / "data", n=4, bad=True)
    out = tmp_path / "out"
    frame = run_study(study, out, settings, client=client, progress=False)
    assert list(frame["session"]) == ["s0", "s1", "s2", "s3", "broken"]
    done = frame[frame["status"] == "done"]
    assert len(done) == 4
    broken = frame.set_index("session").loc["broken"]
    assert broken["status"] == "failed"
    assert "100 rows but the traces have 600 frames" in broken["error"]
    # each finished task wrote its embedding (every frame) and model; the scores are R²
    for _, row in done.iterrows():
        emb = np.load(row["embedding"])
        assert len(emb) == 600 and row["score_kind"] == "r2"
        assert np.isfinite(row["val_score"]) and np.isfinite(row["test_score"])
        assert os.path.isfile(row["model"])
    on_disk = pd.read_csv(out / "results.csv")
    assert list(on_disk["status"]) == list(frame["status"])
    matrix = pd.read_csv(out / "consistency.csv", index_col="session")
    assert list(matrix.index) == ["s0", "s1", "s2", "s3"]
    assert np.allclose(np.diag(matrix.to_numpy()), 1.0)

    before = _mtimes(out)
    again = run_study(study, out, settings, client=client, progress=False)
    assert _mtimes(out) == before  # nothing retrained, nothing rewritten
    assert list(again["seconds"][:4]) == list(frame["seconds"][:4])  # read back, not rerun
    assert again.set_index("session").loc["broken", "status"] == "failed"  # retried, fails


def test_a_killed_worker_does_not_lose_its_task(tmp_path, make_study, settings, client):
    study = make_study(tmp_path / "data", n=4, n_samples=900)
    out = tmp_path / "out"
    settings["max_iterations"] = 600  # long enough to be caught mid-task on an idle machine
    result, errors = {}, []

    def go():
        try:
            result["frame"] = run_study(study, out, settings, client=client, progress=False)
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    thread = threading.Thread(target=go)
    thread.start()
    victim, keys, deadline = None, [], time.monotonic() + 60
    while victim is None and time.monotonic() < deadline:
        for address, running in client.processing().items():
            running = [k for k in running if "-final-" in str(k)]
            if running:
                victim, keys = address, running
                break
        time.sleep(0.05)
    assert victim is not None, "no task started within 60 s"
    pid = client.run(os.getpid, workers=[victim])[victim]
    # the worker process dies mid-task (a moment after this call returns)
    client.run(lambda: threading.Timer(0.05, os._exit, (1,)).start(), workers=[victim])
    thread.join(timeout=240)
    assert not thread.is_alive() and not errors
    frame = result["frame"]
    assert (frame["status"] == "done").all(), frame[["session", "error"]]
    rows = frame.set_index("key")
    for key in keys:  # the lost tasks ran again on a live worker and wrote their results
        assert task_files(out, key)["result"].is_file()
        assert not rows.loc[key, "worker"].endswith(f":{pid}")


def test_sweep_refits_the_best_settings_per_session(tmp_path, make_study, settings, client):
    study = make_study(tmp_path / "data", n=2)
    grid = {"output_dimension": [2, 4], "conditional": ["time_delta", "time"]}
    settings["max_iterations"] = 10
    frame = sweep(study, grid, tmp_path / "out", settings, client=client, progress=False)
    assert isinstance(frame, pd.DataFrame)
    select, final = frame[frame["stage"] == "select"], frame[frame["stage"] == "final"]
    assert len(select) == 8 and len(final) == 2 and (frame["status"] == "done").all()
    for _, row in final.iterrows():
        tried = select[select["session"] == row["session"]]
        best = tried.loc[tried["val_score"].idxmax()]
        assert (row["output_dimension"], row["conditional"]) == (
            best["output_dimension"], best["conditional"])
        assert np.isfinite(row["test_score"])
        assert np.load(row["embedding"]).shape[0] == 600
        saved = json.loads(task_files(tmp_path / "out", row["key"])["result"].read_text())
        assert saved["output_dimension"] == row["output_dimension"]
    assert (tmp_path / "out" / "consistency.csv").is_file()


def test_cli_end_to_end_on_a_scheduler(tmp_path, make_study, cluster, capsys):
    study = make_study(tmp_path / "data", n=2, bad=True)
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"output_dimension": [2, 3]}))
    out = tmp_path / "out"
    base = ["batch", str(study), "--out", str(out), "--scheduler", cluster.scheduler_address,
            "--iterations", "10", "--batch-size", "32", "--hidden-units", "8", "--device",
            "cpu", "--quiet"]
    assert main(base) == 1  # the broken session failed; the others are done
    err = capsys.readouterr().err
    assert "failed: broken" in err and "Dask dashboard" in err
    frame = pd.read_csv(out / "results.csv")
    assert (frame.set_index("session").loc[["s0", "s1"], "status"] == "done").all()

    assert main(base + ["--sweep", str(grid), "--out", str(tmp_path / "sw")]) == 1
    assert "failed: broken (select)" in capsys.readouterr().err
    swept = pd.read_csv(tmp_path / "sw" / "results.csv")
    finals = swept[swept["stage"] == "final"]
    assert sorted(finals["session"]) == ["s0", "s1"] and (finals["status"] == "done").all()
    assert len(swept[swept["stage"] == "select"]) == 6
    grid.write_text(json.dumps({"output_dimension": [2, 3], "colour": [1]}))
    assert main(base + ["--sweep", str(grid)]) == 2
    assert "unknown setting(s) colour" in capsys.readouterr().err


def test_cli_usage_errors(tmp_path, make_study, capsys):
    study = make_study(tmp_path / "data", n=1)
    (tmp_path / "file").write_text("x")
    assert main(["batch", str(study), "--out", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert main(["batch", str(study), "--out", str(tmp_path / "other")]) == 2
    assert "holds other files" in capsys.readouterr().err
    (tmp_path / "bad.csv").write_text("session,path,fs\nx,missing.npy,30\n")
    assert main(["batch", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err
    assert "row 2 (session 'x'): path" in err and not (tmp_path / "new").exists()


def test_an_nwb_session_reads_its_traces_and_rate_from_the_file(
        tmp_path, settings, client):
    from napari_cebra.imaging.nwb_write import write_session_nwb
    from napari_cebra.synthetic.hippocampus import hippocampus_session

    s = hippocampus_session(n_neurons=12, n_samples=600, seed=5)
    masks = np.zeros((12, 4, 4), np.float32)
    masks[np.arange(12), np.arange(12) // 4, np.arange(12) % 4] = 1.0
    write_session_nwb(tmp_path / "rec.nwb", fs=s.fs, masks=masks, traces=s.neural)
    np.save(tmp_path / "pos.npy", s.position.astype(np.float32))
    (tmp_path / "study.csv").write_text("session,path,fs,labels\nrec,rec.nwb,,pos.npy\n")
    frame = run_study(tmp_path / "study.csv", tmp_path / "out", settings, client=client,
                      progress=False)
    row = frame.iloc[0]
    assert row["status"] == "done", row["error"]
    assert (row["n_frames"], row["n_neurons"], row["fs"]) == (600, 12, s.fs)


def test_a_suite2p_folder_without_labels_trains_cebra_time(
        tmp_path, suite2p_own_folder, settings, client):
    (tmp_path / "study.csv").write_text(f"session,path\nplane,{suite2p_own_folder}\n")
    frame = run_study(tmp_path / "study.csv", tmp_path / "out", settings, client=client,
                      progress=False)
    row = frame.iloc[0]
    assert row["status"] == "done", row["error"]
    assert row["conditional"] == "time" and not row["score_kind"]  # nothing to decode
    assert row["n_frames"] == 400 and row["n_neurons"] >= 1
    assert np.load(row["embedding"]).shape[0] == 400
