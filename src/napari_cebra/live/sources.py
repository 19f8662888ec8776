"""Where live frames come from.

- :class:`Replay`: a recording (array, memory-mapped ``.npy``, lazy TIFF stack, napari layer
  data) replayed at its frame rate or as fast as possible;
- :class:`FollowTiff`: a TIFF file, or a folder of TIFF files, followed while an acquisition
  program writes it — each page is handed on once it is complete;
- :class:`FrameQueue`: acquisition software hands frames in with ``put(frame)`` from its own
  thread.

Each is an iterable of frames with ``dropped`` (frames skipped because decoding could not keep
up) and ``end_message`` (why it ended). :func:`open_source` picks one for a path.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

TIFF_SUFFIXES = (".tif", ".tiff")


class Source:
    """Base: an iterable of frames that counts what it dropped and says why it ended.

    ``position`` is the source's own number of the frame last handed on; ``frame_shape``
    the shape of every frame when it is known before streaming (``None`` otherwise);
    :meth:`take_skipped` hands over the frames the source could not read, with why.
    """

    dropped = 0
    end_message = ""
    position = -1
    frame_shape: tuple[int, ...] | None = None
    failed = False  # True when the stream ended because the source never worked
    name = "the source"  # for messages: the file or folder, when there is one

    def take_skipped(self) -> list[tuple[int, str]]:
        """(frame number, why) of frames the source could not read since the last call."""
        skipped, self._skipped = list(getattr(self, "_skipped", [])), []
        return skipped

    def __iter__(self) -> Iterator[np.ndarray]:  # pragma: no cover - overridden
        raise NotImplementedError


class Replay(Source):
    """The frames of a (T, …) array-like in order. With ``fs`` each frame is handed on when it
    is due (``t0 + i / fs``); a frame whose successor is already due is dropped (counted), so a
    decoder that cannot keep up falls behind by at most one frame. Without ``fs``: as fast as
    the consumer takes them."""

    def __init__(self, stack, fs: float | None = None,
                 stop: Callable[[], bool] | None = None) -> None:
        if not hasattr(stack, "shape") or len(stack.shape) < 2:
            raise ValueError("a replayed recording must be (time, neurons) traces or a "
                             "(time, y, x) stack.")
        if fs is not None and not fs > 0:
            raise ValueError(f"frame rate {fs!r} must be positive (or None: as fast as possible).")
        self.stack, self.fs, self.stop = stack, fs, stop
        self.n_frames = int(stack.shape[0])
        self.frame_shape = tuple(int(n) for n in stack.shape[1:])
        self.dropped = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        t0 = time.perf_counter()
        i = 0
        while i < self.n_frames:
            if self.stop is not None and self.stop():
                self.end_message = f"stopped after {i} of {self.n_frames} frames."
                return
            if self.fs:
                now = time.perf_counter() - t0
                due = int(now * self.fs)  # the newest frame that is due
                if due > i:  # late: skip to the newest due frame
                    skip = min(due, self.n_frames - 1) - i
                    self.dropped += skip
                    i += skip
                wait = i / self.fs - now
                if wait > 0:
                    time.sleep(wait)
            frame = self.stack[i]
            self.position = i
            yield np.asarray(frame.compute() if hasattr(frame, "compute") else frame)
            i += 1
        self.end_message = f"the recording ended after {self.n_frames} frames."


def _tiff_files(folder: Path) -> list[Path]:
    from napari_cebra.imaging.stacks import natural_key

    files = [p for p in folder.iterdir() if p.suffix.lower() in TIFF_SUFFIXES and p.is_file()]
    return sorted(files, key=natural_key)


class FollowTiff(Source):
    """Pages of a growing TIFF file, or of the TIFF files of a folder in natural order, as an
    acquisition program writes them.

    The file is re-read every ``poll_s``. A page is handed on once it is complete: a later
    page or file exists, or the file has not changed size since the previous poll. Ends after
    ``idle_s`` without a new page (the acquisition stopped), or when ``stop()`` is true.
    """

    def __init__(self, path: str | Path, *, poll_s: float = 0.02, idle_s: float = 5.0,
                 stop: Callable[[], bool] | None = None) -> None:
        self.path = Path(path)
        if not self.path.exists() and not self.path.parent.is_dir():
            raise FileNotFoundError(f"{self.path}: neither the file nor its folder exists.")
        self.poll_s, self.idle_s, self.stop = poll_s, idle_s, stop
        self.dropped = 0
        self.frames = 0  # frames numbered so far (handed on, or skipped in a damaged file)
        self._skipped: list[tuple[int, str]] = []
        self.damaged: list[str] = []  # one line per damaged file: which frames it held
        self._good_sizes: dict[int, int] = {}  # bytes → frames of the chunks read whole

    def _files(self) -> list[Path]:
        if self.path.is_dir():
            return _tiff_files(self.path)
        return [self.path] if self.path.exists() else []

    def _skip_damaged(self, file: Path, pages_done: int, held: int | None, per_page: int,
                      why: str) -> None:
        """A finished file (a later one exists) whose pages cannot all be read: name it and
        the frames it held, and number the next file's frames after them."""
        first = self.frames
        try:
            same = self._good_sizes.get(file.stat().st_size)  # a twin of a good chunk
        except OSError:
            same = None
        if held is None and same is not None and pages_done == 0:
            held, per_page = same, 1
            why += f"; it has the size of a chunk of {same} frames"
        if held is not None and held > pages_done:
            count = (held - pages_done) * per_page
            self.frames += count
            span = f"frames {first}–{first + count - 1}" if count > 1 else f"frame {first}"
            line = (f"{file} is damaged or truncated ({why}): {span} (its pages "
                    f"{pages_done + 1}–{held}) could not be read and were skipped.")
            self._skipped += [(first + k, f"{file.name} is damaged") for k in range(count)]
        else:
            line = (f"{file} is damaged or truncated ({why}): {pages_done} of its pages were "
                    f"read; how many frames it held after frame {first - 1} cannot be read, "
                    f"so frames after it are numbered from {first}.")
        self.damaged.append(line)

    def take_damaged(self) -> list[str]:
        """One line per damaged file found since the last call."""
        lines, self._damaged_seen = self.damaged[getattr(self, "_damaged_seen", 0):], len(
            self.damaged)
        return lines

    def __iter__(self) -> Iterator[np.ndarray]:
        import tifffile

        current, pages_done = 0, 0
        sizes: dict[Path, int] = {}
        last_new = time.monotonic()
        while True:
            if self.stop is not None and self.stop():
                self.end_message = f"stopped after {self.frames} frames."
                return
            files = self._files()
            progressed = False
            while current < len(files):
                file, later_file = files[current], current + 1 < len(files)
                try:
                    size = file.stat().st_size
                except OSError:
                    break
                stable, sizes[file] = sizes.get(file) == size, size
                n_pages, declared, per_page, failure = None, None, 1, None
                warned = _TiffWarnings()
                try:
                    with warned, tifffile.TiffFile(file) as tif:
                        n_pages = len(tif.pages)
                        declared = _declared_pages(tif)
                        usable = n_pages if (stable or later_file) else n_pages - 1
                        for i in range(pages_done, usable):
                            data = tif.pages[i].asarray()
                            pages_done, progressed = i + 1, True
                            frames = data.reshape(-1, *data.shape[-2:])
                            per_page = len(frames)
                            for frame in frames:
                                self.position = self.frames
                                self.frames += 1
                                yield frame
                except GeneratorExit:
                    raise
                except Exception as err:  # noqa: BLE001 - a page being written: read it next poll
                    failure = err
                    if not later_file:
                        break
                if later_file and (n_pages is None or pages_done < (declared or n_pages)
                                   or failure is not None or warned.lines):
                    why = (f"{type(failure).__name__}: {(str(failure).splitlines() or [''])[0]}"
                           if failure is not None else (warned.lines or ["pages missing"])[0])
                    held = declared if declared is not None else (
                        n_pages if failure is not None and not warned.lines else None)
                    self._skip_damaged(file, pages_done, held, per_page, why)
                    current, pages_done = current + 1, 0
                    continue
                if later_file and pages_done >= n_pages:
                    self._good_sizes[size] = n_pages * per_page
                    current, pages_done = current + 1, 0  # this file is finished
                    continue
                break
            if progressed:
                last_new = time.monotonic()
            elif time.monotonic() - last_new > self.idle_s:
                if not self.path.exists():
                    self.failed = True
                    self.end_message = (f"{self.path} never appeared in {self.idle_s:g} s; "
                                        "check the path (and that the acquisition writes "
                                        "there), or wait longer with --idle-s.")
                else:
                    self.end_message = (f"no new frame in {self.path} for {self.idle_s:g} s; "
                                        f"the acquisition seems to have stopped after "
                                        f"{self.frames} frames.")
                return
            time.sleep(self.poll_s)


def _declared_pages(tif) -> int | None:
    """Pages an ImageJ / tifffile TIFF says it holds (``None`` when it does not say)."""
    try:
        images = (tif.imagej_metadata or {}).get("images")
        if images is not None:
            return int(images)
        shaped = tif.shaped_metadata
        if shaped and shaped[0].get("shape") and len(shaped[0]["shape"]) > 2:
            return int(np.prod(shaped[0]["shape"][:-2]))
    except Exception:  # noqa: BLE001 - unreadable metadata: it says nothing
        return None
    return None


_DAMAGE_WORDS = ("invalid", "truncat", "corrupt", "offset", "eof", "not a tiff", "damaged")


class _TiffWarnings:
    """Collects (and keeps off the log) tifffile's warnings about a damaged file: they are
    ours to report, once, in our words."""

    def __enter__(self):
        import logging

        outer = self

        class _Collect(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                line = (record.getMessage().splitlines() or [""])[0]
                if any(w in line.lower() for w in _DAMAGE_WORDS):
                    outer.lines.append(line)

        self.lines: list[str] = []
        self.logger = logging.getLogger("tifffile")
        self.handler, self.propagate = _Collect(logging.WARNING), self.logger.propagate
        self.logger.addHandler(self.handler)
        self.logger.propagate = False
        return self

    def __exit__(self, *exc) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.propagate = self.propagate


class FrameQueue(Source):
    """Frames handed in by acquisition software: ``put(frame)`` from any thread, ``close()``
    at the end. When the decoder falls ``maxsize`` frames behind, the oldest waiting frame is
    dropped (counted). Iteration ends at ``close()`` or after ``idle_s`` without a frame."""

    def __init__(self, maxsize: int = 64, idle_s: float | None = None) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, int(maxsize)))
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.idle_s = idle_s
        self.dropped = 0

    def put(self, frame: np.ndarray) -> None:
        """Hand in one frame (never blocks)."""
        if self._closed.is_set():
            raise RuntimeError("this frame queue is closed; open a new one for a new stream.")
        with self._lock:
            while True:
                try:
                    self._queue.put_nowait(np.asarray(frame))
                    return
                except queue.Full:
                    try:
                        self._queue.get_nowait()
                        self.dropped += 1
                    except queue.Empty:
                        pass

    def close(self) -> None:
        """No more frames: the stream ends after those already handed in."""
        self._closed.set()

    def __iter__(self) -> Iterator[np.ndarray]:
        idle = 0.0
        while True:
            try:
                frame = self._queue.get(timeout=0.05)
            except queue.Empty:
                if self._closed.is_set():
                    self.end_message = "the frame queue was closed."
                    return
                idle += 0.05
                if self.idle_s is not None and idle >= self.idle_s:
                    self.end_message = f"no frame handed in for {self.idle_s:g} s."
                    return
                continue
            idle = 0.0
            yield frame


def open_source(source, *, fs: float | None = None, follow: bool = False, idle_s: float = 5.0,
                stop: Callable[[], bool] | None = None) -> Source:
    """A source for an array, a ``.npy`` file (traces or a stack), a TIFF stack or a folder.

    ``follow`` (or a folder) watches a file or folder that is still being written;
    otherwise the recording is replayed, at ``fs`` Hz when given, else as fast as possible.
    """
    if not isinstance(source, (str, Path)):
        return Replay(source, fs=fs, stop=stop)
    path = Path(source)
    opened = _open_path(path, fs=fs, follow=follow, idle_s=idle_s, stop=stop)
    opened.name = str(path)
    return opened


def _open_path(path: Path, *, fs, follow, idle_s, stop) -> Source:
    if follow or path.is_dir():
        return FollowTiff(path, idle_s=idle_s, stop=stop)
    if not path.exists():
        raise FileNotFoundError(f"source {path} does not exist.")
    if path.suffix.lower() == ".npy":
        from napari_cebra.imaging.safe_npy import check_npy_size

        check_npy_size(path)  # the header's shape against the file's bytes
        try:
            data = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as err:
            raise ValueError(f"{path} is not a plain numeric .npy array ({err}).") from err
        return Replay(data, fs=fs, stop=stop)
    if path.suffix.lower() in TIFF_SUFFIXES:
        from napari_cebra.imaging.stacks import open_stack

        return Replay(open_stack(path), fs=fs, stop=stop)
    raise ValueError(f"source {path}: use a .npy array, a TIFF stack or a folder of TIFFs.")
