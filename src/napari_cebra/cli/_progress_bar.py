"""One progress bar for every subcommand: ``napari_cebra.progress.Progress`` events → tqdm.

On a terminal, a tqdm bar per stage (training steps, suite2p stages, decoding steps) with rate
and ETA on stderr. Elsewhere (a log file, a batch job) one line when a stage starts and one
when it ends, so logs stay short.
"""

from __future__ import annotations

import sys
from typing import Any


class ProgressBar:
    """Call it with each ``Progress`` event; use it as a context manager to close the bar."""

    def __init__(self, stream=None, quiet: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = (not self.stream.isatty()) if quiet is None else quiet
        self.bar = None
        self.last: Any = None  # the newest event of the current stage

    def __call__(self, event: Any) -> None:
        if self.last is None or event.stage != self.last.stage:
            self.close()
            self._start(event)
        self.last = event
        if self.bar is not None:
            self.bar.n = int(event.step or 0)
            if _finite(event.loss):
                self.bar.set_postfix(loss=f"{event.loss:.4f}", refresh=False)
            elif event.message:
                self.bar.set_postfix_str(str(event.message)[:60], refresh=False)
            self.bar.update(0)  # redraws at most every mininterval

    def _start(self, event: Any) -> None:
        if self.quiet:
            self._write(f"{event.stage}…")
            return
        from tqdm import tqdm

        self.bar = tqdm(total=int(event.total or 0) or None, desc=event.stage,
                        file=self.stream, dynamic_ncols=True, mininterval=0.1)

    def close(self, finished: bool = True) -> None:
        """End the current stage (a summary line when quiet and the stage ``finished``)."""
        e, self.last = self.last, None
        if self.bar is not None:
            self.bar.refresh()
            self.bar.close()
            self.bar = None
        elif e is not None and e.total and finished:
            loss = f" loss {e.loss:.4f}" if _finite(e.loss) else ""
            self._write(f"{e.stage}: {e.step}/{e.total}{loss}")

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(finished=exc_type is None)  # a stopped run ends with its one error line


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and value == value and abs(value) != float("inf")
