"""The lazy video: only requested frames are decoded, on the imaging time axis; a video whose
length contradicts its pose file is refused with both counts."""

import numpy as np
import pytest

from napari_cebra.behaviour import align_clocks
from napari_cebra.behaviour.video import VideoFrames, check_video_matches_pose, write_video


def _frames(n, shape=(48, 64)):
    for i in range(n):
        image = np.zeros((*shape, 3), np.uint8)
        for bit in range(9):  # the frame number in binary, one 6 × 6 block per bit
            if i >> bit & 1:
                image[16:32, 2 + 7 * bit:8 + 7 * bit] = 255
        yield image


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "cam.mp4"
    return write_video(path, _frames(300), 30.0, crf=18, gop=30)


def _number(frame):
    return sum(1 << bit for bit in range(9)
               if frame[18:30, 4 + 7 * bit:6 + 7 * bit].mean() > 128)


def test_only_requested_frames_are_decoded(video):
    v = VideoFrames(video)
    assert v.shape == (300, 48, 64, 3) and v.dtype == np.uint8 and v.ndim == 4
    assert v.n_decoded == 0
    assert _number(v[250]) == 250
    first = v.n_decoded
    assert first <= 31  # from the keyframe before 250 (one every 30 frames), not from 0
    assert _number(v[251]) == 251 and v.n_decoded == first + 1  # forward: one more frame
    v[251]
    assert v.n_decoded == first + 1  # cached
    assert _number(v[10]) == 10  # backwards: a seek, not a decode from 250
    assert v.n_decoded <= first + 1 + 11
    assert [_number(f) for f in v[100:103]] == [100, 101, 102]
    assert v[5, :, :, 0].shape == (48, 64)
    with pytest.raises(IndexError):
        v[300]
    with pytest.raises(TypeError, match="not read whole"):
        np.asarray(v)


def test_on_the_imaging_time_axis(video):
    # imaging at 10 Hz starting 2 s after the camera: imaging frame i ↔ camera 60 + 3 i
    al = align_clocks(300, 100, camera_fps=30.0, imaging_fps=10.0, offset=2.0)
    v = VideoFrames(video, alignment=al)
    assert v.shape[0] == 100
    for i in (0, 7, 50, 79):
        assert _number(v[i]) == 60 + 3 * i
    assert not v[95].any()  # after the camera stopped: black, not the last frame repeated
    assert v.camera_index(95) == -1


def test_frame_count_must_match_the_pose_file(video, tmp_path):
    v = VideoFrames(video)
    check_video_matches_pose(v, 300)
    with pytest.raises(ValueError, match="cam.mp4 has 300 frames but mouse_DLC.h5 has 290"):
        check_video_matches_pose(v, 290, "mouse_DLC.h5")
    al = align_clocks(290, 10, camera_fps=30.0, imaging_fps=10.0)
    with pytest.raises(ValueError, match="300 frames but the alignment has 290"):
        VideoFrames(video, alignment=al)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(ValueError, match="bad.mp4: not a video"):
        VideoFrames(bad)
