"""``napari-cebra train``: the widget's generator from the shell, with a progress bar."""

from __future__ import annotations

import io

import numpy as np
import pytest

from napari_cebra import embedding_files, model_files
from napari_cebra.cli import main
from napari_cebra.cli._progress_bar import ProgressBar
from napari_cebra.cli.train import load_traces
from napari_cebra.progress import Progress
from napari_cebra.synthetic.hippocampus import hippocampus_session

TINY = ["--iterations", "20", "--batch-size", "64", "--hidden-units", "16",
        "--model", "offset5-model", "--device", "cpu"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("train")
    s = hippocampus_session(n_neurons=20, n_samples=600, seed=2)
    np.save(folder / "traces.npy", s.neural)
    np.save(folder / "position.npy", s.position)
    np.save(folder / "direction.npy", s.direction)
    np.savez(folder / "extracted.npz", fs=30.0, F=s.neural + 1, dff=s.neural)
    return folder


def test_train_writes_model_and_embedding(files, capsys):
    out, emb = files / "m.pt", files / "e.csv"
    code = main(["train", str(files / "traces.npy"), "--labels", str(files / "position.npy"),
                 "--discrete", str(files / "direction.npy"), "--out", str(out),
                 "--embedding", str(emb), *TINY])
    assert code == 0
    err = capsys.readouterr().err
    assert "CEBRA-Behaviour on 600 frames × 20 neurons" in err
    assert "20/20 loss" in err
    model, settings, columns = model_files.load_model(out, device="cpu")
    assert settings.max_iterations == 20 and columns == ("position", "direction")
    embedding, time, labels = embedding_files.load_embedding(emb)
    assert embedding.shape == (600, 3) and list(time[:3]) == [0, 1, 2]
    assert set(labels) == {"position", "direction"}
    # Never overwrites: a second run to the same file is refused.
    assert main(["train", str(files / "traces.npy"), "--out", str(out), *TINY]) == 1
    assert "exists" in capsys.readouterr().err


def test_train_reports_bad_input_without_a_traceback(files, capsys):
    short = files / "short.npy"
    np.save(short, np.zeros(5))
    code = main(["train", str(files / "traces.npy"), "--labels", str(short), "--out",
                 str(files / "short.pt"), *TINY])
    assert code == 1
    assert "error" in capsys.readouterr().err


def test_load_traces_from_extract_npz(files):
    np.testing.assert_array_equal(load_traces(files / "extracted.npz"),
                                  np.load(files / "traces.npy"))
    assert load_traces(files / "extracted.npz", "F").mean() > 0.5
    with pytest.raises(ValueError, match="no array 'spks'"):
        load_traces(files / "extracted.npz", "spks")
    with pytest.raises(FileNotFoundError):
        load_traces(files / "nope.npy")


def test_progress_bar_draws_steps_and_the_embedding_stage():
    stream = io.StringIO()
    with ProgressBar(stream=stream, quiet=False) as bar:
        for step in range(1, 5):
            bar(Progress("fit", step, 4, loss=1.0 / step))
        bar(Progress("embed", 4, 4, "embedding every frame"))
    text = stream.getvalue()
    assert "4/4" in text and "loss=0.2500" in text and "embed" in text
    quiet = io.StringIO()
    with ProgressBar(stream=quiet) as bar:  # not a terminal: one line per stage
        for step in range(1, 5):
            bar(Progress("fit", step, 4, loss=1.0))
        bar(Progress("embed", 4, 4))
    assert quiet.getvalue() == "fit…\nfit: 4/4 loss 1.0000\nembed…\nembed: 4/4\n"
    stopped = io.StringIO()
    with pytest.raises(KeyboardInterrupt), ProgressBar(stream=stopped) as bar:
        bar(Progress("fit", 1, 4, loss=1.0))
        raise KeyboardInterrupt
    assert stopped.getvalue() == "fit…\n"  # no summary of a stage that did not finish
