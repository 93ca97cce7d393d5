"""Names a package exports but imports on first use (PEP 562 module ``__getattr__``), so heavy modules load late."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, where: Mapping[str, str], namespace: dict[str, Any], *, also: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a module whose names ``where`` are imported on first use.

    Args:
        package: the module's ``__name__`` (relative module paths are resolved against its package).
        where: exported name -> the module that defines it, relative to the package (``".shapes"``; the leading
            dot may be left out: ``"pde.solver"``).
        namespace: the module's ``globals()``; a name, once imported, is stored there so later lookups are plain.
        also: names the module defines itself, listed by ``__dir__`` too.

    Returns:
        ``(__getattr__, __dir__)``, to be bound at module level (a package's ``__dir__`` lists its exports;
        a plain module may keep the default ``__dir__``).
    """
    anchor = package if namespace.get("__path__") is not None else package.rpartition(".")[0]

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        target = where[name]
        module = importlib.import_module(target if target.startswith(".") else f".{target}", anchor)
        value = getattr(module, name)
        namespace[name] = value
        return value

    names = sorted({*also, *where})

    def __dir__() -> list[str]:
        return list(names)

    return __getattr__, __dir__
