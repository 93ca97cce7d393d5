"""A griffe extension for the API reference: adapt two Sphinx habits of kanpde's docstrings to Markdown.

- STYLE.md heads doctests ``Example:``; griffe's Google parser only knows ``Examples:``, and without it the doctests
  would render as Markdown prose. ``Example:`` and ``Example (a title):`` become ``Examples:`` (the title, if any,
  becomes the first line).
- Cross-references written as Sphinx roles (``:class:`~kanpde.pde.problem.Problem```, ``:meth:`refine```) would
  show the role name literally; they become inline code (``Problem``; the full path without ``~``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_HEADING = re.compile(r"^(?P<indent>[ \t]*)Example(?:\s*\((?P<title>[^)]*)\))?:[ \t]*$", re.MULTILINE)
_ROLE = re.compile(r":(?:class|meth|func|mod|attr|data|obj|exc|const):`(?P<tilde>~?)(?P<target>[^`]+)`")


def _heading(match: re.Match[str]) -> str:
    indent, title = match["indent"], match["title"]
    heading = f"{indent}Examples:"
    return heading if not title else f"{heading}\n{indent}    {title[0].upper()}{title[1:]}:\n"


def _role(match: re.Match[str]) -> str:
    target = match["target"]
    return f"`{target.rsplit('.', 1)[-1] if match['tilde'] else target}`"


class SphinxHabits(griffe.Extension):
    """Rewrite ``Example:`` sections and Sphinx cross-reference roles before the docstrings are parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        docstring = obj.docstring
        if docstring is None:
            return
        value = _HEADING.sub(_heading, docstring.value) if "Example" in docstring.value else docstring.value
        docstring.value = _ROLE.sub(_role, value) if ":`" in value else value
