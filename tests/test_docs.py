"""The documentation stays true: the site builds with warnings as errors, its code runs, its figures are real.

- ``mkdocs build --strict`` (skipped when mkdocs is not installed);
- every ```` ```python ```` block of the docs pages runs, page by page in one namespace (in a temporary folder, so
  the files they write go there), and prints the numbers (in scientific notation) that the ```` ```text ````
  block after it shows; blocks fenced ```` ```py ```` are shown but not run (they need a GPU, torchrun or a
  feature that is not there yet); the README's blocks are run by tests/test_readme.py;
- every ``kanpde ...`` command of the getting-started page parses with the real command-line parser, and its
  install commands are the README's;
- every figure in docs/img is one the examples write (docs/make_figures.py) and is small; every image and docs
  link of the README exists.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if "```python" in p.read_text())
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
SHELL_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
ANY_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SCIENTIFIC = re.compile(r"[-+]?\d+(?:\.\d+)?e[-+]\d+")


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "OMP_NUM_THREADS": "1"},
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert (tmp_path / "site" / "api" / "kanpde" / "index.html").is_file()


def test_getting_started_is_run_here() -> None:
    assert "getting-started.md" in PAGES


def _blocks_with_output(text: str) -> list[tuple[str, str | None]]:
    """Each python block of a page with the ```` ```text ```` block that shows its output (None when none does):
    the first text block after it, before the next python block."""
    pairs: list[tuple[str, str | None]] = []
    for match in ANY_BLOCK.finditer(text):
        kind, body = match.group(1), match.group(2)
        if kind == "python":
            pairs.append((body, None))
        elif kind == "text" and pairs and pairs[-1][1] is None:
            pairs[-1] = (pairs[-1][0], body)
    return pairs


def _same_numbers(shown: str, printed: str) -> bool:
    """The numbers in scientific notation that the docs show equal the printed ones within a factor of 1.5 (what a
    change of BLAS or of the machine can move; a broken claim is off by far more); tiny values (< 1e-12) match
    any tiny value."""
    want = [float(v) for v in SCIENTIFIC.findall(shown)]
    got = [float(v) for v in SCIENTIFIC.findall(printed)]
    if len(want) != len(got):
        return False
    for a, b in zip(want, got):
        if abs(a) < 1e-12 and abs(b) < 1e-12:
            continue
        if a == 0 or b == 0 or (a > 0) != (b > 0) or not 1 / 1.5 <= a / b <= 1.5:
            return False
    return True


@pytest.mark.parametrize("page", PAGES)
def test_docs_python_blocks_run_and_print_what_the_docs_show(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = _blocks_with_output((DOCS / page).read_text())
    monkeypatch.chdir(tmp_path)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    namespace: dict[str, object] = {"__name__": f"docs_{page}"}
    checked = 0
    try:
        for index, (block, shown) in enumerate(blocks):
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(compile(block, f"docs/{page} python block {index}", "exec"), namespace)  # noqa: S102
            if shown is not None and SCIENTIFIC.search(shown):
                assert _same_numbers(shown, printed.getvalue()), (
                    f"docs/{page} python block {index} shows\n{shown}\nbut printed\n{printed.getvalue()}"
                )
                checked += 1
    finally:
        torch.set_num_threads(previous)
    if any(shown is not None and SCIENTIFIC.search(shown) for _, shown in blocks):
        assert checked > 0


def test_documented_output_is_compared_number_by_number() -> None:
    pairs = _blocks_with_output("```python\nprint(1)\n```\n\nOutput:\n\n```text\nerror 1.0e-03\n```\n")
    assert pairs == [("print(1)\n", "error 1.0e-03\n")]
    assert _same_numbers("error 1.0e-03, max 2.0e-18", "error 1.2e-03, max 0.0e+00")
    assert not _same_numbers("error 1.0e-05", "error 1.0e-03")  # a claim 100x too good
    assert not _same_numbers("error 1.0e-05", "error 1.0e-05, 3.0e-02")  # output the docs do not show


def test_getting_started_commands_parse() -> None:
    from kanpde.cli import build_parser

    page = (DOCS / "getting-started.md").read_text()
    readme_commands = SHELL_BLOCK.search((ROOT / "README.md").read_text())
    assert readme_commands is not None
    lines = [line.strip() for block in SHELL_BLOCK.findall(page) for line in block.splitlines() if line.strip()]
    assert [line for line in lines if "pip install" in line] == readme_commands.group(1).strip().splitlines()
    commands = [line for line in lines if line.startswith("kanpde ")]
    assert len(commands) >= 4
    for command in commands:
        args = build_parser().parse_args(shlex.split(command)[1:])  # exits (fails the test) on an unknown option
        assert callable(args.handler)


def _make_figures() -> object:
    spec = importlib.util.spec_from_file_location("kanpde_docs_make_figures", DOCS / "make_figures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_figures_come_from_the_examples_and_are_small() -> None:
    figures: dict[str, list[str]] = _make_figures().FIGURES  # type: ignore[attr-defined]
    written = {name for names in figures.values() for name in names}
    for example in figures:
        assert (ROOT / "examples" / f"{example}.py").is_file()
        source = (ROOT / "examples" / f"{example}.py").read_text()
        assert all(name in source for name in figures[example]), example
    for png in (DOCS / "img").glob("*"):
        assert png.name in written, f"docs/img/{png.name} is not written by an example (docs/make_figures.py)"
        assert png.stat().st_size < 200_000, png


def test_readme_links_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#\s]+)", readme)
    local = [t for t in targets if "://" not in t]
    assert any(t.startswith("docs/img/") for t in local), "the README shows a picture of a result"
    assert any(t.startswith("docs/") and t.endswith(".md") for t in local), "the README links into the docs"
    for target in local:
        assert (ROOT / target).exists(), target
