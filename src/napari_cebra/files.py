"""Files we write appear whole or not at all, and never replace a user's file by accident.

Every writer in napari-cebra goes through this module:

- :func:`check_target` says, before any work starts, whether a path can be written (its folder
  exists and is writable, the path is not a folder, and it is absent unless ``overwrite``).
  The command line calls it for every output before it loads data or trains.
- :func:`atomic_write` (an open file) and :func:`atomic_path` (a temporary path, for libraries
  that write by name: h5py, torch.save) write into a fresh hidden file in the target's folder
  — created with ``O_EXCL``, so a link planted there is never followed — flush and fsync it,
  then move it into place. Without ``overwrite`` the move is a hard link, which fails if the
  target appeared meanwhile, so a file that exists is never replaced. On any error, Ctrl-C
  included, the temporary file is removed and no target appears.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

PathLike = str | os.PathLike
log = logging.getLogger(__name__)


def check_target(path: PathLike, *, overwrite: bool = False, what: str = "output") -> Path:
    """Raise a clear error unless ``path`` can be written now; return it as a ``Path``."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise IsADirectoryError(f"{what} {path} is a folder; give a file name inside it.")
    if not parent.is_dir():
        raise FileNotFoundError(
            f"the folder of {what} {path} does not exist; create {parent} first or choose "
            "another location."
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {what} {path}: the folder {parent} is not writable.")
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(
            f"{what} {path} already exists; choose another file name (or allow overwriting)."
        )
    return path


def _umask() -> int:
    """The process's umask, read without changing it (``os.umask`` sets it, racing threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _temporary(path: Path) -> Path:
    """A new, empty, hidden file beside ``path`` (same suffix, so libraries keep the name).

    ``mkstemp`` makes it private (0600); it gets the permissions a plain ``open`` would give
    (0666 less the umask), or those of the file it replaces, so colleagues can read results.
    """
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".partial{path.suffix}",
                                dir=path.parent if str(path.parent) else ".")
    try:
        try:
            mode = path.stat().st_mode & 0o777 if path.is_file() else 0o666 & ~_umask()
        except OSError:
            mode = 0o666 & ~_umask()
        with contextlib.suppress(OSError):  # e.g. a file system without POSIX modes
            os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return Path(name)


def _publish(tmp: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)  # replaces a link at ``path`` itself, never what it points to
    else:
        try:
            os.link(tmp, path)  # atomic "create if absent": fails if anything is at ``path``
        except FileExistsError:
            raise FileExistsError(
                f"{path} appeared while it was being written; nothing was replaced. "
                "Choose another file name."
            ) from None
        except OSError:  # a file system without hard links: check, then rename
            if os.path.lexists(path):
                raise FileExistsError(f"{path} already exists; choose another file name.") from None
            os.replace(tmp, path)
            return
        tmp.unlink()
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can fsync a folder
        fd = os.open(folder if str(folder) else ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: PathLike, *, overwrite: bool = False, what: str = "output"
                ) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s content to; publish it whole on success.

    The writer must close the file before the block ends; it is fsynced here.
    """
    path = check_target(path, overwrite=overwrite, what=what)
    tmp = _temporary(path)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        _publish(tmp, path, overwrite)
        log.debug("wrote %s", path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "w", *, overwrite: bool = False,
                 what: str = "output", **open_kwargs: Any) -> Iterator[IO]:
    """``open(path, mode)`` that publishes the file whole on success and leaves nothing on error.

    ``mode`` is ``"w"`` or ``"wb"``; ``open_kwargs`` go to :func:`open` (``newline``,
    ``encoding``).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes new files: mode {mode!r} must be 'w' or 'wb'.")
    if "b" not in mode:
        open_kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path, overwrite=overwrite, what=what) as tmp, open(tmp, mode,
                                                                          **open_kwargs) as fh:
        yield fh


def write_text(path: PathLike, text: str, *, overwrite: bool = False,
               what: str = "output") -> Path:
    """Write ``text`` to ``path`` whole or not at all."""
    with atomic_write(path, "w", overwrite=overwrite, what=what) as fh:
        fh.write(text)
    return Path(path)


def write_json(path: PathLike, data: Any, *, overwrite: bool = False,
               what: str = "output") -> Path:
    """Write ``data`` as indented JSON, whole or not at all (serialised before the file opens)."""
    return write_text(path, json.dumps(data, indent=2) + "\n", overwrite=overwrite, what=what)


def unreadable(path: PathLike, err: BaseException, what: str = "file") -> Exception:
    """One clear error for a file that cannot be read: who, what went wrong, what to do.

    Permission problems ("Permission denied", "Operation not permitted") become a
    ``PermissionError``; a truncated or damaged file a ``ValueError``. The library's own
    words are kept short, in brackets.
    """
    import errno

    detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
    code = getattr(err, "errno", None)
    if isinstance(err, PermissionError) or code in (errno.EACCES, errno.EPERM) or any(
            s in detail for s in ("Permission denied", "Operation not permitted")):
        return PermissionError(
            f"{path}: cannot read this {what}: permission denied by the system. Ask the "
            "file's owner for read access, or copy it to a folder of yours and open the copy.")
    if "truncated" in detail.lower() or "eof" in detail.lower():
        import re

        sizes = re.search(r"\beof = (\d+).*stored_eof = (\d+)", detail)
        held = (f"it has {int(sizes.group(1)):,} of the {int(sizes.group(2)):,} bytes it "
                "declares" if sizes else "it ends before the data it declares")
        return ValueError(
            f"{path}: the {what} is truncated ({held}). The copy or the recording was cut "
            "short: copy the file again.")
    return ValueError(f"{path}: cannot read this {what} ({type(err).__name__}: {detail}); the "
                      "file is damaged or of another kind — copy it again or re-export it.")
