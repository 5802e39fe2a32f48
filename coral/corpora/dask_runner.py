"""The one Dask runner of the corpus stages: a task per item, on a local cluster or a scheduler.

``coral corpus parse``, parallel ``coral corpus stats`` and parallel ``coral label`` all
run through :func:`run_tasks`; with one worker and no scheduler it runs in this process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tqdm.auto import tqdm


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A ``distributed`` client: on the given scheduler, or on a local cluster of processes."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler)
        except (OSError, ValueError, TypeError) as error:  # unreachable, or not an address
            raise ConnectionError(f"Dask scheduler {scheduler!r}: cannot connect ({error})") from None
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: a fixed one clashes with other clusters
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def run_tasks(
    items: Sequence[Any],
    task: Callable[..., Any],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
    desc: str = "tasks",
    **arguments: Any,
) -> Iterator[tuple[int, Any, BaseException | None]]:
    """``task(item, **arguments)`` for every item, yielding ``(index, result, error)`` as tasks finish.

    In this process (in order; an error propagates) when ``workers == 1`` and no
    ``scheduler`` is given; otherwise on Dask: ``scheduler`` is a scheduler address, or a
    local cluster of ``workers`` processes (None: all cores) is started. A task that fails
    on Dask yields its error instead of a result, so the caller decides what a failure means.
    """
    bar = tqdm(total=len(items), desc=desc, unit=" task", disable=not progress)
    if scheduler is None and workers == 1:
        for index, item in enumerate(items):
            yield index, task(item, **arguments), None
            bar.update()
        bar.close()
        return
    from distributed import as_completed

    with dask_client(scheduler, workers) as client:
        futures = client.map(task, list(items), pure=False, **arguments)
        index_of = {future.key: index for index, future in enumerate(futures)}
        for future in as_completed(futures):
            bar.update()
            if future.status == "error":
                yield index_of[future.key], None, future.exception()
            else:
                yield index_of[future.key], future.result(), None
            future.release()
    bar.close()
