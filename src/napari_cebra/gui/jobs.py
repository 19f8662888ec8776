"""Running a core job from a widget: one worker lifecycle for every dock widget.

A job is a core generator that yields :class:`napari_cebra.progress.Progress` and returns its
result (training, extraction, decoding). :class:`JobRunner` runs it on a napari
``thread_worker`` with a progress bar in the Activity dock; events reach the widget in batches
(at most one batch per ``interval``, so fast jobs never flood the event loop); **Cancel** stops
at the next event, closes the generator off the UI thread (the job's own clean-up: training
discards the run, extraction removes its staging folder) and delivers no result; an error is
shown with ``show_error`` and the widget is ready again. The widget supplies its inputs, the
job and what to do with the result — a callback bound, when the job starts, to the layers it
was computed from.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from typing import Any

from napari.qt.threading import thread_worker
from napari.utils import progress
from napari.utils.notifications import show_error

UI_INTERVAL_S = 0.1  # events reach the UI thread at most this often


class JobRunner:
    """One job at a time for a widget: start, progress, cancel, result, error."""

    def __init__(self, *, on_busy: Callable[[bool], Any] | None = None,
                 status: Callable[[str], Any] | None = None,
                 interval: float = UI_INTERVAL_S) -> None:
        from napari_cebra.runtime import hide_triton

        hide_triton()  # before anything imports torch in this napari process (see runtime)
        self.on_busy = on_busy or (lambda busy: None)
        self.status = status or (lambda text: None)
        self.interval = interval
        self.worker = None
        self.pbar: progress | None = None
        self.cleanup: threading.Thread | None = None  # closes a cancelled job off the UI thread
        self._gen: Generator | None = None
        self._stop = threading.Event()
        self._cancelled = False
        self._handlers: dict[str, Callable] = {}

    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(self, gen: Generator, *, desc: str, on_result: Callable[[Any], Any],
              on_progress: Callable[[list], Any] | None = None,
              error: Callable[[BaseException], str] = lambda err: str(err),
              done_message: str = "") -> None:
        """Run ``gen`` on a worker; ``on_result(result)`` gets its return value unless cancelled.

        ``on_progress(batch)`` receives lists of events; ``error(err)`` turns a failure into
        the message shown to the user.
        """
        from napari_cebra.runtime import prepare_for_gui

        if self.running:
            raise RuntimeError("a job is already running; cancel it or wait.")
        prepare_for_gui()
        self._gen, self._cancelled = gen, False
        self._stop.clear()
        self._handlers = dict(on_result=on_result, on_progress=on_progress, error=error,
                              done=done_message)
        self.pbar = progress(total=1000, desc=desc)
        worker = _batches(gen, self._stop, self.interval)
        worker.yielded.connect(self._on_batch)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self.on_busy(True)
        worker.start()

    def cancel(self) -> None:
        """Stop at the next event; the job's result, if any, is dropped."""
        if self.worker is not None:
            self._cancelled = True
            self._stop.set()
            self.status("Cancelling…")
            self.worker.quit()

    def stop_when_closed(self) -> None:
        """For a widget being destroyed: let a running job end at its next event."""
        self._stop.set()

    # -- worker signals (UI thread) --------------------------------------------------------
    def _on_batch(self, batch: list) -> None:
        if self._cancelled or self.worker is None or not batch:
            return
        handler = self._handlers.get("on_progress")
        if handler is not None:
            handler(batch)
        pbar, last = self.pbar, batch[-1]  # updating the bar may process events that close it
        if pbar is not None:
            pbar.set_description(f"{pbar.desc.split(':')[0]}: {last.stage}")
            pbar.n = int(round(1000 * getattr(last, "fraction", 0.0)))
            pbar.update(0)

    def _on_returned(self, result: Any) -> None:
        if self._cancelled or result is None:
            return
        self._handlers["on_result"](result)

    def _on_errored(self, err: BaseException) -> None:
        if isinstance(err, _JobError):
            err = err.error
        text = self._handlers.get("error", str)(err)
        show_error(text)
        self.status(f"Failed: {text}")

    def _on_finished(self) -> None:
        gen, self._gen = self._gen, None
        if self._cancelled:
            if gen is not None:  # the job's own clean-up may wait (suite2p): not on the UI
                self.cleanup = threading.Thread(target=gen.close, name="job-cancel",
                                                daemon=True)
                self.cleanup.start()
            self.status(self._handlers.get("done") or "Cancelled; nothing was changed.")
        if self.pbar is not None:
            self.pbar.close()
            self.pbar = None
        self.worker = None
        self.on_busy(False)


class RunsJobs:
    """Mixin for a widget that keeps a :class:`JobRunner` as ``self.jobs``: the state that
    tests, scripts and other widgets read, and the Cancel button's action."""

    jobs: JobRunner

    @property
    def running(self) -> bool:
        return self.jobs.running

    @property
    def worker(self):
        return self.jobs.worker

    @property
    def pbar(self):
        return self.jobs.pbar

    @property
    def cleanup(self) -> threading.Thread | None:
        """The thread closing a cancelled job (suite2p, for one, stops at its next log line)."""
        return self.jobs.cleanup

    def cancel(self) -> None:
        """Stop at the next event; the viewer and the data stay as they were before the run."""
        self.jobs.cancel()


class _JobError(Exception):
    """Carries a job's ``RuntimeError`` to the UI thread: superqt's worker takes a
    ``RuntimeError`` for a deleted worker and swallows it (no error, no finished signal), which
    would leave the widget busy for ever."""

    def __init__(self, error: RuntimeError) -> None:
        super().__init__(str(error))
        self.error = error


@thread_worker(ignore_errors=True)
def _batches(gen: Generator, stop: threading.Event, interval: float):
    """Drain ``gen`` on the worker, yielding its events in lists at most every ``interval``.

    A new stage or a set ``stop`` flushes at once, so Cancel takes effect at the next event;
    the generator is then left suspended for the runner to close.
    """
    batch: list = []
    last, stage = time.monotonic(), None
    while True:
        try:
            event = next(gen)
        except StopIteration as done:
            if batch:
                yield batch
            return done.value
        except RuntimeError as err:  # torch's errors, out of GPU memory, TrainingError …
            raise _JobError(err) from err
        batch.append(event)
        new_stage, stage = event.stage != stage, event.stage
        if stop.is_set() or new_stage or time.monotonic() - last >= interval:
            yield batch
            batch, last = [], time.monotonic()
        if stop.is_set():  # not told to quit (the widget is gone): end here
            return None


def run_blocking_job(func: Callable[..., Any], *args: Any) -> Generator:
    """A job for work that reports no progress (e.g. embedding with a loaded model)."""
    from napari_cebra.progress import Progress

    yield Progress("working", 0, 1, getattr(func, "__name__", "working"))
    return func(*args)


def run_buttons(widget: Any, text: str) -> Any:
    """``widget.run_button`` (``text``, calls ``widget.start``) and ``widget.cancel_button``
    (calls ``widget.cancel``; enabled while a job runs), side by side in the returned layout."""
    from qtpy.QtWidgets import QHBoxLayout, QPushButton

    widget.run_button, widget.cancel_button = QPushButton(text), QPushButton("Cancel")
    widget.cancel_button.setEnabled(False)
    widget.run_button.clicked.connect(widget.start)
    widget.cancel_button.clicked.connect(widget.cancel)
    row = QHBoxLayout()
    row.addWidget(widget.run_button)
    row.addWidget(widget.cancel_button)
    return row
