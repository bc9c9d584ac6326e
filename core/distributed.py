"""Training one model over several processes under ``torchrun``: PyTorch's own engine, nothing invented.

``torchrun --nproc_per_node=N main.py train ...`` starts N copies of the command with ``WORLD_SIZE``,
``RANK``, ``LOCAL_RANK`` and the rendezvous address in their environment. ``start`` joins them into one
process group (gloo on the CPU, NCCL on CUDA, each rank on its own GPU), and the trainer then wraps
the model in ``DistributedDataParallel``, which averages the gradients at every step. Each rank takes
its own share of the length-bucketed batches (the same order on every rank, from the seed; rank r takes
batches r, r + N, ...), validation and test are split the same way and their predictions gathered, so
every rank makes the same early-stopping decision, and only rank 0 prints, records and writes files.

Without torchrun (no ``WORLD_SIZE``, or 1) nothing here does anything: a ``World`` of one.
A rank that dies makes the others' next collective fail at once (its connections close), and torchrun
stops the rest; a rank that hangs makes the others time out after ``TIMEOUT_S``. Either way they stop
with one message (``DistributedError``), never hang for good.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import numpy as np
import torch

from core.errors import StudioError

T = TypeVar("T")

# The longest a rank waits for the others at a collective before giving up. A rank that dies closes its
# connections and the others fail at once; this bounds a rank that hangs, and must outlast rank 0's
# checkpoint writes between steps.
TIMEOUT_S = 300


# How long the other ranks wait for rank 0's one-off work before training (converting a large dataset into
# the Arrow cache, learning its vocabulary, tokenizing it): minutes for millions of rows, so not TIMEOUT_S.
PREPARE_TIMEOUT_S = 6 * 3600

_prepare_group = None  # a gloo group with PREPARE_TIMEOUT_S, made with the default group (see ``start``)


class DistributedError(StudioError):
    """Another process of a distributed training stopped, or the group could not be formed."""


@dataclass(frozen=True)
class World:
    """This process's place among the processes training one model (a world of one without torchrun)."""

    size: int = 1
    rank: int = 0
    local_rank: int = 0
    backend: str = ""  # "gloo" or "nccl"; "" for a single process

    @property
    def main(self) -> bool:
        """The rank that prints, records the run and writes the model file."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def launched_size() -> int:
    """The number of processes torchrun started (1 when it did not start this one)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def current() -> World:
    """The process group this process belongs to, or a world of one."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return World()
    dist = torch.distributed
    return World(dist.get_world_size(), dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0")),
                 str(dist.get_backend()))


def start(device: str = "auto") -> World:
    """Join the process group torchrun set up (once per process); a world of one without torchrun.

    ``device`` is the training setting: a CUDA device (auto with a GPU, or cuda) means NCCL with each
    rank on GPU ``LOCAL_RANK``; anything else gloo on the CPU.
    """
    if launched_size() == 1:
        return World()
    if not torch.distributed.is_available():
        raise DistributedError("this PyTorch build has no torch.distributed: train in one process")
    if torch.distributed.is_initialized():
        return current()
    asked = device.strip().lower()
    use_cuda = torch.cuda.is_available() and (asked in ("auto", "cuda") or asked.startswith("cuda:"))
    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(_gpu_of(int(os.environ.get("LOCAL_RANK", "0"))))
    global _prepare_group
    try:
        torch.distributed.init_process_group(backend, timeout=timedelta(seconds=TIMEOUT_S))
        # made now, by every rank at once: making it later, when one rank arrives minutes after the others,
        # would itself wait under TIMEOUT_S
        _prepare_group = torch.distributed.new_group(backend="gloo", timeout=timedelta(seconds=PREPARE_TIMEOUT_S))
    except (RuntimeError, ValueError) as e:
        raise DistributedError(f"could not join the other training processes: {e}") from e
    return current()


def training_device(world: World, device: str) -> str:
    """The device setting for this rank: its own GPU under NCCL, else what was asked."""
    return f"cuda:{_gpu_of(world.local_rank)}" if world.backend == "nccl" else device


def _gpu_of(local_rank: int) -> int:
    """The GPU a local rank uses (a machine may show each process only its own GPU)."""
    return local_rank % max(torch.cuda.device_count(), 1)


def shard(batches: list[np.ndarray], world: World) -> list[np.ndarray]:
    """This rank's batches: every ``world.size``-th from its rank on, the same count on every rank.

    DistributedDataParallel needs every rank to take the same number of steps (each waits for the
    others' gradients), so the last ``len(batches) % world.size`` batches are left out of this epoch.
    """
    if not world.distributed:
        return batches
    usable = len(batches) - len(batches) % world.size
    return batches[world.rank:usable:world.size]


def gather_rows(rows: np.ndarray, world: World) -> list[np.ndarray]:
    """Every rank's ``rows`` (n_r, k) float array, in rank order (ranks may hold different counts)."""
    if not world.distributed:
        return [rows]
    dist = torch.distributed
    device = torch.device(f"cuda:{_gpu_of(world.local_rank)}") if world.backend == "nccl" else torch.device("cpu")
    count = torch.tensor([rows.shape[0]], dtype=torch.int64, device=device)
    counts = [torch.zeros_like(count) for _ in range(world.size)]
    _collective(lambda: dist.all_gather(counts, count))
    most = int(max(int(c) for c in counts))
    padded = torch.zeros((most, rows.shape[1]), dtype=torch.float64, device=device)
    padded[: rows.shape[0]] = torch.as_tensor(rows, dtype=torch.float64)
    parts = [torch.zeros_like(padded) for _ in range(world.size)]
    _collective(lambda: dist.all_gather(parts, padded))
    return [p[: int(c)].cpu().numpy() for p, c in zip(parts, counts, strict=True)]


def all_sum(values: np.ndarray, world: World) -> np.ndarray:
    """The element-wise sum of every rank's 1-d ``values``."""
    if not world.distributed:
        return np.asarray(values, dtype=np.float64)
    return np.sum([rows[0] for rows in gather_rows(np.asarray(values, dtype=np.float64)[None, :], world)], axis=0)


def all_max(value: float, world: World) -> float:
    return max(_every_rank(value, world))


def is_transport_failure(error: BaseException) -> bool:
    """Whether ``error`` is the process group failing (a rank gone), not a fault of this rank's own work."""
    kinds = tuple(k for k in (getattr(torch.distributed, "DistBackendError", None),
                              getattr(torch.distributed, "DistNetworkError", None)) if k is not None)
    text = str(error).lower()
    return isinstance(error, kinds) or any(w in text for w in ("gloo", "nccl", "connection reset", "connection closed"))


def all_equal(value: float, world: World) -> bool:
    """Whether every rank holds the same ``value`` (a checksum of the weights, say)."""
    return len(set(_every_rank(value, world))) == 1


def _every_rank(value: float, world: World) -> list[float]:
    """Every rank's ``value``, in rank order."""
    if not world.distributed:
        return [value]
    return [float(rows[0, 0]) for rows in gather_rows(np.array([[value]], dtype=np.float64), world)]


def barrier(world: World) -> None:
    if world.distributed:
        _collective(torch.distributed.barrier)


def wait_for_preparation(world: World) -> None:
    """A barrier at which the other ranks wait for rank 0's one-off work, up to ``PREPARE_TIMEOUT_S``. A rank
    that dies still ends it at once (its connections close)."""
    if world.distributed:
        group = _prepare_group
        _collective(lambda: torch.distributed.barrier(group=group), PREPARE_TIMEOUT_S)


def first_on_rank0(world: World, work: Callable[[], T], when: bool = True) -> T:
    """``work()``, done by rank 0 before the other ranks (``when`` they would share its result through a
    cache: converting and tokenizing a large dataset), so it is done once and the others read it."""
    if not (world.distributed and when):
        return work()
    if world.main:
        result = work()
        wait_for_preparation(world)
        return result
    wait_for_preparation(world)
    return work()


def finish(world: World) -> None:
    """Leave the process group (at the end of the command)."""
    global _prepare_group
    if world.distributed and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()  # the default group and every other one
    _prepare_group = None


def _collective(op, timeout_s: int = TIMEOUT_S) -> None:
    """Run one collective; another rank gone (its connection closed, or no answer in ``timeout_s``)
    becomes one ``DistributedError`` instead of a traceback from the transport."""
    try:
        op()
    except (RuntimeError, ValueError) as e:
        raise DistributedError("another training process stopped (or did not answer within "
                               f"{timeout_s} s), so this one stops too: {str(e).splitlines()[0][:200]}") from e
