"""Fitting one edge activation by ``c*f(a*x + b) + d`` for every candidate ``f``, and choosing among them.

For each candidate: a deterministic grid search over ``(a, b)`` (vectorised, chunked to cap memory; ``(c, d)`` by
linear least squares in closed form at every grid point), then Levenberg-Marquardt from the best few grid points,
by variable projection: damped Gauss-Newton in ``(a, b)`` with the optimal ``(c, d)`` solved for at every step, so
all four parameters are refined and the linear ones cannot slow the nonlinear ones down. The reported ``r2`` is the
true coefficient of determination ``1 - SS_res/SS_tot`` on the samples (not a squared correlation), so it can be
negative and is never NaN.

Choice rule (:func:`select`): a fit is *degenerate* when only a sliver of ``f`` is used, so that ``c*f + d`` mimics
a low-order polynomial by cancellation (``degeneracy = max|f| / range(f)`` on the samples above ``max_degeneracy``,
default 5; e.g. ``473 - 473*cos(0.065*y)`` for ``y^2``, which fits a slightly noisy parabola better than the
parabola does). With ``u = 1 - R^2`` the unexplained fraction and ``u_best`` the smallest one among the
non-degenerate fits, a non-degenerate candidate is *acceptable* when
``u <= min(select_factor * u_best, u_best + 1e-3) + select_atol``; the ranked list puts the acceptable candidates
first, simplest first (by complexity, then ``u``), then the others by ``u``. So ``fits[0]`` is the simplest
function that is about as accurate as the best regular one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import sympy
import torch
from torch import Tensor

from .library import SymbolicFunction, get_function, resolve_library

__all__ = ["SymbolicFit", "fit_edge", "fit_candidate", "select", "r_squared", "degeneracy", "MAX_DEGENERACY"]

_WORK_DTYPE = torch.float64
#: Default limit above which a fit counts as degenerate (see :func:`select`).
MAX_DEGENERACY = 5.0


@dataclass(frozen=True)
class SymbolicFit:
    """One candidate fitted to an edge: ``y ~ c*f(a*x + b) + d``.

    Attributes:
        name: the library entry of ``f``.
        a, b, c, d: the affine parameters.
        r2: coefficient of determination ``1 - SS_res/SS_tot`` on the samples (1 for a constant target fitted
            exactly; can be negative).
        complexity: the entry's complexity score.
        rmse: root mean squared error of the fit on the samples.
        degeneracy: ``max|f(u)| / (max f(u) - min f(u))`` over the samples' arguments ``u = a*x + b``: large when
            only a sliver of ``f`` is used and ``c*f + d`` mimics a low-order polynomial by cancellation (e.g.
            ``473 - 473*cos(0.065*y)`` for ``y^2``). 1 for "x" and "0", which are closed under affine maps.
    """

    name: str
    a: float
    b: float
    c: float
    d: float
    r2: float
    complexity: float
    rmse: float
    degeneracy: float = 1.0
    entry: SymbolicFunction | None = field(default=None, compare=False, repr=False)

    @property
    def function(self) -> SymbolicFunction:
        """The library entry: the one fitted (``entry``), else looked up by name in the current library."""
        return self.entry if self.entry is not None else get_function(self.name)

    def __call__(self, x: Tensor) -> Tensor:
        """The fitted function at ``x`` (any shape)."""
        return self.c * self.function.torch_fn(self.a * x + self.b) + self.d

    def expr(self, symbol: sympy.Expr) -> sympy.Expr:
        """The fitted function as a sympy expression of ``symbol`` (floating-point constants)."""
        f = self.function.sympy_fn
        a, b, c, d = (sympy.Float(v) for v in (self.a, self.b, self.c, self.d))
        return c * f(a * symbol + b) + d


def r_squared(ss_res: float, ss_tot: float, scale: float) -> float:
    """``1 - ss_res/ss_tot``; for a constant target (``ss_tot`` below the rounding level of ``scale``, the
    target's magnitude times the number of samples) 1 when the residual is at that level too, else 0."""
    tiny = (1e-12 * scale) ** 2
    if ss_tot <= tiny:
        return 1.0 if ss_res <= tiny else 0.0
    return 1.0 - ss_res / ss_tot


def _grid(entry: SymbolicFunction, center: float, half: float, n_grid: int) -> tuple[Tensor, Tensor]:
    """Start values ``(a, b)`` for the search, built in the normalised variable ``s = (x - center)/half``: the
    argument is ``alpha*s + beta`` (``alpha``: its half-spread on the data, ``beta``: its centre)."""
    spread = torch.logspace(math.log10(0.05), math.log10(20.0), n_grid, dtype=_WORK_DTYPE)
    if entry.a_mode == "one":
        alphas = torch.tensor([half], dtype=_WORK_DTYPE)
    elif entry.a_mode == "sign":
        alphas = torch.tensor([-half, half], dtype=_WORK_DTYPE)
    elif entry.a_mode == "positive":
        alphas = spread
    else:
        alphas = torch.cat([-spread.flip(0), spread])
    if entry.b_mode == "zero":
        a = alphas / half
        return a, torch.zeros_like(a)
    if entry.period is not None:
        span = entry.period / 2
    elif entry.a_mode in ("one", "sign"):
        span = 6.0 * half
    else:
        span = 8.0
    betas = torch.linspace(-span, span, 2 * n_grid + 1, dtype=_WORK_DTYPE)
    alpha, beta = torch.meshgrid(alphas, betas, indexing="ij")
    a = (alpha / half).reshape(-1)
    b = beta.reshape(-1) - a * center
    return a, b


def _valid(entry: SymbolicFunction, a: Tensor, b: Tensor, x_lo: float, x_hi: float) -> Tensor:
    if entry.domain is None:
        return torch.ones_like(a, dtype=torch.bool)
    ends = torch.stack([a * x_lo + b, a * x_hi + b])
    return entry.domain(ends.min(0).values, ends.max(0).values)


def _grid_search(
    entry: SymbolicFunction, x: Tensor, y: Tensor, a: Tensor, b: Tensor, valid: Tensor, max_elements: int
) -> Tensor:
    """Residual sum of squares after the best ``(c, d)`` at each ``(a, b)`` (inf where invalid)."""
    yc = y - y.mean()
    ss_tot = float(yc @ yc)
    out = torch.full_like(a, math.inf)
    rows = max(1, max_elements // max(1, x.numel()))
    for start in range(0, a.numel(), rows):
        sl = slice(start, start + rows)
        with torch.no_grad():
            f = entry.torch_fn(a[sl, None] * x[None, :] + b[sl, None])
        ok = valid[sl] & torch.isfinite(f).all(dim=1) & (f.abs().amax(dim=1) < 1e100)
        f = torch.where(ok[:, None], f, torch.zeros_like(f))
        fc = f - f.mean(dim=1, keepdim=True)
        var = (fc * fc).sum(dim=1)
        cov = fc @ yc
        explained = torch.where(var > 1e-300, cov**2 / var.clamp(min=1e-300), torch.zeros_like(var))
        ss = (ss_tot - explained).clamp(min=0.0)
        out[sl] = torch.where(ok & (var > 0), ss, torch.full_like(ss, math.inf))
    return out


def _project(
    entry: SymbolicFunction, x: Tensor, y: Tensor, ab: Tensor, x_lo: float, x_hi: float, slopes: bool
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """For each row ``(a, b)``: the best ``(c, d)`` by linear least squares, the residual sum of squares (inf where
    invalid) and, with ``slopes``, the Kaufman variable-projection Jacobian of the residual in ``(a, b)``.

    Shapes:
        ab: ``(S, 2)``; returns cd ``(S, 2)``, sse ``(S,)``, residuals ``(S, n)``, jacobian ``(S, n, 2)``.
    """
    u = (ab[:, :1] * x + ab[:, 1:]).detach().requires_grad_(slopes)
    with torch.enable_grad():
        f = entry.torch_fn(u)
        df = torch.autograd.grad(f.sum(), u)[0] if slopes else None
    f = f.detach()
    fc = f - f.mean(dim=1, keepdim=True)
    var = (fc * fc).sum(dim=1)
    usable = var > 1e-300
    c = torch.where(usable, (fc @ (y - y.mean())) / var.clamp(min=1e-300), torch.zeros_like(var))
    d = y.mean() - c * f.mean(dim=1)
    r = c[:, None] * f + d[:, None] - y
    sse = (r * r).sum(dim=1)
    valid = _valid(entry, ab[:, 0], ab[:, 1], x_lo, x_hi) & torch.isfinite(sse)
    sse = torch.where(valid, sse, torch.full_like(sse, math.inf))
    jac = None
    if df is not None:
        g = c[:, None] * df  # d(c*f(a*x + b))/du
        raw = torch.stack([g * x, g], dim=2)  # (S, n, 2)
        raw = raw - raw.mean(dim=1, keepdim=True)  # project out the constant ...
        along = (fc.unsqueeze(1) @ raw)[:, 0, :] / var.clamp(min=1e-300)[:, None]
        jac = raw - fc.unsqueeze(2) * along.unsqueeze(1)  # ... and f: the (c, d) directions
    return torch.stack([c, d], dim=1), sse, r, jac


def _levenberg_marquardt(
    entry: SymbolicFunction, x: Tensor, y: Tensor, ab: Tensor, free: Tensor, steps: int, floor: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Variable-projection Levenberg-Marquardt: damped Gauss-Newton on the ``free`` ones of ``(a, b)``, with the
    optimal ``(c, d)`` solved for at every evaluation (so the linear parameters never slow it down).

    All starts advance together (one trial step each per iteration). A start stops when an accepted step lowers
    its residual sum of squares by less than a relative 1e-6, when that sum is below ``floor`` (exact to
    rounding), when its damping exceeds 1e12 (no descent), or when the argument ``a*x + b`` degenerates on the
    data (spread below 1e-4, or centre beyond 1e4 spreads).

    Shapes:
        ab: ``(S, 2)``; returns ``(a, b)`` ``(S, 2)``, ``(c, d)`` ``(S, 2)`` and the residual sums of squares ``(S,)``.
    """
    x_lo, x_hi = float(x.min()), float(x.max())
    middle, half = (x_hi + x_lo) / 2, (x_hi - x_lo) / 2
    cd, sse, _, _ = _project(entry, x, y, ab, x_lo, x_hi, slopes=False)
    damping = torch.full_like(sse, 1e-3)
    active = torch.isfinite(sse) & (sse > floor) & bool(free.any())
    eye = torch.eye(int(free.sum()), dtype=ab.dtype)
    for _ in range(steps):
        if not bool(active.any()):
            break
        rows = active.nonzero()[:, 0]
        _, _, r, jac = _project(entry, x, y, ab[rows], x_lo, x_hi, slopes=True)
        assert jac is not None
        jac = jac[:, :, free]
        jtj = jac.transpose(1, 2) @ jac
        grad = (jac.transpose(1, 2) @ r.unsqueeze(2))[:, :, 0]
        finite = torch.isfinite(jtj).all(dim=(1, 2)) & torch.isfinite(grad).all(dim=1)
        scaling = torch.diag_embed(jtj.diagonal(dim1=1, dim2=2).clamp(min=1e-30))
        lhs = torch.where(finite[:, None, None], jtj + damping[rows, None, None] * scaling, eye.expand_as(jtj))
        step = torch.linalg.solve(lhs, -torch.where(finite[:, None], grad, torch.zeros_like(grad)))
        trial = ab[rows].clone()
        trial[:, free] += step
        trial_cd, trial_sse, _, _ = _project(entry, x, y, trial, x_lo, x_hi, slopes=False)
        better = finite & (trial_sse < sse[rows])
        small_gain = better & (sse[rows] - trial_sse <= 1e-6 * sse[rows])
        ab[rows] = torch.where(better[:, None], trial, ab[rows])
        cd[rows] = torch.where(better[:, None], trial_cd, cd[rows])
        sse[rows] = torch.where(better, trial_sse, sse[rows])
        damping[rows] = torch.where(better, (damping[rows] / 3).clamp(min=1e-12), damping[rows] * 4)
        # the argument's spread and centre on the data: a start whose spread vanishes, or whose centre runs away,
        # is turning f into a line by cancellation (a degenerate fit) and would creep on forever
        spread = (ab[rows, 0] * half).abs()
        centre = (ab[rows, 0] * middle + ab[rows, 1]).abs()
        runaway = (spread < 1e-4) | (centre > 1e4 * spread)
        stop = ~finite | small_gain | runaway | (sse[rows] <= floor) | (damping[rows] > 1e12)
        active[rows[stop]] = False
    return ab, cd, sse


def fit_candidate(
    entry: SymbolicFunction,
    x: Tensor,
    y: Tensor,
    *,
    n_grid: int = 24,
    n_starts: int = 3,
    lm_steps: int = 50,
    max_elements: int = 2**15,
    max_search_points: int = 128,
) -> SymbolicFit | None:
    """Fit ``c*f(a*x + b) + d`` for one entry (``None`` when no parameters keep the argument in its domain).

    Shapes:
        x, y: ``(n_points,)`` (float64).
    """
    n = x.numel()
    ss_tot = float(((y - y.mean()) ** 2).sum())
    scale = float(y.abs().max()) * math.sqrt(n) + 1e-300
    x_lo, x_hi = float(x.min()), float(x.max())
    free = torch.tensor([entry.a_mode not in ("one", "sign"), entry.b_mode != "zero"], dtype=torch.bool)
    if entry.name == "0":
        theta, sse = torch.tensor([1.0, 0.0, 0.0, float(y.mean())], dtype=_WORK_DTYPE), ss_tot
    else:
        center, half = (x_hi + x_lo) / 2, (x_hi - x_lo) / 2
        a, b = _grid(entry, center, half, n_grid)
        valid = _valid(entry, a, b, x_lo, x_hi)
        if not bool(valid.any()):
            return None
        step = max(1, math.ceil(n / max_search_points))
        xs, ys = (x[::step], y[::step]) if step > 1 else (x, y)
        scores = _grid_search(entry, xs, ys, a, b, valid, max_elements)
        order = torch.sort(scores, stable=True).indices[:n_starts]
        order = order[torch.isfinite(scores[order])]
        if order.numel() == 0:
            return None
        starts = torch.stack([a[order], b[order]], dim=1)
        ab, cd, sses = _levenberg_marquardt(entry, x, y, starts, free, lm_steps, 1e-28 * ss_tot)
        best = int(torch.argmin(sses))  # first of the minima: deterministic
        if not math.isfinite(float(sses[best])):
            return None
        theta, sse = torch.cat([ab[best], cd[best]]), float(sses[best])
    a_, b_, c_, d_ = entry.canonical(*(float(v) for v in theta))
    r2 = r_squared(sse, ss_tot, scale)
    rmse = math.sqrt(sse / n)
    return SymbolicFit(entry.name, a_, b_, c_, d_, r2, entry.complexity, rmse, degeneracy(entry, x, a_, b_), entry)


def degeneracy(entry: SymbolicFunction, x: Tensor, a: float | Tensor, b: float | Tensor) -> float:
    """``max|f(u)| / (max f(u) - min f(u))`` over ``u = a*x + b`` (1 for "0" and "x"; see :class:`SymbolicFit`)."""
    if entry.name in ("0", "x"):
        return 1.0
    with torch.no_grad():
        f = entry.torch_fn(a * x + b)
    spread = float(f.max() - f.min())
    return float(f.abs().max()) / spread if spread > 0 else math.inf


def select(
    fits: Iterable[SymbolicFit],
    *,
    select_factor: float = 10.0,
    select_atol: float = 1e-9,
    max_degeneracy: float = MAX_DEGENERACY,
) -> list[SymbolicFit]:
    """Rank fits by the choice rule of the module docstring (``fits[0]`` is the choice).

    With ``u = 1 - R^2`` and ``u_best`` its minimum over the non-degenerate fits (``degeneracy <=
    max_degeneracy``), a non-degenerate fit is acceptable when ``u <= min(select_factor * u_best, u_best + 1e-3)
    + select_atol``: within a factor of the best when the best is good, and within 1e-3 of it when the best is
    poor (so a poor best is not traded for a simpler, worse one). Acceptable fits come first, by complexity then
    ``u`` (among equally simple fits tied in ``u``, such as ``sin`` and ``cos`` with shifted phases, the one with
    the smallest ``|b|`` first); the others follow by ``u``.
    """
    fits = list(fits)
    if not fits:
        return []
    unexplained = [max(0.0, 1.0 - f.r2) for f in fits]
    regular = [i for i, f in enumerate(fits) if f.degeneracy <= max_degeneracy] or list(range(len(fits)))
    best = min(unexplained[i] for i in regular)
    limit = min(select_factor * best, best + 1e-3) + select_atol
    good = sorted((i for i in regular if unexplained[i] <= limit), key=lambda i: (fits[i].complexity, unexplained[i]))
    if good:  # equivalent fits (cos(2x + 1) = sin(2x + 2.57)): the one with the smallest shift reads best
        first = good[0]
        tied = [
            i
            for i in good
            if fits[i].complexity == fits[first].complexity
            and abs(unexplained[i] - unexplained[first]) <= 1e-6 * unexplained[first] + 1e-15
        ]
        pick = min(tied, key=lambda i: abs(fits[i].b))
        good.remove(pick)
        good.insert(0, pick)
    rest = sorted((i for i in range(len(fits)) if i not in good), key=lambda i: unexplained[i])
    return [fits[i] for i in good + rest]


def _as_vector(name: str, v: Tensor) -> Tensor:
    if not isinstance(v, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (n_points,), got {type(v).__name__}")
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1:
        raise ValueError(f"{name} must have shape (n_points,), got {tuple(v.shape)}")
    return v.detach().to(dtype=_WORK_DTYPE, device="cpu")


def fit_edge(
    x: Tensor,
    y: Tensor,
    *,
    library: Iterable[str | SymbolicFunction] | None = None,
    scale: float | None = None,
    zero_tol: float = 1e-3,
    select_factor: float = 10.0,
    select_atol: float = 1e-9,
    max_degeneracy: float = MAX_DEGENERACY,
    n_grid: int = 24,
    n_starts: int = 3,
    lm_steps: int = 50,
    max_elements: int = 2**15,
) -> list[SymbolicFit]:
    """Fit every library function to one edge's samples and rank the fits (``fits[0]`` is the choice).

    Args:
        x: the edge's inputs (its real input range: the traced values).
        y: the edge's activation at ``x``.
        library: names or entries to try (default: every registered function); ``"0"`` is always tried.
        scale: size of the layer's activations (e.g. the largest activation range of the layer). When the range
            of ``y`` is at most ``zero_tol * scale`` the edge counts as dead and only the ``"0"`` fit (``y ~ d``)
            is returned.
        zero_tol: see ``scale``.
        select_factor: the choice rule's factor (see the module docstring).
        select_atol: the choice rule's absolute slack (see the module docstring).
        max_degeneracy: fits more degenerate than this count only when no other fits (see the module docstring).
        n_grid: grid points per search axis (the argument's spread and centre).
        n_starts: best grid points refined by Levenberg-Marquardt.
        lm_steps: Levenberg-Marquardt iterations per start.
        max_elements: cap on the function values held at once during the grid search (the default, 2**15, also
            keeps each torch operation below its multi-threading grain: these are small, latency-bound tensors).

    Returns:
        The fits, ranked. A constant ``y`` gives only ``"0"`` (with R^2 = 1).

    Shapes:
        x, y: ``(n_points,)`` or ``(n_points, 1)``.

    Example:
        >>> import torch
        >>> x = torch.linspace(-1, 1, 200, dtype=torch.float64)
        >>> best = fit_edge(x, 2 * torch.sin(3 * x + 0.5) - 1, library=["x^2", "sin", "cos", "exp"])[0]
        >>> best.name, round(best.a, 6), round(best.b, 6), round(best.c, 6), round(best.d, 6), best.r2 > 1 - 1e-12
        ('sin', 3.0, 0.5, 2.0, -1.0, True)
    """
    x, y = _as_vector("x", x), _as_vector("y", y)
    if x.shape != y.shape or x.numel() < 2:
        raise ValueError(f"x and y must have the same shape (n_points,) with n_points >= 2, got {x.shape}, {y.shape}")
    if not bool(torch.isfinite(x).all() & torch.isfinite(y).all()):
        raise ValueError("x and y must be finite")
    entries = resolve_library(library)
    spread = float(y.max() - y.min())
    constant = spread <= 1e-12 * max(float(y.abs().max()), 1e-300) or float(x.max() - x.min()) == 0.0
    dead = scale is not None and spread <= zero_tol * scale
    if constant or dead:
        zero = fit_candidate(get_function("0"), x, y)
        assert zero is not None
        return [zero]
    options = dict(n_grid=n_grid, n_starts=n_starts, lm_steps=lm_steps, max_elements=max_elements)
    fits = [fit for entry in entries if (fit := fit_candidate(entry, x, y, **options)) is not None]
    return select(fits, select_factor=select_factor, select_atol=select_atol, max_degeneracy=max_degeneracy)
