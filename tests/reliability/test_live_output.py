"""Live output: the CSV keeps the source's frame numbers (a skipped frame gets a row saying
why), a run that decodes nothing leaves no file, a wrong frame shape is one error before
streaming, and a damaged chunk of a followed folder is named with the frames it held."""

import csv
import os

import numpy as np
import pytest
import tifffile

from napari_cebra import CEBRA
from napari_cebra.cli import main
from napari_cebra.live import FollowTiff
from napari_cebra.synthetic.hippocampus import hippocampus_session


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    s = hippocampus_session(n_neurons=12, n_samples=400, seed=3)
    root = tmp_path_factory.mktemp("live")
    model = CEBRA(max_iterations=5, batch_size=32, num_hidden_units=8, output_dimension=3,
                  device="cpu", seed=0).fit(s.neural[:300], s.position[:300])
    paths = {"model": model.save(root / "m.pt"), "X": root / "X.npy", "Y": root / "Y.npy"}
    np.save(paths["X"], s.neural[:300])
    np.save(paths["Y"], s.position[:300])
    return s, paths


def _live(paths, source, out, *extra):
    return main(["live", "--model", str(paths["model"]), "--fit-traces", str(paths["X"]),
                 "--fit-labels", str(paths["Y"]), "--source", str(source), "--k", "4",
                 "--out", str(out), *extra])


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


@pytest.mark.parametrize("bad", [[0], [7], [3, 4, 5], [39], [1, 20, 38]])
def test_skipped_frames_keep_their_numbers_and_say_why(files, tmp_path, bad, capsys):
    s, paths = files
    source = s.neural[300:340].copy()
    source[bad, 1] = np.nan
    np.save(tmp_path / "src.npy", source)
    out = tmp_path / "out.csv"
    assert _live(paths, tmp_path / "src.npy", out) == 0
    rows = _rows(out)
    assert rows[0][-1] == "skipped"
    assert [int(r[0]) for r in rows[1:]] == list(range(40))  # every source frame, in order
    skipped = {int(r[0]): r[-1] for r in rows[1:] if r[-1]}
    assert skipped == dict.fromkeys(bad, "NaN or infinite values")
    assert all(r[1] and r[2] for r in rows[1:] if not r[-1])  # decoded rows have values
    assert f"{len(bad)} bad frames skipped" in capsys.readouterr().out


@pytest.mark.parametrize("case", ["wrong-shape", "all-nan", "never-appears", "empty-folder"])
def test_a_run_that_decodes_nothing_leaves_no_file_and_fails(files, tmp_path, case, capsys):
    s, paths = files
    out = tmp_path / "out.csv"
    extra = []
    if case == "wrong-shape":
        source = tmp_path / "wide.npy"
        np.save(source, np.ones((30, 13), np.float32))  # 13 neurons, the model has 12
    elif case == "all-nan":
        source = tmp_path / "nan.npy"
        np.save(source, np.full((10, 12), np.nan, np.float32))
    elif case == "never-appears":
        source, extra = tmp_path / "acq.tif", ["--follow", "--idle-s", "0.3"]
    else:
        source, extra = tmp_path / "acq", ["--idle-s", "0.3"]
        source.mkdir()
    assert _live(paths, source, out, *extra) == 1
    err = capsys.readouterr().err
    assert not out.exists(), "a failed run must not leave a file that refuses the retry"
    if case != "all-nan":  # (each NaN frame is named: up to 10 lines, then the end)
        assert err.count("napari-cebra live:") == 1  # one clear error, not one per frame
    expected = {"wrong-shape": "frames have shape (13,)", "all-nan": "Nothing was decoded",
                "never-appears": "never appeared", "empty-folder": "Nothing was decoded"}
    assert expected[case] in err
    if case in ("wrong-shape", "never-appears"):
        assert str(source) in err
    np.save(tmp_path / "good.npy", s.neural[300:320])
    assert _live(paths, tmp_path / "good.npy", out) == 0  # the retry is not refused
    assert len(_rows(out)) == 21


def _chunks(folder, damage):
    folder.mkdir()
    for i in range(3):
        tifffile.imwrite(folder / f"chunk_{i}.tif", np.full((5, 8, 6), i, np.uint16),
                         imagej=True)
    victim = folder / "chunk_1.tif"
    data = victim.read_bytes()
    victim.write_bytes({"truncated": data[: len(data) // 2], "garbage": os.urandom(len(data)),
                        "zeros": b"\0" * len(data)}[damage])


@pytest.mark.parametrize("damage", ["truncated", "garbage", "zeros"])
def test_a_damaged_chunk_of_a_followed_folder_is_named_with_its_frames(tmp_path, damage,
                                                                       caplog):
    _chunks(tmp_path / "acq", damage)
    source = FollowTiff(tmp_path / "acq", idle_s=0.3)
    seen = [(source.position, int(frame[0, 0])) for frame in source]
    # chunk 2 keeps its source numbers 10–14: the damaged chunk's frames are not closed up
    assert [n for n, v in seen if v == 2] == [10, 11, 12, 13, 14]
    assert [n for n, v in seen if v == 0] == [0, 1, 2, 3, 4]
    (line,) = source.damaged
    assert "chunk_1.tif is damaged or truncated" in line and "–9" in line
    skipped = [n for n, _ in source.take_skipped()]
    read_of_1 = [n for n, v in seen if v == 1]
    assert sorted(skipped + read_of_1) == [5, 6, 7, 8, 9]
    assert not [r for r in caplog.records if r.name == "tifffile"]  # ours, not a library log


def test_frame_shape_is_checked_once_before_streaming(files):
    from napari_cebra.live import LiveDecoder, Replay, stream_batches

    s, paths = files
    from napari_cebra.model_files import load_model

    model, _, _ = load_model(paths["model"], device="cpu")
    decoder = LiveDecoder.from_training(model, s.neural[:300], s.position[:300], n_neighbors=4)
    for wrong in (np.ones((50, 11), np.float32), np.ones((50, 4, 3), np.float32)):
        with pytest.raises(ValueError, match=r"frames have shape .* decoder takes traces"):
            next(stream_batches(decoder, Replay(wrong)))
