"""Running the core's progress generators headless (scripts, CLI, tests)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar

R = TypeVar("R")


def drain(gen: Generator[Any, Any, R], on_progress: Callable[[Any], Any] | None = None) -> R:
    """Run a progress generator to the end, passing each event on; return its result."""
    while True:
        try:
            event = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_progress is not None:
            on_progress(event)
