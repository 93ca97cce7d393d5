"""Sums across processes for data-parallel training on ``torch.distributed`` (gloo on CPU, NCCL on GPUs).

Every rank draws the same collocation points (same seed), keeps its own shard of them, and evaluates its part of
each loss term as ``sum(residual^2) / n_total``; summing those parts (and their parameter gradients) over the ranks
gives exactly the single-process loss and gradient, so every rank's optimiser takes the same step. kanpde uses
``torch.distributed`` as it is: :class:`Communicator` only wraps the one collective it needs (a sum).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Communicator", "SINGLE", "communicator", "init_from_environment"]


@dataclass(frozen=True)
class Communicator:
    """The ranks of a data-parallel run; ``world_size == 1`` is a single process (sums are the identity).

    Attributes:
        rank: this process's index, 0 ... world_size - 1.
        world_size: the number of processes.
    """

    rank: int = 0
    world_size: int = 1

    @property
    def is_root(self) -> bool:
        """Rank 0: the process that prints and writes files."""
        return self.rank == 0

    def sum_(self, tensor: Tensor) -> Tensor:
        """Sum ``tensor`` over the ranks, in place (every rank gets the same result), and return it."""
        if self.world_size == 1:
            return tensor
        if tensor.device.type == "cpu" and torch.distributed.get_backend() == "nccl":  # NCCL sums GPU tensors only
            on_gpu = tensor.to(f"cuda:{torch.cuda.current_device()}")
            torch.distributed.all_reduce(on_gpu, op=torch.distributed.ReduceOp.SUM)
            return tensor.copy_(on_gpu.cpu())
        torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.SUM)
        return tensor

    def shard(self, tensor: Tensor) -> Tensor:
        """This rank's contiguous part of the rows of ``tensor`` (sizes differ by at most one row)."""
        if self.world_size == 1:
            return tensor
        return torch.tensor_split(tensor, self.world_size)[self.rank]


SINGLE = Communicator()


def communicator() -> Communicator:
    """The communicator of the initialised default process group (raises when there is none)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        raise RuntimeError(
            "distributed=True needs an initialised torch.distributed process group: run under "
            "`torchrun --nproc_per_node=N ...` (kanpde solve --distributed initialises it), or call "
            "torch.distributed.init_process_group first"
        )
    return Communicator(torch.distributed.get_rank(), torch.distributed.get_world_size())


def init_from_environment(device: str = "cpu") -> Communicator:
    """Initialise the default process group from torchrun's environment (gloo on CPU, NCCL on CUDA).

    Does nothing more than return the communicator when a group already exists.
    """
    if torch.distributed.is_initialized():
        return communicator()
    missing = [name for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if name not in os.environ]
    if missing:
        raise RuntimeError(
            f"--distributed needs torchrun's environment (missing {', '.join(missing)}); start with "
            "`torchrun --nproc_per_node=N -m kanpde solve ... --distributed`"
        )
    backend = "nccl" if str(device).startswith("cuda") else "gloo"
    torch.distributed.init_process_group(backend=backend)
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    return communicator()
