"""The README stays true: its two commands are the ones CI runs, and its Python blocks run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_command() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first_block is not None and README.index("```bash") < README.index("```python")
    commands = [line for line in first_block.group(1).splitlines() if line.strip()]
    assert len(commands) == 2
    assert "kanpde solve" in commands[0]
    test_command = commands[1].split("&&")[-1].strip()
    assert test_command in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("index", range(len(re.findall(r"```python\n", README))))
def test_readme_python_blocks_run(index: int) -> None:
    block = re.findall(r"```python\n(.*?)```", README, re.S)[index]
    namespace: dict[str, object] = {}
    exec(compile(block, f"README.md block {index}", "exec"), namespace)  # noqa: S102
    if "result" in namespace:  # the Poisson block: the error it quotes
        assert namespace["result"].rel_l2 < 1e-4  # type: ignore[attr-defined]
    if "before" in namespace:  # the KAN block: grid extension keeps the function, as printed
        before, after = float(namespace["before"]), float(namespace["after"])  # type: ignore[arg-type]
        assert abs(after - before) <= 1e-9 * before
        # two digits: the L-BFGS fit's RMSE moves in the third digit between installs (2.3044e-02 / 2.2725e-02)
        assert f"RMSE {before:.1e} before refine(10), {after:.1e} after" in README
