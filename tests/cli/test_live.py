"""``napari-cebra live``: one whole CSV line per decoded frame, equal to the batch path."""

import csv
import os

import numpy as np
import pytest

from napari_cebra import CEBRA
from napari_cebra.analysis.decoders import KNNDecoder
from napari_cebra.cli import main
from napari_cebra.synthetic.hippocampus import hippocampus_session


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    s = hippocampus_session(n_neurons=24, n_samples=700, seed=2)
    root = tmp_path_factory.mktemp("live")
    model = CEBRA(max_iterations=20, batch_size=64, num_hidden_units=16, output_dimension=6,
                  device="cpu", seed=0).fit(s.neural[:500], s.position[:500])
    paths = {"model": model.save(root / "m.pt"), "X": root / "X.npy", "Y": root / "Y.npy",
             "D": root / "D.npy", "source": root / "test.npy"}
    np.save(paths["X"], s.neural[:500])
    np.save(paths["Y"], s.position[:500])
    np.save(paths["D"], s.direction[:500])
    np.save(paths["source"], s.neural[500:])
    return s, model, paths


def _args(paths, out, *extra, labels="Y"):
    return ["live", "--model", str(paths["model"]), "--fit-traces", str(paths["X"]),
            "--fit-labels", str(paths[labels]), "--source", str(paths["source"]),
            "--k", "8", "--out", str(out), *extra]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_every_frame_is_decoded_as_the_batch_path_decodes_it(files, tmp_path, capsys):
    s, model, paths = files
    out = tmp_path / "decoded.csv"
    assert main(_args(paths, out, "--discrete", "--label-names", "direction",
                      labels="D")) == 0
    rows = _rows(out)
    assert rows[0] == ["frame", "latency_ms", "direction", "skipped"]
    body = rows[1:]
    assert [int(r[0]) for r in body] == list(range(200))
    assert all(float(r[1]) >= 0 for r in body)
    knn = KNNDecoder(n_neighbors=8, discrete=True).fit(model.transform(s.neural[:500]),
                                                        s.direction[:500])
    expected = knn.predict(model.transform(s.neural[500:]))
    assert [int(r[2]) for r in body] == expected.tolist()
    err = capsys.readouterr()
    assert "lag: 4 frames" in err.err and "p99" in err.out


def test_continuous_labels_and_a_nan_frame_skipped(files, tmp_path, capsys):
    s, model, paths = files
    source = s.neural[500:560].copy()
    source[7, 2] = np.nan
    bad = tmp_path / "bad.npy"
    np.save(bad, source)
    out = tmp_path / "decoded.csv"
    argv = _args({**paths, "source": bad}, out)
    assert main(argv) == 0
    rows = _rows(out)
    assert rows[0] == ["frame", "latency_ms", "label", "skipped"] and len(rows) == 1 + 60
    assert [int(r[0]) for r in rows[1:]] == list(range(60))  # source numbers, not closed up
    assert rows[8] == ["7", "", "", "NaN or infinite values"]
    decoded = [r for r in rows[1:] if not r[3]]
    knn = KNNDecoder(n_neighbors=8).fit(model.transform(s.neural[:500]), s.position[:500])
    expected = knn.predict(model.transform(np.delete(source, 7, axis=0)))
    np.testing.assert_allclose([float(r[2]) for r in decoded], expected, rtol=1e-6)
    captured = capsys.readouterr()
    assert "frame 7" in captured.err and "NaN" in captured.err
    assert "1 bad frames skipped" in captured.out


def test_an_existing_file_or_planted_link_is_never_written_through(files, tmp_path, capsys):
    _, _, paths = files
    out = tmp_path / "decoded.csv"
    out.write_text("keep me\n")
    assert main(_args(paths, out)) == 1
    assert out.read_text() == "keep me\n" and "already exists" in capsys.readouterr().err
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "link.csv"
    os.symlink(victim, link)
    assert main(_args(paths, link)) == 1
    assert main(_args(paths, link, "--overwrite")) == 0
    assert victim.read_text() == "precious\n"
    assert not link.is_symlink() and _rows(link)[0][0] == "frame"


def test_raw_frames_through_suite2p_masks(suite2p_own_folder, tmp_path):
    from napari_cebra.imaging.session import load_session

    session = load_session(suite2p_own_folder)
    dff = session.traces
    model = CEBRA(max_iterations=10, batch_size=64, num_hidden_units=8, output_dimension=4,
                  device="cpu", seed=0).fit(dff)
    model_path = model.save(tmp_path / "raw.pt")
    np.save(tmp_path / "X.npy", dff)
    np.save(tmp_path / "Y.npy", np.arange(len(dff), dtype=float))
    out = tmp_path / "raw.csv"
    movie = suite2p_own_folder.parent / "data" / "movie.tif"
    rc = main(["live", "--model", str(model_path), "--fit-traces", str(tmp_path / "X.npy"),
               "--fit-labels", str(tmp_path / "Y.npy"), "--source", str(movie),
               "--rois", str(suite2p_own_folder), "--baseline", "fixed", "--out", str(out)])
    assert rc == 0
    rows = _rows(out)
    assert len(rows) == 1 + len(dff) and [int(r[0]) for r in rows[1:]] == list(range(len(dff)))


def test_usage_errors(files, tmp_path, capsys):
    _, _, paths = files
    assert main(_args(paths, tmp_path / "o.csv", "--realtime")) == 2
    assert "--realtime needs --fs" in capsys.readouterr().err
    assert main(_args({**paths, "Y": paths["D"]}, tmp_path / "o.csv")[:-2] +
                ["--out", str(tmp_path / "o.csv"), "--k", "0"]) == 2
