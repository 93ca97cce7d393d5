"""Checks of data read from files (checkpoint payloads, problem recipes): each names the field and what it expects.

Every function returns the checked value or raises ``ValueError("FIELD must be EXPECTED, got VALUE")``.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

__all__ = ["MAX_INT", "fail", "exact_keys", "integer", "number", "boolean", "string"]

MAX_INT = 2**63 - 1
"""Largest integer accepted (torch and numpy take 64-bit integers)."""


def fail(where: str, expected: str, got: object) -> ValueError:
    """The error for field ``where``, which should be ``expected`` but is ``got`` (shown shortened)."""
    shown = repr(got) if len(repr(got)) <= 80 else repr(got)[:80] + "..."
    return ValueError(f"{where} must be {expected}, got {shown}")


def exact_keys(data: object, where: str, keys: Collection[str]) -> dict[str, Any]:
    """``data`` when it is a dict with exactly ``keys``."""
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise fail(where, f"a dict with the keys {sorted(keys)}", data)
    if set(data) != set(keys):
        missing, unexpected = sorted(set(keys) - set(data)), sorted(set(data) - set(keys))
        raise ValueError(
            f"{where} has the wrong keys (missing: {missing or 'none'}; unexpected: {unexpected or 'none'})"
        )
    return data


def integer(value: object, where: str, low: int = 0, high: int = MAX_INT, *, optional: bool = False) -> Any:
    """An ``int`` (not ``bool``) in ``[low, high]``, or None when ``optional``."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise fail(where, f"an integer from {low} to {high}" + (" or None" if optional else ""), value)
    return value


def number(value: object, where: str, *, optional: bool = False, finite: bool = True) -> Any:
    """A real number as ``float`` (finite unless ``finite=False``), or None when ``optional``."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (finite and not math.isfinite(value)):
        raise fail(where, ("a finite number" if finite else "a number") + (" or None" if optional else ""), value)
    return float(value)


def boolean(value: object, where: str) -> bool:
    """``True`` or ``False``."""
    if not isinstance(value, bool):
        raise fail(where, "True or False", value)
    return value


def string(value: object, where: str, choices: Collection[str] | None = None, *, max_length: int = 10_000) -> str:
    """A string of at most ``max_length`` characters, one of ``choices`` when given."""
    if not isinstance(value, str) or len(value) > max_length or (choices is not None and value not in choices):
        expected = (
            f"one of {sorted(choices)}" if choices is not None else f"a string of at most {max_length} characters"
        )
        raise fail(where, expected, value)
    return value
