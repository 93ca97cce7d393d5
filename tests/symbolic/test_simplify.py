"""Simplification and its time limits (which work in any thread, without signals)."""

from __future__ import annotations

import threading
import time

import pytest
import sympy

from kanpde.symbolic.simplify import Timeout, rationalize_floats, simplify_expression, time_limit


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_simplify_keeps_the_shortest_rewrite() -> None:
    x, y = sympy.symbols("x y")
    expr = sympy.cos(sympy.pi * x - sympy.pi * y) / 2 - sympy.cos(sympy.pi * x + sympy.pi * y) / 2
    assert simplify_expression(expr) == sympy.sin(sympy.pi * x) * sympy.sin(sympy.pi * y)
    assert rationalize_floats(sympy.Float(0.5) * x + sympy.Float(6.283185307179586)) == x / 2 + 2 * sympy.pi


def test_time_limit_interrupts_pure_python_work() -> None:
    start = time.monotonic()
    with pytest.raises(Timeout), time_limit(0.2):
        _spin(10)
    assert time.monotonic() - start < 5


def test_time_limit_works_in_a_thread_beside_other_threads() -> None:
    outcome: dict[str, object] = {}

    def limited() -> None:
        try:
            with time_limit(0.2):
                _spin(10)
            outcome["limited"] = "finished"
        except Timeout:
            outcome["limited"] = "timeout"

    def free() -> None:
        _spin(0.6)  # must not receive the other thread's Timeout
        outcome["free"] = "finished"

    threads = [threading.Thread(target=limited), threading.Thread(target=free)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert outcome == {"limited": "timeout", "free": "finished"}


def test_a_limit_leaves_nothing_behind_when_its_block_ends() -> None:
    outcomes = set()
    for i in range(100):  # limits about as long as the work: the watchdog fires before, during or after the exit
        try:
            with time_limit(0.0005 * (i % 5 + 1)):
                _spin(0.001)
            outcomes.add("finished")
        except Timeout:
            outcomes.add("timeout")
    _spin(0.3)  # a late Timeout would arrive here and fail the test
    assert outcomes <= {"finished", "timeout"} and outcomes
    with time_limit(5):
        assert sum(range(10)) == 45


def test_a_limit_whose_timeout_was_swallowed_raises_when_its_block_ends() -> None:
    swallowed = 0
    start = time.monotonic()
    with pytest.raises(Timeout), time_limit(0.3):
        for _ in range(5):
            try:
                with time_limit(0.2):  # nested limits: each has its own watchdog
                    _spin(10)
            except Exception:  # noqa: BLE001, S112 - what simplify_expression does with a failed rewrite
                swallowed += 1
                continue
    assert swallowed == 5 and time.monotonic() - start < 5  # every inner block was cut at 0.2 s


def test_simplify_in_a_thread_skips_a_slow_rewrite(monkeypatch: pytest.MonkeyPatch) -> None:
    from kanpde.symbolic import simplify

    x = sympy.Symbol("x")

    def slow(e: sympy.Expr) -> sympy.Expr:
        _spin(30)
        return sympy.Integer(0)

    monkeypatch.setattr(simplify, "_rewrites", lambda: [slow, sympy.expand])
    result: list[sympy.Expr] = []
    thread = threading.Thread(target=lambda: result.append(simplify_expression((x + 1) ** 2 - x**2, seconds=0.3)))
    start = time.monotonic()
    thread.start()
    thread.join(20)
    assert result == [2 * x + 1] and time.monotonic() - start < 10
