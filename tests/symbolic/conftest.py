"""Symbolic tests run single-threaded: their tensors are small and latency-bound, and on a busy 2-core machine
torch's second intra-op thread made fit_edge 30x slower (0.4 s -> 14 s of CPU time, measured)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
