"""The command line checks its outputs before it works, and stops cleanly."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from napari_cebra.cli import main
from napari_cebra.cli import train as train_cli
from napari_cebra.synthetic.hippocampus import hippocampus_session

TINY = ["--iterations", "5", "--batch-size", "32", "--hidden-units", "8", "--device", "cpu"]


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_faults")
    s = hippocampus_session(n_neurons=12, n_samples=400, seed=1)
    np.save(folder / "traces.npy", s.neural)
    np.save(folder / "position.npy", s.position)
    return folder / "traces.npy"


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if the command reads its data or trains (it must stop before)."""
    from napari_cebra import pipeline

    monkeypatch.setattr(train_cli, "load_traces",
                        lambda *a, **k: pytest.fail("data were read before outputs were checked"))
    monkeypatch.setattr(pipeline, "train",
                        lambda *a, **k: pytest.fail("training started before outputs were checked"))


def test_a_typo_in_the_output_folder_fails_before_any_data_are_read(
        traces, tmp_path, no_work, unchanged, capsys):
    with unchanged():
        code = main(["train", str(traces), "--out", str(tmp_path / "typo" / "m.pt")])
    assert code == 1 and "does not exist; create" in capsys.readouterr().err


def test_an_existing_settings_file_fails_before_any_data_are_read(
        traces, tmp_path, no_work, unchanged, capsys):
    (tmp_path / "m.pt.settings.json").write_text("{}")
    with unchanged():
        code = main(["train", str(traces), "--out", str(tmp_path / "m.pt")])
    assert code == 1 and "m.pt.settings.json already exists" in capsys.readouterr().err


def test_an_existing_embedding_fails_before_any_data_are_read(
        traces, tmp_path, no_work, unchanged, capsys):
    (tmp_path / "e.csv").write_text("mine")
    with unchanged():
        code = main(["train", str(traces), "--out", str(tmp_path / "m.pt"),
                     "--embedding", str(tmp_path / "e.csv")])
    assert code == 1 and "e.csv already exists" in capsys.readouterr().err


def test_train_with_no_output_refuses_to_start(traces, no_work, capsys):
    assert main(["train", str(traces)]) == 2
    assert "give --out MODEL.pt and/or --embedding" in capsys.readouterr().err


def test_decode_checks_its_report_before_simulating_or_training(tmp_path, monkeypatch,
                                                                unchanged, capsys):
    from napari_cebra.cli import decode

    monkeypatch.setattr(decode, "_load", lambda *a: pytest.fail("data were loaded"))
    (tmp_path / "r.json").write_text("earlier report")
    with unchanged():
        code = main(["decode", "--synthetic-v1", "--report", str(tmp_path / "r.json")])
    assert code == 1 and "r.json already exists" in capsys.readouterr().err


def test_ctrl_c_ends_with_130_one_line_and_no_file(traces, tmp_path, monkeypatch, unchanged,
                                                    capsys):
    from napari_cebra import pipeline

    def interrupted(job, model=None):
        yield pipeline.Progress("fit", 1, 5)
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "train", interrupted)
    with unchanged():
        code = main(["train", str(traces), "--out", str(tmp_path / "m.pt"), *TINY])
    err = capsys.readouterr().err
    assert code == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == ("napari-cebra train: stopped (Ctrl-C); finished "
                                            "files are kept, no partial file is left.")


def test_sigterm_ends_with_143_one_line_and_no_file(traces, tmp_path, unchanged):
    out = tmp_path / "m.pt"
    cmd = [sys.executable, "-m", "napari_cebra.cli", "train", str(traces), "--out", str(out),
           "--embedding", str(tmp_path / "e.h5"), "--iterations", "1000000", "--batch-size", "32",
           "--hidden-units", "8", "--device", "cpu"]
    with unchanged():
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            before = []
            for line in proc.stderr:  # "CEBRA-Time on …", then "fit…" once training has begun
                before.append(line)
                if line.startswith("fit"):
                    break
            assert before and before[-1].startswith("fit"), before
            proc.send_signal(signal.SIGTERM)
            rest = proc.communicate(timeout=60)[1]
        finally:
            proc.kill()  # a no-op once it has ended: never leave it training
    lines = [line for line in rest.splitlines() if line.strip()]
    assert proc.returncode == 143
    assert lines == ["napari-cebra train: stopped (SIGTERM); finished files are kept, no "
                     "partial file is left."], rest


def test_a_user_error_is_one_line_not_a_traceback(traces, tmp_path, capsys):
    code = main(["train", str(traces), "--labels", str(tmp_path / "missing.npy"),
                 "--out", str(tmp_path / "m.pt"), *TINY])
    err = capsys.readouterr().err
    assert code == 1 and "missing.npy does not exist" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_demo_without_a_display_says_how_to_run_headless(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert main(["demo"]) == 1
    assert "xvfb-run -a napari-cebra demo" in capsys.readouterr().err


@pytest.mark.parametrize("content, says", [
    (b"PK\x03\x04 not really a zip", "traces.npz is not a readable .npz"),
    (b"", "traces.npz is not a readable .npz"),
])
def test_a_damaged_traces_file_is_one_line_not_a_traceback(tmp_path, content, says, capsys):
    (tmp_path / "traces.npz").write_bytes(content)
    with_files = tmp_path / "out"
    with_files.mkdir()
    code = main(["train", str(tmp_path / "traces.npz"), "--out", str(with_files / "m.pt")])
    err = capsys.readouterr().err
    assert code == 1 and says in err and len(err.strip().splitlines()) == 1
    assert not any(with_files.iterdir())


def test_labels_holding_python_objects_are_refused_unread(traces, tmp_path, capsys, unchanged):
    np.save(tmp_path / "speed.npy", np.array([{"x": 1}] * 400, dtype=object), allow_pickle=True)
    with unchanged():
        code = main(["train", str(traces), "--labels", str(tmp_path / "speed.npy"),
                     "--out", str(tmp_path / "m.pt"), *TINY])
    err = capsys.readouterr().err
    assert code == 1 and "speed.npy holds Python objects where numbers were expected" in err
    assert len(err.strip().splitlines()) == 1


def test_a_failed_training_run_is_one_line_and_leaves_no_file(traces, tmp_path, monkeypatch,
                                                              unchanged, capsys):
    from napari_cebra import pipeline

    def out_of_memory(job, model=None):
        yield pipeline.Progress("fit", 1, 5)
        raise pipeline.TrainingError("Training ran out of GPU memory: use a smaller batch size")

    monkeypatch.setattr(pipeline, "train", out_of_memory)
    with unchanged():
        code = main(["train", str(traces), "--out", str(tmp_path / "m.pt"), *TINY])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1].endswith("use a smaller batch size")


def test_decode_with_a_damaged_model_fails_before_loading_data(tmp_path, monkeypatch,
                                                               unchanged, capsys):
    from napari_cebra.cli import decode

    monkeypatch.setattr(decode, "_load", lambda *a: pytest.fail("data were loaded"))
    (tmp_path / "m.pt").write_bytes(b"")
    with unchanged():
        code = main(["decode", "--synthetic-v1", "--model", str(tmp_path / "m.pt"),
                     "--device", "cpu", "--report", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 1 and "m.pt is empty (0 bytes)" in err and len(err.strip().splitlines()) == 1


def test_decode_names_a_session_file_that_is_not_an_npz(tmp_path, unchanged, capsys):
    (tmp_path / "s.npz").write_text("neural,frame_id\n1,2\n")
    with unchanged():
        code = main(["decode", "--input", str(tmp_path / "s.npz"),
                     "--report", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 1 and "session file" in err and "s.npz is not a readable .npz" in err
