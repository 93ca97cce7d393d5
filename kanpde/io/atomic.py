"""Atomic file writes: readers see the old file or the whole new one, never half of it.

Every writer in :mod:`kanpde.io` (HDF5, XDMF, meshio exports, checkpoints) goes through :func:`atomic_path`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "check_writable"]


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


def _created_temporary(target: Path, suffix: str) -> Path:
    """An empty new file beside ``target`` (parents created); OSError naming ``target`` when that fails."""
    if target.is_dir():
        raise IsADirectoryError(f"cannot write {target}: it is a directory; give a file name such as {target / 'u.h5'}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _creation_error(err, target) from err
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp{suffix}")
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
