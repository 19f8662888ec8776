"""Pose files in each tracker's real layout (written by movement's savers) load the same."""

from pathlib import Path

import numpy as np
import pytest

from napari_cebra.behaviour import clean_pose, is_pose_file, load_pose, sniff_software

KEYPOINTS = ["nose", "body", "tail"]


@pytest.fixture(scope="module")
def truth():
    rng = np.random.default_rng(0)
    t = np.arange(60)
    pos = np.stack([100 + 20 * np.cos(t / 9), 80 + 20 * np.sin(t / 9)], axis=1)  # (T, 2)
    offsets = np.array([[10, 0], [0, 0], [-10, 0]])
    position = pos[:, None, :] + offsets[None] + rng.normal(0, 0.1, (60, 3, 2))
    confidence = rng.uniform(0.8, 1.0, (60, 3))
    return position, confidence


def _dataset(position, confidence, software="DeepLabCut"):
    from movement.io import load_poses

    return load_poses.from_numpy(position.transpose(0, 2, 1)[..., None],
                                 confidence[..., None], individual_names=["mouse"],
                                 keypoint_names=KEYPOINTS, fps=30.0, source_software=software)


def _write(kind: str, folder: Path, position, confidence) -> Path:
    import pynwb
    from movement.io import save_poses

    ds = _dataset(position, confidence)
    if kind == "dlc_h5":
        save_poses.to_dlc_file(ds, folder / "mouse_DLC.h5", split_individuals=False)
        return folder / "mouse_DLC.h5"
    if kind == "dlc_csv":
        save_poses.to_dlc_file(ds, folder / "mouse_DLC.csv", split_individuals=False)
        return folder / "mouse_DLC.csv"
    if kind == "dlc_single_csv":  # DeepLabCut's single-animal layout (no individuals row)
        save_poses.to_dlc_file(ds, folder / "single.csv", split_individuals=True)
        return next(folder.glob("single*mouse.csv"))
    if kind == "sleap_h5":
        save_poses.to_sleap_analysis_file(ds, folder / "mouse.analysis.h5")
        return folder / "mouse.analysis.h5"
    if kind == "lp_csv":
        save_poses.to_lp_file(ds, folder / "lp.csv")
        return next(folder.glob("lp*.csv"))
    if kind == "nwb":
        nwbfile = save_poses.to_nwb_file(ds)
        with pynwb.NWBHDF5IO(folder / "pose.nwb", "w") as io:
            io.write(nwbfile)
        return folder / "pose.nwb"
    raise AssertionError(kind)


FORMATS = {"dlc_h5": "DeepLabCut", "dlc_csv": "DeepLabCut", "dlc_single_csv": "DeepLabCut",
           "sleap_h5": "SLEAP", "lp_csv": "DeepLabCut", "nwb": "NWB"}


@pytest.mark.parametrize("kind", list(FORMATS))
def test_each_format_loads_the_same_values(kind, tmp_path, truth):
    position, confidence = truth
    path = _write(kind, tmp_path, position, confidence)
    assert is_pose_file(path)
    assert sniff_software(path) == FORMATS[kind]
    pose = load_pose(path, fps=30.0)
    assert sorted(pose.keypoints) == sorted(KEYPOINTS)  # NWB keeps them in name order
    order = [pose.keypoint_index(k) for k in KEYPOINTS]
    assert pose.n_frames == 60
    # SLEAP stores float32
    np.testing.assert_allclose(pose.position[:, order], position, atol=1e-4)
    np.testing.assert_allclose(pose.confidence[:, order], confidence, atol=1e-4)
    np.testing.assert_allclose(pose.times, np.arange(60) / 30.0, atol=1e-9)


def test_lightning_pose_forced_reader(tmp_path, truth):
    path = _write("lp_csv", tmp_path, *truth)
    pose = load_pose(path, software="LightningPose", fps=30.0)
    np.testing.assert_allclose(pose.position, truth[0], atol=1e-9)


def test_sleap_slp_through_sleap_io(tmp_path, truth):
    import sleap_io as sio

    position, confidence = truth
    skeleton = sio.Skeleton(KEYPOINTS, edges=[("nose", "body"), ("body", "tail")])
    video = sio.Video(filename="fake.mp4", backend=None)
    frames = [sio.LabeledFrame(video=video, frame_idx=i, instances=[
        sio.PredictedInstance.from_numpy(position[i], skeleton=skeleton,
                                         point_scores=confidence[i], score=1.0)])
        for i in range(len(position))]
    labels = sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skeleton])
    labels.save(str(tmp_path / "mouse.slp"))
    pose = load_pose(tmp_path / "mouse.slp", fps=30.0)
    assert pose.software == "SLEAP"
    np.testing.assert_allclose(pose.position, position, atol=1e-4)
    assert pose.skeleton == [("nose", "body"), ("body", "tail")]


def test_bad_and_unknown_files_are_named(tmp_path):
    plain = tmp_path / "speeds.csv"
    plain.write_text("time_s,speed\n0,1\n")
    assert not is_pose_file(plain)
    with pytest.raises(ValueError, match="speeds.csv: not a pose file"):
        load_pose(plain)
    broken = tmp_path / "broken_DLC.csv"
    broken.write_text("scorer,a,a,a\nbodyparts,nose,nose,nose\ncoords,x,y,likelihood\n"
                      "0,abc,1,1\n")
    with pytest.raises(ValueError, match="broken_DLC.csv"):
        load_pose(broken)
    with pytest.raises(FileNotFoundError, match="nothere.h5"):
        load_pose(tmp_path / "nothere.h5")
    with pytest.raises(ValueError, match="no individual 'rat'"):
        load_pose(_write("dlc_h5", tmp_path, np.zeros((5, 3, 2)), np.ones((5, 3))),
                  individual="rat")


def test_short_gaps_interpolated_long_gaps_left_out(tmp_path, truth):
    position, confidence = truth
    confidence = confidence.copy()
    confidence[10:13, 0] = 0.1  # 3 frames: short gap → interpolated
    confidence[30:40, 0] = 0.2  # 10 frames: long gap → stays missing
    confidence[50, 1] = 0.59  # just below the cutoff
    pose = load_pose(_write("dlc_h5", tmp_path, position, confidence), fps=30.0)
    cleaned = clean_pose(pose, pcutoff=0.6, max_gap=5)
    assert cleaned.n_low_confidence == 14
    assert cleaned.n_interpolated == 4
    missing = cleaned.missing
    assert missing[30:40, 0].all() and missing.sum() == 10
    # interpolated values lie on the line between the neighbours, not the low-confidence ones
    steps = np.array([1, 2, 3])[:, None] / 4
    expected = position[9, 0] + (position[13, 0] - position[9, 0]) * steps
    np.testing.assert_allclose(cleaned.position[10:13, 0], expected, atol=1e-9)
    # a stricter max_gap leaves the short gap out too; a lower cutoff keeps the points
    assert clean_pose(pose, pcutoff=0.6, max_gap=0).missing.sum() == 14
    assert clean_pose(pose, pcutoff=0.05, max_gap=0).missing.sum() == 0
