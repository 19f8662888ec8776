"""Lab files with the usual flaws: each named, nothing guessed."""

import numpy as np
import pytest
import tifffile

from napari_cebra.imaging import align_labels, load_labels
from napari_cebra.imaging.labels import read_label_table
from napari_cebra.imaging.stacks import open_stack


def test_an_excel_csv_with_a_byte_order_mark_finds_its_first_column(tmp_path, unchanged):
    path = tmp_path / "behaviour.csv"
    path.write_bytes("\ufefftime,speed\n0,1.5\n0.1,2.5\n".encode())
    with unchanged():
        labels = load_labels(path, {"speed": "continuous"}, time_column="time")
    np.testing.assert_array_equal(labels.times, [0.0, 0.1])


def test_duplicate_column_names_are_refused(tmp_path, unchanged):
    path = tmp_path / "behaviour.csv"
    path.write_text("speed,zone,speed\n1,2,3\n4,5,6\n")
    with unchanged(), pytest.raises(ValueError, match="column name 'speed' appears 2 times"):
        read_label_table(path)


def _labels_at(fs_labels: float, n: int, tmp_path):
    path = tmp_path / "labels.csv"
    t = np.arange(n) / fs_labels
    np.savetxt(path, np.c_[t, np.sin(t)], delimiter=",", header="t,x", comments="")
    return load_labels(path, {"x": "continuous"}, time_column="t")


def test_a_frame_rate_that_covers_a_sliver_of_the_labels_is_refused(tmp_path, unchanged):
    labels = _labels_at(30.0, 9000, tmp_path)  # 300 s of behaviour
    with unchanged(), pytest.raises(
            ValueError, match=r"the imaging \(300 frames, 0.3 s\) covers only 0.1 % of the "
                              r"labels \(300 s\).*check fs"):
        align_labels(labels, 300, fs=1000.0)  # fs typed in Hz×… : 0.3 s of imaging
    assert align_labels(labels, 300, fs=1000.0, min_coverage=0.0).n_samples == 300


@pytest.mark.parametrize("bad, match", [
    (np.r_[0.0, np.nan, np.arange(2, 100) / 30.0], "NaN/infinite value at frame 1"),
    (np.r_[np.arange(50) / 30.0, np.arange(50) / 30.0], "must increase strictly"),
])
def test_broken_frame_times_are_refused(tmp_path, bad, match, unchanged):
    labels = _labels_at(30.0, 100, tmp_path)
    with unchanged(), pytest.raises(ValueError, match=match):
        align_labels(labels, len(bad), frame_times=bad)


def test_zero_frames_are_refused(tmp_path, unchanged):
    labels = _labels_at(30.0, 100, tmp_path)
    with unchanged(), pytest.raises(ValueError, match="n_frames=0"):
        align_labels(labels, 0, fs=30.0)


def test_a_truncated_compressed_tiff_is_called_truncated(tmp_path, unchanged):
    full = tmp_path / "full.tif"
    tifffile.imwrite(full, (np.random.default_rng(0).random((20, 32, 32)) * 1000).astype(
        np.uint16), compression="zlib")
    cut = tmp_path / "cut.tif"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with unchanged(), pytest.raises(ValueError, match="the TIFF is truncated .* of the 20 frames"):
        open_stack(cut)


def test_a_tiff_with_no_frames_says_so(tmp_path, unchanged):
    path = tmp_path / "empty.tif"
    tifffile.imwrite(path, np.zeros((0, 32, 32), np.uint16))
    with unchanged(), pytest.raises(ValueError, match="holds no frames"):
        open_stack(path)
