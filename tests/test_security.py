"""Data never runs code: expression strings, checkpoints, symbolic state and the CLI's problem lookup.

Each attack would create a marker file in ``tmp_path`` if any code from it ran; every test asserts that the marker
does not exist and that the documented error is raised.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import sympy
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kanpde as kp
from kanpde.io.checkpoint import FORMAT, VERSION, load_checkpoint, save_checkpoint
from kanpde.pde import safe_expr
from kanpde.pde.expressions import as_expression
from kanpde.pde.safe_expr import MAX_DEPTH, MAX_LENGTH, expression_text, parse_expression
from kanpde.symbolic import SymbolicNetwork, Template, verify_formula
from kanpde.symbolic.template import Param
from kanpde.symbolic.verify import is_zero

ROOT = Path(__file__).resolve().parent.parent
PROPERTY = {"deadline": None, "derandomize": True, "suppress_health_check": [HealthCheck.function_scoped_fixture]}


def _attacks(marker: Path) -> list[str]:
    """Strings that run ``touch marker`` when evaluated as Python (or through sympify)."""
    touch = f"__import__('os').system('touch {marker}')"
    return [
        f"sin(pi*x)+0*sin.eval.__globals__['__builtins__']['__import__']('os').system('touch {marker}')",
        touch,
        f"x + 0*{touch}",
        f"(lambda: {touch})()",
        f"[{touch} for _ in (1,)]",
        f"x.__class__.__mro__[1].__subclasses__() or {touch}",
        f'exec("{touch}")',
        f"eval('{touch}')",
        f"open('{marker}', 'w')",
        f"sin(x, key={touch})",
        f"Piecewise((x, {touch}), (0, True))",
        "getattr(x, '__class__')",
        "__builtins__",
        f"x if {touch} else y",
        f"sin.__call__(x) + {touch}",
    ]


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "MARKER"


# -- expression strings ------------------------------------------------------------------------------------------
def test_every_attack_string_is_refused_without_running(marker: Path) -> None:
    for text in _attacks(marker):
        with pytest.raises(ValueError, match="exact"):
            as_expression(text, coords=("x", "y"), name="exact")
        with pytest.raises(ValueError):
            parse_expression(text, names=("x", "y"), what="f", unknown_names=True)
    assert not marker.exists()


def test_attack_strings_through_every_problem_argument(marker: Path) -> None:
    attack = _attacks(marker)[0]
    with pytest.raises(ValueError, match="exact"):
        kp.Poisson(kp.Interval(0, 1), f=1, bcs=[kp.Dirichlet(0)], exact=attack)
    with pytest.raises(ValueError, match="f"):
        kp.Poisson(kp.Interval(0, 1), f=attack, bcs=[kp.Dirichlet(0)])
    with pytest.raises(ValueError, match="Dirichlet value"):
        kp.Poisson(kp.Interval(0, 1), f=1, bcs=[kp.Dirichlet(attack)])
    with pytest.raises(ValueError, match="Robin beta"):
        kp.Poisson(kp.Interval(0, 1), f=1, bcs=[kp.Robin(1, attack, 0)])
    with pytest.raises(ValueError, match="initial"):
        kp.Heat(kp.Interval(0, 1), initial=attack, bcs=[kp.Dirichlet(0)])
    with pytest.raises(ValueError, match="diffusivity"):
        kp.Heat(kp.Interval(0, 1), diffusivity=attack, initial=0, bcs=[kp.Dirichlet(0)])
    assert not marker.exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ("9**9**8", "exponent 43046721 is too large"),
        ("x**(9**9)", "exponent 387420489 is too large"),
        ("2**(10**4)", "exponent 10000 is too large"),
        ("(10**1000)**1000", "too large a number"),
        ("x**exp(exp(exp(10)))", "too large"),
        ("x" + "+x" * (MAX_LENGTH // 2), "characters; at most"),
        ("(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1), "levels"),
        ("sin(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1), "levels"),
        ("-" * 5000 + "x", "could not parse|levels"),
        ("x**" * 200 + "2", "levels|too large"),
        ("1" * 5000, "could not parse"),
        ("1e999*x", "not finite"),
        ("*".join(f"sqrt({7 * 10**17 + i})" for i in range(21)), "limited to 20 per expression"),
        (f"sqrt({10**30 + 7})", "of at most 64 bits"),
        ("Min(" + ",".join(f"x+{i}" for i in range(101)) + ")", "101 arguments; at most 100"),
    ],
)  # fmt: skip
def test_limits_refuse_quickly(text: str, message: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ValueError, match=message):
        parse_expression(text, names=("x",), what="exact")
    assert time.perf_counter() - start < 2.0


def test_building_time_is_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safe_expr, "MAX_SECONDS", 0.3)
    slow = "*".join(f"exp(log({'7' * 299}{i})/2)" for i in range(10))  # radicals of huge numbers, reached via exp/log
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"took longer than 0\.3 s"):
        parse_expression(slow, what="f")
    assert time.perf_counter() - start < 10.0  # unlimited it takes about 26 s (a generous bound: the machine is shared)


def test_strings_users_write_still_parse() -> None:
    x, y, t = sympy.symbols("x y t")
    names = ("x", "y", "t")
    assert parse_expression("2*pi**2*sin(pi*x)*sin(pi*y)", names=names) == 2 * sympy.pi**2 * sympy.sin(
        sympy.pi * x
    ) * sympy.sin(sympy.pi * y)
    assert parse_expression("exp(-pi**2*t)*sin(pi*x)", names=names) == sympy.exp(-(sympy.pi**2) * t) * sympy.sin(
        sympy.pi * x
    )
    assert parse_expression("x**2 + y^2", names=names) == x**2 + y**2  # ^ binds like **, not like xor
    assert parse_expression("-x^2", names=names) == -(x**2)
    assert parse_expression("x**1000", names=names) == x**1000 and parse_expression("2**100") == 2**100
    assert parse_expression("Piecewise((1, (x > 0) & ~(y >= 1)), (0, True))", names=names) == sympy.Piecewise(
        (1, (x > 0) & ~(y >= 1)), (0, True)
    )
    long_sum = " + ".join(f"{i}*x**{i % 7}" for i in range(600))  # a long formula is one level deep
    assert parse_expression(long_sum, names=names) == sum(i * x ** (i % 7) for i in range(600))


def test_errors_name_the_argument_and_what_is_allowed() -> None:
    with pytest.raises(
        ValueError, match=r"exact: 'x\.real' is not an allowed expression: attribute access .*allowed: "
    ):
        parse_expression("x.real", names=("x",), what="exact")
    with pytest.raises(ValueError, match=r"unknown name 'k' \(the names allowed here are x, pi, E, e\)"):
        parse_expression("k*x", names=("x",), what="f")
    with pytest.raises(ValueError, match="names starting with '_'"):
        parse_expression("__class__", names=("x",), what="f", unknown_names=True)
    with pytest.raises(TypeError, match="f must be a string"):
        parse_expression(b"x", what="f")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "expr",
    [
        "sin(pi*x)/3 + 0.1*exp(-2*y)",
        "Piecewise((x, x > 0.5), (-y, True))",
        "sqrt(x)*Abs(y - 1/7) + Min(x, y) - Heaviside(x - 0.25)",
        "atan2(y, x) + erf(x)**3 - log(1 + x)",
        "-1.5e-300*x + 2**(1/3)",
    ],
)
def test_expression_text_reads_back_equal(expr: str) -> None:
    parsed = parse_expression(expr, names=("x", "y"))
    assert parse_expression(expression_text(parsed), names=("x", "y")) == parsed


@settings(max_examples=300, **PROPERTY)
@given(st.text(max_size=80) | st.text(alphabet="xyt0123456789.e+-*/^()<>=&|~ ,_[]'\"sincoexplgqrtaPwdH:", max_size=80))
def test_random_text_gives_an_expression_or_a_value_error(text: str) -> None:
    try:
        result = parse_expression(text, names=("x", "y", "t"), what="f")
    except ValueError as err:
        assert str(err).startswith("f:")
    else:
        assert isinstance(result, sympy.Basic)


# -- symbolic helpers ----------------------------------------------------------------------------------------------
def test_verify_formula_and_is_zero_refuse_attack_strings(marker: Path) -> None:
    problem = kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)])
    attack = _attacks(marker)[0]
    with pytest.raises(ValueError, match="formula"):
        verify_formula(attack, problem)
    with pytest.raises(ValueError, match="expr"):
        is_zero(attack, [sympy.Symbol("x")], torch.rand(3, 1, dtype=torch.float64))
    assert not marker.exists()
    assert verify_formula("sin(pi*x)", problem).is_solution  # strings that are formulas still work


def test_template_fix_refuses_attack_strings(marker: Path) -> None:
    template = Template(Param(0), [0.5])
    with pytest.raises(ValueError, match="value of constant 0"):
        template.fix(0, _attacks(marker)[1])
    with pytest.raises(TypeError, match="value of constant 0"):
        template.fix(0, [1.0])  # type: ignore[arg-type]
    template.fix(0, "sqrt(2)/2")
    assert template.exact[0] == sympy.sqrt(2) / 2 and float(template.theta[0]) == pytest.approx(2**-0.5)
    assert not marker.exists()


def test_symbolic_network_state_with_an_attack_string(marker: Path) -> None:
    net = SymbolicNetwork([[["x"]], [["sin"]]])
    net.symbolic_layers()[0].fix(2, 0, 0, sympy.pi)
    state = net.state_dict()
    key = next(k for k in state if k.endswith("_extra_state") and state[k]["exact"])
    copy = SymbolicNetwork([[["x"]], [["sin"]]])
    copy.load_state_dict(state)  # the exact constant is stored as a string of the grammar and read back
    exact = copy.symbolic_layers()[0].exact
    assert exact == net.symbolic_layers()[0].exact and exact[(2, 0, 0)] == sympy.pi
    forged = dict(state)
    forged[key] = {"functions": state[key]["functions"], "exact": {(2, 0, 0): _attacks(marker)[0]}}
    with pytest.raises(ValueError, match="exact constant"):
        SymbolicNetwork([[["x"]], [["sin"]]]).load_state_dict(forged)
    forged[key] = {"functions": state[key]["functions"], "exact": {(9, 0, 0): "1"}}
    with pytest.raises(ValueError, match="names constant"):
        SymbolicNetwork([[["x"]], [["sin"]]]).load_state_dict(forged)
    assert not marker.exists()


# -- checkpoints ---------------------------------------------------------------------------------------------------
def _with_header(payload: bytes, version: int = VERSION) -> bytes:
    header = {"format": FORMAT, "version": version, "payload_bytes": len(payload)}
    header["sha256"] = hashlib.sha256(payload).hexdigest()
    return b"KANPDE-CHECKPOINT\n" + json.dumps(header).encode() + b"\n" + payload


def _saved(data: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(data, buffer)
    return buffer.getvalue()


class _RunsCode:
    """Unpickling this runs a shell command (what a hostile checkpoint would hold)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.fixture(scope="module")
def good_payload(tmp_path_factory: pytest.TempPathFactory) -> dict:
    problem = kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    solver = kp.Solver(problem, width=[1, 3, 1], seed=0, n_interior=50, n_boundary=8, n_test=100)
    solver.solve(grid_schedule=[3], steps=2, progress=False)
    data = save_checkpoint(solver, tmp_path_factory.mktemp("ckpt") / "good.kpt").read_bytes()
    return torch.load(io.BytesIO(data.split(b"\n", 2)[2]), weights_only=True)


def test_a_pickle_that_runs_code_is_never_loaded(tmp_path: Path, marker: Path, good_payload: dict) -> None:
    hostile = dict(good_payload, history=[_RunsCode(f"touch {marker}")])
    path = tmp_path / "hostile.kpt"
    path.write_bytes(_with_header(_saved(hostile)))
    with pytest.raises(ValueError, match="not a data-only kanpde checkpoint"):
        load_checkpoint(path)
    path.write_bytes(_with_header(_saved(_RunsCode(f"touch {marker}"))))
    with pytest.raises(ValueError, match="not a data-only kanpde checkpoint"):
        kp.Solver.load(path)
    assert not marker.exists()


def test_old_pickled_format_is_refused_with_how_to_recreate(tmp_path: Path, marker: Path) -> None:
    path = tmp_path / "old.kpt"
    path.write_bytes(_with_header(_saved({"format": FORMAT, "x": _RunsCode(f"touch {marker}")}), version=1))
    with pytest.raises(ValueError, match=r"version 1.*pickled.*Re-create it.*solver\.save"):
        load_checkpoint(path)
    assert not marker.exists()


def _forgeries(marker: Path) -> list[tuple[str, object, str]]:
    """(field path, forged value, expected message) for forged payloads with valid headers and checksums."""
    attack = _attacks(marker)[0]
    return [
        ("history", ["bogus"], r"history\[0\] must be a dict"),
        ("history", [{"step": 0, "stage": 0, "grid": 3, "loss": "x", "terms": {}, "seconds": 0.0}], "history.*loss"),
        ("history", {"step": 1}, "history must be a list"),
        ("steps_done", -1, "steps_done must be an integer"),
        ("settings.width", "1,3,1", "settings.width must be a list"),
        ("settings.evil", 1, "settings has the wrong keys.*unexpected: \\['evil'\\]"),
        ("settings.dtype", "float16", "settings.dtype must be one of"),
        ("settings.seed", 2**70, "settings.seed must be an integer"),
        ("settings.n_test", 10**12, "settings.n_test must be an integer from 1 to 100000000"),
        ("settings.grid", 90_000, r"describe a network of \d+ coefficients, but approximation_state holds only"),
        ("architecture", [], "architecture must be a list of 2 layers"),
        ("architecture.0.grid_size", 10**9, r"architecture\[0\] needs coefficients of shape"),
        ("approximation_state.model.layers.0.coef", torch.zeros(1, 3, 5, dtype=torch.float64),
         r"architecture\[0\] needs coefficients"),
        ("approximation_state.center", torch.zeros(7, dtype=torch.float64), r"approximation_state\['center'\] must be"),
        ("approximation_state.scale", torch.full((1,), float("nan"), dtype=torch.float64), "non-finite"),
        ("generator_state", torch.zeros(3, dtype=torch.uint8), "generator_state must be a uint8 tensor"),
        ("problem.recipe.exact", attack, "problem.recipe|exact"),
        ("problem.recipe.f", "x" * 20000, "characters"),
        ("problem.recipe.class", "os.system", "problem.recipe.class must be 'Poisson' or 'Heat'"),
        ("problem.recipe.domain", {"kind": "Box", "lower": [1.0], "upper": [0.0]}, "problem.recipe|lower"),
        ("problem.recipe.domain.kind", "MeshDomain", "problem.recipe.domain must be a geometry"),
        ("problem.recipe.bcs", [{"kind": "Dirichlet", "value": "0", "on": "__class__", "field": 0}],
         r"bcs\[0\]\.on must be a side name"),
        ("problem.recipe", None, "without problem="),
        ("problem.coords", ["x", "t"], "problem.recipe describes a problem in"),
        ("extra.lm_max_entries", "many", "extra.lm_max_entries"),
        ("model_seed", 1.5, "model_seed must be"),
    ]  # fmt: skip


def _forged(payload: dict, field: str, value: object) -> dict:
    forged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in payload.items()}
    if field.startswith("approximation_state."):
        forged["approximation_state"][field.split(".", 1)[1]] = value
        return forged
    *parents, last = field.split(".")
    node = forged
    for name in parents:
        child = node[int(name)] if isinstance(node, list) else node[name]
        child = dict(child) if isinstance(child, dict) else list(child)
        if isinstance(node, list):
            node[int(name)] = child
        else:
            node[name] = child
        node = child
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return forged


def test_forged_payloads_with_valid_checksums_are_refused(tmp_path: Path, marker: Path, good_payload: dict) -> None:
    path = tmp_path / "forged.kpt"
    path.write_bytes(_with_header(_saved(good_payload)))
    assert load_checkpoint(path).history[-1].step == good_payload["history"][-1]["step"]  # the untouched payload loads
    for field, value, message in _forgeries(marker):
        path.write_bytes(_with_header(_saved(_forged(good_payload, field, value))))
        with pytest.raises(ValueError, match=message):
            load_checkpoint(path)
    missing = {k: v for k, v in good_payload.items() if k != "problem"}
    path.write_bytes(_with_header(_saved(missing)))
    with pytest.raises(ValueError, match=r"payload has the wrong keys \(missing: \['problem'\]"):
        load_checkpoint(path)
    assert not marker.exists()


@settings(max_examples=200, **PROPERTY)
@given(data=st.binary(max_size=2000), wrap=st.booleans())
def test_random_bytes_give_only_value_errors(data: bytes, wrap: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.kpt"
        path.write_bytes(_with_header(data) if wrap else data)
        with pytest.raises(ValueError, match="kanpde checkpoint"):
            load_checkpoint(path)


# -- the CLI --------------------------------------------------------------------------------------------------------
def _hostile_folder(tmp_path: Path, marker: Path) -> None:
    folder = tmp_path / "problems"
    folder.mkdir()
    code = f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
    for name in ("__init__", "poisson_1d", "evil"):
        (folder / f"{name}.py").write_text(code + "def make_problem():\n    raise SystemExit('hostile')\n")


def _kanpde(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from kanpde.cli import main; sys.exit(main(sys.argv[1:]))"
    env = dict(os.environ, PYTHONPATH=str(tmp_path))  # the worst case: the current folder importable first
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_never_imports_problems_from_the_current_folder(tmp_path: Path, marker: Path) -> None:
    _hostile_folder(tmp_path, marker)
    listed = _kanpde(tmp_path, "list")
    assert listed.returncode == 0 and "poisson_2d_sin" in listed.stdout and "evil" not in listed.stdout
    unknown = _kanpde(tmp_path, "solve", "evil", "--out", str(tmp_path / "out"))
    assert unknown.returncode != 0 and "unknown problem 'evil'" in unknown.stderr
    code = "from kanpde.cli import resolve_problem; print(resolve_problem('poisson_1d')[1].__file__)"
    found = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert Path(found.stdout.strip()) == ROOT / "problems" / "poisson_1d.py"
    assert not marker.exists()
    named = _kanpde(tmp_path, "solve", "problems/evil.py", "--out", str(tmp_path / "out"))  # named: trusted code
    assert marker.exists() and "hostile" in named.stderr


def test_an_enclosing_time_limit_still_fires_during_parsing() -> None:
    from kanpde.symbolic.simplify import Timeout, time_limit

    slow = "*".join(f"exp(log({'7' * 299}{i})/2)" for i in range(10))
    with pytest.raises(Timeout), time_limit(0.3):
        parse_expression(slow, what="f")


def test_a_time_limit_interrupted_while_entering_leaves_no_watchdog(monkeypatch: pytest.MonkeyPatch) -> None:
    """An enclosing limit's Timeout can land while an inner limit is being entered (its block never runs, so no
    __exit__): the inner watchdog must not stay armed and fire into whatever the thread runs later."""
    import threading

    from kanpde import _timeout

    class InterruptedTimer(threading.Timer):
        def start(self) -> None:
            super().start()
            raise _timeout.Timeout  # as if the enclosing limit fired right here

    monkeypatch.setattr(_timeout.threading, "Timer", InterruptedTimer)
    limit = _timeout.time_limit(0.05)
    with pytest.raises(_timeout.Timeout):
        with limit:
            pass
    assert _timeout._active_stack() == []
    time.sleep(0.2)  # the watchdog would have fired by now
    assert not limit.fired
