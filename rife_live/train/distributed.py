"""One process or many: where this process runs and how the processes talk (``torch.distributed``).

Launched by ``torchrun`` (PyTorch's own launcher) the environment names this process's ``RANK``,
``LOCAL_RANK`` and the ``WORLD_SIZE``; without it the run is a single process. Each process drives
one device: ``cuda:LOCAL_RANK`` when CUDA is there (backend NCCL), else the CPU (backend gloo).
Rendezvous (``MASTER_ADDR``/``MASTER_PORT``, or torchrun's ``--rdzv-*`` flags on several nodes) is
torchrun's business: ``init_process_group`` reads it from the environment.

``Group`` owns the process group: ``start`` once, ``stop`` at the end (also after an error).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from rife_live.errors import ConfigError

RANK_ENV = "RANK"
LOCAL_RANK_ENV = "LOCAL_RANK"
WORLD_SIZE_ENV = "WORLD_SIZE"
CUDA_BACKEND = "nccl"
CPU_BACKEND = "gloo"
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=30)  # a validation pass on one rank can be long


@dataclass(frozen=True)
class Placement:
    """This process: its rank among ``world`` processes, its device and the backend between them."""

    rank: int
    world: int
    local_rank: int
    device: torch.device
    backend: str

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the files and the progress; the others compute."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"the environment variable {name}={text!r} is not a whole number") from None


def placement(device: str = "auto") -> Placement:
    """Where this process runs: from torchrun's environment, or a single process."""
    rank = _env_int(RANK_ENV, 0)
    world = _env_int(WORLD_SIZE_ENV, 1)
    local_rank = _env_int(LOCAL_RANK_ENV, 0)
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available (this torch build or machine has none)")
    use_cuda = device != "cpu" and torch.cuda.is_available()
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(f"local rank {local_rank} has no GPU ({torch.cuda.device_count()} visible): "
                              f"start at most that many processes per node (--nproc-per-node)")
        return Placement(rank, world, local_rank, torch.device("cuda", local_rank), CUDA_BACKEND)
    return Placement(rank, world, local_rank, torch.device("cpu"), CPU_BACKEND)


class Group:
    """The process group of a multi-process run (a no-op for one process)."""

    def __init__(self, where: Placement) -> None:
        self.where = where
        self._started = False

    def start(self) -> None:
        if not self.where.distributed or self._started:
            return
        if self.where.device.type == "cuda":
            torch.cuda.set_device(self.where.device)
        dist.init_process_group(self.where.backend, timeout=COLLECTIVE_TIMEOUT)
        self._started = True

    def stop(self) -> None:
        if self._started:
            dist.destroy_process_group()
            self._started = False

    def all_sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of ``values`` over the processes (float64)."""
        tensor = torch.tensor(values, dtype=torch.float64, device=self._collective_device())
        if self._started:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.tolist()

    def any(self, flag: bool) -> bool:
        """True on every process when ``flag`` is true on any of them (e.g. a stop request)."""
        return self.all_sum([1.0 if flag else 0.0])[0] > 0

    def barrier(self) -> None:
        if self._started:
            dist.barrier()

    def _collective_device(self) -> torch.device:
        return self.where.device if self.where.backend == CUDA_BACKEND else torch.device("cpu")
