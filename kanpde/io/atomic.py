"""Atomic file writes: readers see the old file or the whole new one, never half of it.

Every writer in :mod:`kanpde.io` (HDF5, XDMF, meshio exports, checkpoints) goes through :func:`atomic_path`.
A process killed during a write leaves its temporary file behind; the next write to the same file removes it
(:func:`remove_stale_temporaries`). Temporary names keep at most 64 characters of the file's name, so that a long
name (up to the usual 255-byte limit) still leaves room for the rest.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "check_writable", "remove_stale_temporaries"]


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(path: Path) -> None:
    try:  # makes the rename durable; directories cannot be opened like this on every platform (Windows)
        _fsync_path(path)
    except OSError:
        pass


def _creation_error(err: OSError, target: Path) -> OSError:
    """The same kind of error, naming the file the user asked for rather than the temporary one."""
    message = f"cannot write {target}: {err.strerror or err}"
    return type(err)(err.errno, message, str(target)) if err.errno is not None else type(err)(message)


_NAME_PART = 64  # characters of the target's name kept in a temporary name (file names are limited to 255 bytes)
STALE_SECONDS = 60.0
"""A temporary file of a process that no longer runs, untouched for this long, is removed by the next write."""


def _temporary_prefix(target: Path) -> str:
    return f".{target.name[:_NAME_PART]}."


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):  # another user's process (alive), or no way to tell
        return True
    return True


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove temporary files of writes to ``target`` whose process was killed (see :data:`STALE_SECONDS`).

    Temporary names are ``.NAME.PID.TOKEN.tmpSUFFIX``; one is stale when no process ``PID`` runs here and it was
    not modified for :data:`STALE_SECONDS` (a write in progress on another machine sharing the folder keeps
    touching its file). Returns the removed paths.
    """
    removed: list[Path] = []
    prefix = _temporary_prefix(target)
    try:
        candidates = list(target.parent.glob(f"{glob.escape(prefix)}*.tmp*"))
    except OSError:
        return removed
    now = time.time()
    for path in candidates:
        middle = path.name[len(prefix) :].split(".")
        if len(middle) < 3 or not middle[0].isdigit() or not middle[2].startswith("tmp"):
            continue
        try:
            stale = not _process_exists(int(middle[0])) and now - path.stat().st_mtime > STALE_SECONDS
            if stale and path.is_file():
                path.unlink()
                removed.append(path)
        except OSError:  # gone meanwhile, or not ours to remove
            continue
    return removed


def _check_parents(target: Path) -> None:
    """NotADirectoryError naming the regular file that stands where a parent folder of ``target`` should be."""
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(
                    f"cannot write {target}: {parent} is a file, not a folder; choose another location"
                )
            return


def _created_temporary(target: Path, suffix: str) -> Path:
    """An empty new file beside ``target`` (parents created); OSError naming ``target`` when that fails."""
    if target.name in ("", ".", "..") or target.is_dir():
        raise IsADirectoryError(f"cannot write {target}: it is a directory; give a file name such as {target / 'u.h5'}")
    _check_parents(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _creation_error(err, target) from err
    remove_stale_temporaries(target)
    temporary = target.with_name(f"{_temporary_prefix(target)}{os.getpid()}.{secrets.token_hex(4)}.tmp{suffix}")
    try:
        # Mode "x" creates a new file with the umask's permissions (unlike mkstemp's 0600).
        with open(temporary, "xb"):
            pass
    except OSError as err:
        raise _creation_error(err, target) from err
    return temporary


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Fail now, before any expensive work, if :func:`atomic_path` could not write ``path``.

    Creates the missing parent folders (as writing would) and a temporary file beside ``path``, which it removes;
    ``path`` itself is not touched.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        IsADirectoryError: ``path`` is a directory.
        PermissionError, OSError: the folder cannot be created or written (the message names ``path``).
    """
    target = Path(path)
    _created_temporary(target, "").unlink()
    return target


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, suffix: str = "") -> Iterator[Path]:
    """A temporary file beside ``path`` to write to; renamed over ``path`` when the block ends without error.

    Missing parent folders are created. The temporary file is created (empty) before the block runs, in the same
    folder (so the final ``os.replace`` is atomic), flushed to disk with ``fsync`` before the rename, and removed
    when anything in the block raises (``path`` then keeps its old content, or stays absent).

    Args:
        path: the file to write.
        suffix: appended to the temporary name, for writers that choose a format by the file name.

    Yields:
        The temporary path; write the whole file there (by name, or ``open(tmp, "wb")``).

    Raises:
        PermissionError, OSError: the folder cannot be created or written (the message names ``path``).

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "out" / "a.txt"
        >>> with atomic_path(target) as tmp:
        ...     _ = tmp.write_text("hello")
        >>> target.read_text()
        'hello'
    """
    target = Path(path)
    temporary = _created_temporary(target, suffix)
    try:
        yield temporary
        _fsync_path(temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)
