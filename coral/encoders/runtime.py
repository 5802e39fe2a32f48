"""How many CPU threads torch uses: a runtime choice of the machine, not a model parameter;
and the device helpers the benchmarks time with.

torch's own default is one intra-op thread per core of the machine. On a machine that other
work keeps busy those threads spin waiting for cores and run slower than one thread does
(docs/encoders.md), so the default here is the cores this process may run on, less the ones
the 1-minute load average says are busy, capped where more threads stop paying at these
model sizes.
"""

from __future__ import annotations

import os

MAX_DEFAULT_THREADS = 8


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, where the OS reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_threads() -> int:
    """The available cores not taken by other work, between 1 and ``MAX_DEFAULT_THREADS``."""
    idle = (os.cpu_count() or 1) - round(os.getloadavg()[0]) if hasattr(os, "getloadavg") else available_cores()
    return max(1, min(available_cores(), idle, MAX_DEFAULT_THREADS))


def set_threads(threads: int | None = None) -> int:
    """Give torch ``threads`` CPU threads (``default_threads()`` when None); returns the number set."""
    import torch

    chosen = threads or default_threads()
    torch.set_num_threads(chosen)
    return chosen


def synchronize(device) -> None:
    """Wait for the work queued on ``device`` (a CUDA GPU runs asynchronously), so timings are true."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device) -> str:
    """``cpu``, or the GPU's name, for benchmark headers."""
    import torch

    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
