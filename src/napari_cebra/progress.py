"""The one progress event of every long job, and the two ways to run such a job.

Long work in the core is a generator that yields :class:`Progress` and returns its result
(training, extraction, decoding). Scripts and the CLI run it with :func:`drain`; the GUI wraps
the same generator in a napari ``thread_worker``. :func:`fit_progress` turns the engine's
``CEBRA.fit_steps`` into such events, so no job re-wraps the training loop by hand.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

R = TypeVar("R")


@dataclass(frozen=True)
class Progress:
    """One event of a long job: ``step`` of ``total`` in ``stage``, with optional training
    figures (``loss`` and ``temperature`` are NaN outside training)."""

    stage: str
    step: int = 0
    total: int = 0
    message: str = ""
    loss: float = math.nan
    temperature: float = math.nan

    @property
    def fraction(self) -> float:
        """How much of this stage is done, 0–1 (0 when the total is unknown)."""
        return min(max(self.step / self.total, 0.0), 1.0) if self.total > 0 else 0.0


def drain(gen: Generator[Any, Any, R], on_progress: Callable[[Any], Any] | None = None) -> R:
    """Run a progress generator to the end, passing each event on; return its result.

    Whatever stops the run early (an error in ``on_progress``, Ctrl-C) closes the generator,
    so the job's own clean-up runs at once.
    """
    try:
        while True:
            try:
                event = next(gen)
            except StopIteration as stop:
                return stop.value
            if on_progress is not None:
                on_progress(event)
    finally:
        gen.close()


def fit_progress(steps: Iterator[Any], stage: str = "fit", every: int = 1
                 ) -> Generator[Progress, None, Any]:
    """Re-yield a ``CEBRA.fit_steps`` generator as :class:`Progress` events.

    Yields every ``every``-th step (and the last); returns what ``fit_steps`` returns (the
    fitted model). Closing this generator part-way closes ``steps``, which discards the run.
    """
    try:
        while True:
            try:
                step = next(steps)
            except StopIteration as stop:
                return stop.value
            total = int(step.max_iterations)
            if step.step % max(int(every), 1) == 0 or step.step == total:
                yield Progress(stage, int(step.step), total, f"{stage}: step {step.step}/{total}",
                               float(step.loss), float(step.temperature))
    finally:
        steps.close()
