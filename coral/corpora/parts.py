"""Runs that survive a kill: the input cut into parts, each finished part kept on disk, so that
rerunning the same command after an interruption (even kill -9) does only the rest.

``coral label`` and ``coral predict`` run this way, in one process or on Dask. A
:class:`PartStore` is a folder holding the run's plan (``plan.json``: inputs, parts, model,
options) and, for each finished part, its output and a sidecar (the problems it met and the
notebook ids it read). Both are written under temporary names and renamed, the sidecar first:
a part whose output exists is complete. A folder that holds another run's parts is emptied
and started afresh, never mixed in. The parts are joined in input order into the final
output, the same as an uninterrupted run writes, and the folder is then removed.

A notebook id met in two parts is kept where it comes first: parts that repeat an id read
before are run again with those ids to skip (and report), as one pass over the input would.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from coral.atomic import write_text
from coral.corpora.cells import CellPart
from coral.corpora.dask_runner import run_tasks
from coral.problems import Problem

PLAN_FILE = "plan.json"


@dataclass(frozen=True)
class PartStore:
    """The folder of a run's finished parts: ``part-<index>.<suffix>`` outputs and their
    ``part-<index>.json`` sidecars, beside ``plan.json``."""

    directory: Path
    suffix: str

    def start(self, plan: Mapping[str, Any]) -> None:
        """Take up the parts an interrupted run of the same ``plan`` left; parts of any other run
        (other inputs, model or options) are removed, never mixed in."""
        plan_file = self.directory / PLAN_FILE
        text = json.dumps(plan, indent=1, sort_keys=True, default=str)
        if not (plan_file.is_file() and plan_file.read_text(encoding="utf-8") == text):
            self.remove()
        self.directory.mkdir(parents=True, exist_ok=True)
        write_text(plan_file, text)

    def output(self, index: int) -> Path:
        return self.directory / f"part-{index:05d}{self.suffix}"

    def is_finished(self, index: int) -> bool:
        return self.output(index).is_file()

    def write_sidecar(self, index: int, problems: Iterable[Problem], notebook_ids: Collection[str]) -> None:
        """Write part ``index``'s sidecar; call it before the part's output is renamed into place."""
        record = {"problems": [asdict(problem) for problem in problems], "notebook_ids": sorted(notebook_ids)}
        write_text(self._sidecar(index), json.dumps(record, ensure_ascii=False))

    def problems(self, index: int) -> list[Problem]:
        return [Problem(**problem) for problem in self._read_sidecar(index)["problems"]]

    def notebook_ids(self, index: int) -> list[str]:
        return self._read_sidecar(index)["notebook_ids"]

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def _sidecar(self, index: int) -> Path:
        return self.directory / f"part-{index:05d}.json"

    def _read_sidecar(self, index: int) -> dict[str, Any]:
        return json.loads(self._sidecar(index).read_text(encoding="utf-8"))


def repeated_ids(ids_by_part: Sequence[Collection[str]], groups: Sequence[str | None] | None = None) -> dict[int, frozenset[str]]:
    """For each part holding notebook ids that an earlier part holds, those ids. Ids shared by
    parts of one group (the Parquet parts of one parsed directory, where a notebook's cells may
    span two parts) are no repeats; parts of group None (corpus parts) have no such exception."""
    first_group: dict[str, str | None] = {}  # notebook id -> the group of the first part holding it
    repeats: dict[int, frozenset[str]] = {}
    for index, ids in enumerate(ids_by_part):
        group = groups[index] if groups is not None else None
        again = frozenset(i for i in ids if i in first_group and (group is None or first_group[i] != group))
        if again:
            repeats[index] = again
        for notebook_id in ids:
            first_group.setdefault(notebook_id, group)
    return repeats


def run_parts(
    parts: Sequence[CellPart],
    task: Callable[..., None],
    store: PartStore,
    failure: Callable[[CellPart, BaseException], Exception],
    *,
    scheduler: str | None = None,
    workers: int | None = 1,
    progress: bool = False,
    desc: str = "parts",
    **arguments: Any,
) -> None:
    """Finish every part not finished in ``store``: ``task((index, part, store, skip), **arguments)``
    writes part ``index``, skipping the notebook ids in ``skip``. Parts that repeat an id of an
    earlier part are then run again with those ids to skip. A part that fails stops the run with
    ``failure(part, error)``; the finished parts stay for a rerun."""

    def run(indices: Sequence[int], skips: Mapping[int, frozenset[str]]) -> None:
        jobs = [(index, parts[index], store, skips.get(index, frozenset())) for index in indices]
        runs = run_tasks(jobs, task, scheduler=scheduler, workers=workers, progress=progress, desc=desc, **arguments)
        for position, _, error in runs:
            if error is not None:
                raise failure(parts[jobs[position][0]], error) from error

    run([index for index in range(len(parts)) if not store.is_finished(index)], {})
    repeats = repeated_ids([store.notebook_ids(index) for index in range(len(parts))], [part.group for part in parts])
    if repeats:
        run(sorted(repeats), repeats)
