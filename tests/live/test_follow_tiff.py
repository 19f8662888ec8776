"""The growing-file source picks up pages written after it started."""

import threading
import time

import numpy as np
import tifffile

from napari_cebra.live import FollowTiff, open_source


def _frames(n, shape=(12, 10)):
    rng = np.random.default_rng(1)
    return rng.integers(0, 4000, size=(n, *shape)).astype(np.uint16)


def _write_later(target, frames, *, folder=False, start=None):
    """An 'acquisition program': writes a page (or file) every 20 ms after the reader began."""

    def run():
        if start is not None:
            start.wait(5)
        for i, frame in enumerate(frames):
            time.sleep(0.02)
            if folder:
                tifffile.imwrite(target / f"frame_{i}.tif", frame)
            else:
                tifffile.imwrite(target, frame, append=True)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_growing_file_pages_written_after_start_are_read_in_order(tmp_path):
    frames = _frames(30)
    path = tmp_path / "acq.tif"
    tifffile.imwrite(path, frames[:3])  # three pages before the reader starts
    started = threading.Event()
    writer = _write_later(path, frames[3:], start=started)
    source = FollowTiff(path, poll_s=0.01, idle_s=1.0)
    seen = []
    for frame in source:
        started.set()
        seen.append(frame)
    writer.join()
    assert len(seen) == 30
    np.testing.assert_array_equal(np.stack(seen), frames)
    assert "no new frame" in source.end_message and "30 frames" in source.end_message


def test_growing_folder_files_written_after_start_are_read_in_natural_order(tmp_path):
    frames = _frames(15)
    started = threading.Event()
    writer = _write_later(tmp_path, frames, folder=True, start=started)
    source = open_source(tmp_path, idle_s=1.0)
    started.set()
    seen = list(source)
    writer.join()
    np.testing.assert_array_equal(np.stack(seen), frames)  # frame_10 after frame_9


def test_stop_ends_following_at_once(tmp_path):
    path = tmp_path / "acq.tif"
    tifffile.imwrite(path, _frames(2))
    stopped = []
    source = FollowTiff(path, poll_s=0.01, idle_s=60.0, stop=lambda: bool(stopped))
    for _ in source:
        stopped.append(True)
    assert "stopped after 1 frames" in source.end_message
