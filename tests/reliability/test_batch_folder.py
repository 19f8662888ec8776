"""Batch and a user's folder: only an empty or batch-made --out, writability tried before any
work, a second study never beside the first's tables, impossible rates refused, label files
read as the Attach-labels step reads them, big sweeps confirmed."""

import json
import math

import numpy as np
import pytest

from napari_cebra.batch import StudyError, read_study, run_study, sweep
from napari_cebra.batch.output import MARKER_NAME, check_out
from napari_cebra.cli import main
from napari_cebra.synthetic.hippocampus import hippocampus_session

SETTINGS = dict(max_iterations=5, batch_size=32, num_hidden_units=8, output_dimension=3,
                device="cpu", time_offsets=5)


def _study(folder, n=1, n_samples=300, fs="40"):
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["session,path,fs,labels"]
    for i in range(n):
        s = hippocampus_session(n_neurons=10, n_samples=n_samples, seed=i)
        np.save(folder / f"s{i}.npy", s.neural.astype(np.float32))
        np.save(folder / f"s{i}_pos.npy", s.position.astype(np.float32))
        rows.append(f"s{i},s{i}.npy,{fs},s{i}_pos.npy")
    (folder / "study.csv").write_text("\n".join(rows) + "\n")
    return folder / "study.csv"


@pytest.mark.parametrize("content", [["notes.txt"], ["results.csv"], ["results.csv", "tasks/"],
                                     ["consistency.csv"], [".hidden"]])
def test_a_folder_batch_did_not_make_is_refused_before_any_work(tmp_path, content, unchanged,
                                                                capsys):
    study = _study(tmp_path / "data")
    out = tmp_path / "mine"
    out.mkdir()
    for name in content:
        (out / name.rstrip("/")).mkdir() if name.endswith("/") else (out / name).write_text(
            "the user's\n")
    with unchanged(out):
        assert main(["batch", str(study), "--out", str(out), "--workers", "0"]) == 2
        with pytest.raises(FileExistsError, match="not made by 'napari-cebra batch'"):
            run_study(study, out, SETTINGS, workers=0, progress=False)
    assert "not made by 'napari-cebra batch'" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["new", "empty", "ours"])
def test_a_new_empty_or_batch_made_folder_is_accepted(tmp_path, where):
    out = tmp_path / "out"
    if where != "new":
        out.mkdir()
    if where == "ours":
        (out / MARKER_NAME).write_text("{}")
        (out / "results.csv").write_text("session,stage,status\n")
    assert check_out(out) == out
    assert not out.exists() or where != "new"  # checking creates nothing


@pytest.mark.parametrize("problem", ["file", "no-parent", "unwritable"])
def test_an_unusable_out_is_named_before_the_study_is_read(tmp_path, problem, monkeypatch):
    out = tmp_path / "out"
    if problem == "file":
        out.write_text("x")
    elif problem == "no-parent":
        out = tmp_path / "typo" / "out"
    else:
        import tempfile

        def refuse(*args, **kwargs):
            raise PermissionError(1, "Operation not permitted")
        monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises((FileExistsError, FileNotFoundError, PermissionError)) as err:
        check_out(out)
    assert str(out) in str(err.value)
    if problem == "unwritable":
        assert "cannot write there" in str(err.value) and "Nothing was run" in str(err.value)


def test_a_second_study_never_sits_beside_the_first_ones_table(tmp_path):
    out = tmp_path / "out"
    first = _study(tmp_path / "one", n=2)
    run_study(first, out, SETTINGS, workers=0, progress=False)
    assert (out / "consistency.csv").is_file()  # two sessions with continuous labels
    second = _study(tmp_path / "two", n=1)
    frame = run_study(second, out, SETTINGS, workers=0, progress=False)
    assert list(frame["session"]) == ["s0"] and not (out / "consistency.csv").exists()


@pytest.mark.parametrize("fs", ["-5", "0", "nan", "inf", "1e12"])
def test_an_impossible_rate_in_the_study_is_refused(tmp_path, fs):
    with pytest.raises(StudyError, match=r"fs .* (positive frame rate|not a finite)"):
        read_study(_study(tmp_path / "d", fs=fs))


@pytest.mark.parametrize("rate", [-30.0, 0.0, math.nan, 1e12])
def test_an_impossible_rate_in_an_nwb_file_is_refused(tmp_path, rate):
    import h5py

    from napari_cebra.batch.tasks import load_inputs
    from napari_cebra.imaging.nwb_write import write_session_nwb

    path = tmp_path / "s.nwb"
    masks = np.zeros((2, 8, 8), np.float32)
    masks[0, :3, :3] = masks[1, 4:, 4:] = 1
    write_session_nwb(path, fs=30.0, masks=masks,
                      traces=np.random.default_rng(0).random((100, 2)).astype(np.float32))
    with h5py.File(path, "a") as fh:
        def fix(name, obj):
            if name.endswith("starting_time"):
                obj.attrs["rate"] = rate
        fh.visititems(fix)
    session = {"session": "s", "kind": "nwb", "path": str(path), "fs": None}
    with pytest.raises(ValueError, match=r"s\.nwb.*impossible"):
        load_inputs(session)


@pytest.mark.parametrize("time_name", ["time", "t", "timestamp", "Time (s)"])
def test_a_time_column_is_the_labels_time_base_and_names_are_kept(tmp_path, time_name):
    from napari_cebra.batch.tasks import read_labels

    n, fs = 200, 20.0
    t = np.arange(0, n / fs + 1, 0.01)  # behaviour at 100 Hz, imaging at 20 Hz
    speed, position = np.sin(t), t * 2
    path = tmp_path / "behaviour.csv"
    path.write_text(f"{time_name},speed,position\n" + "\n".join(
        f"{a:.4f},{b:.6f},{c:.6f}" for a, b, c in zip(t, speed, position, strict=True)))
    labels, kinds = read_labels({"session": "s", "labels": str(path)}, n, fs)
    assert list(labels) == ["speed", "position"] and set(kinds.values()) == {"continuous"}
    frames = np.arange(n) / fs
    np.testing.assert_allclose(labels["position"], frames * 2, atol=1e-3)
    np.testing.assert_allclose(labels["speed"], np.sin(frames), atol=1e-3)


@pytest.mark.parametrize("header", ["", "speed\n"])
def test_label_files_are_named_as_train_names_them(tmp_path, header):
    from napari_cebra.batch.tasks import read_labels

    path = tmp_path / "run_speed.csv"
    path.write_text(header + "\n".join(str(v) for v in range(10)) + "\n")
    labels, _ = read_labels({"session": "s", "labels": str(path)}, 10, 10.0)
    assert list(labels) == (["speed"] if header else ["run_speed"])


@pytest.mark.parametrize("n_sessions,values,refused", [
    (1, [[1, 2], [3, 4, 5]], False),
    (2, [list(range(10)), list(range(10))], True),  # 2 × 100 + 2 = 202 > 200
    (1, [list(range(15)), list(range(15))], True),
    (3, [list(range(100)), list(range(100)), list(range(200))], True),  # two million
])
def test_a_big_sweep_must_be_confirmed(tmp_path, n_sessions, values, refused, capsys):
    from napari_cebra.batch.sweep import CONFIRM_TASKS, check_sweep_size

    keys = ["output_dimension", "max_iterations", "learning_rate"]
    grid = {k: [v + 1 for v in vals] for k, vals in zip(keys, values, strict=False)}
    n_tasks = n_sessions * math.prod(len(v) for v in values) + n_sessions
    assert refused == (n_tasks > CONFIRM_TASKS)
    if not refused:
        assert check_sweep_size(n_sessions, grid) == n_tasks
        return
    with pytest.raises(ValueError, match=r"--yes"):
        check_sweep_size(n_sessions, grid)
    assert check_sweep_size(n_sessions, grid, yes=True) == n_tasks
    study = _study(tmp_path / "d", n=n_sessions)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=f"{n_tasks:,} tasks"):
        sweep(study, grid, out, SETTINGS, workers=0, progress=False)
    assert not out.exists()  # refused before anything was made
    (tmp_path / "grid.json").write_text(json.dumps(grid))
    assert main(["batch", str(study), "--out", str(out), "--sweep",
                 str(tmp_path / "grid.json")]) == 2
    assert "--yes" in capsys.readouterr().err and not out.exists()
