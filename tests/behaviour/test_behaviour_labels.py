"""behaviour_labels: a pose file → derived variables on imaging frames, gaps named."""

import numpy as np
import pytest

from napari_cebra.behaviour import behaviour_labels, derive, load_pose
from napari_cebra.imaging.labels import read_label_table

CAM_FPS, IMG_FPS, OFFSET = 30.0, 10.0, 1.5


def _write_dlc(path, position, confidence, keypoints=("nose", "tail")):
    from movement.io import load_poses, save_poses

    ds = load_poses.from_numpy(position.transpose(0, 2, 1)[..., None], confidence[..., None],
                               individual_names=["mouse"], keypoint_names=list(keypoints),
                               fps=CAM_FPS, source_software="DeepLabCut")
    save_poses.to_dlc_file(ds, path, split_individuals=False)
    return path


@pytest.fixture
def circling(tmp_path):
    """An animal circling at 0.1 Hz around (200, 150) px, radius 50 px, facing forward."""
    t = np.arange(900) / CAM_FPS
    phase = 2 * np.pi * 0.1 * t
    body = np.stack([200 + 50 * np.cos(phase), 150 + 50 * np.sin(phase)], axis=1)
    facing = np.stack([-np.sin(phase), np.cos(phase)], axis=1)
    position = np.stack([body + 8 * facing, body - 8 * facing], axis=1)  # nose, tail
    confidence = np.full((900, 2), 0.95)
    confidence[300:303, 0] = 0.1  # a short gap (interpolated)
    confidence[600:630, :] = 0.1  # a long gap (left out)
    return _write_dlc(tmp_path / "mouse_DLC.h5", position, confidence), body, phase


def test_variables_on_imaging_frames(circling):
    path, body, phase = circling
    out = behaviour_labels(path, n_frames=250, fs=IMG_FPS, camera_fps=CAM_FPS, offset=OFFSET,
                           variables=("position", "speed", "heading:tail>nose",
                                      "distance:nose>tail"), px_per_cm=10.0)
    assert set(out.table) == {"x", "y", "speed", "heading", "distance_nose_tail"}
    t_img = OFFSET + np.arange(250) / IMG_FPS  # on the camera clock
    true_x = (200 + 50 * np.cos(2 * np.pi * 0.1 * t_img)) / 10.0
    ok = out.valid
    np.testing.assert_allclose(out.table["x"][ok], true_x[ok], atol=0.05)  # cm
    # speed 2π·0.1·50 px/s = 31.4 px/s = 3.14 cm/s
    assert np.nanmedian(out.table["speed"]) == pytest.approx(np.pi, rel=0.01)
    assert np.nanmedian(out.table["distance_nose_tail"]) == pytest.approx(1.6, rel=1e-6)
    true_heading = np.angle(np.exp(1j * (2 * np.pi * 0.1 * t_img + np.pi / 2)))
    assert np.abs(np.angle(np.exp(1j * (out.table["heading"][ok] - true_heading[ok])))
                  ).max() < 0.01
    # the long gap (camera 600-630 = 20-21 s, imaging 185-194) is left out, not invented
    missing = np.flatnonzero(~ok)
    assert missing.min() >= 184 and missing.max() <= 195 and len(missing) >= 9
    assert np.isnan(out.table["x"][185:195]).all()
    assert np.array_equal(ok, np.logical_and.reduce([np.isfinite(v)
                                                     for v in out.table.values()]))
    rep = out.report
    assert rep["n_low_confidence_points"] == 3 + 60
    assert rep["n_interpolated_points"] == 3
    assert rep["n_imaging_frames_missing"] == len(missing)
    assert rep["alignment"]["offset_s"] == pytest.approx(OFFSET)
    assert rep["alignment"]["coverage_percent"] == 100.0


def test_imaging_longer_than_video_is_named(circling):
    path, _, _ = circling
    out = behaviour_labels(path, n_frames=400, fs=IMG_FPS, camera_fps=CAM_FPS, offset=0.0)
    assert not out.valid[301:].any()  # the camera stopped at 30 s
    assert out.report["alignment"]["coverage_percent"] == pytest.approx(75.25, abs=0.3)


def test_unknown_camera_rate_is_refused(circling):
    path, _, _ = circling
    with pytest.raises(ValueError, match="camera's frame rate is unknown"):
        behaviour_labels(path, n_frames=100, fs=IMG_FPS)


def test_unknown_variable_and_keypoint(circling):
    path, _, _ = circling
    pose = load_pose(path, fps=CAM_FPS)
    with pytest.raises(ValueError, match="kind must be one of"):
        derive(pose, ["velocity"])
    with pytest.raises(ValueError, match="no keypoint 'ear'"):
        derive(pose, ["position:ear"])


def test_read_label_table_accepts_a_pose_file(circling):
    path, body, _ = circling
    table = read_label_table(path)
    assert set(table) == {"x", "y"}  # no camera rate in a DLC file: no speed
    assert len(table["x"]) == 900
    np.testing.assert_allclose(table["x"][:100], body[:100, 0], atol=1e-6)


def test_settings_job_with_sync_pulses(circling, tmp_path):
    from napari_cebra.behaviour import BehaviourSettings, behaviour_steps
    from napari_cebra.progress import drain

    path, body, _ = circling
    drift = 300e-6  # camera clock slow; imaging clock = (1 + drift) * camera - OFFSET
    pulses = np.arange(0.5, 29.0, 2.0)
    np.savetxt(tmp_path / "cam_pulses.csv", pulses, delimiter=",")
    np.savetxt(tmp_path / "img_pulses.csv", (1 + drift) * pulses - OFFSET, delimiter=",")
    settings = BehaviourSettings(pose_file=path, alignment="sync pulses", camera_fps=CAM_FPS,
                                 camera_pulses=tmp_path / "cam_pulses.csv",
                                 imaging_pulses=tmp_path / "img_pulses.csv",
                                 variables="position")
    labels, video = drain(behaviour_steps(settings, n_frames=250, fs=IMG_FPS))
    assert video is None and set(labels.table) == {"x", "y"}
    assert labels.report["alignment"]["drift_ppm"] == pytest.approx(300, abs=5)
    t_cam = (np.arange(250) / IMG_FPS + OFFSET) / (1 + drift)  # imaging frames, camera clock
    true_x = 200 + 50 * np.cos(2 * np.pi * 0.1 * t_cam)
    ok = labels.valid
    # within what the animal moves in one imaging frame (31 px/s × 0.1 s)
    assert np.abs(labels.table["x"][ok] - true_x[ok]).max() < 3.1
    with pytest.raises(ValueError, match="imaging timestamps file"):
        drain(behaviour_steps(BehaviourSettings(pose_file=path), n_frames=250, fs=IMG_FPS))
