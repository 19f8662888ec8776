"""Third-party chatter kept off the user's terminal, one place for it.

suite2p prints and logs every stage ("binary output path: …", timings, tqdm bars) and cellpose
logs a notice at import ("Could not import CPDINO, run pip install git+…"). None of it is ours
to show: :func:`quietly` captures what a block prints to ``sys.stdout``/``sys.stderr`` *in the
calling thread* and what the named third-party loggers log (any thread), and hands every line
to the ``napari_cebra.third_party`` logger at DEBUG level. Errors still show: an exception
leaves the block unchanged, with the last captured lines logged at WARNING first, and records
at ERROR or above still reach the terminal. Python ``warnings`` are not touched.

``--verbose`` on the command line (:func:`set_verbose`) or ``NAPARI_CEBRA_VERBOSE=1`` turns it
off: everything is shown as the third party wrote it.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from types import ModuleType

VERBOSE_ENV = "NAPARI_CEBRA_VERBOSE"
THIRD_PARTY = ("suite2p", "cellpose")  # loggers whose records are captured
log = logging.getLogger("napari_cebra.third_party")

_verbose: bool | None = None
_lock = threading.RLock()
_buffers: dict[int, list[io.StringIO]] = {}  # thread id → the capture buffers open there
_depth = 0  # open captures, all threads together
_saved: dict[str, tuple[bool, list[logging.Handler]]] = {}


def set_verbose(on: bool) -> None:
    """Show third-party output as it comes (``True``) or capture it (``False``)."""
    global _verbose
    _verbose = bool(on)


def verbose() -> bool:
    if _verbose is not None:
        return _verbose
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


class _ThreadRouter(io.TextIOBase):
    """Stands in for ``sys.stdout``/``sys.stderr``: writes of a capturing thread go to its
    buffer, every other thread's to the real stream."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        buffers = _buffers.get(threading.get_ident())
        if buffers:
            return buffers[-1].write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        with contextlib.suppress(Exception):
            self.stream.flush()

    def isatty(self) -> bool:
        return False  # tqdm and friends: no live bars into a capture

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self):  # noqa: D401 - mirrors the stream's
        return getattr(self.stream, "encoding", "utf-8")


class _Capture(logging.Handler):
    """Third-party records: below ERROR into the current capture, ERROR and up passed on."""

    def __init__(self, buffer: io.StringIO):
        super().__init__(logging.NOTSET)
        self.buffer = buffer

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            logging.getLogger("napari_cebra").handle(record)
        else:
            self.buffer.write(f"{record.name}: {record.getMessage()}\n")


def _open(buffer: io.StringIO, loggers: Sequence[str]) -> None:
    global _depth
    with _lock:
        if _depth == 0:
            sys.stdout, sys.stderr = _ThreadRouter(sys.stdout), _ThreadRouter(sys.stderr)
            handler = _Capture(buffer)
            for name in loggers:
                lg = logging.getLogger(name)
                _saved[name] = (lg.propagate, [h for h in lg.handlers
                                               if isinstance(h, logging.StreamHandler)])
                for h in _saved[name][1]:  # a library's own console handler
                    lg.removeHandler(h)
                lg.propagate = False
                lg.addHandler(handler)
        _depth += 1
        _buffers.setdefault(threading.get_ident(), []).append(buffer)


def _close(buffer: io.StringIO) -> None:
    global _depth
    with _lock:
        stack = _buffers.get(threading.get_ident(), [])
        if buffer in stack:
            stack.remove(buffer)
        if not stack:
            _buffers.pop(threading.get_ident(), None)
        _depth -= 1
        if _depth == 0:
            for name, (propagate, handlers) in _saved.items():
                lg = logging.getLogger(name)
                for h in [h for h in lg.handlers if isinstance(h, _Capture)]:
                    lg.removeHandler(h)
                for h in handlers:
                    lg.addHandler(h)
                lg.propagate = propagate
            _saved.clear()
            for attr in ("stdout", "stderr"):
                stream = getattr(sys, attr)
                if isinstance(stream, _ThreadRouter):
                    setattr(sys, attr, stream.stream)


@contextlib.contextmanager
def quietly(what: str, loggers: Sequence[str] = THIRD_PARTY,
            expected: tuple[type[BaseException], ...] = ()) -> Iterator[io.StringIO]:
    """Run the block with ``what``'s (a third party's) output captured; see the module notes.

    Yields the buffer the captured text goes to (empty when verbose). An exception of an
    ``expected`` type (a cancel, say) passes without the captured lines being shown.
    """
    buffer = io.StringIO()
    if verbose():
        yield buffer
        return
    _open(buffer, loggers)
    try:
        yield buffer
    except BaseException as err:
        tail = buffer.getvalue().strip().splitlines()[-20:]
        if tail and not isinstance(err, expected):
            log.warning("%s said before it failed:\n  %s", what, "\n  ".join(tail))
        raise
    finally:
        _close(buffer)
        for line in buffer.getvalue().splitlines():
            if line.strip():
                log.debug("%s: %s", what, line.rstrip())


def import_quietly(name: str) -> ModuleType:
    """``import name`` with its import-time notices captured (see :func:`quietly`)."""
    if name in sys.modules:
        return sys.modules[name]
    with quietly(f"import {name}"):
        return importlib.import_module(name)
