"""Regenerate the figures in docs/img by running the examples with their full budgets (about ten minutes, 1 core).

Run from the repository root:  python docs/make_figures.py [NAME ...]     (default: every example with figures)
Each example's printed output is shown as it runs; the docs quote those outputs.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"
# example -> the PNGs it writes into IMG
FIGURES = {
    "poisson_quickstart": ["poisson_solution.png", "poisson_history.png"],
    "heat_equation": ["heat_solution.png", "heat_history.png"],
    "grid_extension": ["grid_extension.png"],
    "lshape_adaptive": ["lshape_solution.png"],
    "mesh_domain": ["mesh_solution.png"],
    "kan_regression": ["kan_network.png"],
    "burgers": ["burgers_solution.png"],
    "parametric": ["parametric.png"],
}
KEEP = {".png"}  # the examples also write data files (.h5, .vtu, .msh); only the figures stay in docs/img
MAX_BYTES = 150_000  # larger PNGs are reduced to a 256-colour palette (smooth colour maps compress badly)


def compress(path: Path) -> None:
    from PIL import Image

    if path.stat().st_size > MAX_BYTES:
        with Image.open(path) as image:
            small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        small.save(path, optimize=True)


def run(name: str) -> None:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    print(f"== {name}", flush=True)
    module.main(out=IMG)


def main(names: list[str]) -> None:
    torch.set_num_threads(1)
    IMG.mkdir(parents=True, exist_ok=True)
    for name in names or list(FIGURES):
        if name == "mesh_domain":
            import kanpde as kp

            if not hasattr(kp, "MeshDomain"):
                print("== mesh_domain: skipped (kp.MeshDomain is not available yet)")
                continue
        run(name)
    for path in IMG.iterdir():
        if path.suffix not in KEEP:
            path.unlink()
    for name in FIGURES:
        for figure in FIGURES[name]:
            path = IMG / figure
            if path.exists():
                compress(path)
                print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main(sys.argv[1:])
