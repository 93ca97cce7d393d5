"""Speed of one "Laplacian loss + parameter gradient": forward jets with a local basis vs nested autograd.

The baseline is what pykan's PINN tutorials do: a dense Cox-de Boor basis (every basis function at every point)
and the Laplacian by reverse-mode autograd twice, then a third reverse pass for the parameter gradient. Both
paths use the same KAN parameters, so the script also checks that the two gradients agree.

Run:  python -m kanpde.bench.kan_speed            (defaults: [2,10,1], k=3, float64, 1 thread)
      python -m kanpde.bench.kan_speed --grids 5,20,100 --points 1000,10000,100000 --repeats 5
Prints one row per (G, N) with milliseconds per evaluation (median of the repeats) and the ratio.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor

from ..kan import KAN
from ..kan.spline import dense_basis_cox_de_boor


def dense_forward(model: KAN, x: Tensor) -> Tensor:
    """The network evaluated pykan's way: dense Cox-de Boor basis, then a contraction with all coefficients.

    Shapes:
        x: ``(n_points, width[0])``; return ``(n_points, width[-1])``.
    """
    for layer in model.layers:
        basis = dense_basis_cox_de_boor(x, layer.grid, layer.spline_order)  # (n, in, n_basis)
        spline = torch.einsum("nim,iom->nio", basis, layer.coef)
        acts = layer.scale_base * torch.nn.functional.silu(x).unsqueeze(-1) + layer.scale_spline * spline
        x = (acts * layer.mask).sum(dim=1)
    return x


def poisson_target(x: Tensor) -> Tensor:
    """Source term of -Laplace u = f for u = sin(pi x) sin(pi y)."""
    return 2 * torch.pi**2 * torch.sin(torch.pi * x[:, 0]) * torch.sin(torch.pi * x[:, 1])


def jet_loss_and_grad(model: KAN, x: Tensor, f: Tensor) -> list[Tensor]:
    lap = model.jet(x).lap
    assert lap is not None
    lap = lap[:, 0]
    loss = torch.mean((lap + f) ** 2)
    return list(torch.autograd.grad(loss, list(model.parameters())))


def autograd_loss_and_grad(model: KAN, x: Tensor, f: Tensor) -> list[Tensor]:
    x = x.clone().requires_grad_(True)
    u = dense_forward(model, x)[:, 0]
    (grad,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    lap = sum(torch.autograd.grad(grad[:, d].sum(), x, create_graph=True)[0][:, d] for d in range(x.shape[1]))
    loss = torch.mean((lap + f) ** 2)
    return list(torch.autograd.grad(loss, list(model.parameters())))


def time_call(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` in milliseconds (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def run(
    grids: list[int],
    points: list[int],
    *,
    width: list[int],
    repeats: int,
    dtype: torch.dtype,
    max_baseline_seconds: float,
) -> list[dict[str, float]]:
    rows = []
    generator = torch.Generator().manual_seed(0)
    for n_points in points:
        x = torch.rand(n_points, width[0], generator=generator, dtype=dtype) * 2 - 1
        f = poisson_target(x)
        for grid in grids:
            model = KAN(width, grid=grid, k=3, seed=0, dtype=dtype)
            jet_ms = time_call(functools.partial(jet_loss_and_grad, model, x, f), repeats)
            g_jet = jet_loss_and_grad(model, x, f)
            # Predict the baseline's cost from a small batch before running it at full size.
            small = x[: min(n_points, 1000)]
            probe_ms = time_call(functools.partial(autograd_loss_and_grad, model, small, f[: small.shape[0]]), 1)
            estimate_s = probe_ms * n_points / small.shape[0] / 1e3
            row = {"grid": grid, "n_points": n_points, "jet_ms": jet_ms}
            if estimate_s * (repeats + 1) <= max_baseline_seconds:
                row["autograd_ms"] = time_call(functools.partial(autograd_loss_and_grad, model, x, f), repeats)
                g_ref = autograd_loss_and_grad(model, x, f)
                row["grad_rel_diff"] = max(
                    float((a - b).abs().max() / b.abs().max().clamp_min(1e-300)) for a, b in zip(g_jet, g_ref)
                )
            else:
                row["autograd_estimate_ms"] = estimate_s * 1e3
            rows.append(row)
            print(format_row(row), flush=True)
    return rows


def format_row(row: dict[str, float]) -> str:
    base = row.get("autograd_ms")
    if base is not None:
        tail = f"{base:12.1f} {base / row['jet_ms']:9.1f}x   grad diff {row['grad_rel_diff']:.1e}"
    else:
        est = row["autograd_estimate_ms"]
        tail = f"{'~' + format(est, '.0f'):>12} {'~' + format(est / row['jet_ms'], '.0f') + 'x':>10}   (estimated)"
    return f"{int(row['grid']):>5} {int(row['n_points']):>8} {row['jet_ms']:10.2f} {tail}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grids", default="5,20,100", help="grid sizes, comma separated")
    parser.add_argument("--points", default="1000,10000,100000", help="numbers of points, comma separated")
    parser.add_argument("--width", default="2,10,1")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument(
        "--max-baseline-seconds", type=float, default=60.0, help="skip (and estimate) slower baseline rows"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    width = [int(v) for v in args.width.split(",")]
    print(
        f"KAN {width}, k=3, {args.dtype}, {args.threads} thread(s), torch {torch.__version__}; "
        f"ms per Laplacian loss + parameter gradient (median of {args.repeats})"
    )
    print(f"{'G':>5} {'N':>8} {'jet ms':>10} {'autograd ms':>12} {'ratio':>10}")
    rows = run(
        [int(v) for v in args.grids.split(",")],
        [int(v) for v in args.points.split(",")],
        width=width,
        repeats=args.repeats,
        dtype=getattr(torch, args.dtype),
        max_baseline_seconds=args.max_baseline_seconds,
    )
    by_key = {(r["grid"], r["n_points"]): r for r in rows}
    for n_points in sorted({r["n_points"] for r in rows}):
        lo, hi = (
            by_key.get((min(r["grid"] for r in rows), n_points)),
            by_key.get((max(r["grid"] for r in rows), n_points)),
        )
        if lo and hi and lo is not hi:
            print(
                f"N={int(n_points)}: jet cost at G={int(hi['grid'])} / G={int(lo['grid'])} = "
                f"{hi['jet_ms'] / lo['jet_ms']:.2f}"
            )


if __name__ == "__main__":
    main()
