"""Several planes: an interleaved two-plane TIFF is extracted plane by plane, opened with each
plane's ROIs on its own tile, and trained on with the cells of both planes (or of one)."""

import numpy as np
import pytest

from napari_cebra.imaging.planes import (
    combine_planes,
    extract_planes_steps,
    plane_choice,
    split_planes,
)
from napari_cebra.imaging.stacks import open_stack
from napari_cebra.progress import drain
from napari_cebra.synthetic.calcium_movie import match_centroids
from napari_cebra.synthetic.session_on_disk import write_two_plane_sample


@pytest.fixture(scope="module")
def two_planes(tmp_path_factory):
    work = tmp_path_factory.mktemp("planes")
    truth = write_two_plane_sample(work / "sample")  # the whole-path sample's 2-plane variant
    assert sorted(p.name for p in (work / "sample").iterdir()) == [
        "frame_labels.csv", "ground_truth.npz", "stimulus_movie.npy", "v1_two_planes.tif"]
    assert open_stack(truth.path).shape == (2 * truth.n_frames, 80, 80)
    sessions = drain(extract_planes_steps(
        truth.path, fs=truth.fs, nplanes=2, tau=truth.tau, diameter=truth.diameter,
        out_dir=work / "out", torch_device="cpu"))
    return truth, sessions, work / "out"


def test_split_planes_is_a_lazy_interleaved_view(tmp_path):
    frames = np.arange(7 * 4 * 4, dtype=np.uint16).reshape(7, 4, 4)
    np.save(tmp_path / "s.npy", frames)
    stack = open_stack(tmp_path / "s.npy")
    planes = split_planes(stack, 2)
    assert [p.shape for p in planes] == [(3, 4, 4), (3, 4, 4)]  # the half volume is dropped
    np.testing.assert_array_equal(planes[1][2], frames[5])
    assert all(isinstance(p, np.memmap) for p in planes)  # views: nothing read
    with pytest.raises(ValueError, match="3 interleaved planes"):
        split_planes(stack[:2], 3)


def test_every_plane_is_extracted_and_finds_its_own_cells(two_planes):
    truth, sessions, out = two_planes
    assert [s.suite2p.plane_dir.name for s in sessions] == ["plane0", "plane1"]
    assert all(s.suite2p.plane_dir.parent == out / "suite2p" for s in sessions)
    for p, session in enumerate(sessions):
        assert session.n_frames == truth.n_frames
        from napari_cebra.imaging.suite2p_read import roi_centroids

        found, _ = match_centroids(truth.centroids[p], roi_centroids(session.suite2p.stat),
                                   truth.diameter / 2)
        other, _ = match_centroids(truth.centroids[1 - p], roi_centroids(session.suite2p.stat),
                                   truth.diameter / 2)
        assert len(found) >= 0.6 * len(truth.centroids[p]), (p, len(found))
        assert len(found) > len(other)  # each plane sees its own neurons


def test_reader_puts_each_plane_on_its_tile_with_the_plane_in_the_features(two_planes):
    from napari_cebra.contracts import traces_of
    from napari_cebra.gui.reader import get_suite2p_reader

    truth, sessions, out = two_planes
    layers = get_suite2p_reader(str(out))(str(out))
    rois = [(d, k) for d, k, kind in layers if kind == "labels"]
    assert [k["translate"][-1] for _, k in rois] == [0.0, 80 + 8]  # plane 1 right of plane 0
    assert all(k["translate"] == layer[1]["translate"] for layer in layers
               if "plane1" in layer[1]["name"] for _, k in rois[1:])
    for p, ((labels, kwargs), session) in enumerate(zip(rois, sessions, strict=True)):
        assert labels.shape == (80, 80) and labels.max() == session.suite2p.n_rois
        np.testing.assert_array_equal(kwargs["features"]["plane"], p)
        record = traces_of(kwargs["metadata"])
        np.testing.assert_array_equal(record["traces"], session.traces)
        assert record["nplanes"] == 2 and set(record["plane"]) == {p}
    (grid, kwargs, _), = [layer for layer in layers if layer[1]["name"].endswith("all planes "
                                                                                 "traces")]
    record = traces_of(kwargs["metadata"])
    n0, n1 = (s.suite2p.n_rois for s in sessions)
    assert record["traces"].shape == (truth.n_frames, n0 + n1) and grid.shape[0] == truth.n_frames
    np.testing.assert_array_equal(record["plane"], [0] * n0 + [1] * n1)
    np.testing.assert_allclose(record["traces"][:, n0:], sessions[1].traces)
    np.testing.assert_allclose(record["trace_sets"]["F"][:, :n0], sessions[0].trace_sets["F"])


def test_training_on_both_planes_or_one(two_planes):
    from napari_cebra import CEBRA

    truth, sessions, _ = two_planes
    pset = combine_planes(sessions)
    both, cols, setting = plane_choice(pset.traces, pset.plane, "all")
    assert setting["planes"] == "all" and sum(setting["cells_per_plane"].values()) == both.shape[1]
    one, cols1, setting1 = plane_choice(pset.traces, pset.plane, 1)
    assert setting1 == {"planes": 1, "cells_per_plane": {1: sessions[1].suite2p.n_rois}}
    np.testing.assert_array_equal(one, sessions[1].traces)
    model = CEBRA(max_iterations=20, batch_size=128, output_dimension=3, device="cpu",
                  conditional="time_delta")
    model.fit(both, truth.frame_id.astype(float))
    emb = model.transform(both)
    assert emb.shape == (truth.n_frames, 3) and np.isfinite(emb).all()
    with pytest.raises(ValueError, match="plane 5 has no cells"):
        plane_choice(pset.traces, pset.plane, 5)
