import shutil

import numpy as np
import pytest

from napari_cebra.imaging import is_suite2p_folder, load_session, read_suite2p
from napari_cebra.imaging.suite2p_read import find_plane_dir, roi_label_image, roi_table


def test_folder_written_by_suite2p_itself_reads_back(suite2p_own_folder):
    plane = suite2p_own_folder / "suite2p" / "plane0"
    stat = np.load(plane / "stat.npy", allow_pickle=True)
    out = read_suite2p(suite2p_own_folder)  # the parent of suite2p/ …
    assert out.plane_dir == plane
    assert out.n_rois == len(stat) > 0
    np.testing.assert_array_equal(out.F, np.load(plane / "F.npy"))
    np.testing.assert_array_equal(out.Fneu, np.load(plane / "Fneu.npy"))
    np.testing.assert_array_equal(out.spks, np.load(plane / "spks.npy"))
    np.testing.assert_array_equal(out.iscell, np.load(plane / "iscell.npy"))
    assert out.mean_image.shape == out.shape == (64, 64)
    assert out.registered is None  # registration did not run
    # … the suite2p folder and the plane folder open the same way
    assert read_suite2p(suite2p_own_folder / "suite2p").n_rois == out.n_rois
    assert read_suite2p(plane).n_rois == out.n_rois
    assert is_suite2p_folder(plane) and is_suite2p_folder(suite2p_own_folder)


def test_session_from_a_suite2p_folder(suite2p_own_folder):
    session = load_session(suite2p_own_folder)
    n, t = session.suite2p.n_rois, session.n_frames
    assert session.traces.shape == (t, n)
    assert session.fs == pytest.approx(session.suite2p.ops["fs"])
    np.testing.assert_allclose(session.trace_sets["F"], session.suite2p.F.T)


def test_roi_image_and_table(suite2p_own_folder):
    out = read_suite2p(suite2p_own_folder)
    labels = roi_label_image(out.stat, out.shape)
    assert labels.dtype == np.int32 and labels.shape == out.shape
    assert set(np.unique(labels)) - {0} <= set(range(1, out.n_rois + 1))
    table = roi_table(out.stat, out.iscell)
    assert list(table["roi"]) == list(range(1, out.n_rois + 1))
    np.testing.assert_array_equal(table["iscell"], out.iscell[:, 0] > 0.5)
    for k, s in enumerate(out.stat):  # each ROI's centroid: the weighted mean of its pixels
        cy, cx = table["centroid_y"][k], table["centroid_x"][k]
        assert s["ypix"].min() <= cy <= s["ypix"].max()
        assert s["xpix"].min() <= cx <= s["xpix"].max()
        assert cy == pytest.approx(np.average(s["ypix"], weights=s["lam"]))


def test_missing_stat_is_a_clear_error(suite2p_own_folder, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(suite2p_own_folder / "suite2p" / "plane0", broken,
                    ignore=shutil.ignore_patterns("*.bin"))
    (broken / "stat.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"stat\.npy.*missing"):
        read_suite2p(broken)
    assert not is_suite2p_folder(broken)


def test_mismatched_files_are_a_clear_error(suite2p_own_folder, tmp_path):
    broken = tmp_path / "mixed"
    shutil.copytree(suite2p_own_folder / "suite2p" / "plane0", broken,
                    ignore=shutil.ignore_patterns("*.bin"))
    F = np.load(broken / "F.npy")
    np.save(broken / "F.npy", F[:-1])
    with pytest.raises(ValueError, match="different runs"):
        read_suite2p(broken)


def test_not_a_suite2p_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a suite2p output folder"):
        find_plane_dir(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        read_suite2p(tmp_path / "nope")


def test_dff_can_be_recomputed_with_another_baseline(suite2p_own_folder):
    from napari_cebra.imaging import BaselineParams
    from napari_cebra.imaging.session import dff_from_sets

    session = load_session(suite2p_own_folder)
    same = dff_from_sets(session.trace_sets, session.fs, session.baseline)
    np.testing.assert_allclose(same, session.traces, rtol=1e-5, atol=1e-6)
    other = dff_from_sets(session.trace_sets, session.fs,
                          BaselineParams(neuropil_coefficient=0.0, method="constant"))
    assert other.shape == same.shape and not np.allclose(other, same)
