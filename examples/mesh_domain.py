"""A mesh domain from a Gmsh file: write an L-shaped triangle mesh with meshio, read it with kp.MeshDomain, solve.

    -Laplace(u) = 2 pi^2 sin(pi x) sin(pi y) on the L-shape [-1, 1]^2 minus (0, 1] x [-1, 0),   u = 0 on its boundary
    exact: u = sin(pi x) sin(pi y)  (it vanishes on every edge of the L, which all lie on x, y in {-1, 0, 1})

Any mesh meshio reads (Gmsh .msh, VTU, Abaqus .inp, ...) made of triangles (2-D) or tetrahedra (3-D) works the same
way; here the mesh is written by the script itself, so the example needs no Gmsh installation.

Run:  python examples/mesh_domain.py [--out DIR]     (writes DIR/lshape.msh and DIR/mesh_solution.png; default out/mesh)
"""

from __future__ import annotations

from pathlib import Path

import meshio
import numpy as np

import kanpde as kp


def write_lshape_msh(path: str | Path, n: int = 16) -> Path:
    """Triangulate the L-shape with a uniform n x n grid on [-1, 1]^2 (n even), drop the removed quadrant."""
    if n < 2 or n % 2:
        raise ValueError(f"n must be an even number >= 2, got {n}")
    ticks = np.linspace(-1.0, 1.0, n + 1)
    xx, yy = np.meshgrid(ticks, ticks, indexing="ij")
    points = np.column_stack([xx.ravel(), yy.ravel(), np.zeros(xx.size)])  # Gmsh stores 3 coordinates
    node = np.arange(xx.size).reshape(n + 1, n + 1)
    triangles = []
    for i in range(n):
        for j in range(n):
            if ticks[i] >= 0 and ticks[j + 1] <= 0:  # the square lies in (0, 1] x [-1, 0): not in the L
                continue
            a, b, c, d = node[i, j], node[i + 1, j], node[i + 1, j + 1], node[i, j + 1]
            triangles += [(a, b, c), (a, c, d)]
    cells = np.array(triangles)
    used = np.unique(cells)  # drop the nodes of the removed quadrant and renumber
    renumber = np.full(len(points), -1)
    renumber[used] = np.arange(len(used))
    tags = np.ones(len(cells), dtype=int)  # one physical and geometrical entity, as Gmsh writes them
    mesh = meshio.Mesh(
        points[used],
        [("triangle", renumber[cells])],
        cell_data={"gmsh:physical": [tags], "gmsh:geometrical": [tags]},
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meshio.write(path, mesh, file_format="gmsh22", binary=False)
    return path


def main(
    grid_schedule: tuple[int, ...] = (5, 10, 20), steps: int = 50, *, mesh_size: int = 16, out: str | Path = "out/mesh"
) -> kp.Result:
    msh = write_lshape_msh(Path(out) / "lshape.msh", n=mesh_size)
    domain = kp.MeshDomain.from_file(msh)  # points are sampled in the triangles, boundary points on the boundary edges
    problem = kp.Poisson(domain, f="2*pi**2*sin(pi*x)*sin(pi*y)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)*sin(pi*y)")
    solver = kp.Solver(problem, width=[2, 10, 1], seed=0, n_interior=4000)
    result = solver.solve(grid_schedule=list(grid_schedule), steps=steps, progress=False)
    print(result.summary())
    solver.plot(result=result).savefig(Path(out) / "mesh_solution.png", dpi=72)
    return result


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="kanpde: a mesh domain from a Gmsh file")
    parser.add_argument("--out", default="out/mesh", help="output folder (default: out/mesh)")
    main(out=parser.parse_args().out)
