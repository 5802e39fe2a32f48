"""Training on several processes with torch DistributedDataParallel, as ``torchrun`` starts them.

torchrun sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` in every process it starts;
``distributed_run`` sees them and joins the process group (NCCL on GPUs, gloo on CPU). Without
them nothing changes: one process, the usual batches.

Batches are drawn by notebook (``notebook_batches``): each step's global batch is a set of whole
notebooks, dealt to the ranks so that each notebook is on one rank. The union of the ranks'
batches is the global batch whatever the number of processes, so W ranks with batch b take the
steps one process with batch W * b takes; with ``scaled_loss`` the gradient DDP averages is the
gradient of that one process's loss.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

# how long a rank waits in a collective call: the others wait while rank 0 labels the corpus
# (about 3,500 cells/s with the extended LFs, docs/benchmarks.md) and validates, which for a
# corpus of millions of cells outlasts torch's defaults (10 minutes for NCCL)
COLLECTIVE_TIMEOUT = timedelta(hours=2)


@dataclass(frozen=True)
class Shard:
    """This process's place in the process group."""

    rank: int
    world_size: int


@dataclass(frozen=True)
class RankBatch:
    """The items one rank computes in one step; ``counted`` False: a stand-in for a rank that the
    step's notebooks did not reach, computed so the collective calls line up, and weighted 0."""

    index: np.ndarray
    counted: bool = True


def current_shard() -> Shard | None:
    """This process's rank and world size, or None outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return Shard(dist.get_rank(), dist.get_world_size())
    return None


def is_main() -> bool:
    """True in the process that writes files: rank 0, or the only process."""
    shard = current_shard()
    return shard is None or shard.rank == 0


def started_by_torchrun() -> bool:
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


@contextmanager
def distributed_run(device: torch.device) -> Iterator[Shard | None]:
    """Join torchrun's process group for the block when torchrun started this process (NCCL on
    CUDA, each rank on GPU ``LOCAL_RANK``; gloo otherwise), and leave it after. A group that is
    already set up (by the caller) is used as it is and left to its owner."""
    if current_shard() is not None or not started_by_torchrun():
        yield current_shard()
        return
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=COLLECTIVE_TIMEOUT)
    try:
        yield current_shard()
    finally:
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op outside a process group)."""
    if current_shard() is not None:
        dist.barrier()


def broadcast_from_main(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (``value`` itself outside a process group). Pickled
    between this run's own processes only, never read from a file."""
    if current_shard() is None:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def check_same_on_every_rank(digest: str, what: str) -> None:
    """Raise on every rank when the ranks disagree about ``digest`` (e.g. they read different corpora)."""
    shard = current_shard()
    if shard is None:
        return
    digests: list[Any] = [None] * shard.world_size
    dist.all_gather_object(digests, digest)
    differing = [rank for rank, other in enumerate(digests) if other != digests[0]]
    if differing:
        raise ValueError(f"{what} differs between rank 0 and rank(s) {', '.join(map(str, differing))}: "
                         "every process must read the same files (a path every node sees alike)")


def all_reduce_sum(values: Sequence[float], device: torch.device) -> list[float]:
    """Element-wise sums over the ranks (the values themselves outside a process group)."""
    if current_shard() is None:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def scaled_loss(loss: Tensor, n_items: int, shard: Shard) -> Tensor:
    """``loss`` (a mean over this rank's ``n_items``) weighted by this rank's share of the step's items.

    DDP averages the ranks' gradients; weighting each rank's mean by ``world_size * n / N`` makes
    that average the gradient of the mean over all N items of the step, which is what one process
    with the whole global batch computes, though the ranks' batches differ in size.
    """
    total = all_reduce_sum([n_items], loss.device)[0]
    return loss * (shard.world_size * n_items / total)


def notebook_batches(notebook_ids: Sequence[Any], batch_size: int, shard: Shard,
                     generator: torch.Generator) -> list[RankBatch]:
    """This rank's items (indices into ``notebook_ids``, one entry per item) for every step of an epoch.

    The notebooks are shuffled with ``generator`` (seeded alike on every rank), then cut in that
    order into global batches of whole notebooks of at most ``world_size * batch_size`` items (a
    larger notebook makes a batch alone). Each global batch is dealt by notebook, largest first,
    to the rank holding the fewest items. The global batches do not depend on the number of
    ranks, only on the global batch size: one process with ``world_size * batch_size`` gets the
    union of what W ranks get. A rank that a step's notebooks do not reach (fewer notebooks than
    ranks) computes a stand-in, the step's first notebook, that ``counted`` marks to weight 0.
    """
    groups, inverse = np.unique(np.asarray(notebook_ids), return_inverse=True)
    members = np.split(np.argsort(inverse, kind="stable"), np.cumsum(np.bincount(inverse, minlength=len(groups)))[:-1])
    capacity = batch_size * shard.world_size
    global_batches: list[list[int]] = []
    size = 0
    for group in torch.randperm(len(groups), generator=generator).tolist():
        n = len(members[group])
        if not global_batches or size + n > capacity:
            global_batches.append([])
            size = 0
        global_batches[-1].append(group)
        size += n
    mine = []
    for notebooks in global_batches:
        loads = [0] * shard.world_size
        parts: list[list[int]] = [[] for _ in range(shard.world_size)]
        for group in sorted(notebooks, key=lambda g: -len(members[g])):
            rank = loads.index(min(loads))
            parts[rank].append(group)
            loads[rank] += len(members[group])
        own = parts[shard.rank]
        mine.append(RankBatch(np.concatenate([members[g] for g in own]), True) if own
                    else RankBatch(members[notebooks[0]], False))
    return mine
