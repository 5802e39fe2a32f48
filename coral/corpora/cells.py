"""The one way to read input cells: parsed code cells from any input a command takes.

An input is a notebook file or folder, an archive, a JSON Lines shard (CORAL, JuICe, DSP
or coral's own), or a ``coral corpus parse`` output directory. :func:`read_cells` streams
the parsed cells of all of them in input order (corpora are read and parsed here; parsed
directories are read back, and the problems their parse run logged are carried over). :func:`plan_cell_parts` cuts the same inputs into parts that
Dask workers read on their own (a Parquet part, or a corpus work unit).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from coral.corpora.parquet import is_parsed_dir, parse_problems, parsed_parts, read_parsed_cells, read_part_cells
from coral.corpora.parse import parse_notebook
from coral.corpora.readers import PathLike, ReaderOptions, as_path_list, read_notebooks
from coral.corpora.records import Notebook, ParsedCell
from coral.corpora.units import DEFAULT_NOTEBOOKS_PER_UNIT, WorkUnit, plan_work_units
from coral.problems import DUPLICATE_NOTEBOOK, PARSE_FAILED, ProblemLog, problem_log


def parse_safely(notebook: Notebook, problems: ProblemLog) -> list[ParsedCell]:
    """Parse one notebook; a failure the parser did not foresee skips the notebook, logged."""
    try:
        return parse_notebook(notebook, problems)
    except Exception as error:
        problems.add(notebook.origin, notebook.id, PARSE_FAILED, repr(error))
        return []


def read_cells(
    paths: PathLike | Iterable[PathLike],
    format: str | None = None,
    problems: ProblemLog | None = None,
    options: ReaderOptions | None = None,
    origins: dict[str, str] | None = None,
) -> Iterator[ParsedCell]:
    """Parsed code cells, in input order, from corpora (read and parsed in this process) and
    parsed Parquet directories (read back). ``format`` applies to the corpora. ``origins``,
    when given, collects where each notebook read here came from, by notebook id (parsed
    directories do not record it). A notebook whose id an earlier input already gave is logged
    and skipped (the first is kept)."""
    problems = problem_log(problems)
    seen: set[str] = set()
    for path in as_path_list(paths):
        if is_parsed_dir(path):
            problems.extend(parse_problems(path))
            kept: set[str] = set()
            yield from _unrepeated(read_parsed_cells(path), frozenset(seen), str(path), problems, kept)
            seen |= kept
        else:
            for notebook in read_notebooks([path], format, problems, options, seen):
                if origins is not None:
                    origins[notebook.id] = notebook.origin
                yield from parse_safely(notebook, problems)


def _unrepeated(cells: Iterable[ParsedCell], skip: frozenset[str], origin: str, problems: ProblemLog,
                kept: set[str]) -> Iterator[ParsedCell]:
    """Parsed ``cells`` less those of the notebooks in ``skip`` (read from an earlier input), each
    such notebook logged once; ``kept`` gains the notebook ids of the others."""
    skipped: set[str] = set()
    for cell in cells:
        if cell.notebook_id in skip:
            if cell.notebook_id not in skipped:
                skipped.add(cell.notebook_id)
                problems.add(origin, cell.notebook_id, DUPLICATE_NOTEBOOK, "an id already read: the first is kept")
            continue
        kept.add(cell.notebook_id)
        yield cell


@dataclass(frozen=True, slots=True)
class CellPart:
    """A piece of the input that one task reads: a Parquet part of a parsed directory, or a
    work unit of a corpus (read and parsed by the task)."""

    parquet: Path | None = None
    unit: WorkUnit | None = None

    def cells(self, problems: ProblemLog, options: ReaderOptions | None = None,
              origins: dict[str, str] | None = None, seen: set[str] | None = None) -> Iterator[ParsedCell]:
        """The part's parsed cells; ``origins`` as ``read_cells`` fills it. Notebooks whose id is
        in ``seen`` are skipped and logged; ``seen`` gains the ids of those read (whole notebooks
        only, for a corpus part)."""
        if self.parquet is not None:
            kept: set[str] = set()
            yield from _unrepeated(read_part_cells(self.parquet), frozenset(seen or ()), str(self.parquet), problems, kept)
            if seen is not None:
                seen |= kept
        else:
            for notebook in self.unit.notebooks(problems, options or ReaderOptions(), seen):  # type: ignore[union-attr]
                if origins is not None:
                    origins[notebook.id] = notebook.origin
                yield from parse_safely(notebook, problems)

    @property
    def group(self) -> str | None:
        """The parsed directory of a Parquet part (a notebook's cells may span two parts of one
        directory, so ids those parts share are no repeats); None for a corpus part."""
        return str(self.parquet.parent) if self.parquet is not None else None

    @property
    def key(self) -> str:
        """What names the part in a run's plan: its Parquet file, or its unit's name (which hashes its inputs)."""
        return str(self.parquet) if self.parquet is not None else self.unit.name  # type: ignore[union-attr]

    def describe(self) -> str:
        return str(self.parquet) if self.parquet is not None else ", ".join(self.unit.describe())  # type: ignore[union-attr]


def plan_cell_parts(
    paths: PathLike | Iterable[PathLike],
    format: str | None = None,
    problems: ProblemLog | None = None,
    notebooks_per_unit: int | None = None,
    options: ReaderOptions | None = None,
) -> list[CellPart]:
    """The parts of the input, in input order (parsing nothing): each Parquet part of a
    parsed directory, and corpora cut into work units as ``coral corpus parse`` cuts them."""
    per_unit = notebooks_per_unit or DEFAULT_NOTEBOOKS_PER_UNIT
    parts: list[CellPart] = []
    for path in as_path_list(paths):
        if is_parsed_dir(path):
            problem_log(problems).extend(parse_problems(path))
            parts.extend(CellPart(parquet=part) for part in parsed_parts(path))
        else:
            parts.extend(CellPart(unit=unit) for unit in plan_work_units([path], format, problems, per_unit, options))
    return parts
