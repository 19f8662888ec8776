"""The shared widget plumbing: the job runner, the registry, the layer combo boxes."""

import time

import numpy as np
import pytest
from qtpy.QtWidgets import QWidget

from napari_cebra.gui import jobs, registry
from napari_cebra.gui.forms import choose, layer_picker
from napari_cebra.progress import Progress


@pytest.fixture
def errors(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(jobs, "show_error", lambda msg: shown.append(str(msg)))
    return shown


def slow_job(n: int, log: list, fail_at: int | None = None, error: type = ValueError):
    """A job that records its clean-up, like training or extraction do."""
    try:
        for i in range(n):
            time.sleep(0.01)
            if i == fail_at:
                raise error("bad input at step 3")
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


# superqt's worker swallows a RuntimeError as if the worker had been deleted: the runner must
# still show it (torch's errors and TrainingError are RuntimeErrors).
@pytest.mark.parametrize("error", [ValueError, RuntimeError])
def test_an_error_is_shown_and_the_runner_is_ready_again(make_napari_viewer, qtbot, errors,
                                                         error):
    make_napari_viewer()
    runner, seen, busy = jobs.JobRunner(on_busy=lambda b: busy.append(b)), [], []
    runner.start(slow_job(10, [], fail_at=3, error=error), desc="test", on_result=lambda r: None,
                 error=lambda err: seen.append(err) or f"Job failed: {err}")
    qtbot.waitUntil(lambda: not runner.running, timeout=10_000)
    assert errors == ["Job failed: bad input at step 3"]
    assert type(seen[0]) is error and busy == [True, False]  # the job's own exception
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


def test_layer_pickers_follow_adds_removals_and_renames(make_napari_viewer, qtbot):
    import napari

    viewer = make_napari_viewer()
    first = viewer.add_image(np.zeros((3, 4, 4)), name="first")
    second = viewer.add_image(np.zeros((3, 4, 4)), name="second")
    viewer.add_labels(np.zeros((4, 4), np.int32), name="labels")  # not an Image: not listed
    picker = layer_picker(viewer, napari.layers.Image, filter=lambda x: x.ndim == 3)
    assert [x.name for x in picker.choices] == ["first", "second"]
    choose(picker, "second")
    second.name = "second, renamed"
    assert picker.value is second and picker.native.currentText() == "second, renamed"
    viewer.layers.remove(first)
    viewer.add_image(np.zeros((3, 4, 4)), name="third")
    viewer.add_image(np.zeros((4, 4)), name="flat")  # 2-D: filtered out
    assert [x.name for x in picker.choices] == ["second, renamed", "third"]
    assert picker.value is second  # still the same layer
    viewer.layers.remove(second)
    assert picker.value.name == "third"
    with pytest.raises(ValueError, match="no layer 'gone'"):
        choose(picker, "gone")
