"""A time limit for a block of Python code that works in any thread and on any OS (no SIGALRM).

Used by the symbolic tools (simplification may take unbounded time) and the expression parser (a backstop beside
its size limits).
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any, Literal

__all__ = ["Timeout", "time_limit"]


class Timeout(Exception):
    """Raised by :func:`time_limit` when the time is up."""


_SET_ASYNC_EXC = getattr(getattr(ctypes, "pythonapi", None), "PyThreadState_SetAsyncExc", None)


_THREAD_STATE = threading.local()


def _active_stack() -> list[time_limit]:
    """The limits active in the calling thread, outermost first."""
    if not hasattr(_THREAD_STATE, "stack"):
        _THREAD_STATE.stack = []
    return _THREAD_STATE.stack  # type: ignore[no-any-return]


class time_limit:  # noqa: N801 - used like a function: `with time_limit(5):`
    """Raise :class:`Timeout` in the calling thread when its ``with`` block runs longer than ``seconds``.

    A watchdog thread interrupts the block between two Python bytecodes (``PyThreadState_SetAsyncExc``), so the
    limit works in any thread, on any OS, beside other users of signals and alarms; a long call into C code is
    interrupted when it returns. A block that catches the :class:`Timeout` (sympy catches broadly in places)
    runs on and raises one when it ends. Limits nest, each with its own watchdog. ``seconds <= 0``, or a Python
    without ``ctypes.pythonapi`` (not CPython), sets no limit.

    Example:
        >>> with time_limit(5):
        ...     total = sum(range(10))
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self._lock = threading.Lock()
        self._active = self._fired = False
        self._watchdog: threading.Timer | None = None
        self._thread = ctypes.c_ulong(0)
        self._enclosing: list[time_limit] = []

    def _fire(self) -> None:
        with self._lock:
            if self._active:
                self._fired = True
                _SET_ASYNC_EXC(self._thread, ctypes.py_object(Timeout))  # type: ignore[misc]

    def _stop(self) -> None:
        with self._lock:
            self._active = False
        if self._fired:  # raised already, or still pending: a pending one must not escape the block
            _SET_ASYNC_EXC(self._thread, None)  # type: ignore[misc]

    @property
    def fired(self) -> bool:
        """Whether this limit (not an enclosing one) ran out."""
        return self._fired

    @property
    def enclosing_fired(self) -> bool:
        """Whether a limit around this one, in the same thread, ran out (its Timeout may have been swallowed)."""
        return any(limit.fired for limit in self._enclosing)

    def __enter__(self) -> time_limit:
        stack = _active_stack()
        self._enclosing = list(stack)
        try:
            stack.append(self)
            if self.seconds > 0 and _SET_ASYNC_EXC is not None:
                self._thread = ctypes.c_ulong(threading.get_ident())
                self._active = True
                self._watchdog = threading.Timer(self.seconds, self._fire)
                self._watchdog.daemon = True
                self._watchdog.start()
        except BaseException:  # an enclosing limit's Timeout landed mid-entry: no block runs, so no __exit__
            self._abandon(stack)
            raise
        return self

    def _abandon(self, stack: list[time_limit]) -> None:
        """Undo a partial entry: leave the stack and stop the watchdog, so that it never fires into later code."""
        with self._lock:
            self._active = False
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self in stack:
            stack.remove(self)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> Literal[False]:
        stack = _active_stack()
        if self in stack:
            stack.remove(self)
        if self._watchdog is None:
            return False
        try:
            self._stop()
        except Timeout:  # the pending one landed during the first stop: it is consumed now
            self._stop()
        self._watchdog.cancel()
        if kind is None and self._fired:  # the block caught our Timeout and ran on
            raise Timeout
        return False
