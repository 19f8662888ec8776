import numpy as np
import pytest
import tifffile

from napari_cebra.cli import main
from napari_cebra.synthetic.calcium_movie import simulate_calcium_movie


@pytest.fixture(scope="module")
def tiff(tmp_path_factory):
    sim = simulate_calcium_movie(n_frames=600, shape=(64, 64), n_neurons=8, motion=False, seed=2)
    path = tmp_path_factory.mktemp("cli") / "movie.tif"
    tifffile.imwrite(path, sim.movie.astype(np.uint16))
    return path


def test_extract_writes_suite2p_outputs_and_traces(tiff, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["extract", str(tiff), "--fs", "30", "--out", str(out), "--registration", "none",
               "--diameter", "6", "--device", "cpu"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    plane = out / "suite2p" / "plane0"
    for name in ("stat.npy", "F.npy", "Fneu.npy", "spks.npy", "iscell.npy", "ops.npy"):
        assert (plane / name).exists()
    n = len(np.load(plane / "stat.npy", allow_pickle=True))
    traces = np.load(plane / "traces.npz")
    assert traces["dff"].shape == (600, n) and float(traces["fs"]) == 30.0
    assert f"{n} ROIs" in captured.out
    assert "detection" in captured.err and "classification" in captured.err  # progress

    # a second run into the same folder refuses to overwrite
    before = (plane / "F.npy").read_bytes()
    rc = main(["extract", str(tiff), "--fs", "30", "--out", str(out)])
    assert rc == 1 and "already holds suite2p results" in capsys.readouterr().err
    assert (plane / "F.npy").read_bytes() == before


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    flat = tmp_path / "flat.tif"
    tifffile.imwrite(flat, np.zeros((32, 32), np.uint16))
    assert main(["extract", str(flat), "--fs", "30", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "flat.tif" in err and "single image" in err
    assert main(["extract", str(tmp_path / "missing.tif"), "--fs", "30"]) == 1
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
