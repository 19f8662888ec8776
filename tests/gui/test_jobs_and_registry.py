"""The shared widget plumbing: the job runner, the registry, the runtime settings."""

import sys
import time

import numpy as np
import pytest
from qtpy.QtWidgets import QWidget

from napari_cebra import runtime
from napari_cebra.gui import jobs, registry
from napari_cebra.progress import Progress


@pytest.fixture
def errors(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(jobs, "show_error", lambda msg: shown.append(str(msg)))
    return shown


def slow_job(n: int, log: list, fail_at: int | None = None):
    """A job that records its clean-up, like training or extraction do."""
    try:
        for i in range(n):
            time.sleep(0.01)
            if i == fail_at:
                raise ValueError("bad input at step 3")
            yield Progress("work", i + 1, n)
        return "result"
    finally:
        log.append("cleaned up")


def test_a_result_lands_through_the_callback_bound_at_start(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    layer = viewer.add_image(np.zeros((3, 4, 4)), name="chosen")
    results, batches, busy = [], [], []
    runner = jobs.JobRunner(on_busy=busy.append)
    runner.start(slow_job(5, []), desc="test", on_progress=batches.append,
                 on_result=lambda r, target=layer: results.append((r, target.name)))
    viewer.add_image(np.zeros((3, 4, 4)), name="selected later")  # the selection moves on
    qtbot.waitUntil(lambda: not runner.running, timeout=10_000)
    assert results == [("result", "chosen")]
    assert [e.step for batch in batches for e in batch] == [1, 2, 3, 4, 5]
    assert busy == [True, False] and runner.pbar is None


def test_cancel_delivers_nothing_and_runs_the_jobs_clean_up(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    before = [layer.name for layer in viewer.layers]
    log, results = [], []
    runner = jobs.JobRunner()
    runner.start(slow_job(10_000, log), desc="test", on_result=results.append)
    qtbot.waitUntil(lambda: runner.pbar is not None and runner.pbar.n > 0, timeout=10_000)
    runner.cancel()
    qtbot.waitUntil(lambda: not runner.running, timeout=10_000)
    runner.cleanup.join(10)
    assert results == [] and log == ["cleaned up"]
    assert [layer.name for layer in viewer.layers] == before


def test_an_error_is_shown_and_the_runner_is_ready_again(make_napari_viewer, qtbot, errors):
    make_napari_viewer()
    runner = jobs.JobRunner()
    runner.start(slow_job(10, [], fail_at=3), desc="test", on_result=lambda r: None,
                 error=lambda err: f"Job failed: {err}")
    qtbot.waitUntil(lambda: not runner.running, timeout=10_000)
    assert errors == ["Job failed: bad input at step 3"]
    results = []
    runner.start(slow_job(2, []), desc="again", on_result=results.append)
    qtbot.waitUntil(lambda: not runner.running, timeout=10_000)
    assert results == ["result"]


def test_the_registry_finds_live_widgets_by_role(make_napari_viewer):
    viewer, other = make_napari_viewer(), make_napari_viewer()

    class Marker(QWidget):
        def highlight_frames(self, frames):
            pass

    first, second = Marker(), QWidget()
    registry.register(viewer, "marker", first)
    registry.register(viewer, "plain", second)
    assert registry.find(viewer, "marker") is first
    assert registry.find(other, "marker") is None  # per viewer
    assert registry.offering(viewer, "highlight_frames") == [first]
    first.deleteLater()
    del first
    import gc

    from qtpy.QtWidgets import QApplication

    QApplication.processEvents()
    gc.collect()
    assert registry.find(viewer, "marker") is None  # closed widgets drop out


def test_runtime_hides_triton_once_and_can_be_told_not_to(monkeypatch):
    monkeypatch.delitem(sys.modules, "triton", raising=False)
    monkeypatch.setenv(runtime.ALLOW_TRITON, "1")
    assert runtime.hide_triton() is False and "triton" not in sys.modules
    monkeypatch.delenv(runtime.ALLOW_TRITON)
    assert runtime.hide_triton() is True and sys.modules["triton"] is None
    with pytest.raises(ImportError):
        import triton  # noqa: F401


def test_runtime_thread_count_follows_the_environment(monkeypatch):
    monkeypatch.setenv(runtime.TORCH_THREADS, "3")
    assert runtime.torch_threads_for_gui() == 3
    monkeypatch.setenv(runtime.TORCH_THREADS, "0")
    assert runtime.torch_threads_for_gui() is None
    monkeypatch.setenv(runtime.TORCH_THREADS, "many")
    with pytest.raises(ValueError, match="NAPARI_CEBRA_TORCH_THREADS='many'"):
        runtime.torch_threads_for_gui()
    monkeypatch.delenv(runtime.TORCH_THREADS)
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 8)
    assert runtime.torch_threads_for_gui() == 7
