"""Refitting a symbolic network's free affine constants, and snapping them to simple exact values.

Two optimisers minimise the mean squared error over the constants that are not frozen:

- ``"lm"``: Levenberg-Marquardt (Marquardt-scaled damping) with the Jacobian in closed form
  (:meth:`SymbolicNetwork.jacobian`). The problem is a small nonlinear least-squares problem, so it converges to
  rounding in a few iterations; only steps that lower the error are taken, so it cannot diverge.
- ``"lbfgs"``: L-BFGS with a strong-Wolfe line search, in chunks of 20 iterations; after a chunk whose loss or
  parameters are not finite, or whose loss rose, the last good state is restored.

Measured on the [2,2,1] x*y network after a snap (6 edges, 1000 points, 1 thread): L-BFGS reached an RMSE of 2e-7
in 40 iterations (0.3 s) and needed a second round for 1e-16; Levenberg-Marquardt reached 1e-16 in a handful.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor

from .constants import nearest_distance, simple_values
from .template import levenberg_marquardt

if TYPE_CHECKING:
    from .network import SymbolicNetwork

__all__ = ["retrain_lm", "retrain_lbfgs", "snap_constants", "RetrainMethod"]

RetrainMethod = Literal["lm", "lbfgs"]
_PARAMS = ("a", "b", "c", "d")


def _free_parameters(net: SymbolicNetwork) -> list[tuple[str, Tensor, Tensor]]:
    """``(name, parameter, flat indices of its free entries)`` for every constant tensor of every layer."""
    out: list[tuple[str, Tensor, Tensor]] = []
    for l, layer in enumerate(net.symbolic_layers()):
        for k in range(4):
            index = (~layer.frozen[k]).flatten().nonzero()[:, 0]
            out.append((f"layers.{l}.{_PARAMS[k]}", layer.parameter(k), index))
    return out


def retrain_lm(
    net: SymbolicNetwork, x: Tensor, y: Tensor, steps: int, *, good_enough: float = 0.0, stall: float = 1e-12
) -> float:
    """Levenberg-Marquardt on the free constants (in place); returns the RMSE. ``x``, ``y``: float64, checked.

    The Jacobian is computed in closed form (:meth:`SymbolicNetwork.jacobian`). Stops after ``steps``
    iterations, when the RMSE is at most ``good_enough``, when an iteration lowers the squared error by less than
    the fraction ``stall``, or when no damping gives a decrease.
    """
    theta, free = net.flat_constants()
    if not bool(free.any()):
        return net.rmse(x, y)

    def residual(values: Tensor) -> Tensor:
        net.set_flat_constants(values)
        with torch.no_grad():
            return (net(x) - y).flatten()

    def jacobian(values: Tensor) -> Tensor:
        net.set_flat_constants(values)
        _, jac = net.jacobian(x)
        return jac.reshape(-1, theta.numel())

    floor = max(1e-30 * float((y * y).sum()), good_enough**2 * y.numel())
    theta, _ = levenberg_marquardt(residual, jacobian, theta, free, steps, floor=floor, stall=stall)
    net.set_flat_constants(theta)
    return net.rmse(x, y)


def retrain_lbfgs(net: SymbolicNetwork, x: Tensor, y: Tensor, steps: int) -> float:
    """L-BFGS (strong Wolfe) on the free constants, divergence guarded (in place); returns the RMSE."""
    free = _free_parameters(net)
    params = [p for _, p, _ in free]
    masks = [~layer.frozen[k] for layer in net.symbolic_layers() for k in range(4)]
    best = net.rmse(x, y)
    if not any(bool(m.any()) for m in masks) or not math.isfinite(best) or best == 0.0:
        return best
    scale = 1.0 / best**2  # L-BFGS's thresholds are absolute: start the loss at 1

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = torch.mean((net(x) - y) ** 2) * scale
        if not torch.isfinite(loss):
            return torch.tensor(1e30, dtype=loss.dtype)  # gradients stay zero: the line search backs off
        loss.backward()
        for p, m in zip(params, masks):
            assert p.grad is not None
            p.grad.mul_(m)
        return loss

    remaining = steps
    while remaining > 0:
        chunk = min(20, remaining)
        remaining -= chunk
        optimizer = torch.optim.LBFGS(
            params, max_iter=chunk, history_size=50, line_search_fn="strong_wolfe", tolerance_grad=1e-20,
            tolerance_change=1e-30,
        )  # fmt: skip
        good = net.snapshot()
        optimizer.step(closure)
        value = net.rmse(x, y)
        if not value <= best or not all(bool(torch.isfinite(p).all()) for p in params):
            net.restore(good)
            break
        converged = value >= best * (1 - 1e-6)
        best = value
        if converged:
            break
    return best


def snap_constants(
    net: SymbolicNetwork,
    x: Tensor,
    y: Tensor,
    *,
    rtol: float,
    atol: float | None,
    window: float,
    retrain_steps: int,
    method: RetrainMethod,
) -> list[str]:
    """Snap free constants to simple exact values where the error allows (see :meth:`SymbolicNetwork.snap_constants`).

    Phase 1 tries only 0 and +-1 on every constant, layer by layer from the inputs: a network's internal scales
    and offsets are arbitrary, and fixing them first makes the remaining constants take their natural values
    (``x*y`` comes out as ``((x + y)^2 - (x - y)^2)/4`` rather than with ``1/sqrt(2)`` inside). Phase 2 (twice)
    tries the other candidates near each remaining constant. Within a phase, constants are visited
    nearest-to-a-simple-value first.
    """
    if atol is None:
        atol = 1e-8 * max(float(y.std()) if y.numel() > 1 else 0.0, float(y.abs().max()), 1e-300)
    before = net.rmse(x, y)
    spread = float(y.std()) if y.numel() > 1 else 0.0
    # 10% of a poor fit's error would let everything snap (a sawtooth fit became "1/2"): the increase is also
    # capped at 1% of the data's spread
    limit = min((1 + rtol) * before, before + 1e-2 * spread) + atol
    snapped: list[str] = []
    for phase in (1, 2, 2):
        todo = sorted(  # phase 1 fixes the gauge from the inputs on: earlier layers first
            (l if phase == 1 else 0, nearest_distance(float(layer.parameter(k).detach()[i, j])), l, k, i, j)
            for l, layer in enumerate(net.symbolic_layers())
            for k in range(4)
            for i, j in layer.edges()
            if not layer.frozen[k, i, j]
        )
        changed = False
        for _, _, l, k, i, j in todo:
            layer = net.symbolic_layers()[l]
            value = float(layer.parameter(k).detach()[i, j])
            candidates = simple_values(value, window=window)
            for candidate in candidates[:2] if phase == 1 else candidates[2:]:
                state = net.snapshot()
                layer.fix(k, i, j, candidate.expr)
                if _trial(net, x, y, retrain_steps, method, limit) <= limit:
                    snapped.append(f"layer {l} edge {i}->{j} {_PARAMS[k]} = {candidate.expr}")
                    changed = True
                    break
                net.restore(state)
        if phase == 2 and not changed:
            break
    if snapped:
        net.retrain(x, y, steps=retrain_steps, method=method)
    return snapped


def _trial(net: SymbolicNetwork, x: Tensor, y: Tensor, steps: int, method: RetrainMethod, limit: float) -> float:
    """Retrain after a trial snap; Levenberg-Marquardt stops as soon as the RMSE is within the limit, or when it
    stalls (less than 1e-3 relative progress per iteration) above it: the snap then fails."""
    if method == "lm":
        return retrain_lm(net, x, y, steps, good_enough=limit, stall=1e-3)
    return net.retrain(x, y, steps=steps, method=method)
