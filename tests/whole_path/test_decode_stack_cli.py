"""``napari-cebra decode --stack``: a raw stack through suite2p to decoded movie frames."""

import json

import numpy as np
import pytest
import tifffile

from napari_cebra.cli import main
from napari_cebra.synthetic.calcium_movie import match_centroids
from napari_cebra.synthetic.v1_imaging import v1_imaging_session


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A V1 stack on disk as a lab has it: TIFF, frame-labels CSV, stimulus TIFF."""
    s = v1_imaging_session(n_repeats=4, movie_seconds=8, fs=10, n_neurons=25, shape=(80, 80),
                           seed=3)
    folder = tmp_path_factory.mktemp("recording")
    tifffile.imwrite(folder / "stack.tif", np.round(s.stack).astype(np.uint16))
    tifffile.imwrite(folder / "movie.tif", np.round(s.movie * 255).astype(np.uint8))
    rows = "\n".join(f"{f},{r}" for f, r in zip(s.frame_id, s.repeat, strict=True))
    (folder / "labels.csv").write_text("frame_id,repeat\n" + rows + "\n")
    return folder, s


def _args(folder, *extra):
    return ["decode", "--stack", str(folder / "stack.tif"), "--fs", "10",
            "--frame-labels", str(folder / "labels.csv"), "--tau", "0.7", "--diameter", "7",
            "--device", "cpu", "--iterations", "300", "--batch-size", "128",
            "--output-dimension", "8", "--controls", "", *extra]


def test_decode_stack_runs_suite2p_then_decodes_the_frames(recording, tmp_path, capsys):
    folder, s = recording
    report, out = tmp_path / "r.json", tmp_path / "s2p"
    rc = main(_args(folder, "--stimulus", str(folder / "movie.tif"), "--out", str(out),
                    "--report", str(report), "--predictions"))
    assert rc == 0
    data = json.loads(report.read_text())
    ex = data["extraction"]
    # suite2p found the neurons, and decoding used its cells' traces
    assert ex["output_folder"].startswith(str(out)) and (out / "suite2p" / "plane0").is_dir()
    assert ex["cells_only"] and ex["traces"] == "dff" and ex["n_frames"] == len(s.stack)
    from napari_cebra.imaging.suite2p_read import read_suite2p, roi_centroids

    found = roi_centroids(read_suite2p(out).stat)[ex["cell_indices"]]
    i_true, _ = match_centroids(s.centroids, found, s.diameter / 2)
    assert len(i_true) >= 0.8 * len(s.centroids) and ex["n_cells"] <= 1.25 * len(s.centroids)
    # CEBRA on the extracted traces decodes far above chance (and above kNN on raw dF/F);
    # the true frames are the test repeat's
    acc = {r["name"]: r["accuracy"] for r in data["results"]}
    assert set(acc) == {"cebra", "raw", "pca"}
    assert acc["cebra"] > 2 * data["chance"] and acc["cebra"] > acc["raw"], acc
    assert min(acc.values()) > data["chance"], (acc, data["chance"])
    np.testing.assert_array_equal(data["true_frames"], s.frame_id[s.repeat == 3])
    assert "ROIs" in capsys.readouterr().out


def test_decode_stack_checks_every_input_before_suite2p_starts(recording, tmp_path, capsys):
    folder, _ = recording
    report, out = tmp_path / "r.json", tmp_path / "s2p"
    # no frame labels: a usage error (2)
    args = [a for a in _args(folder, "--report", str(report), "--out", str(out))]
    i = args.index("--frame-labels")
    assert main(args[:i] + args[i + 2:]) == 2
    assert "--frame-labels" in capsys.readouterr().err
    # labels for another recording: refused, naming both counts, nothing written
    short = tmp_path / "short.csv"
    short.write_text("frame_id,repeat\n" + "0,0\n1,1\n2,2\n")
    args[i + 1] = str(short)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "3 rows" in err and "320 frames" in err
    # a labels file without the columns names what it has
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("frame,trial\n" + "0,0\n" * 320)
    args[i + 1] = str(wrong)
    assert main(args) == 1
    assert "'frame_id'" in capsys.readouterr().err
    # a batch larger than the training repeats, found before suite2p runs
    args[i + 1] = str(folder / "labels.csv")
    assert main([*args, "--batch-size", "300"]) == 2
    assert "--batch-size 300 is larger than the training repeats (240 frames)" in \
        capsys.readouterr().err
    # --fs with --input is a usage error
    assert main(["decode", "--synthetic-v1", "--fs", "30", "--report", str(report)]) == 2
    assert not report.exists() and not out.exists()
