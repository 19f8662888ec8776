"""Two clocks: a known offset and rate mismatch recovered within one imaging frame."""

import numpy as np
import pytest

from napari_cebra.behaviour import align_clocks, read_timestamps, resample

CAM_FPS, IMG_FPS, OFFSET = 30.0, 10.0, 2.35  # imaging starts 2.35 s after the camera


def _truth_signal(t):
    return np.sin(2 * np.pi * 0.2 * t) + 0.3 * t  # a behaviour variable of true time


def test_rates_and_offset_recover_the_signal():
    n_cam, n_img = 1800, 500  # 60 s camera, 50 s imaging
    al = align_clocks(n_cam, n_img, camera_fps=CAM_FPS, imaging_fps=IMG_FPS, offset=OFFSET)
    # imaging frame i happens at camera time OFFSET + i/IMG_FPS
    cam_t = np.arange(n_cam) / CAM_FPS
    out = resample(_truth_signal(cam_t), al)
    truth = _truth_signal(OFFSET + np.arange(n_img) / IMG_FPS)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, truth, atol=2e-3)
    assert al.report.offset_s == pytest.approx(OFFSET)
    assert al.report.coverage_percent == 100.0
    # the camera frame shown for imaging frame 100 is the one at 2.35 + 10 s
    assert al.nearest_camera_frame(100) == round((OFFSET + 10.0) * CAM_FPS)


def test_timestamps_with_a_rate_mismatch_and_dropped_frames():
    rng = np.random.default_rng(1)
    true_cam_fps = 30.0 * (1 + 500e-6)  # the camera runs 500 ppm fast
    cam_t = np.arange(2000) / true_cam_fps + rng.normal(0, 1e-4, 2000)
    cam_t = np.delete(cam_t, [400, 401, 402, 1200])  # 4 frames dropped
    img_t = 1.0 + np.arange(550) / IMG_FPS
    al = align_clocks(len(cam_t), camera_times=cam_t, imaging_times=img_t)
    assert al.report.method == "timestamps"
    assert al.report.n_dropped_camera_frames == 4
    out = resample(_truth_signal(cam_t), al)
    truth = _truth_signal(img_t)
    ok = np.isfinite(out)
    # frames inside the 3-frame hole are named, not filled (1 imaging frame at most there)
    assert (~ok).sum() <= 2
    # the signal changes at most ~1.56 per s: an error under 0.156 is under one imaging frame
    assert np.abs(out[ok] - truth[ok]).max() < 0.1 * 1.56


def test_sync_pulses_fit_offset_and_drift():
    drift = 200e-6  # the camera clock runs 200 ppm slow against the microscope
    cam_frames = np.arange(3000) / CAM_FPS  # camera clock
    to_img = lambda t: (1 + drift) * t - OFFSET  # noqa: E731 camera clock → imaging clock
    pulses_cam = np.arange(0.5, 100.0, 5.0)
    pulses_img = to_img(pulses_cam) + np.random.default_rng(2).normal(0, 2e-4, len(pulses_cam))
    al = align_clocks(len(cam_frames), 800, camera_fps=CAM_FPS, imaging_fps=IMG_FPS,
                      camera_pulses=pulses_cam, imaging_pulses=pulses_img)
    assert al.report.drift_ppm == pytest.approx(200, abs=30)
    assert al.report.offset_s == pytest.approx(OFFSET, abs=0.01)
    assert al.report.pulse_residual_ms < 1.0
    img_t = np.arange(800) / IMG_FPS
    true_cam_t = (img_t + OFFSET) / (1 + drift)
    shown = al.nearest_camera_frame(np.arange(800))
    assert np.abs(cam_frames[shown] - true_cam_t).max() < 1 / IMG_FPS
    # without the drift term (rates + offset only) the error grows past a frame by the end
    plain = align_clocks(len(cam_frames), 800, camera_fps=CAM_FPS, imaging_fps=IMG_FPS,
                         offset=OFFSET)
    err_plain = np.abs(cam_frames[plain.nearest_camera_frame(np.arange(800))] - true_cam_t)
    assert err_plain.max() > np.abs(cam_frames[shown] - true_cam_t).max()


def test_frames_without_behaviour_are_named():
    # the camera starts 1 s late and stops 2 s early
    al = align_clocks(300, 150, camera_fps=CAM_FPS, imaging_fps=IMG_FPS, offset=-1.0)
    values = np.ones(300)
    values[150:160] = np.nan  # a long gap left after cleaning
    out = resample(values, al)
    assert al.report.coverage_percent == pytest.approx(100 * 101 / 150, abs=1)
    assert np.isnan(out[:10]).all()  # before the camera started
    assert np.isnan(out[111:]).all()  # after it stopped
    assert np.isnan(out[60:64]).all()  # camera 150-160 ↔ imaging 60-63
    assert np.isfinite(out[11:59]).all()


def test_heading_is_interpolated_on_the_circle():
    al = align_clocks(2, 2, camera_times=[0.0, 1.0], imaging_times=[0.5, 0.75])
    out = resample(np.array([np.pi - 0.1, -np.pi + 0.1]), al, circular=True)
    assert abs(abs(out[0]) - np.pi) < 1e-9  # through ±π, not through 0
    assert out[1] == pytest.approx(-np.pi + 0.05, abs=1e-3)


def test_bad_alignment_inputs_are_explained(tmp_path):
    with pytest.raises(ValueError, match="both devices"):
        align_clocks(10, 5, camera_fps=30, imaging_fps=10, camera_pulses=[1.0, 2.0])
    with pytest.raises(ValueError, match="3 camera sync pulses but 2"):
        align_clocks(10, 5, camera_fps=30, imaging_fps=10, camera_pulses=[1.0, 2.0, 3.0],
                     imaging_pulses=[1.0, 2.0])
    with pytest.raises(ValueError, match="must increase"):
        align_clocks(3, camera_times=[0, 2, 1], imaging_times=[0, 1])
    with pytest.raises(ValueError, match="camera's frame times or its rate"):
        align_clocks(3, 2, imaging_fps=10)


def test_timestamps_from_a_column_and_from_nwb(tmp_path):
    csv = tmp_path / "camera.csv"
    csv.write_text("frame,t\n" + "".join(f"{i},{i / 30 + 5}\n" for i in range(10)))
    np.testing.assert_allclose(read_timestamps(csv, "t"), np.arange(10) / 30 + 5)
    with pytest.raises(ValueError, match="no column 'time'"):
        read_timestamps(csv, "time")
    from datetime import datetime, timezone

    import pynwb

    nwb = pynwb.NWBFile("s", "id", datetime(2024, 1, 1, tzinfo=timezone.utc))
    nwb.add_acquisition(pynwb.TimeSeries(name="cam", data=np.zeros(5), unit="a",
                                         timestamps=np.arange(5) * 0.5 + 1.0))
    with pynwb.NWBHDF5IO(tmp_path / "t.nwb", "w") as io:
        io.write(nwb)
    np.testing.assert_allclose(read_timestamps(tmp_path / "t.nwb", "cam"),
                               np.arange(5) * 0.5 + 1.0)
