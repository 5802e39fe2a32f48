"""Work units: a corpus cut into pieces of about N notebooks, each read and parsed as one task.

A unit is a chunk of ``.ipynb`` files, or a range of lines of a shard / members of an
archive. Its name hashes its inputs (paths, ranges, sizes and modification times) and the
reader limits, so changed inputs are parsed afresh rather than mistaken for finished work.
Planning only counts lines and members; nothing is parsed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from coral.corpora.parquet import SCHEMA_VERSION
from coral.corpora.readers import (
    PathLike, ReaderOptions, Source, count_records, discover_sources, first_of_each_id, read_source,
)
from coral.corpora.records import Notebook
from coral.problems import UNREADABLE_NOTEBOOK, ProblemLog, valid_unicode

DEFAULT_NOTEBOOKS_PER_UNIT = 500


@dataclass(frozen=True, slots=True)
class WorkUnit:
    """A piece of a corpus parsed into one Parquet part: record ranges of one or more sources."""

    name: str
    slices: tuple[tuple[Source, int, int | None], ...]

    def notebooks(self, problems: ProblemLog, options: ReaderOptions, seen: set[str] | None = None) -> Iterator[Notebook]:
        """The notebooks of every slice; a reader failure no reader foresaw ends its slice, logged, not the unit.
        A whole notebook whose id is in ``seen`` (or met before in the unit) is logged and skipped, as
        :func:`~coral.corpora.readers.read_notebooks` does; ``seen`` gains the ids of the unit's notebooks."""
        seen = set() if seen is None else seen
        for source, start, stop in self.slices:
            read = 0
            try:
                for notebook in first_of_each_id(source, read_source(source, problems, options, start, stop), seen, problems):
                    read += 1
                    yield notebook
            except Exception as error:
                problems.add(f"{source.path}[{start}:{'' if stop is None else stop}]", None, UNREADABLE_NOTEBOOK,
                             f"{error!r}; the {read} notebooks before it were read")

    def describe(self) -> list[str]:
        return [valid_unicode(f"{source.path}[{start}:{'' if stop is None else stop}]") for source, start, stop in self.slices]


def _unit_name(ordinal: int, slices: list[tuple[Source, int, int | None]], options: ReaderOptions) -> str:
    digest = hashlib.sha1(f"{SCHEMA_VERSION}|{options!r}".encode())
    for source, start, stop in slices:
        status = source.path.stat()
        where = f"{source.path.resolve()}|{source.kind}|{source.notebook_id}|{start}|{stop}"
        digest.update(f"{where}|{status.st_size}|{status.st_mtime_ns}".encode("utf-8", "surrogatepass"))
    return f"part-{ordinal:05d}-{digest.hexdigest()[:12]}"


def plan_work_units(
    paths: PathLike | Iterable[PathLike],
    format: str | None = None,
    problems: ProblemLog | None = None,
    notebooks_per_unit: int = DEFAULT_NOTEBOOKS_PER_UNIT,
    options: ReaderOptions | None = None,
) -> list[WorkUnit]:
    """Split the input into work units of about ``notebooks_per_unit`` records each, in order.

    Single ``.ipynb`` files are grouped; shards and archives are cut into record ranges
    (the last range of a file is open-ended, so its reader meets and logs any damage at
    the end), except a JuICe file read with ``juice_cells="all"``, which stays whole so that
    each cell is labeled once. Planning only counts lines and members; nothing is parsed.
    """
    if notebooks_per_unit < 1:
        raise ValueError("notebooks_per_unit must be at least 1")
    options = options or ReaderOptions()
    groups: list[list[tuple[Source, int, int | None]]] = []
    pending_files: list[tuple[Source, int, int | None]] = []
    for source in discover_sources(paths, format, problems):
        if source.kind == "ipynb":
            pending_files.append((source, 0, None))
            if len(pending_files) == notebooks_per_unit:
                groups.append(pending_files)
                pending_files = []
            continue
        if pending_files:
            groups.append(pending_files)
            pending_files = []
        # Labeling every JuICe cell once needs the whole file in one stream (records repeat cells).
        whole = source.kind == "juice" and options.juice_cells == "all"
        starts = [0] if whole else list(range(0, max(count_records(source), 1), notebooks_per_unit))
        for position, start in enumerate(starts):
            stop = starts[position + 1] if position + 1 < len(starts) else None
            groups.append([(source, start, stop)])
    if pending_files:
        groups.append(pending_files)
    return [WorkUnit(_unit_name(ordinal, group, options), tuple(group)) for ordinal, group in enumerate(groups)]
