"""The shared widget plumbing: the job runner, the registry, the layer combo boxes."""

import time

import numpy as np
import pytest
from qtpy.QtWidgets import QComboBox, QWidget

from napari_cebra.gui import jobs, registry
from napari_cebra.gui.combos import follow_layers, refill, refill_layers
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


def test_refill_keeps_the_choice_by_identity_then_by_name_then_prefers(qtbot):
    box = QComboBox()
    refill(box, ["a", "b", "c"], keys=[1, 2, 3])
    box.setCurrentIndex(1)
    assert refill(box, ["a", "renamed b"], keys=[1, 2]) is True  # same key, new name
    assert box.currentText() == "renamed b"
    plain = QComboBox()
    refill(plain, ["x", "y"])
    plain.setCurrentText("y")
    assert refill(plain, ["w", "y"]) is False and plain.currentText() == "y"
    assert refill(plain, ["p", "q"], prefer="q") is True and plain.currentText() == "q"
    assert refill(plain, ["m", "n"]) is True and plain.currentText() == "m"


def test_layer_combos_follow_adds_removals_and_renames(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    first = viewer.add_image(np.zeros((3, 4, 4)), name="first")
    second = viewer.add_image(np.zeros((3, 4, 4)), name="second")
    box, events = QComboBox(), []

    class Follower:  # napari holds a bound method weakly, as it does a widget's
        def refresh(self, event=None):
            events.append(getattr(event, "type", None))
            refill_layers(box, list(viewer.layers))

    follower = Follower()
    follow_layers(viewer, follower.refresh)
    follower.refresh()
    box.setCurrentText("second")
    second.name = "second, renamed"
    assert box.currentText() == "second, renamed"  # still the same layer
    viewer.layers.remove(first)
    viewer.add_image(np.zeros((3, 4, 4)), name="third")
    assert [box.itemText(i) for i in range(box.count())] == ["second, renamed", "third"]
    assert box.currentText() == "second, renamed"
    assert events == [None, "renamed", "removed", "inserted"]
